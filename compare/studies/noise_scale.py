"""The gradient noise scale predicted before a sweep, checked against it: the measured critical
batch size per target loss, the noise scale at the same loss, McCandlish et al.'s rate."""

from __future__ import annotations

import html as html_
from collections.abc import Callable

import numpy as np
from matplotlib.figure import Figure

import nqm
from compare.analysis._gns import NoiseScaleStudy, noise_scale_study
from compare.fit._critical import CriticalBatchFit
from compare.studies._base import Context, Summary
from compare.style._figures import PALETTE, label_axes
from compare.style._html import answer_list, interval_text, num_text, table
from compare.style._text import fmt
from empirical import NoiseTrace
from empirical._core.arguments import NONNEGATIVE, checked, kind, optional, sequence_of

NAME = "noise-scale"
KEY = "noise_scale"
TITLE = "Predicted before the sweep: the noise scale"
ORDER = 30
USES_SWEEPS = True
REFERENCES = (
    "S. McCandlish, J. Kaplan, D. Amodei, An empirical model of large-batch training, "
    "arXiv:1812.06162 (saturating rule, critical batch size, the gradient noise scale and its "
    "estimators).",
)


def _beyond(gns: NoiseScaleStudy, k: int, b_crit: float) -> str:
    """A note where the ``k``-th fitted target's critical batch size lies beyond the batch
    sizes whose counts it was fitted to: an extrapolation of the hyperbola."""
    fitted = [i for i, f in enumerate(gns.fits) if f is not None][k]
    counted = gns.batch_sizes if gns.censored is None else gns.batch_sizes[~gns.censored[fitted]]
    if counted.min() <= b_crit <= counted.max():
        return ""
    return (f" (beyond the counted batch sizes, {fmt(counted.min())}-{fmt(counted.max())}: "
            "extrapolated)")


