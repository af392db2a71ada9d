"""Sign descent's best step on a quadratic and the surge it implies (Li et al. 2024): the
formula against Monte Carlo, its small-batch form against the exact optimum, the paper's
single-noise expression, and the sympy derivation."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import nqm
from nqm import symbolic


def _quadratic(seed, dim=5):
    rng = np.random.default_rng(seed)
    root = rng.standard_normal((dim, dim))
    return (rng.standard_normal(dim), rng.uniform(0.5, 4.0, dim), root @ root.T / dim + np.eye(dim))


@pytest.mark.parametrize("seed,batch", [(0, 1), (1, 4), (2, 16)])
def test_expected_improvement_against_monte_carlo(seed, batch):
    """Signs of Gaussian minibatch gradients drawn 200,000 times: the mean loss change at the
    formula's best step and at 0.6 and 1.5 times it (each within 4 standard errors of the
    formula; the best step the lowest of the three)."""
    g, var, h = _quadratic(seed)
    best = float(nqm.sign_descent_lr(batch, gradient=g, noise_var=var, hessian=h))
    rng = np.random.default_rng(100 + seed)
    signs = np.sign(g + rng.standard_normal((200_000, g.size)) * np.sqrt(var / batch))
    from scipy.special import erf
    e = erf(g * np.sqrt(batch) / np.sqrt(2 * var))
    curvature = e @ h @ e + np.diag(h) @ (1 - e**2)
    means = []
    for factor in (0.6, 1.0, 1.5):
        eps = factor * best
        change = -eps * signs @ g + eps**2 / 2 * np.einsum("ni,ij,nj->n", signs, h, signs)
        formula = -eps * g @ e + eps**2 / 2 * curvature
        assert abs(change.mean() - formula) < 4 * change.std(ddof=1) / np.sqrt(change.size)
        means.append(change.mean())
    assert means[1] < means[0] and means[1] < means[2]


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31))
def test_surge_is_the_small_batch_limit(seed):
    """Far below every coordinate's 2 sigma_i^2 / G_i^2 the exact best step equals the surge."""
    g, var, h = _quadratic(seed)
    surge = nqm.surge_parameters(gradient=g, noise_var=var, hessian=h)
    small = 1e-6 * np.min(var / g**2)
    exact = nqm.sign_descent_lr(small, gradient=g, noise_var=var, hessian=h)
    if np.isfinite(surge.lr_max):
        predicted = surge.lr_max / (0.5 * (np.sqrt(surge.b_noise / small) + np.sqrt(small / surge.b_noise)))
        assert exact == pytest.approx(predicted, rel=1e-4)


def test_one_noise_level_gives_the_papers_b_noise():
    """With sigma_i = sigma for every coordinate, B_noise = pi sigma^2 tr H / (2 (G^T H G -
    sum_i H_ii G_i^2)): Li et al.'s pi sigma^2 tr H / (2 G^T H G) up to the diagonal term
    their derivation drops."""
    g, _, h = _quadratic(8)
    sigma2 = 2.5
    surge = nqm.surge_parameters(gradient=g, noise_var=np.full(g.size, sigma2), hessian=h)
    want = np.pi * sigma2 * np.trace(h) / (2 * (g @ h @ g - np.diag(h) @ g**2))
    assert surge.b_noise == pytest.approx(want, rel=1e-12)


def test_the_derivation_matches_the_numbers():
    b_noise, lr_max = symbolic.sign_descent_surge()
    g, var, h = _quadratic(8)                   # c > 0 here: the surge has a peak
    u = g / np.sqrt(var)
    values = {sp.Symbol("a", positive=True): np.sqrt(2 / np.pi) * np.sum(g**2 / np.sqrt(var)),
              sp.Symbol("b", positive=True): np.trace(h),
              sp.Symbol("c", positive=True): 2 / np.pi * (u @ h @ u - np.diag(h) @ u**2)}
    surge = nqm.surge_parameters(gradient=g, noise_var=var, hessian=h)
    assert float(b_noise.subs(values)) == pytest.approx(surge.b_noise, rel=1e-12)
    assert float(lr_max.subs(values)) == pytest.approx(surge.lr_max, rel=1e-12)


def test_large_batches_tend_to_the_noiseless_sign_step():
    """Li et al.'s Theorem 4: the optimum tends to a nonzero limit, |G|_1 / sign(G)^T H sign(G)."""
    g, var, h = _quadratic(5)
    s = np.sign(g)
    limit = np.abs(g).sum() / (s @ h @ s)
    assert nqm.sign_descent_lr(1e12, gradient=g, noise_var=var, hessian=h) == pytest.approx(limit)


def test_bad_statistics_are_refused():
    with pytest.raises(ValueError, match="noise_var must have"):
        nqm.sign_descent_lr(4, gradient=[1.0, 2.0], noise_var=[1.0], hessian=np.eye(2))
    with pytest.raises(ValueError, match="symmetric"):
        nqm.sign_descent_lr(4, gradient=[1.0, 2.0], noise_var=[1.0, 1.0], hessian=[[1, 2], [0, 1]])
    with pytest.raises(ValueError, match="noise_var must be >= 0"):
        nqm.surge_parameters(gradient=[1.0, 2.0], noise_var=[1.0, -1.0], hessian=np.eye(2))


def test_noiseless_coordinates_are_left_out_of_the_surge():
    g, var, h = _quadratic(8)
    padded_h = np.zeros((g.size + 1, g.size + 1))
    padded_h[:-1, :-1], padded_h[-1, -1] = h, 3.0
    padded = nqm.surge_parameters(gradient=np.r_[g, 0.7], noise_var=np.r_[var, 0.0],
                                  hessian=padded_h)
    assert padded == nqm.surge_parameters(gradient=g, noise_var=var, hessian=h)
    assert np.isinf(nqm.surge_parameters(gradient=[1.0], noise_var=[0.0], hessian=[[1.0]]).b_noise)
