"""Excess risk of least squares with Gaussian features: ridgeless (finite sample) and ridge."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nqm._validation import as_float_array, nonnegative, positive, scalar_or_array, whole_array


class RiskDecomposition(NamedTuple):
    """Excess test risk ``E||w_hat - w*||^2`` split into bias and variance.

    See Also
    --------
    nqm.ridgeless_risk : Returns one.
    nqm.ridge_risk : Returns one.
    """

    bias: float | np.ndarray
    variance: float | np.ndarray
    total: float | np.ndarray


def _sizes(n, d, *, whole: bool = False):
    """Sample and feature counts, ``> 0``; whole numbers ``>= 1`` for the finite-sample formula
    (the asymptotic ones take any ratio ``d / n``)."""
    if whole:
        n, d = whole_array("n", n, low=1), whole_array("d", d, low=1)
    else:
        n, d = positive("n", n), positive("d", d)
    return np.broadcast_arrays(n, d)


def ridgeless_risk(n, d, *, noise_var, signal=1.0) -> RiskDecomposition:
    r"""Exact finite-sample excess risk of min-norm least squares with Gaussian features.

    With :math:`x \sim N(0, I_d)`, :math:`n` samples, label noise variance :math:`\sigma^2`
    and a rotation-invariant prior with :math:`\mathbb{E}\lVert w^\star\rVert^2 = r^2`:

    .. math::

        R = \begin{cases}
            \sigma^2 \dfrac{d}{n - d - 1}, & d < n - 1, \\[1ex]
            r^2\Big(1 - \dfrac{n}{d}\Big) + \sigma^2 \dfrac{n}{d - n - 1}, & d > n + 1,
        \end{cases}

    where ``n`` is :math:`n`, ``d`` is :math:`d`, ``noise_var`` is :math:`\sigma^2` and
    ``signal`` is :math:`r^2`. The variance uses the inverse-Wishart mean
    :math:`\mathbb{E}\operatorname{tr}(G^\top G)^{-1} = p/(m-p-1)` for a Gaussian
    :math:`m \times p` matrix :math:`G`; the bias is the prior mass in the null space of
    :math:`X`. In the band :math:`n-1 \le d \le n+1` the expected variance is infinite and
    ``inf`` is **returned** (not raised); with ``noise_var = 0`` the variance is ``0``
    there and the bias stays finite.

    Parameters
    ----------
    n, d : array_like of int
        Number of samples and of features, ``>= 1``.
    noise_var : array_like of float
        :math:`\sigma^2 \ge 0`.
    signal : array_like of float, default 1.0
        :math:`r^2 \ge 0`.

    Returns
    -------
    RiskDecomposition
        ``(bias, variance, total)``, broadcast over the arguments.

    See Also
    --------
    nqm.ridge_risk : The risk with a ridge penalty.
    nqm.optimal_ridge_lambda : The penalty that removes the peak.

    References
    ----------
    .. [1] M. Belkin, D. Hsu, J. Xu, "Two models of double descent for weak features",
       SIAM J. Math. Data Sci. 2020, arXiv:1903.07571, Thm. 1.
    .. [2] T. Hastie, A. Montanari, S. Rosset, R. Tibshirani, "Surprises in high-dimensional
       ridgeless least squares interpolation", Ann. Statist. 2022, arXiv:1903.08560.

    Examples
    --------
    >>> from nqm import ridgeless_risk
    >>> risk = ridgeless_risk([50, 100, 300], 100, noise_var=0.04)
    >>> print(risk.total.round(4))
    [0.5408    inf 0.0201]
    """
    n, d = _sizes(n, d, whole=True)
    noise_var = nonnegative("noise_var", noise_var)
    signal = nonnegative("signal", signal)
    under, over = d < n - 1, d > n + 1
    with np.errstate(divide="ignore", invalid="ignore"):
        variance_factor = np.where(under, d / (n - d - 1), np.where(over, n / (d - n - 1), np.inf))
        variance = np.where(noise_var == 0, 0.0, noise_var * variance_factor)
        bias = signal * np.where(d > n, 1.0 - n / d, 0.0)
    bias, variance = np.broadcast_arrays(bias, variance)
    return RiskDecomposition(scalar_or_array(bias), scalar_or_array(variance),
                             scalar_or_array(bias + variance))


def _quadratic(gamma, lam):
    """``a = 1 - gamma + lam`` and ``root = sqrt(a^2 + 4 gamma lam)``, the discriminant's root."""
    a = 1.0 - gamma + lam
    return a, np.hypot(a, 2.0 * np.sqrt(gamma * lam))      # without overflow at lam ~ 1e300


