"""The one-step optimum measured against McCandlish's rate: the machinery on least squares, where
the quadratic model is exact."""

import numpy as np
import pytest
import torch

from compare import greedy_study
from compare.analysis._greedy import _loss_after, _quadratic_loss_after
from empirical import least_squares_workload
from empirical.probes._sign import per_example_gradients_and_hessian


@pytest.fixture(scope="module")
def least_squares():
    workload = least_squares_workload(n_train=400, n_test=10)
    params = workload.parameters(1)
    vector, per_example, h = per_example_gradients_and_hessian(workload.loss, params, workload.train)
    return workload, params, vector, per_example, h


def test_the_quadratic_shortcut_is_the_loss_itself(least_squares):
    """Least squares' loss after a step, from its second-order expansion and from evaluating
    the workload's loss at the moved parameters."""
    workload, params, vector, per_example, h = least_squares
    g = per_example.mean(axis=0)
    start = float(workload.loss(params, workload.train))
    steps = np.random.default_rng(0).standard_normal((5, g.size))
    lrs = np.array([1e-3, 0.01, 0.1])
    np.testing.assert_allclose(_quadratic_loss_after(g, h, start)(lrs, steps),
                               _loss_after(workload, params, vector)(lrs, steps), rtol=1e-10)


def test_mean_loss_after_a_step_is_the_mcCandlish_expectation(least_squares):
    """4000 minibatches of B = 8 (with replacement): the mean loss after one step at three rates
    against L - lr |G|^2 + lr^2 / 2 (G^T H G + tr(H Sigma) / B), within 4 standard errors."""
    workload, params, vector, per_example, h = least_squares
    g = per_example.mean(axis=0)
    centred = per_example - g
    start = float(workload.loss(params, workload.train))
    batch, draws = 8, 4000
    rng = np.random.default_rng(3)
    idx = rng.integers(0, len(per_example), (draws, batch))
    steps = per_example[idx].mean(axis=1)
    trace_h_sigma = np.sum((centred @ h) * centred) / len(centred)
    lrs = np.array([0.003, 0.01, 0.03])
    after = _quadratic_loss_after(g, h, start)(lrs, steps)
    want = start - lrs * (g @ g) + lrs**2 / 2 * (g @ h @ g + trace_h_sigma / batch)
    se = after.std(axis=1, ddof=1) / np.sqrt(draws)
    assert np.all(np.abs(after.mean(axis=1) - want) < 4 * se)


def test_least_squares_prediction_falls_inside_the_measured_interval():
    """The quadratic model is exact for least squares, so McCandlish's rate through the same
    estimator lies inside the measured 95% interval at most batch sizes (here at least 5 of 6
    at each checkpoint; the full run's figures are in the docs), and the measurement is never
    at the grid's end."""
    study = greedy_study("linear-sgd", (2, 8, 32, 128, 512, 2048), steps=(0, 50), draws=48,
                         n_boot=300)
    assert study.inside.sum(axis=1).min() >= 5 and not study.on_edge.any()
    np.testing.assert_allclose(study.b_noise[0], study.b_simple[0], rtol=0.05)   # isotropic start


def test_bad_model_is_refused():
    with pytest.raises(ValueError, match="model must be one of"):
        greedy_study("mlp-adam")
    assert torch.get_num_threads() >= 1
