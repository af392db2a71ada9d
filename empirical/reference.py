"""The plain per-run training loops, written as the notebook writes them.

These are the ground truth that the vectorized trainers must reproduce (parity tests) and
the baseline the benchmarks time. One learning rate, one batch size, one seed per call.
"""

from __future__ import annotations

import numpy as np

from empirical._problems import Problem


def train_linear_sgd(problem: Problem, lr: float, batch_size: int, steps: int, *,
                     run_seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's least-squares SGD loop.

    ``np.random.seed(run_seed)``; ``w = randn(D, D)``; then per step
    ``idx = randint(0, N, B)``, the minibatch loss ``mean((x w - y)^2)`` is recorded, the
    update ``w -= lr * (2/B)(x^T x w - x^T y)`` is applied and the test loss
    ``mean((X_test w - y_test)^2)`` is recorded.

    Returns
    -------
    train_loss, test_loss : ndarray, shape (steps,)
        ``inf``/``nan`` kept where the run diverged.
    """
    stream = np.random.RandomState(run_seed)
    X, y = problem.X_train, problem.y_train
    w = stream.randn(problem.dim, problem.dim)
    train_loss, test_loss = np.empty(steps), np.empty(steps)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            idx = stream.randint(0, X.shape[0], batch_size)
            x, yb = X[idx], y[idx]
            train_loss[t] = np.mean((x @ w - yb) ** 2)
            w = w - lr * (2.0 / batch_size) * (x.T @ x @ w - x.T @ yb)
            test_loss[t] = np.mean((problem.X_test @ w - problem.y_test) ** 2)
    return train_loss, test_loss
