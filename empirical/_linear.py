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
    them to every learning rate. Both losses come from sufficient statistics, not a pass over
    the data per learning rate: ``mean((X W - Y)^2) = [tr(W^T S W) - 2 tr(W^T C) + ||Y||^2] /
    (n D)`` with ``S = X^T X`` and ``C = X^T Y`` of the minibatch (whose ``S W`` the update
    needs anyway) or of the test set.

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
    # the whole minibatch stream up front: randint(0, N, (steps, B)) is the same sequence as
    # `steps` calls of randint(0, N, B); each step then needs only the batch's x^T x and x^T y
    gram, cross, y_sq = [], [], []
    for st in streams:
        idx = torch.as_tensor(st.randint(0, n, (steps, batch_size)), device=dev)
        x, y = X[idx], Y[idx]                                      # (steps, B, D)
        xt = x.transpose(1, 2)
        gram.append(xt @ x)
        cross.append(xt @ y)
        y_sq.append(y.square().sum(dim=(1, 2)))
    gram, cross = torch.stack(gram, 1)[:, :, None], torch.stack(cross, 1)[:, :, None]
    y_sq = torch.stack(y_sq, 1)[:, :, None]                        # (steps, seed, 1)
    rate = (lrs_t * (2.0 / batch_size))[None, :, None, None]
    train_loss = torch.empty((steps, len(streams), lrs_t.numel()), **f64)
    test_loss = torch.empty_like(train_loss)
    entries = batch_size * d
    for t in range(steps):
        gram_w = gram[t] @ W                                       # (seed, lr, D, D)
        train_loss[t] = ((W * gram_w).sum(dim=(2, 3)) - 2.0 * (W * cross[t]).sum(dim=(2, 3))
                         + y_sq[t]) / entries
        W = W - rate * (gram_w - cross[t])
        test_loss[t] = ((W * (S_test @ W)).sum(dim=(2, 3)) - 2.0 * (W * C_test).sum(dim=(2, 3))
                        + y_test_sq) / n_test_entries
    return (train_loss.permute(1, 2, 0).cpu().numpy(), test_loss.permute(1, 2, 0).cpu().numpy())
