"""The maximal-update parametrization (muP) of the digits MLPs, as the ``mup`` package sets it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from empirical._core.arguments import checked, kind, whole
from empirical.problems._digits import MLPShape


@dataclass(frozen=True)
class MuPScaling:
    """Per-parameter factors that turn the standard parametrization into muP.

    Attributes
    ----------
    init : tuple of float
        One factor per parameter, ``(W_1, b_1, ..., W_L, b_L)``, on ``torch.nn.Linear``'s
        default initialization U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    lr : tuple of float
        One factor per parameter on the learning rate.
    readout : float
        The multiplier on the readout layer's input, ``1 / m``.
    width_mult : float
        ``m``, the width over the base width.

    See Also
    --------
    mup_scaling : Computes it.
    """

    init: tuple
    lr: tuple
    readout: float
    width_mult: float


@checked(shape=kind(MLPShape), base_width=whole(1, 2**20), optimizer=kind(str))
def mup_scaling(shape: MLPShape, base_width: int, optimizer: str = "adam") -> MuPScaling:
    r"""The muP factors of an MLP ``64 -> width x depth -> 10`` tuned at ``base_width``.

    With the width multiplier :math:`m` = ``shape.width / base_width``, the ``mup`` package's
    rules (``set_base_shapes`` on a model whose last layer is a ``MuReadout``, then ``MuAdam`` or
    ``MuSGD``) are, for a parameter with :math:`k` width dimensions:

    - initialization: ``torch.nn.Linear``'s default, except that a hidden bias (whose fan-in
      is a width) and the readout's weight and bias are multiplied by :math:`\sqrt{m}`;
    - the readout's input is multiplied by :math:`1/m` (``MuReadout``'s ``output_mult = 1``);
    - Adam: the learning rate of the hidden-to-hidden weights (:math:`k = 2`) is divided by
      :math:`m`, every other parameter keeps it;
    - SGD: the learning rate of every parameter with one width dimension (the input weights,
      the hidden biases, the readout's weight) is multiplied by :math:`m`; the
      hidden-to-hidden weights and the readout's bias keep it.

    At ``base_width`` every factor is 1: muP coincides with the standard parametrization there,
    so a rate tuned at the base width transfers to the others (Yang et al., 2022).

    Parameters
    ----------
    shape : MLPShape
    base_width : int
        The width at which the parametrizations coincide.
    optimizer : {"adam", "sgd"}, default "adam"

    Returns
    -------
    MuPScaling

    See Also
    --------
    empirical.train_digits_batched : Trains under it (``mup_base_width``).
    empirical.coordinate_check : The check that activations stay width-independent.

    References
    ----------
    G. Yang et al., Tensor Programs V: Tuning large neural networks via zero-shot
    hyperparameter transfer, arXiv:2203.03466 (Table 3 and the ``mup`` package,
    github.com/microsoft/mup, whose ``MuReadout``, ``set_base_shapes``, ``MuAdam`` and ``MuSGD``
    these factors reproduce).

    Examples
    --------
    >>> from empirical import MLPShape, mup_scaling
    >>> s = mup_scaling(MLPShape(32, 2), base_width=8)
    >>> s.lr                       # Adam: only the hidden-to-hidden weights' rate is divided by 4
    (1.0, 1.0, 0.25, 1.0, 1.0, 1.0)
    >>> s.init, s.readout
    ((1.0, 1.0, 1.0, 2.0, 2.0, 2.0), 0.25)
    """
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    m = shape.width / base_width
    n_layers = shape.depth + 1
    init, lr = [], []
    for layer in range(n_layers):
        wide_in, wide_out = layer > 0, layer < n_layers - 1
        readout = not wide_out
        init += [math.sqrt(m) if readout else 1.0, math.sqrt(m) if wide_in else 1.0]
        if optimizer == "adam":
            lr += [1 / m if wide_in and wide_out else 1.0, 1.0]
        else:
            lr += [1.0 if wide_in and wide_out else m, m if wide_out else 1.0]
    return MuPScaling(tuple(init), tuple(lr), 1 / m, m)
