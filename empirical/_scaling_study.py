"""The scaling-law study's runs: every shape's learning rate tuned, kept on disk as it goes."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path

import numpy as np

from empirical._digits import (
    DEFAULT_GRID,
    DEFAULT_SHAPES,
    DigitsRuns,
    MLPShape,
    load_digits_split,
    train_digits_batched,
)
from empirical._spec import LRGrid

INDEX = "scaling.json"


@dataclass(frozen=True)
class ScalingSpec:
    """What the scaling-law study trains.

    Attributes
    ----------
    shapes : tuple of MLPShape
    seeds : tuple of int
        Run seeds (initialization and minibatches); the data split uses ``split_seed``.
    grid : LRGrid
        The starting learning-rate grid; it extends (``extension_points`` rates at a time, at
        most ``max_extensions`` times) while a shape's optimum sits on its edge.
    optimizer, batch_size, max_steps, eval_every, patience, dropout
        As in :func:`empirical.train_digits_batched`.
    split_seed : int
    """

    shapes: tuple = DEFAULT_SHAPES
    seeds: tuple = (0, 1, 2)
    grid: LRGrid = DEFAULT_GRID
    optimizer: str = "adam"
    batch_size: int = 64
    max_steps: int = 2000
    eval_every: int = 20
    patience: int = 5
    dropout: float = 0.0
    split_seed: int = 0
    max_extensions: int = 3
    extension_points: int = 4

    def __post_init__(self):
        object.__setattr__(self, "shapes", tuple(MLPShape(int(s.width), int(s.depth))
                                                 if isinstance(s, MLPShape) else MLPShape(*s)
                                                 for s in self.shapes))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        if len(self.shapes) < 3:
            raise ValueError(f"ScalingSpec.shapes needs at least 3 shapes, got {len(self.shapes)}")
        if not self.seeds:
            raise ValueError("ScalingSpec.seeds must not be empty")
        for name in ("batch_size", "max_steps", "eval_every", "patience"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"ScalingSpec.{name} must be an integer >= 1, got {value!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"ScalingSpec.dropout must be in [0, 1), got {self.dropout!r}")
        if not isinstance(self.grid, LRGrid):
            raise TypeError(f"ScalingSpec.grid must be an LRGrid, got {type(self.grid).__name__}")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"ScalingSpec.optimizer must be 'adam' or 'sgd', got "
                             f"{self.optimizer!r}")

    def to_dict(self) -> dict:
        out = asdict(self)
        out["shapes"] = [[s.width, s.depth] for s in self.shapes]
        out["seeds"] = list(self.seeds)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> ScalingSpec:
        data = dict(data)
        data["shapes"] = tuple(MLPShape(*s) for s in data["shapes"])
        data["grid"] = LRGrid(**data["grid"])
        data["seeds"] = tuple(data["seeds"])
        return cls(**data)


@dataclass(frozen=True)
class ShapeResult:
    """One shape's runs over its (possibly extended) grid, and its tuned learning rate.

    Attributes
    ----------
    runs : DigitsRuns
    notes : tuple of str
    """

    runs: DigitsRuns
    notes: tuple = ()

    @property
    def shape(self) -> MLPShape:
        return self.runs.shape

    @property
    def best_index(self) -> int:
        """Argmin over rates of the seed-mean best validation loss."""
        val = np.where(np.isfinite(self.runs.best_val_loss), self.runs.best_val_loss, np.inf)
        return int(np.argmin(val.mean(axis=0)))

    @property
    def lr(self) -> float:
        return float(self.runs.lrs[self.best_index])

    @property
    def on_edge(self) -> bool:
        return self.best_index in (0, self.runs.lrs.size - 1)

    @property
    def seed_test_loss(self) -> np.ndarray:
        """Test loss at the tuned rate, per seed, shape (n_seed,)."""
        return self.runs.test_loss[:, self.best_index]

    @property
    def seed_test_accuracy(self) -> np.ndarray:
        return self.runs.test_accuracy[:, self.best_index]


@dataclass(frozen=True)
class ScalingRuns:
    """Every shape of a :class:`ScalingSpec`, tuned."""

    spec: ScalingSpec
    shapes: tuple = ()
    version: str = field(default_factory=lambda: version("lrbs"))

    @property
    def n_params(self) -> np.ndarray:
        return np.array([r.shape.n_params for r in self.shapes])

    @property
    def test_loss(self) -> np.ndarray:
        """(n_shape, n_seed) test loss at each shape's tuned rate."""
        return np.array([r.seed_test_loss for r in self.shapes])


