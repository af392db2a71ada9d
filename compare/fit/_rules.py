r"""Scaling rules: the learning rate as a function of the batch size, each with its parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from empirical._core.arguments import numbers

_POSITIVE = numbers(None, low=0.0, open_low=True)


def _batch(batch_sizes) -> np.ndarray:
    """Batch sizes: finite and ``> 0``."""
    _POSITIVE("batch_sizes", batch_sizes)
    return np.asarray(batch_sizes, dtype=float)


def _parameter(name: str, value, *, positive: bool = True) -> np.ndarray:
    """A rule's parameter: finite, and ``> 0`` unless it is an exponent."""
    (_POSITIVE if positive else numbers(None))(name, value)
    return np.asarray(value, dtype=float)


# the rules themselves, unchecked: the fits call them many times with checked arrays
def _constant(b, scale):
    return scale * np.ones_like(b)


def _linear(b, scale):
    return scale * b


def _sqrt(b, scale):
    return scale * np.sqrt(b)


def _power(b, scale, exponent):
    return scale * b ** exponent


def _logarithmic(b, scale, b0):
    return scale * np.log1p(b / b0)


def _saturating(b, lr_max, b_noise):
    return lr_max / (1.0 + b_noise / b)


def _surge(b, lr_max, b_noise):
    return lr_max / (0.5 * (np.sqrt(b_noise / b) + np.sqrt(b / b_noise)))


def constant_rule(batch_sizes, scale):
    r"""No scaling, :math:`\eta(B) = c`: the optimum does not move with the batch size.

    ``scale`` is :math:`c`. The null rule every other is scored against: a fixed-horizon
    optimum that grows only logarithmically, or Adam's far above its noise scale, can be
    indistinguishable from it over the measured batch sizes.

    See Also
    --------
    power_rule : Exponent 0 is this rule.
    linear_rule : Linear scaling.

    Examples
    --------
    >>> from compare import constant_rule
    >>> print(constant_rule([1, 4, 16], 0.01))
    [0.01 0.01 0.01]
    """
    return _constant(_batch(batch_sizes), _parameter("scale", scale))


def linear_rule(batch_sizes, scale):
    r"""Linear scaling, :math:`\eta(B) = c\,B`.

    ``scale`` is :math:`c`, the learning rate per unit batch size.

    See Also
    --------
    sqrt_rule : Square-root scaling.
    power_rule : A free exponent.

    References
    ----------
    .. [1] P. Goyal et al., "Accurate, large minibatch SGD: training ImageNet in 1 hour",
       arXiv:1706.02677 (the linear scaling rule).

    Examples
    --------
    >>> from compare import linear_rule
    >>> print(linear_rule([1, 4, 16], 0.01))
    [0.01 0.04 0.16]
    """
    return _linear(_batch(batch_sizes), _parameter("scale", scale))


def sqrt_rule(batch_sizes, scale):
    r"""Square-root scaling, :math:`\eta(B) = c\,\sqrt{B}`.

    ``scale`` is :math:`c`. Keeps the SGD noise scale :math:`\eta^2/B` fixed, or, for Adam,
    the update's signal-to-noise ratio.

    See Also
    --------
    linear_rule : Linear scaling.
    power_rule : A free exponent.

    References
    ----------
    .. [1] A. Krizhevsky, "One weird trick for parallelizing convolutional neural networks",
       arXiv:1404.5997; S. Malladi et al., "On the SDEs and scaling rules for adaptive
       gradient algorithms", NeurIPS 2022, arXiv:2205.10287.

    Examples
    --------
    >>> from compare import sqrt_rule
    >>> print(sqrt_rule([1, 4, 16], 0.01))
    [0.01 0.02 0.04]
    """
    return _sqrt(_batch(batch_sizes), _parameter("scale", scale))


def power_rule(batch_sizes, scale, exponent):
    r"""Free power law, :math:`\eta(B) = c\,B^{\alpha}`.

    ``scale`` is :math:`c` and ``exponent`` is :math:`\alpha` (1 linear, 1/2 square root);
    ``inf`` where :math:`B^{\alpha}` overflows float64.

    See Also
    --------
    linear_rule : Exponent 1.
    sqrt_rule : Exponent 1/2.
    fit_scaling : Fits the exponent with an interval.

    Examples
    --------
    >>> from compare import power_rule
    >>> print(power_rule([1, 4, 16], 0.01, 0.5))
    [0.01 0.02 0.04]
    """
    with np.errstate(over="ignore"):                 # inf where B**exponent overflows
        return _power(_batch(batch_sizes), _parameter("scale", scale),
                      _parameter("exponent", exponent, positive=False))


def logarithmic_rule(batch_sizes, scale, b0):
    r"""Logarithmic scaling, :math:`\eta(B) = c\,\ln(1 + B/B_0)`.

    The fixed-step-budget optimum of the noisy quadratic model: with a horizon of :math:`T`
    steps on curvature :math:`a` (noise :math:`\sigma^2`, initial :math:`\mathbb{E}w_0^2 =
    w_0^2`), minimizing :math:`\tfrac a2[w_0^2 e^{-2a\eta T} + \eta\sigma^2/(2aB)]` gives
    :math:`\eta^\star = c\ln(B/B_0)` with :math:`c = 1/(2aT)` and :math:`B_0 =
    \sigma^2/(4a^2Tw_0^2)` (derived in :func:`nqm.symbolic.fixed_horizon_optimal_lr`). The
    ``1 +`` keeps the rule positive below :math:`B_0`, where it turns linear
    (:math:`\eta \approx cB/B_0`); above :math:`B_0` the rate grows by :math:`c\ln 4` per
    quadrupling of the batch, whatever the batch size.

    ``scale`` is :math:`c` (the rate gained per e-fold of :math:`B`), ``b0`` is :math:`B_0`.

    See Also
    --------
    nqm.optimal_lr_horizon : The exact fixed-horizon optimum this rule approximates.
    saturating_rule : The steps-to-target counterpart (linear, then flat).

    References
    ----------
    .. [1] G. Zhang et al., "Which algorithmic choices matter at which batch sizes? Insights
       from a noisy quadratic model", NeurIPS 2019, arXiv:1907.04164, Sec. 3.

    Examples
    --------
    >>> from compare import logarithmic_rule
    >>> print(logarithmic_rule([1, 4, 16], 0.01, 1.0))
    [0.00693147 0.01609438 0.02833213]
    """
    return _logarithmic(_batch(batch_sizes), _parameter("scale", scale), _parameter("b0", b0))


