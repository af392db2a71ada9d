r"""Test-loss trajectories at any batch size from one: Kaplan et al.'s critical batch size as a
power law in the loss, fitted without the batch size it predicts.

At every loss :math:`L` reached, the fewest steps at batch size :math:`B` follow McCandlish et
al.'s hyperbola :math:`S_B(L) = S_{\min}(L)(1 + B_{\rm crit}(L)/B)`, and Kaplan et al. (2020,
section 5.1) model :math:`B_{\rm crit}(L) = B_\ast / L^{1/\alpha_B}` (here a power
of the excess loss over the noise floor). So the curve at one batch size :math:`B_r` gives every
other:

.. math::

    S_B(L) = S_{B_r}(L)\,\frac{1 + B_{\rm crit}(L)/B}{1 + B_{\rm crit}(L)/B_r}.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

import nqm
from compare.analysis._optima import Study, percentile_interval
from compare.fit._critical import _fit_logs
from compare.fit._fits import bootstrap_interval
from empirical._core.arguments import MAX_RESAMPLES, SEED, checked, kind, whole

REFERENCE_BATCH = 64
"""The curve the predictions start from: the sweep's batch size nearest this (in log)."""

LEVELS = 12
"""Loss levels, geometric in the excess loss, between :data:`LOOSEST` of the initial excess and
:data:`TIGHTEST` times the tightest excess every batch size reaches."""
LOOSEST, TIGHTEST = 0.5, 1.25


@dataclass
class TrajectoryStudy:
    r"""One study's fewest steps per loss level, its :math:`B_{\rm crit}(L)` and the
    trajectories predicted from one batch size.

    Attributes
    ----------
    model, label : str
    batch_sizes : ndarray, shape (n_b,)
    reference : int
        The index of the batch size the predictions start from.
    floor : float
        The test loss's noise floor.
    levels : ndarray, shape (n_l,)
        Test-loss levels, loosest first.
    steps, steps_interval : ndarray, shapes (n_l, n_b) and (n_l, n_b, 2)
        The fewest steps to each level over the grid's rates: the first passage of the
        envelope (the seed-mean curves' minimum over the rates at each step), counted in real
        steps by interpolating the log excess loss between updates (0 is the start); 95%
        percentile intervals over bootstrap resamples of the seeds.
    b_crit, b_crit_interval : ndarray, shapes (n_l,) and (n_l, 2)
        :func:`compare.fit_critical_batch`'s hyperbola per level, on every batch size.
    exponent, exponent_interval : float and tuple
        :math:`b` in :math:`B_{\rm crit} \propto (L - L_\infty)^b` over the levels, with
        Student's interval over the bootstrap rows (Kaplan et al.: :math:`b = -1/\alpha_B`).
    predicted : ndarray, shape (n_l, n_b)
        The steps at each level predicted from the reference curve, each batch size with
        :math:`B_{\rm crit}(L)`'s power law fitted without it (``nan`` at the reference).
    error : ndarray, shape (n_b,)
        The median over levels of :math:`\lvert\log(S_{\rm predicted}/S_{\rm measured})\rvert`
        per batch size (``nan`` at the reference).
    seed_noise : ndarray, shape (n_b,)
        The same median of :math:`\lvert\log(S^{(r)}/S)\rvert` between the bootstrap
        resamples' measured steps and the measured steps: how far the measurement itself moves
        with the seeds, the scale the error is read on.
    envelope : ndarray, shape (n_b, steps + 1)
        The measured envelope curves (the figure's).
    exact : dict or None
        Least squares: ``steps``, ``predicted``, ``error``, ``b_crit``, ``exponent`` from the
        finite-sample theory's expected curves on the same grid through the same estimator,
        ``envelope``, and ``greedy_b_crit``: :meth:`nqm.LeastSquaresSGD.critical_batch` at
        each level (the best schedule's, a different criterion from the best constant rate's).

    See Also
    --------
    trajectory_study : Builds it.
    """

    model: str
    label: str
    batch_sizes: np.ndarray
    reference: int
    floor: float
    levels: np.ndarray
    steps: np.ndarray
    steps_interval: np.ndarray
    b_crit: np.ndarray
    b_crit_interval: np.ndarray
    exponent: float
    exponent_interval: tuple
    predicted: np.ndarray
    error: np.ndarray
    seed_noise: np.ndarray
    envelope: np.ndarray
    exact: dict | None = None
    notes: list = field(default_factory=list)


def _envelopes(mean_curves: np.ndarray, start: np.ndarray) -> np.ndarray:
    """(m, steps + 1) running minimum over steps of the minimum over rates of seed-mean curves
    (m, n_lr, steps), with the start (m,) at step 0; ``inf`` marks a diverged step."""
    best = np.min(np.where(np.isfinite(mean_curves), mean_curves, np.inf), axis=1)
    return np.minimum.accumulate(np.column_stack([start, best]), axis=1)


