"""The optimal learning rate of one batch size, with its basin and its uncertainty over seeds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from empirical._core.arguments import MAX_RESAMPLES, NONNEGATIVE, SEED, checked, numbers, real, whole
from empirical._core.intervals import bootstrap_interval


@dataclass(frozen=True)
class Optimum:
    """What a sweep says about the best learning rate at one batch size.

    Attributes
    ----------
    batch_size : int
    lr : float
        Grid argmin of the seed-mean metric (diverged runs count as ``inf``).
    subgrid_lr : float
        Minimum of the local model of the seed-mean metric against ``log lr``
        (:func:`subgrid_argmin`: a cubic through the argmin and up to two finite neighbours
        on each side; the argmin itself where no model has a minimum there).
    best_loss : float
        The seed-mean metric at ``lr``.
    basin : tuple of float
        ``(lo, hi)``: the contiguous range of grid rates around ``lr`` whose excess loss above
        ``floor`` is within ``tolerance`` of the best excess.
    robust_lr : float
        The homework's estimate: geometric mean of the rates whose *total* loss is within
        ``robust_tolerance`` of the best. Once irreducible noise dominates the loss this band
        spans decades and tracks the stability limit, not the optimum; reported for
        comparison only.
    seed_lrs : ndarray, shape (n_seed,)
        Sub-grid optimum of each seed separately.
    interval : tuple of float
        95% interval of ``subgrid_lr`` for the seeds and the estimator: in ``log lr``, the
        Student bootstrap half-width over resamples of the seeds
        (:func:`empirical._core.intervals.bootstrap_interval`) plus ``estimator_error``;
        ``estimator_error`` alone with one seed.
    estimator_error : float
        ``|log(cubic / quadratic)|``, the gap between the cubic's minimum and the quadratic's
        vertex on the seed-mean metric: how much the estimate depends on its local model. The
        quadratic's bias is the larger, so this bounds the cubic's on a smooth curve.
    on_edge : bool
        The argmin is the smallest or largest rate of the grid.

    See Also
    --------
    find_optimum : Computes it.
    SweepResult.optima : One per batch size.
    """

    batch_size: int
    lr: float
    subgrid_lr: float
    best_loss: float
    basin: tuple
    robust_lr: float
    seed_lrs: np.ndarray
    interval: tuple
    estimator_error: float
    on_edge: bool


def _finite(metric: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(metric), metric, np.inf)


@checked(lrs=numbers(1, low=0.0, open_low=True, increasing=True),
         metric=numbers(1, finite=False, nan=True))
def subgrid_argmin(lrs: np.ndarray, metric: np.ndarray) -> float:
    """The minimum of a local cubic in ``log lr`` around the argmin of ``metric`` (1-d).

    The least-squares cubic through the argmin and up to two finite neighbours on each side
    (the parabola where only three points are finite), its minimum clipped to their span; the
    argmin's rate where no model has a minimum. On a grid a quarter of the 1.25 step apart
    (``SweepSpec.refine = 4``) its bias on the exact least-squares curves is under 0.1%, a
    quadratic's up to 1.1%; on the 1.25 grid itself 1.9% and 16%.

    See Also
    --------
    find_optimum : Uses it per batch size and seed.
    SweepSpec : ``refine`` adds the rates around the optimum it needs.

    Examples
    --------
    A loss quadratic in ``log lr`` with its minimum at 0.05, between two grid rates:

    >>> import numpy as np
    >>> from empirical import subgrid_argmin
    >>> lrs = 0.01 * 1.25 ** np.arange(12)
    >>> loss = 1.0 + (np.log(lrs) - np.log(0.05)) ** 2
    >>> round(float(lrs[np.argmin(loss)]), 4), round(subgrid_argmin(lrs, loss), 4)
    (0.0477, 0.05)
    """
    values = _finite(metric)
    if np.shape(lrs) != values.shape:
        raise ValueError(f"lrs and metric must have the same length, got {np.shape(lrs)} and "
                         f"{values.shape}")
    return float(subgrid_argmin_rows(np.asarray(lrs, dtype=float), values[None])[0])


def subgrid_argmin_rows(lrs: np.ndarray, values: np.ndarray) -> np.ndarray:
    """:func:`subgrid_argmin` of every row of ``values`` (m, n_lr) at once (``inf`` marks a
    diverged rate; the rows are not checked).

    Per row: the argmin, then up to two neighbours on each side as far as they are finite;
    with at least one on each side, the local model through those 3-5 points in ``x = log lr``
    (:func:`_local_minima`); the argmin's rate where there are too few points or no model has
    a minimum.
    """
    return _local_minima(lrs, values)[0]


def _local_minima(lrs: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cubic and the quadratic local model's minimum of every row (m, n_lr): two arrays (m,).

    The points are the argmin and up to two finite neighbours on each side. The cubic is the
    least-squares cubic through 4-5 of them, its local minimum
    :math:`x^* = -c_1 / (c_2 + \\sqrt{c_2^2 - 3 c_1 c_3})` (the root of :math:`f'` where
    :math:`f'' > 0`, written without cancellation); the quadratic is the least-squares
    parabola, its vertex where it is convex. Each is clipped to the points' span; a row whose
    cubic has no minimum (or has 3 points) takes the quadratic's, one whose quadratic is not
    convex the argmin's rate. A quadratic's vertex is biased by the curve's cubic term, which
    is large on a loss that rises steeply toward the stability edge: on the exact least-squares
    curves at a quarter of the 1.25 grid step it errs by up to 1.1%, the cubic by under 0.1%
    (``tests/empirical/test_refine.py``).
    """
    m, n = values.shape
    rows = np.arange(m)
    best = np.argmin(values, axis=1)
    finite = np.isfinite(values)
    lo, hi = best.copy(), best.copy()
    for _ in range(2):
        lo = np.where((lo > 0) & finite[rows, np.maximum(lo - 1, 0)], lo - 1, lo)
        hi = np.where((hi < n - 1) & finite[rows, np.minimum(hi + 1, n - 1)], hi + 1, hi)
    fitted = (lo < best) & (best < hi)
    cubic, quadratic = lrs[best].astype(float), lrs[best].astype(float)
    if not fitted.any():
        return cubic, quadratic
    rows, best, lo, hi = rows[fitted], best[fitted], lo[fitted], hi[fitted]
    index = best[:, None] + np.arange(-2, 3)                          # (k, 5) around the argmin
    used = (index >= lo[:, None]) & (index <= hi[:, None])
    index = np.clip(index, 0, n - 1)
    log_lrs = np.log(lrs)
    x = np.where(used, log_lrs[index] - log_lrs[best][:, None], 0.0)
    scale = np.abs(x).max(axis=1, keepdims=True)                      # x / scale in [-1, 1]
    u = x / scale
    y = np.where(used, values[rows[:, None], index] - values[rows, best][:, None], 0.0)
    span = np.abs(y).max(axis=1, keepdims=True)
    y = y / np.where(span > 0, span, 1.0)
    k = np.arange(len(rows))
    u_lo, u_hi = u[k, lo - best + 2], u[k, hi - best + 2]
    powers = np.where(used[..., None], u[..., None] ** np.arange(4), 0.0)   # 1, u, u^2, u^3

    def solve(order: int, which: np.ndarray) -> np.ndarray:
        basis = powers[which][..., :order + 1]
        gram = np.einsum("kpi,kpj->kij", basis, basis)
        return np.linalg.solve(gram, np.einsum("kpi,kp->ki", basis, y[which])[..., None])[..., 0]

    _, b, a = solve(2, np.ones(len(rows), dtype=bool)).T
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex = np.clip(-b / (2 * a), u_lo, u_hi)
    convex = (a > 0) & np.isfinite(vertex)
    quad_u = np.where(convex, vertex, 0.0)
    cubic_u = quad_u.copy()
    four = used.sum(axis=1) >= 4
    if four.any():
        _, c1, c2, c3 = solve(3, four).T
        with np.errstate(divide="ignore", invalid="ignore"):
            root = np.sqrt(c2**2 - 3 * c1 * c3)
            minimum = np.clip(-c1 / (c2 + root), u_lo[four], u_hi[four])
        has = np.isfinite(minimum) & (c2 + root > 0)
        cubic_u[four] = np.where(has, minimum, quad_u[four])
    at = log_lrs[best]
    cubic[rows] = np.exp(at + cubic_u * scale[:, 0])
    quadratic[rows] = np.exp(at + quad_u * scale[:, 0])
    return cubic, quadratic