def saturating_rule(batch_sizes, lr_max, b_noise):
    r"""Saturating scaling, :math:`\eta(B) = \eta_{\max} / (1 + B_\mathrm{noise}/B)`.

    ``lr_max`` is :math:`\eta_{\max}`, the noise-free optimum, and ``b_noise`` is
    :math:`B_\mathrm{noise}`, the gradient noise scale: linear in :math:`B` for
    :math:`B \ll B_\mathrm{noise}`, flat above it. Derived for SGD on a quadratic with the
    greedy (one-step) criterion; see :func:`nqm.optimal_lr_greedy`.

    See Also
    --------
    nqm.optimal_lr_greedy : The one-step optimum it comes from.
    surge_rule : Adam's counterpart.
    logarithmic_rule : The fixed-horizon rule.

    References
    ----------
    .. [1] S. McCandlish, J. Kaplan, D. Amodei, "An empirical model of large-batch training",
       arXiv:1812.06162, Eq. 2.6.

    Examples
    --------
    >>> from compare import saturating_rule
    >>> print(saturating_rule([1, 10, 100], 1.0, 10.0))
    [0.09090909 0.5        0.90909091]
    """
    return _saturating(_batch(batch_sizes), _parameter("lr_max", lr_max),
                       _parameter("b_noise", b_noise))


def surge_rule(batch_sizes, lr_max, b_noise):
    r"""Adam's surge, :math:`\eta(B) = \eta_{\max} / \big(\tfrac12(\sqrt{B_\mathrm{noise}/B} +
    \sqrt{B/B_\mathrm{noise}})\big)`.

    ``lr_max`` is :math:`\eta_{\max}`, reached at :math:`B = B_\mathrm{noise}` (``b_noise``):
    the optimum rises as :math:`\sqrt{B}` below it and falls as :math:`1/\sqrt{B}` above it.

    See Also
    --------
    saturating_rule : SGD's counterpart.

    References
    ----------
    .. [1] S. Li et al., "Surge phenomenon in optimal learning rate and batch size scaling",
       NeurIPS 2024, arXiv:2405.14578, Thm. 3.

    Examples
    --------
    >>> from compare import surge_rule
    >>> print(surge_rule([1, 100, 10000], 1.0, 100.0))
    [0.19801980 1.         0.19801980]
    """
    return _surge(_batch(batch_sizes), _parameter("lr_max", lr_max),
                  _parameter("b_noise", b_noise))


@dataclass(frozen=True)
class ScalingRule:
    """A named rule and how to fit it in log space.

    Attributes
    ----------
    name : str
        ``"constant"``, ``"linear"``, ``"sqrt"``, ``"power"``, ``"logarithmic"``,
        ``"saturating"`` or ``"surge"``.
    params : tuple of str
        Parameter names, in the order ``function`` takes them.
    meanings : tuple of str
        What each parameter means, in the same order.
    formula : str
        The rule in plain text, for tables.
    function : callable
        ``function(batch_sizes, *params) -> lr``.
    log_params : tuple of bool
        Which parameters are positive and fitted as their logarithm.

    See Also
    --------
    RULES : The rules by name.
    fit_rule : Fits one to optima.
    """

    name: str
    params: tuple
    meanings: tuple
    formula: str
    function: Callable
    log_params: tuple

    def __call__(self, batch_sizes, *params):
        return self.function(batch_sizes, *params)


RULES = {
    "constant": ScalingRule("constant", ("scale",), ("the learning rate at every B",), "c",
                            _constant, (True,)),
    "linear": ScalingRule("linear", ("scale",), ("learning rate per unit batch size",), "c B",
                          _linear, (True,)),
    "sqrt": ScalingRule("sqrt", ("scale",), ("learning rate at B = 1",), "c sqrt(B)", _sqrt,
                        (True,)),
    "power": ScalingRule("power", ("scale", "exponent"),
                         ("learning rate at B = 1", "the free exponent alpha"), "c B^alpha",
                         _power, (True, False)),
    "logarithmic": ScalingRule("logarithmic", ("scale", "b0"),
                               ("rate gained per e-fold of B, 1/(2 a T) in the NQM",
                                "batch size where linear growth turns logarithmic"),
                               "c ln(1 + B/B0)", _logarithmic, (True, True)),
    "saturating": ScalingRule("saturating", ("lr_max", "b_noise"),
                              ("the large-batch (noise-free) optimum",
                               "gradient noise scale: where the rate reaches lr_max / 2"),
                              "lr_max / (1 + B_noise/B)", _saturating, (True, True)),
    "surge": ScalingRule("surge", ("lr_max", "b_noise"),
                         ("the peak rate", "the batch size of the peak"),
                         "lr_max / (0.5 (sqrt(B_noise/B) + sqrt(B/B_noise)))", _surge,
                         (True, True)),
}
"""The rules compared on every study, by name.

Each a :class:`ScalingRule`: its parameters, their meanings, its formula and its function.
"""
