"""The scaling law on digits: every MLP shape's rate tuned, L(N) = E + A N^-alpha fitted with
intervals and checked by extrapolation; also ``lrbs scaling-law``'s own folder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from compare.analysis._law_data import DataLawStudy, data_axis_specs, data_law_study
from compare.analysis._nuisance import nuisance_specs
from compare.analysis._paths import digits_folder, seed_tuple
from compare.analysis._transfer import transfer_specs
from compare.fit._law import Extrapolation, LawFit, extrapolation_check, fit_scaling_law
from compare.studies._base import Context, Summary, has_data_extra
from compare.studies._data_law import data_law_summary, data_law_text, plot_data_law
from compare.style._figures import FORMATS, PALETTE, label_axes, save_figure
from compare.style._html import answer_list, num_text, table
from compare.style._text import fmt, fmt_iv
from empirical import LRGrid, ScalingRuns, ScalingSpec, find_optimum, run_scaling_study
from empirical._core.arguments import checked, kind
from empirical.files import atomic_write_bytes, atomic_write_json, strict_json

NAME = "scaling-law"
KEY = "scaling_law"
TITLE = "Scaling law on digits"
ORDER = 60
USES_SWEEPS = False
SECONDS = 52
"""A full run's time (measured 2026-12-05): the second core starts it first."""
REFERENCES = (
    "J. Hoffmann et al., Training compute-optimal large language models, arXiv:2203.15556 "
    "(the scaling-law fit).",
    "T. Besiroglu, E. Erdil, M. Barnett, J. You, Chinchilla scaling: a replication attempt, "
    "arXiv:2404.10102 (the L(N, D) fit's corrections and its bootstrap over the points).",
)
SCALING_SEEDS = 3
"""Seeds of the scaling-law section of ``lrbs run`` (1 with ``--quick``)."""
QUICK_SPEC = dict(shapes=tuple((w, 1) for w in (8, 16, 32, 64, 128, 256)), max_steps=300,
                  grid=LRGrid(base=1e-4, ratio=10**0.5, k_min=1, k_max=6))
"""A smoke-test study: six widths at depth 1, 300 steps at most, six rates half a decade apart."""


def scaling_spec(seeds, *, quick: bool = False, **options) -> ScalingSpec:
    """The default study (10 shapes, 16 rates) or :data:`QUICK_SPEC`'s, with ``seeds``.

    ``seeds`` is a count ``K`` (seeds ``0..K-1``) or a sequence of seeds; ``options``
    (``optimizer``, ``dropout``, ...) override :class:`empirical.ScalingSpec`'s fields.

    See Also
    --------
    run_scaling_law : Runs it.
    empirical.ScalingSpec : What it returns.
    """
    return ScalingSpec(**{**(QUICK_SPEC if quick else {}), **options, "seeds": seed_tuple(seeds)})


@checked(runs=kind(ScalingRuns), fit=kind(LawFit), check=kind(Extrapolation))
def plot_scaling_law(runs: ScalingRuns, fit: LawFit, check: Extrapolation) -> Figure:
    """Test loss against parameter count: per-seed points, the fit with its band, the check.

    See Also
    --------
    fit_scaling_law : The fit it draws.
    plot_lr_vs_width : The tuned rates.
    """
    fig = Figure(figsize=(6.8, 4.4), layout="constrained")
    ax = fig.add_subplot()
    n = runs.n_params
    loss = runs.test_loss
    depths = sorted({r.shape.depth for r in runs.shapes})
    for i, depth in enumerate(depths):
        mask = np.array([r.shape.depth == depth for r in runs.shapes])
        ax.plot(np.repeat(n[mask], loss.shape[1]), loss[mask].ravel(), ".", color=PALETTE[i],
                alpha=0.4)
        ax.plot(n[mask], loss[mask].mean(axis=1), "o", color=PALETTE[i],
                label=f"depth {depth}, seed mean (dots: seeds)")
    dense = np.geomspace(n.min() / 1.5, n.max() * 3, 200)
    lo, hi = fit.band(dense)
    ax.fill_between(dense, lo, hi, color=PALETTE[3], alpha=0.2, label="95% band over seeds")
    ax.plot(dense, fit.predict(dense), color=PALETTE[3],
            label=rf"$L = {fit.E:.3f} + {fit.A:.3g}\,N^{{-{fit.alpha:.2f}}}$"
                  + (" ($\\alpha$ at its bound)" if fit.alpha_at_bound else ""))
    ax.plot(dense, check.fit.predict(dense), "--", color="grey",
            label=f"fit on the smallest {check.n_fitted}: predicts {check.predicted:.3f} at "
                  f"$N$ = {check.n_params:.0f} (measured {check.measured:.3f})")
    ax.axhline(fit.E, color=PALETTE[3], lw=0.8, ls=":", label=f"floor $E$ = {fit.E:.3f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    label_axes(ax, "parameters $N$", "test cross-entropy at the best validation checkpoint",
               "digits: loss against size, learning rate tuned per shape")
    return fig


