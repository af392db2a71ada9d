"""The gradient noise scale predicted before a sweep, checked against the sweep: the measured
critical batch size per target loss, the noise scale at the same loss, and McCandlish et al.'s
learning rate against the measured optima."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import nqm
from compare.analysis._optima import Study, bootstrap_optima, percentile_interval, target_estimator
from compare.fit._critical import fit_critical_batch
from compare.fit._rules import surge_rule
from empirical import (
    NoiseTrace,
    noise_along_run,
    sign_descent_statistics,
    steps_to_target_optimum,
    trained_parameters,
)
from empirical._core.arguments import (
    MAX_ITERATIONS,
    MAX_RESAMPLES,
    MAX_STEPS,
    SEED,
    checked,
    kind,
    numbers,
    optional,
    whole,
)

TARGET_FACTORS = (1.1, 1.5, 2.5, 5.0)
"""Target test losses: the noise floor plus these multiples of the tightest excess loss every
batch size reaches (its best seed-mean excess over all rates and steps)."""

RUN_BATCH_SIZE = 64
"""The noise-scale run uses the study's batch size nearest to this (in log scale)."""

Z95 = 1.959963984540054


@dataclass
class NoiseScaleStudy:
    """One study's critical batch sizes, its noise scale and the learning rate they predict.

    Attributes
    ----------
    model, label : str
    optimizer : {"sgd", "adam"}
    batch_sizes : ndarray, shape (n_b,)
    floor : float
        The test metric's noise floor.
    targets : ndarray, shape (n_t,)
        Target test losses, loosest last.
    steps, steps_interval : ndarray, shapes (n_t, n_b) and (n_t, n_b, 2)
        The fewest steps to each target over the grid's rates (seed-mean curves) and their 95%
        percentile intervals over bootstrap resamples of the seeds.
    fits : list of CriticalBatchFit or None, length n_t
        :func:`fit_critical_batch` per target (``None`` where a batch size never reaches it).
    trace : NoiseTrace
        The noise-scale run.
    noise_at_target : ndarray, shape (n_t, 3)
        :math:`B_{\\rm simple}` of the run where its test loss first reaches each target
        (interpolated in log-log between checkpoints) and a 95% interval from the
        checkpoints' standard errors; ``nan`` where the run never reaches it.
    prediction_kind : {"absolute", "surge"}
        ``"absolute"``: :func:`nqm.mccandlish_lr` with the run's :math:`\\eta_\\max` and
        :math:`B_{\\rm simple}` at its last checkpoint, both the ratios of bias-corrected moving
        averages (SGD). ``"surge"``: for Adam, Li et al.'s surge :func:`surge_rule` with the
        :math:`\\epsilon_\\max` and :math:`B_{\\rm noise}` of :func:`nqm.surge_parameters` at
        the end of the run (:func:`empirical.sign_descent_statistics`); ``predicted_band`` spans
        the surges at its start and end.
    predicted : ndarray, shape (n_b,)
    predicted_band : ndarray, shape (n_b, 2)
        The prediction's range over the run's checkpoints after the first.
    inside : ndarray of bool, shape (n_b,)
        The prediction lies inside the measured fixed-horizon optimum's 95% interval.
    optimum_lr, optimum_interval : ndarray, shapes (n_b,) and (n_b, 2)
        The measured fixed-horizon optima and their 95% intervals.
    exact_noise_at_target : ndarray, shape (n_t,), or None
        Least squares only: the exact :math:`B_{\\rm noise} = D + 1 + \\sigma^2 D^2 / e` at the
        error :math:`e = D(L - \\sigma^2)` whose expected test loss is the target
        (:meth:`nqm.LeastSquaresSGD.noise_scale`).
    notes : list of str
    surge_b_crit : float or None
        Adam: the critical batch size at the tightest fitted target, Li et al.'s estimate of
        :math:`B_{\\rm noise}` (their eq. 22, :math:`1/S = 1/S_{\\min} - B_{\\rm noise}/E`).
    surge_from_b_crit : ndarray, shape (n_b,), or None
        Adam: the surge's shape with its peak there, scaled to the measured optimum of the
        smallest batch size (not counted: :attr:`b_crit_counted`).
    sign_descent : dict
        Adam: per point of the run (``"start"``, ``"end"``) ``b_noise`` and ``lr_max`` of
        :func:`nqm.surge_parameters` and ``exact_lr``, :func:`nqm.sign_descent_lr` per batch
        size.
    censored : ndarray of bool, shape (n_t, n_b), or None
        The count is censored at one update (the target reached within the first): left out
        of that target's fit.

    See Also
    --------
    noise_scale_study : Builds it.
    noise_scale_conclusions : Its sentences.
    """

    model: str
    label: str
    optimizer: str
    batch_sizes: np.ndarray
    floor: float
    targets: np.ndarray
    steps: np.ndarray
    steps_interval: np.ndarray
    fits: list
    trace: NoiseTrace
    noise_at_target: np.ndarray
    prediction_kind: str
    predicted: np.ndarray
    predicted_band: np.ndarray
    inside: np.ndarray
    optimum_lr: np.ndarray
    optimum_interval: np.ndarray
    exact_noise_at_target: np.ndarray | None = None
    notes: list = field(default_factory=list)
    surge_b_crit: float | None = None
    surge_from_b_crit: np.ndarray | None = None
    sign_descent: dict = field(default_factory=dict)
    censored: np.ndarray | None = None

    @property
    def surge_from_b_crit_inside(self) -> np.ndarray | None:
        """Whether the surge from the measured B_crit lies inside each optimum's interval."""
        if self.surge_from_b_crit is None:
            return None
        iv = self.optimum_interval
        return (iv[:, 0] <= self.surge_from_b_crit) & (self.surge_from_b_crit <= iv[:, 1])

    @property
    def b_crit_counted(self) -> np.ndarray:
        """The batch sizes the B_crit surge counts: all but its anchor, the smallest."""
        keep = np.ones(self.batch_sizes.size, dtype=bool)
        keep[0] = False
        return keep

    @property
    def counted(self) -> np.ndarray:
        """The batch sizes the verdict counts: all (both predictions are absolute)."""
        return np.ones(self.batch_sizes.size, dtype=bool)


