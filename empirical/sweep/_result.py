"""A sweep's results: its cells per batch size, their optima, and their index on disk."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import numpy as np

from empirical._core.arguments import MAX_RESAMPLES, NONNEGATIVE, checked, numbers, real, whole
from empirical._core.grid import LRGrid
from empirical.problems._loading import WorkloadError
from empirical.sweep._optimum import Optimum, find_optimum
from empirical.sweep._spec import SweepSpec
from empirical.sweep._store import (
    DamagedFileError,
    atomic_write_json,
    load_arrays,
    locked_directory,
    read_json,
    save_arrays,
)

INDEX = "sweep.json"


FORMAT = 2
"""Version of the on-disk layout: 2 adds checksums, and each cell's batch size and spec hash."""


def _matching(test_loss, initial_loss) -> tuple[np.ndarray, np.ndarray]:
    """The curves ``(n_seed, n_lr, steps)`` and the initial losses ``(n_seed,)`` as float
    arrays, their seed counts checked against each other."""
    test_loss, initial_loss = np.asarray(test_loss, dtype=float), np.asarray(initial_loss, dtype=float)
    if initial_loss.shape != test_loss.shape[:1]:
        raise ValueError(f"initial_loss must have shape (n_seed,) = {test_loss.shape[:1]} to match "
                         f"test_loss, got {initial_loss.shape}")
    return test_loss, initial_loss


@checked(test_loss=numbers(3, finite=False, nan=True), initial_loss=numbers(1, finite=False, nan=True))
def failed(test_loss: np.ndarray, initial_loss: np.ndarray) -> np.ndarray:
    """Which runs failed: the test metric became non-finite (diverged), or its last value is
    no better than the initialization's (collapsed, e.g. the MLP's constant predictor).

    ``test_loss`` has shape ``(n_seed, n_lr, steps)`` and ``initial_loss`` ``(n_seed,)``; the
    result is ``(n_seed, n_lr)``. :attr:`SweepCell.collapsed` is its transpose.

    See Also
    --------
    stability_edges : The smallest rate at which a run fails.
    diverged : A blow-up within the horizon only.

    Examples
    --------
    >>> import numpy as np
    >>> from empirical import failed
    >>> curves = np.array([[[1.0, 0.5, 0.4], [1.0, 0.9, 2.5], [1.0, np.inf, np.nan]]])
    >>> failed(curves, np.array([2.0]))
    array([[False,  True,  True]])
    """
    test_loss, initial_loss = _matching(test_loss, initial_loss)
    with np.errstate(invalid="ignore"):
        return (~np.isfinite(test_loss).all(axis=-1)
                | (test_loss[:, :, -1] >= initial_loss[:, None]))


@checked(test_loss=numbers(3, finite=False, nan=True), initial_loss=numbers(1, finite=False, nan=True),
         factor=real(1.0, 1e300, open_low=True))
