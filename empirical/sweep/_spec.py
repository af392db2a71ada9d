"""The frozen sweep specification: problem, batch sizes, rates, steps, seeds, device."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from empirical._core.adam_scaling import AdamScaling
from empirical._core.arguments import MAX_EXAMPLES, real, whole
from empirical._core.checks import check_device, int_tuple, is_workload_reference, memory_limit
from empirical._core.grid import LRGrid
from empirical.problems._loading import WorkloadError, load_workload, workload_fingerprint
from empirical.problems._shipped import (
    ADAM_BETAS,
    ADAM_EPS,
    ADAM_WEIGHT_DECAY,
    MODELS,
    least_squares_workload,
    teacher_mlp_workload,
)
from empirical.problems._synthetic import Problem, least_squares_problem, teacher_mlp_problem


@dataclass(frozen=True)
class SweepSpec:
    """What a learning-rate x batch-size sweep trains. Frozen, validated, JSON round-trippable.

    Parameters
    ----------
    model : {"linear-sgd", "mlp-sgd", "mlp-adam"} or str
        The notebook's least squares with SGD, the teacher MLP with SGD, or with Adam; or a
        workload reference, ``"package.module:factory"`` or ``"path/file.py:factory"``
        (:func:`load_workload`): any torch model, loss, data and optimizer, swept through
        the generic vectorized path. A file's path is made absolute (so that the workers of a
        cluster find it). A workload carries its own data and optimizer, so ``weight_decay``
        and ``problem_seed`` do not apply to it (``problem_seed`` is recorded as None), and
        ``n_train`` and ``n_test`` are recorded as its data's sizes.
    batch_sizes : sequence of int
        Batch sizes, each ``>= 1``; stored sorted and without repeats.
    lrs : sequence of float or LRGrid, default LRGrid()
        An explicit list (finite, ``> 0``, no repeats; stored in increasing order) or a
        geometric grid (extended while an optimum is on its edge, if ``extend``).
    steps : int, default 100
        SGD/Adam steps per run (``> 10`` for Adam's warmup).
    seeds : sequence of int, default (0,)
        Run seeds: initialization and minibatch stream (the notebook's ``np.random.seed``).
    window : int, default 1
        The metric is the mean test loss over the last ``window`` steps.
    weight_decay : float, optional
        Adam's coupled L2 weight decay, ``mlp-adam`` only: 0.001 by default (the question's
        text; the notebook's code used 0.01). The SGD models have none, and refuse one.
    adam_betas : tuple of float, optional
        ``mlp-adam`` only: Adam's betas, the notebook's (0.5, 0.5) by default.
    adam_scaling : AdamScaling or dict, optional
        ``mlp-adam`` only: the betas and eps 1e-8 hold at its ``reference_batch``, and every
        other batch size trains with the rule's betas and eps
        (Malladi et al.'s square-root rule; the rate is what the sweep varies). Every batch
        size must lie where the rule is defined. A workload sets it in its
        :class:`OptimizerConfig`.
    device : str, default "cpu"
        Torch device: ``"cpu"``, or ``"cuda[:N]"`` / ``"mps"`` where torch can use it.
    problem_seed : int, default 0
        Seed of the data set (separate from the run seeds).
    n_train, n_test : int
        Data set sizes (the notebook's 10000 and 1000).
    extend : bool, default True
        Extend an ``LRGrid`` until every optimum is interior.
    max_extensions : int, default 6
        At most this many extensions (of ``extension_points`` rates each) per batch size.
    extension_points : int, default 4
    refine : int, default 0
        Once a batch size's grid is settled, add the rates ``refine`` to a grid step apart
        around its seed-mean optimum: ``lr_k * ratio**(j / refine)`` for ``0 < |j| < refine``,
        ``2 (refine - 1)`` more runs per seed, so that :func:`subgrid_argmin`'s local model
        spans a fraction of a grid step (on the exact least-squares curves its bias falls from
        1.9% on the 1.25 grid to under 0.1% at ``refine = 4``). Needs an ``LRGrid``; 0 and 1
        add nothing (0 by default). Not done where the optimum is still on an edge of the
        grid (a note says so).
    fingerprint : str, optional
        A workload's :func:`workload_fingerprint` (its file's source, its data, its first
        initialization, its optimizer), computed when not given. A spec whose fingerprint
        differs from the workload this process loads is refused: an edited workload is never
        resumed from old results, and a cluster's workers cannot train a different workload
        than the driver.

    See Also
    --------
    run_sweep : Runs it.
    LRGrid : A self-extending rate grid.
    """

    model: str
    batch_sizes: tuple
    lrs: tuple | LRGrid = field(default_factory=LRGrid)
    steps: int = 100
    seeds: tuple = (0,)
    window: int = 1
    weight_decay: float | None = None
    adam_betas: tuple | None = None
    adam_scaling: AdamScaling | None = None
    device: str = "cpu"
    problem_seed: int = 0
    n_train: int = 10_000
    n_test: int = 1000
    extend: bool = True
    max_extensions: int = 6
    extension_points: int = 4
    refine: int = 0
    fingerprint: str | None = None

    def __post_init__(self):
        if not isinstance(self.model, str) or (self.model not in MODELS
                                               and not is_workload_reference(self.model)):
            raise ValueError(f"model must be one of {', '.join(MODELS)} or a workload "
                             f"'package.module:factory' or 'file.py:factory'; got {self.model!r}")
        if self.model not in MODELS:
            self._pin_workload()
        elif self.fingerprint is not None:
            raise ValueError(f"fingerprint applies to workloads only ({self.model}'s data come "
                             f"from problem_seed), got fingerprint={self.fingerprint!r:.20}")
        sizes = int_tuple("batch_sizes", self.batch_sizes, low=1)
        object.__setattr__(self, "batch_sizes", tuple(sorted(set(sizes))))
        if isinstance(self.lrs, dict):
            object.__setattr__(self, "lrs", LRGrid(**self.lrs))
        if not isinstance(self.lrs, LRGrid):
            try:
                lrs = tuple(float(v) for v in np.atleast_1d(np.asarray(self.lrs, dtype=float)))
            except (TypeError, ValueError):
                raise ValueError(f"lrs must be numbers or an LRGrid, got {self.lrs!r}") from None
            bad = [v for v in lrs if not (np.isfinite(v) and v > 0)]
            if not lrs or bad:
                raise ValueError(f"lrs must be finite and > 0, got {self.lrs!r:.80}")
            if len(set(lrs)) != len(lrs):
                raise ValueError(f"lrs must not repeat, got {sorted(lrs)}")
            object.__setattr__(self, "lrs", tuple(sorted(lrs)))
        for name in ("steps", "window", "max_extensions", "extension_points", "n_train", "n_test"):
            int_tuple(name, [getattr(self, name)], low=1)
        whole(0, 64)("refine", self.refine)
        if self.refine and not isinstance(self.lrs, LRGrid):
            raise ValueError(f"refine needs an LRGrid to refine (got lrs={self.lrs!r:.60}); "
                             "with a list of rates, list the rates you want")
        if self.model == "mlp-adam" and self.steps <= 10:
            raise ValueError(f"steps must be > 10 for mlp-adam (10 warmup steps), got {self.steps}")
        if self.window > self.steps:
            raise ValueError(f"window must be <= steps={self.steps}, got {self.window}")
        seeds = int_tuple("seeds", self.seeds, low=0)
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must not repeat, got {seeds}")
        object.__setattr__(self, "seeds", seeds)
        if not self.is_workload:
            int_tuple("problem_seed", [self.problem_seed], low=0)
        if self.model == "mlp-adam":
            decay = ADAM_WEIGHT_DECAY if self.weight_decay is None else self.weight_decay
            if isinstance(decay, bool) or not isinstance(decay, int | float | np.floating) \
                    or not (np.isfinite(decay) and decay >= 0):
                raise ValueError(f"weight_decay must be finite and >= 0, got {decay!r}")
            object.__setattr__(self, "weight_decay", float(decay))
        elif self.weight_decay is not None:
            raise ValueError(f"weight_decay applies to mlp-adam only; {self.model} has none "
                             "(a workload sets it in its OptimizerConfig) "
                             f"(got weight_decay={self.weight_decay!r})")
        self._check_adam_scaling()
        object.__setattr__(self, "device", check_device(self.device))

    def _check_adam_scaling(self) -> None:
        if self.adam_betas is not None:
            if self.model != "mlp-adam":
                raise ValueError(f"adam_betas applies to mlp-adam only, not {self.model}")
            betas = self.adam_betas
            if isinstance(betas, (str, bytes)) or not isinstance(betas, (tuple, list)) \
                    or len(betas) != 2:
                raise TypeError(f"adam_betas must be two numbers in [0, 1), got {betas!r}")
            for beta in betas:
                real(0.0, 1.0, open_high=True)("adam_betas", beta)
            object.__setattr__(self, "adam_betas", tuple(float(b) for b in betas))
        rule = self.adam_scaling
        if rule is None:
            return
        if isinstance(rule, Mapping):
            rule = AdamScaling(**rule)
            object.__setattr__(self, "adam_scaling", rule)
        if not isinstance(rule, AdamScaling):
            raise TypeError(f"adam_scaling must be an AdamScaling, its dict, or None; got {rule!r}")
        if self.model != "mlp-adam":
            raise ValueError(f"adam_scaling applies to mlp-adam only, not {self.model} (a "
                             "workload sets it in its OptimizerConfig)")
        for b in self.batch_sizes:
            rule.betas_at(self._betas, b)                # a ValueError where undefined

    def adam_settings(self, batch_size: int) -> dict:
        """Adam's ``betas`` and ``eps`` at ``batch_size`` for ``mlp-adam`` (the notebook's, or
        :attr:`adam_scaling`'s, from :attr:`adam_betas`)."""
        if self.model != "mlp-adam":
            raise ValueError(f"adam_settings applies to mlp-adam only, not {self.model}")
        whole(1, MAX_EXAMPLES)("batch_size", batch_size)
        rule = self.adam_scaling
        if rule is None:
            return dict(betas=self._betas, eps=ADAM_EPS)
        return dict(betas=rule.betas_at(self._betas, batch_size),
                    eps=rule.eps_at(ADAM_EPS, batch_size))

    @property
    def _betas(self) -> tuple:
        return ADAM_BETAS if self.adam_betas is None else self.adam_betas

    def _pin_workload(self) -> None:
        """An absolute file path, the data's real sizes, no problem seed, the fingerprint."""
        where, _, factory = self.model.rpartition(":")
        if where.endswith(".py") and not Path(where).is_absolute():
            object.__setattr__(self, "model", f"{Path(where).resolve()}:{factory}")
        workload = load_workload(self.model)
        object.__setattr__(self, "n_train", workload.n_train)
        object.__setattr__(self, "n_test", workload.test[0].shape[0])
        object.__setattr__(self, "problem_seed", None)
        found = _fingerprint(self.model)
        if self.fingerprint is None:
            object.__setattr__(self, "fingerprint", found)
        elif self.fingerprint != found:
            raise WorkloadError(f"workload {self.model!r} differs from the one this sweep was "
                                f"made with (fingerprint {found[:12]} here, {self.fingerprint[:12]} "
                                "in the spec): its file or data changed, or this process builds "
                                "other data; use a new folder, or make the data deterministic")

    @property
    def is_workload(self) -> bool:
        """The model is a workload reference, trained through the generic path."""
        return self.model not in MODELS

    def workload(self):
        """The :class:`Workload` the model names (loaded once per process), or a shipped
        problem expressed as one (:func:`least_squares_workload`, :func:`teacher_mlp_workload`:
        the same data, initialization, loss and optimizer as its hand-batched trainer)."""
        if self.is_workload:
            return load_workload(self.model)
        if self.model == "linear-sgd":
            return least_squares_workload(problem_seed=self.problem_seed, n_train=self.n_train,
                                          n_test=self.n_test)
        return teacher_mlp_workload(self.model.split("-")[1], problem_seed=self.problem_seed,
                                    n_train=self.n_train, n_test=self.n_test,
                                    weight_decay=self.weight_decay,
                                    adam_betas=self.adam_betas, adam_scaling=self.adam_scaling)

    def noise_floor(self) -> float:
        """The metric's irreducible level: the label-noise variance of a shipped problem, the
        ``floor`` of a workload."""
        return self.workload().floor if self.is_workload else self.problem().noise_std ** 2

    @property
    def label(self) -> str:
        """A short name: the model, or a workload's ``name``."""
        return self.workload().name if self.is_workload else self.model

    @property
    def extendable(self) -> bool:
        return self.extend and isinstance(self.lrs, LRGrid)

    def _n_initial_lrs(self) -> int:
        if isinstance(self.lrs, LRGrid):
            return self.lrs.k_max - self.lrs.k_min + 1
        return len(self.lrs)

    def initial_lrs(self) -> np.ndarray:
        return self.lrs.values() if isinstance(self.lrs, LRGrid) else np.asarray(self.lrs)

    def problem(self) -> Problem:
        """The data set this sweep trains on (a shipped problem's).

        Drawn once per (model, seed, sizes) and shared by every caller: its arrays must not
        be modified in place.
        """
        if self.is_workload:
            raise ValueError(f"{self.model!r} is a workload: its data are its own "
                             "(spec.workload().train)")
        return _shipped_problem(self.model, self.problem_seed, self.n_train, self.n_test)

    def memory_bytes(self) -> int:
        """An upper estimate of the bytes :func:`empirical.run_sweep` holds at its peak.

        The curves of every cell (float64, the grid at its largest extension), the data set,
        and the largest trainer's working set: the least-squares minibatch statistics and
        states of all batch sizes in lock step, or the MLP's minibatches and activations of
        one batch size.
        """
        n_b, n_seed, steps = len(self.batch_sizes), len(self.seeds), self.steps
        n_lr = self._n_initial_lrs() + (self.max_extensions * self.extension_points
                                        if self.extendable else 0) + 2 * max(self.refine - 1, 0)
        if self.is_workload:
            return self._workload_bytes(n_b, n_seed, n_lr)
        dim = 16 if self.model == "linear-sgd" else 4
        biggest = max(self.batch_sizes)
        curves = 2 * n_b * n_seed * n_lr * steps * 8
        data = 3 * (self.n_train + self.n_test) * dim * 8
        if self.model == "linear-sgd":
            work = (n_b * n_seed * steps * (2 * dim * dim + 1) * 8       # statistics
                    + 6 * n_b * n_seed * dim * dim * n_lr * 8           # states, products
                    + 4 * (steps + 1) * n_b * n_seed * n_lr * 8         # losses, their copies
                    + steps * biggest * 8 + 2**21)                      # index stream, gather
        else:
            runs = n_seed * n_lr
            work = (steps * n_seed * biggest * (8 + 3 * 2 * dim * 4)      # indices, minibatches
                    + 4 * runs * dim * biggest * 4                      # activations
                    + 3 * runs * dim * self.n_test * 4                  # test activations
                    + 8 * runs * 2 * dim * (dim + 1) * 4 + 4 * steps * runs * 8)
        return int(curves + data + work)

    def _workload_bytes(self, n_b: int, n_seed: int, n_lr: int) -> int:
        """Curves, data, and per run its parameters, gradient, optimizer state and
        temporaries (six copies), its minibatch and its test-set evaluation's input; the
        activations a model makes are its own and not counted."""
        workload, runs = self.workload(), n_seed * self._n_initial_lrs()
        n_params = sum(p.numel() * p.element_size() for p in workload.parameters(self.seeds[0])
                       .values())
        train = sum(t.numel() * t.element_size() for t in workload.train)
        test = sum(t.numel() * t.element_size() for t in workload.test)
        example = train // workload.n_train
        biggest = max(self.batch_sizes)
        curves = 2 * n_b * n_seed * n_lr * self.steps * 8
        work = (6 * runs * n_params + 2 * runs * biggest * example
                + self.steps * n_seed * biggest * 8 + 4 * self.steps * runs * 8)
        return int(curves + train + test + work)

    def check_memory(self) -> None:
        """Raise ``ValueError`` (with the estimate) if :meth:`memory_bytes` exceeds what this
        machine has; called before any allocation."""
        need, have = self.memory_bytes(), memory_limit()
        if need > have:
            raise ValueError(
                f"this sweep needs about {need / 2**30:.3g} GiB ({len(self.batch_sizes)} batch "
                f"sizes x {len(self.seeds)} seeds x {self._n_initial_lrs()} rates x "
                f"{self.steps} steps), more than the {have / 2**30:.3g} GiB this machine can "
                "give it; use fewer seeds, steps, rates or a smaller batch size")

    def to_dict(self) -> dict:
        """A JSON-ready dict; ``SweepSpec.from_dict(spec.to_dict()) == spec``."""
        out = dataclasses.asdict(self)
        out["batch_sizes"], out["seeds"] = list(self.batch_sizes), list(self.seeds)
        out["lrs"] = dataclasses.asdict(self.lrs) if isinstance(self.lrs, LRGrid) else list(self.lrs)
        if out["fingerprint"] is None:          # a shipped problem: its data come from the seed
            del out["fingerprint"]
        if not out["refine"]:                   # absent, as in the specs written before it
            del out["refine"]
        for name in ("adam_betas", "adam_scaling"):
            if out[name] is None:               # absent, as in the specs written before them
                del out[name]
            elif name == "adam_betas":
                out[name] = list(out[name])
        return out

    @classmethod
    def from_dict(cls, data: dict) -> SweepSpec:
        """The spec :meth:`to_dict` wrote; a ``ValueError`` naming ``data`` otherwise."""
        if not isinstance(data, Mapping):
            raise TypeError(f"data must be a dict of SweepSpec fields, got {data!r}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"data has unknown SweepSpec fields: {sorted(unknown)}")
        try:
            return cls(**data)
        except TypeError as exc:                         # a required field is missing
            raise ValueError(f"data is not a SweepSpec's to_dict(): {exc}") from None


@functools.cache
def _fingerprint(reference: str) -> str:
    """The fingerprint of a loaded workload, once per process."""
    return workload_fingerprint(load_workload(reference), reference)


@functools.lru_cache(maxsize=4)
def _shipped_problem(model: str, seed: int, n_train: int, n_test: int) -> Problem:
    """A shipped problem, drawn once: a sweep's tasks, its initial losses and its analysis all
    read the same arrays."""
    make = least_squares_problem if model == "linear-sgd" else teacher_mlp_problem
    return make(seed, n_train=n_train, n_test=n_test)
