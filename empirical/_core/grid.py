"""The geometric learning-rate grid every sweep starts from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from empirical._core.arguments import whole

MAX_RATES = 10**6
"""The most rates a grid may span, and the largest |k|."""


@dataclass(frozen=True)
class LRGrid:
    """A geometric learning-rate grid ``lr_k = base * ratio**k`` for ``k_min <= k <= k_max``.

    The default is the homework's: 32 rates from 1e-3 up by factors of 1.25 (to about 1.0).
    A sweep over an ``LRGrid`` may extend it (new ``k``) until every optimum is interior.

    See Also
    --------
    SweepSpec : Takes it as its rates.
    run_sweep : Extends it when an optimum sits on its edge.

    Examples
    --------
    >>> from empirical import LRGrid
    >>> LRGrid(k_max=3).values()
    array([0.001     , 0.00125   , 0.0015625 , 0.00195312])
    """

    base: float = 1e-3
    ratio: float = 1.25
    k_min: int = 0
    k_max: int = 31

    def __post_init__(self):
        for name in ("base", "ratio", "k_min", "k_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float | np.integer
                                                         | np.floating):
                raise TypeError(f"LRGrid.{name} must be a number, got {value!r}")
        if not (np.isfinite(self.base) and self.base > 0):
            raise ValueError(f"LRGrid.base must be finite and > 0, got {self.base!r}")
        if not (np.isfinite(self.ratio) and self.ratio > 1):
            raise ValueError(f"LRGrid.ratio must be finite and > 1, got {self.ratio!r}")
        for name in ("k_min", "k_max"):
            value = getattr(self, name)
            if not (np.isfinite(value) and int(value) == value and abs(value) <= MAX_RATES):
                raise ValueError(f"LRGrid.{name} must be an integer from {-MAX_RATES} to "
                                 f"{MAX_RATES}, got {value!r}")
        if self.k_max < self.k_min:
            raise ValueError(f"LRGrid needs integers k_min <= k_max, got {self.k_min!r}, {self.k_max!r}")
        self.values()                                   # the range's bounds, checked once

    def values(self, k_min: int | None = None, k_max: int | None = None) -> np.ndarray:
        """The rates for ``k_min..k_max`` (default: the grid's own range)."""
        lo = int(self.k_min) if k_min is None else k_min
        hi = int(self.k_max) if k_max is None else k_max
        for name, value in (("k_min", lo), ("k_max", hi)):
            whole(-MAX_RATES, MAX_RATES)(name, value)
        if not 0 <= hi - lo < MAX_RATES:
            raise ValueError(f"k_max - k_min must lie in [0, {MAX_RATES}), got k_min={lo}, "
                             f"k_max={hi}")
        with np.errstate(over="ignore", under="ignore"):
            rates = self.base * self.ratio ** np.arange(lo, hi + 1, dtype=float)
        if not (np.isfinite(rates).all() and rates[0] > 0):
            raise ValueError(f"the rates base * ratio**k for k_min={lo}..k_max={hi} leave "
                             f"float64's range (base={self.base:g}, ratio={self.ratio:g})")
        return rates
