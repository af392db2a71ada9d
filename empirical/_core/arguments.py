"""Declared argument checks for the public functions: one line that names the argument.

``@checked(n_boot=whole(1, MAX_RESAMPLES), seed=SEED, study=kind(Study))`` checks the
arguments a caller passes (defaults are trusted) before the function runs: a wrong type is a
``TypeError``, a value out of range a ``ValueError``, each ``"<name> must be ..., got <value>"``.
Sizes that set how much work or memory a call takes have an upper bound stated here, so a
typo of ``n_boot=10**9`` is refused up front instead of running for a day.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
from collections.abc import Mapping
from numbers import Integral, Real
from typing import Callable

import numpy as np

Check = Callable[[str, object], None]

MAX_RESAMPLES = 100_000
"""Bootstrap resamples: more cannot sharpen a percentile interval of a handful of seeds."""
MAX_ITERATIONS = 10_000
"""Lanczos iterations, probe batches and bisection rounds."""
MAX_STEPS = 10**7
"""Training steps of one run (a loss curve of 80 MB per run at the bound)."""
FLOAT32_MAX = 3.4028234663852886e38
"""The largest float32: a coefficient beyond it cannot reach a float32 model."""
MAX_EXAMPLES = 10**8
"""Examples in a generated data set (about 1 GiB per feature in float32 at the bound)."""


def _show(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}" if value.size > 6 else np.array2string(value)
    text = repr(value).replace("\n", " ")
    return text if len(text) <= 60 else f"a {type(value).__name__} ({text[:40]}...)"


def whole(low: int = 0, high: int | None = None, why: str = "") -> Check:
    """An integer (not a bool, not a float) in ``[low, high]``."""
    def check(name, value):
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise TypeError(f"{name} must be an integer, got {_show(value)}")
        if value < low or (high is not None and value > high):
            span = f">= {low}" if high is None else f"from {low} to {high}"
            raise ValueError(f"{name} must be an integer {span}{why}, got {value}")
    return check


SEED = whole(0, 2**32 - 1)
"""A seed numpy's and torch's generators both take."""


def real(low: float = -math.inf, high: float = math.inf, *, open_low: bool = False,
         open_high: bool = False, finite: bool = True) -> Check:
    """A real number (not a bool) in the interval; finite unless ``finite=False``."""
    def check(name, value):
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"{name} must be a real number, got {_show(value)}")
        v = float(value)
        if math.isnan(v) or (finite and math.isinf(v)):
            raise ValueError(f"{name} must be finite, got {v}")
        below = v <= low if open_low else v < low
        above = v >= high if open_high else v > high
        if below or above:
            left, right = "(" if open_low else "[", ")" if open_high else "]"
            raise ValueError(f"{name} must lie in {left}{low:g}, {high:g}{right}, got {v:g}")
    return check


POSITIVE = real(0.0, open_low=True)
NONNEGATIVE = real(0.0)
FRACTION = real(0.0, 1.0, open_low=True, open_high=True)


def optional(inner: Check) -> Check:
    """``None`` or what ``inner`` accepts."""
    def check(name, value):
        if value is not None:
            inner(name, value)
    return check


def kind(*types: type) -> Check:
    """An instance of one of ``types``."""
    names = " or ".join(t.__name__ for t in types)

    def check(name, value):
        if not isinstance(value, types):
            raise TypeError(f"{name} must be a {names}, got {_show(value)}")
    return check


def function(name, value) -> None:
    """Something to call."""
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {_show(value)}")


def path(name, value) -> None:
    """A file or folder name: a non-blank ``str`` or ``os.PathLike``."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or a path, got {_show(value)}")
    if not str(os.fspath(value)).strip():
        raise ValueError(f"{name} must name a file or folder, got {value!r}")


def whole_sequence(low: int = 0, high: int | None = None, *, min_length: int = 1,
                   length: int | None = None) -> Check:
    """A list or tuple of integers in ``[low, high]``, distinct, of the given length."""
    each = whole(low, high)

    def check(name, value):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, range)):
            raise TypeError(f"{name} must be a list or tuple of integers, got {_show(value)}")
        if length is not None and len(value) != length:
            raise ValueError(f"{name} must hold {length} integers, got {_show(value)}")
        if len(value) < min_length:
            raise ValueError(f"{name} must hold at least {min_length} integer(s), got "
                             f"{_show(value)}")
        for v in value:
            each(name, v)
        if len(set(value)) != len(value):
            raise ValueError(f"{name} must not repeat a value, got {_show(value)}")
    return check