@checked(gns=kind(NoiseScaleStudy))
def noise_scale_conclusions(gns: NoiseScaleStudy) -> list[str]:
    """The study's critical batch sizes, the noise scale beside them and the prediction's
    verdict, in sentences computed from the numbers.

    See Also
    --------
    noise_scale_study : The numbers.
    """
    lines = []
    fitted = [(t, f, a) for t, f, a in zip(gns.targets, gns.fits, gns.noise_at_target,
                                           strict=True) if f is not None]
    if fitted:
        parts = [f"{fmt(f.b_crit)} [{fmt(f.b_crit_interval[0])}, {fmt(f.b_crit_interval[1])}] at "
                 f"test loss {fmt(t)}{_beyond(gns, k, f.b_crit)}"
                 for k, (t, f, _) in enumerate(fitted)]
        lines.append(f"{gns.label}: measured critical batch size " + "; ".join(parts) + ".")
        ratios = [a[0] / f.b_crit for _, f, a in fitted if np.isfinite(a[0])]
        agree = sum(bool(a[1] <= f.b_crit_interval[1] and f.b_crit_interval[0] <= a[2])
                    for _, f, a in fitted if np.isfinite(a[0]))
        if ratios:
            lines.append(f"The noise scale B_simple at the same loss (standing in for "
                         f"B_noise, McCandlish et al.'s estimate of B_crit) is "
                         f"{fmt(min(ratios))}-{fmt(max(ratios))} times the measured B_crit; "
                         f"their intervals overlap at {agree} of {len(ratios)} targets the "
                         f"noise-scale run reached.")
        if gns.exact_noise_at_target is not None:
            exact = [gns.exact_noise_at_target[list(gns.targets).index(t)] / f.b_crit
                     for t, f, _ in fitted]
            lines.append(f"The exact B_noise of least squares at the same expected loss is "
                         f"{fmt(min(exact))}-{fmt(max(exact))} times the measured B_crit.")
    counted = gns.counted
    inside = int(np.sum(gns.inside[counted]))
    ratio = gns.predicted[counted] / gns.optimum_lr[counted]
    if gns.prediction_kind == "absolute":
        lines.append(f"Predicted optimum from one run (McCandlish's lr_max / (1 + B_noise/B), "
                     f"B_simple standing in for B_noise, which needs the Hessian and equals "
                     f"B_simple only where the Hessian is a multiple of the identity; moving "
                     f"averages B_simple = {fmt(gns.trace.b_simple_ema[-1])}, "
                     f"lr_max = {fmt(gns.trace.lr_max_ema[-1])} after {gns.trace.steps[-1]} "
                     f"steps; the best rate of one step, set here against the best rate over "
                     f"{gns.trace.steps[-1]} steps, a different criterion: the greedy-rate study "
                     f"sets it against the one-step optimum): inside the measured 95% interval at "
                     f"{inside} of "
                     f"{int(counted.sum())} batch sizes; predicted / measured "
                     f"{fmt(np.nanmin(ratio))}-{fmt(np.nanmax(ratio))}.")
        return lines
    start, end = gns.sign_descent["start"], gns.sign_descent["end"]
    exact = end["exact_lr"] / gns.optimum_lr
    lines.append(f"Predicted optimum (Li et al.'s surge lr_max / (1/2 (sqrt(B_noise/B) + "
                 f"sqrt(B/B_noise))), its lr_max and B_noise from sign descent's gradient, "
                 f"per-coordinate noise and Hessian on the training set at the end of the run at "
                 f"B = {gns.trace.batch_size}: B_noise = {fmt(end['b_noise'])}, lr_max = "
                 f"{fmt(end['lr_max'])}; at its start {fmt(start['b_noise'])} and "
                 f"{fmt(start['lr_max'])}): inside the measured 95% interval at {inside} of "
                 f"{int(counted.sum())} batch sizes; predicted / measured "
                 f"{fmt(np.nanmin(ratio))}-{fmt(np.nanmax(ratio))}. The exact sign-descent step "
                 f"(no small-batch approximation) at the end is {fmt(np.nanmin(exact))}-"
                 f"{fmt(np.nanmax(exact))} of the measured optimum, at the start "
                 f"{fmt(np.nanmin(start['exact_lr'] / gns.optimum_lr))}-"
                 f"{fmt(np.nanmax(start['exact_lr'] / gns.optimum_lr))}: both are one step's best "
                 f"rate, the measured optimum is the best over {gns.trace.steps[-1]} steps.")
    if gns.surge_from_b_crit is not None:
        anchored = gns.b_crit_counted
        ratio = gns.surge_from_b_crit[anchored] / gns.optimum_lr[anchored]
        lines.append(f"With the peak at the measured B_crit = {fmt(gns.surge_b_crit)} of the "
                     f"tightest target instead (Li et al.'s estimate of B_noise from steps and "
                     f"examples to a loss) and the scale of the measured optimum at B = "
                     f"{gns.batch_sizes[0]:g} (not counted): inside at "
                     f"{int(np.sum(gns.surge_from_b_crit_inside[anchored]))} of "
                     f"{int(anchored.sum())}; predicted / measured {fmt(np.nanmin(ratio))}-"
                     f"{fmt(np.nanmax(ratio))}.")
    return lines


