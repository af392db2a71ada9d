"""Weighted log-space fits of the scaling rules to measured optima, bootstrap intervals, AICc."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import chdtrc  # the chi-square distribution's upper tail

from compare.fit._rules import RULES, ScalingRule, _batch
from empirical._core.arguments import checked, kind, numbers, optional, real, whole
from empirical._core.intervals import bootstrap_interval

POSITIVES = numbers(1, low=0.0, open_low=True)
MIN_LOG_SD = 1e-100
"""The smallest standard deviation of a log rate: below it the weights 1/sd^2 overflow."""

COMPARED = ("constant", "linear", "sqrt", "power", "logarithmic", "saturating", "surge")
"""Every rule fitted, drawn and scored against the others by AICc (``power`` also gives the
free exponent, ``constant`` is the null rule)."""

LACK_OF_FIT = 0.01
"""Below this p-value of its weighted chi-square the best rule does not fit the optima within
their seed noise, and no rule is called the best."""

TIE = 2.0
"""Rules whose AICc lies within this of the lowest are tied with it: a difference under 2 is
no evidence for either (Burnham & Anderson, *Model Selection and Multimodel Inference*, 2002,
Sec. 2.6)."""

B_NOISE_RANGE = 100.0
"""A batch-size parameter (``b_noise``, ``b0``) is fitted within [min(B) / 100, 100 max(B)]: a
fit at a bound means the data show no turn (the rule reduces to its small- or large-batch
limit)."""

@dataclass(frozen=True)
class RuleFit:
    """One rule fitted to one study.

    Attributes
    ----------
    rule : str
    params : dict of str to float
        Best-fit parameters.
    intervals : dict of str to tuple of float
        95% bootstrap intervals over seeds (equal to the point with one seed).
    chi2 : float
        Weighted residual sum of squares in log lr.
    aicc : float
        Small-sample Akaike criterion. With the standard deviations of ``log lr`` known (the
        fits to measured optima, weighted by their bootstrap): :math:`\\chi^2 + 2k +
        2k(k+1)/(n-k-1)`, :math:`k` the rule's parameters. Without them (equal weights, the
        residual scale estimated): :math:`n \\log(\\chi^2/n) + 2k' + 2k'(k'+1)/(n-k'-1)` with
        :math:`k' = k + 1`. ``inf`` where :math:`n - k - 1` (or :math:`n - k' - 1`) is not
        positive: too few batch sizes to score the rule.

    See Also
    --------
    fit_rule : Fits one rule.
    ScalingFit : Every rule of a study.
    """

    rule: str
    params: dict
    intervals: dict
    chi2: float
    aicc: float

    def predict(self, batch_sizes) -> np.ndarray:
        return RULES[self.rule](_batch(batch_sizes), *self.params.values())


@dataclass(frozen=True)
class ScalingFit:
    """Every rule fitted to a study's optima, the free exponent and the verdict.

    Attributes
    ----------
    batch_sizes : ndarray, shape (n_b,)
    lr : ndarray, shape (n_b,)
        Measured optimum per batch size (the fit's data).
    log_sd : ndarray, shape (n_b,)
        Standard deviation of ``log lr`` used as the fit's weight.
    exponent : float
        Free power-law exponent :math:`\\alpha` in :math:`\\eta \\propto B^\\alpha`.
    exponent_interval : tuple of float
        Its 95% bootstrap interval over seeds.
    rules : dict of str to RuleFit
        Every rule of :data:`COMPARED`.
    preferred : str or None
        The rule with the lowest AICc among those the exponent's interval allows; ``None``
        where some rule cannot be scored (too few batch sizes to choose).
    tied : tuple of str
        Every allowed rule within :data:`TIE` of the lowest AICc, ``preferred`` first: the
        rules the data cannot tell apart; empty where ``preferred`` is ``None``.
    excluded : tuple of str
        The rules of fixed exponent (constant 0, square root 1/2, linear 1) that the
        exponent's interval excludes: never preferred or tied, whatever their AICc (with one
        seed there is no interval and nothing is excluded).
    lack_of_fit : float
        The p-value of ``preferred``'s chi-square on ``n - k`` degrees of freedom (the weights
        are the seeds' variances): below :data:`LACK_OF_FIT` no rule fits within the seed
        noise. ``nan`` without a preferred rule or without degrees of freedom.
    local_exponents : ndarray, shape (n_b - 1,)
        :math:`\\Delta\\log\\eta / \\Delta\\log B` between neighbouring batch sizes: the
        exponent where the curve is not one power law.
    local_intervals : ndarray, shape (n_b - 1, 2)
        Their 95% bootstrap intervals over seeds (equal to the point with one seed).
    growth : float
        ``lr[-1] / lr[0]``: how much the optimum grows over the measured batch sizes.
    growth_interval : tuple of float
        Its 95% bootstrap interval over seeds.

    See Also
    --------
    fit_scaling : Computes it.
    RuleFit : One rule's fit.
    conclusions : The sentences it supports.
    """

    batch_sizes: np.ndarray
    lr: np.ndarray
    log_sd: np.ndarray
    exponent: float
    exponent_interval: tuple
    rules: dict
    preferred: str | None
    tied: tuple
    excluded: tuple
    lack_of_fit: float
    local_exponents: np.ndarray
    local_intervals: np.ndarray
    growth: float
    growth_interval: tuple

    def verdict(self, label: str) -> str:
        """One line: the exponent with its interval, the best rule (ties named), and square
        root against linear where the interval allows both."""
        lo, hi = self.exponent_interval
        inside = [f"{SLOPE_NAMES[k]} ({FIXED_SLOPES[k]:g})" for k in FIXED_SLOPES
                  if lo <= FIXED_SLOPES[k] <= hi]
        outside = [f"{SLOPE_NAMES[k]} ({FIXED_SLOPES[k]:g})" for k in FIXED_SLOPES
                   if not lo <= FIXED_SLOPES[k] <= hi]
        consistent = "; ".join(part for part in (
            f"consistent with {_and(inside)}" if inside else "",
            f"excludes {_and(outside)}" if outside else "") if part)
        parts = [f"{label}: exponent {self.exponent:.2f} [{lo:.2f}, {hi:.2f}], {consistent}",
                 self.choice()]
        if {"linear", "sqrt"} <= set(k for k in FIXED_SLOPES if lo <= FIXED_SLOPES[k] <= hi):
            delta = self.rules["linear"].aicc - self.rules["sqrt"].aicc
            if not np.isfinite(delta):
                parts.append("too few batch sizes to compare square root and linear")
            elif abs(delta) < TIE:
                parts.append(f"square root and linear indistinguishable (dAICc {abs(delta):.1f})")
            else:
                better, worse = ("square root", "linear") if delta > 0 else ("linear", "square root")
                parts.append(f"{better} preferred over {worse} (dAICc {abs(delta):.1f})")
        return "; ".join(parts)

    def choice(self) -> str:
        """Which rule the data choose, or why none: too few batch sizes, no fit within the
        noise, a tie."""
        if self.preferred is None:
            return (f"too few batch sizes ({self.batch_sizes.size}) to choose among the rules "
                    "(AICc needs more batch sizes than parameters + 1 for every rule)")
        best = self.rules[self.preferred]
        if self.lack_of_fit < LACK_OF_FIT:
            dof = self.batch_sizes.size - len(best.params)
            return (f"no rule fits within the seeds' noise ({self.preferred}, the closest, has "
                    f"chi^2 {best.chi2:.3g} on {dof} degrees of freedom, p = "
                    f"{self.lack_of_fit:.2g})")
        if len(self.tied) > 1:
            return (f"{', '.join(self.tied[:-1])} and {self.tied[-1]} tie for the best fit "
                    f"(AICc within {TIE:g})")
        return f"{self.preferred} fits best (AICc)"


def _and(names: list) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _aicc(chi2: float, n: int, k: int, *, known_variance: bool) -> float:
    """AICc of a fit with ``k`` parameters to ``n`` points (see :class:`RuleFit`)."""
    if not known_variance:
        k += 1                                              # the residual scale
    if n - k - 1 <= 0:
        return float("inf")
    penalty = 2 * k + 2 * k * (k + 1) / (n - k - 1)
    if known_variance:
        return float(chi2 + penalty)
    return float(n * np.log(max(chi2, 1e-300) / n) + penalty)


def _to_params(rule: ScalingRule, z) -> np.ndarray:
    return np.array([np.exp(v) if log else v for v, log in zip(z, rule.log_params, strict=True)])


FIXED_SLOPES = {"constant": 0.0, "sqrt": 0.5, "linear": 1.0}
"""The rules that are lines in log space with a fixed slope; ``power`` is one with a free slope."""
SLOPE_NAMES = {"constant": "constant", "sqrt": "square root", "linear": "linear"}
LINES = (*FIXED_SLOPES, "power")


def _fit_lines(rule: ScalingRule, log_b, log_lr_rows, sd) -> tuple[np.ndarray, np.ndarray]:
    r"""The exact weighted least-squares fit of a rule that is a line in log space
    (:math:`\log\eta = z_0 + s\log B`, the slope fixed or, for ``power``, free), for every row
    of ``log_lr_rows`` (m, n_b) at once; returns z (m, k) and chi2 (m,)."""
    rows = np.atleast_2d(log_lr_rows)
    if rule.name == "power":
        design, target = np.column_stack([np.ones_like(log_b), log_b]), rows
    else:
        design, target = np.ones((log_b.size, 1)), rows - FIXED_SLOPES[rule.name] * log_b
    weighted = design / sd[:, None]
    z = np.linalg.lstsq(weighted, (target / sd).T, rcond=None)[0].T
    chi2 = np.sum((target / sd - z @ weighted.T) ** 2, axis=1)
    return z, chi2


def _shape(rule: str, x: np.ndarray) -> np.ndarray:
    r"""The curved rules as :math:`\log\eta = z_0 + h(\log B - z_1)`: ``h`` of each, computed
    without overflow (``z_1`` is :math:`\log B_0` or :math:`\log B_{noise}`)."""
    if rule == "saturating":                     # 1 / (1 + e^-x)
        return -np.logaddexp(0.0, -x)
    if rule == "surge":                          # 1 / (0.5 (e^-x/2 + e^x/2))
        return np.log(2.0) - np.logaddexp(-0.5 * x, 0.5 * x)
    with np.errstate(divide="ignore"):           # logarithmic: log(1 + e^x)
        return np.where(x < -30.0, x, np.log(np.logaddexp(0.0, x)))


PROFILE_GRID = 200
"""Points of the grid over the batch-size parameter that brackets each curved fit's minimum."""
PROFILE_ROUNDS = 60
"""Golden-section rounds that shrink the bracket (by 0.618^60, below 1e-12 of a grid step)."""
_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0


