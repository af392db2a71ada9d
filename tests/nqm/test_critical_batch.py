"""The fewest steps and examples along the greedy schedule: the sympy derivation against the
numbers, the exact count against the exact dynamics step by step, the greedy schedule against
other schedules, and McCandlish et al.'s continuum model against the exact count."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import nqm
from nqm import symbolic as sym

S_MIN, E_MIN, B_CRIT = sym.greedy_critical_batch()
K, C = sp.symbols("k c", positive=True)


def _model(dim, noise):
    return nqm.LeastSquaresSGD(dim=dim, noise_std=noise, init_error=2.0 * dim**2)


def _target(model, fraction):
    """A test MSE a ``fraction`` of the way (in log excess) from the initial MSE to the floor."""
    initial = model.init_error / model.dim
    return model.noise_std**2 + initial * np.exp(-fraction * 8.0)


@given(dim=st.integers(1, 300), noise=st.floats(0.1, 10.0), fraction=st.floats(0.02, 1.0))
def test_least_squares_critical_batch_is_the_derivation(dim, noise, fraction):
    model = _model(dim, noise)
    target = _target(model, fraction)
    fewest = model.critical_batch(target)
    at = {K: dim + 1, C: noise**2 * dim**2, sym.w0sq: model.init_error,
          sym.target: dim * (target - noise**2)}
    for value, expr in zip(fewest, (S_MIN, E_MIN, B_CRIT), strict=True):
        assert value == pytest.approx(float(expr.subs(at).evalf(50)), rel=1e-9)


@given(curvature=st.floats(0.01, 100.0), noise=st.floats(1e-3, 1e3), fraction=st.floats(0.01, 0.99))
def test_scalar_critical_batch_is_the_derivation(curvature, noise, fraction):
    w0_sq = 3.0
    target = fraction * curvature * w0_sq / 2
    fewest = nqm.scalar_critical_batch(target, curvature=curvature, noise_var=noise, w0_sq=w0_sq)
    at = {K: 0, C: noise / (2 * curvature), sym.w0sq: curvature * w0_sq / 2, sym.target: target}
    for value, expr in zip(fewest, (S_MIN, E_MIN, B_CRIT), strict=True):
        assert value == pytest.approx(float(expr.subs(at).evalf(50)), rel=1e-9)


def test_the_derivation_of_the_map_gives_mccandlish_form():
    least_squares, scalar = sym.greedy_error_map()
    steps = dict(sym.steps(sym.greedy_error_map))
    assert sum(1 for v in steps.values() if v == 0) == 2


@settings(max_examples=30, deadline=None)
@given(dim=st.integers(1, 64), noise=st.floats(0.5, 8.0), batch=st.floats(1.0, 4096.0),
       fraction=st.floats(0.05, 0.7))
def test_greedy_steps_follow_the_exact_recursion(dim, noise, batch, fraction):
    """Step the class's exact error recursion with the greedy rate (McCandlish's rate at the
    exact noise scale) and count: the same whole number of steps."""
    model = _model(dim, noise)
    target = _target(model, fraction)
    error, count = model.init_error, 0
    goal = dim * (target - noise**2)
    while error > goal * (1 + 1e-12):
        scale = model.noise_scale(error)
        lr = nqm.mccandlish_lr(batch, lr_max=float(scale.lr_max), b_noise=float(scale.b_noise))
        error = float(nqm.LeastSquaresSGD(dim=dim, noise_std=noise, init_error=error)
                      .expected_error(lr, batch, 1))
        count += 1
    assert model.greedy_steps(batch, target) == count


@given(curvature=st.floats(0.1, 10.0), noise=st.floats(0.01, 10.0), batch=st.floats(0.5, 1e3),
       fraction=st.floats(0.05, 0.95))
def test_scalar_greedy_steps_follow_the_exact_recursion(curvature, noise, batch, fraction):
    w0_sq = 2.0
    target = fraction * curvature * w0_sq / 2
    steps = nqm.scalar_greedy_steps(batch, target, curvature=curvature, noise_var=noise,
                                    w0_sq=w0_sq)
    w_sq, count = w0_sq, 0
    while curvature * w_sq / 2 > target * (1 + 1e-12):
        lr = nqm.optimal_lr_greedy(batch, curvature=curvature, noise_var=noise, w_sq=w_sq)
        w_sq = 2 / curvature * nqm.scalar_expected_loss(lr, batch, 1, curvature=curvature,
                                                        noise_var=noise, w0_sq=w_sq)
        count += 1
        assert count < 10**5
    assert steps in (count, count - 1, count + 1)      # the closed form's ceiling at a tie
    if not np.isclose(target * 2 * curvature * batch / noise % 1, 0, atol=1e-6):
        assert steps == count


@settings(max_examples=25, deadline=None)
@given(dim=st.integers(2, 32), batch=st.sampled_from([1, 4, 32, 256]), seed=st.integers(0, 10**6),
       fraction=st.floats(0.1, 0.6))
def test_no_schedule_beats_the_greedy_one(dim, batch, seed, fraction):
    """Random schedules (each step a random multiple of the greedy rate) and the best constant
    rate take at least the greedy count."""
    model = _model(dim, 3.0)
    target = _target(model, fraction)
    greedy = model.greedy_steps(batch, target)
    constant = model.steps_to_target(model.optimal_lr_target(batch, target), batch, target)
    assert greedy <= np.ceil(constant - 1e-9)
    rng = np.random.default_rng(seed)
    error, count, goal = model.init_error, 0, dim * (target - 9.0)
    while error > goal and count <= greedy:
        scale = model.noise_scale(error)
        lr = rng.uniform(0.3, 1.7) * nqm.mccandlish_lr(batch, lr_max=0.5,
                                                       b_noise=float(scale.b_noise))
        error = float(nqm.LeastSquaresSGD(dim=dim, noise_std=3.0, init_error=error)
                      .expected_error(lr, batch, 1))
        count += 1
    assert count >= greedy


@settings(max_examples=40, deadline=None)
@given(dim=st.integers(1, 400), noise=st.floats(0.5, 8.0), batch=st.floats(0.5, 8192.0),
       fraction=st.floats(0.05, 1.0))
def test_the_continuum_model_brackets_the_exact_count(dim, noise, batch, fraction):
    r"""Each greedy step spans at least one step of the continuum and at most
    :math:`1 + B/B_{\rm noise}(e_0)` of its examples per batch:
    :math:`E_{\min}/(B + B B/B_{\rm noise}(e_0)) \le N \le S_{\min} + E_{\min}/B + 1`; so the
    continuum is exact as :math:`B/B_{\rm noise} \to 0` and overcounts at large batches."""
    model = _model(dim, noise)
    target = _target(model, fraction)
    fewest = model.critical_batch(target)
    count = model.greedy_steps(batch, target)
    noise_0 = float(model.noise_scale(model.init_error).b_noise)
    assert count <= fewest.s_min + fewest.e_min / batch + 1
    assert count >= fewest.e_min / batch / (1 + batch / noise_0) - 1e-9


def test_the_continuum_overcounts_the_steps_of_large_batches():
    """At B >> D + 1 an infinite batch reaches the minimum in one step: the exact count falls
    below S_min, as ln(e_0/e) / ln(1 + B/(D + 1))."""
    model = _model(16, 5.0)
    target = _target(model, 0.3)
    fewest = model.critical_batch(target)
    assert model.greedy_steps(2**20, target) == 1 < fewest.s_min
    small = model.greedy_steps(1, target)
    assert small == pytest.approx(fewest.s_min + fewest.e_min, rel=0.02)


@pytest.mark.parametrize("bad", [0.5, 25.0, 25.0 + 2 * 16 + 1])
def test_targets_outside_the_reachable_range_are_refused(bad):
    with pytest.raises(ValueError, match="target_mse"):
        _model(16, 5.0).critical_batch(bad)


def test_scalar_targets_above_the_start_are_refused_and_huge_counts_too():
    with pytest.raises(ValueError, match="below the initial loss"):
        nqm.scalar_critical_batch(2.0, curvature=1.0, noise_var=1.0, w0_sq=2.0)
    with pytest.raises(ValueError, match="greedy schedule needs"):
        _model(16, 5.0).greedy_steps(1e-4, 25.01)
