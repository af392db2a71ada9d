"""The measured critical batch size: McCandlish et al.'s steps/examples hyperbola fitted."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from compare.fit._fits import _fit_profile
from empirical._core.arguments import checked, numbers, optional, whole
from empirical._core.intervals import bootstrap_interval


@dataclass(frozen=True)
class CriticalBatchFit:
    r"""The hyperbola :math:`S(B) = S_{\min}(1 + B_{\rm crit}/B)` fitted to steps to a target.

    Attributes
    ----------
    s_min, e_min, b_crit : float
        The fewest steps (infinite batch), the fewest examples (:math:`B \to 0`,
        :math:`E_{\min} = S_{\min} B_{\rm crit}`) and the critical batch size.
    s_min_interval, e_min_interval, b_crit_interval : tuple of float
        95% intervals from the bootstrap rows (Student's quantile over seeds, as the optima's
        fits), ``(nan, nan)`` without rows.
    b_crit_boot : ndarray, shape (n_boot,)
        :math:`B_{\rm crit}` refitted to each bootstrap row (``nan`` where a row has a
        non-finite step count), aligned with the rows given, for quantities built on several
        fits of the same resamples.

    See Also
    --------
    fit_critical_batch : Fits it.
    """

    s_min: float
    e_min: float
    b_crit: float
    s_min_interval: tuple
    e_min_interval: tuple
    b_crit_interval: tuple
    b_crit_boot: np.ndarray = field(default_factory=lambda: np.empty(0))


def _hyperbola(x: np.ndarray) -> np.ndarray:
    """log(1 + B_crit / B) at x = log B - log B_crit."""
    return np.logaddexp(0.0, -x)


def _fit_logs(log_b: np.ndarray, log_s_rows: np.ndarray) -> np.ndarray:
    """(log S_min, log B_crit) minimizing the squared error in log S, for every row of
    ``log_s_rows`` (m, n_b) at once: shape (m, 2)."""
    return _fit_profile(_hyperbola, log_b, log_s_rows, np.ones_like(log_b))[0]


@checked(batch_sizes=numbers(1, low=1.0), steps=numbers(1, low=0.0, open_low=True),
         boot_steps=optional(numbers(2, low=0.0, open_low=True, finite=False)),
         n_seeds=optional(whole(1)))
def fit_critical_batch(batch_sizes, steps, boot_steps=None, *,
                       n_seeds: int | None = None) -> CriticalBatchFit:
    r"""Fit McCandlish et al.'s trade-off between steps and examples to steps-to-target data.

    .. math::

        \Big(\frac{S}{S_{\min}} - 1\Big)\Big(\frac{E}{E_{\min}} - 1\Big) = 1,\quad E = BS
        \iff S(B) = S_{\min}\Big(1 + \frac{B_{\rm crit}}{B}\Big),\quad
        B_{\rm crit} = \frac{E_{\min}}{S_{\min}},

    where ``steps`` are the fewest steps :math:`S` to a target loss at each batch size
    :math:`B` (``batch_sizes``), fitted by least squares in :math:`\log S` over
    :math:`(\log S_{\min}, \log B_{\rm crit})`, with :math:`B_{\rm crit}` within
    a factor 100 beyond the measured batch sizes, as the rules' batch-size parameters (a fit at
    a bound: the data show no turn); the level is solved exactly and :math:`B_{\rm crit}` by
    the rules' profile search. ``boot_steps`` (``(n_boot, n_b)``, the same seed resample in a
    row) are refitted, all rows at once, for the intervals, with the optima's
    :func:`bootstrap_interval`.

    References
    ----------
    .. [1] S. McCandlish, J. Kaplan, D. Amodei, "An Empirical Model of Large-Batch Training",
       arXiv:1812.06162 (2018), eqs. 2.11-2.12.

    See Also
    --------
    nqm.steps_examples_tradeoff : The model it fits.
    nqm.mccandlish_lr : The learning rate of the same model.
    fit_scaling : The optima's fits.

    Examples
    --------
    >>> import numpy as np
    >>> from compare import fit_critical_batch
    >>> b = np.array([1, 4, 16, 64, 256, 1024])
    >>> fit = fit_critical_batch(b, 20 * (1 + 50 / b))
    >>> round(fit.s_min, 6), round(fit.b_crit, 6), round(fit.e_min, 6)
    (20.0, 50.0, 1000.0)
    """
    b = np.asarray(batch_sizes, dtype=float)
    s = np.asarray(steps, dtype=float)
    if b.ndim != 1 or b.shape != s.shape or b.size < 3:
        raise ValueError(f"need steps at 3 or more batch sizes, got {b.size} batch_sizes and "
                         f"{s.size} steps")
    if len(np.unique(b)) != b.size:
        raise ValueError(f"batch_sizes must not repeat, got {batch_sizes!r}")
    if boot_steps is not None and np.shape(boot_steps)[1:] != b.shape:
        raise ValueError(f"boot_steps must have one column per batch size ({b.size}), got shape "
                         f"{np.shape(boot_steps)}")
    if not (np.all(np.isfinite(s)) and np.all(s > 0) and np.all(b > 0)):
        raise ValueError("steps and batch sizes must be finite and > 0")
    z = _fit_logs(np.log(b), np.log(s))[0]
    nan = (float("nan"), float("nan"))
    intervals = [nan, nan, nan]
    b_crit_boot = np.empty(0)
    if boot_steps is not None and len(boot_steps):
        rows = np.asarray(boot_steps, dtype=float)
        usable = np.all(np.isfinite(rows) & (rows > 0), axis=1)
        boot = _fit_logs(np.log(b), np.log(rows[usable])) if usable.any() else np.empty((0, 2))
        b_crit_boot = np.full(len(rows), np.nan)
        b_crit_boot[usable] = np.exp(boot[:, 1])
        if len(boot) >= 2:
            zs = np.column_stack([boot, boot.sum(axis=1)])    # log S_min, log B_crit, log E_min
            lo, hi = bootstrap_interval(np.array([z[0], z[1], z.sum()]), zs, n_seeds)
            intervals = [tuple(float(v) for v in np.exp([lo[k], hi[k]])) for k in range(3)]
    return CriticalBatchFit(float(np.exp(z[0])), float(np.exp(z.sum())), float(np.exp(z[1])),
                            intervals[0], intervals[2], intervals[1], b_crit_boot)
