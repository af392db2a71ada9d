"""The Workload protocol: any torch model, loss, data and optimizer, as lrbs sweeps them."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.func import functional_call

from empirical._core.adam_scaling import AdamScaling
from empirical._core.arguments import FLOAT32_MAX, MAX_EXAMPLES, MAX_STEPS, checked, real, whole
from empirical._core.schedules import schedule_factors

OPTIMIZERS = ("sgd", "adam", "adamw")


@dataclass(frozen=True)
class OptimizerConfig:
    """The optimizer and learning-rate schedule every run of a workload trains with.

    The learning rate itself is what a sweep varies; everything else is fixed here. The
    updates are ``torch.optim``'s, operation for operation, applied to parameters stacked over
    runs: ``"sgd"`` is ``torch.optim.SGD`` (heavy-ball ``momentum``, optionally Nesterov, no
    dampening, coupled L2 ``weight_decay``), ``"adam"`` is ``torch.optim.Adam`` (coupled L2
    decay) and ``"adamw"`` is ``torch.optim.AdamW`` (decoupled decay,
    ``theta <- theta (1 - lr_t weight_decay)`` before the Adam step). The schedule is
    :func:`empirical.reference.lr_schedule`: a linear warmup over ``warmup`` steps from
    ``warmup_start`` times the rate, then ``"cosine"`` decay to zero at the last step or a
    ``"constant"`` rate.

    Parameters
    ----------
    kind : {"sgd", "adam", "adamw"}, default "sgd"
    momentum : float, default 0.0
        SGD only, ``0 <= momentum < 1``.
    nesterov : bool, default False
        SGD with ``momentum > 0`` only.
    betas : tuple of float, default (0.9, 0.999)
        Adam and AdamW only.
    eps : float, default 1e-8
    weight_decay : float, default 0.0
    warmup : int, default 0
    warmup_start : float, default 0.001
        The first step's rate as a fraction of the run's rate (``LinearLR``'s start factor).
    decay : {"constant", "cosine"}, default "constant"
    scaling : AdamScaling, optional
        Adam and AdamW only: ``betas`` and ``eps`` are their values at the rule's reference
        batch size, and a run at batch size ``B`` uses :meth:`at_batch_size`'s (Malladi et
        al.'s square-root rule). The learning rate stays what the sweep gives.

    See Also
    --------
    Workload : Carries one.
    schedule_factors : The schedule's factor per step.
    """

    kind: str = "sgd"
    momentum: float = 0.0
    nesterov: bool = False
    betas: tuple = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    warmup: int = 0
    warmup_start: float = 0.001
    decay: str = "constant"
    scaling: AdamScaling | None = None

    def __post_init__(self):
        if self.kind not in OPTIMIZERS:
            raise ValueError(f"OptimizerConfig.kind must be one of {', '.join(OPTIMIZERS)}, "
                             f"got {self.kind!r}")
        real(0.0, 1.0, open_high=True)("OptimizerConfig.momentum", self.momentum)
        if self.momentum and self.kind != "sgd":
            raise ValueError(f"OptimizerConfig.momentum applies to 'sgd' only (Adam's is "
                             f"betas[0]), got momentum={self.momentum!r} with {self.kind!r}")
        if self.nesterov and not (self.kind == "sgd" and self.momentum > 0):
            raise ValueError("OptimizerConfig.nesterov needs kind='sgd' and momentum > 0")
        if isinstance(self.betas, (str, bytes)) or not isinstance(self.betas, (tuple, list)) \
                or len(self.betas) != 2:
            raise TypeError(f"OptimizerConfig.betas must be two numbers in [0, 1), got "
                            f"{self.betas!r}")
        for beta in self.betas:
            real(0.0, 1.0, open_high=True)("OptimizerConfig.betas", beta)
        betas = tuple(float(b) for b in self.betas)
        object.__setattr__(self, "betas", betas)
        for name in ("eps", "weight_decay"):
            real(0.0, FLOAT32_MAX)(f"OptimizerConfig.{name}", getattr(self, name))
        whole(0, MAX_STEPS)("OptimizerConfig.warmup", self.warmup)
        real(0.0, 1.0, open_low=True)("OptimizerConfig.warmup_start", self.warmup_start)
        if self.decay not in ("constant", "cosine"):
            raise ValueError(f"OptimizerConfig.decay must be 'constant' or 'cosine', got "
                             f"{self.decay!r}")
        if self.scaling is not None:
            if not isinstance(self.scaling, AdamScaling):
                raise TypeError(f"OptimizerConfig.scaling must be an AdamScaling or None, got "
                                f"{self.scaling!r}")
            if self.kind == "sgd":
                raise ValueError("OptimizerConfig.scaling applies to 'adam' and 'adamw' only")

    @checked(batch_size=whole(1, MAX_EXAMPLES))
    def at_batch_size(self, batch_size: int) -> OptimizerConfig:
        """The optimizer a run at ``batch_size`` uses: itself, or with ``scaling``'s betas and
        eps (a ``ValueError`` where the rule is undefined)."""
        if self.scaling is None:
            return self
        return dataclasses.replace(self, betas=self.scaling.betas_at(self.betas, batch_size),
                                   eps=self.scaling.eps_at(self.eps, batch_size), scaling=None)

    @checked(steps=whole(1, MAX_STEPS))
    def factors(self, steps: int) -> np.ndarray:
        """The schedule's factor at each of ``steps`` steps (ones without warmup or decay)."""
        if self.warmup == 0 and self.decay == "constant":
            return np.ones(steps)
        if steps <= self.warmup:
            raise ValueError(f"steps must exceed the optimizer's {self.warmup} warmup steps, "
                             f"got steps={steps}")
        return schedule_factors(steps, self.warmup, start_factor=self.warmup_start,
                                decay=self.decay)


Params = Mapping[str, torch.Tensor]

AUTO = "auto"
"""``Workload.runs_per_chunk``: chosen by timing the candidates on the first steps."""


Batch = tuple


@dataclass(frozen=True, eq=False)
class Workload:
    """A model, its loss, its data and its optimizer: what :func:`run_sweep` needs to sweep it.

    Parameters
    ----------
    name : str
        Shown in progress bars, tables and the report.
    init : callable ``seed -> dict[str, Tensor]``
        The parameters of one run, drawn from ``seed`` (explicitly, e.g. with a
        ``torch.Generator``). Every learning rate of a seed starts from the same draw.
        :meth:`from_module` builds it from a ``torch.nn.Module`` factory.
    loss : callable ``(params, batch) -> Tensor``
        The training loss of one run as a scalar: a pure function of the parameter dict and
        a minibatch, the tuple of the ``train`` tensors indexed by the minibatch's examples.
        It must work under ``torch.func.vmap`` (no ``.item()``, no data-dependent Python
        control flow, no in-place updates of captured tensors).
    train, test : tuple of Tensor
        The data: tensors with a common first (example) axis, e.g. ``(inputs, targets)``.
    optimizer : OptimizerConfig, default plain SGD
    metric : callable ``(params, batch) -> Tensor``, optional
        What a sweep measures after each step, evaluated on the whole ``test`` tuple; the
        loss by default.
    floor : float, default 0.0
        The metric's irreducible level (the noise floor): optima are compared on the excess
        above it.
    runs_per_chunk : int, None or "auto", default "auto"
        How many runs one vectorized call takes (``torch.func.vmap``'s ``chunk_size``).
        Chunks trade a call per chunk for a working set that stays in cache: they pay where a
        step is compute-bound (wide layers, large batches on the CPU) and cost where it is
        dominated by per-call overhead (small models); ``benchmarks/bench_workload.py``
        measures both. ``"auto"`` times all runs at once against chunks of 64, 16 and 4 runs
        on real steps at the start of each batch size's runs and keeps the fastest (a sweep
        records the choice in :attr:`SweepCell.runs_per_call`); ``None`` takes all runs at
        once; an integer fixes the chunk. Each run's computation is its own, so the numbers do
        not depend on it (the tests find them equal bit for bit).

    Notes
    -----
    The minibatches follow the shipped sweeps' common-random-numbers semantics: run seed
    ``s`` draws ``numpy.random.RandomState(s).randint(0, n_train, (steps, batch_size))``, so
    every learning rate of a seed sees the same sequence, as it starts from the same
    parameters.

    See Also
    --------
    train_workload : Trains all rates and seeds of a batch size as one program.
    load_workload : A workload from ``"package.module:factory"`` or ``"file.py:factory"``.
    teacher_mlp_workload : The shipped MLP problems as workloads.
    run_sweep : Sweeps a spec whose model names a workload.
    """

    name: str
    init: Callable[[int], Params]
    loss: Callable[[Params, Batch], torch.Tensor]
    train: tuple
    test: tuple
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    metric: Callable[[Params, Batch], torch.Tensor] | None = None
    floor: float = 0.0
    runs_per_chunk: int | str | None = AUTO

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Workload.name must be a non-empty string, got {self.name!r}")
        for attr in ("init", "loss"):
            if not callable(getattr(self, attr)):
                raise TypeError(f"Workload.{attr} must be callable, got "
                                f"{type(getattr(self, attr)).__name__}")
        if self.metric is not None and not callable(self.metric):
            raise TypeError(f"Workload.metric must be callable, got {type(self.metric).__name__}")
        for attr in ("train", "test"):
            data = getattr(self, attr)
            data = (data,) if isinstance(data, torch.Tensor) else tuple(data)
            if not data or not all(isinstance(t, torch.Tensor) for t in data):
                kinds = ", ".join(type(t).__name__ for t in data) or "nothing"
                raise TypeError(f"Workload.{attr} must be a tensor or a tuple of tensors, got "
                                f"{kinds} (torch.as_tensor converts numpy arrays)")
            lengths = {t.shape[0] if t.ndim else 0 for t in data}
            if len(lengths) != 1 or 0 in lengths:
                raise ValueError(f"Workload.{attr}'s tensors must share a non-empty first "
                                 f"(example) axis, got shapes {[tuple(t.shape) for t in data]}")
            object.__setattr__(self, attr, data)
        if not isinstance(self.optimizer, OptimizerConfig):
            raise TypeError(f"Workload.optimizer must be an OptimizerConfig, got "
                            f"{type(self.optimizer).__name__}")
        if not (isinstance(self.floor, int | float) and math.isfinite(self.floor)):
            raise ValueError(f"Workload.floor must be a finite number, got {self.floor!r}")
        chunk = self.runs_per_chunk
        if not (chunk is None or (isinstance(chunk, str) and chunk == AUTO)
                or (isinstance(chunk, int) and not isinstance(chunk, bool) and chunk >= 1)):
            raise ValueError(f"Workload.runs_per_chunk must be an integer >= 1, None or "
                             f"{AUTO!r}, got {chunk!r}")

    @property
    def n_train(self) -> int:
        return self.train[0].shape[0]

    @property
    def measure(self) -> Callable[[Params, Batch], torch.Tensor]:
        """The metric, or the loss where there is none."""
        return self.loss if self.metric is None else self.metric

    def parameters(self, seed: int) -> dict[str, torch.Tensor]:
        """``init(seed)`` checked: a non-empty dict of floating-point tensors."""
        params = self.init(seed)
        if not isinstance(params, Mapping) or not params:
            raise TypeError(f"Workload {self.name!r}: init(seed) must return a non-empty dict "
                            f"of tensors, got {type(params).__name__}")
        bad = [k for k, v in params.items()
               if not (isinstance(v, torch.Tensor) and v.is_floating_point())]
        if bad:
            raise TypeError(f"Workload {self.name!r}: init(seed) must give floating-point "
                            f"tensors; {', '.join(map(str, bad))} are not")
        return {k: v.detach() for k, v in params.items()}

    @classmethod
    def from_module(cls, name: str, module: Callable[[], torch.nn.Module],
                    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                    train: tuple, test: tuple, *, optimizer: OptimizerConfig | None = None,
                    metric: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                    floor: float = 0.0, runs_per_chunk: int | str | None = AUTO) -> Workload:
        """A workload from a ``torch.nn.Module`` factory and a criterion on ``(output, target)``.

        ``module()`` is called with torch's global generator seeded by the run seed (inside
        ``torch.random.fork_rng``, so the caller's random state is untouched): a factory
        that just builds layers gets the seed's default initialization. The data are
        ``(inputs, targets)``; the loss is ``criterion(module(inputs), targets)``, evaluated
        with ``torch.func.functional_call``. Modules with buffers (batch norm's running
        statistics) are refused: their in-place updates cannot be vectorized over runs.
        ``optimizer``, ``metric`` (here on ``(output, target)``), ``floor`` and
        ``runs_per_chunk`` are the workload's own.

        Examples
        --------
        >>> import torch
        >>> from empirical import Workload
        >>> x = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
        >>> w = Workload.from_module("linear", lambda: torch.nn.Linear(3, 1),
        ...                          torch.nn.functional.mse_loss, (x, x[:, :1]), (x, x[:, :1]))
        >>> sorted(w.parameters(0))
        ['bias', 'weight']
        """
        template = module()
        if not isinstance(template, torch.nn.Module):
            raise TypeError(f"module() must return a torch.nn.Module, got "
                            f"{type(template).__name__}")
        buffers = [n for n, _ in template.named_buffers()]
        if buffers:
            raise ValueError(f"Workload.from_module: {name!r} has buffers ({', '.join(buffers)}); "
                             "running statistics cannot be updated per run under vmap, use "
                             "a normalization without them (LayerNorm, GroupNorm)")

        def init(seed: int) -> dict[str, torch.Tensor]:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                return dict(module().named_parameters())

        def on_outputs(measure):
            def evaluate(params, batch):
                inputs, targets = batch
                return measure(functional_call(template, params, (inputs,)), targets)
            return evaluate

        return cls(name, init, on_outputs(criterion), train, test,
                   optimizer=optimizer or OptimizerConfig(),
                   metric=None if metric is None else on_outputs(metric), floor=floor,
                   runs_per_chunk=runs_per_chunk)
