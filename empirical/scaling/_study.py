"""The scaling-law study's runs: every shape's learning rate (and dropout) tuned, kept on disk
as it goes."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from importlib.metadata import version
from pathlib import Path

import numpy as np

from empirical._core.arguments import MAX_STEPS, SEED, SEEDS, checked, kind, real, whole
from empirical._core.grid import LRGrid
from empirical._core.threads import bounded_threads
from empirical.problems._digits import DEFAULT_SHAPES, DigitsSplit, MLPShape, load_digits_split
from empirical.sweep._store import (
    DamagedFileError,
    atomic_write_json,
    load_arrays,
    locked_directory,
    read_json,
    save_arrays,
)
from empirical.train._digits import DigitsRuns, train_digits_batched

DEFAULT_GRID = LRGrid(base=1e-4, ratio=10 ** 0.25, k_min=0, k_max=15)
"""16 rates, 1e-4 to 0.56, a quarter decade apart."""
INDEX = "scaling.json"
FORMAT = 2
"""Version of the on-disk layout: 2 adds checksums."""


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
    optimizer, batch_size, max_steps, eval_every, patience
        As in :func:`empirical.train_digits_batched`.
    dropout : float or tuple of float
        One dropout rate, or several to tune over: every rate of the grid then runs at each
        of them, as columns of one batched program.
    split_seed : int
    train_size : int, optional
        Train on the first ``train_size`` examples of the training split only (a random
        subset, nested across sizes: the split's order comes from ``split_seed``; inputs keep
        the whole training part's standardization). All of it by default.
    mup_base_width : int, optional
        Train in muP (:func:`empirical.mup_scaling`) with this base width; the standard
        parametrization by default.

    See Also
    --------
    run_scaling_study : Runs it.
    compare.scaling_spec : The default study.
    """

    shapes: tuple = DEFAULT_SHAPES
    seeds: tuple = (0, 1, 2)
    grid: LRGrid = DEFAULT_GRID
    optimizer: str = "adam"
    batch_size: int = 64
    max_steps: int = 2000
    eval_every: int = 20
    patience: int = 5
    dropout: float | tuple = 0.0
    split_seed: int = 0
    max_extensions: int = 3
    extension_points: int = 4
    train_size: int | None = None
    mup_base_width: int | None = None

    def __post_init__(self):
        if isinstance(self.shapes, (str, bytes)) or not isinstance(self.shapes, (tuple, list)):
            raise TypeError(f"ScalingSpec.shapes must be a tuple of MLPShape or (width, depth) "
                            f"pairs, got {self.shapes!r}")
        shapes = []
        for s in self.shapes:
            if not isinstance(s, MLPShape):
                if isinstance(s, (str, bytes)) or not isinstance(s, (tuple, list)) or len(s) != 2:
                    raise TypeError(f"ScalingSpec.shapes must hold MLPShape or (width, depth) "
                                    f"pairs, got {s!r}")
                s = MLPShape(*s)
            shapes.append(MLPShape(int(s.width), int(s.depth)))
        object.__setattr__(self, "shapes", tuple(shapes))
        SEEDS("ScalingSpec.seeds", self.seeds)
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        if len(self.shapes) < 3:
            raise ValueError(f"ScalingSpec.shapes needs at least 3 shapes, got {len(self.shapes)}")
        for name in ("batch_size", "max_steps", "eval_every", "patience"):
            whole(1, MAX_STEPS)(f"ScalingSpec.{name}", getattr(self, name))
        if isinstance(self.dropout, (tuple, list)):
            if not self.dropout or len(set(self.dropout)) != len(self.dropout):
                raise ValueError(f"ScalingSpec.dropout must hold distinct rates, got "
                                 f"{self.dropout!r}")
            for rate in self.dropout:
                real(0.0, 1.0, open_high=True)("ScalingSpec.dropout", rate)
            object.__setattr__(self, "dropout", tuple(sorted(float(r) for r in self.dropout)))
        else:
            real(0.0, 1.0, open_high=True)("ScalingSpec.dropout", self.dropout)
        if self.mup_base_width is not None:
            whole(1, 2**20)("ScalingSpec.mup_base_width", self.mup_base_width)
        SEED("ScalingSpec.split_seed", self.split_seed)
        whole(0, 100)("ScalingSpec.max_extensions", self.max_extensions)
        whole(1, 1000)("ScalingSpec.extension_points", self.extension_points)
        if self.train_size is not None:
            whole(1, MAX_STEPS)("ScalingSpec.train_size", self.train_size)
        if not isinstance(self.grid, LRGrid):
            raise TypeError(f"ScalingSpec.grid must be an LRGrid, got {self.grid!r:.60}")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"ScalingSpec.optimizer must be 'adam' or 'sgd', got "
                             f"{self.optimizer!r}")

    def to_dict(self) -> dict:
        out = asdict(self)
        out["shapes"] = [[s.width, s.depth] for s in self.shapes]
        out["seeds"] = list(self.seeds)
        for name in ("train_size", "mup_base_width"):
            if out[name] is None:
                del out[name]                    # the same dict, and folder, as before them
        if isinstance(self.dropout, tuple):
            out["dropout"] = list(self.dropout)
        return out

    @property
    def dropouts(self) -> tuple:
        """The dropout rates tuned over (one when ``dropout`` is a number)."""
        return self.dropout if isinstance(self.dropout, tuple) else (self.dropout,)

    @property
    def setting(self) -> str:
        """What it trains, in words: ``"scaling law (widths 8-128, depths 1, 2; adam, B=64;
        dropout 0)"``, with the data size and muP where set (the progress bar's name: ``lrbs
        scaling-law --full`` trains a dozen settings)."""
        widths = sorted({shape.width for shape in self.shapes})
        depths = sorted({shape.depth for shape in self.shapes})
        words = [f"widths {widths[0]}-{widths[-1]}, depth{'s' * (len(depths) > 1)} "
                 + ", ".join(map(str, depths)), f"{self.optimizer}, B={self.batch_size}",
                 "dropout " + ", ".join(f"{d:g}" for d in self.dropouts)]
        if self.train_size is not None:
            words.append(f"{self.train_size} examples")
        if self.mup_base_width is not None:
            words.append(f"muP from width {self.mup_base_width}")
        return "scaling law (" + "; ".join(words) + ")"

    @classmethod
    def from_dict(cls, data: dict) -> ScalingSpec:
        """The spec :meth:`to_dict` wrote; a ``ValueError`` naming ``data`` otherwise."""
        kind(Mapping)("data", data)
        try:
            data = dict(data)
            data["shapes"] = tuple(MLPShape(*s) for s in data["shapes"])
            data["grid"] = LRGrid(**data["grid"])
            data["seeds"] = tuple(data["seeds"])
            if isinstance(data.get("dropout"), list):
                data["dropout"] = tuple(data["dropout"])
            return cls(**data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"data is not a ScalingSpec's to_dict(): {exc}") from None


