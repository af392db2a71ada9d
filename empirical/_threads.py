"""Keep numpy's BLAS to one thread while torch computes.

numpy's OpenBLAS worker threads busy-wait for a while after every multithreaded call (a
problem's ``X @ W*``, say), competing with torch's own threads for the cores: on a two-core
machine that measured as a 1.5-2x slower sweep. The batched trainers and :func:`run_sweep`
therefore run with numpy's OpenBLAS limited to one thread; torch's threads are untouched.
"""

from __future__ import annotations

import functools

from threadpoolctl import ThreadpoolController


@functools.cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def numpy_blas_single_threaded(func):
    """Decorator: call ``func`` with numpy's OpenBLAS limited to one thread."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with _controller().select(internal_api="openblas").limit(limits=1):
            return func(*args, **kwargs)

    return wrapper
