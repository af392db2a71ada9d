"""Running a sweep: cells per batch size, self-extending grids, results on disk, resume."""

from __future__ import annotations

import hashlib
import json
import sys
import warnings
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from empirical._linear import train_linear_sgd_batched
from empirical._mlp import train_mlp_batched
from empirical._optimum import Optimum, find_optimum
from empirical._problems import Problem
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
from empirical.reference import init_mlp

INDEX = "sweep.json"
FORMAT = 2
"""Version of the on-disk layout: 2 adds checksums, and each cell's batch size and spec hash."""
# least-squares batch sizes train in lock step while steps x seeds x (batch size + n_lr x dim)
# summed over the group stays below this: a few seconds of work, the most an interrupted
# sweep can lose
_LOCKSTEP_WORK = 2**23


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
        """(n_lr, n_seed): diverged, or a final test loss no better than the initial one."""
        with np.errstate(invalid="ignore"):
            return self.diverged | (self.test_loss[:, :, -1].T >= self.initial_loss[None, :])

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
        floor = self.spec.problem().noise_std ** 2
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


def _initial_test_loss(spec: SweepSpec, problem: Problem, seed: int) -> float:
    if spec.model == "linear-sgd":
        w = np.random.RandomState(seed).randn(problem.dim, problem.dim)
        return float(np.mean((problem.X_test @ w - problem.y_test) ** 2))
    model = init_mlp(problem.dim, seed)
    with torch.no_grad():
        out = model(torch.as_tensor(problem.X_test, dtype=torch.float32))
        return float(torch.mean((out - torch.as_tensor(problem.y_test, dtype=torch.float32)) ** 2))


def _train(spec: SweepSpec, problem: Problem, lrs: np.ndarray, batch_sizes) -> list:
    """``(train_loss, test_loss)`` of every batch size; least squares in one lock-step program."""
    kwargs = dict(run_seeds=spec.seeds, device=spec.device)
    if spec.model == "linear-sgd":
        train, test = train_linear_sgd_batched(problem, lrs, list(batch_sizes), spec.steps, **kwargs)
        return list(zip(train, test, strict=True))
    if spec.model == "mlp-adam":
        kwargs.update(optimizer="adam", weight_decay=spec.weight_decay)
    return [train_mlp_batched(problem, lrs, b, spec.steps, **kwargs) for b in batch_sizes]


def _lockstep_groups(spec: SweepSpec, dim: int, batch_sizes) -> list[list[int]]:
    """The batch sizes trained together: all least-squares cells whose work fits a budget.

    A group is written to disk only when it finishes, so the budget bounds what an
    interruption loses (a few seconds); the MLP trainers take one batch size at a time.
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


def _finish_cell(spec: SweepSpec, problem: Problem, batch_size: int, lrs: np.ndarray,
                 train: np.ndarray, test: np.ndarray, initial: np.ndarray) -> SweepCell:
    """One batch size's cell from its first runs (``initial``: each seed's initial test loss);
    on an LRGrid, extend while the optimum sits on an edge."""
    notes = []
    if spec.extendable:
        grid: LRGrid = spec.lrs
        k_lo, k_hi = grid.k_min, grid.k_max
        for _ in range(spec.max_extensions):
            cell = SweepCell(batch_size, lrs, train, test, initial)
            mean = np.where(np.isfinite(m := cell.metric(spec.window)), m, np.inf).mean(axis=1)
            best = int(np.argmin(mean))
            top_failed = cell.collapsed[-1].any()
            if best == 0:
                new_k = np.arange(k_lo - spec.extension_points, k_lo)
                k_lo = int(new_k[0])
            elif best == lrs.size - 1 and not top_failed:
                new_k = np.arange(k_hi + 1, k_hi + 1 + spec.extension_points)
                k_hi = int(new_k[-1])
            else:
                break
            new_lrs = grid.base * grid.ratio ** new_k.astype(float)
            [(new_train, new_test)] = _train(spec, problem, new_lrs, [batch_size])
            side = "down" if best == 0 else "up"
            order = np.argsort(np.concatenate([lrs, new_lrs]))
            lrs = np.concatenate([lrs, new_lrs])[order]
            train = np.concatenate([train, new_train], axis=1)[:, order]
            test = np.concatenate([test, new_test], axis=1)[:, order]
            notes.append(f"optimum on the {'lower' if side == 'down' else 'upper'} edge: grid "
                         f"extended {side} to lr={new_lrs[0 if side == 'down' else -1]:.4g}")
        else:
            notes.append(f"still on the edge after {spec.max_extensions} extensions")
    return SweepCell(batch_size, lrs, train, test, initial, tuple(notes))


@bounded_threads
def run_sweep(spec: SweepSpec, *, out=None, progress=None) -> SweepResult:
    """Train every (batch size, learning rate, seed) of ``spec``; all rates of one batch size at once.

    Parameters
    ----------
    spec : SweepSpec
    out : str or path-like, optional
        Directory for the results. Each batch size is written as soon as it finishes; a rerun
        on the same directory loads the finished batch sizes instead of recomputing them, and
        refuses a directory written by a different spec.
    progress : bool, optional
        Show a progress bar over batch sizes. By default it shows on a terminal once the sweep
        has run for two seconds.

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
    spec.check_memory()
    if out is None:
        return _run(spec, None, {}, progress)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out={str(out)!r} exists and is not a directory")
    with locked_directory(out):
        return _run(spec, out, _finished_cells(out, spec), progress)


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


def _run(spec: SweepSpec, out: Path | None, done: dict, progress) -> SweepResult:
    problem = spec.problem()
    show = sys.stderr.isatty() if progress is None else bool(progress)
    saved = dict(done)
    cells = {b: cell for b, (cell, _, _) in done.items()}
    pending = [b for b in spec.batch_sizes if b not in cells]
    initial_loss = np.array([_initial_test_loss(spec, problem, s) for s in spec.seeds])
    digest = spec_hash(spec)
    with tqdm(total=len(spec.batch_sizes), initial=len(cells), desc=f"sweep {spec.model}",
              unit="batch size", disable=not show, delay=2.0 if progress is None else 0.0,
              leave=False) as bar:
        for group in _lockstep_groups(spec, problem.dim, pending):
            lrs = spec.initial_lrs()
            for b, (train, test) in zip(group, _train(spec, problem, lrs, group), strict=True):
                cell = cells[b] = _finish_cell(spec, problem, b, lrs, train, test, initial_loss)
                if out is not None:            # only the new cell is written, then the index
                    name = _cell_file(cell)
                    saved[b] = (cell, name, cell._save(out / name, digest))
                    _write_index(out, spec, saved, version("lrbs"))
                bar.update(1)
    return SweepResult(spec, tuple(cells[b] for b in spec.batch_sizes))