@checked(batch_size=whole(1), lrs=numbers(1, low=0.0, open_low=True, increasing=True),
         metric=numbers(None, low=0.0, finite=False, nan=True), floor=real(), tolerance=NONNEGATIVE,
         robust_tolerance=NONNEGATIVE, n_boot=whole(2, MAX_RESAMPLES), seed=SEED)
def find_optimum(batch_size: int, lrs, metric, *, floor: float = 0.0, tolerance: float = 0.05,
                 robust_tolerance: float = 0.05, n_boot: int = 1000, seed: int = 0) -> Optimum:
    """The optimum of one batch size from its metric per (lr, seed).

    Parameters
    ----------
    batch_size : int
    lrs : array_like of float, shape (n_lr,)
        Increasing learning rates.
    metric : array_like of float, shape (n_lr, n_seed)
        E.g. the mean test loss over the last ``window`` steps (a loss, ``>= 0``: the basin's
        tolerance is relative); ``inf``/``nan`` for diverged.
    floor : float, default 0.0
        The irreducible loss (the label-noise variance where known); the basin's tolerance
        applies to ``metric - floor``.
    tolerance : float, default 0.05
        Relative tolerance on the excess loss for the basin.
    robust_tolerance : float, default 0.05
        Relative tolerance on the total loss for the homework's ``robust_lr``.
    n_boot : int, default 1000
        Bootstrap resamples of the seeds, ``>= 2``.
    seed : int, default 0
        Seed of the bootstrap's generator.

    Raises
    ------
    ValueError
        The rates are not increasing, finite and positive, the metric's shape does not match,
        or no run has a finite metric (every run diverged).

    See Also
    --------
    subgrid_argmin : The sub-grid estimate.
    steps_to_target_optimum : The other criterion.
    Optimum : What it returns.

    Examples
    --------
    >>> import numpy as np
    >>> from empirical import find_optimum
    >>> lrs = 0.01 * 2.0 ** np.arange(8)
    >>> metric = (np.log(lrs / 0.1) ** 2 + 1.0)[:, None]
    >>> opt = find_optimum(4, lrs, metric, floor=1.0, tolerance=1.0)
    >>> round(opt.subgrid_lr, 4), opt.on_edge
    (0.1, False)
    """
    lrs = np.asarray(lrs, dtype=float)
    if lrs.ndim != 1 or lrs.size == 0 or not np.all(np.isfinite(lrs) & (lrs > 0)) \
            or np.any(np.diff(lrs) <= 0):
        raise ValueError(f"lrs must be increasing, finite and > 0, got {lrs!r}")
    metric = np.asarray(metric, dtype=float)
    if metric.ndim not in (1, 2) or metric.shape[0] != lrs.size:
        raise ValueError(f"metric must have shape (n_lr, n_seed) with n_lr = len(lrs) = {lrs.size}, got "
                         f"{metric.shape}")
    metric = metric.reshape(lrs.size, -1)
    if not np.isfinite(metric).any():
        raise ValueError(f"every run diverged at batch size {batch_size}: the metric is not "
                         "finite at any learning rate; try smaller rates")
    mean = _finite(metric).mean(axis=1)
    best = int(np.argmin(mean))
    cubic, quadratic = (float(v[0]) for v in _local_minima(lrs, mean[None]))
    estimator_error = abs(float(np.log(cubic / quadratic)))

    excess = mean - floor
    within = excess <= excess[best] * (1 + tolerance) + 1e-300
    lo = hi = best
    while lo > 0 and within[lo - 1]:
        lo -= 1
    while hi < lrs.size - 1 and within[hi + 1]:
        hi += 1
    robust = mean <= mean[best] * (1 + robust_tolerance)

    seed_lrs = subgrid_argmin_rows(lrs, _finite(metric).T)
    n_seed = metric.shape[1]
    if n_seed > 1:
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, n_seed, (n_boot, n_seed))
        boot = np.log(subgrid_argmin_rows(lrs, _finite(metric)[:, picks].mean(axis=2).T))
        low, high = bootstrap_interval(np.log(cubic), boot, n_seed)
    else:
        low = high = np.log(cubic)
    interval = (float(np.exp(low - estimator_error)), float(np.exp(high + estimator_error)))
    return Optimum(batch_size=int(batch_size), lr=float(lrs[best]), subgrid_lr=cubic,
                   best_loss=float(mean[best]), basin=(float(lrs[lo]), float(lrs[hi])),
                   robust_lr=float(np.exp(np.log(lrs[robust]).mean())), seed_lrs=seed_lrs,
                   interval=interval, estimator_error=estimator_error,
                   on_edge=best in (0, lrs.size - 1))