SEEDS = whole_sequence(0, 2**32 - 1)


def numbers(ndim: int | None = 1, *, low: float = -math.inf, open_low: bool = False,
            finite: bool = True, nan: bool = False, increasing: bool = False,
            min_size: int = 1) -> Check:
    """A non-empty array of reals with ``ndim`` dimensions (any if None), each ``>= low``
    (``> low`` if ``open_low``); finite unless ``finite=False``, nan only if ``nan=True``
    (a diverged run's loss); increasing if asked."""
    def check(name, value):
        if isinstance(value, (str, bytes)) or value is None:
            raise TypeError(f"{name} must be an array of numbers, got {_show(value)}")
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be an array of numbers, got {_show(value)}") from None
        if ndim is not None and array.ndim != ndim:
            raise ValueError(f"{name} must be {ndim}-d, got shape {array.shape}")
        if array.size < min_size:
            raise ValueError(f"{name} must hold at least {min_size} number(s), got {_show(value)}")
        if (not nan and np.isnan(array).any()) or (finite and np.isinf(array).any()):
            raise ValueError(f"{name} must be finite, got {_show(value)}")
        with np.errstate(invalid="ignore"):
            below = (array <= low).any() if open_low else (array < low).any()
        if below:
            raise ValueError(f"{name} must be {'>' if open_low else '>='} {low:g}, got "
                             f"{_show(value)}")
        if increasing and np.any(np.diff(array) <= 0):
            raise ValueError(f"{name} must be increasing, got {_show(value)}")
    return check


def wholes(low: int = 0, high: int | None = None) -> Check:
    """A non-empty 1-d array of whole numbers in ``[low, high]``."""
    as_numbers = numbers(1, low=low)

    def check(name, value):
        as_numbers(name, value)
        array = np.asarray(value, dtype=float)
        if np.any(array != np.round(array)):
            raise ValueError(f"{name} must be whole numbers, got {_show(value)}")
        if high is not None and array.max() > high:
            raise ValueError(f"{name} must be at most {high}, got {_show(value)}")
    return check


def sequence_of(*types: type) -> Check:
    """A non-empty list or tuple of instances of ``types``."""
    each = kind(*types)

    def check(name, value):
        if not isinstance(value, (list, tuple)) or not value:
            raise TypeError(f"{name} must be a non-empty list of "
                            f"{' or '.join(t.__name__ for t in types)}, got {_show(value)}")
        for item in value:
            each(name, item)
    return check


def tensors(name, value) -> None:
    """A data set: a non-empty tuple of tensors with the same number of rows (>= 1)."""
    import torch

    if not isinstance(value, tuple) or not value:
        raise TypeError(f"{name} must be a non-empty tuple of tensors, got {_show(value)}")
    for i, t in enumerate(value):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}[{i}] must be a torch.Tensor, got {type(t).__name__}")
        if t.ndim == 0 or t.shape[0] == 0:
            raise ValueError(f"{name}[{i}] must have at least one row, got shape "
                             f"{tuple(t.shape)}")
    rows = {t.shape[0] for t in value}
    if len(rows) > 1:
        raise ValueError(f"{name}'s tensors must have the same number of rows, got "
                         f"{[t.shape[0] for t in value]}")


def parameters(name, value) -> None:
    """Model parameters: a non-empty mapping of names to floating-point tensors."""
    import torch

    if not isinstance(value, Mapping) or not value:
        raise TypeError(f"{name} must be a non-empty dict of name -> tensor, got {_show(value)}")
    for key, t in value.items():
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise TypeError(f"{name}[{key!r}] must be a floating-point tensor, got {_show(t)}")


def checked(**checks: Check):
    """Check the named arguments a caller passes before the function runs.

    The wrapped function keeps its signature and docstring (``functools.wraps``).
    """
    def decorate(func):
        signature = inspect.signature(func)
        unknown = set(checks) - set(signature.parameters)
        if unknown:
            raise TypeError(f"{func.__qualname__} has no argument(s) {sorted(unknown)}")

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            passed = signature.bind(*args, **kwargs).arguments
            for name, check in checks.items():
                if name in passed:
                    check(name, passed[name])
            return func(*args, **kwargs)
        return wrapper
    return decorate
