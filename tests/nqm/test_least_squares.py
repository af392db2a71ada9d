"""Least-squares SGD: the online recursion and the finite-sample recursion against simulation."""

import numpy as np
import pytest

import nqm

D, SIGMA = 16, 2.0


def simulate_errors(lr, batch_size, steps, *, chains, seed):
    """||W_t - W*||_F^2 over independent chains of the homework's SGD on fresh Gaussian data."""
    rng = np.random.default_rng(seed)
    err = rng.standard_normal((chains, D, D)) * np.sqrt(2.0)      # W_0 - W*, both N(0, 1)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            x = rng.standard_normal((chains, batch_size, D))
            noise = SIGMA * rng.standard_normal((chains, batch_size, D))
            residual = x @ err - noise                                # x W - y = x E - sigma eps
            err = err - lr * (2.0 / batch_size) * np.swapaxes(x, 1, 2) @ residual
    return (err**2).sum(axis=(1, 2))


@pytest.mark.parametrize("batch_size,chains", [(2, 4000), (16, 2000), (256, 400)])
@pytest.mark.parametrize("frac", [0.1, 0.5, 0.9])
def test_expected_error_matches_simulation(batch_size, chains, frac):
    model = nqm.LeastSquaresSGD(dim=D, noise_std=SIGMA, init_error=2.0 * D * D)
    lr = frac * model.max_stable_lr(batch_size)
    steps = 20
    errors = simulate_errors(lr, batch_size, steps, chains=chains, seed=batch_size)
    mean, se = errors.mean(), errors.std(ddof=1) / np.sqrt(chains)
    # independent chains: 4 standard errors of the sample mean
    assert abs(mean - model.expected_error(lr, batch_size, steps)) < 4 * se


def test_stability_bound_bracketed_by_training():
    model = nqm.LeastSquaresSGD(dim=D, noise_std=SIGMA, init_error=2.0 * D * D)
    bound = model.max_stable_lr(64)
    stable = simulate_errors(0.5 * bound, 64, 200, chains=200, seed=3)
    stationary = model.expected_error(0.5 * bound, 64, 10**6)
    assert abs(stable.mean() - stationary) < 4 * stable.std(ddof=1) / np.sqrt(200)
    unstable = simulate_errors(1.5 * bound, 64, 200, chains=200, seed=3)
    assert np.median(unstable) > 1e30 * 2 * D * D                 # the mean square factor is ~3


def test_optimal_lr_window_and_target():
    model = nqm.LeastSquaresSGD(dim=D, noise_std=5.0, init_error=2.0 * D * D)
    lr = model.optimal_lr(16, 100, window=10)
    mse = [model.expected_test_mse(lr * f, 16, np.arange(91, 101)).mean() for f in (0.9, 1, 1.1)]
    assert mse[1] < mse[0] and mse[1] < mse[2]
    target_lrs = model.optimal_lr_target([2, 16, 256], 26.0)
    assert np.all(np.diff(target_lrs) > 0) and np.all(target_lrs < model.max_stable_lr([2, 16, 256]))
    with pytest.raises(ValueError, match="noise floor"):        # the noise floor is 25
        model.optimal_lr_target(16, 25.0)
    with pytest.raises(ValueError, match="window"):
        model.optimal_lr(16, 100, window=101)


def _finite_problem(seed):
    rng = np.random.default_rng(seed)
    X, Xt = rng.standard_normal((300, 4)), rng.standard_normal((100, 4))
    W = rng.standard_normal((4, 3))
    return X, X @ W + rng.standard_normal((300, 3)), Xt, Xt @ W + rng.standard_normal((100, 3))


@pytest.mark.parametrize("lr,batch_size", [(0.02, 1), (0.1, 4), (0.3, 32)])
def test_finite_sample_matches_simulation(lr, batch_size):
    X, y, Xt, yt = _finite_problem(0)
    model = nqm.FiniteSampleLeastSquaresSGD(X, y, Xt, yt)
    steps, chains = 40, 20_000
    rng = np.random.default_rng(batch_size)
    w = rng.standard_normal((chains, 4, 3))                         # averaged N(0, 1) init
    for _ in range(steps):
        idx = rng.integers(0, X.shape[0], (chains, batch_size))     # with replacement
        xb, yb = X[idx], y[idx]
        w = w - lr * (2.0 / batch_size) * np.swapaxes(xb, 1, 2) @ (xb @ w - yb)
    mse = ((Xt @ w - yt) ** 2).mean(axis=(1, 2))
    expected = model.expected_test_mse([lr], batch_size, steps)[0, -1]
    assert abs(mse.mean() - expected) < 4 * mse.std(ddof=1) / np.sqrt(chains)


def test_finite_sample_given_init_and_divergence():
    X, y, Xt, yt = _finite_problem(1)
    model = nqm.FiniteSampleLeastSquaresSGD(X, y, Xt, yt)
    w0 = np.zeros((4, 3))
    curve = model.expected_test_mse([0.05], 8, 5, w_init=w0)[0]
    assert curve[0] == pytest.approx(((yt) ** 2).mean())            # W_0 = 0 predicts zero
    diverged = model.expected_test_mse([5.0], 8, 200)[0]
    assert diverged[-1] == np.inf
    lr = model.optimal_lr(8, 30)
    values = model.expected_test_mse(lr * np.array([0.9, 1.0, 1.1]), 8, 30)[:, -1]
    assert values[1] <= values.min()


def test_finite_sample_stays_exact_over_long_stable_runs():
    """D = 16, lr near the edge: rounding must not leak into an antisymmetric part of P.

    Simulated by the homework's SGD itself (the vectorized trainer, 300 run seeds, each with
    its own N(0, 1) initialization and minibatch stream); 4 standard errors over seeds.
    """
    from empirical import least_squares_problem, train_linear_sgd_batched
    problem = least_squares_problem(0, n_train=2000, n_test=300)
    model = nqm.FiniteSampleLeastSquaresSGD(problem.X_train, problem.y_train, problem.X_test,
                                            problem.y_test)
    expected = model.expected_test_mse([0.6], 64, 100)[0]
    _, test = train_linear_sgd_batched(problem, [0.6], 64, 100, run_seeds=tuple(range(300)))
    final = test[:, 0, -1]
    assert abs(final.mean() - expected[-1]) < 4 * final.std(ddof=1) / np.sqrt(final.size)
