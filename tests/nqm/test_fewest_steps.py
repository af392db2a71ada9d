"""The fewest steps to a target: the envelope search against dense grids, the per-rate search,
and Zhang et al.'s notebook."""

import numpy as np
import pytest

import nqm


def _reaches(model, lrs, batch, target, steps, **kwargs):
    """Whether any of ``lrs`` has expected loss at or below ``target`` at ``steps``."""
    return bool(np.any(model.expected_loss(lrs, batch, steps, **kwargs) <= target))


@pytest.mark.parametrize("kwargs", [{}, {"momentum": 0.9}, {"precondition_power": 0.5},
                                    {"ema_decay": 0.99}])
def test_no_rate_of_a_dense_grid_reaches_the_target_a_step_earlier(kwargs):
    """T* is the least step any rate reaches the target at: 600 rates over the stable range do
    not reach it at T* - 1, the rate returned reaches it at T*, and its own first step (the
    branch and bound of steps_to_target) is T*."""
    model = nqm.DiagonalNQM.zhang2019(dim=300)
    batch, target = 32, 0.05
    best = model.optimal_steps_to_target(batch, target, **kwargs)
    first = int(np.ceil(best.steps))
    top = model.max_stable_lr(momentum=kwargs.get("momentum", 0.0),
                              precondition_power=kwargs.get("precondition_power", 0.0))
    lrs = np.geomspace(top * 1e-7, top * (1 - 1e-9), 600)
    assert not _reaches(model, lrs, batch, target, first - 1, **kwargs)
    assert model.expected_loss(best.lr, batch, first, **kwargs) <= target
    assert np.ceil(model.steps_to_target(best.lr, batch, target, **kwargs)) == first


@pytest.mark.parametrize("tuned,batch,fixed", [
    ("momentum", 16, {}), ("momentum", 256, {}), ("ema_decay", 16, {}), ("ema_decay", 256, {}),
    ("ema_decay", 64, {"momentum": 0.5}), ("momentum", 64, {"ema_decay": 0.9}),
])
def test_joint_optimum_against_a_dense_grid(tuned, batch, fixed):
    """With the momentum or the decay tuned (the other fixed or none): no point of a 40 x 150
    grid (1 - beta or 1 - gamma from 1 to 1e-5, rates over the stable range) reaches the
    target at T* - 1; the point returned reaches it at T*, and needs at most the steps of the
    fixed-value optimum."""
    model = nqm.DiagonalNQM.zhang2019(dim=100)
    target = 0.05
    best = model.optimal_steps_to_target(batch, target, **{tuned: "tuned"}, **fixed)
    first = int(np.ceil(best.steps))
    for value in 1.0 - np.geomspace(1.0, 1e-5, 40):
        kwargs = {tuned: value, **fixed}
        top = model.max_stable_lr(momentum=kwargs.get("momentum", 0.0))
        lrs = np.geomspace(top * 1e-8, top * (1 - 1e-9), 150)
        assert not _reaches(model, lrs, batch, target, first - 1, **kwargs), value
    chosen = {"momentum": best.momentum, "ema_decay": best.ema_decay}
    assert model.expected_loss(best.lr, batch, first, **chosen) <= target
    assert best.steps <= model.optimal_steps_to_target(batch, target, **fixed).steps


# Zhang et al.'s notebook (gd-zhang/noisy-quadratic-model, nqm.ipynb, run as published with
# numpy 2.4 and autograd in a scratch folder): optimal_ttl, optimal_ttl_wm and
# optimal_ttl_ema on toy_problem(10000, 100) at C = 0.01, which search grids of 100 rates
# (logspace(-8, 1); logspace(-5, 0.5) for plain SGD) and 20 momenta or decays
# (1 - logspace(-5, 0)) and count the first t with L_t < C, minus one.
@pytest.mark.parametrize("batch,kwargs,theirs", [
    (16, {}, 379858), (1024, {}, 10609), (65536, {}, 7309),
    (16, {"momentum": "tuned"}, 326809), (1024, {"momentum": "tuned"}, 5203),
    (65536, {"momentum": "tuned"}, 208),
    (16, {"ema_decay": "tuned"}, 59509), (1024, {"ema_decay": "tuned"}, 7868),
    (65536, {"ema_decay": "tuned"}, 7365),
])
def test_no_worse_than_zhangs_grid_search(batch, kwargs, theirs):
    """A continuous search finds at most their grid's steps, and not far fewer (within 15%:
    the grid's spacing); the hyperparameters returned reach the target at that step, and no
    optimizer beats their information-theoretic bound."""
    binned = nqm.DiagonalNQM.zhang2019(10_000, bins=100)
    best = binned.optimal_steps_to_target(batch, 0.01, **kwargs)
    ours = int(np.ceil(best.steps)) - 1
    assert 0.85 * theirs <= ours <= theirs
    assert binned.expected_loss(best.lr, batch, ours + 1, momentum=best.momentum,
                                ema_decay=best.ema_decay) <= 0.01
    assert ours > binned.steps_lower_bound(batch, 0.01)


def test_tuned_momentum_extends_perfect_scaling():
    """Zhang et al. (2019), Fig. 5: tuned momentum helps only at large batch, so it needs as
    many steps as plain SGD while noise dominates and raises the critical batch size."""
    model = nqm.DiagonalNQM.zhang2019(dim=300)
    small = model.optimal_steps_to_target(1, 0.1, momentum="tuned").steps
    assert small == pytest.approx(model.optimal_steps_to_target(1, 0.1).steps, rel=0.05)
    assert (model.critical_batch_size(0.1, momentum="tuned")
            > 2 * model.critical_batch_size(0.1))


def test_target_at_the_initial_loss_and_out_of_reach():
    model = nqm.DiagonalNQM.zhang2019(dim=50)
    with pytest.raises(ValueError, match="not below the initial loss"):
        model.optimal_steps_to_target(8, model.initial_loss)      # every rate: step 0
    never = model.optimal_steps_to_target(8, 1e-6, max_steps=1000)
    assert never.steps == np.inf and np.isnan(never.lr)


@pytest.mark.parametrize("kwargs,match", [
    ({"momentum": "best"}, "momentum must be a number or"),
    ({"momentum": "tuned", "ema_decay": "tuned"}, "cannot both"),
    ({"ema_decay": "all"}, "ema_decay must be a number or"),
])
def test_bad_tuning(kwargs, match):
    with pytest.raises(ValueError, match=match):
        nqm.DiagonalNQM.zhang2019(dim=10).optimal_steps_to_target(8, 0.1, **kwargs)


def test_no_fraction_of_the_first_step():
    """One coordinate: the noise-free run reaches the target in one step (lr = 1/h gives a
    loss of exactly 0), so S_min = 1, not a fraction of a step; B_crit is then where two steps
    suffice, between B = 1 (five steps) and B = 4 (two), not 1.94e4 as a fractional S_min made
    it (issue 29's `lrbs theory --dim 1`)."""
    model = nqm.DiagonalNQM.zhang2019(dim=1)
    assert model.optimal_steps_to_target(np.inf, 0.1).steps == 1.0
    assert model.optimal_steps_to_target(1, 0.1).steps > 4
    assert 1.0 < model.critical_batch_size(0.1) < 4.0
