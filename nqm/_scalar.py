"""The scalar noisy quadratic model (NQM) and its optimal learning rates.

Loss ``L(w) = a w^2 / 2``; a minibatch gradient ``a w + xi`` with ``E xi = 0`` and
``Var xi = sigma^2 / B``; SGD ``w <- w - lr g``. Everything follows from the second moment
recursion ``E w_{t+1}^2 = (1 - lr a)^2 E w_t^2 + lr^2 sigma^2 / B`` (derived in
:func:`nqm.symbolic.scalar_second_moment`).
"""

from __future__ import annotations

import numpy as np

from nqm._affine import (
    affine_first_passage,
    affine_fixed_point,
    affine_moment,
    minimize_on_log_scale,
)
from nqm._validation import nonnegative, positive, scalar_or_array, steps_array


def _log_rate(lr, curvature):
    """``log (1 - lr a)^2``: ``2 log1p(-lr a)`` below ``1/a`` (accurate for tiny ``lr a``),
    ``2 log(lr a - 1)`` above."""
    k = np.asarray(lr * curvature, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2.0 * np.where(k < 1.0, np.log1p(-np.minimum(k, 1.0)), np.log(np.abs(k - 1.0)))


def _moments(lr, batch_size, curvature, noise_var):
    with np.errstate(over="ignore"):                   # inf: a diverging run
        return _log_rate(lr, curvature), lr**2 * noise_var / batch_size


def scalar_expected_loss(lr, batch_size, steps, *, curvature, noise_var, w0_sq):
    r"""Exact expected loss of SGD on the scalar noisy quadratic model after ``steps`` steps.

    .. math::

        \mathbb{E} L_t = \frac{a}{2}\Big[(1-\eta a)^{2t} w_0^2
            + \frac{\eta^2 \sigma^2}{B}\,\frac{1-(1-\eta a)^{2t}}{1-(1-\eta a)^2}\Big]

    where :math:`\eta` is ``lr``, :math:`B` is ``batch_size``, :math:`t` is ``steps``,
    :math:`a` is ``curvature``, :math:`\sigma^2` is ``noise_var`` (the per-example
    gradient-noise variance, so a batch of :math:`B` has variance :math:`\sigma^2/B`) and
    :math:`w_0^2` is ``w0_sq`` (the second moment of the initial parameter).

    Parameters
    ----------
    lr : array_like of float
        Learning rates, ``> 0``. Unstable ones (``lr >= 2 / a``) give a growing loss.
    batch_size : array_like of float
        Batch sizes, ``> 0``.
    steps : array_like of int
        Number of SGD steps, ``>= 0``.
    curvature : float or array_like
        The Hessian :math:`a > 0`.
    noise_var : float or array_like
        Per-example gradient-noise variance :math:`\sigma^2 \ge 0`.
    w0_sq : float or array_like
        :math:`\mathbb{E} w_0^2 \ge 0`.

    Returns
    -------
    float or ndarray
        :math:`\mathbb{E} L_t`, broadcast over all arguments. ``inf`` where it overflows (a rate far above
        :func:`scalar_max_stable_lr`: the run diverges).

    See Also
    --------
    nqm.scalar_stationary_loss : Its limit as the steps grow.
    nqm.steps_to_target : The steps at which it reaches a target.
    nqm.optimal_lr_horizon : The rate minimizing it at a fixed step.

    Notes
    -----
    Assumes the gradient noise is independent across steps and of the iterate, with mean zero.
    The geometric sum is evaluated with ``expm1`` so the formula stays accurate near
    :math:`\eta a \to 0` and at the stability edge :math:`\eta a = 2` (where it equals
    :math:`t`).

    References
    ----------
    .. [1] G. Zhang et al., "Which algorithmic choices matter at which batch sizes? Insights
       from a noisy quadratic model", NeurIPS 2019, arXiv:1907.04164, Sec. 3.
    .. [2] S. McCandlish, J. Kaplan, D. Amodei, "An empirical model of large-batch training",
       arXiv:1812.06162, 2018, Eq. (2.6)-(2.7).

    Examples
    --------
    >>> from nqm import scalar_expected_loss
    >>> round(scalar_expected_loss(0.5, 4, 10, curvature=1.0, noise_var=1.0, w0_sq=1.0), 6)
    0.041667
    """
    lr = positive("lr", lr)
    batch_size = positive("batch_size", batch_size)
    steps = steps_array("steps", steps)
    curvature = positive("curvature", curvature)
    noise_var = nonnegative("noise_var", noise_var)
    w0_sq = nonnegative("w0_sq", w0_sq)
    log_rate, drive = _moments(lr, batch_size, curvature, noise_var)
    return scalar_or_array(0.5 * curvature * affine_moment(log_rate, drive, w0_sq, steps))


def scalar_stationary_loss(lr, batch_size, *, curvature, noise_var):
    r"""Stationary expected loss of SGD on the scalar noisy quadratic model.

    .. math::

        L_\infty = \frac{\eta\,\sigma^2}{2 B (2 - \eta a)}, \qquad 0 < \eta < 2/a,

    and ``inf`` outside that stable range; :math:`\eta` is ``lr``, :math:`B` is
    ``batch_size``, :math:`a` is ``curvature`` and :math:`\sigma^2` is ``noise_var``.

    Parameters
    ----------
    lr : array_like of float
        Learning rates, ``> 0``.
    batch_size : array_like of float
        Batch sizes, ``> 0``.
    curvature : float or array_like
        The Hessian :math:`a > 0`.
    noise_var : float or array_like
        Per-example gradient-noise variance :math:`\sigma^2 \ge 0`.

    Returns
    -------
    float or ndarray
        :math:`L_\infty`, the fixed point of the moment recursion
        (:func:`nqm.symbolic.scalar_stationary_loss`).

    See Also
    --------
    nqm.scalar_expected_loss : The loss at every step.
    nqm.scalar_max_feasible_lr : The largest rate whose stationary loss is below a target.

    References
    ----------
    .. [1] G. Zhang et al., "Which algorithmic choices matter at which batch sizes? Insights
       from a noisy quadratic model", NeurIPS 2019, arXiv:1907.04164, Sec. 3.
    .. [2] S. McCandlish, J. Kaplan, D. Amodei, "An empirical model of large-batch training",
       arXiv:1812.06162, 2018, Eq. (2.6)-(2.7).

    Examples
    --------
    >>> from nqm import scalar_stationary_loss
    >>> print(scalar_stationary_loss([0.5, 1.0, 2.5], 4, curvature=1.0, noise_var=1.0))
    [0.04166667 0.125             inf]
    """
    lr = positive("lr", lr)
    batch_size = positive("batch_size", batch_size)
    curvature = positive("curvature", curvature)
    noise_var = nonnegative("noise_var", noise_var)
    log_rate, drive = _moments(lr, batch_size, curvature, noise_var)
    return scalar_or_array(0.5 * curvature * affine_fixed_point(log_rate, drive))


def scalar_max_stable_lr(*, curvature):
    r"""Largest stable learning rate of SGD on the scalar NQM, :math:`2/a`.

    For :math:`\eta \ge 2/a` the moment recursion's rate :math:`(1-\eta a)^2 \ge 1`
    and the expected loss grows without bound (:func:`nqm.symbolic.scalar_stability_bound`).

    References
    ----------
    .. [1] G. Zhang et al., "Which algorithmic choices matter at which batch sizes? Insights
       from a noisy quadratic model", NeurIPS 2019, arXiv:1907.04164, Sec. 3.

    See Also
    --------
    nqm.scalar_expected_loss : Diverges above this rate.
    nqm.DiagonalNQM.max_stable_lr : The bound with momentum and preconditioning.

    Examples
    --------
    >>> from nqm import scalar_max_stable_lr
    >>> scalar_max_stable_lr(curvature=4.0)
    0.5
    """
    return scalar_or_array(2.0 / positive("curvature", curvature))


def optimal_lr_greedy(batch_size, *, curvature, noise_var, w_sq):
    r"""Learning rate that minimizes the expected loss after one step from ``w_sq``.

    .. math::

        \eta^\star = \frac{1/a}{1 + B_\mathrm{noise}/B}, \qquad
        B_\mathrm{noise} = \frac{\sigma^2}{a^2 w^2},

    where :math:`B` is ``batch_size``, :math:`a` is ``curvature``, :math:`\sigma^2` is
    ``noise_var`` and :math:`w^2` is ``w_sq``, the current second moment of the parameter.
    This is McCandlish et al.'s form [2]_: linear in :math:`B` below the noise scale,
    saturating at :math:`1/a` above it.

    Parameters
    ----------
    batch_size : array_like of float
        Batch sizes, ``> 0``.
    curvature, noise_var, w_sq : float or array_like
        :math:`a > 0`, :math:`\sigma^2 \ge 0`, :math:`w^2 > 0`.

    Returns
    -------
    float or ndarray

    See Also
    --------
    nqm.optimal_lr_horizon : Equal to it for a one-step horizon.
    nqm.optimal_lr_target : The steps-to-target criterion.

    References
    ----------
    .. [1] G. Zhang et al., "Which algorithmic choices matter at which batch sizes? Insights
       from a noisy quadratic model", NeurIPS 2019, arXiv:1907.04164, Sec. 3.
    .. [2] S. McCandlish, J. Kaplan, D. Amodei, "An empirical model of large-batch training",
       arXiv:1812.06162, 2018, Eq. (2.6)-(2.7).

    Examples
    --------
    >>> from nqm import optimal_lr_greedy
    >>> print(optimal_lr_greedy([1, 10, 100, 1000], curvature=1.0, noise_var=10.0, w_sq=1.0))
    [0.09090909 0.5        0.90909091 0.99009901]
    """
    batch_size = positive("batch_size", batch_size)
    curvature = positive("curvature", curvature)
    noise_var = nonnegative("noise_var", noise_var)
    w_sq = positive("w_sq", w_sq)
    # (1/a) / (1 + B_noise/B) with B_noise = s2 / (a^2 w^2), written without a^2 (which
    # overflows at a ~ 1e160); a product that underflows to 0 gives the limit lr = 0
    with np.errstate(over="ignore", divide="ignore"):
        return scalar_or_array(1.0 / (curvature + noise_var / (curvature * w_sq * batch_size)))


def optimal_lr_horizon(batch_size, steps, *, curvature, noise_var, w0_sq):
    r"""Learning rate minimizing the expected loss after a fixed number of steps.

    .. math::

        \eta^\star(B) = \arg\min_{0 < \eta < 2/a} \mathbb{E} L_T(\eta, B)

    with :math:`\mathbb{E} L_T` from :func:`scalar_expected_loss`; :math:`B` is
    ``batch_size``, :math:`T` is ``steps``. The minimizer lies in :math:`(0, 1/a]`: a rate
    :math:`\eta > 1/a` contracts exactly as :math:`2/a - \eta` but injects more noise. It is
    found numerically (a geometric grid, then bounded Brent in :math:`\log \eta`); like any
    minimization by function values it resolves the argmin to about
    :math:`\sqrt{\epsilon\, |f| / (f'' \eta^{\star 2})}` relative (about 1e-8 for a
    well-scaled loss, less where the loss is dominated by a constant).
    For :math:`T = 1` it equals :func:`optimal_lr_greedy` at :math:`w^2 = w_0^2`. With a
    fixed budget, :math:`\eta^\star` grows only about logarithmically in :math:`B` in the
    noise-dominated regime (the optimum balances :math:`e^{-2\eta a T} w_0^2` against
    :math:`\eta\sigma^2/B`).

    Parameters
    ----------
    batch_size : array_like of float
        Batch sizes, ``> 0``.
    steps : array_like of int
        The horizon :math:`T \ge 1`.
    curvature, noise_var, w0_sq : float
        :math:`a > 0`, :math:`\sigma^2 \ge 0`, :math:`w_0^2 > 0`.

    Returns
    -------
    float or ndarray

    See Also
    --------
    nqm.optimal_lr_target : The fewest-steps-to-a-target criterion.
    nqm.optimal_lr_greedy : The one-step optimum.
    nqm.scalar_expected_loss : The loss it minimizes.

    References
    ----------
    .. [1] G. Zhang et al., "Which algorithmic choices matter at which batch sizes? Insights
       from a noisy quadratic model", NeurIPS 2019, arXiv:1907.04164, Sec. 3.
    .. [2] S. McCandlish, J. Kaplan, D. Amodei, "An empirical model of large-batch training",
       arXiv:1812.06162, 2018, Eq. (2.6)-(2.7).

    Examples
    --------
    >>> from nqm import optimal_lr_horizon
    >>> print(optimal_lr_horizon([1, 16, 256], 100, curvature=1.0, noise_var=1.0, w0_sq=1.0))
    [0.02945335 0.04287052 0.05605451]
    """
    batch_size = positive("batch_size", batch_size)
    steps = steps_array("steps", steps)
    if (steps < 1).any():
        raise ValueError(f"steps must be >= 1 for an optimal learning rate, got {steps}")
    curvature = positive("curvature", curvature)
    noise_var = nonnegative("noise_var", noise_var)
    w0_sq = positive("w0_sq", w0_sq)

    def solve(b, t, a, s2, m0):
        def objective(lr):
            log_rate, drive = _moments(lr, b, a, s2)
            return affine_moment(log_rate, drive, m0, t)
        # noise over signal r = s2 / (a^2 m0 B), in logs (it overflows at a ~ 1e-160). Where
        # r > 1e6 T the loss is m0 (1 - 2 T x + (r T + T (2T - 1)) x^2) to O((T x)^3) in
        # x = lr a, too flat for float64 to resolve near its minimum x = 1 / (r + 2T - 1),
        # which is exact to a relative O((T / r)^2)
        if s2 > 0 and np.log(s2) - 2 * np.log(a) - np.log(m0) - np.log(b) > np.log(1e6 * t):
            with np.errstate(under="ignore"):
                return a * m0 * b / (s2 + a * a * m0 * b * (2 * t - 1))
        # the optimum shrinks like log(T)/(a T) for long horizons, and lies below the greedy
        # rate 1 / (a (1 + r)) when noise dominates: search down to 1e-9 times either
        greedy = 1.0 / (a + s2 / (a * m0 * b))
        return minimize_on_log_scale(objective, 1e-9 * min(1.0 / (a * t), greedy), 1.0 / a)

    return scalar_or_array(np.vectorize(solve, otypes=[float])(
        batch_size, steps, curvature, noise_var, w0_sq))


def steps_to_target(lr, batch_size, target_loss, *, curvature, noise_var, w0_sq):
    r"""Number of SGD steps until the expected loss of the scalar NQM reaches a target.

    The real :math:`t \ge 0` solving :math:`\mathbb{E} L_t = L^\star`:

    .. math::

        t = \frac{\log\big[(L^\star - L_\infty)/(L_0 - L_\infty)\big]}{\log (1-\eta a)^2},

    with :math:`L_0 = a w_0^2/2` and :math:`L_\infty` from :func:`scalar_stationary_loss`;
    :math:`\eta` is ``lr``, :math:`B` is ``batch_size``, :math:`L^\star` is ``target_loss``.
    ``0`` where :math:`L^\star \ge L_0`; ``inf`` where the target is unreachable
    (:math:`L^\star \le L_\infty`, which includes every unstable rate). This is the
    continuous relaxation of the step count, which is :math:`\max(1, \lceil t \rceil)`
    for :math:`L^\star < L_0`: at :math:`\eta a = 1` the stationary loss is reached in one
    step and :math:`t` tends to ``0``.

    Parameters
    ----------
    lr : array_like of float
        Learning rates, ``> 0``.
    batch_size : array_like of float
        Batch sizes, ``> 0``.
    target_loss : array_like of float
        :math:`L^\star > 0`.
    curvature, noise_var, w0_sq : float or array_like
        :math:`a > 0`, :math:`\sigma^2 \ge 0`, :math:`w_0^2 \ge 0`.

    Returns
    -------
    float or ndarray

    See Also
    --------
    nqm.optimal_lr_target : The rate that minimizes it.
    nqm.scalar_expected_loss : The loss it solves for.

    References
    ----------
    .. [1] G. Zhang et al., "Which algorithmic choices matter at which batch sizes? Insights
       from a noisy quadratic model", NeurIPS 2019, arXiv:1907.04164, Sec. 3.
    .. [2] S. McCandlish, J. Kaplan, D. Amodei, "An empirical model of large-batch training",
       arXiv:1812.06162, 2018, Eq. (2.6)-(2.7).

    Examples
    --------
    >>> from nqm import steps_to_target
    >>> print(steps_to_target([0.01, 0.1, 1.0], 16, 0.01, curvature=1.0, noise_var=1.0,
    ...                       w0_sq=1.0))
    [195.39332153  19.40205739          inf]
    """
    lr = positive("lr", lr)
    batch_size = positive("batch_size", batch_size)
    target_loss = positive("target_loss", target_loss)
    curvature = positive("curvature", curvature)
    noise_var = nonnegative("noise_var", noise_var)
    w0_sq = nonnegative("w0_sq", w0_sq)
    log_rate, drive = _moments(lr, batch_size, curvature, noise_var)
    m_target = 2.0 * target_loss / curvature
    return scalar_or_array(affine_first_passage(log_rate, drive, w0_sq, m_target))


def scalar_max_feasible_lr(batch_size, target_loss, *, curvature, noise_var):
    r"""Largest learning rate whose stationary loss lies below the target.

    .. math::

        \eta_\mathrm{feas} = \frac{4 B L^\star}{\sigma^2 + 2 a B L^\star},

    the root of :math:`L_\infty(\eta) = L^\star` (:func:`nqm.symbolic.scalar_target_feasibility`);
    :math:`B` is ``batch_size``, :math:`L^\star` is ``target_loss``, :math:`a` is
    ``curvature`` and :math:`\sigma^2` is ``noise_var``. It rises linearly in :math:`B`
    while :math:`2 a B L^\star \ll \sigma^2` and saturates at the stability bound
    :math:`2/a`.

    References
    ----------
    .. [1] G. Zhang et al., "Which algorithmic choices matter at which batch sizes? Insights
       from a noisy quadratic model", NeurIPS 2019, arXiv:1907.04164, Sec. 3.

    See Also
    --------
    nqm.optimal_lr_target : Bounded above by it.
    nqm.scalar_stationary_loss : The loss it bounds.

    Examples
    --------
    >>> from nqm import scalar_max_feasible_lr
    >>> print(scalar_max_feasible_lr([1, 100, 10000], 0.01, curvature=1.0, noise_var=1.0))
    [0.03921569 1.33333333 1.99004975]
    """
    batch_size = positive("batch_size", batch_size)
    target_loss = positive("target_loss", target_loss)
    curvature = positive("curvature", curvature)
    noise_var = nonnegative("noise_var", noise_var)
    bt = batch_size * target_loss
    return scalar_or_array(4.0 * bt / (noise_var + 2.0 * curvature * bt))


def optimal_lr_target(batch_size, target_loss, *, curvature, noise_var, w0_sq):
    r"""Learning rate that reaches a target expected loss in the fewest steps.

    .. math::

        \eta^\star(B) = \arg\min_{\eta} t(\eta, B), \qquad
        0 < \eta^\star < \min\big(1/a,\ \eta_\mathrm{feas}(B)\big),

    with :math:`t` from :func:`steps_to_target` and :math:`\eta_\mathrm{feas}` from
    :func:`scalar_max_feasible_lr`; :math:`B` is ``batch_size`` and :math:`L^\star` is
    ``target_loss``. While noise dominates (:math:`\eta_\mathrm{feas} \ll 1/a`) the optimum
    is a fixed fraction of :math:`\eta_\mathrm{feas} \propto B`: linear scaling. Once
    :math:`\eta_\mathrm{feas}` exceeds :math:`1/a`, curvature caps it at :math:`1/a`.
    Found numerically (grid, then bounded Brent in :math:`\log\eta`).

    Parameters
    ----------
    batch_size : array_like of float
        Batch sizes, ``> 0``.
    target_loss : array_like of float
        :math:`0 < L^\star < L_0 = a w_0^2 / 2`.
    curvature, noise_var, w0_sq : float
        :math:`a > 0`, :math:`\sigma^2 \ge 0`, :math:`w_0^2 > 0`.

    Returns
    -------
    float or ndarray
        The optimal rate; always finite, since every :math:`L^\star > 0` is reachable for
        small enough :math:`\eta`.

    Raises
    ------
    ValueError
        If ``target_loss`` is not below the initial loss (every rate reaches it at step 0).

    See Also
    --------
    nqm.optimal_lr_horizon : The fixed-horizon criterion.
    nqm.steps_to_target : The steps it minimizes.
    nqm.scalar_max_feasible_lr : Its upper bound.

    References
    ----------
    .. [1] G. Zhang et al., "Which algorithmic choices matter at which batch sizes? Insights
       from a noisy quadratic model", NeurIPS 2019, arXiv:1907.04164, Sec. 3.
    .. [2] S. McCandlish, J. Kaplan, D. Amodei, "An empirical model of large-batch training",
       arXiv:1812.06162, 2018, Eq. (2.6)-(2.7).

    Examples
    --------
    >>> from nqm import optimal_lr_target
    >>> print(optimal_lr_target([1, 16, 256, 4096], 0.01, curvature=1.0, noise_var=1.0,
    ...                         w0_sq=1.0))
    [0.03357487 0.43209513 1.         1.        ]
    """
    batch_size = positive("batch_size", batch_size)
    target_loss = positive("target_loss", target_loss)
    curvature = positive("curvature", curvature)
    noise_var = nonnegative("noise_var", noise_var)
    w0_sq = positive("w0_sq", w0_sq)
    if (target_loss >= 0.5 * curvature * w0_sq).any():
        raise ValueError("target_loss must be below the initial loss curvature * w0_sq / 2, got "
                         f"target_loss={target_loss}, initial loss {0.5 * curvature * w0_sq} "
                         f"(curvature={curvature}, w0_sq={w0_sq})")
    feasible = np.asarray(scalar_max_feasible_lr(
        batch_size, target_loss, curvature=curvature, noise_var=noise_var))

    def solve(b, target, a, s2, m0, lr_feas):
        scale = 2.0 * target / a            # second moments in units of the target's, so that
                                            # a tiny target's rates (lr^2 underflows) still work
        def objective(lr):
            drive = lr * (lr / scale) * s2 / b
            return affine_first_passage(_log_rate(lr, a), drive, m0 / scale, 1.0)
        high = min(1.0 / a, lr_feas)
        return minimize_on_log_scale(objective, 1e-9 * high, high)

    return scalar_or_array(np.vectorize(solve, otypes=[float])(
        batch_size, target_loss, curvature, noise_var, w0_sq, feasible))