@checked(runs=kind(ScalingRuns))
def plot_lr_vs_width(runs: ScalingRuns) -> Figure:
    """The optimal learning rate against width, one line per depth: the sub-grid optimum of the
    seed-mean validation loss (:func:`empirical.find_optimum`) with its 95% interval over
    seeds; open markers where the grid's best rate is at its edge.

    See Also
    --------
    plot_scaling_law : The loss against size.
    empirical.run_scaling_study : The runs it draws.
    """
    fig = Figure(figsize=(5.6, 4.0), layout="constrained")
    ax = fig.add_subplot()
    for i, depth in enumerate(sorted({r.shape.depth for r in runs.shapes})):
        rows = [r for r in runs.shapes if r.shape.depth == depth]
        widths = np.array([r.shape.width for r in rows], dtype=float)
        optima = [find_optimum(1, r.runs.lrs, np.where(np.isfinite(r.runs.best_val_loss),
                                                        r.runs.best_val_loss, np.inf).T,
                               n_boot=200) for r in rows]
        lr = np.array([o.subgrid_lr for o in optima])
        interval = np.array([o.interval for o in optima])
        ax.errorbar(widths, lr, yerr=np.abs(interval.T - lr), fmt="o-", color=PALETTE[i],
                    capsize=3, label=f"depth {depth} (95% over seeds)")
        edge = np.array([r.on_edge for r in rows])
        ax.plot(widths[edge], lr[edge], "o", mfc="white", color=PALETTE[i])
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    label_axes(ax, "width", "optimal learning rate (seed-mean validation loss)",
               "does the optimal learning rate shift with size?", legend_size=8)
    return fig


def scaling_table(runs: ScalingRuns) -> list[dict]:
    """One row per shape: size, tuned rate, edge flag, test loss and accuracy over seeds."""
    return [dict(width=r.shape.width, depth=r.shape.depth, n_params=r.shape.n_params, lr=r.lr,
                 on_edge=r.on_edge, test_loss=float(np.mean(r.seed_test_loss)),
                 test_loss_sd=float(np.std(r.seed_test_loss, ddof=1)) if len(r.seed_test_loss) > 1
                 else None, test_accuracy=float(np.mean(r.seed_test_accuracy)), notes=list(r.notes))
            for r in runs.shapes]


@checked(runs=kind(ScalingRuns), fit=kind(LawFit), check=kind(Extrapolation))
def summarize_scaling_law(runs: ScalingRuns, fit: LawFit, check: Extrapolation,
                          data_law: DataLawStudy | None = None) -> dict:
    """The law, the extrapolation check, one row per shape and the sentences they support.

    Returns
    -------
    dict
        ``law`` (E, A, alpha, their intervals, the seed count, whether alpha sits at a bound),
        ``extrapolation``, ``shapes`` (:func:`scaling_table`), ``data_law`` (the
        :math:`L(N, D)` fit of ``data_law``, ``None`` without it) and ``conclusions``
        (:func:`compare.scaling_law_conclusions` of the rest); ``results.json``'s
        ``scaling_law`` holds this and the spec.

    See Also
    --------
    scaling_law_conclusions : The sentences, from this summary.
    fit_scaling_law, extrapolation_check : The fits it reports.
    """
    law = dict(E=fit.E, A=fit.A, alpha=fit.alpha, n_seeds=fit.n_seeds,
               alpha_at_bound=fit.alpha_at_bound, chi2=fit.chi2, lack_of_fit=fit.lack_of_fit,
               intervals={k: list(v) for k, v in fit.intervals.items()})
    summary = dict(law=law, shapes=scaling_table(runs),
                   extrapolation=dict(n_fitted=check.n_fitted, n_params=check.n_params,
                                      predicted=check.predicted, measured=check.measured,
                                      relative_error=check.relative_error,
                                      fit=dict(E=check.fit.E, A=check.fit.A,
                                               alpha=check.fit.alpha)),
                   data_law=data_law_summary(data_law))
    return dict(summary, conclusions=scaling_law_conclusions(strict_json(summary)))


