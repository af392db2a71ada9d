"""muP's claim on digits: the learning rate tuned at a small width stays optimal as the MLP
widens, so tuning once suffices; measured against the standard parametrization."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.special import stdtrit

from compare.analysis._paths import seed_tuple
from compare.fit._law import fit_scaling_law
from empirical import LRGrid, ScalingRuns, ScalingSpec
from empirical._core.arguments import MAX_RESAMPLES, SEED, checked, kind, whole
from empirical._core.intervals import bootstrap_interval
from empirical.sweep._optimum import subgrid_argmin_rows

TRANSFER = dict(shapes=tuple((w, 2) for w in (8, 16, 32, 64, 128)), mup_base_width=8,
                grid=LRGrid(base=1e-4, ratio=10**0.25, k_min=2, k_max=15))
"""``lrbs run``'s study: depth 2 (so muP divides the hidden-to-hidden rate by the width
multiplier), widths 8-128, base width 8; the main study's batch size and grid without its two
lowest rates (3.2e-4 to 0.56, a quarter decade apart; the grid extends downward where an
optimum reaches its edge)."""
TRANSFER_FULL = dict(shapes=tuple((w, 2) for w in (8, 16, 32, 64, 128, 256, 512)),
                     mup_base_width=8)
"""``lrbs scaling-law --full``: widths up to 512 (64x the base)."""
TRANSFER_QUICK = dict(shapes=((8, 2), (16, 2), (32, 2)), mup_base_width=8, max_steps=300,
                      grid=LRGrid(base=1e-4, ratio=10**0.5, k_min=1, k_max=6))
"""A smoke test."""
EDGE_FACTOR = 2.0
"""The valley's upper edge: where the loss reaches this multiple of its minimum."""


def transfer_specs(seeds, *, quick: bool = False, full: bool = False,
                   optimizer: str = "adam") -> tuple[ScalingSpec, ScalingSpec]:
    """What the study trains: the shapes of :data:`TRANSFER` (or ``TRANSFER_QUICK``,
    ``TRANSFER_FULL``) in the standard parametrization and in muP."""
    settings = dict(TRANSFER_QUICK if quick else TRANSFER_FULL if full else TRANSFER)
    mup = ScalingSpec(**settings, seeds=seed_tuple(seeds), optimizer=optimizer)
    return replace(mup, mup_base_width=None), mup


def valley_edges(lrs: np.ndarray, curves: np.ndarray, factor: float = EDGE_FACTOR) -> np.ndarray:
    """Per row of ``curves`` (m, n_lr), the rate above its argmin where it first reaches
    ``factor`` times its minimum, interpolated linearly in ``log lr`` and ``log loss``; ``nan``
    where it never does."""
    out = np.full(len(curves), np.nan)
    for i, curve in enumerate(curves):
        k = int(np.argmin(curve))
        level = factor * curve[k]
        above = np.nonzero(curve[k:] >= level)[0]
        if above.size:
            j = k + int(above[0])
            lo, hi = np.log(curve[j - 1]), np.log(min(curve[j], 1e300))
            t = (np.log(level) - lo) / (hi - lo)
            out[i] = float(np.exp(np.log(lrs[j - 1]) + t * np.log(lrs[j] / lrs[j - 1])))
    return out


