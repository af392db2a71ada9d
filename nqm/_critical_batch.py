r"""The fewest steps and examples to a loss along the greedy schedule, and the critical batch
size they define, for the quadratics whose noise scale is affine in the inverse error.

On Gaussian least squares and on the scalar noisy quadratic model the greedy rate (the best rate
of one step, McCandlish et al.'s :math:`\eta_\max / (1 + B_{\rm noise}/B)`) takes the error
:math:`e` to exactly

.. math::

    e' = e\,\frac{B_{\rm noise}(e)}{B + B_{\rm noise}(e)},\qquad
    B_{\rm noise}(e) = k + \frac{c}{e},

(:func:`nqm.symbolic.greedy_error_map`), with :math:`k = D + 1`, :math:`c = \sigma^2 D^2` for
least squares (:math:`e = \lVert W - W^\star\rVert_F^2`) and :math:`k = 0`,
:math:`c = \sigma^2 / (2a)` for the scalar NQM (:math:`e` its expected loss). The expected
error after a step grows with the error before it at every rate, so the greedy schedule reaches
any error in the fewest steps over all schedules. McCandlish et al.'s continuum model
(:math:`\Delta e` per step small; their eqs. 2.11-2.12 with the noise scale of each loss)
integrates the same improvement to :math:`S(B) = S_{\min}(1 + B_{\rm crit}/B)` with

.. math::

    S_{\min} = \ln\frac{e_0}{e},\qquad
    E_{\min} = k\ln\frac{e_0}{e} + c\Big(\frac1e - \frac1{e_0}\Big),\qquad
    B_{\rm crit} = \frac{E_{\min}}{S_{\min}}

(:func:`nqm.symbolic.greedy_critical_batch`). :math:`E_{\min}` is exact; :math:`S_{\min}` is
not: one step of an infinite batch reaches :math:`e' = 0` here, and the exact steps at
:math:`B \gg k` fall as :math:`\ln(e_0/e) / \ln(1 + B/k)`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nqm._validation import MAX_STEPS, positive, scalar_or_array

MAX_GREEDY_STEPS = 10**6
"""With ``k > 0`` the exact greedy count iterates the map, and is refused beyond this many
steps."""


class CriticalBatch(NamedTuple):
    r"""McCandlish et al.'s fewest steps, fewest examples and critical batch size to one loss.

    Attributes
    ----------
    s_min : float or ndarray
        :math:`S_{\min}`, the steps as :math:`B \to \infty` (continuum model).
    e_min : float or ndarray
        :math:`E_{\min}`, the examples as :math:`B \to 0`.
    b_crit : float or ndarray
        :math:`B_{\rm crit} = E_{\min} / S_{\min}`.

    See Also
    --------
    LeastSquaresSGD.critical_batch : For Gaussian least squares.
    scalar_critical_batch : For the scalar noisy quadratic model.
    """

    s_min: np.ndarray
    e_min: np.ndarray
    b_crit: np.ndarray


def continuum_critical_batch(error, initial_error: float, floor: float,
                             scale: float) -> CriticalBatch:
    """:class:`CriticalBatch` of the continuum model for ``B_noise(e) = floor + scale / e``
    (checked arguments; ``error < initial_error``)."""
    s_min = np.log(initial_error / error)
    e_min = floor * s_min + scale * (1.0 / error - 1.0 / initial_error)
    return CriticalBatch(scalar_or_array(s_min), scalar_or_array(e_min),
                         scalar_or_array(e_min / s_min))


def greedy_step_count(batch_size, error, initial_error: float, floor: float, scale: float,
                      arguments):
    """The exact number of greedy steps from ``initial_error`` to ``error`` or below, for
    ``B_noise(e) = floor + scale / e`` (checked arguments), iterating ``u' = u (B + B_noise) /
    B_noise`` on ``u = 1 / e`` for every broadcast pair at once; ``arguments()`` names the
    caller's arguments and values for the error beyond the largest count."""
    b, target = np.broadcast_arrays(np.asarray(batch_size, dtype=float),
                                    np.asarray(error, dtype=float))
    continuum = continuum_critical_batch(target, initial_error, floor, scale)
    with np.errstate(over="ignore"):
        bound = np.where(target < initial_error,
                         np.asarray(continuum.s_min) + np.asarray(continuum.e_min) / b, 0.0)
    limit = MAX_STEPS if floor == 0 else MAX_GREEDY_STEPS
    if not np.all(bound <= limit):
        raise ValueError(f"the greedy schedule needs about {np.max(bound):.3g} steps, beyond "
                         f"{limit:.3g}, at {arguments()}")
    goal = 1.0 / target
    if floor == 0:                  # u' = u + B / scale: the count in closed form
        return scalar_or_array(np.ceil(np.maximum(goal - 1.0 / initial_error, 0.0) * scale / b
                                       * (1 - 1e-14)).astype(np.int64))
    shape, b, goal = b.shape, b.ravel(), goal.ravel()
    u = np.full(b.shape, 1.0 / initial_error)
    count = np.zeros(b.shape, dtype=np.int64)
    active = u < goal * (1 - 1e-14)
    while active.any():
        noise = floor + scale * u[active]
        u[active] *= (b[active] + noise) / noise
        count[active] += 1
        active[active] = u[active] < goal[active] * (1 - 1e-14)
    return scalar_or_array(count.reshape(shape))


