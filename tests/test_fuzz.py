"""Every public callable at its extremes: a right value, or an error that names the argument.

Each public function, class and method (found from ``__all__``; see ``tests/fuzz_calls.py``) is
called with its small valid arguments, one argument replaced by an extreme: 0, negative,
1e-300, 1e300, nan, inf, a wrong type, an empty or a mismatched array, a size far beyond the
machine. The call must either return finite values (an ``inf`` only where the function
documents it, such as an unreachable target) or raise ``ValueError``/``TypeError`` with a
one-line message that names the argument and shows its value. Warnings are errors in the
tests, so no RuntimeWarning escapes. A hypothesis test then draws numbers from the whole float
line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import re
import signal
import tempfile
from numbers import Integral, Real

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from empirical import DigitsRuns, SweepCell, SweepResult
from tests.fuzz_calls import NOT_FUZZED, calls, public_callables

NAN, INF = float("nan"), float("inf")
# a rule with as many parameters as batch sizes cannot be scored: its AICc is inf (documented)
UNSCORED = (".aicc (inf)", "['score'] (inf)")
SECONDS = 10          # a call that runs longer accepted a size it should have bounded
CALLS = calls()


def extremes(value) -> list:
    """The extreme replacements for an argument whose valid value is ``value``."""
    if isinstance(value, bool):
        return [None, "a"]
    if value is None:
        return [0, -1, NAN, INF, 1e300, "a"]
    if isinstance(value, Integral):
        return [0, -1, 2**62, 0.5, NAN, INF, 1e300, "a", None]
    if isinstance(value, Real):
        return [0.0, -1.0, 1e-300, 1e300, -1e300, NAN, INF, -INF, "a", None]
    if isinstance(value, str):
        return ["", "nonsense", 3, None]
    if isinstance(value, (list, tuple, np.ndarray)) and len(value) and _all_numbers(value):
        array = np.asarray(value, dtype=float)
        kind = type(value)

        def like(a):
            return a if kind is np.ndarray else kind(a.tolist())
        with_nan, with_inf = array.copy(), array.copy()
        with_nan.flat[0], with_inf.flat[-1] = NAN, INF
        return [like(array[:0]), like(with_nan), like(with_inf), like(array[:-1]),
                like(-array), like(array * 1e300), like(array * 1e-300), "a", None]
    return [None, "a", 0]


def _all_numbers(value) -> bool:
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return False
    return array.size > 0 and not (isinstance(value, np.ndarray) and value.dtype.kind not in "iuf")


def _short(value) -> str:
    text = repr(value)
    return text if len(text) < 40 else text[:37] + "..."


def non_finite(value, where="result", depth=0) -> list[str]:
    """Where ``value`` holds nan or inf (or the words 'nan'/'inf' in a sentence)."""
    if depth > 6 or isinstance(value, (SweepResult, SweepCell, DigitsRuns, plt.Figure)):
        return []          # raw measurements (a diverged run is inf by design), figures
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy() if value.is_floating_point() else np.zeros(1)
    if isinstance(value, str):
        return [where] if re.search(r"(?<![A-Za-z])(nan|inf)(?![A-Za-z])", value) else []
    if isinstance(value, (Real, np.ndarray)) and not isinstance(value, bool):
        array = np.asarray(value)
        if array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
            return [f"{where} (nan)" if np.isnan(array).any() else f"{where} (inf)"]
        return []
    if isinstance(value, dict):
        return [w for k, v in value.items() for w in non_finite(v, f"{where}[{k!r}]", depth + 1)]
    if isinstance(value, (list, tuple)):
        return [w for i, v in enumerate(value) for w in non_finite(v, f"{where}[{i}]", depth + 1)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [w for f in dataclasses.fields(value)
                for w in non_finite(getattr(value, f.name), f"{where}.{f.name}", depth + 1)]
    return []


def _shows(message: str, value) -> bool:
    """Whether the message shows a scalar value (its repr, str or %g form; a wrong type may
    be shown by its type's name). Arrays are not checked: a message shows their shape."""
    if not (value is None or isinstance(value, (str, Real))):
        return True
    forms = {repr(value), str(value), type(value).__name__}
    if isinstance(value, Real) and not isinstance(value, bool):
        forms |= {f"{value:g}", f"{float(value):g}", repr(float(value))}
    return any(form in message for form in forms)


class _TooLong(Exception):
    pass


def _alarm(signum, frame):
    raise _TooLong


def outcome(name: str, argument: str, value) -> str | None:
    """None if calling ``name`` with ``argument=value`` behaves; else what went wrong."""
    call = CALLS[name]()
    kwargs = {**call.kwargs, argument: value}
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(SECONDS)
    try:
        with tempfile.TemporaryDirectory() as folder, contextlib.chdir(folder):
            result = call.function(**kwargs)
    except _TooLong:
        return f"ran over {SECONDS} s (no bound stated up front)"
    except (ValueError, TypeError) as exc:
        message = str(exc)
        named = argument in message or argument.replace("_", " ") in message
        if not named:
            return f"{type(exc).__name__} does not name {argument!r}: {message[:200]!r}"
        if not _shows(message, value):
            return f"{type(exc).__name__} does not show the value: {message[:200]!r}"
        if "\n" in message.strip():
            return f"{type(exc).__name__} message is not one line: {message[:200]!r}"
        return None
    except Exception as exc:           # noqa: BLE001 - any other exception is the finding
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        plt.close("all")
    bad = [w for w in non_finite(result) if not w.endswith(UNSCORED)]
    if call.inf:
        bad = [w for w in bad if not w.endswith("(inf)")]
    if call.nan:
        bad = [w for w in bad if not w.endswith("(nan)")]
    return f"returned non-finite values at {', '.join(bad[:3])}" if bad else None


def test_every_public_callable_is_fuzzed():
    names = public_callables()
    missing = [n for n in names if n not in CALLS and n not in NOT_FUZZED]
    stale = [n for n in [*CALLS, *NOT_FUZZED] if n not in names]
    assert not missing, f"no valid call in tests/fuzz_calls.py for {missing}"
    assert not stale, f"tests/fuzz_calls.py names what is not public: {stale}"


@pytest.mark.parametrize("name", sorted(CALLS))
def test_valid_call_is_finite(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)    # the writers write here
    call = CALLS[name]()
    result = call.function(**call.kwargs)
    plt.close("all")
    bad = [w for w in non_finite(result) if not w.endswith(UNSCORED)
           and not (call.inf and w.endswith("(inf)")) and not (call.nan and w.endswith("(nan)"))]
    assert not bad, bad


@pytest.mark.parametrize("name", sorted(CALLS))
def test_extremes(name):
    failures = []
    for argument, valid in CALLS[name]().kwargs.items():
        for value in extremes(valid):
            problem = outcome(name, argument, value)
            if problem:
                failures.append(f"{name}({argument}={_short(value)}): {problem}")
    assert not failures, "\n".join(failures)


def numeric_arguments() -> list[tuple[str, str]]:
    """Every (callable, argument) whose valid value is a number."""
    return sorted((name, argument) for name, make in CALLS.items()
                  for argument, valid in make().kwargs.items()
                  if isinstance(valid, Real) and not isinstance(valid, bool))


@settings(max_examples=150)
@given(st.deferred(lambda: st.sampled_from(numeric_arguments())), st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-50, 50).map(lambda e: math.copysign(10.0 ** abs(e), e)),
    # integers small enough to run in a moment, or beyond every bound (those between run
    # legitimately long: a sweep of 10^7 examples is valid work)
    st.integers(-100, 100), st.integers(2**53, 2**70), st.integers(-2**70, -1)))
def test_numbers_from_the_whole_line(target, value):
    name, argument = target
    problem = outcome(name, argument, value)
    assert problem is None, f"{name}({argument}={value!r}): {problem}"
