"""Argument checks every layer shares: rates, batch sizes, steps, devices, memory."""

from __future__ import annotations

import os

import numpy as np
import torch

from empirical._core.arguments import MAX_EXAMPLES, MAX_STEPS, whole

DEVICE_TYPES = ("cpu", "cuda", "mps")


def is_workload_reference(model) -> bool:
    """``model`` has the form ``"where:factory"``, a factory name after the last colon."""
    where, colon, attr = str(model).rpartition(":")
    return bool(colon and where and attr.isidentifier())


def check_run_args(lrs, batch_sizes, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """The trainers' boundary: rates finite and ``> 0``, batch sizes and steps integers ``>= 1``.

    Returns the rates as a float array and the batch sizes as an int array.
    """
    try:
        rates = np.atleast_1d(np.asarray(lrs, dtype=float))
    except (TypeError, ValueError):
        raise ValueError(f"lrs must be numbers, got {lrs!r}") from None
    if rates.ndim != 1 or rates.size == 0 or not np.all(np.isfinite(rates) & (rates > 0)):
        raise ValueError(f"lrs must be a non-empty list of finite numbers > 0, got {lrs!r}")
    sizes = int_tuple("batch_size", batch_sizes, low=1)
    if max(sizes) > MAX_EXAMPLES:
        raise ValueError(f"batch_size must be at most {MAX_EXAMPLES}, got {max(sizes)}")
    whole(1, MAX_STEPS)("steps", steps)
    return rates, np.array(sizes, dtype=int)


def check_device(device) -> str:
    """A device torch can use here, as a string; a one-line ``ValueError`` otherwise."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'cpu', 'cuda[:N]' or 'mps', got {device!r}") from None
    if parsed.type not in DEVICE_TYPES:
        raise ValueError(f"device must be 'cpu', 'cuda[:N]' or 'mps', got {device!r}")
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} asked for, but torch sees no CUDA device")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ValueError(f"device={device!r}: torch sees {torch.cuda.device_count()} CUDA "
                             "device(s)")
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={device!r} asked for, but torch has no MPS device here")
    return str(parsed)


def memory_limit() -> int:
    """Bytes a sweep may plan to hold: 80% of this machine's physical memory."""
    return int(0.8 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def int_tuple(name: str, values, *, low: int) -> tuple[int, ...]:
    values = tuple(np.atleast_1d(values).tolist()) if not isinstance(values, int) else (values,)
    if not values:
        raise ValueError(f"{name} must not be empty")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < low:
            raise ValueError(f"{name} must be integers >= {low}, got {v!r}")
    return tuple(int(v) for v in values)