@dataclass(frozen=True)
class ShapeResult:
    """One shape's runs over its (possibly extended) grid, and its tuned learning rate and
    dropout.

    Attributes
    ----------
    runs : DigitsRuns
    notes : tuple of str

    See Also
    --------
    tune_shape : Produces it.
    ScalingRuns : Holds one per shape.
    """

    runs: DigitsRuns
    notes: tuple = ()

    @property
    def shape(self) -> MLPShape:
        return self.runs.shape

    @property
    def best_index(self) -> int:
        """Argmin over the columns (rate, dropout) of the seed-mean best validation loss."""
        val = np.where(np.isfinite(self.runs.best_val_loss), self.runs.best_val_loss, np.inf)
        return int(np.argmin(val.mean(axis=0)))

    @property
    def lr(self) -> float:
        return float(self.runs.lrs[self.best_index])

    @property
    def dropout(self) -> float:
        return float(self.runs.column_dropouts[self.best_index])

    def at_dropout(self, rate: float | None = None) -> tuple:
        """``(lrs, best_val_loss, test_loss)`` of the columns at dropout ``rate`` (the tuned
        one by default), in increasing rate."""
        rate = self.dropout if rate is None else rate
        at = self.runs.column_dropouts == rate
        if not at.any():
            raise ValueError(f"rate must be one of the dropout rates tried, "
                             f"{sorted(set(self.runs.column_dropouts.tolist()))}, got {rate!r}")
        order = np.argsort(self.runs.lrs[at])
        return (self.runs.lrs[at][order], self.runs.best_val_loss[:, at][:, order],
                self.runs.test_loss[:, at][:, order])

    @property
    def on_edge(self) -> bool:
        """Whether the tuned rate is the lowest or highest tried at the tuned dropout."""
        lrs = self.at_dropout()[0]
        return self.lr in (lrs[0], lrs[-1])

    @property
    def below_grid(self) -> bool:
        """Whether the tuned rate is the lowest tried at the tuned dropout: the grid extends
        downward."""
        return self.lr == self.at_dropout()[0][0]

    @property
    def seed_test_loss(self) -> np.ndarray:
        """Test loss at the tuned rate, per seed, shape (n_seed,)."""
        return self.runs.test_loss[:, self.best_index]

    @property
    def seed_test_accuracy(self) -> np.ndarray:
        return self.runs.test_accuracy[:, self.best_index]


