"""Ctrl-C that is never lost: a handler with an explicit window, and checkpoints.

CPython swallows an exception raised while it runs a finalizer (``__del__``, a weakref
callback): a ``KeyboardInterrupt`` from a Ctrl-C that lands there is printed as "Exception
ignored in ..." and the program goes on. Inside :func:`interruptible` every SIGINT is also
remembered, and :func:`checkpoint`, called between the units of long work (a sweep's tasks, a
report's studies and figures), raises it again if it was swallowed.
"""

from __future__ import annotations

import contextlib
import signal
import threading

_pending = False


def _handler(signum, frame):
    global _pending
    _pending = True
    raise KeyboardInterrupt


@contextlib.contextmanager
def interruptible():
    """The window in which Ctrl-C is remembered as well as raised (main thread only)."""
    global _pending
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _handler)
    _pending = False
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _pending = False


def checkpoint() -> None:
    """Raise ``KeyboardInterrupt`` if a Ctrl-C inside the window has not been raised yet."""
    global _pending
    if _pending:
        _pending = False
        raise KeyboardInterrupt
