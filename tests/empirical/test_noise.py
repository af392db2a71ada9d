"""Gradient-noise-scale estimators against the exact values of Gaussian least squares."""

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

import nqm
from empirical import per_example_noise, two_batch_noise
from nqm import symbolic

DIM, N, SIGMA = 8, 20_000, 1.5


def _loss(params, batch):
    x, y = batch
    return ((x @ params["W"] - y) ** 2).sum(-1).mean()


@pytest.fixture(scope="module")
def problem():
    """Gaussian data, a known W*, and a point W = W* + E with |E|_F^2 = 2."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, DIM, generator=g, dtype=torch.float64)
    w_star = torch.randn(DIM, DIM, generator=g, dtype=torch.float64)
    y = x @ w_star + SIGMA * torch.randn(N, DIM, generator=g, dtype=torch.float64)
    error = torch.randn(DIM, DIM, generator=g, dtype=torch.float64)
    error *= np.sqrt(2.0) / error.norm()
    per_example = 2 * x[:, :, None] * (x @ (w_star + error) - y)[:, None, :]    # (N, D, D)
    mean = per_example.mean(dim=0)
    exact = dict(gradient_sq=float((mean**2).sum()),
                 trace_cov=float(((per_example - mean) ** 2).sum() / N))
    return (x, y), {"W": w_star + error}, error, exact


def test_the_data_set_has_the_gaussian_values(problem):
    """The data set's own G and tr(Sigma) against nqm's population formulas: G = 2E within a
    chi-square allowance of its sampling error (E|G_N - G|^2 = tr Sigma / N), tr(Sigma) within
    4 standard errors of a mean over N examples."""
    (x, y), params, error, _ = problem
    theory = nqm.LeastSquaresSGD(dim=DIM, noise_std=SIGMA, init_error=1.0).noise_scale(2.0)
    per_example = 2 * x[:, :, None] * (x @ params["W"] - y)[:, None, :]
    mean = per_example.mean(dim=0)
    assert float(((mean - 2 * error) ** 2).sum()) < 5 * theory.trace_cov / N
    sq = ((per_example - 2 * error) ** 2).sum(dim=(1, 2))
    assert abs(float(sq.mean()) - theory.trace_cov) < 4 * float(sq.std()) / np.sqrt(N)
    assert theory.gradient_sq == pytest.approx(8.0) and theory.lr_max == 0.5


def test_per_example_estimator_is_unbiased(problem):
    data, params, _, exact = problem
    est = per_example_noise(_loss, params, data, 16, n_batches=300, seed=1)
    assert abs(est.gradient_sq - exact["gradient_sq"]) < 4 * est.gradient_sq_se
    assert abs(est.trace_cov - exact["trace_cov"]) < 4 * est.trace_cov_se


def test_two_batch_estimator_is_unbiased_and_agrees(problem):
    data, params, _, exact = problem
    two = two_batch_noise(_loss, params, data, 4, 64, n_pairs=600, seed=2)
    assert abs(two.gradient_sq - exact["gradient_sq"]) < 4 * two.gradient_sq_se
    assert abs(two.trace_cov - exact["trace_cov"]) < 4 * two.trace_cov_se
    per = per_example_noise(_loss, params, data, 16, n_batches=300, seed=3)
    assert abs(two.trace_cov - per.trace_cov) < 4 * np.hypot(two.trace_cov_se, per.trace_cov_se)
    with pytest.raises(ValueError, match="small < big"):
        two_batch_noise(_loss, params, data, 8, 8)


def test_greedy_step_is_mccandlish_symbolically():
    assert symbolic.greedy_lr_is_mccandlish() == 0
    g2, trace, lr_max = symbolic.least_squares_noise_scale()
    assert sp.simplify(lr_max - sp.Rational(1, 2)) == 0


@given(st.integers(1, 4096), st.integers(1, 64), st.floats(0.0, 10.0), st.floats(1e-3, 1e4))
def test_greedy_step_is_mccandlish_numerically(batch_size, dim, noise_std, error):
    """The rate minimizing the exact expected error after one step from e equals
    eta_max / (1 + B_noise / B) with the exact noise scale at e."""
    model = nqm.LeastSquaresSGD(dim=dim, noise_std=noise_std, init_error=error)
    scale = model.noise_scale(error)
    want = nqm.mccandlish_lr(batch_size, lr_max=scale.lr_max, b_noise=scale.b_noise)
    found = minimize_scalar(lambda lr: model.expected_error(lr, batch_size, 1),
                            bounds=(1e-12, float(model.max_stable_lr(batch_size))),
                            method="bounded", options=dict(xatol=1e-14))
    assert found.x == pytest.approx(want, rel=1e-5)