@checked(gns=kind(NoiseScaleStudy))
def summarize_noise_scale(gns: NoiseScaleStudy) -> dict:
    """``results.json``'s ``noise_scale[model]``: the run's time series, the critical batch
    size per target beside the noise scale, the prediction and its verdict, the sentences.

    See Also
    --------
    noise_scale_study : The numbers.
    results_schema : ``$defs/noise_scale`` describes the result.
    """
    t = gns.trace
    run = dict(batch_size=t.batch_size, lr=t.lr, method=t.method, seconds=t.seconds,
               steps=[int(s) for s in t.steps], train_loss=list(t.train_loss),
               test_loss=list(t.test_loss), gradient_sq=list(t.gradient_sq),
               gradient_sq_se=list(t.gradient_sq_se), trace_cov=list(t.trace_cov),
               trace_cov_se=list(t.trace_cov_se), b_simple=list(t.b_simple),
               b_simple_ema=list(t.b_simple_ema),
               lr_max=[float(v) if v > 0 else float("nan") for v in t.lr_max],
               lr_max_ema=list(t.lr_max_ema))
    targets = []
    for i, target in enumerate(gns.targets):
        fit: CriticalBatchFit | None = gns.fits[i]
        targets.append(dict(
            target_loss=target, steps=list(gns.steps[i]),
            steps_interval=[list(v) for v in gns.steps_interval[i]],
            s_min=fit.s_min if fit else None, s_min_interval=list(fit.s_min_interval) if fit
            else [None, None], e_min=fit.e_min if fit else None,
            e_min_interval=list(fit.e_min_interval) if fit else [None, None],
            b_crit=fit.b_crit if fit else None,
            b_crit_interval=list(fit.b_crit_interval) if fit else [None, None],
            b_simple_at_loss=gns.noise_at_target[i, 0],
            b_simple_at_loss_interval=list(gns.noise_at_target[i, 1:]),
            exact_b_noise=(gns.exact_noise_at_target[i] if gns.exact_noise_at_target is not None
                           else None)))
    return dict(
        label=gns.label, optimizer=gns.optimizer, batch_sizes=[int(v) for v in gns.batch_sizes],
        noise_floor=gns.floor, run=run, critical_batch=targets,
        prediction=dict(kind=gns.prediction_kind, lr=list(gns.predicted),
                        band=[list(v) for v in gns.predicted_band],
                        measured_lr=list(gns.optimum_lr),
                        measured_interval=[list(v) for v in gns.optimum_interval],
                        inside=[bool(v) for v in gns.inside],
                        counted=[bool(v) for v in gns.counted],
                        b_crit_b_noise=gns.surge_b_crit,
                        b_crit_lr=None if gns.surge_from_b_crit is None else list(gns.surge_from_b_crit),
                        b_crit_inside=None if gns.surge_from_b_crit is None
                        else [bool(v) for v in gns.surge_from_b_crit_inside],
                        sign_descent={where: dict(b_noise=p["b_noise"], lr_max=p["lr_max"],
                                                  exact_lr=list(p["exact_lr"]))
                                      for where, p in gns.sign_descent.items()} or None),
        notes=list(gns.notes), conclusions=noise_scale_conclusions(gns))


