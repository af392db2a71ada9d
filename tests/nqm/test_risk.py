"""Ridgeless and ridge risk against simulation, and their properties."""

import numpy as np
import pytest
from hypothesis import given

import nqm
from tests import strategies as S


def simulate_min_norm_risk(n, d, sigma, *, draws, seed):
    """||w_hat - w*||^2 of min-norm least squares, w* ~ N(0, I/d) so that E||w*||^2 = 1."""
    rng = np.random.default_rng(seed)
    risks = np.empty(draws)
    for i in range(draws):
        X = rng.standard_normal((n, d))
        w_star = rng.standard_normal(d) / np.sqrt(d)
        y = X @ w_star + sigma * rng.standard_normal(n)
        risks[i] = np.sum((np.linalg.pinv(X) @ y - w_star) ** 2)
    return risks


@pytest.mark.parametrize("n", [30, 60, 150, 300])
@pytest.mark.parametrize("sigma", [0.0, 0.2, 1.0])
def test_ridgeless_matches_simulation(n, sigma):
    risks = simulate_min_norm_risk(n, 100, sigma, draws=1500, seed=n)
    exact = nqm.ridgeless_risk(n, 100, noise_var=sigma**2).total
    se = risks.std(ddof=1) / np.sqrt(risks.size)
    # independent draws: 4 standard errors (plus rounding where the risk is exactly 0)
    assert abs(risks.mean() - exact) < 4 * se + 1e-12


def simulate_ridge_risk(n, d, lam, sigma, *, draws, seed):
    """E over w* ~ N(0, I/d) and noise, exactly, for each of ``draws`` Gaussian designs."""
    rng = np.random.default_rng(seed)
    risks = np.empty(draws)
    for i in range(draws):
        X = rng.standard_normal((n, d))
        s = np.clip(np.linalg.eigvalsh(X.T @ X / n), 0.0, None)     # spectrum of X^T X / n
        bias = np.sum((lam / (s + lam)) ** 2) / d
        variance = sigma**2 / n * np.sum(s / (s + lam) ** 2)
        risks[i] = bias + variance
    return risks


@pytest.mark.parametrize("n", [200, 400, 1600])
@pytest.mark.parametrize("lam_factor", [0.1, 1.0, 10.0])
def test_ridge_matches_simulation(n, lam_factor):
    d, sigma = 400, 0.5
    lam = lam_factor * nqm.optimal_ridge_lambda(n, d, noise_var=sigma**2)
    risks = simulate_ridge_risk(n, d, lam, sigma, draws=20, seed=n)
    exact = nqm.ridge_risk(n, d, lam, noise_var=sigma**2).total
    se = risks.std(ddof=1) / np.sqrt(risks.size)
    # the formula is the n, d -> infinity limit; the finite-size bias of the Stieltjes
    # transform is O(1/n) relative (Bai & Silverstein 2010, Ch. 9): allow 2/n of it on top
    # of 4 standard errors over designs.
    assert abs(risks.mean() - exact) < 4 * se + 2.0 / n * exact


@given(gamma=S.gammas, lam=S.lams, s2=S.noise_vars, r2=S.log_uniform(0.01, 10.0))
def test_ridge_minimized_at_optimal_lambda(gamma, lam, s2, r2):
    best = nqm.optimal_ridge_lambda(1000, 1000 * gamma, noise_var=s2, signal=r2)
    at_best = nqm.ridge_risk(1000, 1000 * gamma, best, noise_var=s2, signal=r2)
    other = nqm.ridge_risk(1000, 1000 * gamma, lam, noise_var=s2, signal=r2)
    assert at_best.total <= other.total * (1 + 1e-12)
    assert min(at_best.bias, at_best.variance, other.bias, other.variance) >= 0


@given(gamma=S.gammas, s2=S.noise_vars, r2=S.log_uniform(0.01, 10.0))
def test_ridge_at_zero_penalty_recovers_ridgeless(gamma, s2, r2):
    if abs(gamma - 1) < 0.05:
        return                                         # the limit is infinite at gamma = 1
    n = 10**7                                          # ridgeless at finite n -> its limit
    ridgeless = nqm.ridgeless_risk(n, round(gamma * n), noise_var=s2, signal=r2)
    ridge = nqm.ridge_risk(n, gamma * n, 1e-9, noise_var=s2, signal=r2)
    assert ridge.total == pytest.approx(ridgeless.total, rel=1e-5)
    assert ridge.bias == pytest.approx(ridgeless.bias, rel=1e-5, abs=1e-7)


def test_ridgeless_band_and_errors():
    assert nqm.ridgeless_risk(100, [99, 100, 101], noise_var=0.1).total.tolist() == [np.inf] * 3
    assert nqm.ridgeless_risk(100, 101, noise_var=0.0).total == pytest.approx(1 / 101)
    with pytest.raises(ValueError, match="noise_var"):
        nqm.ridgeless_risk(10, 5, noise_var=-1.0)
    with pytest.raises(ValueError, match="lam"):
        nqm.ridge_risk(10, 5, 0.0, noise_var=1.0)
