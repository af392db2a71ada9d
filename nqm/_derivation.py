"""The symbols every derivation of :mod:`nqm.symbolic` is written in, and the machinery that
records a derivation's steps and renders them."""

from __future__ import annotations

import sys

import sympy as sp

# named as they are written, so that they print and render as sigma^2, w_0^2, w^2, r^2
eta, a, sigma2, B, w0sq, wsq, t, target = sp.symbols(
    "eta a sigma^2 B w_0^2 w^2 t target", positive=True)
D, gamma, lam, r2, n, d = sp.symbols("D gamma lambda r^2 n d", positive=True)
m = sp.Function("m")
_QUADRATIC = sp.symbols("GG GHG trHSigma", positive=True)
_k = sp.Symbol("k", integer=True, nonnegative=True)

_TRACED = None      # the code object of the derivation :func:`steps` is tracing
_STEPS: list = []


def _step(description: str, expr):
    """Record ``expr`` as a step of the derivation being traced by :func:`steps`; returns it.

    Only the traced derivation's own steps are recorded, not those of the derivations it calls.
    """
    if _TRACED is not None and sys._getframe(1).f_code is _TRACED:
        _STEPS.append((description, expr))
    return expr


def steps(derivation) -> list[tuple[str, sp.Expr]]:
    """The intermediate results of ``derivation()``, each with what it is, in order.

    Examples
    --------
    >>> from nqm import symbolic
    >>> for what, expr in symbolic.steps(symbolic.scalar_stationary_loss):
    ...     print(what, "|", expr)
    fixed point m = E w^2 of the moment recursion | -eta*sigma^2/(B*a*(a*eta - 2))
    as a loss, a/2 m | -eta*sigma^2/(2*B*(a*eta - 2))
    """
    global _TRACED
    outer = _TRACED, list(_STEPS)
    _TRACED = derivation.__code__
    _STEPS.clear()
    try:
        derivation()
        return list(_STEPS)
    finally:
        _TRACED = outer[0]
        _STEPS[:] = outer[1]


def latex_of(expr) -> str:
    """LaTeX of a step: an expression, an equation, or a list or tuple of them."""
    if isinstance(expr, list | tuple):
        return r",\quad ".join(latex_of(e) for e in expr)
    return sp.latex(expr)


def as_latex(derivation) -> list[str]:
    """The LaTeX of what ``derivation()`` returns, one string per returned expression.

    Examples
    --------
    >>> from nqm import symbolic
    >>> print(symbolic.as_latex(symbolic.scalar_stability_bound)[0])
    \\frac{2}{a}
    """
    result = derivation()
    return [sp.latex(expr) for expr in (result if isinstance(result, tuple) else (result,))]
