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