def _first_passage(envelope: np.ndarray, levels: np.ndarray, floor: float) -> np.ndarray:
    """Real steps (m, n_l) at which each decreasing envelope (m, steps + 1) first reaches each
    level, interpolating log(L - floor) linearly between updates; ``inf`` where never."""
    excess = np.log(np.maximum(envelope - floor, 1e-300))
    goal = np.log(levels - floor)
    below = excess[:, None, :] <= goal[None, :, None]                  # (m, n_l, steps + 1)
    reached = below.any(axis=2)
    first = np.where(reached, below.argmax(axis=2), 0)
    after = np.take_along_axis(excess[:, None, :].repeat(goal.size, 1), first[..., None], 2)[..., 0]
    before = np.take_along_axis(excess[:, None, :].repeat(goal.size, 1),
                                np.maximum(first - 1, 0)[..., None], 2)[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(before > after, (before - goal) / (before - after), 1.0)
    steps = np.where(first == 0, 0.0, first - 1 + np.clip(fraction, 0.0, 1.0))
    return np.where(reached, steps, np.inf)


def _predict(log_b: np.ndarray, steps: np.ndarray, excess: np.ndarray,
             reference: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every row of steps (m, n_l, n_b): the hyperbola's B_crit per level on every batch
    size (m, n_l), the power law's exponent (m,), and the steps predicted (m, n_l, n_b) for each
    batch size from the reference's with the power law fitted without that batch size."""
    m, n_l, n_b = steps.shape
    x = np.log(excess)

    def crit_law(columns):
        usable = np.all(np.isfinite(steps[..., columns]) & (steps[..., columns] > 0), axis=2)
        crit = np.full((m, n_l), np.nan)
        rows = np.log(steps[..., columns][usable])
        if rows.size:
            crit[usable] = np.exp(_fit_logs(log_b[columns], rows)[:, 1])
        logs = np.log(crit)
        ok = np.isfinite(logs)
        count = ok.sum(axis=1)
        mean_x = np.where(ok, x, 0).sum(axis=1) / np.maximum(count, 1)
        mean_y = np.where(ok, logs, 0).sum(axis=1) / np.maximum(count, 1)
        dx = np.where(ok, x - mean_x[:, None], 0)
        slope = (dx * np.where(ok, logs - mean_y[:, None], 0)).sum(axis=1) / np.maximum(
            (dx**2).sum(axis=1), 1e-300)
        slope = np.where(count >= 2, slope, np.nan)
        law = np.exp(mean_y[:, None] + slope[:, None] * (x - mean_x[:, None]))
        return crit, slope, law

    crit, slope, _ = crit_law(np.arange(n_b))
    predicted = np.full(steps.shape, np.nan)
    b = np.exp(log_b)
    for j in range(n_b):
        if j == reference:
            continue
        _, _, law = crit_law(np.delete(np.arange(n_b), j))
        predicted[..., j] = steps[..., reference] * (1 + law / b[j]) / (1 + law / b[reference])
    return crit, slope, predicted


def _errors(predicted: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """Median over levels of |log(predicted / measured)|, (m, n_b); levels where either is
    not a positive finite count are left out."""
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.abs(np.log(predicted / measured))
    gap = np.where(np.isfinite(gap), gap, np.nan)
    with warnings.catch_warnings():                 # a batch size with no level: nan
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(gap, axis=1)


def _steps_rows(envelopes: list, levels: np.ndarray, floor: float) -> np.ndarray:
    """(m, n_l, n_b) first passages from one (m, steps + 1) envelope per batch size."""
    return np.stack([_first_passage(e, levels, floor) for e in envelopes], axis=2)


@checked(study=kind(Study), n_boot=whole(2, MAX_RESAMPLES), seed=SEED)
def trajectory_study(study: Study, *, n_boot: int = 200, seed: int = 0) -> TrajectoryStudy:
    r"""The fewest steps per loss level at every batch size, :math:`B_{\rm crit}(L)` as a power
    law, and every batch size's steps predicted from the reference curve.

    From the study's sweep (the seed-mean test-loss curves of every grid rate): the envelope
    per batch size, its first passage of :data:`LEVELS` loss levels in real steps, McCandlish
    et al.'s hyperbola per level (:func:`compare.fit_critical_batch`'s fit) and Kaplan et al.'s
    power law of :math:`B_{\rm crit}` in the excess loss; then, for each batch size, the
    power law refitted without it and its steps predicted from the curve at
    :data:`REFERENCE_BATCH` (module formula). Every quantity is recomputed on ``n_boot``
    resamples of the seeds. For least squares the finite-sample theory's expected curves on the
    same grid go through the same estimator.

    References
    ----------
    .. [1] J. Kaplan et al., "Scaling Laws for Neural Language Models", arXiv:2001.08361
       (2020), section 5.1.
    .. [2] S. McCandlish, J. Kaplan, D. Amodei, "An Empirical Model of Large-Batch Training",
       arXiv:1812.06162 (2018), eq. 2.11.

    See Also
    --------
    TrajectoryStudy : What it returns.
    compare.fit_critical_batch : The hyperbola at one level, with its intervals.
    nqm.LeastSquaresSGD.critical_batch : The greedy schedule's exact counterpart.
    """
    result, spec = study.result, study.result.spec
    b = study.batch_sizes.astype(float)
    log_b, floor = np.log(b), float(spec.noise_floor())
    reference = int(np.argmin(np.abs(log_b - np.log(REFERENCE_BATCH))))
    curves = [np.where(np.isfinite(c.test_loss), c.test_loss, np.inf) for c in result.cells]
    starts = [np.asarray(c.initial_loss, dtype=float) for c in result.cells]
    envelope = np.vstack([_envelopes(c.mean(axis=0)[None], s.mean()[None])
                          for c, s in zip(curves, starts, strict=True)])
    notes: list[str] = []
    loosest = LOOSEST * float(np.median(envelope[:, 0] - floor))
    tightest = TIGHTEST * float(np.max(envelope[:, -1] - floor))
    if not 0 < tightest < loosest:
        raise ValueError(f"{study.label}: no loss level between half the initial excess "
                         f"({loosest:.4g}) and the tightest excess every batch size reaches "
                         f"({tightest:.4g})")
    levels = floor + np.geomspace(loosest, tightest, LEVELS)
    picks = np.random.default_rng(seed).integers(0, len(spec.seeds), (n_boot, len(spec.seeds)))
    boot_envelopes = [_envelopes(np.stack([c[p].mean(axis=0) for p in picks]),
                                 s[picks].mean(axis=1)) for c, s in zip(curves, starts, strict=True)]
    steps = np.concatenate([_steps_rows(list(envelope[:, None, :]), levels, floor),
                            _steps_rows(boot_envelopes, levels, floor)])
    crit, slope, predicted = _predict(log_b, steps, levels - floor, reference)
    errors = _errors(predicted, steps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        crit_iv = np.nanpercentile(crit[1:], [2.5, 97.5], axis=0).T
        with np.errstate(all="ignore"):
            moved = np.abs(np.log(steps[1:] / steps[:1]))
        seed_noise = np.nanmedian(np.where(np.isfinite(moved), moved, np.nan).reshape(-1, b.size),
                                  axis=0)
    usable = np.isfinite(slope[1:])
    lo, hi = (bootstrap_interval(slope[:1], slope[1:][usable][:, None], len(spec.seeds))
              if usable.sum() >= 2 else (np.array([np.nan]), np.array([np.nan])))
    if np.any(~np.isfinite(steps[0])):
        notes.append(f"{int(np.sum(~np.isfinite(steps[0])))} (level, batch size) pairs never "
                     "reached: left out of the fits and the errors")
    exact = _exact(study, levels, floor, log_b, reference) if spec.model == "linear-sgd" else None
    return TrajectoryStudy(spec.model, study.label, b, reference, floor, levels, steps[0],
                           percentile_interval(steps[1:].reshape(n_boot, -1)).reshape(
                               LEVELS, b.size, 2),
                           crit[0], crit_iv, float(slope[0]), (float(lo[0]), float(hi[0])),
                           predicted[0], errors[0], seed_noise, envelope, exact, notes)


def _exact(study: Study, levels: np.ndarray, floor: float, log_b: np.ndarray,
           reference: int) -> dict:
    """The finite-sample theory's expected curves on the sweep's grid through the same
    estimator, and the greedy schedule's continuum B_crit at each level."""
    spec, problem = study.result.spec, study.result.spec.problem()
    finite = nqm.FiniteSampleLeastSquaresSGD(problem.X_train, problem.y_train, problem.X_test,
                                             problem.y_test)
    envelope = []
    for cell in study.result.cells:
        expected = finite.expected_test_mse(cell.lrs, cell.batch_size, spec.steps)
        envelope.append(_envelopes(expected[None, :, 1:], expected[:1, 0]))
    steps = _steps_rows(envelope, levels, floor)
    crit, slope, predicted = _predict(log_b, steps, levels - floor, reference)
    online = nqm.LeastSquaresSGD(dim=problem.dim, noise_std=problem.noise_std,
                                 init_error=2.0 * problem.dim**2)
    return dict(steps=steps[0], predicted=predicted[0], error=_errors(predicted, steps)[0],
                b_crit=crit[0], exponent=float(slope[0]), envelope=np.vstack(envelope),
                greedy_b_crit=np.asarray(online.critical_batch(levels).b_crit, dtype=float))
