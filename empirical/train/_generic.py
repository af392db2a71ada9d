"""A workload's runs trained as one vectorized program: ``vmap`` over runs, stacked optimizers."""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch.func import grad, vmap

from empirical._core.arguments import MAX_STEPS, SEEDS, checked, kind, whole_sequence
from empirical._core.checks import check_run_args
from empirical._core.streams import minibatch_indices
from empirical._core.threads import bounded_threads
from empirical.problems._workload import AUTO, OptimizerConfig, Workload
from empirical.train._adam import adam_update_

CALIBRATED_CHUNKS = (64, 16, 4)
"""The chunk sizes (runs per ``vmap`` call) that ``runs_per_chunk="auto"`` times against all
runs at once: the range where a CPU turns from per-call overhead (all runs pay) to a working
set out of cache (a chunk pays), ``benchmarks/bench_workload.py`` part 4."""
STEPS_PER_CANDIDATE = 2
"""Steps each candidate trains while it is timed (the faster of the two counts)."""


class _ChunkChoice:
    """Which chunk size trains each step: the workload's own, or with ``"auto"`` the fastest
    of all-at-once and :data:`CALIBRATED_CHUNKS`, timed on real steps of the run.

    Step 0 (the first call, with its one-off costs) runs all runs at once untimed; then the
    candidates, from all runs at once down to the smallest chunk, each train
    :data:`STEPS_PER_CANDIDATE` steps and are timed (the faster step counts). The first
    candidate slower than one before it ends the search (the time is U-shaped in the chunk
    size: per-call overhead on one side, cache misses on the other), and every later step
    uses the fastest. A run shorter than ten steps per candidate, or with too few runs to
    chunk, is not calibrated: it runs all at once. The choice changes no number, since every
    run's computation is its own (the tests compare the curves bit for bit).
    """

    def __init__(self, setting, runs: int, steps: int, device: torch.device):
        self.runs, self.device = runs, device
        candidates = [None] + [c for c in CALIBRATED_CHUNKS if c < runs]
        calibrate = setting == AUTO and len(candidates) > 1 and steps >= 10 * len(candidates)
        self.candidates = candidates if calibrate else []
        self.chosen = None if setting == AUTO else setting
        self.calibrating = calibrate
        self.seconds: dict = {}
        self._trial, self._trial_steps = 0, 0

    def chunk(self, t: int):
        return self.candidates[self._trial] if self.timed(t) else self.chosen

    def timed(self, t: int) -> bool:
        return t >= 1 and self.calibrating

    def clock(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return _clock()

    def record(self, seconds: float) -> None:
        chunk = self.candidates[self._trial]
        self.seconds[chunk] = min(self.seconds.get(chunk, math.inf), seconds)
        self._trial_steps += 1
        if self._trial_steps < STEPS_PER_CANDIDATE:
            return
        slower = self._trial > 0 and self.seconds[chunk] > min(
            self.seconds[c] for c in self.candidates[:self._trial])
        self._trial, self._trial_steps = self._trial + 1, 0
        if slower or self._trial == len(self.candidates):
            self.calibrating = False
            self.chosen = min(self.seconds, key=self.seconds.get)

    @property
    def runs_per_call(self) -> int:
        """The runs each vectorized call took after the calibration (all: ``runs``)."""
        return self.runs if self.chosen is None else min(self.chosen, self.runs)


_clock = time.perf_counter


def _stack(per_seed: list[dict], n_lr: int, device) -> dict[str, torch.Tensor]:
    """Parameters of shape ``(n_seed * n_lr, *shape)``, seed-major: each seed's draw for all
    its rates."""
    names = per_seed[0].keys()
    for params in per_seed[1:]:
        if params.keys() != names or any(params[k].shape != per_seed[0][k].shape for k in names):
            raise ValueError("init(seed) must return the same names and shapes for every seed")
    return {k: torch.stack([p[k] for p in per_seed]).to(device).repeat_interleave(n_lr, dim=0)
            for k in names}


class _StackedOptimizer:
    """``torch.optim``'s SGD, Adam and AdamW applied in place to parameters stacked over runs.

    ``rates`` has shape ``(runs,)``; the step's rate of each run is its rate times the
    schedule's factor, in the parameters' precision, as ``torch.optim`` multiplies them.
    """

    def __init__(self, config: OptimizerConfig, params: dict, rates: np.ndarray, steps: int):
        self.config = config
        self.factors = config.factors(steps)
        self.state: dict[str, list] = {k: [] for k in params}
        self.rates = {k: torch.as_tensor(rates, dtype=p.dtype, device=p.device)
                      .view(-1, *([1] * (p.ndim - 1))) for k, p in params.items()}
        factors = torch.as_tensor(self.factors, device=next(iter(params.values())).device)
        self.scheduled = {k: [r * f.to(r.dtype) for f in factors] for k, r in self.rates.items()}

    @torch.no_grad()
    def step(self, params: dict, grads: dict, t: int) -> None:
        c = self.config
        for name, param in params.items():
            g, rate, state = grads[name], self.scheduled[name][t], self.state[name]
            if c.kind == "sgd":
                if c.weight_decay:
                    g = g.add(param, alpha=c.weight_decay)
                if c.momentum:
                    if not state:
                        state.append(g.clone())
                    else:
                        state[0].mul_(c.momentum).add_(g)
                    g = g.add(state[0], alpha=c.momentum) if c.nesterov else state[0]
                param.addcmul_(rate, g, value=-1.0)
                continue
            if not state:
                state += [torch.zeros_like(param), torch.zeros_like(param)]
            if c.kind == "adam" and c.weight_decay:
                g = g.add(param, alpha=c.weight_decay)
            elif c.kind == "adamw" and c.weight_decay:
                param.mul_(1 - rate * c.weight_decay)
            adam_update_(param, g, state[0], state[1], rate, t + 1, c.betas, c.eps)


@bounded_threads
@checked(workload=kind(Workload), run_seeds=SEEDS,
         checkpoints=whole_sequence(0, MAX_STEPS, min_length=0))
def train_workload(workload: Workload, lrs, batch_size: int, steps: int, *, run_seeds=(0,),
                   device: str = "cpu", return_parameters: bool = False,
                   checkpoints=()) -> tuple:
    """All ``lrs`` x ``run_seeds`` runs of a workload at once, as one vectorized program.

    The parameters carry a leading ``run`` axis (seed-major: the rates of seed 0, then of
    seed 1, ...); the loss is evaluated with ``torch.func.vmap`` over the runs, each on its
    seed's minibatch, and ``torch.func.grad`` of the sum over runs gives every run its own
    gradient (each run's loss depends on its own parameters only). The test metric is one
    ``vmap`` over the runs against the shared test set. Each ``vmap`` takes the runs in
    chunks of ``workload.runs_per_chunk``; with ``"auto"`` (the default) the chunk size is the
    fastest of all runs at once and :data:`CALIBRATED_CHUNKS`, each timed on two real steps
    of the run (:attr:`Workload.runs_per_chunk`). The optimizer updates the stacked
    parameters with the rates as a tensor (:class:`OptimizerConfig`). After each update, as
    the shipped sweeps record them, the metric on the whole test set and the loss on the
    step's minibatch.

    Parameters
    ----------
    workload : Workload
    lrs : array_like of float, shape (n_lr,)
    batch_size, steps : int
    run_seeds : sequence of int, default (0,)
        Initialization and minibatch stream of each run (:func:`minibatch_indices`).
    device : str, default "cpu"
        Where the parameters, the data and every step live.
    return_parameters : bool, default False
        Also return the final parameters.
    checkpoints : sequence of int, default ()
        Also return copies of every run's parameters after these many updates (0: the
        initialization), each in ``0..steps``.

    Returns
    -------
    train_loss, test_loss : ndarray, shape (n_seed, n_lr, steps)
        The minibatch loss and the test metric after each update, float64; ``inf``/``nan``
        kept where a run diverged.
    parameters : dict of Tensor, each ``(n_seed, n_lr, *shape)``
        With ``return_parameters``: every run's parameters after the last step.
    snapshots : list of dict of Tensor, each ``(n_seed, n_lr, *shape)``
        With ``checkpoints``: the parameters at each checkpoint, in the order given.

    See Also
    --------
    empirical.reference.train_workload : The per-run ``torch.optim`` loop it matches.
    train_mlp_batched : The hand-batched kernel of the shipped MLP, faster on it.

    Examples
    --------
    >>> import torch
    >>> from empirical import Workload, train_workload
    >>> x = torch.randn(256, 3, generator=torch.Generator().manual_seed(0))
    >>> y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    >>> w = Workload.from_module("linear", lambda: torch.nn.Linear(3, 1),
    ...                          torch.nn.functional.mse_loss, (x, y), (x, y))
    >>> train, test = train_workload(w, [0.01, 0.1], batch_size=16, steps=50)
    >>> test.shape, bool(test[0, 1, -1] < test[0, 0, -1] < test[0, 0, 0])
    ((1, 2, 50), True)
    """
    if not isinstance(workload, Workload):
        raise TypeError(f"workload must be an empirical.Workload, got {type(workload).__name__} {workload!r:.60}")
    rates, _ = check_run_args(lrs, batch_size, steps)
    seeds = tuple(int(s) for s in run_seeds)
    wanted = [int(k) for k in checkpoints]
    if any(not 0 <= k <= steps for k in wanted):
        raise ValueError(f"checkpoints must lie in 0..steps={steps}, got {list(checkpoints)}")
    train_loss, test_loss, params, snapshots, _ = _train_stacked(
        workload, rates, seeds, batch_size, steps, torch.device(device), wanted)
    out = tuple(curve.cpu().numpy() for curve in (train_loss, test_loss))
    if return_parameters:
        out += (params,)
    if wanted:
        out += ([snapshots[k] for k in wanted],)
    return out


@bounded_threads
def train_for_sweep(workload: Workload, lrs: np.ndarray, batch_size: int, steps: int,
                    run_seeds: tuple, device: str) -> tuple:
    """A sweep task's runs of one batch size: :func:`train_workload`'s train and test curves,
    and the runs each ``vmap`` call took (what ``runs_per_chunk="auto"`` chose)."""
    rates, _ = check_run_args(lrs, batch_size, steps)
    train_loss, test_loss, _, _, runs_per_call = _train_stacked(
        workload, rates, tuple(run_seeds), batch_size, steps, torch.device(device), [])
    return train_loss.cpu().numpy(), test_loss.cpu().numpy(), runs_per_call


def _train_stacked(workload: Workload, rates: np.ndarray, seeds: tuple, batch_size: int,
                   steps: int, device: torch.device, checkpoints: list) -> tuple:
    """:func:`train_workload`'s program, every tensor on ``device`` and left there.

    Returns the train and test curves ``(n_seed, n_lr, steps)`` (float64), the final
    parameters, the snapshots after ``checkpoints`` updates (each ``(n_seed, n_lr,
    *shape)``, the snapshots by update count) and the runs per ``vmap`` call.
    """
    runs = (len(seeds), rates.size)

    def by_seed(tensors: dict) -> dict:
        return {k: v.view(*runs, *v.shape[1:]) for k, v in tensors.items()}
    train_data = tuple(t.to(device) for t in workload.train)
    test_data = tuple(t.to(device) for t in workload.test)
    params = _stack([workload.parameters(s) for s in seeds], rates.size, device)
    optimizer = _StackedOptimizer(workload.optimizer.at_batch_size(batch_size), params,
                                  np.tile(rates, len(seeds)), steps)
    idx = torch.as_tensor(minibatch_indices(seeds, workload.n_train, batch_size, steps),
                          device=device)
    choice = _ChunkChoice(workload.runs_per_chunk, math.prod(runs), steps, device)
    programs: dict = {}
    train_loss = torch.empty((steps, math.prod(runs)), dtype=torch.float64, device=device)
    test_loss = torch.empty_like(train_loss)
    snapshots = {}

    def keep(after: int) -> None:
        if after in checkpoints:
            snapshots[after] = by_seed({k: v.clone() for k, v in params.items()})
    keep(0)
    for t in range(steps):
        chunk, timed = choice.chunk(t), choice.timed(t)
        if chunk not in programs:
            programs[chunk] = _programs(workload, chunk)
        per_run, measure, gradient = programs[chunk]
        started = choice.clock() if timed else 0.0
        # every run gets its seed's minibatch: (run, B, ...)
        batch = tuple(tensor[idx[t]].repeat_interleave(rates.size, dim=0) for tensor in train_data)
        optimizer.step(params, gradient(params, batch), t)
        with torch.no_grad():
            test_loss[t] = measure(params, test_data)
            train_loss[t] = per_run(params, batch)
        if timed:
            choice.record(choice.clock() - started)
        keep(t + 1)
    curves = tuple(curve.view(steps, *runs).permute(1, 2, 0) for curve in (train_loss, test_loss))
    return (*curves, by_seed(params), snapshots, choice.runs_per_call)


def _programs(workload: Workload, chunk: int | None) -> tuple:
    """The per-run loss (each run its own batch), the metric (the shared test set) and the
    gradient of the summed loss, each ``vmap`` taking ``chunk`` runs per call (all: None)."""
    per_run = vmap(workload.loss, chunk_size=chunk)
    measure = vmap(workload.measure, in_dims=(0, None), chunk_size=chunk)
    return per_run, measure, grad(lambda p, batch: per_run(p, batch).sum())
