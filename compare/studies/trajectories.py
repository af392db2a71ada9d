"""Kaplan et al.'s use of the critical batch size: the test-loss trajectory at any batch size
predicted from one, with B_crit(L) a power law in the loss fitted without the batch size
predicted, against the measured curves (and, for least squares, the exact ones)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from compare.analysis._trajectories import TrajectoryStudy, trajectory_study
from compare.studies._base import Context, Summary
from compare.style._figures import PALETTE, label_axes
from compare.style._html import answer_list
from compare.style._text import fmt
from empirical._core.arguments import checked, sequence_of

NAME = "trajectories"
KEY = "trajectories"
TITLE = "Trajectories at any batch size from one: B_crit(L) as a power law"
ORDER = 31
USES_SWEEPS = True
REFERENCES = (
    "J. Kaplan et al., Scaling laws for neural language models, arXiv:2001.08361 (section 5.1: "
    "B_crit(L) = B* / L^(1/alpha_B) and S_min = S / (1 + B_crit(L)/B)).",
    "S. McCandlish, J. Kaplan, D. Amodei, An empirical model of large-batch training, "
    "arXiv:1812.06162 (eq. 2.11, and its steps and examples integrated along the "
    "greedy schedule).",
    "H. Su et al., Unraveling the mystery of scaling laws: part I (2024; the same "
    "model, used to predict losses at other batch sizes).",
)


def _entry(t: TrajectoryStudy) -> dict:
    within_first = int(np.sum(np.isfinite(t.steps) & (t.steps < 1)))
    exact = None if t.exact is None else {k: v for k, v in t.exact.items() if k != "envelope"}
    return dict(label=t.label, batch_sizes=t.batch_sizes, reference_batch_size=int(
        t.batch_sizes[t.reference]), noise_floor=t.floor, levels=t.levels, steps=t.steps,
        steps_interval=t.steps_interval, b_crit=t.b_crit, b_crit_interval=t.b_crit_interval,
        exponent=t.exponent, exponent_interval=list(t.exponent_interval), predicted=t.predicted,
        error=t.error, seed_noise=t.seed_noise, within_first_update=within_first, exact=exact,
        notes=t.notes)


def run(context: Context) -> Summary:
    studies = [trajectory_study(s, n_boot=context.settings["n_boot"]) for s in context.sweeps()]
    return Summary({t.model: _entry(t) for t in studies}, detail=studies)


def _percent(log_ratio) -> str:
    return f"{fmt(100 * np.expm1(log_ratio))}%"


@checked(studies=sequence_of(TrajectoryStudy))
def plot_trajectories(studies: list) -> Figure:
    """Per study: the measured envelope curves (fewest steps to each loss over the grid's
    rates) with the steps predicted from the reference curve, and B_crit per level with its
    power law.

    See Also
    --------
    trajectory_study : The numbers.
    """
    fig = Figure(figsize=(10.5, 3.9 * len(studies)), layout="constrained")
    axes = fig.subplots(len(studies), 2, squeeze=False)
    for row, t in enumerate(studies):
        ax, right = axes[row]
        colours = colormaps["viridis"](np.linspace(0, 0.9, t.batch_sizes.size))
        steps = np.arange(t.envelope.shape[1])
        first = np.geomspace(0.05, 1, 12)       # the first update, interpolated as it is counted
        for j, (b, colour) in enumerate(zip(t.batch_sizes, colours, strict=True)):
            label = f"B = {int(b)}" + (" (reference)" if j == t.reference else "")
            excess = np.maximum(t.envelope[j] - t.floor, 1e-300)
            ax.plot(first, excess[0] ** (1 - first) * excess[1] ** first, color=colour, lw=1.4,
                    ls=":")
            ax.plot(steps[1:], excess[1:], color=colour, lw=1.4, label=label)
            if j != t.reference:
                ax.plot(t.predicted[:, j], t.levels - t.floor, "o", ms=3.5, mfc="none",
                        color=colour)
        ax.set_xscale("log")
        ax.set_yscale("log")
        label_axes(ax, "steps (fewest over the grid's rates; dotted: within the first update)",
                   "test loss - noise floor",
                   f"{t.label}: measured (lines), predicted from B = "
                   f"{int(t.batch_sizes[t.reference])} (circles)", legend_size=6.5)
        excess = t.levels - t.floor
        iv = t.b_crit_interval
        right.errorbar(excess, t.b_crit, yerr=[t.b_crit - iv[:, 0], iv[:, 1] - t.b_crit], fmt="o",
                       capsize=3, color=PALETTE[0], label="per level, 95% bootstrap")
        ok = np.isfinite(t.b_crit)
        if ok.sum() >= 2:
            slope, level = np.polyfit(np.log(excess[ok]), np.log(t.b_crit[ok]), 1)
            right.plot(excess, np.exp(level + slope * np.log(excess)), "-", color=PALETTE[1],
                       label=f"power law, exponent {t.exponent:.2f}")
        if t.exact is not None:
            right.plot(excess, t.exact["b_crit"], "--", color=PALETTE[2],
                       label="exact, best constant rate (same estimator)")
            right.plot(excess, t.exact["greedy_b_crit"], ":", color=PALETTE[3],
                       label="exact, best schedule (McCandlish's integral)")
        right.set_xscale("log")
        right.set_yscale("log")
        label_axes(right, "test loss - noise floor", r"$B_{crit}$",
                   f"{t.label}: critical batch size per loss", legend_size=6.5)
    return fig


def figures(summary: Summary) -> dict[str, Figure]:
    return {"trajectories": plot_trajectories(summary.detail)}


def sentences(data: dict) -> list[str]:
    """Per study: B_crit(L)'s power law, the trajectory prediction's error per batch size beside
    the seed noise, and for least squares the same on the exact curves; computed from
    ``results.json``'s ``trajectories``."""
    lines = []
    for entry in data.values():
        b = np.asarray(entry["batch_sizes"])
        crit = np.asarray(entry["b_crit"], dtype=float)
        excess = np.asarray(entry["levels"], dtype=float) - entry["noise_floor"]
        error = np.asarray(entry["error"], dtype=float)
        noise = np.asarray(entry["seed_noise"], dtype=float)
        lo, hi = (np.nan if v is None else v for v in entry["exponent_interval"])
        lines.append(
            f"{entry['label']}: over {excess.size} loss levels ({fmt(excess.max())} to "
            f"{fmt(excess.min())} above the noise floor) the critical batch size fitted per level "
            f"runs {fmt(np.nanmin(crit))}-{fmt(np.nanmax(crit))}, and as a power of the excess "
            f"loss its exponent is {fmt(entry['exponent'])} [{fmt(lo)}, {fmt(hi)}] (Student's "
            f"95% over bootstrap resamples of the seeds; Kaplan et al.'s -1/alpha_B, here in the "
            f"excess loss).")
        predicted = [j for j in range(b.size) if np.isfinite(error[j])]
        above = sum(bool(error[j] > noise[j]) for j in predicted)
        per_b = ", ".join(f"{_percent(error[j])} at B = {int(b[j])} (seed noise "
                          f"{_percent(noise[j])})" for j in predicted)
        lines.append(
            f"From the curve at B = {entry['reference_batch_size']} alone, with B_crit(L)'s power "
            f"law refitted without the batch size predicted, the fewest steps to each level are "
            f"predicted with median errors of {per_b}; the error exceeds the measured steps' own "
            f"seed noise at {above} of {len(predicted)} batch sizes."
            + (f" {entry['within_first_update']} of {crit.size * b.size} counts fall within the "
               "first update (interpolated in log loss between the start and step 1)."
               if entry["within_first_update"] else ""))
        exact = entry["exact"]
        if exact is not None:
            exact_error = np.asarray(exact["error"], dtype=float)
            greedy = np.asarray(exact["greedy_b_crit"], dtype=float)
            exact_crit = np.asarray(exact["b_crit"], dtype=float)
            with np.errstate(all="ignore"):
                gap = np.abs(np.log(np.asarray(entry["steps"], dtype=float)
                                    / np.asarray(exact["steps"], dtype=float)))
            lines.append(
                "On the finite-sample theory's expected curves (the same grid and estimator, no "
                "seed noise) the same prediction errs by "
                + ", ".join(_percent(exact_error[j]) for j in predicted)
                + f" at the same batch sizes: the hyperbola and the power law's own error; the "
                f"exact exponent is {fmt(exact['exponent'])}, and the measured steps lie a median "
                f"{_percent(np.nanmedian(np.where(np.isfinite(gap), gap, np.nan)))} from the "
                f"exact. The best schedule's critical batch size (McCandlish's integral along "
                f"the greedy schedule, exact) is {fmt(greedy.min())}-{fmt(greedy.max())}, "
                f"{fmt(np.nanmin(exact_crit / greedy))}-{fmt(np.nanmax(exact_crit / greedy))} "
                f"times below the best constant rate's: another criterion, shown for scale.")
    return lines


def html(results: dict, figure: Callable[[str, str], str]) -> str:
    return "".join([
        f"<h2 id='{NAME}'>{TITLE}</h2>",
        "<p>Kaplan et al. (2020) turn the critical batch size into a tool: with "
        "B<sub>crit</sub>(L) a power law in the loss and S<sub>min</sub>(L) = S / (1 + "
        "B<sub>crit</sub>(L)/B), the runs at one batch size give the whole test-loss trajectory "
        "at any other. Here the trajectory is the envelope of the sweep's seed-mean curves (the "
        "fewest steps to each loss over the grid's constant rates, in real steps), "
        "B<sub>crit</sub> is McCandlish's hyperbola fitted per loss level, and each batch size "
        "is predicted from the reference curve with the power law fitted without it.</p>",
        figure("trajectories", "Left: the measured envelopes and the steps predicted from the "
                               "reference batch size. Right: the critical batch size per loss "
                               "level and its power law."),
        answer_list(sentences(results[KEY]))])
