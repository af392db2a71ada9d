"""Kaplan et al.'s trajectory prediction: the real-step first passage, the hyperbola and power
law recovered from steps drawn from them, a law that is not a power law caught, and the
sentences read from the numbers beside them."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compare.analysis._trajectories import _first_passage, _predict
from compare.studies import trajectories

B = np.array([2.0, 4, 16, 64, 256, 1024, 2048])


@given(rate=st.floats(0.3, 0.95), start=st.floats(1.0, 100.0), at=st.lists(
    st.floats(0.0, 40.0), min_size=1, max_size=6))
def test_first_passage_counts_real_steps_on_a_geometric_curve(rate, start, at):
    """log(L - floor) falls linearly in the steps, so the interpolated passage is exact."""
    floor = 0.0
    envelope = floor + start * rate ** np.arange(51.0)
    levels = floor + start * rate ** np.asarray(at)
    steps = _first_passage(envelope[None], levels, floor)[0]
    assert steps == pytest.approx(np.minimum(at, np.inf), abs=1e-9)
    assert np.isinf(_first_passage(envelope[None], np.array([floor + start * rate**51]), floor))


def _steps(b_crit, s_min):
    """(1, n_l, n_b) steps on McCandlish's hyperbola."""
    return (s_min[:, None] * (1 + b_crit[:, None] / B[None]))[None]


@settings(max_examples=25, deadline=None)
@given(exponent=st.floats(-1.5, -0.2), scale=st.floats(5.0, 200.0), s0=st.floats(0.5, 50.0))
def test_steps_from_a_power_law_are_predicted_exactly(exponent, scale, s0):
    excess = np.geomspace(10.0, 1.0, 12)
    b_crit = scale * excess**exponent
    steps = _steps(b_crit, s0 * excess**-1.3)
    crit, slope, predicted = _predict(np.log(B), steps, excess, reference=3)
    assert crit[0] == pytest.approx(b_crit, rel=1e-6)
    assert slope[0] == pytest.approx(exponent, abs=1e-6)
    keep = np.arange(B.size) != 3
    assert predicted[0][:, keep] == pytest.approx(steps[0][:, keep], rel=1e-5)
    assert np.all(np.isnan(predicted[0][:, 3]))


def test_a_critical_batch_that_is_not_a_power_law_is_mispredicted():
    """B_crit jumps tenfold halfway down the levels: the power law through it misses both
    halves, and the error says so."""
    excess = np.geomspace(10.0, 1.0, 12)
    b_crit = np.where(np.arange(12) < 6, 20.0, 200.0)
    steps = _steps(b_crit, 10 / excess)
    _, _, predicted = _predict(np.log(B), steps, excess, reference=3)
    error = np.median(np.abs(np.log(predicted[0][:, :3] / steps[0][:, :3])), axis=0)
    assert error.min() > 0.1


def _entry():
    return dict(label="toy", batch_sizes=[2, 64, 256], reference_batch_size=64, noise_floor=1.0,
                levels=[3.0, 2.0], steps=[[10.0, 2.0, 1.5], [20.0, 4.0, 2.5]],
                steps_interval=None, b_crit=[30.0, 40.0], b_crit_interval=None,
                exponent=-0.7, exponent_interval=[-0.9, None], predicted=None,
                error=[0.1, None, 0.01], seed_noise=[0.05, 0.02, 0.02], within_first_update=0,
                exact=None, notes=[])


def test_sentences_read_the_numbers_beside_them():
    first, second = trajectories.sentences({"toy": _entry()})
    assert "runs 30-40" in first and "-0.7 [-0.9, nan]" in first
    assert "10.5% at B = 2 (seed noise 5.13%)" in second
    assert "1.01% at B = 256" in second
    assert "exceeds the measured steps' own seed noise at 1 of 2 batch sizes" in second
