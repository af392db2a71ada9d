"""The second core: one helper process that runs studies and writes figures beside the main one.

``lrbs run`` trains on one thread (:data:`empirical.DEFAULT_THREADS`), so on a machine with
two or more cores one of them would idle. The helper runs the studies that need none of the
shared sweeps (their own stage from start to end, figures included; from the end of the report,
where its longest study, the digits scaling law, sits) and writes the figures the main process
draws, while the main process runs the sweeps and the studies built on them. When the main
process is done with its own it takes the helper's studies it has not started, one at a time,
and the figures, so neither waits while the other has work.
Both processes keep every library to one thread, so neither spins waiting for the other's core,
and every number is what a run in one process computes: each study's arithmetic happens in one
process, whichever it is.

The helper is started with ``spawn`` (a fresh interpreter: nothing of the parent's threads or
torch state is inherited), ignores Ctrl-C (the main process stops it) and, on Linux, dies with
its parent, so an interrupted or killed ``lrbs run`` leaves no process behind. It is started
without the caller's ``__main__``: everything it runs lives in lrbs's modules, so a user's
script that calls :func:`compare.run_report` needs no ``if __name__ == "__main__"`` guard and
is not run a second time.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from empirical._core.interrupts import checkpoint


def helper_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:                                   # not Linux
        return max(1, os.cpu_count() or 1)


def _one_thread_everywhere() -> None:
    """numpy's and scipy's BLAS and torch's intra-op pool on one thread, for this process."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)


def _start_helper(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)             # the parent stops us on Ctrl-C
    with contextlib.suppress(OSError, AttributeError):       # PR_SET_PDEATHSIG = 1 (Linux)
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    if os.getppid() != parent:                               # it died while we started
        os._exit(1)
    _one_thread_everywhere()


@contextlib.contextmanager
def second_core(wanted: bool = True):
    """A helper process (a ``ProcessPoolExecutor`` of one) for the body, or ``None`` when
    ``wanted`` is false or only one core is available.

    Either way the body runs with numpy's BLAS and torch on one thread, as the helper does, so
    the numbers do not depend on which process computed them or on whether there was a helper.
    On any exception (Ctrl-C included) the helper is killed at once and its queued work is
    dropped; otherwise that work is finished before the body's end returns.
    """
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            if not wanted or helper_cores() < 2:
                yield None
                return
            before = set(multiprocessing.active_children())
            executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                           initializer=_start_helper, initargs=(os.getpid(),))
            with _without_main_module():
                executor.submit(os.getpid)                   # starts the helper now
            try:
                yield executor
            except BaseException:
                executor.shutdown(wait=False, cancel_futures=True)
                for child in set(multiprocessing.active_children()) - before:
                    child.kill()
                raise
            executor.shutdown(wait=True)
    finally:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def _without_main_module():
    """Hide ``__main__``'s ``__spec__`` and ``__file__`` while a helper is spawned: a spawned
    child imports the parent's main module (running a user's unguarded script again) unless it
    has neither, as in a notebook."""
    main = sys.modules["__main__"]
    spec, path = getattr(main, "__spec__", None), main.__dict__.pop("__file__", None)
    main.__spec__ = None
    try:
        yield
    finally:
        main.__spec__ = spec
        if path is not None:
            main.__file__ = path


def save_figure_timed(fig, directory, name: str, formats) -> tuple[dict, float]:
    """:func:`compare.style.save_figure`, and the seconds it took (for the stage times)."""
    from compare.style._figures import save_figure

    begun = time.perf_counter()
    return save_figure(fig, directory, name, formats=formats), time.perf_counter() - begun