def scaling_law_settings(out="lrbs-scaling", *, seeds: int = 3, quick: bool = False,
                         full: bool = False, framework: bool = True,
                         **options) -> list[tuple[ScalingSpec, Path]]:
    """Every setting :func:`run_scaling_law` trains with the same arguments, with its folder
    under ``out/runs/``, the longest first as measured (the nuisance grid from its largest
    batch size down, muP, the standard parametrization, the main study, its data axis): the
    order to hand them to two cores in.

    See Also
    --------
    run_scaling_law : Trains them one after another, or reads them back.
    """
    spec = scaling_spec(seeds, quick=quick, **options)
    specs = [spec, *data_axis_specs(spec)]
    if framework:
        nuisance = nuisance_specs(seeds, quick=quick, full=full, optimizer=spec.optimizer)
        standard, mup = transfer_specs(seeds, quick=quick, full=full, optimizer=spec.optimizer)
        specs = [*sorted(nuisance, key=lambda s: -s.batch_size), mup, standard, *specs]
    return [(s, digits_folder(out, s)) for s in specs]


def run_scaling_law(out="lrbs-scaling", *, seeds: int = 3, quick: bool = False,
                    full: bool = False, framework: bool = True, progress: bool = True,
                    n_boot: int = 200, formats=FORMATS, **options) -> dict:
    """Run (or resume) the study; write ``scaling_law.json``, ``scaling_law.md`` and its figures.

    With ``framework`` (the default; ``lrbs run`` runs them as studies of their own) it also
    runs :func:`compare.studies.nuisance.run_nuisance` and
    :func:`compare.studies.mup_transfer.run_transfer` into the same folder, on their full grids
    with ``full``, and adds their summaries (``nuisance``, ``mup_transfer``) and figures.

    The data axis trains the depth-1 shapes again on :data:`DATA_FRACTIONS` of the training
    split (nested subsets, ``ScalingSpec.train_size``), each its own resumable folder, and
    fits :math:`L(N, D)` to them and the whole split (:func:`data_law_study`). The figures in
    ``formats`` (PNG and SVG by default; ``lrbs run`` asks for the SVG its page
    embeds). ``options`` go to :func:`scaling_spec` (for example ``optimizer="sgd"``,
    ``dropout=0.1``).

    It trains the settings one after another in this process; ``lrbs scaling-law`` first
    trains :func:`scaling_law_settings` on two cores where there are two, and this then reads
    them back.

    See Also
    --------
    summarize_scaling_law : What it writes.
    empirical.run_scaling_study : The runs.
    """
    root = Path(out)
    spec = scaling_spec(seeds, quick=quick, **options)
    runs = run_scaling_study(spec, out=digits_folder(root, spec), progress=progress)
    fit = fit_scaling_law(runs.n_params, runs.test_loss, n_boot=n_boot)
    check = extrapolation_check(runs.n_params, runs.test_loss, n_boot=n_boot)
    paths = {"scaling_law": save_figure(plot_scaling_law(runs, fit, check), root / "figures",
                                        "scaling_law", formats=formats),
             "lr_vs_width": save_figure(plot_lr_vs_width(runs), root / "figures", "lr_vs_width",
                                        formats=formats)}
    data_law = None
    if axis := data_axis_specs(spec):
        shallow = replace(runs, shapes=tuple(r for r in runs.shapes if r.shape.depth == 1))
        data_law = data_law_study([shallow] + [
            run_scaling_study(sub, out=digits_folder(root, sub), progress=progress)
            for sub in axis], n_boot=n_boot)
        paths["data_law"] = save_figure(plot_data_law(data_law), root / "figures", "data_law",
                                        formats=formats)
    extras = {}
    if framework:
        from compare.studies import mup_transfer, nuisance
        for module, runner, summarize, plot in (
                (nuisance, nuisance.run_nuisance, nuisance.summarize_nuisance,
                 nuisance.plot_nuisance),
                (mup_transfer, mup_transfer.run_transfer, mup_transfer.summarize_transfer,
                 mup_transfer.plot_transfer)):
            study = runner(root, seeds, quick=quick, full=full, progress=progress, n_boot=n_boot,
                           optimizer=spec.optimizer)
            extras[module.KEY] = summarize(study)
            paths[module.KEY] = save_figure(plot(study), root / "figures", module.KEY,
                                            formats=formats)
    results = dict(spec=spec.to_dict(), version=runs.version, created=datetime.now(UTC).isoformat(
        timespec="seconds"), settings=dict(quick=quick, full=full, framework=framework),
                   **summarize_scaling_law(runs, fit, check, data_law), **extras,
                   figures={k: {e: str(p.relative_to(root)) for e, p in v.items()}
                            for k, v in paths.items()})
    atomic_write_json(root / "scaling_law.json", results)
    atomic_write_bytes(root / "scaling_law.md", markdown_table(results).encode())
    results["_paths"] = paths
    return results