@checked(studies=sequence_of(NoiseScaleStudy))
def plot_critical_batch(studies: list) -> Figure:
    """Per study: steps to each target against batch size with the fitted hyperbolas (top),
    the measured critical batch size and the noise scale against the target's excess loss
    (middle), and McCandlish's predicted rate against the measured optima (bottom).

    See Also
    --------
    compare.noise_scale_study : The numbers.
    plot_noise_trace : The noise-scale run itself.
    """
    fig = Figure(figsize=(5.0 * len(studies), 13.5), layout="constrained")
    for k, gns in enumerate(studies):
        b = gns.batch_sizes
        dense = np.geomspace(b[0], b[-1], 100)
        ax = fig.add_subplot(3, len(studies), k + 1)
        for i, (target, fit) in enumerate(zip(gns.targets, gns.fits, strict=True)):
            colour = PALETTE[i % len(PALETTE)]
            steps, interval = gns.steps[i], gns.steps_interval[i]
            ok = np.isfinite(interval).all(axis=1) & np.isfinite(steps)
            err = np.abs(np.where(ok[:, None], interval, steps[:, None]).T - steps)
            ax.errorbar(b[ok], steps[ok], yerr=err[:, ok], fmt="o", color=colour, ms=4,
                        capsize=2, label=f"loss {target:.3g}")
            if fit is not None:
                ax.plot(dense, nqm.steps_examples_tradeoff(dense, s_min=fit.s_min,
                                                           b_crit=fit.b_crit)[0],
                        color=colour, lw=1.0)
                ax.axvline(fit.b_crit, color=colour, lw=0.6, ls=":")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        label_axes(ax, "batch size $B$", "fewest steps to the target",
                   f"{gns.label}: $S = S_{{min}}(1 + B_{{crit}}/B)$ (dotted: $B_{{crit}}$)",
                   legend_size=7)

        ax = fig.add_subplot(3, len(studies), len(studies) + k + 1)
        excess = gns.targets - gns.floor
        fitted = [i for i, f in enumerate(gns.fits) if f is not None]
        if fitted:
            crit = np.array([gns.fits[i].b_crit for i in fitted])
            iv = np.array([gns.fits[i].b_crit_interval for i in fitted], dtype=float)
            good = np.isfinite(iv).all(axis=1)
            err = np.abs(np.where(good[:, None], iv, crit[:, None]).T - crit)
            ax.errorbar(excess[fitted], crit, yerr=err, fmt="o", color=PALETTE[0], capsize=3,
                        label="measured $B_{crit}$ (95% over seeds)")
        noise = gns.noise_at_target
        seen = np.isfinite(noise[:, 0])
        ax.errorbar(excess[seen] * 1.03, noise[seen, 0],
                    yerr=np.abs(noise[seen, 1:].T - noise[seen, 0]), fmt="s", color=PALETTE[3],
                    capsize=3, label=f"$B_{{simple}}$ of one run at B={gns.trace.batch_size}")
        if gns.exact_noise_at_target is not None:
            ax.plot(excess, gns.exact_noise_at_target, "--", color=PALETTE[2],
                    label="exact $B_{noise}$ of least squares at that loss")
        ax.set_xscale("log")
        ax.set_yscale("log")
        label_axes(ax, "target excess test loss $L - L_\\infty$", "batch size",
                   f"{gns.label}: critical batch size and noise scale", legend_size=7)

        ax = fig.add_subplot(3, len(studies), 2 * len(studies) + k + 1)
        iv = gns.optimum_interval
        ok = np.isfinite(iv).all(axis=1)
        err = np.abs(np.where(ok[:, None], iv, gns.optimum_lr[:, None]).T - gns.optimum_lr)
        ax.errorbar(b, gns.optimum_lr, yerr=err, fmt="o", color=PALETTE[0], capsize=3,
                    label="measured optimum (95%)")
        ax.fill_between(b, gns.predicted_band[:, 0], gns.predicted_band[:, 1], color=PALETTE[1],
                        alpha=0.25, label="predicted along the run" if gns.prediction_kind == "absolute"
                        else "surge: between the run's start and end")
        if gns.prediction_kind == "absolute":
            ax.plot(b, gns.predicted, color=PALETTE[1], lw=1.5,
                    label=f"predicted: $\\eta_{{max}}/(1 + B_{{noise}}/B)$, EMA at step "
                          f"{gns.trace.steps[-1]}")
        else:
            end = gns.sign_descent["end"]
            ax.plot(b, gns.predicted, color=PALETTE[1], lw=1.5,
                    label=f"surge at the run's end ($B_{{noise}}$ = {end['b_noise']:.3g})")
            ax.plot(b, end["exact_lr"], color=PALETTE[1], lw=1.0, ls=":",
                    label="exact sign-descent step at the end")
            if gns.surge_from_b_crit is not None:
                ax.plot(b, gns.surge_from_b_crit, color=PALETTE[3], lw=1.5, ls="--",
                                label=f"surge shape, peak at $B_{{crit}}$ = {gns.surge_b_crit:.3g} "
                              f"(scaled at B = {b[0]:g})")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        label_axes(ax, "batch size $B$", "learning rate",
                   f"{gns.label}: one-step rate vs the {gns.trace.steps[-1]}-step optimum,\n"
                   f"inside {int(gns.inside[gns.counted].sum())} of {int(gns.counted.sum())}",
                   legend_size=7, legend_below=True)
    return fig


