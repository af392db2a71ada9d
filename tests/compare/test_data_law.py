"""L(N, D) = E + A N^-alpha + B D^-beta fitted as Hoffmann et al.'s approach 3: known parameters
recovered, intervals that cover them, convergence reported, bad input refused."""

import numpy as np
import pytest

from compare import fit_data_law

TRUE = dict(E=1.82, A=482.0, B=2085.0, alpha=0.348, beta=0.366)
"""Besiroglu et al.'s estimate on Hoffmann et al.'s data, as the law the points are drawn from."""


def _points(noise: float, seed: int, sizes=(5, 5)):
    grid = np.meshgrid(np.geomspace(1e5, 1e7, sizes[0]), np.geomspace(1e6, 1e8, sizes[1]))
    n, d = (a.ravel() for a in grid)
    law = TRUE["E"] + TRUE["A"] * n ** -TRUE["alpha"] + TRUE["B"] * d ** -TRUE["beta"]
    return n, d, law * np.exp(noise * np.random.default_rng(seed).standard_normal(n.size))


def test_noiseless_points_give_the_law_back_and_the_fit_says_it_converged():
    n, d, loss = _points(0.0, 0)
    fit = fit_data_law(n, d, loss, n_boot=20)
    for name, value in TRUE.items():
        assert getattr(fit, name) == pytest.approx(value, rel=1e-4), name
    assert fit.converged and fit.agreeing_starts >= 2 and fit.starts == 243
    assert fit.objective < 1e-12
    np.testing.assert_allclose(fit.predict(n, d), loss, rtol=1e-8)
    split = fit.compute_optimal_exponents()
    assert split["a"][0] == pytest.approx(0.366 / (0.348 + 0.366), rel=1e-4)
    assert split["a"][0] + split["b"][0] == pytest.approx(1.0)


def test_intervals_cover_the_law_over_noisy_draws():
    """Eight draws with 2% noise on a 5 x 5 grid: the bootstrap over points covers each
    exponent at least 6 times of 8 (nominal 95%: 8 of 8 with probability 0.66, 6 or fewer
    with probability 0.006), and the point estimates scatter around the truth."""
    covered = {"alpha": 0, "beta": 0, "E": 0}
    estimates = []
    for seed in range(8):
        fit = fit_data_law(*_points(0.02, seed), n_boot=40, seed=seed)
        assert fit.converged
        estimates.append(fit.alpha)
        for name in covered:
            lo, hi = fit.intervals[name]
            covered[name] += lo <= TRUE[name] <= hi
    assert min(covered.values()) >= 6, covered
    assert abs(np.median(estimates) - TRUE["alpha"]) < 0.03


def test_bad_points_are_refused():
    n, d, loss = _points(0.0, 0)
    with pytest.raises(ValueError, match="one value per point"):
        fit_data_law(n, d[:-1], loss)
    with pytest.raises(ValueError, match="at least 6 points over at least 2 parameter counts"):
        fit_data_law(np.full(8, 1e6), d[:8], loss[:8])
    with pytest.raises(ValueError, match="losses"):
        fit_data_law(n, d, -loss)
