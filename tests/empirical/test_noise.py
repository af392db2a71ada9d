"""Gradient-noise-scale estimators against the exact values of Gaussian least squares and of the
diagonal NQM; the noise scale along a run."""

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

import nqm
from empirical import (
    Workload,
    bias_corrected_ema,
    least_squares_workload,
    noise_along_run,
    noiseless_lr_max,
    per_example_noise,
    train_workload,
    two_batch_noise,
)
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


def test_noiseless_lr_max_is_the_exact_ratio(problem):
    """|G|^2 / G^T H G on the whole data set, with H = 2 X^T X / N, to 1e-10."""
    (x, y), params, _, exact = problem
    gradient = 2 * x.T @ (x @ params["W"] - y) / N
    hessian_g = 2 * x.T @ (x @ gradient) / N
    want = float((gradient**2).sum() / (gradient * hessian_g).sum())
    assert noiseless_lr_max(_loss, params, (x, y)) == pytest.approx(want, rel=1e-10)
    assert float((gradient**2).sum()) == pytest.approx(exact["gradient_sq"], rel=1e-10)


def _nqm_workload(curvatures, noise_var, w, n=40_000, seed=0):
    """The NQM as a data set: per-example gradient h * w + z_i, with the z_i centred and of
    per-coordinate variance exactly c (population normalization), so that the data set's own
    G = h * w, tr(Sigma) = sum c and H = diag(h) are the model's."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, curvatures.size))
    z = (z - z.mean(axis=0)) / z.std(axis=0) * np.sqrt(noise_var)
    h = torch.as_tensor(curvatures)

    def loss(params, batch):
        return 0.5 * (h * params["w"] ** 2).sum() + (batch[0] @ params["w"]).mean()

    data = (torch.as_tensor(z),)
    return Workload("nqm", lambda seed: {"w": torch.as_tensor(w).clone()}, loss, data, data)


@pytest.mark.parametrize("method", ["per-example", "two-batch"])
def test_estimators_are_unbiased_on_the_nqm(method):
    """At a point w of the diagonal NQM, both estimators' means lie within 4 standard errors of
    nqm.DiagonalNQM.noise_scale (E w^2 = w^2 at step 0), and lr_max is its exact value."""
    h = np.geomspace(1.0, 0.05, 6)
    c = np.linspace(0.2, 2.0, 6)
    w = np.array([0.5, -1.0, 2.0, 0.3, -3.0, 1.0])
    exact = nqm.DiagonalNQM(curvatures=h, noise_var=c, w0_sq=w**2).noise_scale(0.1, 1, 0)
    trace = noise_along_run(_nqm_workload(h, c, w), 1e-12, 4, 1, every=1, method=method,
                            sizes=(2, 32), n_batches=400, seed=5)
    for k in range(2):               # the point barely moves at lr 1e-12
        assert abs(trace.gradient_sq[k] - exact.gradient_sq) < 4 * trace.gradient_sq_se[k]
        assert abs(trace.trace_cov[k] - exact.trace_cov) < 4 * trace.trace_cov_se[k]
        assert trace.lr_max[k] == pytest.approx(exact.lr_max, rel=1e-9)


def test_noise_along_run_follows_the_sweeps_run():
    """The checkpoints are the parameters of the sweep's own run (train_workload), the test
    loss there is the sweep's curve, and at every checkpoint the two-batch estimates lie
    within 4 standard errors of the data set's exact |G|^2 and tr(Sigma) (all per-example
    gradients)."""
    workload = least_squares_workload(n_train=4000, n_test=500)
    steps = 20
    trace = noise_along_run(workload, 0.05, 16, steps, every=5, n_batches=60, seed=1)
    assert list(trace.steps) == [0, 5, 10, 15, 20]
    _, test, *_ = train_workload(workload, [0.05], 16, steps, return_parameters=True)
    np.testing.assert_allclose(trace.test_loss[1:], test[0, 0, 4::5], rtol=1e-12)
    *_, snapshots = train_workload(workload, [0.05], 16, steps, checkpoints=[0, 10, 5, 15, 20])
    init = workload.parameters(0)
    assert all(torch.equal(snapshots[0][k][0, 0], init[k]) for k in init)
    *_, ten = train_workload(workload, [0.05], 16, 10, return_parameters=True)
    assert all(torch.equal(snapshots[1][k], ten[k]) for k in init)
    x, y = workload.train
    for k, snapshot in zip([0, 2, 1, 3, 4], snapshots, strict=True):
        per_example = 2 * x[:, :, None] * (x @ snapshot["W"][0, 0] - y)[:, None, :]
        mean = per_example.mean(dim=0)
        g2 = float((mean**2).sum())
        trace_cov = float(((per_example - mean) ** 2).sum() / x.shape[0])
        assert abs(trace.gradient_sq[k] - g2) < 4 * trace.gradient_sq_se[k]
        assert abs(trace.trace_cov[k] - trace_cov) < 4 * trace.trace_cov_se[k]
    with pytest.raises(ValueError, match="checkpoints must lie in"):
        train_workload(workload, [0.05], 16, 5, checkpoints=[6])
    with pytest.raises(ValueError, match="method must be one of"):
        noise_along_run(workload, 0.05, 16, 5, method="three-batch")


@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=30), st.floats(0.0, 0.99))
def test_bias_corrected_ema_starts_at_the_first_value_and_keeps_constants(values, decay):
    ema = bias_corrected_ema(values, decay)
    assert ema[0] == pytest.approx(values[0], rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(bias_corrected_ema(np.full(len(values), 3.5), decay), 3.5,
                               rtol=1e-12)
    assert np.all(ema >= min(values) - 1e-9) and np.all(ema <= max(values) + 1e-9)


def test_sign_statistics_of_least_squares_by_hand():
    """Least squares, loss mean_n |x_n W - y_n|^2: per-example gradients 2 x_n r_n^T with
    r_n = (x_n W - y_n)^T, Hessian 2 E[x x^T] per output column, plus the L2 decay's lambda."""
    from empirical import least_squares_workload, sign_descent_statistics
    workload = least_squares_workload(n_train=60, n_test=10)
    params = workload.parameters(3)
    stats = sign_descent_statistics(workload.loss, params, workload.train, weight_decay=0.01)
    x, y = (t.numpy() for t in workload.train)
    w = params["W"].numpy()
    per_example = 2 * np.einsum("ni,nj->nij", x, x @ w - y).reshape(len(x), -1)
    np.testing.assert_allclose(stats.gradient, per_example.mean(0) + 0.01 * w.reshape(-1),
                               rtol=1e-10)
    np.testing.assert_allclose(stats.noise_var, per_example.var(0), rtol=1e-10)
    want = np.kron(2 * x.T @ x / len(x), np.eye(w.shape[1])) + 0.01 * np.eye(w.size)
    np.testing.assert_allclose(stats.hessian, want, rtol=1e-10, atol=1e-12)


def test_noise_summary_of_a_diverging_run_does_not_overflow():
    """Squared gradient norms near float64's limit (a run far above its edge): the means and
    standard errors come out finite, and equal the plain ones where those do not overflow;
    a non-finite estimate gives nan, not a warning (warnings are errors in the tests)."""
    from empirical.probes._noise import _summary
    huge = np.array([1e300, 3e300, 2e300])
    est = _summary(huge, 2 * huge)
    assert est.gradient_sq == pytest.approx(2e300) and est.trace_cov == pytest.approx(4e300)
    assert est.gradient_sq_se == pytest.approx(1e300 / np.sqrt(3)) and est.b_simple == 2.0
    plain = np.array([1.0, 3.0, 2.0])
    assert _summary(plain, plain).trace_cov_se == pytest.approx(plain.std(ddof=1) / np.sqrt(3))
    assert np.isnan(_summary(np.array([1.0, np.inf]), plain[:2]).gradient_sq)
