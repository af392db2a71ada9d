"""The plain per-run training loops, written as the notebook writes them.

These are the ground truth that the vectorized trainers must reproduce (parity tests) and
the baseline the benchmarks time. One learning rate, one batch size, one seed per call.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from empirical._core.checks import check_run_args
from empirical._core.init import init_mlp
from empirical._core.schedules import lr_schedule
from empirical.problems._digits import DigitsSplit, MLPShape
from empirical.problems._digits import init_mlp_params as _init_digits
from empirical.problems._synthetic import Problem
from empirical.train._digits import DROPOUT_STREAM
from empirical.train._mup import mup_scaling


def train_linear_sgd(problem: Problem, lr: float, batch_size: int, steps: int, *,
                     run_seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's ``run_sgd``: least-squares SGD, operation for operation.

    ``np.random.seed(run_seed)``; ``w = randn(D, D)``; then per step
    ``idx = randint(0, N, B)``, ``grad = (2/B)(x^T x w - x^T y)``, ``w = w - lr * grad``, and
    the two losses the notebook records after the update: the minibatch loss
    ``mean((x w - y)^2)`` on the same minibatch ``x, y`` and the test loss
    ``mean((X_test w - y_test)^2)``. With the notebook's problem (seed 0) and ``run_seed=0``
    the curves equal the notebook's bit for bit on the same numpy.

    Returns
    -------
    train_loss : ndarray, shape (steps,)
        The minibatch loss after each update; ``inf``/``nan`` kept where the run diverged.
    test_loss : ndarray, shape (steps,)
        The test loss after each update.
    """
    check_run_args([lr], [batch_size], steps)
    stream = np.random.RandomState(run_seed)
    X, y = problem.X_train, problem.y_train
    w = stream.randn(problem.dim, problem.dim)
    train_loss, test_loss = np.empty(steps), np.empty(steps)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            idx = stream.randint(0, X.shape[0], batch_size)
            x, yb = X[idx], y[idx]
            grad = (2 / batch_size) * (x.T @ x @ w - x.T @ yb)
            w = w - lr * grad
            train_loss[t] = np.mean((yb - x @ w) ** 2)
            test_loss[t] = np.mean((problem.y_test - problem.X_test @ w) ** 2)
    return train_loss, test_loss


def _step(loss: torch.Tensor, opt: torch.optim.Optimizer, scheduler) -> None:
    """One ``torch.optim`` update from ``loss``, then the schedule's step (if any)."""
    opt.zero_grad()
    loss.backward()
    opt.step()
    if scheduler is not None:
        scheduler.step()


