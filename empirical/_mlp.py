"""The two-layer MLP with SGD or Adam for all learning rates and seeds of one batch size at once."""

from __future__ import annotations

import numpy as np
import torch

from empirical._adam import adam_update_
from empirical._problems import Problem
from empirical.reference import adam_schedule, init_mlp

ADAM_BETAS = (0.5, 0.5)
ADAM_EPS = 1e-8


def schedule_factors(steps: int, warmup: int = 10) -> np.ndarray:
    """The learning-rate factor at each step of the notebook's warmup + cosine schedule.

    Read off ``torch.optim.lr_scheduler`` itself (a dummy optimizer with lr 1) so that the
    vectorized Adam follows exactly the sequence ``SequentialLR`` produces.
    """
    if steps <= warmup:
        raise ValueError(f"steps must exceed the {warmup} warmup steps for the Adam schedule, "
                         f"got steps={steps}")
    dummy = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = adam_schedule(dummy, steps, warmup)
    factors = np.empty(steps)
    for t in range(steps):
        factors[t] = dummy.param_groups[0]["lr"]
        dummy.step()
        scheduler.step()
    return factors


def train_mlp_batched(problem: Problem, lrs, batch_size: int, steps: int, *, run_seeds=(0,),
                      optimizer: str = "sgd", weight_decay: float = 0.001,
                      device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """All ``lrs`` x ``run_seeds`` runs of :func:`empirical.reference.train_mlp` at once.

    The parameters of every run live in one float32 buffer of shape ``(seed, lr, P)``, viewed
    as the two layers' weights and biases; the forward and backward passes of the two-layer
    ReLU network are written out as batched matrix products, and SGD or Adam
    (``torch.optim.Adam``'s update with coupled L2 weight decay, under the warmup + cosine
    schedule) updates the whole buffer at once. For one seed every learning rate starts from
    the same initialization and sees the same minibatches (common random numbers); the
    minibatch stream is drawn up front (``randint(0, N, (steps, B))`` is the same sequence as
    ``steps`` calls of ``randint(0, N, B)``).

    Returns
    -------
    train_loss, test_loss : ndarray, shape (n_seed, n_lr, steps)
        Minibatch loss before each step and test loss after it; ``inf``/``nan`` kept.
    """
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    dev = torch.device(device)
    f32 = dict(dtype=torch.float32, device=dev)
    n_seed, lr_values = len(run_seeds), np.asarray(lrs, dtype=float)
    n_lr, d = lr_values.size, problem.dim
    X = torch.as_tensor(problem.X_train, **f32)
    Y = torch.as_tensor(problem.y_train, **f32)
    X_test = torch.as_tensor(problem.X_test, **f32)
    Y_test = torch.as_tensor(problem.y_test, **f32)
    n_test = X_test.shape[0]

    models = [init_mlp(d, s) for s in run_seeds]
    theta = torch.stack([torch.cat([p.detach().reshape(-1) for p in m.parameters()])
                         for m in models]).to(dev)                      # (seed, P)
    theta = theta[:, None].expand(-1, n_lr, -1).clone()                 # (seed, lr, P)
    sizes = [d * d, d, d * d, d]                                        # W1, b1, W2, b2
    w1, b1, w2, b2 = (v.view(n_seed, n_lr, d, d) if v.shape[-1] == d * d else v[..., None, :]
                      for v in torch.split(theta, sizes, dim=-1))
    idx = torch.as_tensor(np.stack([np.random.RandomState(s).randint(0, X.shape[0],
                                                                     (steps, batch_size))
                                    for s in run_seeds], axis=1), device=dev)  # (steps, seed, B)
    lr_t = torch.as_tensor(lr_values, **f32)[None, :, None]
    factors = schedule_factors(steps) if optimizer == "adam" else np.ones(steps)
    if optimizer == "adam":
        first, second = torch.zeros_like(theta), torch.zeros_like(theta)
    scale = 2.0 / (batch_size * d)                                       # MSELoss' mean
    train_loss = torch.empty((steps, n_seed, n_lr), **f32)
    test_loss = torch.empty_like(train_loss)
    for t in range(steps):
        x, y = X[idx[t]][:, None], Y[idx[t]][:, None]                   # (seed, 1, B, D)
        pre = x @ w1.transpose(-1, -2) + b1
        hidden = pre.clamp(min=0)
        diff = hidden @ w2.transpose(-1, -2) + b2 - y
        train_loss[t] = diff.square().mean(dim=(-2, -1))
        d_out = diff * scale
        d_pre = (d_out @ w2) * (pre > 0)
        grad = torch.cat([(d_pre.transpose(-1, -2) @ x).flatten(-2), d_pre.sum(-2),
                          (d_out.transpose(-1, -2) @ hidden).flatten(-2), d_out.sum(-2)], dim=-1)
        rate = lr_t * factors[t]
        if optimizer == "adam":
            adam_update_(theta, grad + weight_decay * theta, first, second, rate, t + 1,
                         ADAM_BETAS, ADAM_EPS)
        else:
            theta.sub_(rate * grad)
        # test set: the first layer of every run as one GEMM, (n_test, D) @ (D, seed*lr*D)
        hidden_test = (X_test @ w1.permute(3, 0, 1, 2).reshape(d, -1)).view(
            n_test, n_seed * n_lr, d).add_(b1.reshape(-1, d)).clamp_(min=0)
        test_out = torch.bmm(hidden_test.transpose(0, 1), w2.reshape(-1, d, d).transpose(1, 2))
        test_loss[t] = (test_out + b2.reshape(-1, 1, d) - Y_test).square().mean(
            dim=(-2, -1)).view(n_seed, n_lr)
    return (train_loss.permute(1, 2, 0).double().cpu().numpy(),
            test_loss.permute(1, 2, 0).double().cpu().numpy())
