"""``lrbs scaling-law``: the digits study analysed, drawn and written (figures, table, JSON)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from compare._answer import scaling_law_conclusions
from compare._figures import PALETTE, label_axes, save_figure
from compare._paths import spec_directory
from compare._scaling_law import Extrapolation, LawFit, extrapolation_check, fit_scaling_law
from empirical import (
    LRGrid,
    ScalingRuns,
    ScalingSpec,
    atomic_write_bytes,
    atomic_write_json,
    run_scaling_study,
    strict_json,
)

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
    from compare._report import seed_tuple
    return ScalingSpec(**{**(QUICK_SPEC if quick else {}), **options, "seeds": seed_tuple(seeds)})


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


def plot_lr_vs_width(runs: ScalingRuns) -> Figure:
    """The tuned learning rate against width, one line per depth (open markers: on the edge).

    See Also
    --------
    plot_scaling_law : The loss against size.
    empirical.run_scaling_study : The runs it draws.
    """
    fig = Figure(figsize=(5.6, 4.0), layout="constrained")
    ax = fig.add_subplot()
    for i, depth in enumerate(sorted({r.shape.depth for r in runs.shapes})):
        rows = [r for r in runs.shapes if r.shape.depth == depth]
        widths = [r.shape.width for r in rows]
        ax.plot(widths, [r.lr for r in rows], "o-", color=PALETTE[i], label=f"depth {depth}")
        edge = [r for r in rows if r.on_edge]
        ax.plot([r.shape.width for r in edge], [r.lr for r in edge], "o", mfc="white",
                color=PALETTE[i])
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    label_axes(ax, "width", "tuned learning rate (lowest seed-mean validation loss)",
               "does the optimal learning rate shift with size?", legend_size=8)
    return fig


def scaling_table(runs: ScalingRuns) -> list[dict]:
    """One row per shape: size, tuned rate, edge flag, test loss and accuracy over seeds."""
    return [dict(width=r.shape.width, depth=r.shape.depth, n_params=r.shape.n_params, lr=r.lr,
                 on_edge=r.on_edge, test_loss=float(np.mean(r.seed_test_loss)),
                 test_loss_sd=float(np.std(r.seed_test_loss, ddof=1)) if len(r.seed_test_loss) > 1
                 else None, test_accuracy=float(np.mean(r.seed_test_accuracy)), notes=list(r.notes))
            for r in runs.shapes]


def summarize_scaling_law(runs: ScalingRuns, fit: LawFit, check: Extrapolation) -> dict:
    """The law, the extrapolation check, one row per shape and the sentences they support.

    Returns
    -------
    dict
        ``law`` (E, A, alpha, their intervals, the seed count, whether alpha sits at a bound),
        ``extrapolation``, ``shapes`` (:func:`scaling_table`) and ``conclusions``
        (:func:`compare.scaling_law_conclusions` of the rest); ``results.json``'s
        ``scaling_law`` holds this and the spec.

    See Also
    --------
    scaling_law_conclusions : The sentences, from this summary.
    fit_scaling_law, extrapolation_check : The fits it reports.
    """
    law = dict(E=fit.E, A=fit.A, alpha=fit.alpha, n_seeds=fit.n_seeds,
               alpha_at_bound=fit.alpha_at_bound,
               intervals={k: list(v) for k, v in fit.intervals.items()})
    summary = dict(law=law, shapes=scaling_table(runs),
                   extrapolation=dict(n_fitted=check.n_fitted, n_params=check.n_params,
                                      predicted=check.predicted, measured=check.measured,
                                      relative_error=check.relative_error,
                                      fit=dict(E=check.fit.E, A=check.fit.A,
                                               alpha=check.fit.alpha)))
    return dict(summary, conclusions=scaling_law_conclusions(strict_json(summary)))


def run_scaling_law(out="lrbs-scaling", *, seeds: int = 3, quick: bool = False,
                    progress: bool = True, n_boot: int = 200, **options) -> dict:
    """Run (or resume) the study; write ``scaling_law.json``, ``scaling_law.md`` and two figures.

    ``options`` go to :func:`scaling_spec` (for example ``optimizer="sgd"``, ``dropout=0.1``).

    See Also
    --------
    summarize_scaling_law : What it writes.
    empirical.run_scaling_study : The runs.
    """
    root = Path(out)
    spec = scaling_spec(seeds, quick=quick, **options)
    runs = run_scaling_study(spec, out=spec_directory(root / "runs", "digits", spec.to_dict()),
                             progress=progress)
    fit = fit_scaling_law(runs.n_params, runs.test_loss, n_boot=n_boot)
    check = extrapolation_check(runs.n_params, runs.test_loss, n_boot=n_boot)
    paths = {"scaling_law": save_figure(plot_scaling_law(runs, fit, check), root / "figures",
                                        "scaling_law"),
             "lr_vs_width": save_figure(plot_lr_vs_width(runs), root / "figures", "lr_vs_width")}
    results = dict(spec=spec.to_dict(), version=runs.version,
                   **summarize_scaling_law(runs, fit, check),
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
    return "\n".join(lines) + "\n\n" + "\n\n".join(results["conclusions"]) + "\n"
