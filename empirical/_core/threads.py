"""Threads: numpy's BLAS held to one thread while torch computes, torch's own threads bounded.

numpy's OpenBLAS worker threads busy-wait for a while after every multithreaded call (a
problem's ``X @ W*``, say), competing with torch's own threads for the cores: on a two-core
machine that measured as a 1.5-2x slower sweep. torch's OpenMP workers spin the same way when
another process holds a core. The batched trainers, :func:`run_sweep` and the scaling study
therefore run with numpy's OpenBLAS on one thread and torch on ``$LRBS_THREADS`` threads
(default 1, :data:`DEFAULT_THREADS`).
"""

from __future__ import annotations

import functools
import os

import torch
from threadpoolctl import ThreadpoolController


@functools.cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


THREADS_ENV = "LRBS_THREADS"
DEFAULT_THREADS = 1
"""torch intra-op threads for lrbs's training, unless ``LRBS_THREADS`` says otherwise.

Measured on two cores (three sweeps of 5 seeds): one thread 6.4-6.6 s alone against 4.5-4.8 s
with two; but beside one other busy process two threads took 37-95 s (their workers spin
while waiting for the occupied core) and one thread 5.9 s. A sweep is many small kernels:
one thread loses 1.4x alone and avoids a 6-15x loss whenever anything else runs.
"""


def compute_threads() -> int:
    """The number of torch threads to train with: ``$LRBS_THREADS`` or 1."""
    text = os.environ.get(THREADS_ENV, "").strip()
    if not text:
        return DEFAULT_THREADS
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{THREADS_ENV} must be an integer >= 1, got {text!r}")
    return value


def bounded_threads(func):
    """Decorator: call ``func`` with numpy's OpenBLAS on one thread and torch on
    :func:`compute_threads` intra-op threads, then restore the caller's torch setting."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        wanted, before = compute_threads(), torch.get_num_threads()
        with _controller().select(internal_api="openblas").limit(limits=1):
            if wanted == before:
                return func(*args, **kwargs)
            torch.set_num_threads(wanted)
            try:
                return func(*args, **kwargs)
            finally:
                torch.set_num_threads(before)

    return wrapper
