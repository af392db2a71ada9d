"""The vectorized least-squares trainer against the notebook-style reference loop."""

import numpy as np
import pytest

from empirical import least_squares_problem, reference, train_linear_sgd_batched

LRS = [1e-3, 0.02, 0.3, 1.5, 1e4]       # 1.5 diverges; 1e4 overflows to inf/nan


def test_parity_with_reference():
    """Three batch sizes in lock step, two seeds: every run equals its notebook-style loop."""
    problem = least_squares_problem(0, n_train=2000, n_test=300)
    seeds, sizes = (0, 3), [2, 24, 64]     # 24 = 12 x 2 reuses the B = 2 statistics, 64 not
    train, test = train_linear_sgd_batched(problem, LRS, sizes, 40, run_seeds=seeds)
    assert train.shape == test.shape == (3, 2, len(LRS), 40)
    for b, batch_size in enumerate(sizes):
        for i, seed in enumerate(seeds):
            for j, lr in enumerate(LRS):
                ref_train, ref_test = reference.train_linear_sgd(problem, lr, batch_size, 40,
                                                                 run_seed=seed)
                for got, want in ((train[b, i, j], ref_train), (test[b, i, j], ref_test)):
                    finite = np.isfinite(want)
                    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-10)
                    assert not np.isfinite(got[~finite]).any()   # diverges where it diverges
    assert np.isfinite(test[..., :3, -1]).all()
    assert (test[..., 3, -1] > 1e20).all() and not np.isfinite(test[..., 4, -1]).any()
    alone = train_linear_sgd_batched(problem, LRS, 64, 40, run_seeds=seeds)[1]   # one B: no axis
    np.testing.assert_allclose(alone, test[2], rtol=1e-12)


def test_notebook_quirk_init_equals_first_rows():
    """Both seeds 0: the initial weights are the first D rows of X_train (one random stream)."""
    problem = least_squares_problem(0, n_train=50, n_test=10)
    w0 = np.random.RandomState(0).randn(16, 16)
    np.testing.assert_array_equal(w0, problem.X_train[:16])


def test_problem_is_deterministic_and_validated():
    a, b = least_squares_problem(7, n_train=20), least_squares_problem(7, n_train=20)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    with pytest.raises(ValueError, match="n_train"):
        least_squares_problem(0, n_train=0)