def diverged(test_loss: np.ndarray, initial_loss: np.ndarray, factor: float) -> np.ndarray:
    """Which runs diverged: the test metric became non-finite, or rose above ``factor`` times
    the initialization's at some step within the horizon.

    The stability criterion of Granziol et al. and of the edge-of-stability literature: a run
    blows up, rather than ends no better than it started (:func:`failed`, which also counts a
    run that a decaying schedule stops short of its blow-up, or one that merely collapses).
    ``test_loss`` has shape ``(n_seed, n_lr, steps)`` and ``initial_loss`` ``(n_seed,)``; the
    result is ``(n_seed, n_lr)``.

    References
    ----------
    .. [1] D. Granziol, S. Zohren, S. Roberts, "Learning Rates as a Function of Batch Size: A
       Random Matrix Theory Approach to Neural Network Training", JMLR 23 (2022),
       arXiv:2006.09092 (the largest stable learning rate).
    .. [2] J. Cohen, S. Kaur, Y. Li, J. Z. Kolter, A. Talwalkar, "Gradient Descent on Neural
       Networks Typically Occurs at the Edge of Stability", ICLR 2021, arXiv:2103.00065.

    See Also
    --------
    failed : The sweep's own criterion.
    stability_edges : The smallest rate at which a run fails by either.

    Examples
    --------
    >>> import numpy as np
    >>> from empirical import diverged
    >>> curves = np.array([[[1.0, 0.5, 0.4], [1.0, 30.0, 2.0], [1.0, np.inf, np.nan]]])
    >>> diverged(curves, np.array([2.0]), 10.0)
    array([[False,  True,  True]])
    """
    test_loss, initial_loss = _matching(test_loss, initial_loss)
    with np.errstate(invalid="ignore"):
        return (~np.isfinite(test_loss).all(axis=-1)
                | (test_loss > factor * initial_loss[:, None, None]).any(axis=-1))


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
    runs_per_call : tuple of int
        A workload's cell: the runs each ``vmap`` call took in its tasks (chosen by timing
        where ``Workload.runs_per_chunk`` is ``"auto"``), distinct values in increasing
        order; empty for the shipped trainers. How the work was cut, not a number: it does
        not change the curves and ``==`` does not compare it.

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
    runs_per_call: tuple = ()

    @checked(window=whole(1))
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
            runs_per_call = tuple(int(n) for n in entry.get("runs_per_call", ()))
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
        return cls(batch_size, lrs, train, test, initial, notes, runs_per_call)


def spec_hash(spec: SweepSpec) -> str:
    """SHA-256 of the spec's canonical JSON: what every stored cell is checked against."""
    return hashlib.sha256(json.dumps(spec.to_dict(), sort_keys=True).encode()).hexdigest()


def _rates_belong(spec: SweepSpec, lrs: np.ndarray) -> bool:
    """The rates are the spec's own list, or points of its grid (a ``refine``-th of a step
    apart where it refines) that include the initial ones."""
    if not isinstance(spec.lrs, LRGrid):
        return lrs.shape == (len(spec.lrs),) and np.allclose(lrs, spec.lrs, rtol=1e-12, atol=0)
    k = np.log(lrs / spec.lrs.base) / np.log(spec.lrs.ratio) * max(spec.refine, 1)
    initial = spec.lrs.values()
    return bool(np.allclose(k, np.round(k), rtol=0, atol=1e-6)
                and np.all(np.isin(np.round(np.log(initial / spec.lrs.base)
                                            / np.log(spec.lrs.ratio)) * max(spec.refine, 1),
                                   np.round(k))))


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
        raise ValueError(f"batch_size={batch_size!r} is not in this sweep; its batch sizes are "
                         f"{[c.batch_size for c in self.cells]}")

    @checked(tolerance=NONNEGATIVE, robust_tolerance=NONNEGATIVE,
             n_boot=whole(2, MAX_RESAMPLES))
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
    cells = [dict(batch_size=b, file=name, sha256=checksum, notes=list(cell.notes),
                  runs_per_call=list(cell.runs_per_call))
             for b, (cell, name, checksum) in sorted(saved.items())]
    atomic_write_json(directory / INDEX, dict(format=FORMAT, spec=spec.to_dict(),
                                              spec_hash=spec_hash(spec), version=version_,
                                              seeds=list(spec.seeds), cells=cells))


def _read_index(directory: Path) -> tuple[SweepSpec, list, str]:
    if not (directory / INDEX).exists():
        raise DamagedFileError(f"{str(directory)!r} holds no sweep: there is no {INDEX} (not a "
                               "sweep folder, or its run was stopped before it began)")
    index = read_json(directory / INDEX)
    try:
        spec = SweepSpec.from_dict(index["spec"])
        entries = list(index["cells"])
    except WorkloadError:
        raise                                   # the index is fine; the workload changed
    except (KeyError, TypeError, ValueError) as exc:
        raise DamagedFileError(f"{str(directory / INDEX)!r} is not a sweep index: {exc}") from None
    if index.get("format") != FORMAT:
        raise DamagedFileError(f"{str(directory / INDEX)!r} was written by an older lrbs "
                               f"(format {index.get('format', 1)}, this one reads {FORMAT})")
    return spec, entries, str(index.get("version", "unknown"))
