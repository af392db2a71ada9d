"""Sclocchi et al.'s temperature lr/B: where the loss at equal examples depends on the rate and
the batch size only through their ratio (linear scaling's domain), measured pair by pair on
the sweeps, and for least squares against the training-set size with the exact finite-sample
theory beside it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from compare.analysis._paths import spec_directory
from compare.analysis._temperature import (
    CROSSING,
    SAME_PROGRESS,
    SHIFTS,
    DataAxis,
    TemperatureStudy,
    least_squares_data_axis,
    temperature_study,
)
from compare.studies._base import Context, Summary
from compare.style._figures import PALETTE, label_axes
from compare.style._html import answer_list
from compare.style._text import fmt
from empirical import LRGrid, SweepSpec, run_sweep
from empirical._core.arguments import checked, kind, optional, sequence_of

NAME = "temperature"
KEY = "temperature"
TITLE = "The temperature lr/B: where linear scaling holds at equal examples"
ORDER = 33
USES_SWEEPS = True
REFERENCES = (
    "A. Sclocchi, M. Geiger, M. Wyart, Dissecting the effects of SGD noise in distinct regimes "
    "of deep learning, ICML 2023, arXiv:2301.13703 (the temperature T = lr/B).",
    "A. Sclocchi, M. Wyart, On the different regimes of stochastic gradient descent, PNAS 121 "
    "(2024), arXiv:2309.10688 (the crossover batch size B* and its growth with the training "
    "set).",
)
FULL_SIZES = (64, 256, 1024, 4096)
QUICK_SIZES = (64, 1024)
DATA_SEEDS = 3


def _data_axis(context: Context) -> DataAxis:
    """Least-squares sweeps at other training-set sizes (stored and resumed under the run's
    ``sweeps/``), with the main sweep's size last."""
    main = next(s for s in context.sweeps() if s.model == "linear-sgd")
    spec = main.result.spec
    results = []
    for n in QUICK_SIZES if context.quick else FULL_SIZES:
        other = SweepSpec("linear-sgd", spec.batch_sizes, LRGrid(), steps=spec.steps,
                          seeds=tuple(range(DATA_SEEDS)), n_train=n, device=context.device)
        directory = spec_directory(context.root / "sweeps", "linear-sgd", other.to_dict())
        results.append(run_sweep(other, out=directory, progress=False))
    return least_squares_data_axis([*results, main.result], n_boot=context.settings["n_boot"])


def _flag(value) -> str | None:
    """How a crossover is censored: ``"above"`` or ``"below"`` every pair, else ``None``."""
    if value is None or not np.isinf(value):
        return None
    return "above" if value > 0 else "below"


def _star(value, flag=None) -> str:
    if flag is not None:
        return f"{flag} every pair"
    if value is None or np.isnan(value):
        return "not scored"
    return fmt(value)


def _interval(iv, flags) -> str:
    return f"[{_star(iv[0], flags[0])}, {_star(iv[1], flags[1])}]"


def run(context: Context) -> Summary:
    studies = [temperature_study(s, n_boot=context.settings["n_boot"]) for s in context.sweeps()]
    axis = _data_axis(context)
    data = {t.model: dict(
        label=t.label, batch_sizes=t.batch_sizes, examples=t.examples, exponent=t.exponent,
        exponent_interval=t.exponent_interval, best_ratio=t.best_ratio,
        best_ratio_interval=t.best_ratio_interval, b_star=t.b_star, b_star_censored=_flag(t.b_star),
        b_star_interval=list(t.b_star_interval),
        b_star_interval_censored=[_flag(v) for v in t.b_star_interval],
        searched=[float(SHIFTS[0]), float(SHIFTS[-1])], notes=t.notes) for t in studies}
    data["least_squares_data"] = dict(
        n_train=axis.n_train, seeds=axis.seeds, b_star=axis.b_star,
        b_star_censored=[_flag(v) for v in axis.b_star], b_star_interval=axis.b_star_interval,
        b_star_interval_censored=[[_flag(v) for v in iv] for iv in axis.b_star_interval],
        exact_b_star=axis.exact_b_star, exact_b_star_censored=[_flag(v) for v in axis.exact_b_star],
        exponent=axis.exponent, exact_exponent=axis.exact_exponent, inside=axis.inside)
    return Summary(data, detail=(studies, axis))


