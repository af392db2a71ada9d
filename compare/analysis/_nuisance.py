"""Dropout, batch size and learning rate tuned jointly per digits shape, and the source's three
insights about them tested: which dropout and batch size win, and whether smaller batches
prefer smaller rates."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.special import stdtrit

from compare.analysis._paths import seed_tuple
from compare.fit._fits import ScalingFit, fit_scaling
from empirical import LRGrid, ScalingRuns, ScalingSpec
from empirical._core.arguments import MAX_RESAMPLES, SEED, checked, sequence_of, whole
from empirical._core.intervals import bootstrap_interval
from empirical.sweep._optimum import subgrid_argmin_rows

NUISANCE = dict(shapes=tuple((w, 1) for w in (8, 16, 32, 64, 128)), batch_sizes=(16, 64, 128),
                dropout=(0.0, 0.1, 0.15, 0.2),
                grid=LRGrid(base=1e-4, ratio=10**0.5, k_min=1, k_max=5))
"""``lrbs run``'s study: the depth-1 widths, the source's dropout rates and batch sizes around its
64, rates 3.2e-4 to 0.032 half a decade apart (extended while a shape's optimum is on the
grid's edge; 1e-4 would learn too slowly to stop early and keep every run going)."""
NUISANCE_FULL = dict(shapes=tuple((w, d) for d in (1, 2) for w in (8, 16, 32, 64, 128)),
                     batch_sizes=(16, 32, 64, 128, 256), dropout=(0.0, 0.05, 0.1, 0.15, 0.2, 0.3),
                     grid=LRGrid(base=1e-4, ratio=10**0.25, k_min=0, k_max=15))
"""``lrbs scaling-law --full``: every shape, five batch sizes, dropout 0 to 0.3, the main
study's grid."""
NUISANCE_QUICK = dict(shapes=((8, 1), (16, 1), (32, 1)), batch_sizes=(32, 64), dropout=(0.0, 0.1),
                      grid=LRGrid(base=1e-4, ratio=10**0.5, k_min=1, k_max=6), max_steps=300)
"""A smoke test."""
SOURCE_DROPOUT_ORDER = (0.15, 0.1, 0.2)
"""The source's "Dropout should be tuned very carefully. 0.15 > 0.1 > 0.2": best first."""
SOURCE_BATCH_SIZE = 64
"""The source's "Batch size seems to perform better at 64"."""


def nuisance_specs(seeds, *, quick: bool = False, full: bool = False,
                   optimizer: str = "adam") -> tuple[ScalingSpec, ...]:
    """What the study trains: one spec per batch size of :data:`NUISANCE` (or
    ``NUISANCE_QUICK``, ``NUISANCE_FULL``), every (rate, dropout) of a shape as columns of one
    program."""
    settings = dict(NUISANCE_QUICK if quick else NUISANCE_FULL if full else NUISANCE)
    batch_sizes = settings.pop("batch_sizes")
    spec = ScalingSpec(**settings, seeds=seed_tuple(seeds), optimizer=optimizer)
    return tuple(replace(spec, batch_size=b) for b in batch_sizes)


@dataclass(frozen=True)
class NuisanceStudy:
    """Every digits shape's validation and test loss over (batch size, dropout), each at its
    tuned learning rate.

    Attributes
    ----------
    n_params, widths, depths : ndarray of int, shape (n_shape,)
    batch_sizes : ndarray of int, shape (n_b,)
    dropouts : ndarray, shape (n_d,)
    val, test : ndarray, shape (n_shape, n_b, n_d, n_seed)
        Per seed, the best validation loss and its checkpoint's test loss at the rate that
        minimizes the seed-mean validation loss of that (shape, batch size, dropout).
    lr : ndarray, shape (n_shape, n_b, n_d)
        The sub-grid optimum of the seed-mean validation loss
        (:func:`empirical.subgrid_argmin`).
    boot_lr : ndarray, shape (n_boot, n_shape, n_b, n_d)
        ``lr`` on bootstrap resamples of the seeds, one resample per row shared by every cell
        (a run seed is common to all of them).
    on_edge : ndarray of bool, shape (n_shape, n_b, n_d)
        Whether the grid's best rate is its lowest or highest.
    lr_span : ndarray, shape (n_shape, n_b, n_d, 2)
        The lowest and highest rate tried: an interval reaching past them says the seeds do
        not pin the rate down within the grid.

    See Also
    --------
    nuisance_study : Builds it.
    """

    n_params: np.ndarray
    widths: np.ndarray
    depths: np.ndarray
    batch_sizes: np.ndarray
    dropouts: np.ndarray
    val: np.ndarray
    test: np.ndarray
    lr: np.ndarray
    boot_lr: np.ndarray
    on_edge: np.ndarray
    lr_span: np.ndarray

    @property
    def n_seeds(self) -> int:
        return self.val.shape[-1]

    def _index(self, name: str, value, size: int) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or not 0 <= value < size:
            raise ValueError(f"{name} must be an index in [0, {size}), got {value!r:.40}")
        return int(value)

    def _axis(self, axis) -> str:
        if axis not in ("dropout", "batch_size"):
            raise ValueError(f"axis must be 'dropout' or 'batch_size', got {axis!r:.40}")
        return axis

    def best(self, shape: int) -> tuple[int, int]:
        """Indices (batch size, dropout) of the lowest seed-mean validation loss."""
        shape = self._index("shape", shape, len(self.widths))
        b, d = np.unravel_index(np.argmin(self.val[shape].mean(-1)), self.val.shape[1:3])
        return int(b), int(d)

    def lr_intervals(self, shape: int, dropout: int | None = None) -> np.ndarray:
        """95% intervals over seeds (Student bootstrap in ``log lr``) of the tuned rate at every
        batch size and dropout ``dropout`` (an index; the shape's best by default), shape
        (n_b, 2); the point itself with one seed."""
        shape = self._index("shape", shape, len(self.widths))
        d = (self.best(shape)[1] if dropout is None else
             self._index("dropout", dropout, self.dropouts.size))
        lr = self.lr[shape, :, d]
        if self.boot_lr.shape[0] == 0:
            return np.stack([lr, lr], axis=1)
        lo, hi = bootstrap_interval(np.log(lr), np.log(self.boot_lr[:, shape, :, d]),
                                    self.n_seeds)
        return np.exp(np.stack([lo, hi], axis=1))

    def option_losses(self, shape: int, axis: str) -> np.ndarray:
        """Per option of ``axis`` ("dropout" or "batch_size"), the per-seed validation loss at
        its best value of the other (by seed mean), shape (n_options, n_seed)."""
        shape = self._index("shape", shape, len(self.widths))
        axis = self._axis(axis)
        val = self.val[shape] if axis == "batch_size" else self.val[shape].transpose(1, 0, 2)
        other = np.argmin(val.mean(-1), axis=1)
        return val[np.arange(len(val)), other]

    def within_noise(self, shape: int, axis: str) -> np.ndarray:
        """Per option of ``axis``, whether its paired difference from the winner's loss (per
        seed, same initialization and minibatches) has a 95% Student interval that includes
        0; the winner itself is True. All True with one seed."""
        losses = self.option_losses(shape, axis)
        diff = losses - losses[np.argmin(losses.mean(-1))]
        n = self.n_seeds
        if n < 2:
            return np.ones(len(diff), dtype=bool)
        half = stdtrit(n - 1, 0.975) * diff.std(axis=-1, ddof=1) / np.sqrt(n)
        return diff.mean(-1) - half <= 0

    def batch_exponent(self, shape: int) -> ScalingFit | None:
        """The rules and free exponent of the tuned rate against batch size at the shape's
        best dropout (:func:`compare.fit_scaling`); ``None`` with fewer than three batch
        sizes."""
        d = self.best(shape)[1]
        if self.batch_sizes.size < 3:
            return None
        return fit_scaling(self.batch_sizes, self.lr[shape, :, d], self.boot_lr[:, shape, :, d],
                           n_seeds=self.n_seeds)


@checked(runs=sequence_of(ScalingRuns), n_boot=whole(0, MAX_RESAMPLES), seed=SEED)
def nuisance_study(runs, *, n_boot: int = 200, seed: int = 0) -> NuisanceStudy:
    """Gather one :class:`empirical.ScalingRuns` per batch size, each with a dropout tuple, into
    a :class:`NuisanceStudy`.

    Parameters
    ----------
    runs : sequence of ScalingRuns
        The same shapes, seeds and dropout rates, at distinct batch sizes.
    n_boot : int, default 200
        Bootstrap resamples of the seeds for the tuned rates' intervals (none with one seed).
    seed : int, default 0

    Returns
    -------
    NuisanceStudy

    See Also
    --------
    nuisance_conclusions : Its sentences.
    """
    runs = sorted(runs, key=lambda r: r.spec.batch_size)
    first = runs[0].spec
    if len({r.spec.batch_size for r in runs}) != len(runs) or any(
            (r.spec.shapes, r.spec.seeds, r.spec.dropouts) != (first.shapes, first.seeds,
                                                               first.dropouts) for r in runs):
        raise ValueError("runs must share shapes, seeds and dropout rates, one per batch size")
    n_seed = len(first.seeds)
    picks = (np.random.default_rng(seed).integers(0, n_seed, (n_boot, n_seed)) if n_seed > 1
             else np.zeros((0, 1), dtype=int))
    shape_n, cells = len(first.shapes), (len(runs), len(first.dropouts))
    val, test = (np.empty((shape_n, *cells, n_seed)) for _ in range(2))
    lr, on_edge = np.empty((shape_n, *cells)), np.empty((shape_n, *cells), dtype=bool)
    span = np.empty((shape_n, *cells, 2))
    boot = np.empty((len(picks), shape_n, *cells))
    for b, batch in enumerate(runs):
        for s, result in enumerate(batch.shapes):
            for d, rate in enumerate(first.dropouts):
                lrs, v, t = result.at_dropout(rate)
                v = np.where(np.isfinite(v), v, np.inf)
                k = int(np.argmin(v.mean(axis=0)))
                val[s, b, d], test[s, b, d] = v[:, k], t[:, k]
                lr[s, b, d] = subgrid_argmin_rows(lrs, v.mean(axis=0)[None])[0]
                on_edge[s, b, d] = k in (0, lrs.size - 1)
                span[s, b, d] = lrs[0], lrs[-1]
                if len(picks):
                    boot[:, s, b, d] = subgrid_argmin_rows(lrs, v[picks].mean(axis=1))
    shapes = first.shapes
    return NuisanceStudy(np.array([s.n_params for s in shapes]), np.array([s.width for s in shapes]),
                         np.array([s.depth for s in shapes]),
                         np.array([r.spec.batch_size for r in runs]), np.array(first.dropouts),
                         val, test, lr, boot, on_edge, span)
