"""Sympy derivations of the ridgeless and ridge risk formulas (Hastie et al. 2022), shown by
:mod:`nqm.symbolic`."""

from __future__ import annotations

import sympy as sp

from nqm._derivation import _step, d, gamma, lam, n, r2, sigma2


def ridgeless_risk() -> tuple[sp.Expr, sp.Expr]:
    r"""(under-parameterized, over-parameterized) min-norm risk.

    Variance :math:`\sigma^2\mathbb{E}\operatorname{tr}(G^\top G)^{-1}` with the inverse-Wishart
    mean :math:`p/(m - p - 1)`: :math:`(m, p) = (n, d)` below the threshold, :math:`(d, n)`
    above (the min-norm solution lives in the row space). Bias: the prior's mass
    :math:`r^2 (d - n)/d` in the null space of :math:`X` when :math:`d > n`.
    """
    def inverse_wishart_trace(rows, cols):
        return cols / (rows - cols - 1)
    under = _step("n > d + 1: variance only", sigma2 * inverse_wishart_trace(n, d))
    over = _step("n < d - 1: null-space bias plus variance",
                 r2 * (d - n) / d + sigma2 * inverse_wishart_trace(d, n))
    return under, over


def mp_stieltjes() -> sp.Expr:
    r""":math:`M(\lambda) = m(-\lambda)`, the positive root of :math:`\gamma\lambda M^2 + (1-\gamma+\lambda)M - 1`."""
    big_m = sp.Symbol("M")
    roots = _step("both roots of the quadratic",
                  sp.solve(gamma * lam * big_m**2 + (1 - gamma + lam) * big_m - 1, big_m))
    return [r for r in roots if r.subs({gamma: 1, lam: 1}).evalf() > 0][0]


def marchenko_pastur_edge() -> sp.Expr:
    r"""The top of the Marchenko–Pastur support, :math:`(1 + \sqrt\gamma)^2`.

    The Stieltjes transform has a square root of
    :math:`(1 - \gamma - z)^2 - 4\gamma z`; the density lives where it is negative, between
    its two roots.
    """
    z = sp.Symbol("z", real=True)
    discriminant = _step("the discriminant under the Stieltjes transform's square root",
                         sp.expand((1 - gamma - z) ** 2 - 4 * gamma * z))
    roots = _step("its roots, the edges of the support",
                  sp.solve(sp.Eq(discriminant, 0), z))
    return _step("the larger one", sp.factor(max(roots, key=lambda r: r.subs(gamma, 1))))


def mp_stieltjes_derivative() -> sp.Expr:
    r""":math:`m'(-\lambda) = -\mathrm{d}M/\mathrm{d}\lambda`."""
    return _step("differentiate M(lambda) = m(-lambda)", -sp.diff(mp_stieltjes(), lam))


def ridge_risk() -> tuple[sp.Expr, sp.Expr]:
    r"""(bias, variance) of ridge in terms of :math:`M` and :math:`M' = m'(-\lambda)`."""
    big_m, dm = mp_stieltjes(), mp_stieltjes_derivative()
    _step("bias r^2 lambda^2 m'(-lambda) and variance sigma^2 gamma (m - lambda m') in M, M'",
          (r2 * lam**2 * sp.Symbol("M'"), sigma2 * gamma * (sp.Symbol("M") - lam * sp.Symbol("M'"))))
    return r2 * lam**2 * dm, sigma2 * gamma * (big_m - lam * dm)


def ridge_risk_at_optimum() -> tuple[sp.Expr, sp.Expr]:
    r"""(:math:`\lambda^\star`, total risk there), with :math:`\lambda^\star` a stationary point.

    The derivative of the total factors as :math:`(r^2\lambda - \sigma^2\gamma)\,g(\lambda)`,
    so :math:`\lambda^\star = \sigma^2\gamma/r^2`; there the bias and variance terms in
    :math:`M'` cancel and the total is :math:`\sigma^2\gamma M(\lambda^\star)`.
    """
    bias, variance = ridge_risk()
    total = bias + variance
    lam_star = _step("candidate lambda* = sigma^2 gamma / r^2", sigma2 * gamma / r2)
    _step("the derivative of the total vanishes there",
          sp.simplify(sp.diff(total, lam).subs(lam, lam_star)))
    assert sp.simplify(sp.diff(total, lam).subs(lam, lam_star)) == 0
    return lam_star, _step("the total at lambda*", sp.simplify(total.subs(lam, lam_star)))