def _targets(study: Study, factors) -> tuple[np.ndarray, float]:
    floor = study.result.spec.noise_floor()
    best = []
    for cell in study.result.cells:
        curves = np.where(np.isfinite(cell.test_loss), cell.test_loss, np.inf).mean(axis=0)
        best.append(np.min(curves))
    return floor + (max(best) - floor) * np.asarray(factors, dtype=float), floor


def _at_loss(trace: NoiseTrace, target: float, floor: float) -> np.ndarray:
    """``B_simple`` where the run's test loss first reaches ``target``: (value, low, high)."""
    reached = np.flatnonzero(trace.test_loss <= target)
    if not reached.size:
        return np.full(3, np.nan)
    j = int(reached[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.sqrt((trace.trace_cov_se / trace.trace_cov) ** 2
                      + (trace.gradient_sq_se / trace.gradient_sq) ** 2)
        log_b = np.log(np.where(trace.b_simple > 0, trace.b_simple, np.nan))
    if j == 0:
        value, spread = log_b[0], rel[0]
    else:
        x = np.log(np.maximum(trace.test_loss[[j - 1, j]] - floor, 1e-300))
        weight = 0.0 if x[0] == x[1] else (np.log(max(target - floor, 1e-300)) - x[0]) / (
            x[1] - x[0])
        value = (1 - weight) * log_b[j - 1] + weight * log_b[j]
        spread = (1 - weight) * rel[j - 1] + weight * rel[j]
    return np.exp([value, value - Z95 * spread, value + Z95 * spread])


@checked(study=kind(Study), n_boot=whole(2, MAX_RESAMPLES), seed=SEED,
         factors=numbers(1, low=1.0, open_low=True, increasing=True, min_size=2), method=kind(str),
         n_batches=whole(1, MAX_ITERATIONS), every=optional(whole(1, MAX_STEPS)))
def noise_scale_study(study: Study, *, n_boot: int = 200, seed: int = 0,
                      factors=TARGET_FACTORS, method: str = "per-example",
                      n_batches: int = 10, every: int | None = None) -> NoiseScaleStudy:
    """The critical batch size measured per target, the noise scale beside it, the prediction.

    From the study's sweep: for each target test loss (:data:`TARGET_FACTORS`), the fewest
    steps at each batch size over the grid's rates (seed-mean curves, bootstrap intervals over
    seeds) and McCandlish et al.'s hyperbola fitted to them (:func:`fit_critical_batch`); the
    exponent of :math:`B_{\\rm crit}` against the excess loss. One extra run, at the study's
    batch size nearest :data:`RUN_BATCH_SIZE` and its measured fixed-horizon optimum rate for
    the sweep's steps, measures the noise scale and :math:`\\eta_\\max` along the way
    (:func:`empirical.noise_along_run`, ``method``, ``n_batches`` draws per checkpoint); its
    :math:`B_{\\rm simple}` at each target loss goes beside the measured
    :math:`B_{\\rm crit}`, and :func:`nqm.mccandlish_lr` with the bias-corrected moving
    averages at its last checkpoint is the predicted optimum against the measured ones.

    See Also
    --------
    analyze : The study it extends.
    noise_scale_conclusions : Its sentences.
    nqm.mccandlish_lr : The predicted rate.
    """
    result, spec = study.result, study.result.spec
    b = study.batch_sizes.astype(float)
    targets, floor = _targets(study, factors)
    notes: list[str] = []
    steps, steps_iv, fits, censored = [], [], [], []
    for target in targets:
        found = [steps_to_target_optimum(c.lrs, c.test_loss, target) for c in result.cells]
        reached = [f[1] for f in found]
        counted = ~np.array([f[2] for f in found])        # censored at one update: left out
        censored.append(~counted)
        boot = bootstrap_optima(result, target_estimator(target), n_boot=n_boot, seed=seed)
        boot_steps = boot[..., 1] if len(boot) else np.empty((0, b.size))
        steps.append(reached)
        steps_iv.append(percentile_interval(boot_steps) if len(boot_steps) else
                        np.column_stack([reached, reached]))
        fit = None
        if not np.all(np.isfinite(reached)):
            notes.append(f"target {target:.4g} not reached at every batch size: no fit")
        elif counted.sum() < 3:
            notes.append(f"target {target:.4g} reached within the first update at "
                         f"{int((~counted).sum())} batch sizes: no fit")
        else:
            if not counted.all():
                notes.append(f"target {target:.4g}: counts censored at one update at B = "
                             + ", ".join(f"{x:g}" for x in b[~counted]) + ", left out of the fit")
            fit = fit_critical_batch(b[counted], np.asarray(reached)[counted],
                                     boot_steps[:, counted], n_seeds=len(spec.seeds))
        fits.append(fit)

    k = int(np.argmin(np.abs(np.log(b) - np.log(RUN_BATCH_SIZE))))
    workload = spec.workload()
    trace = noise_along_run(workload, study.optima[k].lr, int(b[k]), spec.steps, every=every,
                            method=method, n_batches=n_batches, run_seed=spec.seeds[0],
                            seed=seed, device=spec.device)
    at_target = np.array([_at_loss(trace, t, floor) for t in targets])
    optimizer = "sgd" if workload.optimizer.kind == "sgd" else "adam"
    opt_lr = np.array([o.subgrid_lr for o in study.optima])
    opt_iv = np.array([o.interval for o in study.optima])
    kind = "absolute" if optimizer == "sgd" else "surge"
    surge_b_crit, surge_from_b_crit, sign = None, None, {}
    if kind == "absolute":
        curve = _prediction(trace.lr_max, trace.b_simple, b)
        final = _prediction(trace.lr_max_ema[-1:], trace.b_simple_ema[-1:], b)
    else:
        # Li et al.'s surge from sign descent's statistics at the start and the end of the run
        decay = workload.optimizer.weight_decay if workload.optimizer.kind == "adam" else 0.0
        points = {"start": workload.parameters(spec.seeds[0]),
                  "end": trained_parameters(spec, study.optima[k].lr, int(b[k]), spec.seeds[0])}
        for where, params in points.items():
            stats = sign_descent_statistics(workload.loss, params, workload.train,
                                            weight_decay=decay)
            parameters = nqm.surge_parameters(gradient=stats.gradient, noise_var=stats.noise_var,
                                              hessian=stats.hessian)
            sign[where] = dict(b_noise=parameters.b_noise, lr_max=parameters.lr_max,
                               exact_lr=nqm.sign_descent_lr(b, gradient=stats.gradient,
                                                            noise_var=stats.noise_var,
                                                            hessian=stats.hessian))
        curve = np.array([_surge(sign[w], b) for w in points])
        final = curve[-1:]
        # Li et al.'s own estimate of B_noise from steps and examples to a loss (their
        # eq. 22): the surge's shape with its peak there, scaled to the smallest batch size
        tightest = next((f for f in fits if f is not None), None)
        if tightest is not None:
            surge_b_crit = tightest.b_crit
            surge_from_b_crit = _surge_shape(np.array([surge_b_crit]), b)[0] * opt_lr[0]
    final = final[0]
    with np.errstate(all="ignore"):
        along = curve if kind == "surge" else curve[1:]
        band = (np.column_stack([np.nanmin(along, axis=0), np.nanmax(along, axis=0)])
                if np.isfinite(along).any() else np.full((b.size, 2), np.nan))
    inside = (opt_iv[:, 0] <= final) & (final <= opt_iv[:, 1])
    if not np.all(np.isfinite(final)):
        notes.append("the last checkpoint's noise or curvature estimate is not positive: "
                     "no prediction")
    negative = int(np.sum(trace.lr_max <= 0))
    if negative:
        notes.append(f"G^T H G <= 0 (negative curvature along the gradient) at {negative} of "
                     f"{trace.steps.size} checkpoints: no lr_max there")
    exact = None
    if spec.model == "linear-sgd":
        problem = spec.problem()
        theory = nqm.LeastSquaresSGD(dim=problem.dim, noise_std=problem.noise_std,
                                     init_error=2.0 * problem.dim**2)
        exact = theory.noise_scale(problem.dim * (targets - floor)).b_noise
    return NoiseScaleStudy(spec.model, study.label, optimizer, b, floor, targets,
                           np.array(steps), np.array(steps_iv), fits, trace,
                           at_target, kind, final, band, inside, opt_lr, opt_iv, exact, notes,
                           surge_b_crit=surge_b_crit, surge_from_b_crit=surge_from_b_crit,
                           sign_descent=sign, censored=np.array(censored))


def _surge(point: dict, b: np.ndarray) -> np.ndarray:
    """The surge of one point's sign statistics (``nan`` without a peak)."""
    if not np.isfinite(point["lr_max"]):
        return np.full(b.size, np.nan)
    return surge_rule(b, point["lr_max"], point["b_noise"])


def _surge_shape(b_noise: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Li et al.'s surge for each B_noise (rows) at each batch size (columns), 1 at ``b[0]``;
    ``nan`` where B_noise is not positive."""
    rows = [surge_rule(b, 1.0, noise) if noise > 0 and np.isfinite(noise) else np.full(b.size, np.nan)
            for noise in b_noise]
    return np.array([row / row[0] for row in rows])


def _prediction(lr_max: np.ndarray, b_noise: np.ndarray, b: np.ndarray) -> np.ndarray:
    """McCandlish's rate for each (lr_max, B_noise) pair (rows) and batch size (columns);
    ``nan`` where either is not positive."""
    usable = (b_noise > 0) & np.isfinite(b_noise) & (lr_max > 0)
    return np.array([nqm.mccandlish_lr(b, lr_max=lr, b_noise=noise) if ok else np.full(b.size, np.nan)
                     for lr, noise, ok in zip(lr_max, b_noise, usable, strict=True)])