@checked(studies=sequence_of(TemperatureStudy), data=optional(kind(DataAxis)))
def plot_temperature(studies: list, data: DataAxis | None = None) -> Figure:
    """Per study: each adjacent pair's loss curves at equal examples against lr/B and against
    lr (normalized to the pair's best excess loss), and the aligning exponent per pair; with
    ``data``, the least-squares exponents against the training-set size, measured and exact.

    See Also
    --------
    temperature_study : The numbers.
    """
    rows = len(studies) + (data is not None)
    fig = Figure(figsize=(13, 3.6 * rows), layout="constrained")
    axes = fig.subplots(rows, 3, squeeze=False)
    for row, t in enumerate(studies):
        colours = colormaps["viridis"](np.linspace(0, 0.9, len(t.curves)))
        for i, ((l1, y1, l2, y2, _), colour) in enumerate(zip(t.curves, colours, strict=True)):
            b1, b2 = t.batch_sizes[i], t.batch_sizes[i + 1]
            scale = np.min(np.concatenate([y1, y2])) - t.floor
            for ax, (d1, d2) in zip(axes[row, :2], ((b1, b2), (1.0, 1.0)), strict=True):
                ax.plot(l1 / d1, (y1 - t.floor) / scale, "-", color=colour, lw=1.2,
                        label=f"{int(b1)} / {int(b2)}")
                ax.plot(l2 / d2, (y2 - t.floor) / scale, "--", color=colour, lw=1.2)
        for ax, x in zip(axes[row, :2], ("lr / B", "lr"), strict=True):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_ylim(0.8, 8)
            label_axes(ax, x, "excess loss / pair's best", f"{t.label}: against {x}\n(solid: "
                       "smaller batch, dashed: larger, same examples)", legend_size=6)
        ax = axes[row, 2]
        mid = np.sqrt(t.batch_sizes[:-1] * t.batch_sizes[1:])
        iv = t.exponent_interval
        ax.errorbar(mid, t.exponent, yerr=[t.exponent - iv[:, 0], iv[:, 1] - t.exponent],
                    fmt="o", capsize=3, color=PALETTE[0], label="measured, 95% bootstrap")
        for level, text in ((1.0, "lr/B alone (temperature)"), (CROSSING, "square root"),
                            (0.0, "lr alone")):
            ax.axhline(level, color="0.5", lw=0.8, ls=":")
            ax.text(mid[0], level + 0.03, text, fontsize=7, color="0.35")
        if np.isfinite(t.b_star):
            ax.axvline(t.b_star, color=PALETTE[3], lw=1, label=f"B* = {t.b_star:.3g}")
        ax.set_xscale("log", base=2)
        label_axes(ax, "pair of batch sizes (geometric mean)", "aligning exponent k",
                   f"{t.label}: lr -> lr (B2/B1)^k", legend_size=7)
    if data is not None:
        ax = axes[-1, 0]
        b = studies[0].batch_sizes
        mid = np.sqrt(b[:-1] * b[1:])
        colours = colormaps["plasma"](np.linspace(0, 0.85, data.n_train.size))
        for n, k, exact, colour in zip(data.n_train, data.exponent, data.exact_exponent, colours,
                                       strict=True):
            ax.plot(mid, k, "o", color=colour, label=f"n_train = {n}")
            ax.plot(mid, exact, "-", color=colour, lw=1)
        ax.set_xscale("log", base=2)
        label_axes(ax, "pair of batch sizes (geometric mean)", "aligning exponent k",
                   "Least squares: measured (points), finite-sample theory (lines)",
                   legend_size=7)
        for ax in axes[-1, 1:]:
            ax.set_visible(False)
    return fig


def figures(summary: Summary) -> dict[str, Figure]:
    studies, axis = summary.detail
    return {"temperature": plot_temperature(studies, axis)}