@checked(lrs=numbers(1, low=0.0, open_low=True, increasing=True),
         curves=numbers(None, finite=False, nan=True), target=real())
def steps_to_target_optimum(lrs, curves, target: float) -> tuple[float, float, bool]:
    """The rate that brings the seed-mean test loss to ``target`` for good in the fewest steps.

    A rate reaches the target at the first step from which its seed-mean loss stays at or
    below it to the end of the run (a dip below it that does not last does not count). The
    count is fractional: between that step ``t`` and the one before it, where the loss was
    above the target, the crossing is interpolated linearly,
    :math:`t - 1 + (L_{t-1} - L^*) / (L_{t-1} - L_t)`. A rate that stays below from the first
    update on has a count censored at 1: an update is discrete, and how much less than one
    it took is not measured.

    Parameters
    ----------
    lrs : array_like of float, shape (n_lr,)
    curves : array_like of float, shape (n_seed, n_lr, steps)
        Test loss after each step.
    target : float

    Returns
    -------
    lr, steps : float
        The rate with the fewest steps and that count. The rate is the minimum of the local
        cubic of the (fractional, so continuous in the rate) count against ``log lr`` around
        the fewest, as :func:`subgrid_argmin` reads the fixed horizon's loss; where several
        rates tie (a censored count), their geometric mean. ``(nan, inf)`` if no rate reaches
        the target for good.
    censored : bool
        The fewest count is censored at one update: several rates may reach the target within
        it, and the rate is not determined (a fit of the rule should leave it out).

    References
    ----------
    .. [1] C. J. Shallue et al., "Measuring the Effects of Data Parallelism on Neural Network
       Training", JMLR 20 (2019), arXiv:1811.03600 (steps to a goal, each batch size at its
       best learning rate).
    .. [2] S. McCandlish, J. Kaplan, D. Amodei, "An Empirical Model of Large-Batch Training",
       arXiv:1812.06162 (2018), sec. 2.3 (steps and examples to a target loss).

    See Also
    --------
    find_optimum : The fixed-horizon criterion.

    Examples
    --------
    >>> import numpy as np
    >>> from empirical import steps_to_target_optimum
    >>> curves = np.array([[[5.0, 4.0, 3.0, 2.0], [5.0, 2.5, 1.0, 1.0], [5.0, 2.5, 9.0, 9.0]]])
    >>> steps_to_target_optimum([0.1, 0.2, 0.4], curves, 3.0)
    (0.2, 1.8, False)
    """
    rates, curves = np.asarray(lrs, dtype=float), np.asarray(curves, dtype=float)
    if curves.ndim != 3 or rates.shape != curves.shape[1:2]:
        raise ValueError(f"curves must have shape (n_seed, n_lr, steps) with n_lr = len(lrs) = "
                         f"{rates.size}, got shape {curves.shape}")
    lr, steps, censored = steps_to_target_rows(rates, _finite(curves).mean(axis=0)[None], target)
    return float(lr[0]), float(steps[0]), bool(censored[0])


