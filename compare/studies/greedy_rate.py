"""McCandlish et al.'s rate set against the quantity it predicts: the best rate of ONE step from
a checkpoint of a run, measured over many minibatches, for least squares (where the quadratic
model is exact) and the MLP."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from matplotlib.figure import Figure

from compare.analysis._greedy import RUN_BATCH, RUNS, GreedyStudy, greedy_study
from compare.studies._base import Context, Summary
from compare.style._figures import PALETTE, label_axes
from compare.style._html import answer_list
from compare.style._text import fmt
from empirical._core.arguments import checked, sequence_of

NAME = "greedy-rate"
KEY = "greedy_rate"
TITLE = "McCandlish's rate against what it predicts: the best single step"
ORDER = 32
USES_SWEEPS = False
REFERENCES = (
    "S. McCandlish, J. Kaplan, D. Amodei, An empirical model of large-batch training, "
    "arXiv:1812.06162 (section 2.2: the rate that most improves the loss in one step).",
)
FULL_SIZES = (2, 8, 32, 128, 512, 2048)
QUICK_SIZES = (2, 32, 2048)


def run(context: Context) -> Summary:
    sizes = QUICK_SIZES if context.quick else FULL_SIZES
    draws = 24 if context.quick else 48
    studies = [greedy_study(model, sizes, draws=draws, n_boot=context.settings["n_boot"] * 2)
               for model in RUNS]
    data = {s.model: dict(
        label=s.label, run_lr=RUNS[s.model][1], run_batch_size=RUN_BATCH,
        batch_sizes=s.batch_sizes, steps=s.steps, draws=s.draws, lr_max=s.lr_max,
        b_noise=s.b_noise, b_simple=s.b_simple, measured=s.measured,
        measured_interval=s.measured_interval, predicted=s.predicted,
        closed_form=s.closed_form, with_b_simple=s.with_b_simple, inside=s.inside,
        on_edge=s.on_edge) for s in studies}
    return Summary(data, detail=studies)


@checked(studies=sequence_of(GreedyStudy))
def plot_greedy_rate(studies: list) -> Figure:
    """Per model and checkpoint: the measured one-step optimum (95% bootstrap over minibatches)
    against McCandlish's rate through the same estimator, the closed form and the B_simple
    variant.

    See Also
    --------
    greedy_study : The numbers.
    """
    columns = max(len(s.steps) for s in studies)
    fig = Figure(figsize=(4.6 * columns, 3.9 * len(studies)), layout="constrained")
    axes = fig.subplots(len(studies), columns, squeeze=False)
    for row, study in enumerate(studies):
        for c, step in enumerate(study.steps):
            ax = axes[row, c]
            b, m, iv = study.batch_sizes, study.measured[c], study.measured_interval[c]
            ax.errorbar(b, m, yerr=[m - iv[:, 0], iv[:, 1] - m], fmt="o", capsize=3,
                        color=PALETTE[0], label=f"measured ({study.draws} minibatches, 95%)")
            ax.plot(b, study.predicted[c], "-", color=PALETTE[1],
                    label="McCandlish, same estimator")
            ax.plot(b, study.closed_form[c], "--", color=PALETTE[1], lw=1,
                    label=r"$\eta_{max}/(1 + B_{noise}/B)$")
            ax.plot(b, study.with_b_simple[c], ":", color=PALETTE[3],
                    label=r"with $B_{simple}$ for $B_{noise}$")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            label_axes(ax, "batch size B", "best rate of one step" if c == 0 else "",
                       f"{study.label}, after {step} updates\ninside {int(study.inside[c].sum())} "
                       f"of {b.size}", legend_size=7)
    return fig


def figures(summary: Summary) -> dict[str, Figure]:
    return {"greedy_rate": plot_greedy_rate(summary.detail)}


def sentences(data: dict) -> list[str]:
    """Per model and checkpoint: the noise scale, and the measured one-step optimum against
    McCandlish's rate through the same estimator, the closed form and the B_simple variant;
    computed from ``results.json``'s ``greedy_rate``."""
    lines = []
    for entry in data.values():
        measured = np.asarray(entry["measured"], dtype=float)
        for c, step in enumerate(entry["steps"]):
            ratio = np.asarray(entry["predicted"][c]) / measured[c]
            closed = np.asarray(entry["closed_form"][c]) / measured[c]
            simple = np.asarray(entry["with_b_simple"][c]) / measured[c]
            inside = int(np.sum(entry["inside"][c]))
            edges = int(np.sum(entry["on_edge"][c]))
            lines.append(
                f"{entry['label']}, after {step} updates of a run at B = "
                f"{entry['run_batch_size']}, lr {fmt(entry['run_lr'])}: B_noise = "
                f"{fmt(entry['b_noise'][c])} (B_simple = {fmt(entry['b_simple'][c])}), lr_max = "
                f"{fmt(entry['lr_max'][c])}; McCandlish's rate through the same sub-grid "
                f"estimator lies inside the measured one-step optimum's 95% interval "
                f"({entry['draws']} minibatches, bootstrap) at {inside} of {len(ratio)} batch "
                f"sizes, predicted / measured {fmt(ratio.min())}-{fmt(ratio.max())}; the closed "
                f"form itself {fmt(closed.min())}-{fmt(closed.max())}, with B_simple for B_noise "
                f"{fmt(simple.min())}-{fmt(simple.max())}"
                + (f"; {edges} measured optima at the grid's end" if edges else "") + ".")
    return lines


def html(results: dict, figure: Callable[[str, str], str]) -> str:
    return "".join([f"<h2 id='{NAME}'>{TITLE}</h2>",
                    "<p>McCandlish et al.'s rate is the best rate of a single step. Here it is "
                    "compared with exactly that, measured from checkpoints of a run, rather than "
                    "with the optimum over a whole run, which it does not predict.</p>",
                    figure("greedy_rate", "The measured one-step optimum against McCandlish's "
                                          "rate, per model and checkpoint."),
                    answer_list(sentences(results[KEY]))])