def _stieltjes(a, root, gamma, lam):
    """``(root - a) / (2 gamma lam)``, written without cancellation for either sign of ``a``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a >= 0, 2.0 / (root + a), (root - a) / (2.0 * gamma * lam))


def mp_stieltjes(z, gamma):
    r"""Stieltjes transform of the Marchenko–Pastur law, and its derivative, at :math:`z < 0`.

    .. math::

        m(z) = \int \frac{\mathrm{d}\mu_\gamma(s)}{s - z}
             = \frac{\sqrt{(1 - \gamma - z)^2 - 4\gamma z} - (1 - \gamma - z)}{2\gamma(-z)}
               \Big|_{z = -\lambda},
        \qquad m'(z) = \int \frac{\mathrm{d}\mu_\gamma(s)}{(s - z)^2},

    for the spectrum of :math:`X^\top X / n` with aspect ratio :math:`\gamma = d/n`
    (``gamma``) at ``z`` :math:`= -\lambda < 0`. Writing :math:`M(\lambda) = m(-\lambda)`,
    :math:`M` is the positive root of :math:`\gamma\lambda M^2 + (1 - \gamma + \lambda) M
    - 1 = 0`, evaluated as :math:`2 / (\sqrt{\cdot} + 1 - \gamma + \lambda)` to avoid
    cancellation; implicit differentiation gives
    :math:`m'(-\lambda) = M (1 + \gamma M) / \sqrt{(1-\gamma+\lambda)^2 + 4\gamma\lambda}`
    (:func:`nqm.symbolic.mp_stieltjes_derivative`).

    Parameters
    ----------
    z : array_like of float
        Points :math:`z < 0`.
    gamma : array_like of float
        :math:`\gamma > 0`.

    Returns
    -------
    m : float or ndarray
        :math:`m(z)`, positive.
    dm : float or ndarray
        :math:`m'(z)`, positive.

    See Also
    --------
    nqm.ridge_risk : The risk written with it.

    References
    ----------
    .. [1] Z. Bai, J. Silverstein, *Spectral Analysis of Large Dimensional Random Matrices*,
       Springer, 2010, Sec. 3.3.

    Examples
    --------
    >>> from nqm import mp_stieltjes
    >>> m, dm = mp_stieltjes(-0.5, 0.5)
    >>> print(round(m, 6), round(dm, 6))
    0.828427 0.828427
    """
    z = as_float_array("z", z)
    if np.any(z >= 0):
        raise ValueError(f"z must be finite and < 0 (z = -lambda), got {z}")
    gamma = positive("gamma", gamma)
    lam = -z
    a, root = _quadratic(gamma, lam)
    m = _stieltjes(a, root, gamma, lam)
    dm = m * (1.0 + gamma * m) / root
    return scalar_or_array(m), scalar_or_array(dm)


def ridge_risk(n, d, lam, *, noise_var, signal=1.0) -> RiskDecomposition:
    r"""Asymptotic excess risk of ridge regression with isotropic Gaussian features.

    For :math:`\hat w = (X^\top X/n + \lambda I)^{-1} X^\top y / n`, :math:`\gamma = d/n`,
    :math:`M = m(-\lambda)` and :math:`M' = m'(-\lambda) > 0` from :func:`mp_stieltjes`:

    .. math::

        \mathrm{bias} = r^2 \lambda^2 M', \qquad
        \mathrm{variance} = \sigma^2 \gamma \big(M - \lambda M'\big),

    where ``n``, ``d`` give :math:`\gamma`, ``lam`` is :math:`\lambda`, ``noise_var`` is
    :math:`\sigma^2` and ``signal`` is :math:`r^2 = \mathbb{E}\lVert w^\star\rVert^2`.
    Exact in the proportional limit :math:`n, d \to \infty` with :math:`d/n \to \gamma`
    (the finite-size error of the Stieltjes transform is :math:`O(1/n)`).

    Parameters
    ----------
    n, d : array_like of float
        Sample and feature counts, ``> 0`` (only their ratio enters).
    lam : array_like of float
        Ridge penalty :math:`\lambda > 0`.
    noise_var : array_like of float
        :math:`\sigma^2 \ge 0`.
    signal : array_like of float, default 1.0
        :math:`r^2 \ge 0`.

    Returns
    -------
    RiskDecomposition
        ``(bias, variance, total)``.

    See Also
    --------
    nqm.ridgeless_risk : The exact finite-sample risk without penalty.
    nqm.optimal_ridge_lambda : The penalty minimizing it.
    nqm.mp_stieltjes : The transform it is written with.

    References
    ----------
    .. [1] E. Dobriban, S. Wager, "High-dimensional asymptotics of prediction: ridge regression
       and classification", Ann. Statist. 2018, arXiv:1507.03003, Thm. 2.1.
    .. [2] T. Hastie, A. Montanari, S. Rosset, R. Tibshirani, "Surprises in high-dimensional
       ridgeless least squares interpolation", arXiv:1903.08560, Sec. 5 (isotropic case).

    Examples
    --------
    >>> from nqm import ridge_risk
    >>> risk = ridge_risk(200, 100, [0.01, 0.1, 1.0], noise_var=0.25)
    >>> print(risk.total.round(4))
    [0.2324 0.1768 0.3755]
    """
    n, d = _sizes(n, d)
    lam = positive("lam", lam)
    noise_var = nonnegative("noise_var", noise_var)
    signal = nonnegative("signal", signal)
    gamma = d / n
    a, root = _quadratic(gamma, lam)
    m = _stieltjes(a, root, gamma, lam)
    bias = signal * (lam * m) * (1.0 + gamma * m) * (lam / root)     # -> r^2 as lam -> inf
    # M - lam M' = M (root + 1 - gamma - lam) / (2 root); the bracket cancels for gamma > 1 at
    # small lam (the MP atom at 0), where it equals 4 lam / (root + lam + gamma - 1) exactly.
    with np.errstate(divide="ignore", invalid="ignore"):
        bracket = np.where(gamma >= 1.0, 4.0 * lam / (root + lam + gamma - 1.0),
                           root + 1.0 - gamma - lam)
    variance = noise_var * gamma * m * bracket / (2.0 * root)
    bias, variance = np.broadcast_arrays(bias, variance)
    return RiskDecomposition(scalar_or_array(bias), scalar_or_array(variance),
                             scalar_or_array(bias + variance))


def optimal_ridge_lambda(n, d, *, noise_var, signal=1.0):
    r"""The ridge penalty that minimizes :func:`ridge_risk`: :math:`\lambda^\star = \sigma^2\gamma/r^2`.

    At :math:`\lambda^\star` the total risk reduces to :math:`\sigma^2\gamma M(\lambda^\star)
    = \sigma^2\big[\sqrt{(1-\gamma+\lambda^\star)^2 + 4\gamma\lambda^\star}
    - (1-\gamma+\lambda^\star)\big]/(2\lambda^\star)`
    (:func:`nqm.symbolic.ridge_risk_at_optimum`); ``n``, ``d`` give :math:`\gamma = d/n`,
    ``noise_var`` is :math:`\sigma^2`, ``signal`` is :math:`r^2 > 0`. With
    ``noise_var = 0`` the optimum is ``0`` (ridgeless).

    See Also
    --------
    nqm.ridge_risk : The risk it minimizes.

    References
    ----------
    .. [1] E. Dobriban, S. Wager, arXiv:1507.03003, Thm. 2.1 (the optimal penalty).

    Examples
    --------
    >>> from nqm import optimal_ridge_lambda
    >>> optimal_ridge_lambda(200, 100, noise_var=0.25)
    0.125
    """
    n, d = _sizes(n, d)
    noise_var = nonnegative("noise_var", noise_var)
    signal = positive("signal", signal)
    return scalar_or_array(noise_var * (d / n) / signal)
