"""Running a sweep: cells per batch size, self-extending grids, results on disk, resume."""

from __future__ import annotations

import json
import os
import sys
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
from empirical._threads import numpy_blas_single_threaded
from empirical.reference import init_mlp

INDEX = "sweep.json"
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

    def _save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, lrs=self.lrs, train_loss=self.train_loss, test_loss=self.test_loss,
                 initial_loss=self.initial_loss)
        os.replace(tmp, path)

    @classmethod
    def _load(cls, path: Path, batch_size: int, notes) -> SweepCell:
        with np.load(path, allow_pickle=False) as data:
            return cls(batch_size, *(data[k] for k in ("lrs", "train_loss", "test_loss",
                                                        "initial_loss")), notes=tuple(notes))


@dataclass(frozen=True, eq=False)
class SweepResult:
    """The raw loss curves of a sweep, indexed by (batch size, lr, seed, step), and its spec."""

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
        """Write ``sweep.json`` (spec, version, seeds, cell index) and one ``.npz`` per cell."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for c in self.cells:
            c._save(directory / f"cell_B{c.batch_size}.npz")
        index = {"spec": self.spec.to_dict(), "version": self.version,
                 "seeds": list(self.spec.seeds),
                 "cells": [{"batch_size": c.batch_size, "file": f"cell_B{c.batch_size}.npz",
                            "notes": list(c.notes)} for c in self.cells]}
        tmp = directory / (INDEX + ".tmp")
        tmp.write_text(json.dumps(index, indent=1))
        os.replace(tmp, directory / INDEX)

    @classmethod
    def load(cls, directory) -> SweepResult:
        """Read a directory written by :meth:`save` (or by an interrupted :func:`run_sweep`)."""
        directory = Path(directory)
        try:
            index = json.loads((directory / INDEX).read_text())
            spec = SweepSpec.from_dict(index["spec"])
            cells = tuple(SweepCell._load(directory / entry["file"], entry["batch_size"],
                                          entry["notes"]) for entry in index["cells"])
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"cannot read sweep results from {str(directory)!r}: {exc}") from exc
        return cls(spec, cells, index.get("version", "unknown"))


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
    return [train_mlp_batched(problem, lrs, b, spec.steps, optimizer=spec.model.split("-")[1],
                              weight_decay=spec.weight_decay, **kwargs) for b in batch_sizes]


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


@numpy_blas_single_threaded
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
    done: dict[int, SweepCell] = {}
    if out is not None:
        out = Path(out)
        if (out / INDEX).exists():
            previous = SweepResult.load(out)
            if previous.spec != spec:
                diff = [k for k, v in spec.to_dict().items() if previous.spec.to_dict()[k] != v]
                raise ValueError(f"{str(out)!r} holds a sweep with a different spec (fields "
                                 f"{', '.join(diff)} differ); use another directory")
            done = {c.batch_size: c for c in previous.cells}
        elif out.exists() and not out.is_dir():
            raise ValueError(f"out={str(out)!r} exists and is not a directory")
    problem = spec.problem()
    show = sys.stderr.isatty() if progress is None else bool(progress)
    cells = dict(done)

    def result() -> SweepResult:
        return SweepResult(spec, tuple(cells[b] for b in spec.batch_sizes if b in cells))

    pending = [b for b in spec.batch_sizes if b not in done]
    initial_loss = np.array([_initial_test_loss(spec, problem, s) for s in spec.seeds])
    with tqdm(total=len(spec.batch_sizes), initial=len(done), desc=f"sweep {spec.model}",
              unit="batch size", disable=not show, delay=2.0 if progress is None else 0.0,
              leave=False) as bar:
        for group in _lockstep_groups(spec, problem.dim, pending):
            lrs = spec.initial_lrs()
            for b, (train, test) in zip(group, _train(spec, problem, lrs, group), strict=True):
                cells[b] = _finish_cell(spec, problem, b, lrs, train, test, initial_loss)
                if out is not None:
                    result().save(out)
                bar.update(1)
    return result()
