"""Running a sweep: cells per batch size, self-extending and refined grids, results on disk,
resume."""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from empirical._core.interrupts import checkpoint
from empirical._core.threads import bounded_threads
from empirical.sweep._executors import _DaskTasks, _LocalTasks
from empirical.sweep._result import (
    FORMAT,
    INDEX,
    SweepCell,
    SweepResult,
    _cell_file,
    _read_index,
    _write_index,
    spec_hash,
)
from empirical.sweep._spec import SweepSpec
from empirical.sweep._store import DamagedFileError, locked_directory, read_json
from empirical.sweep._tasks import _initial_test_loss

# least-squares batch sizes train in lock step while steps x seeds x (batch size + n_lr x dim)
# summed over the group stays below this: a few seconds of work, the most an interrupted
# sweep can lose
_LOCKSTEP_WORK = 2**23


def _lockstep_groups(spec: SweepSpec, dim: int, batch_sizes) -> list[list[int]]:
    """The batch sizes trained together: all least-squares cells whose work fits a budget.

    A group is written to disk only when it finishes, so the budget bounds what an
    interruption loses (a few seconds); the other models take one batch size at a time.
    """
    if spec.model != "linear-sgd":
        return [[b] for b in batch_sizes]
    n_lr = spec.initial_lrs().size
    groups, work = [], _LOCKSTEP_WORK
    for b in batch_sizes:
        cost = spec.steps * len(spec.seeds) * (b + n_lr * dim)     # rows gathered + weights
        if work + cost > _LOCKSTEP_WORK:
            groups.append([])
            work = 0
        groups[-1].append(b)
        work += cost
    return groups


@dataclass
class _Growing:
    """A batch size's runs so far, while its grid may still extend (``k_lo..k_hi`` on an
    LRGrid)."""

    lrs: np.ndarray
    train: np.ndarray
    test: np.ndarray
    k_lo: int = 0
    k_hi: int = 0
    extensions: int = 0
    notes: list = field(default_factory=list)
    pending: np.ndarray | None = None          # the rates of the extension being trained
    refined: bool = False
    runs_per_call: set = field(default_factory=set)

    def merge(self, lrs: np.ndarray, train: np.ndarray, test: np.ndarray) -> None:
        order = np.argsort(np.concatenate([self.lrs, lrs]))
        self.lrs = np.concatenate([self.lrs, lrs])[order]
        self.train = np.concatenate([self.train, train], axis=1)[:, order]
        self.test = np.concatenate([self.test, test], axis=1)[:, order]


def _seed_mean_argmin(spec: SweepSpec, batch_size: int, runs: _Growing,
                      initial: np.ndarray) -> tuple[SweepCell, int]:
    """The runs so far as a cell, and the index of the rate with the best seed-mean metric."""
    cell = SweepCell(batch_size, runs.lrs, runs.train, runs.test, initial)
    mean = np.where(np.isfinite(m := cell.metric(spec.window)), m, np.inf).mean(axis=1)
    return cell, int(np.argmin(mean))


def _extension(spec: SweepSpec, batch_size: int, runs: _Growing,
               initial: np.ndarray) -> np.ndarray | None:
    """The rates to add while the optimum sits on an edge of an LRGrid (``None``: done)."""
    if not spec.extendable:
        return None
    cell, best = _seed_mean_argmin(spec, batch_size, runs, initial)
    down, up = best == 0, best == runs.lrs.size - 1 and not cell.collapsed[-1].any()
    if not (down or up):
        return None
    if runs.extensions == spec.max_extensions:
        runs.notes.append(f"still on the edge after {spec.max_extensions} extensions")
        return None
    if down:
        new_k = np.arange(runs.k_lo - spec.extension_points, runs.k_lo)
        runs.k_lo = int(new_k[0])
    else:
        new_k = np.arange(runs.k_hi + 1, runs.k_hi + 1 + spec.extension_points)
        runs.k_hi = int(new_k[-1])
    runs.extensions += 1
    new_lrs = spec.lrs.base * spec.lrs.ratio ** new_k.astype(float)
    side = "down" if down else "up"
    runs.notes.append(f"optimum on the {'lower' if side == 'down' else 'upper'} edge: grid "
                      f"extended {side} to lr={new_lrs[0 if side == 'down' else -1]:.4g}")
    return new_lrs


