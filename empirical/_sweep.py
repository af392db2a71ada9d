"""Running a sweep: cells per batch size, self-extending grids, results on disk, resume."""

from __future__ import annotations

import hashlib
import json
import sys
import uuid
import warnings
from collections import deque
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from empirical._linear import train_linear_sgd_batched
from empirical._mlp import train_mlp_batched
from empirical._optimum import Optimum, find_optimum
from empirical._spec import LRGrid, SweepSpec
from empirical._store import (
    DamagedFileError,
    atomic_write_json,
    load_arrays,
    locked_directory,
    read_json,
    save_arrays,
)
from empirical._threads import bounded_threads
from empirical._workload import train_workload
from empirical.reference import init_mlp

INDEX = "sweep.json"
FORMAT = 2
"""Version of the on-disk layout: 2 adds checksums, and each cell's batch size and spec hash."""
# least-squares batch sizes train in lock step while steps x seeds x (batch size + n_lr x dim)
# summed over the group stays below this: a few seconds of work, the most an interrupted
# sweep can lose
_LOCKSTEP_WORK = 2**23


def failed(test_loss: np.ndarray, initial_loss: np.ndarray) -> np.ndarray:
    """Which runs failed: the test metric became non-finite (diverged), or its last value is
    no better than the initialization's (collapsed, e.g. the MLP's constant predictor).

    ``test_loss`` has shape ``(n_seed, n_lr, steps)`` and ``initial_loss`` ``(n_seed,)``; the
    result is ``(n_seed, n_lr)``. :attr:`SweepCell.collapsed` is its transpose.

    See Also
    --------
    stability_edges : The smallest rate at which a run fails.
    """
    with np.errstate(invalid="ignore"):
        return (~np.isfinite(test_loss).all(axis=-1)
                | (test_loss[:, :, -1] >= initial_loss[:, None]))


@dataclass(frozen=True, eq=False)
class SweepCell:
    """All runs of one batch size.

    Attributes
    ----------
    batch_size : int
    lrs : ndarray, shape (n_lr,)
        Increasing learning rates (after any extension of the grid).
    train_loss, test_loss : ndarray, shape (n_seed, n_lr, steps)
        After each update, as the notebook records them: the loss on that step's minibatch
        and the test loss; ``inf``/``nan`` kept.
    initial_loss : ndarray, shape (n_seed,)
        Test loss of each seed's initialization.
    notes : tuple of str
        What the sweep did for this cell (grid extensions).

    See Also
    --------
    SweepResult : Holds one per batch size.
    find_optimum : Its optimum.
    """

    batch_size: int
    lrs: np.ndarray
    train_loss: np.ndarray
    test_loss: np.ndarray
    initial_loss: np.ndarray
    notes: tuple = ()

    def metric(self, window: int) -> np.ndarray:
        """Mean test loss over the last ``window`` steps, shape (n_lr, n_seed)."""
        with np.errstate(invalid="ignore", over="ignore"):
            return self.test_loss[:, :, -window:].mean(axis=-1).T

    @property
    def diverged(self) -> np.ndarray:
        """(n_lr, n_seed): the test loss became non-finite."""
        return ~np.isfinite(self.test_loss).all(axis=-1).T

    @property
    def collapsed(self) -> np.ndarray:
        """(n_lr, n_seed): diverged, or a final test loss no better than the initial one
        (:func:`failed`)."""
        return failed(self.test_loss, self.initial_loss).T

    def __eq__(self, other) -> bool:
        if not isinstance(other, SweepCell):
            return NotImplemented
        return (self.batch_size == other.batch_size and self.notes == other.notes
                and all(np.array_equal(getattr(self, k), getattr(other, k), equal_nan=True)
                        for k in ("lrs", "train_loss", "test_loss", "initial_loss")))

    def _save(self, path: Path, spec_hash: str) -> str:
        """Write the cell (with its batch size and spec hash); return the file's checksum."""
        return save_arrays(path, lrs=self.lrs, train_loss=self.train_loss,
                           test_loss=self.test_loss, initial_loss=self.initial_loss,
                           batch_size=np.array(self.batch_size), spec_hash=np.array(spec_hash))

    @classmethod
    def _load(cls, directory: Path, entry: dict, spec: SweepSpec) -> SweepCell:
        """A cell written by :meth:`_save`, checked against its index entry and the spec."""
        try:
            path, batch_size = directory / str(entry["file"]), int(entry["batch_size"])
            checksum, notes = str(entry["sha256"]), tuple(str(n) for n in entry["notes"])
        except (KeyError, TypeError, ValueError):
            raise DamagedFileError(f"{str(directory / INDEX)!r} has a malformed cell entry "
                                   f"{entry!r}") from None
        data = load_arrays(path, checksum, ("lrs", "train_loss", "test_loss", "initial_loss",
                                            "batch_size", "spec_hash"))
        lrs, train, test, initial = (data[k] for k in ("lrs", "train_loss", "test_loss",
                                                       "initial_loss"))
        n_seed, n_lr = len(spec.seeds), lrs.size

        def damaged(why: str) -> DamagedFileError:
            return DamagedFileError(f"{str(path)!r} {why}")

        if int(data["batch_size"]) != batch_size or batch_size not in spec.batch_sizes:
            raise damaged(f"holds batch size {int(data['batch_size'])}, its index says "
                          f"{batch_size}")
        if str(data["spec_hash"]) != spec_hash(spec):
            raise damaged("was written by a different sweep spec")
        if (lrs.ndim != 1 or not np.all(np.isfinite(lrs)) or np.any(np.diff(lrs) <= 0)
                or not _rates_belong(spec, lrs)):
            raise damaged("holds learning rates that are not this spec's")
        if (train.shape != (n_seed, n_lr, spec.steps) or test.shape != train.shape
                or initial.shape != (n_seed,)):
            raise damaged(f"holds curves of shape {train.shape}, expected "
                          f"{(n_seed, n_lr, spec.steps)}")
        return cls(batch_size, lrs, train, test, initial, notes)