def markdown_table(results: dict) -> str:
    """The per-shape table and the law, as Markdown."""
    lines = ["| width | depth | parameters | tuned lr | on edge | test loss | sd over seeds | "
             "test accuracy |", "|---:|---:|---:|---:|---|---:|---:|---:|"]
    for r in results["shapes"]:
        sd = "" if r["test_loss_sd"] is None else f"{r['test_loss_sd']:.4f}"
        lines.append(f"| {r['width']} | {r['depth']} | {r['n_params']} | {r['lr']:.3g} | "
                     f"{'yes' if r['on_edge'] else 'no'} | {r['test_loss']:.4f} | {sd} | "
                     f"{r['test_accuracy']:.4f} |")
    extras = [line for key in ("nuisance", "mup_transfer") if key in results
              for line in results[key]["conclusions"]]
    return "\n".join(lines) + "\n\n" + "\n\n".join(results["conclusions"] + extras) + "\n"


LACK_OF_FIT = 0.01
"""Below this p-value of its chi-square the law does not fit the seed-mean losses."""


def _lack_of_fit_text(law: dict, shapes: list) -> list[str]:
    """Whether the law fits the seed-mean losses within their noise, and whether its floor
    lies above a measured loss."""
    if law.get("lack_of_fit") is None:
        return []
    dof = len(shapes) - 3
    lowest = min(shapes, key=lambda r: r["test_loss"])
    floor = ""
    if law["intervals"]["E"][0] > lowest["test_loss"]:
        floor = (f" Its floor E {fmt_iv(law['intervals']['E'])} lies above the lowest measured "
                 f"loss, {fmt(lowest['test_loss'])} at {lowest['n_params']:,} parameters.")
    if law["lack_of_fit"] < LACK_OF_FIT:
        return [f"The law misses the seed-mean losses by more than their noise (chi^2 "
                f"{fmt(law['chi2'])} on {dof} degrees of freedom, p = {law['lack_of_fit']:.2g}): "
                "the intervals over seeds do not include this misfit." + floor]
    return [f"The law fits the seed-mean losses within their noise (chi^2 {fmt(law['chi2'])} "
            f"on {dof} degrees of freedom, p = {law['lack_of_fit']:.2g})." + floor]