def train_mlp(problem: Problem, lr: float, batch_size: int, steps: int, *, run_seed: int = 0,
              optimizer: str = "sgd", weight_decay: float = 0.001, betas=(0.5, 0.5),
              eps: float = 1e-8, schedule=None,
              dtype: torch.dtype = torch.float32) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's ``train_mlp_sgd`` with ``torch.optim.SGD`` or ``torch.optim.Adam`` and its schedule.

    ``np.random.seed(run_seed)`` for the minibatch indices, the model from :func:`init_mlp`,
    ``torch.nn.MSELoss``; per step ``idx = randint(0, N, B)``, the loss on that minibatch,
    ``backward``, ``optimizer.step()`` (and ``scheduler.step()`` for Adam), then the two
    losses the notebook records after the update: the test loss and the loss on the same
    minibatch. Adam uses betas (0.5, 0.5), eps 1e-8 and coupled L2 ``weight_decay`` (the
    question's text says 0.001, the notebook's code 0.01). With the notebook's problem
    (seed 0) and ``run_seed=0`` the curves equal the notebook's bit for bit on the same torch.
    ``dtype=torch.float64`` runs the same loop in double precision from the same (float32)
    initialization: a yardstick for what float32 rounding does to a run. Other Adam
    ``betas``, ``eps`` and a ``schedule`` (the rate's factor per step, through
    ``torch.optim.lr_scheduler.LambdaLR``) are :func:`empirical.train_mlp_batched`'s.

    Returns
    -------
    train_loss : ndarray, shape (steps,)
        The minibatch loss after each update.
    test_loss : ndarray, shape (steps,)
        The test loss after each update.
    """
    check_run_args([lr], [batch_size], steps)
    stream = np.random.RandomState(run_seed)
    model = init_mlp(problem.dim, run_seed).to(dtype)
    X, Y, X_test, Y_test = (torch.as_tensor(a, dtype=dtype) for a in
                            (problem.X_train, problem.y_train, problem.X_test, problem.y_test))
    if optimizer == "sgd":
        opt, scheduler = torch.optim.SGD(model.parameters(), lr=lr), None
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr, betas=tuple(betas), eps=eps,
                               weight_decay=weight_decay)
        scheduler = (lr_schedule(opt, steps) if schedule is None else
                     torch.optim.lr_scheduler.LambdaLR(
                         opt, lambda t: float(schedule[min(t, steps - 1)])))
    loss_fn = torch.nn.MSELoss()
    train_loss, test_loss = np.empty(steps), np.empty(steps)
    for t in range(steps):
        idx = torch.as_tensor(stream.randint(0, X.shape[0], batch_size))
        x, y = X[idx], Y[idx]
        _step(loss_fn(model(x), y), opt, scheduler)
        with torch.no_grad():
            test_loss[t] = loss_fn(model(X_test), Y_test).item()
            train_loss[t] = loss_fn(model(x), y).item()
    return train_loss, test_loss


def train_digits(split: DigitsSplit, shape: MLPShape, lr: float, *, run_seed: int = 0,
                 optimizer: str = "adam", batch_size: int = 64, max_steps: int = 2000,
                 eval_every: int = 20, patience: int = 5, dropout: float = 0.0,
                 mup_base_width: int | None = None) -> dict:
    """One run of the scaling-law study: ``torch.nn`` MLP, ``torch.optim``, early stopping.

    The initialization is :func:`empirical.train_digits_batched`'s draw for ``run_seed``
    copied into ``torch.nn.Linear`` layers, the minibatches come from
    ``numpy.random.default_rng(run_seed)``, dropout's masks from the batched trainer's uniform
    draws (``torch.Generator().manual_seed(run_seed + DROPOUT_STREAM)``); under muP the
    layers are rescaled, the readout's input multiplied and each parameter given its own
    learning rate in a ``torch.optim`` parameter group, by :func:`empirical.mup_scaling`.
    Every ``eval_every`` steps the validation loss is measured, an improvement saves a copy of
    the ``state_dict``, and ``patience`` evaluations without one stop the run, which then
    reloads its best state.

    Returns
    -------
    dict
        ``best_val_loss``, ``test_loss``, ``test_accuracy``, ``best_step``, ``stopped_at``.
    """
    layers = []
    init = _init_digits(shape, run_seed, torch.Generator().manual_seed(run_seed))
    scaling = None if mup_base_width is None else mup_scaling(shape, mup_base_width, optimizer)
    masks = torch.Generator().manual_seed(run_seed + DROPOUT_STREAM)
    sizes = shape.layer_sizes
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        linear = torch.nn.Linear(fan_in, fan_out)
        with torch.no_grad():
            linear.weight.copy_(init[2 * i].T)
            linear.bias.copy_(init[2 * i + 1][0])
            if scaling is not None:
                linear.weight.mul_(scaling.init[2 * i])
                linear.bias.mul_(scaling.init[2 * i + 1])
        if i == len(sizes) - 2 and scaling is not None:
            layers.append(_Scale(scaling.readout))
        layers.append(linear)
        if i < len(sizes) - 2:
            layers += [torch.nn.ReLU()] + ([_StreamDropout(dropout, masks)] if dropout > 0 else [])
    model = torch.nn.Sequential(*layers)
    groups = ([dict(params=model.parameters(), lr=lr)] if scaling is None else
              [dict(params=[p], lr=lr * f) for p, f in zip(model.parameters(), scaling.lr,
                                                           strict=True)])
    opt = torch.optim.Adam(groups) if optimizer == "adam" else torch.optim.SGD(groups)
    loss_fn = torch.nn.CrossEntropyLoss()
    X, Y = torch.as_tensor(split.X_train), torch.as_tensor(split.y_train)
    X_val, Y_val = torch.as_tensor(split.X_val), torch.as_tensor(split.y_val)
    stream = np.random.default_rng(run_seed)
    best_val, best_state, best_step, waited, stopped_at = float("inf"), None, 0, 0, max_steps
    for step in range(1, max_steps + 1):
        model.train()
        idx = torch.as_tensor(stream.integers(0, len(Y), batch_size))
        loss = loss_fn(model(X[idx]), Y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % eval_every and step != max_steps:
            continue
        model.eval()
        with torch.no_grad():
            val = loss_fn(model(X_val), Y_val).item()
        if np.isfinite(val) and val < best_val:
            best_val, best_step, waited = val, step, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            waited += 1
        if waited >= patience or not np.isfinite(val):
            stopped_at = step
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        logits = model(torch.as_tensor(split.X_test))
        test_loss = loss_fn(logits, torch.as_tensor(split.y_test)).item()
        accuracy = (logits.argmax(-1) == torch.as_tensor(split.y_test)).float().mean().item()
    return dict(best_val_loss=best_val, test_loss=test_loss if best_state is not None else np.inf,
                test_accuracy=accuracy, best_step=best_step, stopped_at=stopped_at)


class _Scale(torch.nn.Module):
    """Multiplies its input by a constant: muP's readout multiplier."""

    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


