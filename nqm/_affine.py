"""The scalar affine moment recursion m_{t+1} = rho m_t + k, solved exactly.

Both the scalar noisy quadratic model and the online least-squares SGD reduce to it (with
different rho and k), so its solution, its first-passage time and the one-dimensional
minimizer used for optimal learning rates live here once.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar


def affine_moment(log_rate, drive, m0, t):
    """Exact ``m_t`` for ``m_{t+1} = rho m_t + k`` with ``rho = exp(log_rate)``.

    ``m_t = rho^t m0 + k (1 - rho^t) / (1 - rho)``, the geometric sum evaluated as
    ``expm1(t log rho) / expm1(log rho)`` so that it stays accurate as ``rho -> 1`` and
    equals ``t`` at ``rho = 1``. ``log_rate`` may be ``-inf`` (``rho = 0``).
    """
    log_rate, drive, m0, t = np.broadcast_arrays(*map(np.asarray, (log_rate, drive, m0, t)))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        tl = np.where(t == 0, 0.0, t * log_rate)
        power = np.exp(tl)
        # (rho^t - 1) / (rho - 1); for rho > 1 as rho^(t-1) (1 - rho^-t) / (1 - rho^-1), which
        # overflows to inf (a diverging recursion) instead of making inf / inf
        geometric = np.where(log_rate > 0,
                             np.exp((t - 1) * log_rate) * np.expm1(-tl) / np.expm1(-log_rate),
                             np.expm1(tl) / np.expm1(log_rate))
        geometric = np.where(log_rate == 0, t, geometric)
        geometric = np.where(t == 0, 0.0, geometric)
        result = power * m0 + drive * geometric
    return result


def affine_fixed_point(log_rate, drive):
    """``k / (1 - rho)`` where ``rho < 1``, ``inf`` where the recursion is not contracting."""
    log_rate, drive = np.broadcast_arrays(np.asarray(log_rate), np.asarray(drive))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        fixed = drive / -np.expm1(log_rate)
    return np.where(log_rate < 0, fixed, np.inf)


def affine_first_passage(log_rate, drive, m0, target):
    """Real ``t >= 0`` solving ``m_t = target`` for a recursion that decreases towards ``k/(1-rho)``.

    ``t = log((target - m_inf) / (m0 - m_inf)) / log rho``; ``0`` where ``target >= m0``;
    ``inf`` where the target is at or below the fixed point or the recursion does not contract.
    With ``rho = 0`` the fixed point is reached in one step and the formula's limit is ``0``.
    """
    log_rate, drive, m0, target = np.broadcast_arrays(
        *map(np.asarray, (log_rate, drive, m0, target)))
    m_inf = affine_fixed_point(log_rate, drive)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):   # inf steps: never
        t = np.log((target - m_inf) / (m0 - m_inf)) / log_rate
    t = np.where(np.isneginf(log_rate), 1.0, t)
    t = np.where(target > m_inf, t, np.inf)
    return np.where(target >= m0, 0.0, np.abs(t))


def minimize_on_log_scale(objective, low: float, high: float, *, n_grid: int = 96,
                          xatol: float = 1e-10) -> float:
    """Minimize ``objective(x)`` over ``low <= x <= high`` (both positive).

    A geometric grid locates the best bracket (robust to plateaus of ``inf``), then bounded
    Brent in ``log x`` refines it to ``xatol`` in ``log x``. ``objective`` takes an array.
    Returns ``nan`` if the objective is infinite everywhere on the grid.
    """
    grid = np.geomspace(low, high, n_grid)
    values = np.asarray(objective(grid), dtype=float)
    if not np.isfinite(values).any():
        return float("nan")
    best = int(np.nanargmin(np.where(np.isfinite(values), values, np.inf)))
    lo = np.log(grid[max(best - 1, 0)])
    hi = np.log(grid[min(best + 1, n_grid - 1)])
    # an infinite value inside the bracket makes Brent's parabolic step nan; it then takes a
    # golden-section step instead, which is the wanted behaviour, so the warning is silenced
    with np.errstate(invalid="ignore"):
        res = minimize_scalar(lambda s: float(objective(np.exp(np.array([s])))[0]),
                              bounds=(lo, hi), method="bounded", options={"xatol": xatol})
    if res.fun <= values[best]:
        return float(np.exp(res.x))
    return float(grid[best])
