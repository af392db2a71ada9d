"""The homework's data sets, drawn exactly as the notebook draws them for a seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from empirical._core.arguments import MAX_EXAMPLES, NONNEGATIVE, SEED, whole
from empirical._core.checks import memory_limit


@dataclass(frozen=True, eq=False)
class Problem:
    """A regression problem: training and test arrays, the noise level and how it was drawn.

    Attributes
    ----------
    X_train : ndarray, shape (n_train, dim)
    y_train : ndarray, shape (n_train, dim)
    X_test : ndarray, shape (n_test, dim)
    y_test : ndarray, shape (n_test, dim)
    noise_std : float
        The label-noise standard deviation, so ``noise_std**2`` is the test-loss floor.
    seed : int
        The data seed (``np.random.seed(seed)`` in the notebook).

    See Also
    --------
    least_squares_problem : The linear problem.
    teacher_mlp_problem : The teacher-network problem.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    noise_std: float
    seed: int

    @property
    def dim(self) -> int:
        return self.X_train.shape[1]


def _check_sizes(n_train: int, dim: int, n_test: int, noise_std: float, seed: int) -> None:
    for name, value in (("n_train", n_train), ("dim", dim), ("n_test", n_test)):
        whole(1, MAX_EXAMPLES)(name, value)
    NONNEGATIVE("noise_std", noise_std)
    SEED("seed", seed)
    need = 8 * dim * (2 * (n_train + n_test) + 2 * dim)     # X, y (train and test), weights
    if need > memory_limit():
        raise ValueError(f"n_train={n_train}, n_test={n_test} and dim={dim} need "
                         f"{need / 2**30:.3g} GiB, more than this machine has")


def least_squares_problem(seed: int = 0, *, n_train: int = 10_000, dim: int = 16,
                          noise_std: float = 5.0, n_test: int = 1000) -> Problem:
    """The notebook's linear regression: ``y = X W* + sigma eps`` with ``W*`` of shape (D, D).

    Drawn from the legacy numpy stream of ``np.random.seed(seed)`` in the notebook's order:
    ``X_train = randn(N, D)``, ``X_test = randn(n_test, D)``, ``W* = randn(D, D)``,
    ``eps_train = randn(N, D)``, ``eps_test = randn(n_test, D)``; float64. With the defaults
    and seed 0 every array equals the notebook's, bit for bit.

    See Also
    --------
    teacher_mlp_problem : The MLP's data.
    train_linear_sgd_batched : Trains on it.

    Notes
    -----
    A quirk that survives parity with the notebook: the run's initialization is
    ``randn(D, D)`` right after ``np.random.seed(run_seed)``, so with both seeds 0 the initial
    weights equal the first ``D`` rows of ``X_train`` (the same random stream).

    Examples
    --------
    >>> from empirical import least_squares_problem
    >>> problem = least_squares_problem(0, n_train=100)
    >>> problem.X_train.shape, problem.y_test.shape, problem.noise_std
    ((100, 16), (1000, 16), 5.0)
    """
    _check_sizes(n_train, dim, n_test, noise_std, seed)
    stream = np.random.RandomState(seed)          # the stream np.random.seed(seed) gives
    X = stream.randn(n_train, dim)
    X_test = stream.randn(n_test, dim)
    w_star = stream.randn(dim, dim)
    y = X @ w_star + noise_std * stream.randn(n_train, dim)
    y_test = X_test @ w_star + noise_std * stream.randn(n_test, dim)
    return Problem(X, y, X_test, y_test, float(noise_std), int(seed))


def teacher_mlp_problem(seed: int = 0, *, n_train: int = 10_000, dim: int = 4,
                        noise_std: float = 2.0, n_test: int = 1000) -> Problem:
    """The notebook's teacher network: ``y = relu(X W1) W2 + sigma eps``, ``W1, W2`` of shape (D, D).

    Drawn from the legacy numpy stream of ``np.random.seed(seed)`` in the notebook's order:
    ``X_train = randn(N, D)``, ``X_test = randn(n_test, D)``, ``W1 = randn(D, D)``,
    ``W2 = randn(D, D)``, ``eps_train = randn(N, D)``, ``eps_test = randn(n_test, D)``.
    Stored in float64 (with the defaults and seed 0, the notebook's arrays bit for bit); the
    MLP trainers cast to float32 as the notebook's torch model does.

    See Also
    --------
    least_squares_problem : The linear data.
    train_mlp_batched : Trains on it.

    Examples
    --------
    >>> from empirical import teacher_mlp_problem
    >>> problem = teacher_mlp_problem(0, n_train=100)
    >>> problem.X_train.shape, problem.noise_std
    ((100, 4), 2.0)
    """
    _check_sizes(n_train, dim, n_test, noise_std, seed)
    stream = np.random.RandomState(seed)
    X = stream.randn(n_train, dim)
    X_test = stream.randn(n_test, dim)
    w1 = stream.randn(dim, dim)
    w2 = stream.randn(dim, dim)

    def teacher(inputs):
        return np.maximum(0, inputs @ w1) @ w2

    y = teacher(X) + noise_std * stream.randn(n_train, dim)
    y_test = teacher(X_test) + noise_std * stream.randn(n_test, dim)
    return Problem(X, y, X_test, y_test, float(noise_std), int(seed))