def spec_hash(spec: SweepSpec) -> str:
    """SHA-256 of the spec's canonical JSON: what every stored cell is checked against."""
    return hashlib.sha256(json.dumps(spec.to_dict(), sort_keys=True).encode()).hexdigest()


def _rates_belong(spec: SweepSpec, lrs: np.ndarray) -> bool:
    """The rates are the spec's own list, or points of its grid that include the initial ones."""
    if not isinstance(spec.lrs, LRGrid):
        return lrs.shape == (len(spec.lrs),) and np.allclose(lrs, spec.lrs, rtol=1e-12, atol=0)
    k = np.log(lrs / spec.lrs.base) / np.log(spec.lrs.ratio)
    initial = spec.lrs.values()
    return bool(np.allclose(k, np.round(k), rtol=0, atol=1e-6)
                and np.all(np.isin(np.round(np.log(initial / spec.lrs.base)
                                            / np.log(spec.lrs.ratio)), np.round(k))))


@dataclass(frozen=True, eq=False)
class SweepResult:
    """The raw loss curves of a sweep, indexed by (batch size, lr, seed, step), and its spec.

    See Also
    --------
    run_sweep : Produces it.
    compare.analyze : Analyses it.
    """

    spec: SweepSpec
    cells: tuple = field(default_factory=tuple)
    version: str = field(default_factory=lambda: version("lrbs"))

    def cell(self, batch_size: int) -> SweepCell:
        for c in self.cells:
            if c.batch_size == batch_size:
                return c
        raise KeyError(f"no cell for batch size {batch_size}")

    def optima(self, *, tolerance: float = 0.05, robust_tolerance: float = 0.05,
               n_boot: int = 1000) -> list[Optimum]:
        """:func:`find_optimum` per batch size, the excess measured above the noise floor."""
        floor = self.spec.noise_floor()
        return [find_optimum(c.batch_size, c.lrs, c.metric(self.spec.window), floor=floor,
                             tolerance=tolerance, robust_tolerance=robust_tolerance,
                             n_boot=n_boot) for c in self.cells]

    def __eq__(self, other) -> bool:
        if not isinstance(other, SweepResult):
            return NotImplemented
        return self.spec == other.spec and self.cells == other.cells

    def save(self, directory) -> None:
        """Write ``sweep.json`` (spec, version, seeds, cell index with checksums) and one
        ``.npz`` per cell, atomically, holding the directory's lock while writing."""
        with locked_directory(directory) as directory:
            _write_index(directory, self.spec, {c.batch_size: (c, _cell_file(c), c._save(
                directory / _cell_file(c), spec_hash(self.spec))) for c in self.cells},
                self.version)

    @classmethod
    def load(cls, directory) -> SweepResult:
        """Read a directory written by :meth:`save` (or by an interrupted :func:`run_sweep`).

        Every cell is verified (checksum, batch size, spec, rates and shapes).

        Raises
        ------
        ValueError
            The directory holds no sweep, or a file in it is damaged (the message names it).
        """
        directory = Path(directory)
        spec, entries, version_ = _read_index(directory)
        cells = tuple(SweepCell._load(directory, entry, spec) for entry in entries)
        return cls(spec, cells, version_)


