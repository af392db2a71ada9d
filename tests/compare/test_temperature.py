"""The temperature study's estimator on curves with known answers: the aligning exponent of
shifted curves at any k (off the grid's lattice), the crossover and its censoring, the exact
least-squares dynamics at equal examples, and the sentences read from their numbers."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nqm
from compare.analysis._temperature import (
    censored_interval,
    collapse_exponent,
    crossover,
)
from compare.studies import temperature

LRS = 1e-3 * 1.25 ** np.arange(40)


def _curve(lrs, centre, floor=1.0):
    """A basin in log lr: floor + exp(0.6 (log lr - log centre)^2)."""
    return floor + np.exp(0.6 * np.log(lrs / centre) ** 2)


@given(k=st.floats(-0.3, 1.3), centre=st.floats(3e-3, 0.05), ratio=st.sampled_from([2, 4, 8]))
def test_the_exponent_of_shifted_curves_is_recovered(k, centre, ratio):
    small = _curve(LRS, centre)[None]
    large = _curve(LRS, centre * ratio**k)[None]
    assert collapse_exponent(LRS, small, LRS, large, ratio, 1.0)[0] == pytest.approx(k, abs=0.011)


def test_curves_without_a_shared_basin_are_not_scored():
    small = _curve(LRS, 1e-3 * 1.25**3)[None]
    large = _curve(LRS, 1e-3 * 1.25**36)[None]
    assert np.isnan(collapse_exponent(LRS, small, LRS, large, 2.0, 1.0)[0])


def test_the_crossover_interpolates_and_censors():
    b = np.array([2.0, 8.0, 32.0, 128.0])                   # midpoints 4, 16, 64
    rows = np.array([[1.0, 0.75, 0.25], [1.0, 1.0, 0.9], [0.2, 1.0, 1.0], [np.nan] * 3,
                     [np.nan, 1.0, 0.0]])
    stars = crossover(rows, b)
    assert stars[0] == pytest.approx(32.0)                  # halfway from 16 to 64 in log B
    assert stars[1] == np.inf and stars[2] == -np.inf and np.isnan(stars[3])
    assert stars[4] == pytest.approx(32.0)
    assert censored_interval(np.array([np.inf] * 50 + [10.0] * 950)) == (10.0, np.inf)
    assert censored_interval(np.array([np.nan, np.nan])) != censored_interval(np.array([1.0]))


def test_exact_least_squares_at_equal_examples_depends_on_lr_over_b():
    """The expected test MSE of online least squares after E examples: per example the log
    contraction is -4T - 4T^2 B + 4T^2 (D + 1), so at small rates the curves of B and 2B at
    equal examples coincide in T = lr/B (k near 1), and the T^2 B term pulls k slightly
    below 1."""
    model = nqm.LeastSquaresSGD(dim=16, noise_std=5.0, init_error=2 * 16**2)
    small = model.expected_test_mse(LRS, 2, 100)[None]
    large = model.expected_test_mse(LRS, 4, 50)[None]
    k = collapse_exponent(LRS, small, LRS, large, 2.0, 25.0)[0]
    assert 0.9 <= k < 1.0


def _entry(**changes):
    entry = dict(label="toy", batch_sizes=[2, 8, 32], examples=[200, 800],
                 exponent=[1.0, -0.5], exponent_interval=[[0.9, 1.1], [-0.5, 0.2]],
                 best_ratio=[1.02, 3.0], best_ratio_interval=[[0.98, 1.05], [2.0, 4.0]], b_star=16.0,
                 b_star_censored=None, b_star_interval=[8.0, None],
                 b_star_interval_censored=[None, "above"], searched=[-0.5, 1.5], notes=[])
    return entry | changes


def test_sentences_read_the_numbers_beside_them():
    line, verdict = temperature.sentences({"toy": _entry()})
    assert "k = 1 [0.9, 1.1] for 2/8, -0.5 [-0.5, 0.2] for 8/32" in line
    assert "1 of 2 at the end of the searched range -0.5 to 1.5" in line
    assert "k >= 0.5 at 1 of 2 pairs" in line and "is 16 [8, above every pair]" in line
    assert "1.02 [0.98, 1.05], 3 [2, 4] times the smaller's" in line
    assert "holds at 1 of 2 pairs, every pair up to B = 8; 2/8 hold." in verdict
    line, verdict = temperature.sentences({"toy": _entry(b_star=None, b_star_censored="below",
                                                         exponent_interval=[[0.2, 1.1]] * 2)})
    assert "is below every pair" in line and "at 0 of 2 pairs, not at the first pair." in verdict
