"""One task of a sweep: every rate of a group of batch sizes for a block of seeds."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from empirical._core.arguments import MAX_EXAMPLES, POSITIVE, SEED, checked, kind, whole
from empirical._core.init import init_mlp
from empirical.sweep._spec import SweepSpec
from empirical.train._generic import train_for_sweep, train_workload
from empirical.train._linear import train_linear_sgd_batched
from empirical.train._mlp import train_mlp_batched


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


def _train(spec: SweepSpec, lrs: np.ndarray, batch_sizes, seeds, *,
           constant_rate: bool = False) -> list:
    """``(train_loss, test_loss, runs_per_call)`` of every batch size for ``seeds``; least
    squares in one lock-step program, a workload through the generic path (``runs_per_call``
    the runs per ``vmap`` call it took; ``None`` for the shipped trainers). ``constant_rate``
    trains without the schedule (no warmup, no decay): the shipped SGD problems have none."""
    if spec.is_workload:
        workload = spec.workload()
        if constant_rate:
            workload = dataclasses.replace(workload, optimizer=dataclasses.replace(
                workload.optimizer, warmup=0, decay="constant"))
        return [train_for_sweep(workload, lrs, b, spec.steps, seeds, spec.device)
                for b in batch_sizes]
    kwargs = dict(run_seeds=seeds, device=spec.device)
    problem = spec.problem()
    if spec.model == "linear-sgd":
        train, test = train_linear_sgd_batched(problem, lrs, list(batch_sizes), spec.steps, **kwargs)
        return [(tr, te, None) for tr, te in zip(train, test, strict=True)]
    if spec.model == "mlp-adam":
        kwargs.update(optimizer="adam", weight_decay=spec.weight_decay,
                      schedule=np.ones(spec.steps) if constant_rate else None)
        return [(*train_mlp_batched(problem, lrs, b, spec.steps, **kwargs, **spec.adam_settings(b)),
                 None) for b in batch_sizes]
    return [(*train_mlp_batched(problem, lrs, b, spec.steps, **kwargs), None)
            for b in batch_sizes]


@checked(spec=kind(SweepSpec), lr=POSITIVE, batch_size=whole(1, MAX_EXAMPLES), seed=SEED)
def trained_parameters(spec: SweepSpec, lr: float, batch_size: int, seed: int) -> dict:
    """One run of the sweep (rate ``lr``, ``batch_size``, ``seed``) after its ``spec.steps``
    updates, from the sweep's own trainer: its parameters, named and shaped as
    ``spec.workload().parameters`` names them.

    For the shipped problems that is the hand-batched trainer the sweep ran (its minibatch
    stream included), not the generic path.

    See Also
    --------
    run_sweep : The sweep whose run it is.
    compare.edge_study : Takes the batch Hessian there.
    """
    kwargs = dict(run_seeds=(seed,), device=spec.device, return_parameters=True)
    if spec.is_workload:
        *_, params = train_workload(spec.workload(), [lr], batch_size, spec.steps, **kwargs)
    elif spec.model == "linear-sgd":
        *_, params = train_linear_sgd_batched(spec.problem(), [lr], batch_size, spec.steps,
                                              **kwargs)
    else:
        if spec.model == "mlp-adam":
            kwargs.update(optimizer="adam", weight_decay=spec.weight_decay,
                          **spec.adam_settings(batch_size))
        *_, params = train_mlp_batched(spec.problem(), [lr], batch_size, spec.steps, **kwargs)
    return {k: v[0, 0] for k, v in params.items()}


def train_task(spec: dict, lrs: np.ndarray, batch_sizes: tuple, seeds: tuple) -> list:
    """One task of a sweep: every rate of a group of batch sizes for a block of seeds.

    A pure function of its arguments (the spec as its JSON dict), so it runs the same in
    this process or on a Dask worker, and a rerun after a lost worker gives the same
    numbers. Returns ``(train_loss, test_loss, runs_per_call)`` per batch size, the curves
    ``(n_block_seeds, n_lr, steps)``, ``runs_per_call`` the runs per ``vmap`` call of the
    generic path (``None`` for the shipped trainers).
    """
    return _train(SweepSpec.from_dict(spec), np.asarray(lrs), batch_sizes, tuple(seeds))