@dataclass(frozen=True)
class ScalingRuns:
    """Every shape of a :class:`ScalingSpec`, tuned.

    See Also
    --------
    run_scaling_study : Produces it.
    compare.fit_scaling_law : Fits its losses.
    """

    spec: ScalingSpec
    shapes: tuple = ()
    version: str = field(default_factory=lambda: version("lrbs"))
    n_train: int = 0
    """The training examples every shape saw (``spec.train_size``, or the whole split)."""

    @property
    def n_params(self) -> np.ndarray:
        return np.array([r.shape.n_params for r in self.shapes])

    @property
    def test_loss(self) -> np.ndarray:
        """(n_shape, n_seed) test loss at each shape's tuned rate."""
        return np.array([r.seed_test_loss for r in self.shapes])


def _train(spec: ScalingSpec, split, shape: MLPShape, lrs: np.ndarray) -> DigitsRuns:
    """Every rate at every dropout of ``spec``: columns dropout-major."""
    dropouts = np.repeat(spec.dropouts, lrs.size)
    return train_digits_batched(split, shape, np.tile(lrs, len(spec.dropouts)),
                                run_seeds=spec.seeds, optimizer=spec.optimizer,
                                batch_size=spec.batch_size, max_steps=spec.max_steps,
                                eval_every=spec.eval_every, patience=spec.patience,
                                dropout=dropouts, mup_base_width=spec.mup_base_width)


def _merge(a: DigitsRuns, b: DigitsRuns) -> DigitsRuns:
    """The columns of both, ordered by dropout, then rate."""
    lrs = np.concatenate([a.lrs, b.lrs])
    dropouts = np.concatenate([a.column_dropouts, b.column_dropouts])
    order = np.lexsort((lrs, dropouts))
    return DigitsRuns(a.shape, lrs[order],
                      *(np.concatenate([getattr(a, k), getattr(b, k)], axis=1)[:, order]
                        for k in ("best_val_loss", "test_loss", "test_accuracy", "best_step",
                                  "stopped_at")),
                      dropouts=None if a.dropouts is None else dropouts[order])


@checked(spec=kind(ScalingSpec), split=kind(DigitsSplit), shape=kind(MLPShape))
def tune_shape(spec: ScalingSpec, split, shape: MLPShape) -> ShapeResult:
    """Train one shape over the grid (at each dropout rate), extending it while the optimum is
    on an edge.

    See Also
    --------
    train_digits_batched : Trains the rates.
    run_scaling_study : Tunes every shape.
    """
    k_lo, k_hi = spec.grid.k_min, spec.grid.k_max
    result = ShapeResult(_train(spec, split, shape, spec.grid.values()))
    notes = []
    for _ in range(spec.max_extensions):
        if not result.on_edge:
            break
        if result.below_grid:
            k_lo -= spec.extension_points
            k_new = np.arange(k_lo, k_lo + spec.extension_points)
        else:
            k_new = np.arange(k_hi + 1, k_hi + 1 + spec.extension_points)
            k_hi += spec.extension_points
        new_lrs = spec.grid.values(int(k_new[0]), int(k_new[-1]))
        edge = new_lrs[0] if result.below_grid else new_lrs[-1]
        notes.append(f"optimum on the edge: grid extended to lr={edge:.3g}")
        result = ShapeResult(_merge(result.runs, _train(spec, split, shape, new_lrs)))
    if result.on_edge:
        notes.append(f"still on the edge after {len(notes)} extensions")
    return ShapeResult(result.runs, tuple(notes))


_RUN_ARRAYS = ("lrs", "best_val_loss", "test_loss", "test_accuracy", "best_step", "stopped_at")


def _save_shape(directory: Path, result: ShapeResult) -> dict:
    """Write one shape's runs; return its index entry (with the file's checksum)."""
    name = f"shape_w{result.shape.width}_d{result.shape.depth}.npz"
    arrays = {k: getattr(result.runs, k) for k in _RUN_ARRAYS}
    if result.runs.dropouts is not None:
        arrays["dropouts"] = result.runs.dropouts
    checksum = save_arrays(directory / name, **arrays)
    return dict(shape=[result.shape.width, result.shape.depth], file=name, sha256=checksum,
                notes=list(result.notes))


