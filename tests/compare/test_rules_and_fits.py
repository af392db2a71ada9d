"""Scaling rules (limits and identities) and the fits (known exponents recovered within their intervals)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import least_squares

from compare import (
    RULES,
    fit_rule,
    fit_scaling,
    linear_rule,
    logarithmic_rule,
    power_rule,
    saturating_rule,
    sqrt_rule,
    surge_rule,
)
from tests.strategies import log_uniform

BATCH = np.array([2, 4, 16, 64, 256, 1024, 2048], dtype=float)


@given(b=log_uniform(1.0, 1e5), scale=log_uniform(1e-4, 1.0))
def test_linear_and_sqrt_are_power_laws(b, scale):
    assert linear_rule(b, scale) == pytest.approx(power_rule(b, scale, 1.0), rel=1e-12)
    assert sqrt_rule(b, scale) == pytest.approx(power_rule(b, scale, 0.5), rel=1e-12)


@given(lr_max=log_uniform(1e-3, 10.0), b_noise=log_uniform(1.0, 1e4))
def test_saturating_limits(lr_max, b_noise):
    # linear far below the noise scale, flat far above it, half-way at B = B_noise
    small, large = b_noise * 1e-6, b_noise * 1e6
    assert saturating_rule(small, lr_max, b_noise) == pytest.approx(lr_max * small / b_noise,
                                                                     rel=1e-5)
    assert saturating_rule(large, lr_max, b_noise) == pytest.approx(lr_max, rel=1e-5)
    assert saturating_rule(b_noise, lr_max, b_noise) == pytest.approx(lr_max / 2, rel=1e-12)


@given(lr_max=log_uniform(1e-3, 10.0), b_noise=log_uniform(1.0, 1e4), k=log_uniform(1.01, 1e3))
def test_surge_peaks_at_b_noise_and_is_symmetric_in_log_b(lr_max, b_noise, k):
    peak = surge_rule(b_noise, lr_max, b_noise)
    assert peak == pytest.approx(lr_max, rel=1e-12)
    below, above = surge_rule(b_noise / k, lr_max, b_noise), surge_rule(b_noise * k, lr_max, b_noise)
    assert below == pytest.approx(above, rel=1e-10)
    assert below < peak
    # sqrt(B) rise far below the peak
    far = b_noise / 1e8
    assert surge_rule(far, lr_max, b_noise) == pytest.approx(2 * lr_max * np.sqrt(far / b_noise),
                                                             rel=1e-6)


@given(scale=log_uniform(1e-4, 1.0), b0=log_uniform(0.01, 1e3), k=log_uniform(1.0, 1e3))
def test_logarithmic_limits(scale, b0, k):
    # far above B0: a constant increment c ln 4 per quadrupling; far below: linear, c B / B0
    big = b0 * 1e8 * k
    assert logarithmic_rule(4 * big, scale, b0) - logarithmic_rule(big, scale, b0) == \
        pytest.approx(scale * np.log(4), rel=1e-6)
    small = b0 * 1e-8 / k
    assert logarithmic_rule(small, scale, b0) == pytest.approx(scale * small / b0, rel=1e-6)


def test_rules_reject_bad_batch_sizes():
    with pytest.raises(ValueError, match="batch_sizes"):
        linear_rule([0, 2], 1.0)


@pytest.mark.parametrize("name,params", [("linear", (0.003,)), ("sqrt", (0.01,)),
                                         ("power", (0.01, 0.3)), ("logarithmic", (0.004, 0.5)),
                                         ("saturating", (0.5, 120.0)), ("surge", (0.4, 300.0))])
def test_noise_free_fit_recovers_parameters(name, params):
    fit = fit_rule(name, BATCH, RULES[name](BATCH, *params))
    assert np.allclose(list(fit.params.values()), params, rtol=1e-5)
    assert fit.chi2 < 1e-12


def _synthetic(truth, n_seed=5, noise=0.15, seed=0, n_boot=300):
    """Per-seed optima scattered around ``truth`` in log space, and the seed bootstrap."""
    rng = np.random.default_rng(seed)
    log_seeds = np.log(truth)[None] + noise * rng.standard_normal((n_seed, truth.size))
    picks = rng.integers(0, n_seed, (n_boot, n_seed))
    return np.exp(log_seeds.mean(axis=0)), np.exp(log_seeds[picks].mean(axis=1))


@settings(max_examples=30, deadline=None, derandomize=True)
@given(name=st.sampled_from(["logarithmic", "saturating", "surge"]), seed=st.integers(0, 10**6),
       n_b=st.integers(3, 9), noise=st.sampled_from([0.0, 0.05, 0.5]))
def test_curved_fits_are_the_least_squares_minimum(name, seed, n_b, noise):
    """The curved rules' profile search (grid over the batch-size parameter, golden section,
    the level solved exactly) finds the weighted least-squares minimum: scipy's
    ``least_squares`` from eleven starts across the same bounds finds no lower chi^2, and
    where the minimum is interior the two agree on the parameters."""
    rng = np.random.default_rng(seed)
    b = np.unique(np.round(np.geomspace(1, 10 ** rng.uniform(1, 5), n_b)))
    truth = RULES[name](b, 10 ** rng.uniform(-3, 0), 10 ** rng.uniform(0, 4))
    lr = truth * np.exp(noise * rng.standard_normal(b.size))
    sd = np.exp(0.5 * rng.standard_normal(b.size)) * 0.1
    fit = fit_rule(name, b, lr, sd)
    log_b = np.log(b)
    bounds = (log_b.min() - np.log(100), log_b.max() + np.log(100))

    def residual(z):
        return (np.log(lr) - np.log(RULES[name](b, np.exp(z[0]), np.exp(z[1])))) / sd
    best = min((least_squares(residual, [np.log(lr).mean(), z1],
                              bounds=([-np.inf, bounds[0]], [np.inf, bounds[1]]),
                              xtol=1e-14, ftol=1e-14, gtol=1e-14)
                for z1 in np.linspace(*bounds, 11)), key=lambda sol: sol.cost)
    assert fit.chi2 <= 2 * best.cost * (1 + 1e-7) + 1e-12
    z1 = np.log(list(fit.params.values())[1])
    if bounds[0] + 0.1 < z1 < bounds[1] - 0.1 and fit.chi2 > 1e-20:
        np.testing.assert_allclose(np.exp(best.x), list(fit.params.values()), rtol=1e-4)


@pytest.mark.parametrize("exponent", [0.2, 0.5, 1.0])
def test_free_exponent_recovered_within_its_interval(exponent):
    lr, boot = _synthetic(0.01 * BATCH**exponent)
    fit = fit_scaling(BATCH, lr, boot, n_seeds=5)
    lo, hi = fit.exponent_interval
    assert lo <= exponent <= hi
    assert hi - lo < 0.1                       # informative, not a blanket interval


def test_exponent_interval_coverage_at_five_seeds():
    # 40 synthetic studies of 5 seeds: the nominal 95% interval must cover the true exponent
    # in most of them (binomial sd of the rate at 0.95 is 0.034; 0.85 is three sd below)
    covered = []
    for seed in range(40):
        lr, boot = _synthetic(0.01 * BATCH**0.5, seed=100 + seed, n_boot=100)
        lo, hi = fit_scaling(BATCH, lr, boot, n_seeds=5).exponent_interval
        covered.append(lo <= 0.5 <= hi)
    assert np.mean(covered) >= 0.85


def test_rule_comparison_picks_the_generating_rule():
    sat, sat_boot = _synthetic(saturating_rule(BATCH, 0.5, 60.0), noise=0.05)
    fit = fit_scaling(BATCH, sat, sat_boot, n_seeds=5)
    assert fit.preferred == "saturating"
    log, log_boot = _synthetic(logarithmic_rule(BATCH, 0.003, 0.2), noise=0.02)
    assert fit_scaling(BATCH, log, log_boot, n_seeds=5).preferred == "logarithmic"
    lo, hi = fit.rules["saturating"].intervals["b_noise"]
    assert lo <= 60.0 <= hi
    sq, sq_boot = _synthetic(sqrt_rule(BATCH, 0.01), noise=0.05)
    fit = fit_scaling(BATCH, sq, sq_boot, n_seeds=5)
    assert fit.preferred in ("sqrt", "surge")  # surge -> sqrt as B_noise grows past the data
    assert fit.rules["sqrt"].aicc < fit.rules["linear"].aicc
    assert fit.excluded == ("constant", "linear")           # the interval excludes 0 and 1
    assert "consistent with square root" in fit.verdict("test")
    assert "excludes constant (0) and linear (1)" in fit.verdict("test")
    assert "preferred over" not in fit.verdict("test")      # no comparison of an excluded rule


def test_ties_name_every_rule_within_two():
    """Indistinguishable rules are reported as a tie, never as one winner."""
    lr, boot = _synthetic(0.01 * BATCH**0.5, noise=0.1)
    fit = fit_scaling(BATCH, lr, boot, n_seeds=5)
    best = fit.rules[fit.preferred].aicc
    assert set(fit.tied) == {n for n, r in fit.rules.items() if r.aicc - best < 2}
    assert fit.tied[0] == fit.preferred and "power" in fit.rules
    if len(fit.tied) > 1:
        assert "tie for the best fit" in fit.verdict("x")


def test_local_exponents_follow_the_curve():
    # linear up to B_noise, flat above: local exponents near 1 at small B and near 0 at large B,
    # each interval covering the noise-free value
    truth = saturating_rule(BATCH, 0.5, 60.0)
    lr, boot = _synthetic(truth, noise=0.03)
    fit = fit_scaling(BATCH, lr, boot, n_seeds=5)
    exact = np.diff(np.log(truth)) / np.diff(np.log(BATCH))
    inside = (fit.local_intervals[:, 0] <= exact) & (exact <= fit.local_intervals[:, 1])
    assert inside.sum() >= len(exact) - 1
    assert fit.local_exponents[0] > 0.8 and fit.local_exponents[-1] < 0.2
    assert fit.growth == pytest.approx(lr[-1] / lr[0])
    assert fit.growth_interval[0] <= fit.growth <= fit.growth_interval[1]


def test_single_seed_gives_point_intervals():
    fit = fit_scaling(BATCH, 0.01 * BATCH**0.5, np.empty((0, BATCH.size)))
    assert fit.exponent_interval[0] == fit.exponent_interval[1] == pytest.approx(0.5)


@pytest.mark.parametrize("lr", [[0.1, -0.2, 0.3], [0.1, np.nan, 0.3], [0.1, 0.2]])
def test_fit_rejects_bad_optima(lr):
    with pytest.raises(ValueError):
        fit_rule("linear", [1, 2, 4], lr)


@given(st.integers(0, 3))
def test_too_few_points_for_aicc_is_infinite(extra):
    b = BATCH[:3 + extra]
    fit = fit_rule("saturating", b, saturating_rule(b, 0.5, 30.0))
    assert np.isinf(fit.aicc) == (b.size <= 4)


def test_a_batch_size_parameter_outside_the_data_has_no_meaning_printed():
    """Linear optima: the saturating rule's B_noise runs to its upper bound, far beyond the
    largest batch size, and its meaning says so; the rate parameters keep theirs."""
    from compare.fit._summary import fit_summary
    b = BATCH
    lr, boot = _synthetic(0.01 * b)
    summary = fit_summary(fit_scaling(b, lr, boot, n_seeds=5), "toy")
    saturating = summary["rules"]["saturating"]
    assert saturating["params"]["b_noise"] > 2048
    assert saturating["meanings"][1].startswith("outside the measured batch sizes (2-2048)")
    assert saturating["meanings"][0] == "the large-batch (noise-free) optimum"
    lr, boot = _synthetic(0.05 / (1 + 40 / b))
    curved = fit_summary(fit_scaling(b, lr, boot, n_seeds=5), "toy")["rules"]["saturating"]
    assert 2 <= curved["params"]["b_noise"] <= 2048
    assert curved["meanings"][1].startswith("gradient noise scale")
