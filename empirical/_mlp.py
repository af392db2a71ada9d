"""The two-layer MLP with SGD or Adam for all learning rates and seeds of one batch size at once."""

from __future__ import annotations

import math

import numpy as np
import torch

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

    Parameters carry leading ``(seed, lr)`` axes; the forward and backward passes of the
    two-layer ReLU network are written out as batched matrix products (float32), and SGD or
    Adam (``torch.optim.Adam``'s update, coupled L2 weight decay, the warmup + cosine
    schedule) is applied to every run at once. For one seed every learning rate starts from the
    same initialization and sees the same minibatches (common random numbers).

    Returns
    -------
    train_loss, test_loss : ndarray, shape (n_seed, n_lr, steps)
        Minibatch loss before each step and test loss after it; ``inf``/``nan`` kept.
    """
    dev = torch.device(device)
    f32 = dict(dtype=torch.float32, device=dev)
    n_seed, lr_values = len(run_seeds), np.asarray(lrs, dtype=float)
    n_lr = lr_values.size
    X = torch.as_tensor(problem.X_train, **f32)
    Y = torch.as_tensor(problem.y_train, **f32)
    X_test = torch.as_tensor(problem.X_test, **f32)
    Y_test = torch.as_tensor(problem.y_test, **f32)
    n = X.shape[0]

    models = [init_mlp(problem.dim, s) for s in run_seeds]

    def stacked(layer: int, name: str) -> torch.Tensor:
        values = torch.stack([getattr(m[layer], name).detach() for m in models]).to(dev)
        return values[:, None].expand(-1, n_lr, *values.shape[1:]).clone()

    params = [stacked(0, "weight"), stacked(0, "bias"), stacked(2, "weight"), stacked(2, "bias")]
    lr_t = torch.as_tensor(lr_values, **f32)
    adam = optimizer == "adam"
    factors = schedule_factors(steps) if adam else np.ones(steps)
    if adam:
        first = [torch.zeros_like(p) for p in params]
        second = [torch.zeros_like(p) for p in params]
    streams = [np.random.RandomState(s) for s in run_seeds]
    train_loss = torch.empty((n_seed, n_lr, steps), **f32)
    test_loss = torch.empty_like(train_loss)
    for t in range(steps):
        idx = torch.as_tensor(np.stack([st.randint(0, n, batch_size) for st in streams]),
                              device=dev)
        x, y = X[idx][:, None], Y[idx][:, None]                     # (seed, 1, B, D)
        w1, b1, w2, b2 = params
        pre = x @ w1.transpose(-1, -2) + b1[..., None, :]
        hidden = pre.clamp(min=0)
        out = hidden @ w2.transpose(-1, -2) + b2[..., None, :]
        diff = out - y
        train_loss[:, :, t] = diff.square().mean(dim=(-2, -1))
        d_out = diff * (2.0 / diff.shape[-1] / diff.shape[-2])
        d_pre = (d_out @ w2) * (pre > 0)
        grads = [d_pre.transpose(-1, -2) @ x, d_pre.sum(-2),
                 d_out.transpose(-1, -2) @ hidden, d_out.sum(-2)]
        rate = (lr_t * factors[t])
        if adam:
            step = t + 1
            correction1 = 1 - ADAM_BETAS[0] ** step
            correction2_sqrt = math.sqrt(1 - ADAM_BETAS[1] ** step)
            for p, g, m, v in zip(params, grads, first, second, strict=True):
                g = g + weight_decay * p
                m.lerp_(g, 1 - ADAM_BETAS[0])
                v.mul_(ADAM_BETAS[1]).addcmul_(g, g, value=1 - ADAM_BETAS[1])
                denom = (v.sqrt() / correction2_sqrt).add_(ADAM_EPS)
                size = (rate / correction1).reshape(1, n_lr, *([1] * (p.dim() - 2)))
                p.sub_(size * m / denom)
        else:
            for p, g in zip(params, grads, strict=True):
                p.sub_(rate.reshape(1, n_lr, *([1] * (p.dim() - 2))) * g)
        w1, b1, w2, b2 = params
        test_out = (X_test @ w1.transpose(-1, -2) + b1[..., None, :]).clamp(min=0)
        test_out = test_out @ w2.transpose(-1, -2) + b2[..., None, :]
        test_loss[:, :, t] = (test_out - Y_test).square().mean(dim=(-2, -1))
    return train_loss.double().cpu().numpy(), test_loss.double().cpu().numpy()
