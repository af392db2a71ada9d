"""Tissue et al.'s annealing law: its areas, its fit on curves drawn from it, and the study."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import least_squares

import nqm
from compare import annealing_areas, fit_annealing_law

STEPS = 300
CONSTANT = np.full(STEPS, 0.1)
COSINE = 0.05 * (1 + np.cos(np.pi * np.arange(STEPS) / STEPS))
WSD = np.r_[np.full(240, 0.1), np.linspace(0.1, 0.0, 61)[1:]]


def law(rates, L0, A, alpha, C, decay=0.999):
    s1, s2 = annealing_areas(rates, decay=decay)
    return L0 + A * s1**-alpha - C * s2


def test_areas_by_hand():
    """S1 sums the rates; the drops count from the peak on (a warmup's rise is not annealing);
    with lambda = 0 the momentum is the drop itself, so S2 sums (peak - rate) over the decay."""
    rates = [0.01, 0.05, 0.1, 0.1, 0.06, 0.02]
    s1, s2 = annealing_areas(rates, decay=0.0)
    np.testing.assert_allclose(s1, np.cumsum(rates))
    np.testing.assert_allclose(s2, [0, 0, 0, 0, 0.04, 0.08], atol=1e-15)
    _, s2 = annealing_areas(rates, decay=0.5)            # m = 0.04, then 0.5 * 0.04 + 0.04
    np.testing.assert_allclose(s2, [0, 0, 0, 0, 0.04, 0.10], atol=1e-15)
    _, flat = annealing_areas(CONSTANT)
    assert np.all(flat == 0)


@settings(max_examples=25, deadline=None)
@given(st.floats(1.0, 5.0), st.floats(0.1, 3.0), st.floats(0.2, 1.5), st.floats(0.0, 2.0),
       st.integers(0, 2**31))
def test_fit_recovers_the_law_from_noisy_curves(L0, A, alpha, C, seed):
    """Curves drawn from the law with noise of standard deviation 1e-4: the fit on a constant
    and a cosine run recovers the parameters, and predicts a third schedule to a few noise
    levels."""
    rng = np.random.default_rng(seed)
    curves = [law(r, L0, A, alpha, C) + 1e-4 * rng.standard_normal(STEPS) for r in (CONSTANT, COSINE)]
    fit = fit_annealing_law([CONSTANT, COSINE], curves)
    assert fit.alpha == pytest.approx(alpha, rel=0.05)
    assert fit.L0 == pytest.approx(L0, abs=0.02 * A + 1e-3)
    assert fit.C == pytest.approx(C, abs=0.01 + 0.02 * C)
    keep = slice(STEPS // 10, None)
    np.testing.assert_allclose(fit.predict(WSD)[keep], law(WSD, L0, A, alpha, C)[keep], atol=1e-3)
    assert fit.rms < 2e-4


def test_the_profile_is_the_global_minimum():
    """scipy's least_squares from 12 starts finds no lower residual than the profile search, on
    measured-like curves the law does not describe exactly."""
    rng = np.random.default_rng(0)
    curves = [law(r, 4.1, 2.0, 0.8, 0.3) + 0.02 * np.sin(np.arange(STEPS) / 9)
              + 0.01 * rng.standard_normal(STEPS) for r in (CONSTANT, COSINE)]
    fit = fit_annealing_law([CONSTANT, COSINE], curves)
    keep = slice(STEPS // 10, None)

    def residual(z):
        return np.concatenate([law(r, z[0], z[1], z[2], z[3])[keep] - c[keep]
                               for r, c in zip((CONSTANT, COSINE), curves, strict=True)])
    best = np.inf
    for start in rng.uniform([3, 0.1, 0.05, -1], [5, 5, 2.5, 1], (12, 4)):
        out = least_squares(residual, start, bounds=([-np.inf, -np.inf, 0.01, -np.inf],
                                                     [np.inf, np.inf, 3.0, np.inf]))
        best = min(best, np.sqrt(np.mean(out.fun**2)))
    assert fit.rms <= best * (1 + 1e-6)


def test_fit_refuses_bad_curves():
    with pytest.raises(ValueError, match="pair up"):
        fit_annealing_law([CONSTANT], [np.ones(STEPS)] * 2)
    with pytest.raises(ValueError, match="first rate > 0"):
        fit_annealing_law([np.r_[0.0, CONSTANT[1:]]], [np.ones(STEPS)])
    with pytest.raises(ValueError, match="at least 4 points"):
        fit_annealing_law([CONSTANT[:3]], [np.ones(3)])


def test_exact_nqm_curve_is_the_schedule_loss_at_every_step():
    """nqm's per-step curve against its piecewise loss at each prefix of the schedule."""
    model = nqm.DiagonalNQM.zhang2019(dim=100)
    rates = np.r_[np.full(7, 0.9), np.full(5, 0.3), np.full(4, 0.05)]
    curve = model.schedule_curve(rates, 8)
    for t in (0, 6, 11, 15):
        assert curve[t] == pytest.approx(model.schedule_loss(rates[:t + 1], 8, np.ones(t + 1)),
                                         rel=1e-12)
    assert np.isinf(model.schedule_curve([5.0] * 600, 8)[-1])       # far beyond 2 / h_max