@dataclass(frozen=True)
class Parametrization:
    """One parametrization's runs over widths: curves, tuned rates, and the rate tuned once.

    Attributes
    ----------
    name : str
    lrs : list of ndarray
        Each width's (possibly extended) grid.
    val : list of ndarray
        Each width's best validation loss, shape (n_seed, n_lr).
    test : list of ndarray
        The test loss of each run's best checkpoint, shape (n_seed, n_lr).
    lr : ndarray, shape (n_width,)
        Each width's sub-grid optimum of the seed-mean validation loss.
    lr_intervals : ndarray, shape (n_width, 2)
        Their 95% intervals over seeds (Student bootstrap in ``log lr``).
    slope, slope_interval : float, tuple of float
        The least-squares slope of ``log lr`` against ``log width`` and its 95% interval over
        the same resamples of the seeds.
    edge : ndarray, shape (n_width,)
        The valley's upper edge: the rate above the optimum where the seed-mean validation
        loss reaches :data:`EDGE_FACTOR` times its minimum (interpolated in ``log lr``; ``nan``
        where it stays below within the grid). Sharper than the optimum where early stopping
        makes the valley's floor flat.
    edge_slope, edge_slope_interval : float, tuple of float
        As ``slope`` for ``edge`` (``nan`` if some width has no edge).
    grid_lr : ndarray, shape (n_width,)
        Each width's grid rate of lowest seed-mean validation loss.
    tuned_test : ndarray, shape (n_width, n_seed)
        Test loss at ``grid_lr``.
    base_lr : float
        The grid rate tuned at the base (smallest) width.
    transferred_test : ndarray, shape (n_width, n_seed)
        Test loss at ``base_lr`` at every width: the rate tuned once.

    See Also
    --------
    TransferStudy : Holds two.
    """

    name: str
    lrs: list
    val: list
    test: list
    lr: np.ndarray
    lr_intervals: np.ndarray
    slope: float
    slope_interval: tuple
    edge: np.ndarray
    edge_slope: float
    edge_slope_interval: tuple
    grid_lr: np.ndarray
    tuned_test: np.ndarray
    base_lr: float
    transferred_test: np.ndarray

    def penalty(self) -> tuple[np.ndarray, np.ndarray]:
        """The relative test-loss cost of the transferred rate against the rate tuned at each
        width, per width: the seed mean of the paired ratio minus 1, and its 95% Student
        interval over seeds (the point itself with one seed), shapes (n_width,), (n_width, 2)."""
        ratio = self.transferred_test / self.tuned_test - 1
        mean = ratio.mean(axis=1)
        n = ratio.shape[1]
        if n < 2:
            return mean, np.stack([mean, mean], axis=1)
        half = stdtrit(n - 1, 0.975) * ratio.std(axis=1, ddof=1) / np.sqrt(n)
        return mean, np.stack([mean - half, mean + half], axis=1)


@dataclass(frozen=True)
class TransferStudy:
    """The standard parametrization and muP over the same widths, seeds and grid.

    Attributes
    ----------
    widths, n_params : ndarray of int, shape (n_width,)
    depth : int
    base_width : int
    standard, mup : Parametrization
    laws : dict of str to LawFit
        :math:`L(N)` through the test losses at each width's tuned rate, standard
        (``"standard"``) and muP (``"mup"``), and at muP's rate tuned once (``"mup_transferred"``).

    See Also
    --------
    transfer_study : Builds it.
    """

    widths: np.ndarray
    n_params: np.ndarray
    depth: int
    base_width: int
    standard: Parametrization
    mup: Parametrization
    laws: dict


