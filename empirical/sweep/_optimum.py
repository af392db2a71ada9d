"""The optimal learning rate of one batch size, with its basin and its uncertainty over seeds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from empirical._core.arguments import MAX_RESAMPLES, NONNEGATIVE, SEED, checked, numbers, real, whole


@dataclass(frozen=True)
class Optimum:
    """What a sweep says about the best learning rate at one batch size.

    Attributes
    ----------
    batch_size : int
    lr : float
        Grid argmin of the seed-mean metric (diverged runs count as ``inf``).
    subgrid_lr : float
        Vertex of a quadratic fit of the metric against ``log lr`` over the argmin and up to
        two finite neighbours on each side (the argmin itself where the fit is not convex).
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
        95% bootstrap interval of the sub-grid optimum over seeds (resampling seeds);
        ``(subgrid_lr, subgrid_lr)`` with one seed.
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
    on_edge: bool


def _finite(metric: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(metric), metric, np.inf)


@checked(lrs=numbers(1, low=0.0, open_low=True, increasing=True),
         metric=numbers(1, finite=False, nan=True))
def subgrid_argmin(lrs: np.ndarray, metric: np.ndarray) -> float:
    """Vertex of a quadratic in ``log lr`` fitted around the argmin of ``metric`` (1-d).

    See Also
    --------
    find_optimum : Uses it per batch size and seed.
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
    with at least one on each side, the least-squares parabola through those 3-5 points in
    ``x = log lr`` (centred at the argmin, the values scaled by their range there, which moves
    no vertex), and its vertex clipped to the points' span; the argmin's rate where there are
    too few points or the parabola is not convex.
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
    out = lrs[best].astype(float)
    if not fitted.any():
        return out
    rows, best, lo, hi = rows[fitted], best[fitted], lo[fitted], hi[fitted]
    index = best[:, None] + np.arange(-2, 3)                          # (k, 5) around the argmin
    used = (index >= lo[:, None]) & (index <= hi[:, None])
    index = np.clip(index, 0, n - 1)
    log_lrs = np.log(lrs)
    x = np.where(used, log_lrs[index] - log_lrs[best][:, None], 0.0)
    y = np.where(used, values[rows[:, None], index] - values[rows, best][:, None], 0.0)
    span = np.abs(y).max(axis=1, keepdims=True)
    y = y / np.where(span > 0, span, 1.0)
    powers = np.where(used[..., None], x[..., None] ** np.arange(3), 0.0)   # (k, 5, 3): 1, x, x^2
    gram = np.einsum("kpi,kpj->kij", powers, powers)
    moment = np.einsum("kpi,kp->ki", powers, y)
    _, b, a = np.linalg.solve(gram, moment[..., None])[..., 0].T
    k = np.arange(len(rows))
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex = np.clip(-b / (2 * a), x[k, lo - best + 2], x[k, hi - best + 2])
    convex = (a > 0) & np.isfinite(vertex)
    out[rows[convex]] = np.exp(log_lrs[best[convex]] + vertex[convex])
    return out


@checked(batch_size=whole(1), lrs=numbers(1, low=0.0, open_low=True, increasing=True),
         metric=numbers(None, low=0.0, finite=False, nan=True), floor=real(), tolerance=NONNEGATIVE,
         robust_tolerance=NONNEGATIVE, n_boot=whole(1, MAX_RESAMPLES), seed=SEED)
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
        Bootstrap resamples of the seeds.
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
    subgrid = subgrid_argmin(lrs, mean)

    excess = mean - floor
    within = excess <= excess[best] * (1 + tolerance) + 1e-300
    lo = hi = best
    while lo > 0 and within[lo - 1]:
        lo -= 1
    while hi < lrs.size - 1 and within[hi + 1]:
        hi += 1
    robust = mean <= mean[best] * (1 + robust_tolerance)

    seed_lrs = subgrid_argmin_rows(lrs, _finite(metric).T)
    if metric.shape[1] > 1:
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, metric.shape[1], (n_boot, metric.shape[1]))
        boot = np.log(subgrid_argmin_rows(lrs, _finite(metric)[:, picks].mean(axis=2).T))
        interval = tuple(float(v) for v in np.exp(np.percentile(boot, [2.5, 97.5])))
    else:
        interval = (subgrid, subgrid)
    return Optimum(batch_size=int(batch_size), lr=float(lrs[best]), subgrid_lr=subgrid,
                   best_loss=float(mean[best]), basin=(float(lrs[lo]), float(lrs[hi])),
                   robust_lr=float(np.exp(np.log(lrs[robust]).mean())), seed_lrs=seed_lrs,
                   interval=interval, on_edge=best in (0, lrs.size - 1))


@checked(lrs=numbers(1, low=0.0, open_low=True, increasing=True),
         curves=numbers(None, finite=False, nan=True), target=real())
def steps_to_target_optimum(lrs, curves, target: float) -> tuple[float, float]:
    """The rate that first brings the seed-mean test loss to ``target`` in the fewest steps.

    Parameters
    ----------
    lrs : array_like of float, shape (n_lr,)
    curves : array_like of float, shape (n_seed, n_lr, steps)
        Test loss after each step.
    target : float

    Returns
    -------
    lr, steps : float
        ``steps`` counts updates (1 = after the first step). Where several rates tie, ``lr`` is
        their geometric mean. ``(nan, inf)`` if no rate reaches the target.

    See Also
    --------
    find_optimum : The fixed-horizon criterion.
    """
    rates, curves = np.asarray(lrs, dtype=float), np.asarray(curves, dtype=float)
    if curves.ndim != 3 or rates.shape != curves.shape[1:2]:
        raise ValueError(f"curves must have shape (n_seed, n_lr, steps) with n_lr = len(lrs) = "
                         f"{rates.size}, got shape {curves.shape}")
    lr, steps = steps_to_target_rows(rates, _finite(curves).mean(axis=0)[None], target)
    return float(lr[0]), float(steps[0])


def steps_to_target_rows(lrs: np.ndarray, mean_curves: np.ndarray,
                         target: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`steps_to_target_optimum` of every row of seed-mean curves ``(m, n_lr, steps)``
    at once (``inf`` marks a diverged step; not checked): the rates ``(m,)`` and steps ``(m,)``."""
    reached = mean_curves <= target
    never = np.iinfo(np.int64).max
    first = np.where(reached.any(axis=2), reached.argmax(axis=2) + 1, never)   # (m, n_lr)
    fewest = first.min(axis=1)
    ties = first == fewest[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        lr = np.exp((ties * np.log(lrs)).sum(axis=1) / ties.sum(axis=1))
    missed = fewest == never
    return np.where(missed, np.nan, lr), np.where(missed, np.inf, fewest.astype(float))
