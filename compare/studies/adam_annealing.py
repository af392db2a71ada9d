"""The loss curve under any learning-rate schedule from two runs: Tissue et al.'s scaling law
with annealing, L(s) = L0 + A S1^-alpha - C S2, fitted on Adam's constant and cosine runs of
the teacher MLP and checked on other schedules, including the two where the law is known to
fail (a tail at rate zero, the whole schedule scaled up)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

import nqm
from compare.fit._annealing import ANNEALING_DECAY, AnnealingFit, fit_annealing_law
from compare.studies._base import Context, Summary
from compare.style._figures import PALETTE, label_axes
from compare.style._html import answer_list
from compare.style._text import fmt
from empirical import schedule_factors, teacher_mlp_problem, train_mlp_batched
from empirical._core.arguments import SEEDS, checked, kind, real, whole

NAME = "adam-annealing"
KEY = "adam_annealing"
TITLE = "The loss under any schedule: the annealing law"
ORDER = 37
USES_SWEEPS = False
REFERENCES = (
    "H. Tissue, V. Wang, L. Wang, Scaling law with learning rate annealing, arXiv:2408.11029 "
    "(2024) (L(s) = L0 + A S1^-alpha - C S2, fitted on one or two runs).",
)
BATCH_SIZE = 64
PEAK_LR = 0.1
"""Adam's rate at the schedules' peak (near the optimum of the constant schedule here)."""
BETAS = (0.9, 0.999)
FITTED = ("constant", "cosine")
"""The schedules the law is fitted on, as Tissue et al. fit theirs."""
PREDICTED = ("cosine, no warmup", "warmup 50 + cosine", "WSD (last 20% linear)", "linear decay",
             "step x0.1 at 70%")
FAILURES = ("zero after 70%", "cosine, peak x4")
"""Where the law is known to fail: a zero-rate tail (the annealing area keeps growing, the
model cannot change) and a schedule scaled up (a larger S1 always predicts a lower loss)."""
START = 0.1
"""The law is fitted and scored from this fraction of the steps on."""
NQM = dict(dim=1000, batch_size=16, peak_lr=0.3)
"""The noiseless reference: SGD on Zhang et al.'s diagonal NQM (curvatures 1/i), whose
expected loss under any schedule is exact; the peak x4 stays below 2 / h_max = 2."""


def schedules(steps: int) -> dict[str, np.ndarray]:
    """Every schedule of the study: the rate factor (peak 1) at each of ``steps`` steps."""
    frac = np.arange(steps) / steps
    wsd_start, step_at, zero_at = int(0.8 * steps), int(0.7 * steps), int(0.7 * steps)
    return {
        "constant": np.ones(steps),
        "cosine": schedule_factors(steps, 10),
        "cosine, no warmup": schedule_factors(steps, 0),
        "warmup 50 + cosine": schedule_factors(steps, min(50, steps // 4)),
        "WSD (last 20% linear)": np.r_[np.ones(wsd_start),
                                       np.linspace(1, 0, steps - wsd_start + 1)[1:]],
        "linear decay": 1 - frac,
        "step x0.1 at 70%": np.where(np.arange(steps) < step_at, 1.0, 0.1),
        "zero after 70%": np.where(np.arange(steps) < zero_at, 1.0, 0.0),
        "cosine, peak x4": 4 * schedule_factors(steps, 10),
    }


@dataclass
class AnnealingStudy:
    """The annealing law fitted on two runs and scored on the others.

    Attributes
    ----------
    steps, batch_size : int
    peak_lr : float
    seeds : tuple of int
    floor : float
    factors : dict of str to ndarray
        Each schedule's factor per step (:func:`schedules`).
    measured : dict of str to ndarray, shape (steps,)
        The seed-mean test loss after each step.
    sem : dict of str to ndarray, shape (steps,)
        Its standard error over seeds.
    fit : AnnealingFit
    predicted : dict of str to ndarray
        The law's loss after each step of every schedule.
    exact, exact_fit, exact_predicted
        The same for plain SGD on the diagonal NQM (:data:`NQM`): its exact expected loss
        under each schedule (:meth:`nqm.DiagonalNQM.schedule_curve`), no seed noise.

    See Also
    --------
    annealing_study : Measures it.
    plot_annealing : Draws it.
    """

    steps: int
    batch_size: int
    peak_lr: float
    seeds: tuple
    floor: float
    factors: dict
    measured: dict
    sem: dict
    fit: AnnealingFit
    predicted: dict
    exact: dict
    exact_fit: AnnealingFit
    exact_predicted: dict


def _fit_and_predict(curves: dict, factors: dict, peak_lr: float) -> tuple[AnnealingFit, dict]:
    fit = fit_annealing_law([peak_lr * factors[n] for n in FITTED], [curves[n] for n in FITTED],
                            start=START, decay=ANNEALING_DECAY)
    return fit, {name: fit.predict(peak_lr * factor) for name, factor in factors.items()}


@checked(seeds=SEEDS, steps=whole(50, 10**6), batch_size=whole(1, 10**6),
         peak_lr=real(1e-6, 10.0))
def annealing_study(seeds=tuple(range(8)), steps: int = 500, batch_size: int = BATCH_SIZE,
                    peak_lr: float = PEAK_LR) -> AnnealingStudy:
    """Train the teacher MLP with Adam (betas 0.9, 0.999, L2 0.001) under every schedule of
    :func:`schedules`, fit the law on :data:`FITTED` and predict every schedule.

    See Also
    --------
    compare.fit_annealing_law : The fit.
    plot_annealing : Draws it.
    """
    seeds = tuple(int(s) for s in seeds)
    problem = teacher_mlp_problem(0)
    factors = schedules(steps)
    measured, sem = {}, {}
    for name, factor in factors.items():
        test = train_mlp_batched(problem, [peak_lr], batch_size, steps, run_seeds=seeds,
                                 optimizer="adam", betas=BETAS, schedule=factor)[1][:, 0]
        measured[name] = test.mean(axis=0)
        sem[name] = test.std(axis=0, ddof=1) / np.sqrt(len(seeds)) if len(seeds) > 1 \
            else np.full(steps, np.nan)
    fit, predicted = _fit_and_predict(measured, factors, peak_lr)
    model = nqm.DiagonalNQM.zhang2019(dim=NQM["dim"])
    exact = {name: model.schedule_curve(NQM["peak_lr"] * factor, NQM["batch_size"])
             for name, factor in factors.items()}
    exact_fit, exact_predicted = _fit_and_predict(exact, factors, NQM["peak_lr"])
    return AnnealingStudy(steps=steps, batch_size=batch_size, peak_lr=peak_lr, seeds=seeds,
                          floor=problem.noise_std**2, factors=factors, measured=measured, sem=sem,
                          fit=fit, predicted=predicted, exact=exact, exact_fit=exact_fit,
                          exact_predicted=exact_predicted)


def _errors(measured: np.ndarray, predicted: np.ndarray, floor: float, sem=None) -> dict:
    """The law's error on one schedule, from :data:`START` of the steps on."""
    keep = slice(int(START * measured.size), None)
    gap = predicted[keep] - measured[keep]
    finite = np.isfinite(gap)
    out = dict(mean_abs_error=float(np.mean(np.abs(gap[finite]))) if finite.any() else None,
               final_error=float(gap[-1]),
               mean_excess=float(np.mean(measured[keep][finite] - floor)) if finite.any() else None,
               final_measured=float(measured[-1]), final_predicted=float(predicted[-1]))
    if sem is not None:
        out["mean_sem"] = float(np.nanmean(sem[keep]))
    return out


