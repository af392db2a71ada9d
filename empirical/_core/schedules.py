"""Learning-rate schedules (warmup, cosine or constant), read off ``torch.optim.lr_scheduler``."""

from __future__ import annotations

import numpy as np
import torch

from empirical._core.arguments import MAX_STEPS, checked, kind, real, whole


def lr_schedule(optimizer: torch.optim.Optimizer, steps: int, *, warmup: int = 10,
                start_factor: float = 0.001, decay: str = "cosine"):
    """The learning-rate schedule of a run, built from ``torch.optim.lr_scheduler``.

    A linear warmup over ``warmup`` steps from ``start_factor`` times the rate
    (``LinearLR``), then a cosine decay to zero at ``steps`` (``CosineAnnealingLR``) or a
    constant rate, chained with ``SequentialLR`` at the milestone ``warmup``. The defaults are
    the notebook's Adam schedule: ``SequentialLR(LinearLR(0.001, 10),
    CosineAnnealingLR(steps - 10), [10])``.
    """
    sched = torch.optim.lr_scheduler
    if decay not in ("cosine", "constant"):
        raise ValueError(f"decay must be 'cosine' or 'constant', got {decay!r}")
    after = (sched.CosineAnnealingLR(optimizer, T_max=steps - warmup) if decay == "cosine"
             else sched.ConstantLR(optimizer, factor=1.0, total_iters=0))
    if warmup == 0:
        return after
    return sched.SequentialLR(optimizer, [
        sched.LinearLR(optimizer, start_factor=start_factor, total_iters=warmup), after],
        milestones=[warmup])


@checked(steps=whole(1, MAX_STEPS), warmup=whole(0, MAX_STEPS), start_factor=real(0.0, 1.0, open_low=True),
         decay=kind(str))
def schedule_factors(steps: int, warmup: int = 10, *, start_factor: float = 0.001,
                     decay: str = "cosine") -> np.ndarray:
    """The learning-rate factor at each step of a warmup + cosine (or constant) schedule.

    Read off ``torch.optim.lr_scheduler`` itself (a dummy optimizer with lr 1 under
    :func:`empirical.reference.lr_schedule`) so that the vectorized optimizers follow exactly
    the sequence the per-run loops get. The defaults are the notebook's Adam schedule: 10
    warmup steps from 0.001 of the rate, then a cosine decay.

    See Also
    --------
    train_mlp_batched : Applies it to Adam.
    OptimizerConfig : A workload's schedule.

    Examples
    --------
    >>> from empirical import schedule_factors
    >>> schedule_factors(4, warmup=2, start_factor=0.5, decay="constant")
    array([0.5 , 0.75, 1.  , 1.  ])
    """
    if decay == "cosine" and steps <= warmup or steps < warmup:
        raise ValueError(f"steps must exceed the {warmup} warmup steps of the schedule, "
                         f"got steps={steps}")
    dummy = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = lr_schedule(dummy, steps, warmup=warmup, start_factor=start_factor, decay=decay)
    factors = np.empty(steps)
    for t in range(steps):
        factors[t] = dummy.param_groups[0]["lr"]
        dummy.step()
        scheduler.step()
    return factors