def _parametrization(name: str, runs: ScalingRuns, picks: np.ndarray) -> Parametrization:
    lrs = [r.runs.lrs for r in runs.shapes]
    val = [np.where(np.isfinite(r.runs.best_val_loss), r.runs.best_val_loss, np.inf)
           for r in runs.shapes]
    test = [r.runs.test_loss for r in runs.shapes]
    lr = np.array([subgrid_argmin_rows(x, v.mean(axis=0)[None])[0] for x, v in zip(lrs, val, strict=True)])
    widths = np.array([r.shape.width for r in runs.shapes], dtype=float)
    x = np.log(widths) - np.log(widths).mean()

    def slope(log_lr):
        return (log_lr - log_lr.mean(axis=-1, keepdims=True)) @ x / (x @ x)

    n_seed = val[0].shape[0]
    edge = np.array([valley_edges(g, v.mean(axis=0)[None])[0] for g, v in zip(lrs, val, strict=True)])

    def fitted_slope(point, rows):
        fitted = float(slope(np.log(point)))
        if not len(picks) or not np.isfinite(fitted):
            return fitted, (fitted, fitted)
        lo, hi = bootstrap_interval(np.array([fitted]), slope(np.log(rows))[:, None], n_seed)
        return fitted, (float(lo[0]), float(hi[0]))

    if len(picks):
        boot = np.stack([subgrid_argmin_rows(g, v[picks].mean(axis=1))
                         for g, v in zip(lrs, val, strict=True)], axis=1)
        boot_edge = np.stack([valley_edges(g, v[picks].mean(axis=1))
                              for g, v in zip(lrs, val, strict=True)], axis=1)
        lo, hi = bootstrap_interval(np.log(lr), np.log(boot), n_seed)
        intervals = np.exp(np.stack([lo, hi], axis=1))
    else:
        boot = boot_edge = np.empty((0, len(lrs)))
        intervals = np.stack([lr, lr], axis=1)
    best = [int(np.argmin(v.mean(axis=0))) for v in val]
    base_lr = float(lrs[0][best[0]])
    at_base = [int(np.argmin(np.abs(np.log(g / base_lr)))) for g in lrs]
    return Parametrization(name, lrs, val, test, lr, intervals, *fitted_slope(lr, boot), edge,
                           *fitted_slope(edge, boot_edge),
                           np.array([g[k] for g, k in zip(lrs, best, strict=True)]),
                           np.array([t[:, k] for t, k in zip(test, best, strict=True)]), base_lr,
                           np.array([t[:, k] for t, k in zip(test, at_base, strict=True)]))


@checked(standard=kind(ScalingRuns), mup=kind(ScalingRuns), n_boot=whole(0, MAX_RESAMPLES),
         seed=SEED)
def transfer_study(standard: ScalingRuns, mup: ScalingRuns, *, n_boot: int = 200,
                   seed: int = 0) -> TransferStudy:
    """Compare the standard parametrization's runs with muP's over the same shapes.

    Parameters
    ----------
    standard, mup : ScalingRuns
        The same shapes (one depth, increasing width) and seeds; ``mup`` trained with
        ``ScalingSpec.mup_base_width`` set.
    n_boot : int, default 200
        Bootstrap resamples of the seeds, shared by every width (none with one seed).
    seed : int, default 0

    Returns
    -------
    TransferStudy

    See Also
    --------
    empirical.mup_scaling : The parametrization.
    """
    if mup.spec.mup_base_width is None or standard.spec.mup_base_width is not None:
        raise ValueError("mup must be trained in muP and standard in the standard parametrization")
    shapes = [r.shape for r in standard.shapes]
    if [r.shape for r in mup.shapes] != shapes or standard.spec.seeds != mup.spec.seeds:
        raise ValueError("standard and mup must hold the same shapes and seeds")
    if len({s.depth for s in shapes}) != 1 or np.any(np.diff([s.width for s in shapes]) <= 0) \
            or len(shapes) < 3:
        raise ValueError("the shapes must be three or more widths, increasing, at one depth")
    n_seed = len(standard.spec.seeds)
    picks = (np.random.default_rng(seed).integers(0, n_seed, (n_boot, n_seed)) if n_seed > 1
             else np.zeros((0, 1), dtype=int))
    sp, mu = (_parametrization(name, runs, picks) for name, runs in
              (("standard", standard), ("muP", mup)))
    n_params = np.array([s.n_params for s in shapes])
    laws = {"standard": fit_scaling_law(n_params, sp.tuned_test, n_boot=n_boot),
            "mup": fit_scaling_law(n_params, mu.tuned_test, n_boot=n_boot),
            "mup_transferred": fit_scaling_law(n_params, mu.transferred_test, n_boot=n_boot)}
    return TransferStudy(np.array([s.width for s in shapes]), n_params, shapes[0].depth,
                         int(mup.spec.mup_base_width), sp, mu, laws)

