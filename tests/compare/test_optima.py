"""The optimal-lr study's own estimators: what its intervals include."""

from types import SimpleNamespace

import numpy as np

from compare.analysis._optima import _with_grid_resolution


def test_a_grid_rate_is_known_to_half_a_grid_step_and_a_sub_grid_one_to_its_resamples():
    """The steps-to-target interval is widened to half a grid step around a rate that is a
    grid rate (every resample may pick it), and left as the resamples give it otherwise."""
    cell = SimpleNamespace(lrs=0.01 * 1.25 ** np.arange(10))
    on_grid, off_grid = cell.lrs[4], cell.lrs[4] * 1.1
    got = _with_grid_resolution([cell, cell], np.array([on_grid, off_grid]),
                                np.array([[on_grid, on_grid], [off_grid * 0.99, off_grid * 1.01]]))
    np.testing.assert_allclose(got[0], [on_grid / 1.25**0.5, on_grid * 1.25**0.5], rtol=1e-12)
    np.testing.assert_allclose(got[1], [off_grid * 0.99, off_grid * 1.01], rtol=1e-12)
