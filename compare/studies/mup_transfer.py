"""muP transfer on digits: does the learning rate tuned at width 8 stay optimal as the MLP widens,
under muP and under the standard parametrization, and does tuning once suffice for the law?"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from matplotlib.figure import Figure

from compare.analysis._paths import digits_folder
from compare.analysis._transfer import (
    EDGE_FACTOR,
    TransferStudy,
    transfer_specs,
    transfer_study,
)
from compare.fit._law import law_summary
from compare.studies._base import Context, Summary, has_data_extra
from compare.style._figures import PALETTE, label_axes
from compare.style._html import answer_list, num_text, table
from compare.style._text import fmt, fmt_iv
from empirical import run_scaling_study
from empirical._core.arguments import checked, kind

NAME = "mup-transfer"
KEY = "mup_transfer"
TITLE = "muP transfer on digits"
ORDER = 62
USES_SWEEPS = False
SECONDS = 24
"""A full run's time (measured 2026-12-05), for the second core's order."""
REFERENCES = (
    "G. Yang et al., Tensor Programs V: Tuning large neural networks via zero-shot "
    "hyperparameter transfer, arXiv:2203.03466 (muP, and the mup package's rules).",
)
TRANSFER_SEEDS = 3
"""Seeds of ``lrbs run``'s study (1 with ``--quick``)."""
LAWS = (("standard", "standard, rate tuned per width"), ("mup", "muP, rate tuned per width"),
        ("mup_transferred", "muP, rate tuned once at the base width"))


def run_transfer(root, seeds, *, quick: bool = False, full: bool = False,
                 progress: bool = False, optimizer: str = "adam",
                 n_boot: int = 200) -> TransferStudy:
    """Train the study's shapes in both parametrizations (resumable folders under
    ``root/runs/``) and compare them.

    See Also
    --------
    compare.transfer_study : The comparison.
    compare.summarize_transfer : Its summary and sentences.
    """
    runs = [run_scaling_study(spec, out=digits_folder(root, spec), progress=progress)
            for spec in transfer_specs(seeds, quick=quick, full=full, optimizer=optimizer)]
    return transfer_study(*runs, n_boot=n_boot)


@checked(study=kind(TransferStudy))
def summarize_transfer(study: TransferStudy) -> dict:
    """Per parametrization the tuned rate per width with its interval, the drift exponent, the
    cost of the rate tuned once, and the three laws; :func:`transfer_conclusions` of them.

    See Also
    --------
    transfer_conclusions : The sentences.
    """
    grids = np.concatenate(study.standard.lrs + study.mup.lrs)
    out = dict(widths=study.widths.tolist(), depth=int(study.depth), n_params=study.n_params.tolist(),
               base_width=study.base_width, n_seeds=int(study.mup.tuned_test.shape[1]),
               lr_range=[float(grids.min()), float(grids.max())],
               laws={k: law_summary(v) for k, v in study.laws.items()})
    for key, p in (("standard", study.standard), ("mup", study.mup)):
        cost, cost_iv = p.penalty()
        out[key] = dict(lr=p.lr.tolist(), lr_intervals=p.lr_intervals.tolist(), slope=p.slope,
                        slope_interval=list(p.slope_interval), edge=p.edge.tolist(),
                        edge_slope=p.edge_slope, edge_slope_interval=list(p.edge_slope_interval),
                        grid_lr=p.grid_lr.tolist(), base_lr=p.base_lr,
                        tuned_test_loss=p.tuned_test.mean(axis=1).tolist(),
                        transferred_test_loss=p.transferred_test.mean(axis=1).tolist(),
                        transfer_cost=cost.tolist(), transfer_cost_intervals=cost_iv.tolist())
    return dict(out, conclusions=transfer_conclusions(out))