def _fit_profile(shape: Callable, log_b, rows, sd) -> tuple[np.ndarray, np.ndarray]:
    r"""The weighted least-squares fit of :math:`y = z_0 + h(\log B - z_1)` (``shape`` is
    ``h``) to every row of ``rows`` (m, n_b) at once; returns z (m, 2) and chi2 (m,).

    The level :math:`z_0` enters linearly, so for each batch-size parameter :math:`z_1` its
    best value is the weighted mean of :math:`y_i - h(\log B_i - z_1)`; what is left
    is one dimension. :math:`z_1` is searched on a grid of :data:`PROFILE_GRID` points over
    its bounds (:data:`B_NOISE_RANGE`), then by golden section between the neighbours of the
    best grid point: the global minimum up to one grid step's resolution, to ~1e-12 of it.
    """
    rows = np.atleast_2d(rows)
    weights = sd**-2.0

    def profile(block: np.ndarray, z1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """chi2 and the best z0 of each row of ``block`` at each of its z1 (m, k)."""
        gap = block[:, None, :] - shape(log_b - z1[..., None])
        z0 = gap @ weights / weights.sum()
        return np.sum(((gap - z0[..., None]) / sd) ** 2, axis=-1), z0

    grid = np.linspace(log_b.min() - np.log(B_NOISE_RANGE), log_b.max() + np.log(B_NOISE_RANGE),
                       PROFILE_GRID)
    z, chi2 = np.empty((len(rows), 2)), np.empty(len(rows))
    size = max(1, 10**7 // (PROFILE_GRID * log_b.size))          # rows per block: <= 1e7 values
    for first in range(0, len(rows), size):
        block = rows[first:first + size]
        best = np.argmin(profile(block, np.broadcast_to(grid, (len(block), grid.size)))[0], axis=1)
        lo, hi = grid[np.maximum(best - 1, 0)], grid[np.minimum(best + 1, grid.size - 1)]
        for _ in range(PROFILE_ROUNDS):
            left, right = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
            at = profile(block, np.column_stack([left, right]))[0]
            keep_left = at[:, 0] <= at[:, 1]
            lo, hi = np.where(keep_left, lo, left), np.where(keep_left, right, hi)
        z1 = 0.5 * (lo + hi)
        found, z0 = profile(block, z1[:, None])
        z[first:first + size] = np.column_stack([z0[:, 0], z1])
        chi2[first:first + size] = found[:, 0]
    return z, chi2


def _fit_rows(rule: ScalingRule, log_b, rows, sd) -> tuple[np.ndarray, np.ndarray]:
    """Every row of ``rows`` (m, n_b) fitted at once, exactly for the lines, by the profile
    search for the curved rules; returns z (m, k) and chi2 (m,)."""
    if rule.name in LINES:
        return _fit_lines(rule, log_b, rows, sd)
    return _fit_profile(lambda x: _shape(rule.name, x), log_b, rows, sd)


@checked(rule=kind(str))
def fit_rule(rule: str, batch_sizes, lr, log_sd=None) -> RuleFit:
    """Fit one rule to optimal learning rates by weighted least squares in ``log lr``.

    Minimizes :math:`\\chi^2 = \\sum_i [\\log \\eta_i - \\log f(B_i; \\theta)]^2 / s_i^2`, the
    positive parameters fitted as logarithms.

    Parameters
    ----------
    rule : {"linear", "sqrt", "power", "logarithmic", "saturating", "surge"}
    batch_sizes : array_like of float, shape (n_b,)
    lr : array_like of float, shape (n_b,)
        Measured optima, ``> 0``.
    log_sd : array_like of float, shape (n_b,), optional
        Standard deviation of each ``log lr``, taken as known (the AICc of :class:`RuleFit`
        uses the chi-square itself); equal weights and an estimated residual scale if omitted.

    Returns
    -------
    RuleFit
        Without intervals (see :func:`fit_scaling` for those).

    References
    ----------
    .. [1] K. P. Burnham, D. R. Anderson, Model Selection and Multimodel Inference, 2nd ed.
       (2002), sec. 2.4 (AICc).

    See Also
    --------
    fit_scaling : Every rule with bootstrap intervals, local exponents and the AICc verdict.
    compare.RULES : The rules by name, with the meaning of each parameter.

    Examples
    --------
    >>> from compare import fit_rule
    >>> fit = fit_rule("saturating", [1, 4, 16, 64, 256], [0.0099, 0.038, 0.14, 0.39, 0.72])
    >>> {k: round(v, 1) for k, v in fit.params.items()}
    {'lr_max': 1.0, 'b_noise': 100.4}
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)}; got {rule!r}")
    log_b, log_lr, sd = _validate(batch_sizes, lr, log_sd)
    spec = RULES[rule]
    z, chi2 = (v[0] for v in _fit_rows(spec, log_b, log_lr, sd))
    params = dict(zip(spec.params, (float(p) for p in _to_params(spec, z)), strict=True))
    return RuleFit(rule, params, {k: (v, v) for k, v in params.items()}, float(chi2),
                   _aicc(float(chi2), log_b.size, len(spec.params),
                         known_variance=log_sd is not None))


def _validate(batch_sizes, lr, log_sd):
    numbers(1, low=1.0)("batch_sizes", batch_sizes)
    POSITIVES("lr", lr)
    b = np.asarray(batch_sizes, dtype=float)
    lr = np.asarray(lr, dtype=float)
    if len(np.unique(b)) != b.size:
        raise ValueError(f"batch_sizes must not repeat, got {batch_sizes!r}")
    if lr.shape != b.shape or b.size < 2:
        raise ValueError(f"need matching 1-d batch_sizes and lr with at least 2 entries, got "
                         f"shapes {b.shape} and {lr.shape}")
    if log_sd is None:
        return np.log(b), np.log(lr), np.ones_like(b)
    numbers(None, low=MIN_LOG_SD)("log_sd", log_sd)
    if np.size(log_sd) not in (1, b.size):
        raise ValueError(f"log_sd must be one number or one per batch size ({b.size}), got "
                         f"{np.size(log_sd)}")
    return np.log(b), np.log(lr), np.broadcast_to(np.asarray(log_sd, float).ravel(), b.shape)


@checked(boot_lr=numbers(None, low=0.0, open_low=True, finite=False, nan=True, min_size=0),
         n_seeds=optional(whole(1)), min_log_sd=real(0.0, 10.0, open_low=True))
def fit_scaling(batch_sizes, lr, boot_lr, *, n_seeds: int | None = None,
                min_log_sd: float = 0.05) -> ScalingFit:
    """Fit every rule and the free exponent, with intervals from a bootstrap over seeds.

    Each parameter's interval is :math:`\\hat z \\pm t_{0.975,\\,n-1}\\, s^* \\sqrt{n/(n-1)}`
    in the fitted coordinate :math:`z` (the logarithm for positive parameters), where
    :math:`s^*` is the standard deviation of :math:`z` refitted to each bootstrap row and
    :math:`n` the number of seeds: the bootstrap standard error of a mean over :math:`n` seeds
    is low by :math:`\\sqrt{(n-1)/n}`, and Student's quantile accounts for estimating it from
    :math:`n` seeds (percentile intervals covered a known exponent only 70-80% of the time at
    5-10 seeds). Without ``n_seeds`` the normal quantile 1.96 is used.

    The weight of batch size :math:`i` is :math:`1/s_i^2` with :math:`s_i^2 = \\tfrac12 v_i +
    \\tfrac12 \\bar v + s_{\\min}^2`: its bootstrap variance :math:`v_i` shrunk halfway to the
    mean over batch sizes, plus a floor.

    The rules are chosen so that the verdict cannot contradict the study's own numbers: the
    AICc of each is its weighted chi-square plus the small-sample penalty, the variances
    taken as known (:class:`RuleFit`); a rule of fixed exponent (:data:`FIXED_SLOPES`) that the
    exponent's interval excludes is never chosen; where any rule cannot be scored (``n_b``
    at most its parameters + 1) none is chosen; and where the chosen rule's chi-square has a
    p-value under :data:`LACK_OF_FIT` the verdict says no rule fits within the seed noise.

    Parameters
    ----------
    batch_sizes : array_like of float, shape (n_b,)
    lr : array_like of float, shape (n_b,)
        Measured optimum per batch size.
    boot_lr : array_like of float, shape (n_boot, n_b)
        The optimum re-estimated on bootstrap resamples of the seeds, the *same* resample for
        every batch size in a row (a run seed is shared across batch sizes). Its spread per
        batch size weights the fit; each row is refitted for the intervals.
    n_seeds : int, optional
        Number of seeds the bootstrap resampled.
    min_log_sd : float, default 0.05
        Floor of the per-batch-size standard deviation of ``log lr``, so a batch size whose
        seeds agree exactly (or a single seed) does not get unbounded weight.

    Returns
    -------
    ScalingFit

    See Also
    --------
    fit_rule : One rule, no intervals.
    compare.analyze : A sweep's optima under both criteria, fitted with this.
    compare.bootstrap_optima : The ``boot_lr`` rows of a sweep.

    References
    ----------
    .. [1] K. P. Burnham, D. R. Anderson, Model Selection and Multimodel Inference, 2nd ed.
       (2002), sec. 2.4 (AICc) and 2.6 (differences under 2).
    .. [2] B. Efron, R. J. Tibshirani, An Introduction to the Bootstrap (1993), ch. 6 and 12
       (bootstrap standard errors and Student's t intervals).

    Examples
    --------
    Optima on a square-root rule, each resample scattered by 5% in ``log lr``:

    >>> import numpy as np
    >>> from compare import fit_scaling
    >>> b = np.array([2, 8, 32, 128, 512])
    >>> boot = 0.01 * np.sqrt(b) * np.exp(0.05 * np.random.default_rng(0).standard_normal((200, 5)))
    >>> fit = fit_scaling(b, 0.01 * np.sqrt(b), boot, n_seeds=5)
    >>> round(fit.exponent, 3), [round(v, 2) for v in fit.exponent_interval], fit.choice()
    (0.5, [0.46, 0.54], 'sqrt fits best (AICc)')
    """
    boot = np.log(np.asarray(boot_lr, dtype=float))
    boot = boot[np.all(np.isfinite(boot), axis=1)] if boot.size else boot
    if len(boot):
        # per-batch-size variance shrunk halfway to the pooled one: weights estimated from a
        # handful of seeds are noisy, and that noise (which the bootstrap does not see)
        # widened the exponent's sampling spread enough to spoil the intervals' coverage
        var = np.var(boot, axis=0)
        sd = np.sqrt(0.5 * var + 0.5 * var.mean() + min_log_sd**2)
    else:
        sd = min_log_sd
    log_b, log_lr, sd = _validate(batch_sizes, lr, sd)
    fits = {}
    for name in COMPARED:
        point = fit_rule(name, np.exp(log_b), np.exp(log_lr), sd)
        spec = RULES[name]
        z_hat = np.array([np.log(v) if log else v
                          for v, log in zip(point.params.values(), spec.log_params, strict=True)])
        intervals = {k: (v, v) for k, v in point.params.items()}
        if len(boot) >= 2:
            replicates = _fit_rows(spec, log_b, boot, sd)[0]
            lows, highs = (_to_params(spec, z) for z in bootstrap_interval(z_hat, replicates,
                                                                           n_seeds))
            intervals = {k: (float(lo), float(hi))
                         for k, lo, hi in zip(point.params, lows, highs, strict=True)}
        fits[name] = RuleFit(name, point.params, intervals, point.chi2, point.aicc)
    lo, hi = fits["power"].intervals["exponent"]
    excluded = tuple(k for k, slope in FIXED_SLOPES.items()
                     if len(boot) >= 2 and not lo <= slope <= hi)
    ranked = sorted((k for k in COMPARED if k not in excluded),
                    key=lambda k: (fits[k].aicc, fits[k].chi2))
    if all(np.isfinite(fits[k].aicc) for k in COMPARED):
        preferred = ranked[0]
        tied = tuple(k for k in ranked if fits[k].aicc - fits[preferred].aicc < TIE)
        dof = log_b.size - len(RULES[preferred].params)
        lack_of_fit = float(chdtrc(dof, fits[preferred].chi2)) if dof > 0 else float("nan")
    else:
        preferred, tied, lack_of_fit = None, (), float("nan")
    local = np.diff(log_lr) / np.diff(log_b)
    growth = log_lr[-1] - log_lr[0]
    if len(boot) >= 2:
        local_intervals = np.column_stack(bootstrap_interval(
            local, np.diff(boot, axis=1) / np.diff(log_b), n_seeds))
        growth_interval = bootstrap_interval(growth, boot[:, -1] - boot[:, 0], n_seeds)
    else:
        local_intervals, growth_interval = np.column_stack([local, local]), (growth, growth)
    return ScalingFit(np.exp(log_b), np.exp(log_lr), sd, fits["power"].params["exponent"],
                      fits["power"].intervals["exponent"], fits, preferred, tied, excluded,
                      lack_of_fit, local, local_intervals, float(np.exp(growth)),
                      tuple(float(v) for v in np.exp(growth_interval)))