def _refinement(spec: SweepSpec, batch_size: int, runs: _Growing,
                initial: np.ndarray) -> np.ndarray | None:
    """Once, the rates ``refine`` to a grid step apart around the seed-mean optimum
    (``None``: nothing to add)."""
    if spec.refine < 2 or runs.refined:                 # 1: the grid's own step, nothing new
        return None
    runs.refined = True
    _, best = _seed_mean_argmin(spec, batch_size, runs, initial)
    if best in (0, runs.lrs.size - 1):
        runs.notes.append("optimum on an edge of the grid: not refined")
        return None
    grid = spec.lrs
    k = np.round(np.log(runs.lrs[best] / grid.base) / np.log(grid.ratio))
    steps = np.delete(np.arange(1 - spec.refine, spec.refine), spec.refine - 1)  # 0 < |j| < refine
    return grid.base * grid.ratio ** (k + steps / spec.refine)


@bounded_threads
def run_sweep(spec: SweepSpec, *, out=None, progress=None, client=None,
              seeds_per_task: int | None = None) -> SweepResult:
    """Train every (batch size, learning rate, seed) of ``spec``; all rates of one batch size at once.

    The work is cut into tasks, one per (group of batch sizes, block of seeds): every rate
    of the group for those seeds, one vectorized program. They run here one after another,
    or on a Dask cluster in parallel; a task is a pure function of its arguments, so the
    numbers are the same either way.

    Parameters
    ----------
    spec : SweepSpec
    out : str or path-like, optional
        Directory for the results. Each batch size is written as soon as its last task
        finishes (here, only by this process); a rerun on the same directory, local or
        distributed, loads the finished batch sizes instead of recomputing them, and refuses
        a directory written by a different spec.
    progress : bool, optional
        Show a progress bar over batch sizes. By default it shows on a terminal once the sweep
        has run for two seconds.
    client : distributed.Client, optional
        Run the tasks on this Dask cluster (``dask.distributed``) instead of here. The
        workers need lrbs, and a workload's module, importable. A task lost with its worker
        is rerun by the scheduler; its result is still written once.
    seeds_per_task : int, optional
        Seeds per task; all of them by default (one task per group of batch sizes). Fewer
        gives a cluster more tasks to run in parallel; the trainers of the MLP and of
        workloads give the same numbers for a seed whatever block it is in, least squares'
        lock-step program does not (use the same value to reproduce a run).

    Returns
    -------
    SweepResult

    See Also
    --------
    SweepSpec : What it runs.
    compare.analyze : Optima, fits and theory from its result.

    Examples
    --------
    >>> from empirical import SweepSpec, run_sweep
    >>> spec = SweepSpec("linear-sgd", [4, 64], [0.003, 0.01, 0.03, 0.1], steps=50,
    ...                  n_train=2000)
    >>> result = run_sweep(spec, progress=False)
    >>> [round(o.lr, 3) for o in result.optima()]
    [0.03, 0.03]
    """
    if not isinstance(spec, SweepSpec):
        raise TypeError(f"spec must be a SweepSpec, got {type(spec).__name__} {spec!r:.60}")
    n_seed = len(spec.seeds)
    block = n_seed if seeds_per_task is None else seeds_per_task
    if isinstance(block, bool) or not isinstance(block, int | np.integer) or block < 1:
        raise ValueError(f"seeds_per_task must be an integer >= 1, got {seeds_per_task!r}")
    blocks = [spec.seeds[i:i + block] for i in range(0, n_seed, block)]
    if client is not None and not hasattr(client, "submit"):
        raise TypeError(f"client must be a distributed.Client, got {type(client).__name__}")
    spec.check_memory()
    tasks = _LocalTasks() if client is None else _DaskTasks(client)
    if out is None:
        return _run(spec, None, {}, progress, tasks, blocks)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out={str(out)!r} exists and is not a directory")
    with locked_directory(out):
        return _run(spec, out, _finished_cells(out, spec), progress, tasks, blocks)


