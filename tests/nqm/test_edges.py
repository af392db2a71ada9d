"""Where learning rates stop being stable: the minibatch Hessian's edge and its finite size."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

import nqm
from nqm import symbolic


@given(st.floats(0.01, 100.0))
def test_edge_is_the_derived_support_top(gamma):
    """The numeric edge equals the sympy derivation, (1 + sqrt(gamma))^2 at gamma = D/B."""
    derived = float(symbolic.marchenko_pastur_edge().subs(symbolic.gamma, sp.Float(gamma, 30)))
    assert nqm.marchenko_pastur_edge(1.0, gamma) == pytest.approx(derived, rel=1e-12)


@pytest.mark.parametrize("batch_size", [100, 400, 1600])
def test_largest_eigenvalue_against_simulation(batch_size):
    """Monte Carlo of lambda_max(X^T X / B) at D = 400: Johnstone's finite-size mean within 4
    standard errors plus a tenth of the Tracy-Widom scale (the order the expansion drops), and
    the limit edge off by no more than twice the Tracy-Widom correction it leaves out."""
    dim, draws = 400, 24
    rng = np.random.default_rng(batch_size)
    tops = np.array([np.linalg.eigvalsh(x.T @ x / batch_size)[-1]
                     for x in (rng.standard_normal((batch_size, dim)) for _ in range(draws))])
    se = tops.std(ddof=1) / np.sqrt(draws)
    root = np.sqrt(batch_size - 1) + np.sqrt(dim)
    scale = root * (1 / np.sqrt(batch_size - 1) + 1 / np.sqrt(dim)) ** (1 / 3) / batch_size
    finite = nqm.marchenko_pastur_edge(batch_size, dim, finite_size=True)
    assert abs(tops.mean() - finite) < 4 * se + 0.1 * scale
    limit = nqm.marchenko_pastur_edge(batch_size, dim)
    assert abs(tops.mean() - limit) < 2 * abs(finite - limit)
    assert tops.mean() < limit                       # E[TW1] < 0: below the edge on average


def test_edge_bad_input():
    with pytest.raises(ValueError, match="batch_size"):
        nqm.marchenko_pastur_edge(0, 4)
    with pytest.raises(ValueError, match="> 1 with finite_size"):
        nqm.marchenko_pastur_edge(1, 4, finite_size=True)


@given(st.floats(1.0, 1e4), st.floats(1.0, 1e4), st.floats(1e-4, 10.0))
def test_claimed_scaling_passes_through_its_reference(b, b0, lr0):
    for optimizer, exponent in (("sgd", 1.0), ("adam", 0.5)):
        kwargs = dict(optimizer=optimizer, reference_batch_size=b0, reference_lr=lr0)
        assert nqm.claimed_max_lr(b0, **kwargs) == pytest.approx(lr0, rel=1e-12)
        assert nqm.claimed_max_lr(4 * b, **kwargs) / nqm.claimed_max_lr(b, **kwargs) == \
            pytest.approx(4.0**exponent, rel=1e-12)
    with pytest.raises(ValueError, match="optimizer"):
        nqm.claimed_max_lr(b, optimizer="lion", reference_batch_size=b0, reference_lr=lr0)


def test_least_squares_edge_is_linear_then_saturates():
    """The exactly solvable case of the SGD claim: gradient descent on a least-squares
    minibatch is stable below (1 + sqrt(D/B))^-2, whose local exponent in B tends to 1 for
    B << D (the claim's regime) and to 0 for B >> D (the full Hessian dominates)."""
    dim = 1e8

    def exponent(b):
        return np.log(nqm.marchenko_pastur_edge(b, dim) / nqm.marchenko_pastur_edge(2 * b, dim)) \
            / np.log(2)
    assert exponent(1.0) == pytest.approx(1.0, abs=0.01)
    assert exponent(1e13) == pytest.approx(0.0, abs=0.01)



@given(st.floats(1.0, 1e4), st.floats(1e-3, 1e3), st.floats(1e-3, 1e3))
def test_noise_plus_hessian_is_linear_below_its_crossover_and_flat_above(b, top, kappa):
    """2 / (lambda_1 + kappa/B): linear (2B/kappa) well below B = kappa/lambda_1, 2/lambda_1
    well above, and exactly half of 2/lambda_1 at the crossover."""
    lr = nqm.noise_plus_hessian_lr(b, top_eigenvalue=top, noise=kappa)
    crossover = kappa / top
    assert nqm.noise_plus_hessian_lr(crossover, top_eigenvalue=top, noise=kappa) == \
        pytest.approx(1 / top, rel=1e-12)
    if b < 1e-3 * crossover:
        assert lr == pytest.approx(2 * b / kappa, rel=2e-3)
    if b > 1e3 * crossover:
        assert lr == pytest.approx(2 / top, rel=2e-3)


@given(st.floats(1e-4, 1e4))
def test_noise_plus_hessian_misses_least_squares_cross_term(g):
    """On least squares (lambda_1 = c, kappa = c D) the exact edge c (1 + sqrt(g))^2 over the
    form's c (1 + g) is 1 + 2 sqrt(g) / (1 + g), g = D/B: the cross term the 1/B form leaves
    out, at most 2 (B = D) and vanishing in both of the form's limits."""
    dim = 16.0
    b = dim / g
    form = 2 / nqm.noise_plus_hessian_lr(b, top_eigenvalue=2.0, noise=2.0 * dim)
    exact = 2 * nqm.marchenko_pastur_edge(b, dim)
    assert exact / form == pytest.approx(1 + 2 * np.sqrt(g) / (1 + g), rel=1e-12)


@pytest.mark.parametrize("batch_size", [10, 40, 400, 4000])
def test_noise_plus_hessian_against_least_squares_minibatch_hessians(batch_size):
    """Simulated Gaussian least-squares minibatch Hessians 2 X^T X / B (D = 400): the form with
    lambda_1 = 2 and kappa = 2 D is low by the cross term, as the finite-size edge says
    (within 3%): 1.24x at B = 10, 1.52x at 40, 1.97x at 400, 1.57x at 4000."""
    dim, draws = 400, 8
    rng = np.random.default_rng(batch_size)
    tops = np.array([np.linalg.eigvalsh(2 * x.T @ x / batch_size)[-1]
                     for x in (rng.standard_normal((batch_size, dim)) for _ in range(draws))])
    form = 2 / nqm.noise_plus_hessian_lr(batch_size, top_eigenvalue=2.0, noise=2.0 * dim)
    finite = 2 * nqm.marchenko_pastur_edge(batch_size, dim, finite_size=True)
    assert tops.mean() / form == pytest.approx(finite / form, rel=0.03)
    assert tops.mean() / form > 1.2                      # the form is always low here


def test_noise_plus_hessian_bad_input():
    with pytest.raises(ValueError, match="top_eigenvalue"):
        nqm.noise_plus_hessian_lr(4, top_eigenvalue=0.0, noise=1.0)
    with pytest.raises(ValueError, match="noise"):
        nqm.noise_plus_hessian_lr(4, top_eigenvalue=1.0, noise=-1.0)


@given(st.floats(0.0, 1 - 1e-5), st.floats(1e-3, 1e3))
def test_adam_bound_is_the_derived_root(beta1, sharpness):
    """The numeric bound equals nqm.symbolic.adam_stability_bound at the same point."""
    derived = symbolic.adam_stability_bound().subs(
        {sp.Symbol("beta_1"): sp.Float(beta1, 30), symbolic.a: sp.Float(sharpness, 30)})
    assert nqm.adam_max_stable_lr(sharpness, beta1=beta1) == pytest.approx(float(derived),
                                                                          rel=1e-12)


def test_adam_bound_is_cohen_et_al_threshold():
    """Cohen et al. (2022, abstract): "For Adam with step size eta and beta_1 = 0.9, this
    stability threshold is 38/eta"; without momentum it is gradient descent's 2/eta."""
    assert nqm.adam_max_stable_lr(38.0, beta1=0.9) == pytest.approx(1.0, rel=1e-15)
    assert nqm.adam_max_stable_lr(2.0, beta1=0.0) == 1.0


def _frozen_adam_peaks(beta1: float, sharpness: float, lr: float, steps: int = 3000):
    """Adam with its preconditioner frozen, iterated on 0.5 a x^2 (a the preconditioned
    sharpness): m <- beta1 m + (1 - beta1) a x, x <- x - lr m. Returns (|x| at the end, the
    largest |x| on the way), from x = 1, m = 0; the end is the first step past 1e12 (before
    the iteration overflows)."""
    x, m, peak = 1.0, 0.0, 1.0
    for _ in range(steps):
        m = beta1 * m + (1 - beta1) * sharpness * x
        x -= lr * m
        peak = max(peak, abs(x))
        if peak > 1e12:
            break
    return abs(x), peak


@given(st.floats(0.0, 1 - 1e-5), st.floats(1e-3, 1e3))
def test_adam_bound_against_simulation(beta1, sharpness):
    """2% below the bound the iteration stays within 100 times its start for 3000 steps (a
    transient of at most ~10 at beta1 near 1); 2% above it grows past 1e6 (its root beyond -1
    moves out by about 2 sqrt(0.02) near beta1 = 1, faster for smaller beta1)."""
    edge = nqm.adam_max_stable_lr(sharpness, beta1=beta1)
    assert _frozen_adam_peaks(beta1, sharpness, 0.98 * edge)[1] < 100
    assert _frozen_adam_peaks(beta1, sharpness, 1.02 * edge)[0] > 1e6


def test_adam_bound_bad_input():
    with pytest.raises(ValueError, match="beta1"):
        nqm.adam_max_stable_lr(1.0, beta1=1.0)
    with pytest.raises(ValueError, match="sharpness"):
        nqm.adam_max_stable_lr(0.0)
