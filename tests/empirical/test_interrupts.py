"""Ctrl-C is never lost: one that CPython swallows in a finalizer is raised at the next checkpoint."""

import gc
import os
import signal
import sys

import pytest

from empirical._core.interrupts import checkpoint, interruptible


class _InterruptedWhileCollected:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)        # Ctrl-C lands while a finalizer runs


def test_a_ctrl_c_swallowed_by_a_finalizer_is_raised_at_the_next_checkpoint(monkeypatch):
    swallowed = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: swallowed.append(u.exc_type))
    with interruptible():
        _InterruptedWhileCollected()               # collected at once: "Exception ignored"
        gc.collect()
        assert swallowed == [KeyboardInterrupt]    # CPython went on as if nothing happened
        with pytest.raises(KeyboardInterrupt):
            checkpoint()
        checkpoint()                               # raised once, not again


def test_outside_the_window_the_handler_is_python_s_own():
    before = signal.getsignal(signal.SIGINT)
    with interruptible():
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before
    checkpoint()                                   # nothing pending outside the window


def test_an_ordinary_ctrl_c_still_interrupts_at_once():
    with interruptible(), pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(10**7):                     # the signal is handled within this loop
            pass