def _finished_cells(out: Path, spec: SweepSpec) -> dict:
    """The cells a previous run left in ``out``, verified: batch size -> (cell, file, checksum).

    A different spec is refused; a damaged cell, or a folder written by an older lrbs, is
    recomputed with a warning that names the file.
    """
    if not (out / INDEX).exists():
        return {}
    index = read_json(out / INDEX)
    if index.get("format") != FORMAT:
        warnings.warn(f"{str(out / INDEX)!r} was written by an older lrbs (format "
                      f"{index.get('format', 1)}); its cells are recomputed", RuntimeWarning,
                      stacklevel=3)
        return {}
    previous, entries, _ = _read_index(out)
    if previous != spec:
        diff = [k for k, v in spec.to_dict().items() if previous.to_dict()[k] != v]
        raise ValueError(f"{str(out)!r} holds a sweep with a different spec (fields "
                         f"{', '.join(diff)} differ); use another directory")
    done = {}
    for entry in entries:
        try:
            cell = SweepCell._load(out, entry, spec)
        except DamagedFileError as exc:
            warnings.warn(f"{exc}; that batch size is recomputed", RuntimeWarning, stacklevel=3)
            continue
        done[cell.batch_size] = (cell, entry["file"], entry["sha256"])
    return done


def _run(spec: SweepSpec, out: Path | None, done: dict, progress, tasks, blocks) -> SweepResult:
    show = sys.stderr.isatty() if progress is None else bool(progress)
    saved = dict(done)
    cells = {b: cell for b, (cell, _, _) in done.items()}
    pending = [b for b in spec.batch_sizes if b not in cells]
    initial_loss = np.array([_initial_test_loss(spec, s) for s in spec.seeds])
    digest, payload = spec_hash(spec), spec.to_dict()
    if out is not None and not done:
        _write_index(out, spec, {}, version("lrbs"))   # a folder killed at any moment loads
    dim = spec.problem().dim if spec.model == "linear-sgd" else 0
    lrs = spec.initial_lrs()
    grid = spec.lrs if spec.extendable else None
    growing: dict[int, _Growing] = {}
    parts: dict[tuple, dict] = {}                     # (batch size, round) -> block -> curves
    for group in _lockstep_groups(spec, dim, pending):
        for seeds in blocks:
            tasks.submit((tuple(group), 0, seeds), payload, lrs, tuple(group), seeds)
    with tqdm(total=len(spec.batch_sizes), initial=len(cells), desc=f"sweep {spec.label}",
              unit="batch size", disable=not show, delay=2.0 if progress is None else 0.0,
              leave=False) as bar:
        try:
            for (group, rnd, seeds), curves in tasks.completed():
                checkpoint()
                for b, (train, test, per_call) in zip(group, curves, strict=True):
                    arrived = parts.setdefault((b, rnd), {})
                    arrived[seeds] = (train, test, per_call)
                    if len(arrived) < len(blocks):
                        continue
                    del parts[b, rnd]
                    train, test = (np.concatenate([arrived[s][k] for s in blocks])
                                   for k in (0, 1))
                    if rnd == 0:
                        growing[b] = _Growing(lrs, train, test, *(
                            (grid.k_min, grid.k_max) if grid else (0, 0)))
                    else:
                        growing[b].merge(growing[b].pending, train, test)
                    growing[b].runs_per_call.update(
                        part[2] for part in arrived.values() if part[2] is not None)
                    new_lrs = _extension(spec, b, growing[b], initial_loss)
                    if new_lrs is None:
                        new_lrs = _refinement(spec, b, growing[b], initial_loss)
                    if new_lrs is not None:
                        growing[b].pending = new_lrs
                        for s in blocks:
                            tasks.submit(((b,), rnd + 1, s), payload, new_lrs, (b,), s,
                                         follow_up=True)
                        continue
                    runs = growing.pop(b)
                    cell = cells[b] = SweepCell(b, runs.lrs, runs.train, runs.test, initial_loss,
                                                tuple(runs.notes), tuple(sorted(runs.runs_per_call)))
                    if out is not None:        # only the new cell is written, then the index
                        name = _cell_file(cell)
                        saved[b] = (cell, name, cell._save(out / name, digest))
                        _write_index(out, spec, saved, version("lrbs"))
                    bar.update(1)
        except BaseException:
            tasks.cancel()
            raise
    return SweepResult(spec, tuple(cells[b] for b in spec.batch_sizes))