def _train(spec: ScalingSpec, split, shape: MLPShape, lrs: np.ndarray) -> DigitsRuns:
    return train_digits_batched(split, shape, lrs, run_seeds=spec.seeds, optimizer=spec.optimizer,
                                batch_size=spec.batch_size, max_steps=spec.max_steps,
                                eval_every=spec.eval_every, patience=spec.patience,
                                dropout=spec.dropout)


def _merge(a: DigitsRuns, b: DigitsRuns) -> DigitsRuns:
    order = np.argsort(np.concatenate([a.lrs, b.lrs]))
    return DigitsRuns(a.shape, np.concatenate([a.lrs, b.lrs])[order],
                      *(np.concatenate([getattr(a, k), getattr(b, k)], axis=1)[:, order]
                        for k in ("best_val_loss", "test_loss", "test_accuracy", "best_step",
                                  "stopped_at")))


def tune_shape(spec: ScalingSpec, split, shape: MLPShape) -> ShapeResult:
    """Train one shape over the grid, extending it while the optimum is on an edge."""
    k_lo, k_hi = spec.grid.k_min, spec.grid.k_max
    result = ShapeResult(_train(spec, split, shape, spec.grid.values()))
    notes = []
    for _ in range(spec.max_extensions):
        if not result.on_edge:
            break
        if result.best_index == 0:
            k_lo -= spec.extension_points
            k_new = np.arange(k_lo, k_lo + spec.extension_points)
        else:
            k_new = np.arange(k_hi + 1, k_hi + 1 + spec.extension_points)
            k_hi += spec.extension_points
        new_lrs = spec.grid.values(int(k_new[0]), int(k_new[-1]))
        edge = new_lrs[0] if result.best_index == 0 else new_lrs[-1]
        notes.append(f"optimum on the edge: grid extended to lr={edge:.3g}")
        result = ShapeResult(_merge(result.runs, _train(spec, split, shape, new_lrs)))
    if result.on_edge:
        notes.append(f"still on the edge after {len(notes)} extensions")
    return ShapeResult(result.runs, tuple(notes))


def _save_shape(directory: Path, result: ShapeResult) -> str:
    name = f"shape_w{result.shape.width}_d{result.shape.depth}.npz"
    tmp = directory / (name + ".tmp.npz")
    r = result.runs
    np.savez(tmp, lrs=r.lrs, best_val_loss=r.best_val_loss, test_loss=r.test_loss,
             test_accuracy=r.test_accuracy, best_step=r.best_step, stopped_at=r.stopped_at)
    os.replace(tmp, directory / name)
    return name


def _load_shape(directory: Path, entry: dict) -> ShapeResult:
    with np.load(directory / entry["file"], allow_pickle=False) as data:
        runs = DigitsRuns(MLPShape(*entry["shape"]), data["lrs"], data["best_val_loss"],
                          data["test_loss"], data["test_accuracy"], data["best_step"],
                          data["stopped_at"])
    return ShapeResult(runs, tuple(entry["notes"]))


def run_scaling_study(spec: ScalingSpec = ScalingSpec(), *, out=None,
                      progress: bool = False) -> ScalingRuns:
    """Tune every shape of ``spec`` (all rates and seeds of a shape as one batched program).

    With ``out``, each finished shape is written there (``scaling.json`` + one ``.npz`` per
    shape) and a rerun on the same directory resumes, retraining nothing finished; a directory
    written by a different spec is refused.
    """
    directory = Path(out) if out is not None else None
    done: dict = {}
    if directory is not None and (directory / INDEX).exists():
        index = json.loads((directory / INDEX).read_text())
        if index["spec"] != spec.to_dict():
            raise ValueError(f"{str(directory)!r} holds a scaling study with a different spec; "
                             "use another directory")
        done = {tuple(e["shape"]): _load_shape(directory, e) for e in index["shapes"]}
    split = load_digits_split(spec.split_seed)
    results, entries = [], []
    iterator = spec.shapes
    if progress:
        from tqdm.auto import tqdm
        iterator = tqdm(spec.shapes, desc="scaling law", unit="shape", leave=False)
    for shape in iterator:
        key = (shape.width, shape.depth)
        result = done.get(key) or tune_shape(spec, split, shape)
        results.append(result)
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            entries.append(dict(shape=list(key), file=_save_shape(directory, result),
                                notes=list(result.notes)))
            tmp = directory / (INDEX + ".tmp")
            tmp.write_text(json.dumps(dict(spec=spec.to_dict(), version=version("lrbs"),
                                           shapes=entries), indent=1))
            os.replace(tmp, directory / INDEX)
    return ScalingRuns(spec, tuple(results))