def _fit_data(fit: AnnealingFit) -> dict:
    return dict(L0=fit.L0, A=fit.A, alpha=fit.alpha, C=fit.C, rms=fit.rms,
                alpha_at_bound=fit.alpha_at_bound)


def run(context: Context) -> Summary:
    study = annealing_study(seeds=range(3 if context.quick else 8), steps=250 if context.quick else 500)
    fit = study.fit
    data = dict(steps=study.steps, batch_size=study.batch_size, peak_lr=study.peak_lr,
                betas=list(BETAS), seeds=list(study.seeds), floor=study.floor,
                decay=fit.decay, start=START, fit=_fit_data(fit),
                fitted=list(FITTED), predicted=list(PREDICTED), failures=list(FAILURES),
                errors={name: _errors(study.measured[name], study.predicted[name], study.floor,
                                      study.sem[name]) for name in study.factors},
                nqm=dict(**NQM, fit=_fit_data(study.exact_fit),
                         errors={name: _errors(study.exact[name], study.exact_predicted[name], 0.0)
                                 for name in study.factors}))
    return Summary(data, detail=study)


@checked(study=kind(AnnealingStudy))
def plot_annealing(study: AnnealingStudy) -> Figure:
    """Measured curves (points: seed mean) and the law (lines) per schedule: the two fitted,
    the predicted ones, and the two failure cases; the schedules themselves below.

    See Also
    --------
    annealing_study : The numbers.
    """
    fig = Figure(figsize=(13.0, 9.6), layout="constrained")
    axes = fig.subplots(3, 3, height_ratios=(2.2, 1.2, 1.0), sharex=True)
    steps = np.arange(1, study.steps + 1)
    every = max(1, study.steps // 60)
    keep = slice(int(START * study.steps), None)
    groups = (("fitted on", FITTED), ("predicted", PREDICTED), ("known failures", FAILURES))
    for column, (what, names) in enumerate(groups):
        ax, error, below = axes[:, column]
        for i, name in enumerate(names):
            color = PALETTE[i % len(PALETTE)]
            ax.plot(steps[::every], study.measured[name][::every], "o", ms=2.5, color=color,
                    label=f"{name} (measured)")
            ax.plot(steps, study.predicted[name], "-", color=color, lw=1.2)
            error.plot(steps[keep], (study.predicted[name] - study.measured[name])[keep], color=color,
                       lw=0.9)
            below.plot(steps, study.peak_lr * study.factors[name], color=color)
        band = np.nanmean([study.sem[n] for n in names], axis=0)
        error.fill_between(steps[keep], -2 * band[keep], 2 * band[keep], color="grey", alpha=0.2,
                           lw=0)
        error.axhline(0, color="black", lw=0.6)
        ax.axhline(study.floor, color="grey", ls=":", lw=0.8)
        ax.axvline(START * study.steps, color="grey", lw=0.6)
        values = np.concatenate([study.measured[n][keep] for n in names])
        values = values[np.isfinite(values)]
        ax.set_ylim(min(values.min(), study.floor) - 0.05, np.percentile(values, 99) + 0.2)
        label_axes(ax, "", "test loss" if column == 0 else "", what, legend_size=7)
        for panel, ylabel in ((error, "law - measured"), (below, "learning rate")):
            panel.set_ylabel(ylabel if column == 0 else "")
            panel.grid(True, alpha=0.25)
        error.set_ylim(-0.15, 0.15)
        below.set_xlabel("step")
    fig.suptitle(f"Points: the measured test loss (mean of {len(study.seeds)} seeds); lines: the "
                 f"annealing law fitted on {' and '.join(FITTED)}\nmiddle: the law's error per step "
                 "(grey: 2 seed standard errors of the measured mean); bottom: the schedules",
                 fontsize=10)
    return fig


def figures(summary: Summary) -> dict[str, Figure]:
    return {"adam_annealing": plot_annealing(summary.detail)}


def sentences(data: dict) -> list[str]:
    """The fit, the prediction's error per schedule beside the seed noise, and the two known
    failures; computed from ``results.json``'s ``adam_annealing``."""
    fit, errors = data["fit"], data["errors"]
    start = int(data["start"] * data["steps"])
    lines = [
        f"Adam (betas {data['betas'][0]:g}, {data['betas'][1]:g}, L2 0.001) on the teacher MLP at "
        f"B = {data['batch_size']}, peak rate {fmt(data['peak_lr'])}, {data['steps']} steps, "
        f"{len(data['seeds'])} seeds per schedule; the law fitted on the {' and '.join(data['fitted'])} "
        f"runs' seed-mean test loss from step {start} on (lambda = {data['decay']:g}): "
        f"L0 = {fmt(fit['L0'])}, A = {fmt(fit['A'])}, alpha = {fmt(fit['alpha'])}"
        f"{' (at its search bound)' if fit['alpha_at_bound'] else ''}, C = {fmt(fit['C'])}, "
        f"residual {fmt(fit['rms'])} (root mean square)."]
    for label, names in (("Predicted", data["predicted"]), ("Fitted", data["fitted"])):
        parts = []
        for name in names:
            e = errors[name]
            parts.append(f"{name}: mean error {fmt(e['mean_abs_error'])} "
                         f"({e['mean_abs_error'] / e['mean_excess']:.0%} of the excess loss; seed "
                         f"standard error {fmt(e['mean_sem'])}), final {fmt(e['final_predicted'])} "
                         f"against {fmt(e['final_measured'])}")
        lines.append(f"{label} schedules (law against measured, steps {start}-{data['steps']}): "
                     + "; ".join(parts) + ".")
    exact = data["nqm"]
    ratios = [exact["errors"][n]["mean_abs_error"] / exact["errors"][n]["mean_excess"]
              for n in data["predicted"]]
    lines.append(f"Without noise, on SGD's exact expected loss on the diagonal NQM (Zhang et al.'s "
                 f"curvatures 1/i, d = {exact['dim']}, B = {exact['batch_size']}, peak rate "
                 f"{fmt(exact['peak_lr'])}), the same fit (alpha = {fmt(exact['fit']['alpha'])}, "
                 f"residual {fmt(exact['fit']['rms'])}) predicts the other schedules with a mean "
                 f"error of {min(ratios):.1%}-{max(ratios):.1%} of the loss.")
    zero, scaled = (errors[name] for name in data["failures"])
    exact_zero, exact_scaled = (exact["errors"][name] for name in data["failures"])
    cosine, exact_cosine = errors["cosine"], exact["errors"]["cosine"]
    lines.append(f"A zero-rate tail ({data['failures'][0]}) freezes the model, but the law's "
                 f"annealing area keeps growing: it ends at {fmt(zero['final_predicted'])} against "
                 f"the measured {fmt(zero['final_measured'])} (Adam), at "
                 f"{fmt(exact_zero['final_predicted'])} against the exact "
                 f"{fmt(exact_zero['final_measured'])} (NQM).")
    parts = []
    for what, e, base in (("Adam", scaled, cosine), ("NQM", exact_scaled, exact_cosine)):
        change = "lower" if e["final_measured"] < base["final_measured"] else "higher"
        parts.append(f"{what}: the law predicts {fmt(e['final_predicted'])} against "
                     f"{fmt(base['final_predicted'])} at the fitted peak; measured "
                     f"{fmt(e['final_measured'])} against {fmt(base['final_measured'])}, {change}")
    lines.append(f"Scaling the cosine schedule by 4 ({data['failures'][1]}), "
                 + "; ".join(parts) + ".")
    return lines


def html(results: dict, figure: Callable[[str, str], str]) -> str:
    return "".join([f"<h2 id='{NAME}'>{TITLE}</h2>",
                    figure("adam_annealing", "Test loss under each schedule, measured (points) "
                                             "and the annealing law (lines); the schedules below."),
                    answer_list(sentences(results[KEY]))])
