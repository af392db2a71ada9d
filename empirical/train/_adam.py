"""Adam's update, op for op as ``torch.optim.Adam`` computes it, for batched parameters."""

from __future__ import annotations

import math

import torch


def adam_update_(param: torch.Tensor, grad: torch.Tensor, first: torch.Tensor,
                 second: torch.Tensor, rate: torch.Tensor, step: int, betas: tuple[float, float],
                 eps: float) -> None:
    """Apply one Adam step in place (add any coupled weight decay to ``grad`` beforehand).

    ``rate`` broadcasts against ``param``, one learning rate per run. The arithmetic follows
    ``torch.optim.Adam`` (single-tensor path) operation by operation, so the batched trainers
    match the per-run reference loops to rounding.
    """
    first.lerp_(grad, 1 - betas[0])
    second.mul_(betas[1]).addcmul_(grad, grad, value=1 - betas[1])
    # the same operations in the same order as torch.optim.Adam, in place: two temporaries
    denom = second.sqrt().div_(math.sqrt(1 - betas[1] ** step)).add_(eps)
    param.sub_(torch.mul(rate / (1 - betas[0] ** step), first).div_(denom))