def sentences(data: dict) -> list[str]:
    """Per study: the aligning exponent per pair and the crossover B*; for least squares the
    crossover against the training-set size, measured and exact; from ``results.json``'s
    ``temperature``."""
    lines = []
    for model, entry in data.items():
        if model == "least_squares_data":
            continue
        b = np.asarray(entry["batch_sizes"])
        k = np.asarray(entry["exponent"], dtype=float)
        iv = np.asarray(entry["exponent_interval"], dtype=float)
        pairs = ", ".join(f"{fmt(k[i])} [{fmt(iv[i, 0])}, {fmt(iv[i, 1])}] for {int(b[i])}/"
                          f"{int(b[i + 1])}" for i in range(k.size))
        temperature = int(np.sum(k >= CROSSING))
        lo, hi = entry["searched"]
        edges = int(np.sum((k <= lo + 1e-9) | (k >= hi - 1e-9)))
        ratio = np.asarray(entry["best_ratio"], dtype=float)
        ratio_iv = np.asarray(entry["best_ratio_interval"], dtype=float)
        lines.append(
            f"{entry['label']}: at equal examples (each pair after the smaller batch's whole "
            f"run) the larger batch's loss curve aligns with the smaller's under lr -> lr "
            f"(B2/B1)^k with k = {pairs} (95% over bootstrap resamples of the seeds; k = 1 is a "
            f"dependence on lr/B alone, Sclocchi et al.'s temperature, k = 0 on lr alone, k = "
            f"1/2 the square-root rule)"
            + (f"; {edges} of {k.size} at the end of the searched range {fmt(lo)} to {fmt(hi)}, "
               "where no shift in it aligns the pair" if edges else "")
            + f". k >= {fmt(CROSSING)} at {temperature} of {k.size} "
            f"pairs; the crossover B* where it first falls below is "
            f"{_star(entry['b_star'], entry['b_star_censored'])} "
            f"{_interval(entry['b_star_interval'], entry['b_star_interval_censored'])}. The "
            f"larger batch's best excess loss at the same examples is "
            + ", ".join(f"{fmt(ratio[i])} [{fmt(ratio_iv[i, 0])}, {fmt(ratio_iv[i, 1])}]"
                        for i in range(ratio.size))
            + " times the smaller's (1: the same progress per example, perfect scaling).")
        holds = [bool(iv[i, 0] >= CROSSING and ratio_iv[i, 0] <= SAME_PROGRESS)
                 for i in range(k.size)]
        run = next((i for i, h in enumerate(holds) if not h), k.size)
        lines.append(
            f"Verdict for {entry['label']}: linear scaling at equal examples (k's interval above "
            f"{fmt(CROSSING)}, and the larger batch's best excess loss within a factor "
            f"{fmt(SAME_PROGRESS)} of the smaller's at the low end of its interval) holds at "
            f"{sum(holds)} of {k.size} pairs"
            + (f", every pair up to B = {int(b[run])}" if run else ", not at the first pair")
            + (f"; {', '.join(f'{int(b[i])}/{int(b[i + 1])}' for i in range(k.size) if holds[i])}"
               f" hold" if 0 < sum(holds) < k.size else "") + ".")
    axis = data.get("least_squares_data")
    if axis is not None:
        n = axis["n_train"]
        measured = ", ".join(
            f"{_star(s, f)} {_interval(i, fi)} at n = {m}" for s, f, i, fi, m in zip(
                axis["b_star"], axis["b_star_censored"], axis["b_star_interval"],
                axis["b_star_interval_censored"], n, strict=True))
        exact = ", ".join(_star(s, f) for s, f in zip(axis["exact_b_star"],
                                                     axis["exact_b_star_censored"], strict=True))
        k = np.asarray(axis["exponent"], dtype=float)
        exact_k = np.asarray(axis["exact_exponent"], dtype=float)
        with np.errstate(invalid="ignore"):
            gap = np.nanmax(np.abs(k - exact_k))
        lines.append(
            f"Least squares against the training-set size ({axis['seeds']} seeds per size, the "
            f"main sweep's last): measured B* {measured}; the finite-sample theory through the "
            f"same estimator gives {exact}, inside the measured interval at "
            f"{int(np.sum(axis['inside']))} of {len(n)} sizes, and its exponents k lie within "
            f"{fmt(gap)} of the measured ones at every pair.")
    return lines


def html(results: dict, figure: Callable[[str, str], str]) -> str:
    return "".join([
        f"<h2 id='{NAME}'>{TITLE}</h2>",
        "<p>Sclocchi, Geiger and Wyart (2023) read SGD's noise through the temperature T = "
        "lr/B: where the loss depends on T alone, linear scaling holds. Sclocchi and Wyart "
        "(2024) find that this stops beyond a batch size B* that grows with the training set. "
        "Here each adjacent pair of the sweeps' batch sizes is compared at equal examples (the "
        "smaller batch's whole run, the larger batch's step at the same examples, both "
        "recorded by the sweep), and the shift lr -> lr (B2/B1)^k that best aligns the two loss "
        "curves in their basins gives k: 1 for T alone, 0 for the rate alone.</p>",
        figure("temperature", "Per study: each pair's curves against lr/B and against lr, and "
                              "the aligning exponent; last row: least squares at other "
                              "training-set sizes."),
        answer_list(sentences(results[KEY]))])