def _load_shape(directory: Path, entry: dict, spec: ScalingSpec) -> ShapeResult:
    """A shape written by :func:`_save_shape`, verified against its entry and the spec."""
    try:
        shape, path = MLPShape(*(int(v) for v in entry["shape"])), directory / str(entry["file"])
        checksum, notes = str(entry["sha256"]), tuple(str(n) for n in entry["notes"])
    except (KeyError, TypeError, ValueError):
        raise DamagedFileError(f"{str(directory / INDEX)!r} has a malformed shape entry "
                               f"{entry!r}") from None
    tuned = any(spec.dropouts)
    data = load_arrays(path, checksum, _RUN_ARRAYS + (("dropouts",) if tuned else ()))
    lrs = data["lrs"]
    if (shape not in spec.shapes or lrs.ndim != 1 or lrs.size == 0
            or any(data[k].shape != (len(spec.seeds), lrs.size) for k in _RUN_ARRAYS[1:])
            or (tuned and data["dropouts"].shape != lrs.shape)):
        raise DamagedFileError(f"{str(path)!r} does not hold runs of shape {shape} with "
                               f"{len(spec.seeds)} seeds")
    return ShapeResult(DigitsRuns(shape, *(data[k] for k in _RUN_ARRAYS),
                                  dropouts=data["dropouts"] if tuned else None), notes)


def _finished_shapes(directory: Path, spec: ScalingSpec) -> dict:
    """Verified shapes a previous run left: (width, depth) -> (result, index entry)."""
    if not (directory / INDEX).exists():
        return {}
    index = read_json(directory / INDEX)
    if index.get("spec") != spec.to_dict():
        raise ValueError(f"{str(directory)!r} holds a scaling study with a different spec; "
                         "use another directory")
    if index.get("format") != FORMAT:
        warnings.warn(f"{str(directory / INDEX)!r} was written by an older lrbs; its shapes are "
                      "retrained", RuntimeWarning, stacklevel=3)
        return {}
    done = {}
    for entry in index.get("shapes", []):
        try:
            result = _load_shape(directory, entry, spec)
        except DamagedFileError as exc:
            warnings.warn(f"{exc}; that shape is retrained", RuntimeWarning, stacklevel=3)
            continue
        done[(result.shape.width, result.shape.depth)] = (result, entry)
    return done


@bounded_threads
@checked(spec=kind(ScalingSpec))
def run_scaling_study(spec: ScalingSpec = ScalingSpec(), *, out=None,
                      progress: bool = False) -> ScalingRuns:
    """Tune every shape of ``spec`` (all rates and seeds of a shape as one batched program).

    With ``out``, each finished shape is written there (``scaling.json`` + one checksummed
    ``.npz`` per shape, atomically, only the new shape each time) while the directory is
    locked against other writers, and a rerun on the same directory resumes, retraining
    nothing finished; a directory written by a different spec is refused, and a damaged shape
    file is retrained with a warning that names it.

    See Also
    --------
    ScalingSpec : What it runs.
    compare.run_scaling_law : Runs and reports it.
    """
    if out is None:
        return _run_study(spec, None, {}, progress)
    with locked_directory(out) as directory:
        return _run_study(spec, directory, _finished_shapes(directory, spec), progress)


def _run_study(spec: ScalingSpec, directory: Path | None, done: dict, progress: bool):
    split = load_digits_split(spec.split_seed)
    if spec.train_size is not None:
        available = split.y_train.shape[0]
        if spec.train_size > available:
            raise ValueError(f"ScalingSpec.train_size={spec.train_size} exceeds the "
                             f"{available} training examples of the split")
        split = replace(split, X_train=split.X_train[:spec.train_size],
                                    y_train=split.y_train[:spec.train_size])
    results, entries = [], {}
    iterator = spec.shapes
    if progress:
        from tqdm.auto import tqdm
        iterator = tqdm(spec.shapes, desc=spec.setting, unit="shape", leave=False)
    for shape in iterator:
        key = (shape.width, shape.depth)
        if key in done:
            result, entries[key] = done[key]
        else:
            result = tune_shape(spec, split, shape)
            if directory is not None:
                entries[key] = _save_shape(directory, result)
                atomic_write_json(directory / INDEX, dict(
                    format=FORMAT, spec=spec.to_dict(), version=version("lrbs"),
                    shapes=[entries[k] for k in sorted(entries)]))
        results.append(result)
    return ScalingRuns(spec, tuple(results), n_train=int(split.y_train.shape[0]))