class HandOver:
    """Work for the helper, handed over one piece at a time: the next piece is submitted when
    the last one ends, so whatever the helper has not started stays here and
    :meth:`take_next` can give it to the main process (a ``ProcessPoolExecutor`` feeds its
    worker ahead, and a piece it has fed cannot be cancelled).

    ``pieces`` is a list of ``(name, function, *arguments)``; :attr:`futures` maps the name
    of every piece handed over to its Future.
    """

    def __init__(self, helper, pieces: list):
        self._helper, self._waiting = helper, list(pieces)
        self._lock = threading.Lock()
        self.futures = {}
        self._next()

    def _next(self, _finished=None) -> None:
        with self._lock:
            if not self._waiting:
                return
            name, function, *arguments = self._waiting.pop(0)
            try:
                future = self._helper.submit(function, *arguments)
            except RuntimeError:                 # shut down after an error: nothing more
                return
            self.futures[name] = future
        future.add_done_callback(self._next)

    def take_next(self) -> str | None:
        """The name of the next piece in line, which the helper will then not get; ``None``
        when every piece is handed over. Taking one at a time lets the helper go on with the
        rest while the main process runs it."""
        with self._lock:
            return self._waiting.pop(0)[0] if self._waiting else None


def _train_setting(spec, folder) -> str:
    """The helper's piece of :func:`train_settings`: one setting, trained whole; its name."""
    from empirical import run_scaling_study

    run_scaling_study(spec, out=folder)
    return spec.setting


def train_settings(settings: list, *, progress: bool = True) -> None:
    """Train every ``(spec, folder)`` of ``settings`` (:func:`empirical.run_scaling_study`
    into a resumable folder), this process and a helper on the second core each taking the
    next setting in line, so a long list of long settings (``lrbs scaling-law --full``) takes
    about half the time. One core, or training asked to use more than one thread
    (``--threads``), trains them here in order.

    Each setting trains whole in one process on one thread, so its numbers are those a run in
    one process computes; a folder another process is training is locked against this one.
    """
    from empirical import run_scaling_study
    from empirical._core.threads import compute_threads

    with second_core(compute_threads() == 1 and len(settings) > 1) as helper:
        if helper is None:
            for spec, folder in settings:
                run_scaling_study(spec, out=folder, progress=progress)
            return
        handover = HandOver(helper, [(i, _train_setting, spec, folder)
                                     for i, (spec, folder) in enumerate(settings)])
        said = set()

        def say(wait: bool) -> None:
            for name, future in list(handover.futures.items()):
                if name not in said and (wait or future.done()):
                    finished = future.result()
                    said.add(name)
                    if progress:
                        print(f"{finished}: done on the second core", file=sys.stderr)

        while (i := handover.take_next()) is not None:
            checkpoint()
            spec, folder = settings[i]
            run_scaling_study(spec, out=folder, progress=progress)
            say(wait=False)
        say(wait=True)


@dataclass(frozen=True)
class QueuedFigure:
    """A figure handed to the helper: its Future, and what writing it here would take."""

    future: Future
    arguments: tuple


def save_figures(helper, figures: dict, directory: Path, formats_of) -> dict:
    """Write every figure of ``figures`` (name -> Figure) under ``directory``: queued for the
    helper when there is one (name -> :class:`QueuedFigure`), here otherwise (name -> (paths,
    seconds)).

    ``formats_of(name)`` gives each figure's formats. The helper receives the figure pickled
    (a few hundred kilobytes, milliseconds), so the main process goes on at once.
    """
    out = {}
    for name, fig in figures.items():
        arguments = (fig, directory, name, formats_of(name))
        out[name] = (save_figure_timed(*arguments) if helper is None
                     else QueuedFigure(helper.submit(save_figure_timed, *arguments), arguments))
    return out


def written(figures: dict) -> dict:
    """name -> (paths, seconds) for the values of :func:`save_figures`, once written.

    Figures the helper has not started yet are taken back and written here, newest first
    (the helper works from the oldest), so that neither process waits while the other has
    figures left.
    """
    here = {}
    for name in reversed(list(figures)):
        checkpoint()
        queued = figures[name]
        if isinstance(queued, QueuedFigure) and queued.future.cancel():
            here[name] = save_figure_timed(*queued.arguments)
    return {name: here[name] if name in here else
            queued.future.result() if isinstance(queued, QueuedFigure) else queued
            for name, queued in figures.items()}


def resolved(value):
    """``value``, or its result if it is a Future."""
    return value.result() if isinstance(value, Future) else value
