"""The noise-scale study: the critical batch size per target, the noise scale at the same loss,
the predicted rate; its sentences follow its numbers and its summary fits the schema."""

import dataclasses

import jsonschema
import numpy as np
import pytest

import nqm
from compare import (
    analyze,
    noise_scale_conclusions,
    noise_scale_study,
    results_schema,
    summarize_noise_scale,
)
from compare.analysis._gns import _at_loss
from empirical import LRGrid, NoiseTrace, SweepSpec, run_sweep
from empirical.files import strict_json


@pytest.fixture(scope="module")
def least_squares_noise():
    spec = SweepSpec("linear-sgd", (2, 16, 64, 512), LRGrid(base=0.01, ratio=1.25, k_max=24),
                     seeds=(0, 1, 2), extend=False)
    return noise_scale_study(analyze(run_sweep(spec, progress=False), n_boot=50), n_boot=50)


def test_summary_fits_the_schema_and_the_sentences_state_its_counts(least_squares_noise):
    gns = least_squares_noise
    summary = strict_json(summarize_noise_scale(gns))
    schema = results_schema()
    jsonschema.validate(summary, {**schema["$defs"]["noise_scale"], "$defs": schema["$defs"]})
    prediction = summary["prediction"]
    inside = sum(i for i, c in zip(prediction["inside"], prediction["counted"], strict=True) if c)
    line = summary["conclusions"][-1]
    assert f"inside the measured 95% interval at {inside} of 4 batch sizes" in line
    first = summary["critical_batch"][0]
    assert f"{first['b_crit']:.3g} [{first['b_crit_interval'][0]:.3g}" in summary["conclusions"][0]
    moved = dataclasses.replace(gns, inside=np.ones(4, dtype=bool))
    assert "at 4 of 4 batch sizes" in noise_scale_conclusions(moved)[-1]
    point = dict(b_noise=30.0, lr_max=0.01, exact_lr=gns.optimum_lr / 2)
    surge = dataclasses.replace(gns, prediction_kind="surge", inside=np.ones(4, dtype=bool),
                                sign_descent=dict(start=point, end=point))
    line = noise_scale_conclusions(surge)[-1]
    assert "at 4 of 4 batch sizes" in line and "at the end is 0.5-0.5 of the measured" in line
    from_b_crit = dataclasses.replace(surge, surge_b_crit=40.0,
                                      surge_from_b_crit=gns.optimum_interval[:, 1] * 2)
    line = noise_scale_conclusions(from_b_crit)[-1]
    assert "peak at the measured B_crit = 40" in line and "inside at 0 of 3" in line   # no anchor


def test_the_targets_fit_hyperbolas_and_the_exact_noise_scale_is_the_theory(least_squares_noise):
    gns = least_squares_noise
    assert np.all(np.diff(gns.targets) > 0)                  # loosest last
    fitted = 0
    for target, fit, steps in zip(gns.targets, gns.fits, gns.steps, strict=True):
        assert np.all(np.isfinite(steps))
        if fit is None:       # counts censored at one update are left out: too few remain
            assert any(f"target {target:.4g} reached within the first update" in n
                       for n in gns.notes)
            continue
        fitted += 1
        assert fit.b_crit_interval[0] < fit.b_crit < fit.b_crit_interval[1]
        assert fit.e_min == pytest.approx(fit.s_min * fit.b_crit)
    assert fitted >= 1
    theory = nqm.LeastSquaresSGD(dim=16, noise_std=5.0, init_error=512.0)
    want = 17 + 25 * 256 / (16 * (gns.targets - 25.0))
    np.testing.assert_allclose(gns.exact_noise_at_target, want, rtol=1e-12)
    np.testing.assert_allclose(theory.noise_scale(16 * (gns.targets - 25.0)).b_noise, want)
    # the run's estimate at the same loss against the exact value of the population: the data
    # set is finite (10,000 examples) and the loss is interpolated between checkpoints
    reached = np.isfinite(gns.noise_at_target[:, 0])
    assert reached.any()
    ratio = gns.noise_at_target[reached, 0] / gns.exact_noise_at_target[reached]
    assert np.all((ratio > 0.6) & (ratio < 1.6))


def _trace(test_loss, b_simple, rel_se=0.1):
    n = len(test_loss)
    ones = np.ones(n)
    return NoiseTrace(0.1, 8, "two-batch", np.arange(n), ones, np.asarray(test_loss, float),
                      ones, np.asarray(b_simple, float), rel_se * ones,
                      rel_se * np.asarray(b_simple, float), np.asarray(b_simple, float),
                      np.asarray(b_simple, float), ones, ones, 0.0)


def test_noise_at_a_loss_is_interpolated_in_log_log():
    trace = _trace([11.0, 5.0, 2.0], [10.0, 40.0, 90.0])
    value, low, high = _at_loss(trace, 1.0 + np.sqrt(4.0 * 1.0), floor=1.0)   # excess 2
    # excess 4 -> 40 and excess 1 -> 90: at excess 2, log B = log 40 + (1/2) log(90/40)
    assert value == pytest.approx(np.sqrt(40.0 * 90.0))
    half = 1.959963984540054 * np.sqrt(2) * 0.1
    assert (low, high) == pytest.approx((value * np.exp(-half), value * np.exp(half)))
    assert np.isnan(_at_loss(trace, 1.5, floor=1.0)).all()            # never reached
    assert _at_loss(trace, 20.0, floor=1.0)[0] == pytest.approx(10.0)  # already at the start