def _cell_file(cell: SweepCell) -> str:
    return f"cell_B{cell.batch_size}.npz"


def _write_index(directory: Path, spec: SweepSpec, saved: dict, version_: str) -> None:
    """``saved`` maps batch size to (cell, file name, checksum)."""
    cells = [dict(batch_size=b, file=name, sha256=checksum, notes=list(cell.notes))
             for b, (cell, name, checksum) in sorted(saved.items())]
    atomic_write_json(directory / INDEX, dict(format=FORMAT, spec=spec.to_dict(),
                                              spec_hash=spec_hash(spec), version=version_,
                                              seeds=list(spec.seeds), cells=cells))


def _read_index(directory: Path) -> tuple[SweepSpec, list, str]:
    index = read_json(directory / INDEX)
    try:
        spec = SweepSpec.from_dict(index["spec"])
        entries = list(index["cells"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DamagedFileError(f"{str(directory / INDEX)!r} is not a sweep index: {exc}") from None
    if index.get("format") != FORMAT:
        raise DamagedFileError(f"{str(directory / INDEX)!r} was written by an older lrbs "
                               f"(format {index.get('format', 1)}, this one reads {FORMAT})")
    return spec, entries, str(index.get("version", "unknown"))


def _initial_test_loss(spec: SweepSpec, seed: int) -> float:
    """The metric of a seed's initialization (before any step)."""
    if spec.is_workload:
        workload = spec.workload()
        with torch.no_grad():
            return float(workload.measure(workload.parameters(seed), workload.test))
    problem = spec.problem()
    if spec.model == "linear-sgd":
        w = np.random.RandomState(seed).randn(problem.dim, problem.dim)
        return float(np.mean((problem.X_test @ w - problem.y_test) ** 2))
    model = init_mlp(problem.dim, seed)
    with torch.no_grad():
        out = model(torch.as_tensor(problem.X_test, dtype=torch.float32))
        return float(torch.mean((out - torch.as_tensor(problem.y_test, dtype=torch.float32)) ** 2))


def _train(spec: SweepSpec, lrs: np.ndarray, batch_sizes, seeds) -> list:
    """``(train_loss, test_loss)`` of every batch size for ``seeds``; least squares in one
    lock-step program, a workload through the generic path."""
    kwargs = dict(run_seeds=seeds, device=spec.device)
    if spec.is_workload:
        return [train_workload(spec.workload(), lrs, b, spec.steps, **kwargs) for b in batch_sizes]
    problem = spec.problem()
    if spec.model == "linear-sgd":
        train, test = train_linear_sgd_batched(problem, lrs, list(batch_sizes), spec.steps, **kwargs)
        return list(zip(train, test, strict=True))
    if spec.model == "mlp-adam":
        kwargs.update(optimizer="adam", weight_decay=spec.weight_decay)
    return [train_mlp_batched(problem, lrs, b, spec.steps, **kwargs) for b in batch_sizes]


def train_task(spec: dict, lrs: np.ndarray, batch_sizes: tuple, seeds: tuple) -> list:
    """One task of a sweep: every rate of a group of batch sizes for a block of seeds.

    A pure function of its arguments (the spec as its JSON dict), so it runs the same in
    this process or on a Dask worker, and a rerun after a lost worker gives the same
    numbers. Returns ``(train_loss, test_loss)`` per batch size, each ``(n_block_seeds,
    n_lr, steps)``.
    """
    return _train(SweepSpec.from_dict(spec), np.asarray(lrs), batch_sizes, tuple(seeds))


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

    def merge(self, lrs: np.ndarray, train: np.ndarray, test: np.ndarray) -> None:
        order = np.argsort(np.concatenate([self.lrs, lrs]))
        self.lrs = np.concatenate([self.lrs, lrs])[order]
        self.train = np.concatenate([self.train, train], axis=1)[:, order]
        self.test = np.concatenate([self.test, test], axis=1)[:, order]


def _extension(spec: SweepSpec, batch_size: int, runs: _Growing,
               initial: np.ndarray) -> np.ndarray | None:
    """The rates to add while the optimum sits on an edge of an LRGrid (``None``: done)."""
    if not spec.extendable:
        return None
    cell = SweepCell(batch_size, runs.lrs, runs.train, runs.test, initial)
    mean = np.where(np.isfinite(m := cell.metric(spec.window)), m, np.inf).mean(axis=1)
    best = int(np.argmin(mean))
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


class _LocalTasks:
    """Tasks run here, one after another; follow-ups (grid extensions) before new work, so
    a batch size is finished, and written, as early as it can be."""

    def __init__(self):
        self._queue = deque()

    def submit(self, key, *args, follow_up: bool = False) -> None:
        (self._queue.appendleft if follow_up else self._queue.append)((key, args))

    def completed(self):
        while self._queue:
            key, args = self._queue.popleft()
            yield key, train_task(*args)

    def cancel(self) -> None:
        self._queue.clear()


class _DaskTasks:
    """Tasks on a ``dask.distributed`` client, yielded as they complete (in any order).

    A task lost with its worker is rerun by the scheduler under the same key (unique to this
    sweep), and its result arrives here once.
    """

    def __init__(self, client):
        from distributed import as_completed
        self._client, self._keys, self._done = client, {}, as_completed()

    def submit(self, key, *args, follow_up: bool = False) -> None:
        future = self._client.submit(train_task, *args, key=_task_key(key), pure=False,
                                     priority=1 if follow_up else 0, retries=0)
        self._keys[future.key] = key
        self._done.add(future)

    def completed(self):
        for future in self._done:
            result = future.result()
            yield self._keys.pop(future.key), result
            future.release()

    def cancel(self) -> None:
        self._client.cancel(list(self._done.futures))
        self._done.clear()


def _task_key(key) -> str:
    batch_sizes, rnd, block = key
    return (f"lrbs-train-B{'-'.join(map(str, batch_sizes))}-round{rnd}-seeds"
            f"{'-'.join(map(str, block))}-{uuid.uuid4().hex[:8]}")


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
        raise TypeError(f"spec must be a SweepSpec, got {type(spec).__name__}")
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
                for b, (train, test) in zip(group, curves, strict=True):
                    arrived = parts.setdefault((b, rnd), {})
                    arrived[seeds] = (train, test)
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
                    new_lrs = _extension(spec, b, growing[b], initial_loss)
                    if new_lrs is not None:
                        growing[b].pending = new_lrs
                        for s in blocks:
                            tasks.submit(((b,), rnd + 1, s), payload, new_lrs, (b,), s,
                                         follow_up=True)
                        continue
                    runs = growing.pop(b)
                    cell = cells[b] = SweepCell(b, runs.lrs, runs.train, runs.test, initial_loss,
                                                tuple(runs.notes))
                    if out is not None:        # only the new cell is written, then the index
                        name = _cell_file(cell)
                        saved[b] = (cell, name, cell._save(out / name, digest))
                        _write_index(out, spec, saved, version("lrbs"))
                    bar.update(1)
        except BaseException:
            tasks.cancel()
            raise
    return SweepResult(spec, tuple(cells[b] for b in spec.batch_sizes))