def _scalar_scale(curvature, noise_var, w0_sq, target_loss):
    a = float(positive("curvature", curvature))
    noise = float(positive("noise_var", noise_var))
    w0 = float(positive("w0_sq", w0_sq))
    initial = a * w0 / 2
    target = positive("target_loss", target_loss)
    if np.any(target >= initial):
        raise ValueError(f"target_loss must lie below the initial loss curvature * w0_sq / 2 = "
                         f"{a:g} * {w0:g} / 2 = {initial:.6g}, got {np.max(target):.6g}")
    return target, initial, noise / (2 * a)


def scalar_critical_batch(target_loss, *, curvature: float, noise_var: float,
                          w0_sq: float) -> CriticalBatch:
    r"""McCandlish et al.'s :math:`S_{\min}`, :math:`E_{\min}`, :math:`B_{\rm crit}` to a loss of
    the scalar noisy quadratic model.

    .. math::

        S_{\min} = \ln\frac{L_0}{L},\qquad
        E_{\min} = \frac{\sigma^2}{2a}\Big(\frac1L - \frac1{L_0}\Big),\qquad
        B_{\rm crit} = \frac{E_{\min}}{S_{\min}},\qquad L_0 = \frac{a w_0^2}{2},

    from :math:`B_{\rm noise} = \sigma^2/(2aL)` and :math:`\Delta L_{\max} = L` integrated along
    the greedy schedule (:func:`nqm.symbolic.greedy_critical_batch` with :math:`k = 0`). Here
    :math:`E_{\min}` is exact for every batch size: the greedy step gives
    :math:`1/L_{t+1} = 1/L_t + 2aB/\sigma^2`, so :math:`E = BS` is the same at every
    :math:`B` up to rounding to whole steps (:func:`scalar_greedy_steps`), and the continuum's
    :math:`S_{\min}` term is absent from the exact count: in one dimension an infinite batch
    reaches the minimum in one step, so the critical batch size of the exact dynamics is set by
    whole steps alone.

    Parameters
    ----------
    target_loss : float or array_like
        :math:`L < L_0`, ``> 0``.
    curvature, noise_var, w0_sq : float
        :math:`a`, :math:`\sigma^2` (per example), :math:`\mathbb{E}w_0^2`, as in
        :func:`scalar_expected_loss`.

    Returns
    -------
    CriticalBatch

    References
    ----------
    .. [1] S. McCandlish, J. Kaplan, D. Amodei, "An Empirical Model of Large-Batch Training",
       arXiv:1812.06162 (2018), eqs. 2.11-2.12, integrated along the run.

    See Also
    --------
    scalar_greedy_steps : The exact step count it approximates.
    LeastSquaresSGD.critical_batch : The same for Gaussian least squares.
    optimal_lr_greedy : The greedy rate.

    Examples
    --------
    >>> from nqm import scalar_critical_batch
    >>> fewest = scalar_critical_batch(0.1, curvature=1.0, noise_var=2.0, w0_sq=2.0)
    >>> print(round(fewest.s_min, 4), round(fewest.e_min, 4), round(fewest.b_crit, 4))
    2.3026 9.0 3.9087
    """
    target, initial, scale = _scalar_scale(curvature, noise_var, w0_sq, target_loss)
    return continuum_critical_batch(target, initial, 0.0, scale)


def scalar_greedy_steps(batch_size, target_loss, *, curvature: float, noise_var: float,
                        w0_sq: float):
    r"""The fewest SGD steps to an expected loss of the scalar noisy quadratic model, over all
    learning-rate schedules: the greedy schedule's, exactly.

    .. math::

        \frac{1}{L_t} = \frac{1}{L_0} + t\,\frac{2aB}{\sigma^2}
        \quad\Longrightarrow\quad
        S = \Big\lceil \frac{\sigma^2}{2aB}\Big(\frac1L - \frac1{L_0}\Big)\Big\rceil
          = \Big\lceil\frac{E_{\min}}{B}\Big\rceil,

    with the greedy rate :func:`optimal_lr_greedy` at every step
    (:func:`nqm.symbolic.greedy_error_map` with :math:`k = 0`). Since the expected loss after a
    step grows with the loss before it at every rate, minimizing each step minimizes every
    later one: no schedule does better.

    Parameters
    ----------
    batch_size, target_loss : float or array_like
        ``> 0``; ``target_loss`` below :math:`L_0 = a w_0^2 / 2`. Broadcast together.
    curvature, noise_var, w0_sq : float
        As in :func:`scalar_expected_loss`.

    Returns
    -------
    int or ndarray of int
        The whole number of steps.

    References
    ----------
    .. [1] G. Zhang et al., "Which algorithmic choices matter at which batch sizes? Insights
       from a noisy quadratic model", NeurIPS 2019, arXiv:1907.04164, Sec. 3 (the scalar model
       and its greedy schedule).
    .. [2] S. McCandlish, J. Kaplan, D. Amodei, "An Empirical Model of Large-Batch Training",
       arXiv:1812.06162 (2018), Eq. (2.11) (steps and examples to a target, E_min / B).

    See Also
    --------
    scalar_critical_batch : McCandlish et al.'s continuum model of the same count.
    steps_to_target : The steps at one constant rate.

    Examples
    --------
    >>> from nqm import scalar_greedy_steps
    >>> print(scalar_greedy_steps([1, 3, 1000], 0.1, curvature=1.0, noise_var=2.0, w0_sq=2.0))
    [9 3 1]
    """
    target, initial, scale = _scalar_scale(curvature, noise_var, w0_sq, target_loss)
    b = positive("batch_size", batch_size)
    return greedy_step_count(b, target, initial, 0.0, scale, lambda:
                             f"batch_size={np.min(b):g}, target_loss={np.min(target):g}, "
                             f"curvature={curvature:g}, noise_var={noise_var:g}, w0_sq={w0_sq:g}")