class _StreamDropout(torch.nn.Module):
    """Inverted dropout whose uniform draws, one ``(width, batch)`` array per call, come from
    ``generator``: a unit is dropped where its draw is below ``rate``."""

    def __init__(self, rate: float, generator: torch.Generator):
        super().__init__()
        self.rate, self.generator = rate, generator

    def forward(self, x):
        if not self.training:
            return x
        u = torch.rand(x.shape[::-1], generator=self.generator).T
        return x * (u >= self.rate) / (1 - self.rate)


def train_workload(workload, lr: float, batch_size: int, steps: int, *,
                   run_seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One run of a :class:`empirical.Workload` with ``torch.optim``: the loop a user would write.

    The parameters ``workload.init(run_seed)`` as ``torch.nn.Parameter``; ``torch.optim.SGD``
    (momentum, Nesterov, weight decay), ``Adam`` or ``AdamW`` as its
    :class:`empirical.OptimizerConfig` says, under :func:`lr_schedule`; the minibatches
    ``RandomState(run_seed).randint(0, n_train, batch_size)`` per step; after each update the
    metric on the test set and the loss on the same minibatch.

    Returns
    -------
    train_loss : ndarray, shape (steps,)
        The minibatch loss after each update.
    test_loss : ndarray, shape (steps,)
        The test loss after each update.
    """
    check_run_args([lr], [batch_size], steps)
    config = workload.optimizer.at_batch_size(batch_size)
    params = {k: torch.nn.Parameter(v.clone()) for k, v in workload.parameters(run_seed).items()}
    if config.kind == "sgd":
        opt = torch.optim.SGD(params.values(), lr=lr, momentum=config.momentum,
                              nesterov=config.nesterov, weight_decay=config.weight_decay)
    else:
        make = torch.optim.Adam if config.kind == "adam" else torch.optim.AdamW
        opt = make(params.values(), lr=lr, betas=config.betas, eps=config.eps,
                   weight_decay=config.weight_decay)
    scheduler = (None if config.warmup == 0 and config.decay == "constant" else
                 lr_schedule(opt, steps, warmup=config.warmup, start_factor=config.warmup_start,
                             decay=config.decay))
    stream = np.random.RandomState(run_seed)
    train_loss, test_loss = np.empty(steps), np.empty(steps)
    for t in range(steps):
        idx = torch.as_tensor(stream.randint(0, workload.n_train, batch_size))
        batch = tuple(tensor[idx] for tensor in workload.train)
        _step(workload.loss(params, batch), opt, scheduler)
        with torch.no_grad():
            test_loss[t] = workload.measure(params, workload.test).item()
            train_loss[t] = workload.loss(params, batch).item()
    return train_loss, test_loss
