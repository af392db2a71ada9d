"""The diagonal NQM's optimizer options, checked: momentum, preconditioning power, averaging decay."""

from __future__ import annotations

from typing import NamedTuple

from nqm._fewest_steps import Space
from nqm._validation import as_float_array


class _Optimizer(NamedTuple):
    beta: float
    p: float
    gamma: float = 0.0


def _search_space(momentum, precondition_power, ema_decay) -> Space:
    """What :meth:`DiagonalNQM.optimal_steps_to_target` searches besides the rate."""
    given = {"momentum": momentum, "ema_decay": ema_decay}
    tuned = [name for name, value in given.items() if isinstance(value, str)]
    for name in tuned:
        if given[name] != "tuned":
            raise ValueError(f'{name} must be a number or "tuned", got {given[name]!r}')
    if len(tuned) == 2:
        raise ValueError('momentum and ema_decay cannot both be "tuned": tune one, fix the '
                         "other")
    fixed = _check_optimizer(0.0 if momentum == "tuned" else momentum, precondition_power,
                             0.0 if ema_decay == "tuned" else ema_decay)
    return Space(None if momentum == "tuned" else fixed.beta, fixed.p,
                 None if ema_decay == "tuned" else fixed.gamma)


def _check_optimizer(momentum, precondition_power, ema_decay=0.0) -> _Optimizer:
    beta = float(as_float_array("momentum", momentum, low=0.0, strict=False))
    if beta >= 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    p = float(as_float_array("precondition_power", precondition_power, low=0.0, strict=False))
    if p > 1.0:
        raise ValueError(f"precondition_power must be in [0, 1], got {precondition_power!r}")
    gamma = float(as_float_array("ema_decay", ema_decay, low=0.0, strict=False))
    if gamma >= 1.0:
        raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay!r}")
    return _Optimizer(beta, p, gamma)
