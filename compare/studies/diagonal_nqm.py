"""The criterion decides the exponent: the fewest steps per batch size measured and predicted,
and Zhang et al. (2019)'s figure on the diagonal noisy quadratic model."""

from __future__ import annotations

import html as html_
from collections.abc import Callable

import numpy as np
from matplotlib.figure import Figure

from compare.analysis._theory_table import diagonal_curves
from compare.studies._base import Context, Summary
from compare.style._figures import PALETTE, data_limits, label_axes
from compare.style._html import interval_text, num_text, table
from compare.style._text import fmt
from empirical._core.arguments import checked, kind

NAME = "diagonal-nqm"
KEY = "diagonal_nqm"
TITLE = "The criterion decides"
ORDER = 40
USES_SWEEPS = False
REFERENCES = (
    "G. Zhang et al., Which algorithmic choices matter at which batch sizes? Insights from a "
    "noisy quadratic model, NeurIPS 2019, arXiv:1907.04164 (the NQM, logarithmic fixed-horizon "
    "optimum).",
)


@checked(diagonal=kind(dict))
def diagonal_conclusion(diagonal: dict) -> str:
    """What Zhang et al.'s figure shows, computed from its curves.

    Parameters
    ----------
    diagonal : dict
        :func:`diagonal_curves` (``results.json``'s ``diagonal_nqm``): the fewest steps per
        batch size and the critical batch size of plain SGD and the other optimizers, and the
        lower bound.

    Returns
    -------
    str
        Per optimizer, its steps against plain SGD's at the smallest and the largest batch
        size and its critical batch size against plain SGD's; then how far the best
        optimizer stays above the lower bound at the smallest batch size.

    See Also
    --------
    diagonal_curves : The curves.
    nqm.DiagonalNQM.critical_batch_size : The definition used.
    """
    curves = dict(diagonal["curves"])
    plain = curves.pop("plain SGD")
    b = np.asarray(diagonal["batch_sizes"], dtype=float)
    small, large = f"{b[0]:.0f}", f"{b[-1]:.0f}"
    parts = []
    for name, curve in curves.items():
        ratio_small = curve["steps"][0] / plain["steps"][0]
        ratio_large = curve["steps"][-1] / plain["steps"][-1]
        moved = ("raises" if curve["critical_batch_size"] > plain["critical_batch_size"]
                 else "lowers")
        parts.append(f"{name} needs {fmt(ratio_small)}x plain SGD's steps at B = {small} and "
                     f"{fmt(ratio_large)}x at B = {large}, and {moved} B_crit from "
                     f"{fmt(plain['critical_batch_size'])} to {fmt(curve['critical_batch_size'])}")
    text = (f"Diagonal NQM, dim {diagonal['dim']}, target {fmt(diagonal['target'])}: "
            + "; ".join(parts) + ". B_crit is where the fewest steps reach twice their own "
            "noise-free floor, so an optimizer raises it when it lowers that floor by more than "
            "it lowers the noise-dominated step counts.")
    if "lower_bound" in diagonal:
        every = {"plain SGD": plain, **curves}
        best = min(every, key=lambda name: every[name]["steps"][0])
        bound = diagonal["lower_bound"][0]
        text += (f" At B = {small} plain SGD needs {fmt(plain['steps'][0] / bound)}x the "
                 f"information-theoretic lower bound ({fmt(bound)} steps), the best optimizer "
                 f"({best}) {fmt(every[best]['steps'][0] / bound)}x.")
    return text


_DIAGONAL_LABELS = {"H^-1/4": "$H^{-1/4}$", "H^-1/2": "$H^{-1/2}$", "H^-3/4": "$H^{-3/4}$"}