@checked(summary=kind(dict))
def scaling_law_conclusions(summary: dict) -> list[str]:
    """What the digits scaling-law study shows, in sentences computed from its summary.

    Parameters
    ----------
    summary : dict
        :func:`summarize_scaling_law` (``results.json``'s ``scaling_law``).

    Returns
    -------
    list of str
        The fitted law with its intervals (or that one seed gives none), whether the exponent
        is identified, the extrapolation check, and how the tuned learning rate moves with
        width.

    See Also
    --------
    summarize_scaling_law : The summary.
    fit_scaling_law : The fit.
    """
    law, ex, shapes = summary["law"], summary["extrapolation"], summary["shapes"]
    iv = law["intervals"]
    if law["n_seeds"] > 1:
        lines = [f"L(N) = E + A N^-alpha with E = {fmt(law['E'])} {fmt_iv(iv['E'])}, A = "
                 f"{fmt(law['A'])} {fmt_iv(iv['A'])}, alpha = {fmt(law['alpha'])} {fmt_iv(iv['alpha'])} "
                 f"(95% intervals from a bootstrap over the {law['n_seeds']} seeds, Student's "
                 "quantile)."]
    else:
        lines = [f"L(N) = E + A N^-alpha with E = {fmt(law['E'])}, A = {fmt(law['A'])}, alpha = "
                 f"{fmt(law['alpha'])} (one seed, so no intervals)."]
    lines += _lack_of_fit_text(law, shapes)
    by_size = sorted(shapes, key=lambda r: r["n_params"])
    rises = [(a, b) for a, b in zip(by_size[:-1], by_size[1:], strict=True)
             if b["test_loss"] > a["test_loss"]]
    if law["alpha_at_bound"]:
        if rises:
            a, b = rises[0]
            reason = (f"the loss is not monotone in size (it rises from "
                      f"{fmt(a['test_loss'])} at {a['n_params']:,} parameters to "
                      f"{fmt(b['test_loss'])} at {b['n_params']:,})")
        else:
            reason = "the losses do not bend towards a floor over these sizes"
        lines.append(f"alpha = {fmt(law['alpha'])} sits at the fit's bound: {reason}, so the "
                     "data set no exponent; read E as the level the losses reach, not alpha as "
                     "a scaling exponent.")
    lines.append(f"Fitted on the smallest {ex['n_fitted']} shapes, the law predicts "
                 f"{fmt(ex['predicted'])} for the largest ({ex['n_params']:,.0f} parameters), "
                 f"which measures {fmt(ex['measured'])}: {100 * ex['relative_error']:+.0f}%.")
    shallow = sorted((r for r in shapes if r["depth"] == 1), key=lambda r: r["width"])
    if len(shallow) >= 2:
        rates = [r["lr"] for r in shallow]
        steps = np.sign(np.diff(rates))
        peak = shallow[int(np.argmax(rates))]
        if len(set(rates)) == 1:
            lines.append(f"The tuned rate (Adam, depth 1) is {fmt(rates[0])} at every width.")
            return lines + (data_law_text(summary["data_law"])
                            if summary.get("data_law") is not None else [])
        trend = ("falls or stays with every doubling of width" if np.all(steps <= 0) else
                 "rises or stays with every doubling of width" if np.all(steps >= 0) else
                 f"is not monotone in width: it peaks at width {peak['width']}")
        lines.append(f"The tuned rate (Adam, depth 1) {trend} ({', '.join(fmt(v) for v in rates)} "
                     f"at widths {', '.join(str(r['width']) for r in shallow)}), so one rate for "
                     "all shapes would bias the curve.")
    if summary.get("data_law") is not None:
        lines += data_law_text(summary["data_law"])
    return lines


def _scaling_html(scaling: dict, figure) -> str:
    rows = [[r["width"], r["depth"], r["n_params"], num_text(r["lr"]), num_text(r["on_edge"]),
             num_text(r["test_loss"], 4), num_text(r["test_loss_sd"], 2), num_text(r["test_accuracy"], 4)]
            for r in scaling["shapes"]]
    return "".join([
        "<h2 id='scaling-law'>Scaling law on digits</h2>",
        f"<p>Every shape's learning rate tuned over a geometric grid ({len(scaling['spec']['seeds'])}"
        " seed(s); Adam, early stopping on the validation loss); the loss is the test "
        "cross-entropy of the best validation checkpoint at the tuned rate.</p>",
        answer_list(scaling["conclusions"]),
        figure("scaling/scaling_law", "Test loss against parameter count with the fitted law, "
                                      "its band and the extrapolation check."),
        figure("scaling/lr_vs_width", "The optimal learning rate against width, with 95% "
                                      "intervals over seeds."),
        *([figure("scaling/data_law", "Test loss against training-set size per parameter "
                                      "count, with the fitted L(N, D).")]
          if scaling.get("data_law") is not None else []),
        table(["width", "depth", "parameters", "tuned lr", "edge", "test loss", "sd over seeds",
                "test accuracy"], rows)])


def run(context: Context) -> Summary:
    """The digits study under ``root/scaling/``, when the optional ``data`` extra (scikit-learn)
    is there; ``None`` otherwise, and the page says so."""
    if not has_data_extra(context):
        return Summary(None)
    seeds = 1 if context.quick else SCALING_SEEDS
    context.log(f"  {seeds} seed(s)")
    results = run_scaling_law(context.root / "scaling", seeds=seeds, quick=context.quick,
                              framework=False, progress=context.progress, formats=("svg",))
    for key in ("created", "settings"):          # the report's own say when and how it ran
        results.pop(key)
    files = {f"scaling/{k}": v for k, v in results.pop("_paths").items()}
    results["figures"] = {name: {ext: str(p.relative_to(context.root)) for ext, p in v.items()}
                          for name, v in ((k.partition("/")[2], v) for k, v in files.items())}
    return Summary(results, files=files)


def figures(summary: Summary) -> dict[str, Figure]:
    """None to draw: :func:`run_scaling_law` draws its two figures into its own folder."""
    return {}


def sentences(data: dict | None) -> list[str]:
    return [] if data is None else list(data["conclusions"])


def html(results: dict, figure: Callable[[str, str], str]) -> str:
    return _scaling_html(results[KEY], figure)