def steps_to_target_rows(lrs: np.ndarray, mean_curves: np.ndarray,
                         target: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`steps_to_target_optimum` of every row of seed-mean curves ``(m, n_lr, steps)``
    at once (``inf`` marks a diverged step; not checked): the rates, steps and censoring
    flags, each ``(m,)``."""
    below = mean_curves <= target
    stays = np.flip(np.logical_and.accumulate(np.flip(below, axis=-1), axis=-1), axis=-1)
    reached = stays.any(axis=-1)                                        # (m, n_lr)
    first = stays.argmax(axis=-1)                                       # 0-based step index
    at = np.take_along_axis(mean_curves, first[..., None], axis=-1)[..., 0]
    before = np.take_along_axis(mean_curves, np.maximum(first - 1, 0)[..., None], axis=-1)[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        part = np.where(np.isfinite(before) & (before > at), (before - target) / (before - at), 1.0)
    count = np.where(first == 0, 1.0, first + np.clip(part, 0.0, 1.0))
    count = np.where(reached, count, np.inf)
    fewest = count.min(axis=1)
    ties = count == fewest[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        tied = np.exp((ties * np.log(lrs)).sum(axis=1) / ties.sum(axis=1))
    missed = ~np.isfinite(fewest)
    censored = ~missed & np.any(ties & reached & (first == 0), axis=1)
    lr = np.where(censored | (ties.sum(axis=1) > 1), tied, _local_minima(lrs, count)[0])
    return np.where(missed, np.nan, lr), fewest, censored