@checked(summary=kind(dict))
def transfer_conclusions(summary: dict) -> list[str]:
    """Whether the tuned rate drifts with width under each parametrization, what the rate tuned
    once costs, and the laws with either rate, in sentences computed from the summary.

    See Also
    --------
    summarize_transfer : The summary.
    """
    widths, base = summary["widths"], summary["base_width"]
    one = summary["n_seeds"] < 2
    lines = []

    def exponent(value, interval, what) -> str:
        if one:
            return f"{value:.2f} (one seed: no interval, so no verdict on its sign)"
        lo, hi = interval
        return (f"{value:.2f} [{lo:.2f}, {hi:.2f}] (95% over seeds): " +
                (f"{what} does not move resolvably with width" if lo <= 0 <= hi else
                 f"{what} {'falls' if hi < 0 else 'rises'} with width"))

    for key, label in (("standard", "the standard parametrization"), ("mup", "muP")):
        p = summary[key]
        text = (f"Under {label} the tuned rate goes from {fmt(p['lr'][0])} at width "
                f"{widths[0]} to {fmt(p['lr'][-1])} at width {widths[-1]}; as a power of width "
                f"its exponent is {exponent(p['slope'], p['slope_interval'], 'the optimum')}.")
        if np.isfinite(p["edge_slope"]):
            text += (f" The valley's upper edge (where the loss reaches {EDGE_FACTOR:g}x its "
                     f"minimum) goes from {fmt(p['edge'][0])} to {fmt(p['edge'][-1])}, exponent "
                     f"{exponent(p['edge_slope'], p['edge_slope_interval'], 'the edge')}.")
        lines.append(text)
    for key, label in (("standard", "the standard parametrization"), ("mup", "muP")):
        p = summary[key]
        lost = [i for i, iv in enumerate(p["transfer_cost_intervals"]) if iv[0] > 0]
        verdict = ("one seed: no interval, so no verdict" if one else
                   "tuning once costs no loss beyond the seeds' noise at any width" if not lost
                   else "tuning once costs loss beyond the seeds' noise at width(s) "
                        + ", ".join(str(widths[i]) for i in lost))
        lines.append(f"Tuned once at width {base} (lr {fmt(p['base_lr'])}) under {label}, the "
                     "test loss against the rate tuned at each width is " + ", ".join(
                         "the same rate" if np.isclose(g, p["base_lr"]) else
                         f"{100 * c:+.1f}%" + ("" if one else
                                              f" [{100 * iv[0]:+.1f}, {100 * iv[1]:+.1f}]")
                         for c, iv, g in zip(p["transfer_cost"][1:],
                                             p["transfer_cost_intervals"][1:], p["grid_lr"][1:],
                                             strict=True))
                     + f" at widths {', '.join(str(w) for w in widths[1:])} (paired over seeds): "
                     + verdict + ".")
    laws = summary["laws"]
    lines.append("L(N) = E + A N^-alpha through these points: " + "; ".join(
        f"{label}: alpha = {fmt(laws[k]['alpha'])} {fmt_iv(laws[k]['intervals']['alpha'])}, E = "
        f"{fmt(laws[k]['E'])} {fmt_iv(laws[k]['intervals']['E'])}"
        + (" (alpha at its bound)" if laws[k]["alpha_at_bound"] else "") for k, label in LAWS)
        + ("." if one else " (95% over seeds)."))
    return lines


