"""Scalar NQM: simulation, stability bracket, reductions and monotonicity properties."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nqm
from tests import strategies as S

A, SIGMA2, W0 = 2.0, 3.0, 1.5


def simulate_losses(lr, batch_size, steps, *, chains, seed):
    """Independent SGD chains on the scalar NQM: the loss a w^2/2 after ``steps`` steps."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(chains) * np.sqrt(W0)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            xi = rng.standard_normal(chains) * np.sqrt(SIGMA2 / batch_size)
            w = w - lr * (A * w + xi)
    return 0.5 * A * w**2


@pytest.mark.parametrize("lr,batch_size,steps", [(0.05, 1, 30), (0.3, 8, 20), (0.9, 64, 10)])
def test_expected_loss_matches_simulation(lr, batch_size, steps):
    losses = simulate_losses(lr, batch_size, steps, chains=200_000, seed=1)
    mean, se = losses.mean(), losses.std(ddof=1) / np.sqrt(losses.size)
    exact = nqm.scalar_expected_loss(lr, batch_size, steps, curvature=A, noise_var=SIGMA2,
                                     w0_sq=W0)
    # 200k independent chains: the sample mean is within 4 standard errors but for 6e-5 odds
    assert abs(mean - exact) < 4 * se


def test_stability_bound_bracketed_by_training():
    bound = nqm.scalar_max_stable_lr(curvature=A)
    stable = simulate_losses(0.5 * bound, 4, 400, chains=20_000, seed=2)
    stationary = nqm.scalar_stationary_loss(0.5 * bound, 4, curvature=A, noise_var=SIGMA2)
    se = stable.std(ddof=1) / np.sqrt(stable.size)
    assert abs(stable.mean() - stationary) < 4 * se          # converged to the fixed point
    unstable = simulate_losses(1.5 * bound, 4, 400, chains=2_000, seed=2)
    assert np.median(unstable) > 1e100                     # |1 - lr a| = 2: grows as 4^t


@given(b=S.batch_sizes, a=S.curvatures, s2=S.noise_vars, w=S.log_uniform(0.1, 10.0))
def test_horizon_of_one_step_is_greedy(b, a, s2, w):
    one_step = nqm.optimal_lr_horizon(b, 1, curvature=a, noise_var=s2, w0_sq=w)
    greedy = nqm.optimal_lr_greedy(b, curvature=a, noise_var=s2, w_sq=w)
    # Minimizing by function values resolves the argmin x* only to where f(x) - f(x*) drops
    # below f's rounding: |dx| / x* ~ sqrt(eps |f| / (f'' x*^2)), f'' = a (a^2 w + s2 / b) here;
    # and bounded Brent stops at sqrt(eps) |log x*| in its parameter log x.
    f = nqm.scalar_expected_loss(greedy, b, 1, curvature=a, noise_var=s2, w0_sq=w)
    f2 = a * (a * a * w + s2 / b)
    eps = np.finfo(float).eps
    resolution = np.sqrt(eps * f / (f2 * greedy**2)) + np.sqrt(eps) * (1 + abs(np.log(greedy)))
    assert one_step == pytest.approx(greedy, rel=10 * resolution)


@given(a=S.curvatures, s2=S.noise_vars, ratio=st.floats(1e-3, 0.5),
       batch=st.lists(S.batch_sizes, min_size=2, max_size=2, unique=True))
def test_optimal_lr_target_monotone_and_bounded(a, s2, ratio, batch):
    w0 = 1.0
    target = ratio * a * w0 / 2
    small, large = sorted(batch)
    lrs = nqm.optimal_lr_target([small, large], target, curvature=a, noise_var=s2, w0_sq=w0)
    assert lrs[0] <= lrs[1] * (1 + 1e-6)
    assert np.all(lrs <= 1 / a * (1 + 1e-12)) and np.all(lrs < 2 / a)
    steps = nqm.steps_to_target(lrs, [small, large], target, curvature=a, noise_var=s2, w0_sq=w0)
    assert steps[1] <= steps[0] * (1 + 1e-6) + 1e-9        # nonincreasing in B at the optimum


def test_optimal_lr_target_is_a_minimum():
    lr = nqm.optimal_lr_target(16, 0.05, curvature=A, noise_var=SIGMA2, w0_sq=W0)
    t = nqm.steps_to_target(lr * np.array([0.9, 1.0, 1.1]), 16, 0.05, curvature=A,
                            noise_var=SIGMA2, w0_sq=W0)
    assert t[1] < t[0] and t[1] < t[2]


def test_target_scaling_regimes():
    """Linear in B while noise dominates, capped at 1/a once curvature does."""
    lrs = nqm.optimal_lr_target([1, 2, 4, 1e5], 1e-3, curvature=1.0, noise_var=1.0, w0_sq=1.0)
    assert lrs[1] / lrs[0] == pytest.approx(2.0, rel=0.02)
    assert lrs[2] / lrs[1] == pytest.approx(2.0, rel=0.02)
    assert lrs[3] == pytest.approx(1.0, rel=1e-6)


def test_horizon_grows_slowly():
    """With a fixed budget the optimal rate grows far slower than B (about logarithmically)."""
    b = np.array([1, 16, 256, 4096])
    lrs = nqm.optimal_lr_horizon(b, 100, curvature=1.0, noise_var=1.0, w0_sq=1.0)
    assert np.all(np.diff(lrs) > 0)
    exponent = np.polyfit(np.log(b), np.log(lrs), 1)[0]
    assert exponent < 0.2
    increments = np.diff(lrs)
    assert np.allclose(increments, increments.mean(), rtol=0.35)  # equal steps per factor 16


@pytest.mark.parametrize("kwargs,name", [
    (dict(lr=-0.1, batch_size=4, steps=3), "lr"),
    (dict(lr=0.1, batch_size=0, steps=3), "batch_size"),
    (dict(lr=0.1, batch_size=4, steps=1.5), "steps"),
    (dict(lr=np.nan, batch_size=4, steps=3), "lr"),
])
def test_bad_input_names_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        nqm.scalar_expected_loss(**kwargs, curvature=1.0, noise_var=1.0, w0_sq=1.0)
    with pytest.raises(ValueError, match="noise_var"):
        nqm.scalar_stationary_loss(0.1, 4, curvature=1.0, noise_var=-1.0)
    with pytest.raises(ValueError, match="target_loss"):
        nqm.optimal_lr_target(4, 1.0, curvature=1.0, noise_var=1.0, w0_sq=1.0)
