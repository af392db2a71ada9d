"""Least-squares SGD for all learning rates (and seeds) of one batch size as one tensor program."""

from __future__ import annotations

import numpy as np
import torch

from empirical._problems import Problem


def train_linear_sgd_batched(problem: Problem, lrs, batch_size: int, steps: int, *,
                             run_seeds=(0,), device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """All ``lrs`` x ``run_seeds`` runs of :func:`empirical.reference.train_linear_sgd` at once.

    Common random numbers, as in the notebook: for one seed, every learning rate starts from
    the same ``randn(D, D)`` and sees the same minibatch sequence. Weights carry leading
    ``(seed, lr)`` axes; each step forms ``x^T x`` and ``x^T y`` once per seed and applies
    them to every learning rate. The test loss comes from the test set's sufficient statistics
    ``X_test^T X_test``, ``X_test^T y_test`` and ``||y_test||^2``, not a pass over the test set:
    ``mean((X_t W - Y_t)^2) = [tr(W^T S W) - 2 tr(W^T C) + ||Y_t||^2] / (n_test D)``.

    Returns
    -------
    train_loss, test_loss : ndarray, shape (n_seed, n_lr, steps)
        float64; ``inf``/``nan`` kept where a run diverged.
    """
    dev = torch.device(device)
    f64 = dict(dtype=torch.float64, device=dev)
    lrs_t = torch.as_tensor(np.asarray(lrs, dtype=float), **f64)
    X = torch.as_tensor(problem.X_train, **f64)
    Y = torch.as_tensor(problem.y_train, **f64)
    S_test = torch.as_tensor(problem.X_test.T @ problem.X_test, **f64)
    C_test = torch.as_tensor(problem.X_test.T @ problem.y_test, **f64)
    y_test_sq = float((problem.y_test**2).sum())
    n_test_entries = problem.y_test.size
    d, n = problem.dim, problem.X_train.shape[0]

    streams = [np.random.RandomState(s) for s in run_seeds]
    W = torch.stack([torch.as_tensor(st.randn(d, d), **f64) for st in streams])  # (seed, D, D)
    W = W[:, None].expand(-1, lrs_t.numel(), -1, -1).clone()                    # (seed, lr, D, D)
    rate = (lrs_t * (2.0 / batch_size))[None, :, None, None]
    train_loss = torch.empty((len(streams), lrs_t.numel(), steps), **f64)
    test_loss = torch.empty_like(train_loss)
    for t in range(steps):
        idx = torch.as_tensor(np.stack([st.randint(0, n, batch_size) for st in streams]),
                              device=dev)
        x, y = X[idx], Y[idx]                                      # (seed, B, D)
        xt = x.transpose(1, 2)
        gram, cross = xt @ x, xt @ y                               # (seed, D, D)
        residual = x[:, None] @ W - y[:, None]                     # (seed, lr, B, D)
        train_loss[:, :, t] = residual.square().mean(dim=(2, 3))
        W = W - rate * (gram[:, None] @ W - cross[:, None])
        quad = (W * (S_test @ W)).sum(dim=(2, 3))
        lin = (W * C_test).sum(dim=(2, 3))
        test_loss[:, :, t] = (quad - 2.0 * lin + y_test_sq) / n_test_entries
    return train_loss.cpu().numpy(), test_loss.cpu().numpy()
