"""Argument checks shared by the closed forms: one message format, raised at the boundary."""

from __future__ import annotations

import numpy as np


def as_float_array(name: str, value, *, low: float | None = None, strict: bool = True,
                   allow_inf: bool = False) -> np.ndarray:
    """Return ``value`` as a float array after checking it.

    Parameters
    ----------
    name : str
        The argument's name, used in the error message.
    value : array_like
        The value to check.
    low : float, optional
        Lower bound; ``strict`` selects ``>`` (default) or ``>=``.
    allow_inf : bool, default False
        Whether ``+inf`` is allowed (``nan`` never is).

    Raises
    ------
    ValueError
        If any entry is nan, infinite (unless allowed) or violates the bound.
    """
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real number or an array of them, got {value!r}") from exc
    if np.isnan(arr).any() or (np.isinf(arr).any() and not allow_inf) or (arr == -np.inf).any():
        raise ValueError(f"{name} must be finite, got {_show(value)}")
    if low is not None:
        bad = arr <= low if strict else arr < low
        if bad.any():
            relation = ">" if strict else ">="
            raise ValueError(f"{name} must be {relation} {low:g}, got {_show(value)}")
    return arr


def positive(name: str, value, *, allow_inf: bool = False) -> np.ndarray:
    """Float array whose entries are all ``> 0`` (see :func:`as_float_array`)."""
    return as_float_array(name, value, low=0.0, allow_inf=allow_inf)


def nonnegative(name: str, value) -> np.ndarray:
    """Float array whose entries are all ``>= 0`` and finite."""
    return as_float_array(name, value, low=0.0, strict=False)


MAX_STEPS = 2**53
"""Step counts must stay below this: integers beyond it are not exact in float64."""


def steps_array(name: str, value) -> np.ndarray:
    """Integer array of step counts, each ``>= 0`` and below :data:`MAX_STEPS`."""
    arr = nonnegative(name, value)
    if (arr != np.round(arr)).any():
        raise ValueError(f"{name} must be whole numbers of steps, got {_show(value)}")
    if (arr >= MAX_STEPS).any():
        raise ValueError(f"{name} must be below 2^53, got {_show(value)}")
    return arr.astype(np.int64)


def whole_array(name: str, value, *, low: int) -> np.ndarray:
    """Integer array of counts (samples, dimensions), each ``>= low``."""
    arr = as_float_array(name, value, low=low, strict=False)
    if (arr != np.round(arr)).any():
        raise ValueError(f"{name} must be whole numbers, got {_show(value)}")
    return arr


def scalar_or_array(result: np.ndarray):
    """Return a Python float for 0-d results, the array otherwise."""
    result = np.asarray(result)
    return float(result) if result.ndim == 0 else result


def _show(value) -> str:
    arr = np.asarray(value)
    if arr.size <= 6:
        text = repr(value) if not isinstance(value, np.ndarray) else np.array2string(arr)
        return " ".join(text.split())                  # one line, even for a matrix
    return f"an array with entries in [{np.nanmin(arr):g}, {np.nanmax(arr):g}]"
