"""Sympy derivations of the exact SGD dynamics of Gaussian least squares (the homework's
linear model), shown by :mod:`nqm.symbolic`."""

from __future__ import annotations

import sympy as sp

from nqm._derivation import B, D, _step, eta, m, sigma2, t


def wishart_second_moment() -> sp.Expr:
    r""":math:`[\mathbb{E}(X^\top X)^2]_{11}` for :math:`X \in \mathbb{R}^{B\times D}` standard normal.

    :math:`\sum_k\sum_{b,b'}\mathbb{E}[x_{b1}x_{bk}x_{b'1}x_{b'k}]` by Isserlis: for
    :math:`k = 1` the :math:`B` diagonal terms give 3 and the :math:`B(B-1)` others 1; for each
    of the :math:`D-1` other :math:`k` only :math:`b = b'` survives, giving 1.
    """
    terms = _step("k = 1: B fourth moments (3 each) and B(B-1) products (1 each); k > 1: B terms",
                  B * 3 + B * (B - 1) + (D - 1) * B)
    return _step("factored", sp.factor(terms))


def least_squares_error_recursion() -> sp.Expr:
    r"""Right-hand side of :math:`e_{t+1}` for the homework's SGD, in terms of ``m(t)`` = :math:`e_t`.

    :math:`W - W^\star \leftarrow (I - cG)(W - W^\star) + c\sigma X^\top N`, :math:`c = 2\eta/B`,
    :math:`G = X^\top X`: :math:`\mathbb{E}\lVert(I - cG)E\rVert_F^2 = (1 - 2cB + c^2
    \mathbb{E}[G^2]_{11})\lVert E\rVert_F^2` and :math:`\mathbb{E}\lVert X^\top N\rVert_F^2 =
    B D^2`.
    """
    c = 2 * eta / B
    contraction = _step("E||(I - cG)E||^2 / ||E||^2 = 1 - 2cB + c^2 E[G^2]_11, c = 2 eta / B",
                        1 - 2 * c * B + c**2 * wishart_second_moment())
    return _step("plus the noise c^2 sigma^2 B D^2", sp.expand(contraction) * m(t)
                 + c**2 * sigma2 * B * D**2)


def least_squares_max_stable_lr() -> sp.Expr:
    """The positive root of ``contraction = 1`` in :func:`least_squares_error_recursion`."""
    contraction = _step("the contraction factor of the error recursion",
                        least_squares_error_recursion().coeff(m(t)))
    return _step("its nonzero root of contraction = 1",
                 [r for r in sp.solve(sp.Eq(contraction, 1), eta) if r != 0][0])


def least_squares_noise_scale() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    r"""(:math:`\lvert G\rvert^2`, :math:`\operatorname{tr}\Sigma`, :math:`\eta_\max`) of the
    homework's per-example gradient :math:`g = 2x^\top(xE - \sigma\varepsilon)` at error
    :math:`E = W - W^\star` with :math:`\lVert E\rVert_F^2 = e` (``m(t)``).

    :math:`G = \mathbb{E}g = 2E`; :math:`\mathbb{E}\lVert g\rVert^2 = 4\,\mathbb{E}[\lVert
    x\rVert^2(\lVert xE\rVert^2 + \sigma^2\lVert\varepsilon\rVert^2)] = 4[(D + 2)e +
    \sigma^2 D^2]` from the Gaussian moment :math:`\mathbb{E}\lVert x\rVert^2 xx^\top =
    (D + 2) I`; the Hessian of the expected loss is :math:`2I`, so :math:`B_{\rm noise} =
    B_{\rm simple}` and :math:`\eta_\max = \lvert G\rvert^2 / G^\top H G = 1/2`.
    """
    e = m(t)
    g2 = _step("the squared gradient norm G.G, with G = E g = 2E", 4 * e)
    second = _step("the second moment E[g.g] = 4[(D + 2) e + sigma^2 D^2]", 4 * ((D + 2) * e + sigma2 * D**2))
    trace = _step("tr Sigma = E[g.g] - G.G", sp.expand(second - g2))
    lr_max = _step("eta_max = G.G / (G^T H G) with H = 2 I", g2 / (2 * g2))
    return g2, trace, lr_max
