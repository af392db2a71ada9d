"""Fitting L(N) = E + A N^-alpha the way Hoffmann et al. (2022) fit their third approach."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize
from scipy.special import fdtrc  # the F distribution's upper tail

from empirical._core.arguments import FRACTION, MAX_RESAMPLES, SEED, checked, numbers, real, whole
from empirical._core.intervals import bootstrap_interval

HUBER_DELTA = 1e-3


ALPHA_BOUNDS = (0.0, 3.0)
"""The exponent is fitted within these bounds; a fit at a bound has no exponent to report."""


@dataclass(frozen=True)
class LawFit:
    r"""A fitted :math:`L(N) = E + A N^{-\alpha}`.

    Attributes
    ----------
    E, A, alpha : float
        Irreducible loss, scale and exponent.
    intervals : dict of str to tuple of float
        95% bootstrap intervals over seeds (points with one seed).
    objective : float
        The Huber objective at the optimum.
    chi2 : float
        :math:`\sum_i (\log \bar L_i - \log L(N_i))^2 / s^2`, with :math:`s^2` the variance
        of a log seed-mean loss pooled over the sizes (each size's variance of its seeds' log
        losses over the seed count); ``nan`` with one seed.
    lack_of_fit : float
        The p-value of ``chi2 / (n_size - 3)`` on Fisher's F with ``n_size - 3`` and
        ``n_size (n_seed - 1)`` degrees of freedom (the variance is estimated): a small value
        means the law misses the seed-mean losses by more than their noise, a misfit the
        intervals over seeds do not include. ``nan`` with one seed or three sizes.

    See Also
    --------
    fit_scaling_law : Fits it.
    Extrapolation : The fit checked on a held-out size.
    """

    E: float
    A: float
    alpha: float
    intervals: dict
    objective: float
    replicates: np.ndarray = field(default=None, compare=False, repr=False)
    n_seeds: int = 1
    chi2: float = float("nan")
    lack_of_fit: float = float("nan")

    @property
    def alpha_at_bound(self) -> bool:
        """The exponent sits at a bound of :data:`ALPHA_BOUNDS`: the data set no exponent."""
        return bool(np.isclose(self.alpha, ALPHA_BOUNDS, atol=1e-6).any())

    @checked(n_params=numbers(None, low=1.0))
    def predict(self, n_params) -> np.ndarray:
        return self.E + self.A * np.asarray(n_params, dtype=float) ** -self.alpha

    @checked(n_params=numbers(None, low=1.0))
    def band(self, n_params) -> tuple[np.ndarray, np.ndarray]:
        """95% band of :meth:`predict`, from the bootstrap refits (as the intervals)."""
        log_n = np.log(np.asarray(n_params, dtype=float))
        center = np.log(self.predict(np.exp(log_n)))
        if self.replicates is None or len(self.replicates) < 2:
            return np.exp(center), np.exp(center)
        a, e, alpha = (self.replicates[:, i, None] for i in range(3))
        reps = np.logaddexp(e, a - alpha * log_n)
        lo, hi = bootstrap_interval(center, reps, self.n_seeds)
        return np.exp(lo), np.exp(hi)


def _huber(r: np.ndarray, delta: float) -> np.ndarray:
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta))


def _objective(z, log_n, log_l, delta):
    a, e, alpha = z
    pred = np.logaddexp(e, a - alpha * log_n)          # log(E + A N^-alpha)
    r = pred - log_l
    # gradient of sum huber(r): huber'(r) = clip(r, -delta, delta)
    g = np.clip(r, -delta, delta)
    w_power = np.exp(a - alpha * log_n - pred)          # d pred / d a
    w_floor = np.exp(e - pred)                          # d pred / d e
    grad = np.array([np.sum(g * w_power), np.sum(g * w_floor), np.sum(-g * w_power * log_n)])
    return float(np.sum(_huber(r, delta))), grad


def _fit(log_n, log_l, starts, delta) -> tuple[np.ndarray, float]:
    best = None
    for z0 in starts:
        # the objective is O(delta * residual): tight tolerances, or a refit started at the
        # previous optimum stops at once and the bootstrap intervals collapse
        res = minimize(_objective, z0, args=(log_n, log_l, delta), jac=True, method="L-BFGS-B",
                       bounds=[(None, None), (None, None), ALPHA_BOUNDS],
                       options=dict(ftol=1e-15, gtol=1e-12, maxiter=2000))
        if best is None or res.fun < best.fun:
            best = res
    return best.x, float(best.fun)


def _start_grid(log_l) -> list[np.ndarray]:
    low = float(np.min(log_l))
    return [np.array([a, e, alpha]) for a in (0.0, 2.5, 5.0, 10.0)
            for e in (low - 3.0, low - 1.0, low - 0.3) for alpha in (0.1, 0.4, 1.0)]


def _sizes_and_losses(n_params, losses) -> tuple[np.ndarray, np.ndarray]:
    """Validated parameter counts (n_size,) and losses as (n_size, n_seed)."""
    numbers(1, low=1.0)("n_params", n_params)
    numbers(None, low=0.0, open_low=True)("losses", losses)
    n = np.asarray(n_params, dtype=float)
    L = np.asarray(losses, dtype=float)
    L = L[:, None] if L.ndim == 1 else L
    if n.ndim != 1 or L.shape[0] != n.size or n.size < 3:
        raise ValueError(f"need at least 3 sizes with one loss row each, got n_params of shape "
                         f"{n.shape} and losses of shape {np.shape(losses)}")
    if np.any(~np.isfinite(n) | (n <= 0)) or np.any(~np.isfinite(L) | (L <= 0)):
        raise ValueError("parameter counts and losses must be finite and > 0")
    return n, L


@checked(n_boot=whole(2, MAX_RESAMPLES), seed=SEED, delta=real(0.0, 10.0, open_low=True))
def fit_scaling_law(n_params, losses, *, n_boot: int = 200, seed: int = 0,
                    delta: float = HUBER_DELTA) -> LawFit:
    r"""Fit :math:`L(N) = E + A N^{-\alpha}` to per-size losses, with intervals over seeds.

    Minimizes :math:`\sum_i \mathrm{Huber}_\delta\big(\mathrm{LSE}(a - \alpha \log N_i, e) -
    \log L_i\big)` over :math:`(a, e, \alpha)`, with :math:`A = e^a`, :math:`E = e^e`, by
    L-BFGS from a grid of 36 starting points (Hoffmann et al. 2022, approach 3, with
    :math:`\delta = 10^{-3}`). ``losses`` holds one column per seed; the fit is to the
    seed-mean, and the intervals come from refitting bootstrap resamples of the seeds
    (:func:`empirical._core.intervals.bootstrap_interval`: Student's quantile, fitted coordinates).

    Parameters
    ----------
    n_params : array_like of float, shape (n_size,)
        Parameter counts :math:`N_i`.
    losses : array_like of float, shape (n_size,) or (n_size, n_seed)
        Loss of each size (per seed).
    n_boot : int, default 200
    seed : int, default 0
        Seed of the resampling.
    delta : float, default 1e-3

    Returns
    -------
    LawFit

    See Also
    --------
    extrapolation_check : The fit checked on the largest size.
    summarize_scaling_law : The study's summary and sentences.

    References
    ----------
    .. [1] J. Hoffmann et al., "Training compute-optimal large language models",
       arXiv:2203.15556, Sec. 3.3 and App. D.2.

    Examples
    --------
    >>> import numpy as np
    >>> from compare import fit_scaling_law
    >>> n = np.array([1e3, 3e3, 1e4, 3e4, 1e5, 3e5])
    >>> fit = fit_scaling_law(n, 0.5 + 40.0 * n**-0.6)
    >>> round(fit.E, 3), round(fit.A, 1), round(fit.alpha, 3)
    (0.5, 40.0, 0.6)
    """
    n, L = _sizes_and_losses(n_params, losses)
    log_n = np.log(n)
    z_hat, objective = _fit(log_n, np.log(L.mean(axis=1)), _start_grid(np.log(L)), delta)
    n_seed = L.shape[1]
    replicates = None
    if n_seed >= 2:
        picks = np.random.default_rng(seed).integers(0, n_seed, (n_boot, n_seed))
        replicates = np.array([_fit(log_n, np.log(L[:, p].mean(axis=1)), [z_hat], delta)[0]
                               for p in picks])
        lo, hi = bootstrap_interval(z_hat, replicates, n_seed)
    else:
        lo = hi = z_hat
    intervals = {"A": (float(np.exp(lo[0])), float(np.exp(hi[0]))),
                 "E": (float(np.exp(lo[1])), float(np.exp(hi[1]))),
                 "alpha": (float(lo[2]), float(hi[2]))}
    chi2 = lack_of_fit = float("nan")
    if n_seed >= 2:
        # the variance of log(mean loss), as that of the mean of the seeds' log losses (the
        # delta method, free of overflow), pooled over the sizes: a few seeds estimate one
        # size's variance too poorly for a chi-square with known variances
        pooled = max(float(np.mean(np.log(L).var(axis=1, ddof=1))) / n_seed, 1e-300)
        residual = np.log(L.mean(axis=1)) - np.logaddexp(z_hat[1], z_hat[0] - z_hat[2] * log_n)
        chi2 = float(np.sum(residual**2) / pooled)
        if n.size > 3:
            lack_of_fit = float(fdtrc(n.size - 3, n.size * (n_seed - 1), chi2 / (n.size - 3)))
    return LawFit(float(np.exp(z_hat[1])), float(np.exp(z_hat[0])), float(z_hat[2]), intervals,
                  objective, replicates, n_seed, chi2, lack_of_fit)


@dataclass(frozen=True)
class Extrapolation:
    """Fit on the smaller sizes, predict the largest.

    Attributes
    ----------
    fit : LawFit
    n_fitted : int
        How many of the smallest sizes the fit saw.
    n_params : float
        The largest size.
    predicted, measured : float
    relative_error : float
        ``(predicted - measured) / measured``.

    See Also
    --------
    extrapolation_check : Computes it.
    LawFit : The fit it holds.
    """

    fit: LawFit
    n_fitted: int
    n_params: float
    predicted: float
    measured: float
    relative_error: float


@checked(fraction=FRACTION)
def extrapolation_check(n_params, losses, *, fraction: float = 2 / 3, **kwargs) -> Extrapolation:
    """Fit :func:`fit_scaling_law` on the smallest ``fraction`` of the sizes, predict the largest.

    See Also
    --------
    fit_scaling_law : The fit it refits on the smaller sizes.
    Extrapolation : What it returns.

    Examples
    --------
    >>> import numpy as np
    >>> from compare import extrapolation_check
    >>> n = np.array([1e3, 3e3, 1e4, 3e4, 1e5, 3e5])
    >>> check = extrapolation_check(n, 0.5 + 40.0 * n**-0.6)
    >>> check.n_fitted, abs(check.relative_error) < 1e-3
    (4, True)
    """
    n, L = _sizes_and_losses(n_params, losses)
    order = np.argsort(n)
    k = int(round(fraction * n.size))
    if not 3 <= k < n.size:
        raise ValueError(f"fraction={fraction:g} fits {k} of {n.size} sizes, which leaves no room "
                         "to extrapolate; need at least 3 fitted sizes and one held out")
    fit = fit_scaling_law(n[order[:k]], L[order[:k]], **kwargs)
    largest = order[-1]
    predicted = float(fit.predict(n[largest]))
    measured = float(L[largest].mean())
    return Extrapolation(fit, k, float(n[largest]), predicted, measured,
                         (predicted - measured) / measured)


def law_summary(fit: LawFit) -> dict:
    """A fitted law as JSON: E, A, alpha, their intervals and whether alpha is at its bound."""
    return dict(E=fit.E, A=fit.A, alpha=fit.alpha, alpha_at_bound=fit.alpha_at_bound,
                intervals={k: list(v) for k, v in fit.intervals.items()})
