"""Shared test helpers: high-precision evaluation of the sympy twins."""

from __future__ import annotations

import mpmath
import sympy as sp

from nqm import symbolic

mpmath.mp.dps = 50


def high_precision(expr: sp.Expr, **values) -> float:
    """Evaluate ``expr`` at ``values`` with 50 significant digits.

    ``values`` are keyed by the name of the symbol's variable in :mod:`nqm.symbolic`
    (``sigma2`` for the symbol printed ``sigma^2``), or by the symbol's own name.
    """
    subs = {getattr(symbolic, name, None) if isinstance(getattr(symbolic, name, None), sp.Symbol)
            else sp.Symbol(name, positive=True): sp.Float(str(v), 60) for name, v in values.items()}
    return float(sp.N(expr.subs(subs), 50))


def rel_err(numeric: float, exact: float) -> float:
    """Relative error, with the absolute error where the exact value is 0."""
    return abs(numeric - exact) / (abs(exact) if exact != 0 else 1.0)