@checked(study=kind(TransferStudy))
def plot_transfer(study: TransferStudy) -> Figure:
    """Validation loss against log2 lr per width under each parametrization, the tuned rate
    against width with 95% intervals, and the test loss against size with both rates.

    See Also
    --------
    transfer_study : What it draws.
    """
    fig = Figure(figsize=(11.0, 8.0), layout="constrained")
    axes = fig.subplots(2, 2)
    for ax, p in zip(axes[0], (study.standard, study.mup), strict=True):
        for i, width in enumerate(study.widths):
            ax.plot(np.log2(p.lrs[i]), p.val[i].mean(axis=0), "o-", ms=3,
                    color=PALETTE[i % len(PALETTE)], label=f"width {width}")
        ax.axvline(np.log2(p.base_lr), color="grey", ls=":", lw=1,
                   label=f"tuned at width {study.widths[0]}")
        ax.plot(np.log2(p.edge), [2 * v.mean(axis=0).min() for v in p.val], "x", color="black",
                label=f"upper edge ({EDGE_FACTOR:g}x the minimum)")
        ax.set_yscale("log")
        ax.set_ylim(top=min(ax.get_ylim()[1], 3.0))
        label_axes(ax, r"$\log_2$ learning rate", "validation loss (seed mean)",
                   f"{p.name}: loss against rate, one curve per width", legend_size=7)
    ax = axes[1, 0]
    for i, p in enumerate((study.standard, study.mup)):
        ax.errorbar(study.widths, p.lr, yerr=np.abs(p.lr_intervals.T - p.lr), fmt="o-",
                    color=PALETTE[i], capsize=3,
                    label=f"{p.name}: width^{p.slope:.2f} [{p.slope_interval[0]:.2f}, "
                          f"{p.slope_interval[1]:.2f}]")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    label_axes(ax, "width", "tuned learning rate (95% over seeds)",
               "does the optimal rate stay put as the width grows?", legend_size=8)
    ax = axes[1, 1]
    dense = np.geomspace(study.n_params.min() / 1.3, study.n_params.max() * 1.3, 100)
    points = {"standard": study.standard.tuned_test, "mup": study.mup.tuned_test,
              "mup_transferred": study.mup.transferred_test}
    for i, (key, label) in enumerate(LAWS):
        loss = points[key]
        ax.errorbar(study.n_params * (1 + 0.04 * (i - 1)), loss.mean(axis=1),
                    yerr=loss.std(axis=1, ddof=1) if loss.shape[1] > 1 else None, fmt="os^"[i],
                    color=PALETTE[i], capsize=2, ms=4, label=label)
        ax.plot(dense, study.laws[key].predict(dense), "-", color=PALETTE[i], lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    label_axes(ax, "parameters $N$", "test loss (seed mean, sd over seeds)",
               "L(N) with the rate tuned per width or once", legend_size=8)
    return fig


def run(context: Context) -> Summary:
    """The study under ``root/scaling/runs/``, when the optional ``data`` extra (scikit-learn)
    is there; ``None`` otherwise, and the page says so."""
    if not has_data_extra(context):
        return Summary(None)
    study = run_transfer(context.root / "scaling", 1 if context.quick else TRANSFER_SEEDS,
                         quick=context.quick, progress=context.progress,
                         n_boot=context.settings["n_boot"])
    return Summary(summarize_transfer(study), detail=study)


def figures(summary: Summary) -> dict[str, Figure]:
    return {"mup_transfer": plot_transfer(summary.detail)}


def sentences(data: dict | None) -> list[str]:
    return [] if data is None else list(data["conclusions"])


def html(results: dict, figure: Callable[[str, str], str]) -> str:
    data = results[KEY]
    rows = [[w, n, num_text(data["standard"]["lr"][i]), num_text(data["mup"]["lr"][i]),
             num_text(data["standard"]["transfer_cost"][i]), num_text(data["mup"]["transfer_cost"][i])]
            for i, (w, n) in enumerate(zip(data["widths"], data["n_params"], strict=True))]
    return "".join([
        f"<h2 id='{NAME}'>{TITLE}</h2>",
        f"<p>The depth-{data['depth']} MLPs trained over rates {num_text(data['lr_range'][0])} to "
        f"{num_text(data['lr_range'][1])} in the standard parametrization and in muP with base "
        f"width {data['base_width']} (<code>empirical.mup_scaling</code>: the <code>mup</code> "
        "package's initialization, readout multiplier and per-parameter rates), with the scaling-"
        "law study's optimizer, batch size and early stopping.</p>",
        answer_list(data["conclusions"]),
        figure("mup_transfer", "Loss against log2 learning rate per width in each "
                               "parametrization; the tuned rate against width; the law with the "
                               "rate tuned per width or once."),
        table(["width", "parameters", "tuned lr, standard", "tuned lr, muP",
               "cost of rate tuned once, standard", "cost, muP"], rows)])
