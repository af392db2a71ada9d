"""The critical batch size fitted from steps to a target: recovery and interval coverage."""

import numpy as np
import pytest

from compare import fit_critical_batch
from nqm import LeastSquaresSGD

B = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 1024], dtype=float)


def _experiment(rng, s_min=30.0, b_crit=40.0, n_seeds=5, sd=0.15, n_boot=100):
    truth = s_min * (1 + b_crit / B)
    seeds = truth * np.exp(sd * rng.standard_normal((n_seeds, B.size)))   # (seed, B)
    mean = np.exp(np.log(seeds).mean(axis=0))
    rows = rng.integers(0, n_seeds, (n_boot, n_seeds))
    boot = np.exp(np.log(seeds)[rows].mean(axis=1))
    return fit_critical_batch(B, mean, boot, n_seeds=n_seeds)


def test_intervals_cover_the_true_values():
    """Synthetic seeds scattered 15% (log-normal) around a known hyperbola: the 95% intervals
    of S_min, E_min and B_crit cover the truth in at least 51 of 60 experiments (85%; Student's
    quantile on a bootstrap over 5 seeds, nominal 95%)."""
    rng = np.random.default_rng(0)
    hits = np.zeros(3)
    for _ in range(60):
        fit = _experiment(rng)
        hits += [fit.s_min_interval[0] <= 30 <= fit.s_min_interval[1],
                 fit.e_min_interval[0] <= 1200 <= fit.e_min_interval[1],
                 fit.b_crit_interval[0] <= 40 <= fit.b_crit_interval[1]]
    assert np.all(hits >= 51), hits


def test_least_squares_theory_steps_give_its_critical_batch():
    """Exact online least-squares steps to a target (real-valued, at the optimal rate) follow
    the hyperbola only approximately; its fit recovers both limits: E_min within 3% of the
    examples spent at B = 1 (noise-dominated, S ~ 1/B), S_min within 10% of the theory's
    large-batch floor (a fraction of a step at this target)."""
    model = LeastSquaresSGD(dim=16, noise_std=5.0, init_error=2 * 16**2)
    target = 26.0
    steps = model.steps_to_target(model.optimal_lr_target(B, target), B, target)
    fit = fit_critical_batch(B, steps)
    floor = float(model.steps_to_target(model.optimal_lr_target(1e7, target), 1e7, target))
    assert fit.s_min == pytest.approx(floor, rel=0.1)
    assert fit.e_min == pytest.approx(steps[0] * B[0], rel=0.03)
    assert np.isnan(fit.b_crit_interval).all()


def test_bad_input():
    with pytest.raises(ValueError, match="3 or more"):
        fit_critical_batch([1, 2], [3.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        fit_critical_batch([1, 2, 4], [3.0, np.inf, 1.0])
