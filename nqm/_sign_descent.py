"""Sign descent's best step on a quadratic under Gaussian gradient noise, and the surge of Adam's
optimal learning rate with the batch size that follows from it (Li et al. 2024)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import erf

from nqm._validation import _show, as_float_array, nonnegative, positive


class SurgeParameters(NamedTuple):
    """Result of :func:`surge_parameters`.

    See Also
    --------
    nqm.surge_parameters : Returns one.
    """

    lr_max: float
    """The peak optimal rate, reached at ``b_noise`` (``nan`` without a peak)."""
    b_noise: float
    """The batch size of the peak (``inf`` where the optimum rises for ever)."""


def _statistics(gradient, noise_var, hessian) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g = as_float_array("gradient", gradient)
    var = nonnegative("noise_var", noise_var)
    h = as_float_array("hessian", hessian)
    if g.ndim != 1 or g.size == 0:
        raise ValueError(f"gradient must be a non-empty 1-d array, got {_show(gradient)}")
    if var.shape != g.shape:
        raise ValueError(f"noise_var must have the gradient's shape {g.shape}, got {_show(noise_var)}")
    if h.shape != (g.size, g.size) or not np.allclose(h, h.T):
        raise ValueError(f"hessian must be a symmetric {g.size} x {g.size} matrix, got "
                         f"{_show(hessian)}")
    return g, var, h


def sign_descent_lr(batch_size, *, gradient, noise_var, hessian) -> np.ndarray:
    r"""The rate that most lowers the expected loss of one sign-descent step.

    On the quadratic :math:`L(\theta + \delta) = L + G^\top\delta + \tfrac12\delta^\top H\delta`,
    a step :math:`\delta = -\epsilon\operatorname{sign}(\tilde g)` along the signs of a
    minibatch gradient :math:`\tilde g_i \sim \mathcal N(G_i, \sigma_i^2 / B)` (independent
    coordinates) changes the loss in expectation by

    .. math::

        \Delta L(\epsilon) = -\epsilon\, G^\top e + \tfrac12 \epsilon^2
        \Big(e^\top H e + \sum_i H_{ii} (1 - e_i^2)\Big), \qquad
        e_i = \mathbb E \operatorname{sign}\tilde g_i = \operatorname{erf}\Big(\frac{G_i
        \sqrt{B}}{\sqrt{2}\,\sigma_i}\Big),

    minimal at :math:`\epsilon^\star = G^\top e \,/\, \big(e^\top H e + \sum_i H_{ii}(1 -
    e_i^2)\big)`, where :math:`B` is ``batch_size``, :math:`G` ``gradient``, :math:`\sigma_i^2`
    ``noise_var`` (the per-example variance of coordinate :math:`i`) and :math:`H`
    ``hessian``. Adam with small :math:`\epsilon` and short moment averages moves every
    coordinate by about the rate: Li et al. analyse it as this sign descent.

    Parameters
    ----------
    batch_size : array_like of float
    gradient : array_like of float, shape (d,)
    noise_var : array_like of float, shape (d,)
        ``>= 0``; a coordinate without noise has :math:`e_i = \operatorname{sign} G_i`.
    hessian : array_like of float, shape (d, d)
        Symmetric.

    Returns
    -------
    ndarray
        :math:`\epsilon^\star` per batch size (``nan`` where the curvature term is not
        positive: no finite best step).

    References
    ----------
    .. [1] S. Li et al., "Surge phenomenon in optimal learning rate and batch size scaling",
       NeurIPS 2024, arXiv:2405.14578, sec. 3 (the sign-of-gradient case).

    See Also
    --------
    surge_parameters : Its small-batch form, the surge.
    mccandlish_lr : SGD's counterpart.

    Examples
    --------
    >>> import numpy as np
    >>> from nqm import sign_descent_lr
    >>> print(sign_descent_lr([1, 1e6], gradient=[1.0, 1.0], noise_var=[4.0, 4.0],
    ...                       hessian=np.eye(2)).round(4))
    [0.3829 1.    ]
    """
    g, var, h = _statistics(gradient, noise_var, hessian)
    b = np.atleast_1d(positive("batch_size", batch_size, allow_inf=True)).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, g[None, :] * np.sqrt(b)[:, None] / np.sqrt(2 * var), np.sign(g) * np.inf)
    e = np.where(np.isinf(z), np.sign(z), erf(np.where(np.isinf(z), 0.0, z)))    # (n_b, d)
    curvature = np.einsum("bi,ij,bj->b", e, h, e) + (1 - e**2) @ np.diag(h)
    with np.errstate(divide="ignore", invalid="ignore"):
        best = (e @ g) / curvature
    return np.where(curvature > 0, best, np.nan).reshape(np.shape(batch_size))


def surge_parameters(*, gradient, noise_var, hessian) -> SurgeParameters:
    r"""The peak rate and its batch size of the surge, from the sign-descent optimum.

    For small batches :math:`e_i \approx \sqrt{2B/\pi}\, u_i` with :math:`u_i = G_i/\sigma_i`,
    and :func:`sign_descent_lr` becomes

    .. math::

        \epsilon^\star(B) \approx \frac{a\sqrt{B}}{b + cB}
        = \frac{\epsilon_\max}{\tfrac12\big(\sqrt{B_\mathrm{noise}/B} +
        \sqrt{B/B_\mathrm{noise}}\big)},
        \qquad B_\mathrm{noise} = \frac{b}{c}, \quad \epsilon_\max = \frac{a}{2\sqrt{bc}},

    with :math:`a = \sqrt{2/\pi}\sum_i G_i^2/\sigma_i`, :math:`b = \operatorname{tr} H` and
    :math:`c = \tfrac{2}{\pi}\big(u^\top H u - \sum_i H_{ii} u_i^2\big)`: the surge of Li et
    al.'s eq. (2), which rises as :math:`\sqrt B` below :math:`B_\mathrm{noise}` and falls as
    :math:`1/\sqrt B` above it. With one noise level :math:`\sigma` for every coordinate,
    :math:`B_\mathrm{noise} \approx \pi\sigma^2 \operatorname{tr}H / (2\,G^\top H G)`, their
    expression (the per-coordinate form is derived here; the tests check its algebra with
    sympy). Valid where the erf is linear, :math:`B` well below every
    :math:`2\sigma_i^2 / G_i^2`; where :math:`c \le 0` there is no peak (``b_noise = inf``).

    Parameters
    ----------
    gradient, noise_var, hessian : array_like of float
        As :func:`sign_descent_lr`. Coordinates without noise (``noise_var == 0``, such as a
        dead ReLU unit's weights, moved by weight decay alone) are left out: their sign does not
        depend on the batch size.

    Returns
    -------
    SurgeParameters
        ``(nan, inf)`` where there is no peak (:math:`c \le 0`, or the statistics so extreme
        that :math:`a, b, c` overflow or vanish).

    References
    ----------
    .. [1] S. Li et al., "Surge phenomenon in optimal learning rate and batch size scaling",
       NeurIPS 2024, arXiv:2405.14578, eq. (2) and Thm. 3.

    See Also
    --------
    sign_descent_lr : The exact sign-descent optimum it approximates.

    Examples
    --------
    >>> import numpy as np
    >>> from nqm import surge_parameters
    >>> p = surge_parameters(gradient=[1.0, 1.0], noise_var=[4.0, 4.0], hessian=np.ones((2, 2)))
    >>> round(p.b_noise, 4), round(p.lr_max, 4)
    (6.2832, 0.5)
    """
    g, var, h = _statistics(gradient, noise_var, hessian)
    noisy = var > 0                    # a noiseless coordinate has no small-batch regime
    g, var, h = g[noisy], var[noisy], h[np.ix_(noisy, noisy)]
    sigma = np.sqrt(var)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        u = g / sigma
        a = np.sqrt(2 / np.pi) * np.sum(g**2 / sigma)
        b = np.trace(h)
        c = 2 / np.pi * (u @ h @ u - np.diag(h) @ u**2)
        peak = SurgeParameters(float(a / (2 * np.sqrt(b * c))), float(b / c))
    if not (c > 0 and b > 0 and np.isfinite(peak.lr_max) and np.isfinite(peak.b_noise)):
        return SurgeParameters(float("nan"), float("inf"))
    return peak