@checked(trace=kind(NoiseTrace), floor=optional(NONNEGATIVE))
def plot_noise_trace(trace, *, floor: float | None = None) -> Figure:
    """A noise-scale run: the test loss, :math:`B_{\\rm simple}` per checkpoint (95% from its
    standard errors) with its moving average, and :math:`\\eta_\\max`, against steps.

    See Also
    --------
    empirical.noise_along_run : The run.
    plot_critical_batch : The noise scale against the measured critical batch size.
    """
    if floor is not None and not np.any(trace.test_loss > floor):
        raise ValueError(f"floor={floor:g} must lie below the run's test losses (at most "
                         f"{np.max(trace.test_loss):.4g}): the plot shows the loss above it")
    fig = Figure(figsize=(13.5, 4.2), layout="constrained")
    steps = trace.steps
    ax = fig.add_subplot(1, 3, 1)
    excess = trace.test_loss - (floor or 0.0)
    ax.plot(steps, excess, "o-", color=PALETTE[0], ms=3,
            label="test loss" + (" above the floor" if floor else ""))
    ax.set_yscale("log")
    label_axes(ax, "step", "loss", f"run at lr {trace.lr:.3g}, B = {trace.batch_size}")
    ax = fig.add_subplot(1, 3, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.sqrt((trace.trace_cov_se / trace.trace_cov) ** 2
                      + (trace.gradient_sq_se / trace.gradient_sq) ** 2)
    ok = trace.b_simple > 0
    ax.errorbar(steps[ok], trace.b_simple[ok],
                yerr=np.abs(trace.b_simple[ok] * np.exp([[-1.96], [1.96]] * rel[ok])
                            - trace.b_simple[ok]),
                fmt="o", color=PALETTE[3], ms=3, capsize=2, label=f"$B_{{simple}}$ ({trace.method})")
    ax.plot(steps, trace.b_simple_ema, color=PALETTE[3], lw=1.0, label="bias-corrected EMA")
    ax.set_yscale("log")
    label_axes(ax, "step", "$B_{simple} = tr\\Sigma / |G|^2$", "gradient noise scale")
    ax = fig.add_subplot(1, 3, 3)
    positive = trace.lr_max > 0
    ax.plot(steps[positive], trace.lr_max[positive], "o", color=PALETTE[2], ms=3,
            label="$\\eta_{max} = |G|^2 / G^T H G$ (training set)")
    ax.plot(steps, trace.lr_max_ema, color=PALETTE[2], lw=1.0, label="bias-corrected EMA")
    if not positive.all():
        ax.plot(steps[~positive], np.full((~positive).sum(), np.min(trace.lr_max[positive],
                                                                    initial=1.0)),
                "x", color=PALETTE[3], label="$G^T H G \\leq 0$ (no $\\eta_{max}$)")
    shown = np.concatenate([trace.lr_max[positive], trace.lr_max_ema[trace.lr_max_ema > 0]])
    if shown.size and shown.max() > 2 * shown.min():
        ax.set_yscale("log")                 # a log axis only where the values span a factor 2
    elif shown.size:
        ax.set_ylim(0, 1.25 * shown.max())   # from zero: a nearly constant rate reads as one
    label_axes(ax, "step", "learning rate", "best noiseless step")
    return fig


def _noise_html(noise: dict, figure) -> str:
    first = next(iter(noise.values()))["run"]
    parts = ["<h2 id='noise-scale'>Predicted before the sweep: the gradient noise scale and the "
             "critical batch size</h2>",
             "<p>McCandlish et al. (2018) predict from a few gradient evaluations what a sweep "
             "measures: the optimal rate &eta;<sub>max</sub> / (1 + B<sub>noise</sub>/B) and a "
             "critical batch size B<sub>crit</sub> &asymp; B<sub>noise</sub>. Here the sweep "
             "measures B<sub>crit</sub>: for each target test loss, the fewest steps at each "
             "batch size over the grid's rates (seed-mean curves; 95% percentile intervals over "
             "bootstrap resamples of the seeds) fitted by S = S<sub>min</sub>(1 + "
             "B<sub>crit</sub>/B), intervals from refitting the resamples (Student's quantile). "
             "One extra run per study, at the batch size nearest 64 and its measured optimal "
             "rate, estimates the noise scale along the way "
             f"({html_.escape(first['method'])} estimator, B<sub>simple</sub> = "
             "tr&Sigma; / |G|<sup>2</sup> as B<sub>noise</sub>, 95% intervals from the "
             "estimates' standard errors) and &eta;<sub>max</sub> = |G|<sup>2</sup> / "
             "G<sup>T</sup>HG from one Hessian-vector product on the whole training set (exact "
             "for it). Its B<sub>simple</sub> where its test loss reaches each target stands "
             "beside the measured B<sub>crit</sub>; its values at the last step give the "
             "predicted rate, checked against the fixed-horizon optima's 95% intervals.</p>",
             figure("critical_batch", "Top: fewest steps to each target with the fitted "
                                      "hyperbolas. Middle: the measured critical batch size and "
                                      "the noise scale at the same loss. Bottom: the predicted "
                                      "rate against the measured optima.")]
    for model, st in noise.items():
        run = st["run"]
        parts.append(f"<h3>{html_.escape(st['label'])}</h3>" + answer_list(st["conclusions"]))
        parts.append(table(
            ["target test loss", "B<sub>crit</sub> [95%]", "S<sub>min</sub> [95%]",
             "E<sub>min</sub> [95%]", "B<sub>simple</sub> at that loss [95%]",
             "exact B<sub>noise</sub> (least squares)"],
            [[num_text(t["target_loss"]), f"{num_text(t['b_crit'])} {interval_text(t['b_crit_interval'])}",
              f"{num_text(t['s_min'])} {interval_text(t['s_min_interval'])}",
              f"{num_text(t['e_min'])} {interval_text(t['e_min_interval'])}",
              f"{num_text(t['b_simple_at_loss'])} {interval_text(t['b_simple_at_loss_interval'])}",
              num_text(t["exact_b_noise"])] for t in st["critical_batch"]]))
        pred = st["prediction"]
        parts.append(table(
            ["B", "predicted rate", "range along the run", "measured optimum [95%]", "inside"],
            [[b, num_text(p), interval_text(band), f"{num_text(m)} {interval_text(iv)}",
              ("yes" if inside else "no") if counted else "anchor"]
             for b, p, band, m, iv, inside, counted in zip(
                 st["batch_sizes"], pred["lr"], pred["band"], pred["measured_lr"],
                 pred["measured_interval"], pred["inside"], pred["counted"], strict=True)]))
        parts.append(figure(f"noise_scale_{model}",
                            f"The noise-scale run: lr {run['lr']:.3g}, B = {run['batch_size']}, "
                            f"{run['steps'][-1]} steps, estimates {run['seconds']:.2g} s."))
        parts += [f"<p>Note: {html_.escape(note)}</p>" for note in st["notes"]]
    return "".join(parts)


def run(context: Context) -> Summary:
    """One noise-scale run per sweep, the critical batch size per target, the prediction."""
    noise = [noise_scale_study(s, n_boot=context.settings["n_boot"]) for s in context.sweeps()]
    return Summary({g.model: summarize_noise_scale(g) for g in noise}, detail=noise)


def figures(summary: Summary) -> dict[str, Figure]:
    drawn = {"critical_batch": plot_critical_batch(summary.detail)}
    for g in summary.detail:
        drawn[f"noise_scale_{g.model}"] = plot_noise_trace(g.trace, floor=g.floor)
    return drawn


def sentences(data: dict) -> list[str]:
    """Every sweep's :func:`noise_scale_conclusions`, in order."""
    return [line for st in data.values() for line in st["conclusions"]]


def html(results: dict, figure: Callable[[str, str], str]) -> str:
    return _noise_html(results[KEY], figure)
