r"""The temperature :math:`T = \eta/B` (Sclocchi, Geiger and Wyart 2023; Sclocchi and Wyart
2024): where the test loss depends on the learning rate and the batch size only through their
ratio, measured at equal examples, and the batch size where that stops.

In the SDE limit a run's loss after a given number of examples depends on :math:`\eta` and
:math:`B` only through :math:`T`: the loss curves of two batch sizes :math:`B_1 < B_2`, at the
same examples, coincide once the rates are divided by the batch size. Beyond a crossover
:math:`B^\ast` the rate is capped by curvature and the curves coincide in :math:`\eta` instead.
Between two batch sizes the shift that best aligns the curves, :math:`\eta \to \eta
(B_2/B_1)^k`, measures which: :math:`k = 1` is the temperature regime (linear scaling),
:math:`k = 0` the rate alone, :math:`k = 1/2` the square-root rule.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

import nqm
from compare.analysis._optima import Study
from empirical import SweepResult
from empirical._core.arguments import MAX_RESAMPLES, SEED, checked, kind, sequence_of, whole

SHIFTS = np.linspace(-0.5, 1.5, 201)
"""The exponents :math:`k` searched (0.01 apart)."""

BASIN = 4.0
"""The curves are aligned where their excess loss over the noise floor is within this factor
of their own minimum: the basin around the optimum, not the diverged flank."""

CROSSING = 0.5
"""The crossover :math:`B^\\ast` is where :math:`k` first falls below this, going up in
:math:`B` (interpolated in :math:`\\log B` between the pairs' geometric midpoints)."""

SAME_PROGRESS = 1.1
"""A pair makes the same progress per example when the larger batch's best excess loss is
within this factor of the smaller's (its interval's lower end at or below it)."""

MIN_POINTS = 3
"""Grid rates the two basins must share for a pair to be scored."""


def equal_example_curves(result: SweepResult, seeds_rows: np.ndarray) -> list:
    """Per adjacent pair of batch sizes: (lrs of the smaller, its loss after the sweep's last
    step, lrs of the larger, its loss after the same examples) as seed means over each row of
    seed indices ``seeds_rows`` (m, n_seed): arrays (m, n_lr); the larger batch's step is the
    sweep's steps times B_1/B_2, rounded."""
    cells, steps = result.cells, result.spec.steps
    pairs = []
    for small, large in zip(cells[:-1], cells[1:], strict=True):
        at = max(1, round(steps * small.batch_size / large.batch_size))
        means = []
        for cell, step in ((small, steps), (large, at)):
            loss = cell.test_loss[:, :, step - 1]                        # (n_seed, n_lr)
            loss = np.where(np.isfinite(loss), loss, np.inf)
            means.append(np.stack([loss[row].mean(axis=0) for row in seeds_rows]))
        pairs.append((small.lrs, means[0], large.lrs, means[1], at))
    return pairs


def _tangents(x: np.ndarray, y: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Finite-difference slopes of each row of ``y`` on the grid ``x``: central where both
    neighbours are ``ok``, one-sided where one is, 0 where neither."""
    m = np.zeros_like(y)
    ahead = np.zeros_like(ok)
    ahead[:, :-1] = ok[:, 1:] & ok[:, :-1]
    behind = np.zeros_like(ok)
    behind[:, 1:] = ok[:, :-1] & ok[:, 1:]
    forward = np.zeros_like(y)
    forward[:, :-1] = (y[:, 1:] - y[:, :-1]) / np.diff(x)
    backward = np.zeros_like(y)
    backward[:, 1:] = forward[:, :-1]
    central = np.zeros_like(y)
    central[:, 1:-1] = (y[:, 2:] - y[:, :-2]) / (x[2:] - x[:-2])
    m = np.where(ahead & behind, central, np.where(ahead, forward, np.where(behind, backward, m)))
    return m


def collapse_exponent(lrs_1, loss_1, lrs_2, loss_2, ratio: float, floor: float) -> np.ndarray:
    r"""The :math:`k` that best aligns each row's curve of the larger batch size with the
    smaller's under :math:`\eta \to \eta\,\text{ratio}^k`: least squares in the log excess loss
    over the floor, on the smaller curve's grid rates inside both basins (:data:`BASIN`), the
    larger curve read between its grid rates by cubic Hermite interpolation in
    :math:`\log\eta` with finite-difference slopes (exact for a parabola; linear reading would
    favour the shifts that land on grid rates); ``nan`` where fewer than :data:`MIN_POINTS`
    rates are shared. Rows: (m, n_lr) arrays; returns (m,)."""
    x1, x2 = np.log(lrs_1), np.log(lrs_2)
    with np.errstate(divide="ignore", invalid="ignore"):
        y1 = np.log(np.maximum(np.asarray(loss_1) - floor, 1e-300))
        y2 = np.log(np.maximum(np.asarray(loss_2) - floor, 1e-300))
    ok1 = np.isfinite(loss_1) & (y1 <= np.min(y1, axis=1, keepdims=True) + np.log(BASIN))
    ok2 = np.isfinite(loss_2) & (y2 <= np.min(y2, axis=1, keepdims=True) + np.log(BASIN))
    y1, y2 = np.where(ok1, y1, 0.0), np.where(ok2, y2, 0.0)
    slope = _tangents(x2, y2, ok2)
    best = np.full(len(y1), np.inf)
    exponent = np.full(len(y1), np.nan)
    for k in SHIFTS:
        at = x1 + k * np.log(ratio)                    # where curve 2 is read for each rate 1
        j = np.searchsorted(x2, at, side="right") - 1
        inside = (j >= 0) & (j < x2.size - 1) | (at == x2[-1])
        j = np.clip(j, 0, x2.size - 2)
        width = x2[j + 1] - x2[j]
        t = (at - x2[j]) / width
        read = ((2 * t**3 - 3 * t**2 + 1) * y2[:, j] + (t**3 - 2 * t**2 + t) * width * slope[:, j]
                + (-2 * t**3 + 3 * t**2) * y2[:, j + 1] + (t**3 - t**2) * width * slope[:, j + 1])
        usable = ok1 & inside & ok2[:, j] & ok2[:, j + 1]
        count = usable.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            distance = np.where(usable, (y1 - read) ** 2, 0.0).sum(axis=1) / count
        better = (count >= MIN_POINTS) & (distance < best)
        best = np.where(better, distance, best)
        exponent = np.where(better, k, exponent)
    return exponent


def crossover(exponents: np.ndarray, batch_sizes: np.ndarray) -> np.ndarray:
    """B* per row of pair exponents (m, n_b - 1): where k first falls below :data:`CROSSING`
    going up, interpolated in log B between the pairs' geometric midpoints; ``-inf`` where the
    first scored pair is already below it, ``inf`` where none is (censored), ``nan`` where no
    pair is scored."""
    mid = np.log(np.sqrt(batch_sizes[:-1] * batch_sizes[1:]))
    out = np.full(len(exponents), np.nan)
    for r, row in enumerate(exponents):
        scored = np.flatnonzero(np.isfinite(row))
        if not scored.size:
            continue
        below = scored[row[scored] < CROSSING]
        if not below.size:
            out[r] = np.inf
            continue
        i = below[0]
        before = scored[scored < i]
        if not before.size:
            out[r] = -np.inf
            continue
        h = before[-1]
        w = (row[h] - CROSSING) / (row[h] - row[i])
        out[r] = np.exp(mid[h] + w * (mid[i] - mid[h]))
    return out


def censored_interval(values: np.ndarray) -> tuple[float, float]:
    """2.5% and 97.5% quantiles of bootstrap values that may be censored at +-inf (the
    nearest order statistics, so an infinite bound means that share of resamples is censored);
    ``nan`` values left out."""
    v = np.sort(values[~np.isnan(values)])
    if not v.size:
        return (float("nan"), float("nan"))
    return (float(np.quantile(v, 0.025, method="lower")),
            float(np.quantile(v, 0.975, method="higher")))


@dataclass
class TemperatureStudy:
    r"""One sweep's curves at equal examples, aligned pair by pair, and the crossover.

    Attributes
    ----------
    model, label : str
    batch_sizes : ndarray, shape (n_b,)
    floor : float
    examples : ndarray of int, shape (n_b - 1,)
        The examples each pair is compared at: the smaller batch size's whole run.
    exponent : ndarray, shape (n_b - 1,)
        :func:`collapse_exponent` per adjacent pair, on the seed means.
    exponent_interval : ndarray, shape (n_b - 1, 2)
        95% percentile intervals over bootstrap resamples of the seeds.
    best_ratio, best_ratio_interval : ndarray, shapes (n_b - 1,) and (n_b - 1, 2)
        The larger batch's lowest excess loss over the rates divided by the smaller's, at the
        same examples: 1 where more batch buys the same progress per example (perfect
        scaling), above 1 where it does not; 95% percentile intervals over the resamples.
    b_star : float
        :func:`crossover` on the seed means (``-inf``/``inf``: below or above every pair).
    b_star_interval : tuple of float
        :func:`censored_interval` over the resamples.
    curves : list of tuple
        :func:`equal_example_curves` on the seed means (the figure's).
    notes : list of str

    See Also
    --------
    temperature_study : Builds it.
    """

    model: str
    label: str
    batch_sizes: np.ndarray
    floor: float
    examples: np.ndarray
    exponent: np.ndarray
    exponent_interval: np.ndarray
    best_ratio: np.ndarray
    best_ratio_interval: np.ndarray
    b_star: float
    b_star_interval: tuple
    curves: list
    notes: list = field(default_factory=list)


def _exponents(pairs: list, batch_sizes: np.ndarray, floor: float) -> np.ndarray:
    """(m, n_b - 1) collapse exponents of every row of every pair."""
    return np.column_stack([
        collapse_exponent(l1, y1, l2, y2, batch_sizes[i + 1] / batch_sizes[i], floor)
        for i, (l1, y1, l2, y2, _) in enumerate(pairs)])


def _measure(result: SweepResult, label: str, n_boot: int, seed: int) -> TemperatureStudy:
    spec = result.spec
    b = np.array([c.batch_size for c in result.cells], dtype=float)
    floor = float(spec.noise_floor())
    n_seed = len(spec.seeds)
    picks = np.random.default_rng(seed).integers(0, n_seed, (n_boot, n_seed))
    pairs = equal_example_curves(result, np.vstack([np.arange(n_seed)[None], picks]))
    exponents = _exponents(pairs, b, floor)
    stars = crossover(exponents, b)
    notes = [f"B = {int(b[i])} and {int(b[i + 1])}: the larger batch's step {at} is "
             f"{at * b[i + 1] / (spec.steps * b[i]):.3g} times the examples"
             for i, (*_, at) in enumerate(pairs) if at * b[i + 1] != spec.steps * b[i]]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = np.column_stack([(np.min(y2, axis=1) - floor) / (np.min(y1, axis=1) - floor)
                                  for _, y1, _, y2, _ in pairs])
    with warnings.catch_warnings():                 # a pair never scored: nan
        warnings.simplefilter("ignore", RuntimeWarning)
        interval = np.nanpercentile(exponents[1:], [2.5, 97.5], axis=0).T
        ratio_interval = np.nanpercentile(ratios[1:], [2.5, 97.5], axis=0).T
    curves = [(l1, y1[0], l2, y2[0], at) for l1, y1, l2, y2, at in pairs]
    return TemperatureStudy(spec.model, label, b, floor, (spec.steps * b[:-1]).astype(int),
                            exponents[0], interval, ratios[0], ratio_interval, float(stars[0]),
                            censored_interval(stars[1:]), curves, notes)


@checked(study=kind(Study), n_boot=whole(2, MAX_RESAMPLES), seed=SEED)
def temperature_study(study: Study, *, n_boot: int = 200, seed: int = 0) -> TemperatureStudy:
    r"""Sclocchi et al.'s temperature measured on a sweep: each adjacent pair of batch sizes
    compared at equal examples, the exponent :math:`k` of the shift that aligns their loss
    curves, and the crossover batch size :math:`B^\ast` where linear scaling (:math:`k \ge
    1/2`) stops.

    The pair :math:`(B_1, B_2)` is compared after the examples of the smaller batch size's
    whole run: its last step against the larger one's step ``steps * B_1 / B_2``, both recorded
    by the sweep. Intervals from ``n_boot`` resamples of the seeds, the same resample for every
    pair.

    References
    ----------
    .. [1] A. Sclocchi, M. Geiger, M. Wyart, "Dissecting the Effects of SGD Noise in Distinct
       Regimes of Deep Learning", ICML 2023, arXiv:2301.13703.
    .. [2] A. Sclocchi, M. Wyart, "On the Different Regimes of Stochastic Gradient Descent",
       PNAS 121 (2024), arXiv:2309.10688.

    See Also
    --------
    TemperatureStudy : What it returns.
    least_squares_data_axis : The crossover against the training-set size.
    """
    return _measure(study.result, study.label, n_boot, seed)


def exact_exponents(result: SweepResult) -> tuple[np.ndarray, float]:
    """The pair exponents and B* of the finite-sample theory's expected curves on a
    least-squares sweep's own training set and grid, through the same estimator."""
    spec, problem = result.spec, result.spec.problem()
    theory = nqm.FiniteSampleLeastSquaresSGD(problem.X_train, problem.y_train, problem.X_test,
                                             problem.y_test)
    curves = [theory.expected_test_mse(c.lrs, c.batch_size, spec.steps) for c in result.cells]
    b = np.array([c.batch_size for c in result.cells], dtype=float)
    pairs = []
    for i in range(b.size - 1):
        at = max(1, round(spec.steps * b[i] / b[i + 1]))
        pairs.append((result.cells[i].lrs, curves[i][None, :, spec.steps],
                      result.cells[i + 1].lrs, curves[i + 1][None, :, at], at))
    exponents = _exponents(pairs, b, float(spec.noise_floor()))
    return exponents[0], float(crossover(exponents, b)[0])


@dataclass
class DataAxis:
    """The least-squares crossover against the training-set size, measured and exact.

    Attributes
    ----------
    n_train : ndarray of int, shape (n_n,)
    b_star, b_star_interval : ndarray, shapes (n_n,) and (n_n, 2)
        Measured (:func:`temperature_study` on a sweep per size).
    exact_b_star : ndarray, shape (n_n,)
        The finite-sample theory through the same estimator (:func:`exact_exponents`).
    exponent, exact_exponent : ndarray, shape (n_n, n_b - 1)
        The pair exponents, measured and exact.
    inside : ndarray of bool, shape (n_n,)
        The exact B* inside the measured interval (censored bounds included as such).
    seeds : int
        Seeds per size.

    See Also
    --------
    least_squares_data_axis : Builds it.
    """

    n_train: np.ndarray
    b_star: np.ndarray
    b_star_interval: np.ndarray
    exact_b_star: np.ndarray
    exponent: np.ndarray
    exact_exponent: np.ndarray
    inside: np.ndarray
    seeds: int


@checked(results=sequence_of(SweepResult), n_boot=whole(2, MAX_RESAMPLES), seed=SEED)
def least_squares_data_axis(results: list, *, n_boot: int = 200, seed: int = 0) -> DataAxis:
    """:class:`DataAxis` from least-squares sweeps that differ only in ``n_train``.

    Raises
    ------
    ValueError
        If a result is not a ``"linear-sgd"`` sweep (the theory is least squares').

    See Also
    --------
    temperature_study : The measurement at one size.
    exact_exponents : The prediction at one size.
    """
    models = sorted({r.spec.model for r in results} - {"linear-sgd"})
    if models:
        raise ValueError(f"results must be linear-sgd sweeps (the finite-sample theory is "
                         f"least squares'), got {', '.join(models)}")
    measured = [_measure(r, "", n_boot, seed) for r in results]
    exact = [exact_exponents(r) for r in results]
    interval = np.array([m.b_star_interval for m in measured])
    exact_star = np.array([e[1] for e in exact])
    inside = (interval[:, 0] <= exact_star) & (exact_star <= interval[:, 1])
    return DataAxis(np.array([r.spec.n_train for r in results]),
                    np.array([m.b_star for m in measured]), interval, exact_star,
                    np.array([m.exponent for m in measured]), np.array([e[0] for e in exact]),
                    inside, len(results[0].spec.seeds))
