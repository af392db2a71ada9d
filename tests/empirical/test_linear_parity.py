"""The vectorized least-squares trainer against the notebook-style reference loop."""

import numpy as np
import pytest

from empirical import least_squares_problem, reference, train_linear_sgd_batched

LRS = [1e-3, 0.02, 0.3, 1.5, 1e4]       # 1.5 diverges; 1e4 overflows to inf/nan


@pytest.mark.parametrize("batch_size", [2, 64])
def test_parity_with_reference(batch_size):
    problem = least_squares_problem(0, n_train=2000, n_test=300)
    seeds = (0, 3)
    train, test = train_linear_sgd_batched(problem, LRS, batch_size, 40, run_seeds=seeds)
    for i, seed in enumerate(seeds):
        for j, lr in enumerate(LRS):
            ref_train, ref_test = reference.train_linear_sgd(problem, lr, batch_size, 40,
                                                             run_seed=seed)
            for got, want in ((train[i, j], ref_train), (test[i, j], ref_test)):
                finite = np.isfinite(want)
                np.testing.assert_allclose(got[finite], want[finite], rtol=1e-10)
                assert not np.isfinite(got[~finite]).any()     # diverges where it diverges
    assert np.isfinite(test[:, :3, -1]).all()
    assert (test[:, 3, -1] > 1e20).all() and not np.isfinite(test[:, 4, -1]).any()


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
