"""McCandlish et al.'s (2018) empirical model of large-batch training: the noise scale, the
greedy step and the trade-off between steps and examples."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nqm._validation import nonnegative, positive, scalar_or_array


class NoiseScale(NamedTuple):
    r"""The gradient noise scale's ingredients (McCandlish et al. 2018) at one point.

    Attributes
    ----------
    gradient_sq : float or ndarray
        :math:`\lvert G\rvert^2`, the squared norm of the true gradient.
    trace_cov : float or ndarray
        :math:`\operatorname{tr}\Sigma`, the per-example gradient covariance's trace.
    b_simple, b_noise : float or ndarray
        :math:`\operatorname{tr}\Sigma / \lvert G\rvert^2` and
        :math:`\operatorname{tr}(H\Sigma) / G^\top H G`.
    lr_max : float or ndarray
        :math:`\lvert G\rvert^2 / G^\top H G`, the best step of noiseless gradient descent.

    See Also
    --------
    LeastSquaresSGD.noise_scale : The exact values for Gaussian least squares.
    DiagonalNQM.noise_scale : The exact values along the noisy quadratic model's runs.
    mccandlish_lr : The learning rate they predict.
    """

    gradient_sq: np.ndarray
    trace_cov: np.ndarray
    b_simple: np.ndarray
    b_noise: np.ndarray
    lr_max: np.ndarray


def mccandlish_lr(batch_size, *, lr_max, b_noise):
    r"""McCandlish et al.'s optimal learning rate for a batch size: :math:`\eta_\max / (1 +
    B_{\rm noise} / B)`.

    ``batch_size`` is :math:`B`, ``lr_max`` the best step of noiseless gradient descent
    :math:`\lvert G\rvert^2 / G^\top H G` and ``b_noise`` the noise scale
    :math:`\operatorname{tr}(H\Sigma) / G^\top H G`. Assumes a locally quadratic loss and one
    greedy step (the optimum of the expected improvement; derived for any quadratic in
    :func:`nqm.symbolic.quadratic_greedy_step`). For Gaussian least squares it is
    exact: the greedy step of :class:`LeastSquaresSGD` (derived in
    :func:`nqm.symbolic.greedy_lr_is_mccandlish`).

    References
    ----------
    .. [1] S. McCandlish, J. Kaplan, D. Amodei, "An Empirical Model of Large-Batch Training",
       arXiv:1812.06162 (2018), eq. 2.6.

    See Also
    --------
    LeastSquaresSGD.noise_scale : The exact ``lr_max`` and ``b_noise`` of least squares.
    DiagonalNQM.noise_scale : The same for the noisy quadratic model.
    mccandlish_improvement : The expected improvement of that step.

    Examples
    --------
    >>> from nqm import mccandlish_lr
    >>> print(mccandlish_lr([1, 10, 1000], lr_max=0.5, b_noise=10.0).round(4))
    [0.0455 0.25   0.495 ]
    """
    b = positive("batch_size", batch_size)
    return scalar_or_array(positive("lr_max", lr_max) / (1 + nonnegative("b_noise", b_noise) / b))


def mccandlish_improvement(batch_size, *, gradient_sq, lr_max, b_noise):
    r"""The expected loss improvement of the greedy step: :math:`\Delta L_{\rm opt}(B) =
    \Delta L_\max / (1 + B_{\rm noise}/B)`.

    .. math::

        \Delta L_\max = \tfrac12\,\eta_\max \lvert G\rvert^2
        = \frac{\lvert G\rvert^4}{2\,G^\top H G},

    where ``gradient_sq`` is :math:`\lvert G\rvert^2`, ``lr_max`` is :math:`\eta_\max =
    \lvert G\rvert^2 / G^\top H G`, ``b_noise`` is :math:`B_{\rm noise} =
    \operatorname{tr}(H\Sigma) / G^\top H G` and ``batch_size`` is :math:`B`. It is the
    maximum over :math:`\eta` of :math:`\eta\lvert G\rvert^2 - \tfrac{\eta^2}{2}(G^\top H G
    + \operatorname{tr}(H\Sigma)/B)`, the expected one-step improvement of minibatch SGD on a
    quadratic (:func:`nqm.symbolic.quadratic_greedy_step`), reached at :func:`mccandlish_lr`.

    References
    ----------
    .. [1] S. McCandlish, J. Kaplan, D. Amodei, "An Empirical Model of Large-Batch Training",
       arXiv:1812.06162 (2018), eqs. 2.6-2.7.

    See Also
    --------
    mccandlish_lr : The step that achieves it.
    steps_examples_tradeoff : Steps and examples that follow from it.

    Examples
    --------
    >>> from nqm import mccandlish_improvement
    >>> print(mccandlish_improvement([1, 10, 1000], gradient_sq=4.0, lr_max=0.5, b_noise=10.0))
    [0.09090909 0.5        0.99009901]
    """
    b = positive("batch_size", batch_size)
    best = 0.5 * positive("lr_max", lr_max) * positive("gradient_sq", gradient_sq)
    return scalar_or_array(best / (1 + nonnegative("b_noise", b_noise) / b))


def steps_examples_tradeoff(batch_size, *, s_min, b_crit):
    r"""Steps and examples to reach a loss at batch size :math:`B`, by McCandlish et al.'s model.

    .. math::

        S = S_{\min}\Big(1 + \frac{B_{\rm crit}}{B}\Big),\quad
        E = BS = E_{\min}\Big(1 + \frac{B}{B_{\rm crit}}\Big),\quad
        \Big(\frac{S}{S_{\min}} - 1\Big)\Big(\frac{E}{E_{\min}} - 1\Big) = 1,\quad
        B_{\rm crit} = \frac{E_{\min}}{S_{\min}},

    where ``s_min`` is :math:`S_{\min}`, the fewest steps (infinite batch), and ``b_crit`` is
    :math:`B_{\rm crit}`. It follows from the greedy improvement per step
    :func:`mccandlish_improvement` when :math:`B_{\rm noise}` stays constant along the run
    (then :math:`B_{\rm crit} = B_{\rm noise}`; :func:`nqm.symbolic.steps_examples_tradeoff`);
    fitted to measured steps, :math:`B_{\rm crit}` is an average of :math:`B_{\rm noise}` over
    the run.

    Returns
    -------
    steps : float or ndarray
        :math:`S`, broadcast over ``batch_size``.
    examples : float or ndarray
        :math:`E = SB`, the same shape.

    References
    ----------
    .. [1] S. McCandlish, J. Kaplan, D. Amodei, "An Empirical Model of Large-Batch Training",
       arXiv:1812.06162 (2018), eqs. 2.8-2.11.

    See Also
    --------
    mccandlish_improvement : The per-step improvement it integrates.
    compare.fit_critical_batch : Fits it to measured steps.

    Examples
    --------
    >>> from nqm import steps_examples_tradeoff
    >>> steps, examples = steps_examples_tradeoff([10, 100, 1000], s_min=50.0, b_crit=100.0)
    >>> print(steps, examples)
    [550. 100.  55.] [ 5500. 10000. 55000.]
    """
    b = positive("batch_size", batch_size)
    steps = positive("s_min", s_min) * (1 + positive("b_crit", b_crit) / b)
    return scalar_or_array(steps), scalar_or_array(b * steps)
