"""What sign descent's best step needs at a point of a run: the gradient, each coordinate's
per-example gradient variance, and the Hessian, over the whole training set."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np
import torch
from torch.func import grad, jacrev, vmap

from empirical._core.arguments import FLOAT32_MAX, checked, function, parameters, real, tensors
from empirical.probes._hessian import _flat

MAX_PARAMETERS = 4096
"""The Hessian is formed: a model with more parameters than this is refused."""


class SignStatistics(NamedTuple):
    """Result of :func:`sign_descent_statistics`, over the flattened parameters.

    See Also
    --------
    sign_descent_statistics : Returns one.
    """

    gradient: np.ndarray
    """:math:`G`, shape (d,): the mean gradient over the training set."""
    noise_var: np.ndarray
    """:math:`\\sigma_i^2`, shape (d,): the per-example gradient variance of each coordinate."""
    hessian: np.ndarray
    """:math:`H`, shape (d, d)."""


@checked(loss=function, params=parameters, data=tensors, weight_decay=real(0.0, FLOAT32_MAX))
def sign_descent_statistics(loss: Callable, params: Mapping[str, torch.Tensor], data: tuple, *,
                            weight_decay: float = 0.0) -> SignStatistics:
    r"""The gradient, per-coordinate gradient noise and Hessian of a loss at ``params``.

    Over all of ``data`` (the training set a sweep samples minibatches from, with
    replacement): the per-example gradients :math:`g_n` (``torch.func.vmap`` of ``grad`` on
    one-example batches) give :math:`G = \bar g` and :math:`\sigma_i^2 = \frac1N \sum_n (g_{n,i}
    - G_i)^2`, so a minibatch of :math:`B` examples has coordinate variance
    :math:`\sigma_i^2/B`; :math:`H` is ``jacrev`` of ``jacrev`` of the mean loss. A coupled L2
    ``weight_decay`` :math:`\lambda` (Adam's ``weight_decay``) adds :math:`\lambda\theta` to
    :math:`G` and :math:`\lambda I` to :math:`H`, and no noise. These are what
    :func:`nqm.sign_descent_lr` and :func:`nqm.surge_parameters` take.

    Parameters
    ----------
    loss : callable ``(params, batch) -> Tensor``
        A workload's loss.
    params : dict of str to Tensor
        At most :data:`MAX_PARAMETERS` entries in all.
    data : tuple of Tensor
    weight_decay : float, default 0.0

    Returns
    -------
    SignStatistics

    References
    ----------
    .. [1] S. Li et al., "Surge phenomenon in optimal learning rate and batch size scaling",
       NeurIPS 2024, arXiv:2405.14578, sec. 3.

    See Also
    --------
    per_example_noise : The trace of the same covariance, on minibatches.
    nqm.surge_parameters : The surge these predict.

    Examples
    --------
    For :math:`\overline{\lVert w - x\rVert^2}` at :math:`w = 0` with
    :math:`x \sim N((1, -0.5), I)` the per-example gradient is :math:`2(w - x)`:
    :math:`G = (-2, 1)`, :math:`\sigma_i^2 = 4` and :math:`H = 2I`.

    >>> import torch
    >>> from empirical import sign_descent_statistics
    >>> x = torch.randn(20000, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> x = x + torch.tensor([1.0, -0.5], dtype=torch.float64)
    >>> def loss(p, batch):
    ...     return torch.mean(torch.sum((p["w"] - batch[0]) ** 2, dim=1))
    >>> s = sign_descent_statistics(loss, {"w": torch.zeros(2, dtype=torch.float64)}, (x,))
    >>> print(s.gradient.round(1), s.noise_var.round(1), s.hessian.diagonal().round(1))
    [-2.  1.] [4.1 4. ] [2. 2.]
    """
    vector, per_example, h = per_example_gradients_and_hessian(loss, params, data)
    mean = per_example.mean(axis=0)
    noise_var = ((per_example - mean) ** 2).mean(axis=0)
    flat = vector.double().cpu().numpy()
    return SignStatistics(mean + weight_decay * flat, noise_var, h + weight_decay * np.eye(flat.size))


def per_example_gradients_and_hessian(loss: Callable, params: Mapping[str, torch.Tensor],
                                      data: tuple, *, hessian: bool = True
                                      ) -> tuple[torch.Tensor, np.ndarray, np.ndarray | None]:
    """The flattened parameters, every example's gradient ``(N, d)`` and the symmetrized Hessian
    ``(d, d)`` of the mean loss on ``data`` (float64 arrays; ``None`` without ``hessian``), for
    models of at most :data:`MAX_PARAMETERS` parameters."""
    vector, unflatten = _flat({k: v.detach() for k, v in params.items()})
    if vector.numel() > MAX_PARAMETERS:
        raise ValueError(f"params must hold at most {MAX_PARAMETERS} numbers (the Hessian is "
                         f"formed), got {vector.numel()}")

    def flat_loss(flat, batch):
        return loss(unflatten(flat), batch)

    per_example = vmap(lambda example: grad(flat_loss)(vector, tuple(t[None] for t in example)))(data)
    if not hessian:
        return vector, per_example.double().cpu().numpy(), None
    h = jacrev(jacrev(flat_loss))(vector, data).double().cpu().numpy()      # reverse over reverse
    return vector, per_example.double().cpu().numpy(), (h + h.T) / 2