def draw_diagonal_nqm(ax, diagonal: dict) -> None:
    """Zhang et al. (2019)'s figure on ``ax``: the fewest steps per batch size of each optimizer
    (its critical batch size marked and in the legend) and the information-theoretic bound.

    See Also
    --------
    diagonal_curves : The curves.
    plot_diagonal_nqm : The same as a figure of its own.
    """
    b = diagonal["batch_sizes"]
    for i, (name, curve) in enumerate(diagonal["curves"].items()):
        critical = curve["critical_batch_size"]
        colour = PALETTE[i % 7]
        ax.plot(b, curve["steps"], "o-", ms=3, color=colour,
                label=rf"{_DIAGONAL_LABELS.get(name, name)}: $B_{{\rm crit}}$ = {critical:.3g}")
        if b[0] <= critical <= b[-1]:
            at = np.exp(np.interp(np.log(critical), np.log(b), np.log(curve["steps"])))
            ax.plot([critical], [at], "*", ms=10, color=colour, mec="black", mew=0.5)
    ax.plot(b, diagonal["lower_bound"], "k--", lw=1,
            label="lower bound $\\sum_i c_i/h_i\\,/\\,(2BL^\\star)$")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    data_limits(ax, *(c["steps"] for c in diagonal["curves"].values()))
    binned = f" in {diagonal['bins']} bins" if diagonal.get("bins") else ""
    label_axes(ax, "batch size $B$", "fewest steps to the target (star: $B_{\\rm crit}$)",
               f"diagonal NQM (Zhang et al. 2019), dim {diagonal['dim']}{binned}, target "
               f"{diagonal['target']:g}", legend_below=True, legend_columns=2)


@checked(diagonal=kind(dict))
def plot_diagonal_nqm(diagonal: dict) -> Figure:
    """Zhang et al. (2019)'s figure as a figure of its own (:func:`draw_diagonal_nqm`).

    See Also
    --------
    diagonal_curves : The curves.
    """
    fig = Figure(figsize=(7.0, 6.0), layout="constrained")
    draw_diagonal_nqm(fig.add_subplot(), diagonal)
    return fig


def run(context: Context) -> Summary:
    """Zhang et al.'s curves on the diagonal NQM (theory only: it runs beside the sweeps; the
    measured fewest steps it is compared with are the optimal-lr study's)."""
    settings = context.settings
    diagonal = diagonal_curves(settings["nqm_dim"], settings["nqm_batch_sizes"])
    return Summary(diagonal, detail=diagonal)


def figures(summary: Summary) -> dict[str, Figure]:
    return {"diagonal_nqm": plot_diagonal_nqm(summary.detail)}


def sentences(data: dict) -> list[str]:
    return [diagonal_conclusion(data)]


def html(results: dict, figure: Callable[[str, str], str]) -> str:
    """The measured and exact exponents under both criteria (where the sweeps' study ran),
    the fewest-steps figure, and the diagonal NQM's table and sentences."""
    parts = ["<h2 id='criterion'>The criterion decides the exponent</h2>"]
    rows = []
    for st in (results.get("studies") or {}).values():
        tgt, th = st["steps_to_target"], st.get("theory", {})
        rows.append([st["label"], f"{num_text(st['exponent'], 2)} {interval_text(st['exponent_interval'], 2)}",
                     f"{num_text(tgt.get('exponent'), 2)} "
                     f"{interval_text(tgt['exponent_interval'], 2) if 'exponent' in tgt else ''}",
                     num_text(th.get("horizon_exponent"), 2), num_text(th.get("target_exponent"), 2)])
    if rows:
        parts.append(table(["study", "measured, fixed horizon", "measured, steps to target",
                            "exact theory, fixed horizon", "exact theory, steps to target"], rows))
        parts.append(figure("steps_to_target", "Fewest steps to the target against batch size: "
                            "measured (95% intervals over seeds) and the exact least-squares "
                            "theory."))
    parts.append(figure("diagonal_nqm", "Zhang et al.'s figure on the diagonal noisy quadratic "
                        "model: the fewest steps per batch size of plain SGD, momentum and the "
                        "moving average each tuned jointly with the rate, preconditioning by "
                        "H^-p, their critical batch sizes (stars) and the lower bound."))
    diag = results[KEY]
    parts.append(table(["diagonal NQM optimizer", "critical batch size", "steps at B = "
                        f"{num_text(diag['batch_sizes'][0])}", f"steps at B = "
                        f"{num_text(diag['batch_sizes'][-1])}"],
                       [[k, num_text(v["critical_batch_size"]), num_text(v["steps"][0]),
                         num_text(v["steps"][-1])] for k, v in diag["curves"].items()]
                       + [["lower bound (Zhang et al.)", "", num_text(diag["lower_bound"][0]),
                           num_text(diag["lower_bound"][-1])]]))
    parts.append(f"<p>{html_.escape(diagonal_conclusion(diag))}</p>")
    return "".join(parts)
