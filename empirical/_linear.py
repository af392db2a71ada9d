"""Least-squares SGD for all learning rates (and seeds) of one batch size as one tensor program."""

from __future__ import annotations

import numpy as np
import torch

from empirical._problems import Problem


def train_linear_sgd_batched(problem: Problem, lrs, batch_size: int, steps: int, *,
                             run_seeds=(0,), device: str = "cpu",
                             chunk: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """All ``lrs`` x ``run_seeds`` runs of :func:`empirical.reference.train_linear_sgd` at once.

    Common random numbers, as in the notebook: for one seed, every learning rate starts from
    the same ``randn(D, D)`` and sees the same minibatch sequence. The minibatch stream is drawn
    up front (``randint(0, N, (steps, B))`` is the same sequence as ``steps`` calls of
    ``randint(0, N, B)``), and each step's gradient depends on the batch only through
    ``G_t = x^T x`` and ``C_t = x^T y``, so the update is the affine map
    ``W_{t+1} = (I - (2 lr / B) G_t) W_t + (2 lr / B) C_t``: one batched matrix product per
    step for every (seed, lr) run. Both losses come afterwards from sufficient statistics, not a
    pass over the data per learning rate: ``mean((X W - Y)^2) = [tr(W^T S W) - 2 tr(W^T C) +
    ||Y||^2] / (n D)`` with ``S = X^T X`` and ``C = X^T Y`` of the minibatch or of the test set.
    Time is processed in chunks of ``chunk`` steps so memory stays bounded for long runs.

    Returns
    -------
    train_loss, test_loss : ndarray, shape (n_seed, n_lr, steps)
        float64; ``inf``/``nan`` kept where a run diverged.
    """
    dev = torch.device(device)
    f64 = dict(dtype=torch.float64, device=dev)
    lrs_t = torch.as_tensor(np.asarray(lrs, dtype=float), **f64)
    row_sq = (problem.y_train**2).sum(axis=1)                           # ||y_i||^2 per row
    S_test = torch.as_tensor(problem.X_test.T @ problem.X_test, **f64)
    C_test = torch.as_tensor(problem.X_test.T @ problem.y_test, **f64)
    y_test_sq = float((problem.y_test**2).sum())
    n_test_entries = problem.y_test.size
    d, n, n_seed, n_lr = problem.dim, problem.X_train.shape[0], len(run_seeds), lrs_t.numel()

    streams = [np.random.RandomState(s) for s in run_seeds]
    W = torch.stack([torch.as_tensor(st.randn(d, d), **f64) for st in streams])  # (seed, D, D)
    W = W[:, None].expand(-1, n_lr, -1, -1).reshape(n_seed * n_lr, d, d)
    idx = np.stack([st.randint(0, n, (steps, batch_size)) for st in streams], 1)  # (steps, seed, B)
    rate = (lrs_t * (2.0 / batch_size))[:, None, None]                  # (lr, 1, 1)
    eye = torch.eye(d, **f64)
    train_loss = torch.empty((steps, n_seed, n_lr), **f64)
    test_loss = torch.empty_like(train_loss)
    for t0 in range(0, steps, chunk):
        t1 = min(t0 + chunk, steps)
        # gathered in numpy (several times faster than torch's indexing on CPU), then moved
        x = torch.as_tensor(problem.X_train[idx[t0:t1]], **f64)        # (T, seed, B, D)
        y = torch.as_tensor(problem.y_train[idx[t0:t1]], **f64)
        xt = x.transpose(-1, -2)
        gram = (xt @ x)[:, :, None]                                     # (T, seed, 1, D, D)
        cross = (xt @ y)[:, :, None]
        y_sq = torch.as_tensor(row_sq[idx[t0:t1]].sum(axis=-1)[..., None], **f64)  # (T, seed, 1)
        step_matrix = (eye - rate * gram).reshape(t1 - t0, -1, d, d)    # (T, seed*lr, D, D)
        shift = (rate * cross).reshape(t1 - t0, -1, d, d)
        path = torch.empty((t1 - t0 + 1, n_seed * n_lr, d, d), **f64)
        path[0] = W
        for t in range(t1 - t0):
            torch.baddbmm(shift[t], step_matrix[t], path[t], out=path[t + 1])
        W = path[-1]
        before = path[:-1].view(t1 - t0, n_seed, n_lr, d, d)
        after = path[1:].view(t1 - t0, n_seed, n_lr, d, d)
        train_loss[t0:t1] = ((before * (gram @ before)).sum(dim=(-2, -1))
                             - 2.0 * (before * cross).sum(dim=(-2, -1)) + y_sq) / (batch_size * d)
        test_loss[t0:t1] = ((after * (S_test @ after)).sum(dim=(-2, -1))
                            - 2.0 * (after * C_test).sum(dim=(-2, -1)) + y_test_sq) / n_test_entries
    return (train_loss.permute(1, 2, 0).cpu().numpy(), test_loss.permute(1, 2, 0).cpu().numpy())
