"""The shipped MLP problems as workloads: the generic path's parity target."""

from __future__ import annotations

import numpy as np
import torch

from empirical._core.adam_scaling import AdamScaling
from empirical._core.arguments import FLOAT32_MAX, MAX_EXAMPLES, SEED, checked, kind, optional, real, whole
from empirical.problems._synthetic import least_squares_problem, teacher_mlp_problem
from empirical.problems._workload import OptimizerConfig, Workload

MODELS = ("linear-sgd", "mlp-sgd", "mlp-adam")
"""The shipped problems, by the names :class:`SweepSpec` and the command line take."""
ADAM_WEIGHT_DECAY = 0.001
"""The question's text: "a weight decay of 0.001" (the notebook's code has 0.01)."""
ADAM_BETAS = (0.5, 0.5)
"""The notebook's Adam betas."""
ADAM_EPS = 1e-8
NOTEBOOK_ADAM = dict(kind="adam", betas=ADAM_BETAS, eps=ADAM_EPS, warmup=10, warmup_start=0.001,
                     decay="cosine")
"""The notebook's Adam: betas (0.5, 0.5), 10 warmup steps from 0.001 of the rate, cosine decay."""


@checked(optimizer=kind(str), problem_seed=SEED, n_train=whole(1, MAX_EXAMPLES),
         n_test=whole(1, MAX_EXAMPLES), weight_decay=optional(real(0.0, FLOAT32_MAX)),
         adam_betas=optional(kind(tuple)), adam_scaling=optional(kind(AdamScaling)))
def teacher_mlp_workload(optimizer: str = "sgd", *, problem_seed: int = 0, n_train: int = 10_000,
                         n_test: int = 1000, weight_decay: float | None = None,
                         adam_betas: tuple | None = None,
                         adam_scaling: AdamScaling | None = None) -> Workload:
    """The ``mlp-sgd`` or ``mlp-adam`` problem of :class:`SweepSpec` as a :class:`Workload`.

    The teacher-network data of :func:`teacher_mlp_problem` in float32, the notebook's
    ``Linear(D, D) -> ReLU -> Linear(D, D)`` initialized after ``torch.manual_seed(seed)``
    (as :func:`empirical.reference.init_mlp`), ``torch.nn.functional.mse_loss``, and SGD or
    the notebook's Adam (coupled L2 ``weight_decay``, 0.001 by default) under its warmup +
    cosine schedule (other ``adam_betas``; with ``adam_scaling``, the betas and eps per batch
    size); the floor is the label-noise variance. Swept through the generic path it
    reproduces :func:`train_mlp_batched`, the hand-batched kernel that stays the faster way
    to run these two problems.

    See Also
    --------
    Workload : The protocol.
    train_workload : The generic trainer.
    train_mlp_batched : The hand-batched trainer it matches.

    Examples
    --------
    >>> from empirical import teacher_mlp_workload
    >>> w = teacher_mlp_workload("adam")
    >>> w.name, w.optimizer.kind, w.optimizer.weight_decay, w.floor
    ('teacher MLP, Adam', 'adam', 0.001, 4.0)
    """
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    if optimizer == "sgd" and (weight_decay, adam_betas, adam_scaling) != (None, None, None):
        raise ValueError("weight_decay, adam_betas and adam_scaling apply to the Adam problem only")
    problem = teacher_mlp_problem(problem_seed, n_train=n_train, n_test=n_test)
    dim = problem.dim
    adam = {**NOTEBOOK_ADAM, "betas": adam_betas or ADAM_BETAS, "scaling": adam_scaling,
            "weight_decay": ADAM_WEIGHT_DECAY if weight_decay is None else weight_decay}
    config = OptimizerConfig() if optimizer == "sgd" else OptimizerConfig(**adam)
    data = [torch.as_tensor(a, dtype=torch.float32) for a in
            (problem.X_train, problem.y_train, problem.X_test, problem.y_test)]
    return Workload.from_module(
        f"teacher MLP, {'SGD' if optimizer == 'sgd' else 'Adam'}",
        lambda: torch.nn.Sequential(torch.nn.Linear(dim, dim), torch.nn.ReLU(),
                                    torch.nn.Linear(dim, dim)),
        torch.nn.functional.mse_loss, tuple(data[:2]), tuple(data[2:]), optimizer=config,
        floor=problem.noise_std ** 2)


@checked(problem_seed=SEED, n_train=whole(1, MAX_EXAMPLES), n_test=whole(1, MAX_EXAMPLES))
def least_squares_workload(*, problem_seed: int = 0, n_train: int = 10_000,
                           n_test: int = 1000) -> Workload:
    """The ``linear-sgd`` problem of :class:`SweepSpec` as a :class:`Workload`, in float64.

    The data of :func:`least_squares_problem`, the weights ``W`` (D x D) drawn as the
    notebook draws them (``RandomState(seed).randn(D, D)``), the training loss
    ``mean over examples of |x W - y|^2`` whose gradient is the homework's
    ``(2/B)(X^T X W - X^T Y)``, plain SGD, and the test MSE (mean over outputs) as the
    metric, above the floor ``noise_std**2``. Its Hessian on a minibatch is ``2 X^T X / B``
    for every output column (:func:`batch_hessian_top_eigenvalues`). Its minibatches follow
    the workload convention (:func:`minibatch_indices`, a fresh stream per seed), not the
    notebook's continuation of the stream after drawing ``W``: its runs are
    ``linear-sgd``'s in distribution, not run for run.

    See Also
    --------
    teacher_mlp_workload : The MLP problems.
    train_linear_sgd_batched : The hand-batched trainer it matches.

    Examples
    --------
    >>> from empirical import least_squares_workload
    >>> w = least_squares_workload(n_train=100)
    >>> w.parameters(0)["W"].shape, w.floor
    (torch.Size([16, 16]), 25.0)
    """
    problem = least_squares_problem(problem_seed, n_train=n_train, n_test=n_test)
    data = [torch.as_tensor(a) for a in (problem.X_train, problem.y_train, problem.X_test,
                                         problem.y_test)]

    def init(seed: int) -> dict[str, torch.Tensor]:
        return {"W": torch.as_tensor(np.random.RandomState(seed).randn(problem.dim, problem.dim))}

    def loss(params, batch):
        x, y = batch
        return ((x @ params["W"] - y) ** 2).sum(-1).mean()

    def mse(params, batch):
        x, y = batch
        return ((x @ params["W"] - y) ** 2).mean()

    return Workload("least squares, SGD", init, loss, tuple(data[:2]), tuple(data[2:]),
                    metric=mse, floor=problem.noise_std ** 2)
