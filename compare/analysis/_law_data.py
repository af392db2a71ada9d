"""L(N, D) on digits: the loss over model sizes and training-set sizes, fitted with intervals
over the points, checked on held-out sizes, and the compute-optimal split it implies."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from compare.fit._data_law import DataLawFit, fit_data_law, law_rows
from empirical import ScalingRuns, ScalingSpec, load_digits_split
from empirical._core.arguments import MAX_RESAMPLES, SEED, checked, sequence_of, whole

DATA_FRACTIONS = (0.125, 0.25, 0.5)
"""The fractions of the training split the data axis trains on, beside the whole of it."""
SPLIT_SUPPORTED = 0.5
"""The compute-optimal split is stated only where the 95% interval of its exponent lies inside
(0, 1) and is narrower than this."""


def data_axis_specs(spec: ScalingSpec) -> tuple[ScalingSpec, ...]:
    """The data axis of ``spec``: its depth-1 shapes trained again on :data:`DATA_FRACTIONS`
    of its training examples (nested subsets, ``ScalingSpec.train_size``); none where fewer
    than three depth-1 shapes would carry the fit."""
    shallow = tuple(shape for shape in spec.shapes if shape.depth == 1)
    if len(shallow) < 3:
        return ()
    n_train = (spec.train_size if spec.train_size is not None
               else load_digits_split(spec.split_seed).y_train.shape[0])
    return tuple(replace(spec, shapes=shallow, train_size=max(1, round(fraction * n_train)))
                 for fraction in DATA_FRACTIONS)


@dataclass(frozen=True)
class HeldOut:
    """The law fitted without the largest value along one axis, predicting those points.

    Attributes
    ----------
    axis : {"N", "D"}
    value : float
        The held-out parameter count or data size.
    predicted, measured : ndarray, shape (n_held,)
        At the held-out points (the measured as seed means).
    error : float
        The mean relative error ``(predicted - measured) / measured`` over them.
    interval : tuple of float
        Its 2.5 and 97.5 percentiles over the reduced fit's bootstrap refits.

    See Also
    --------
    data_law_study : Computes two, one per axis.
    """

    axis: str
    value: float
    predicted: np.ndarray
    measured: np.ndarray
    error: float
    interval: tuple


@dataclass(frozen=True)
class DataLawStudy:
    """Test losses over model and data sizes, the fitted law and its held-out checks.

    Attributes
    ----------
    n_params, n_examples : ndarray, shape (n_points,)
    losses : ndarray, shape (n_points, n_seed)
        Test loss per seed at each point's tuned rate.
    fit : DataLawFit
        Fitted to the seed means, with intervals from a bootstrap over the points.
    held_out : tuple of HeldOut
        Without the largest ``N``, then without the largest ``D``.

    See Also
    --------
    data_law_study : Builds it.
    fit_data_law : The fit.
    """

    n_params: np.ndarray
    n_examples: np.ndarray
    losses: np.ndarray
    fit: DataLawFit
    held_out: tuple

    def compute_optimal_split(self) -> dict:
        """:meth:`DataLawFit.compute_optimal_exponents` with whether its intervals support
        stating it (:data:`SPLIT_SUPPORTED`): ``{"a", "a_interval", "b", "b_interval",
        "supported"}``."""
        split = self.fit.compute_optimal_exponents()
        (a, a_iv), (b, b_iv) = split["a"], split["b"]
        supported = bool(np.all(np.isfinite(a_iv)) and 0 < a_iv[0] and a_iv[1] < 1
                         and a_iv[1] - a_iv[0] < SPLIT_SUPPORTED)
        return dict(a=a, a_interval=list(a_iv), b=b, b_interval=list(b_iv), supported=supported)


def _held_out(axis: str, keep: np.ndarray, n, d, mean, n_boot: int, seed: int) -> HeldOut:
    fit = fit_data_law(n[keep], d[keep], mean[keep], n_boot=n_boot, seed=seed)
    held = ~keep
    predicted = fit.predict(n[held], d[held])
    error = float(np.mean((predicted - mean[held]) / mean[held]))
    laws = law_rows(fit.replicates, n[held], d[held])
    errors = np.mean((laws - mean[held]) / mean[held], axis=1)
    lo, hi = np.percentile(errors[np.isfinite(errors)], [2.5, 97.5])
    value = float((n if axis == "N" else d)[held][0])
    return HeldOut(axis, value, predicted, mean[held], error, (float(lo), float(hi)))


@checked(runs=sequence_of(ScalingRuns), n_boot=whole(2, MAX_RESAMPLES), seed=SEED)
def data_law_study(runs, *, n_boot: int = 200, seed: int = 0) -> DataLawStudy:
    """Fit :math:`L(N, D)` to studies that differ in their training-set size.

    Each of ``runs`` is one :func:`empirical.run_scaling_study` (its shapes tuned on
    ``n_train`` examples); every shape of every study is a point ``(N, D, loss)``, its loss the
    seed mean of the test loss at its tuned rate. :func:`fit_data_law` fits them all; then,
    as held-out checks, the law is refitted without the largest parameter count and without
    the largest data size, and predicts the points it left out (the mean relative error, and
    its interval over that refit's bootstrap).

    Parameters
    ----------
    runs : sequence of ScalingRuns
        At least two data sizes, each with the same shapes, at least three sizes per axis.
    n_boot : int, default 200
    seed : int, default 0

    Returns
    -------
    DataLawStudy

    See Also
    --------
    fit_data_law : The fit.
    compare.run_scaling_law : Runs the data axis and reports it.
    """
    shapes = {tuple((r.shape.width, r.shape.depth) for r in rr.shapes) for rr in runs}
    sizes = sorted(rr.n_train for rr in runs)
    if len(shapes) != 1 or len(set(sizes)) != len(sizes) or len(sizes) < 3:
        raise ValueError(f"runs must share their shapes and differ in their training-set size, "
                         f"at least three sizes; got {len(shapes)} sets of shapes and sizes "
                         f"{sizes}")
    if len(next(iter(shapes))) < 3:
        raise ValueError("runs need at least three shapes each")
    n = np.concatenate([rr.n_params for rr in runs]).astype(float)
    d = np.concatenate([np.full(len(rr.shapes), float(rr.n_train)) for rr in runs])
    losses = np.concatenate([rr.test_loss for rr in runs])
    mean = losses.mean(axis=1)
    fit = fit_data_law(n, d, mean, n_boot=n_boot, seed=seed)
    held = (_held_out("N", n < n.max(), n, d, mean, n_boot, seed),
            _held_out("D", d < d.max(), n, d, mean, n_boot, seed))
    return DataLawStudy(n, d, losses, fit, held)
