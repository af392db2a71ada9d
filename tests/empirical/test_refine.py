"""The refined grid around each optimum and the coverage of the optimum's interval.

The coverage study runs the least-squares sweep of ``lrbs run`` (seven batch sizes, the 1.25
grid refined to a quarter step, 100 steps) on 16 disjoint sets of 5 seeds and counts how
often the interval of :func:`empirical.find_optimum` holds the exact optimum, the continuous
argmin of :meth:`nqm.FiniteSampleLeastSquaresSGD.optimal_lr` on the same training set.
"""

import numpy as np
import pytest

import nqm
from empirical import LRGrid, SweepSpec, run_sweep
from empirical.sweep._optimum import _local_minima

SMALL = dict(steps=50, n_train=2000, n_test=200)


def test_refine_needs_a_grid_and_round_trips():
    with pytest.raises(ValueError, match="refine"):
        SweepSpec("linear-sgd", [4], [0.01, 0.1], refine=4, **SMALL)
    with pytest.raises(ValueError, match="refine"):
        SweepSpec("linear-sgd", [4], LRGrid(), refine=-1, **SMALL)
    spec = SweepSpec("linear-sgd", [4], LRGrid(), refine=4, **SMALL)
    assert SweepSpec.from_dict(spec.to_dict()) == spec
    assert "refine" not in SweepSpec("linear-sgd", [4], LRGrid(), **SMALL).to_dict()


def test_refine_adds_quarter_steps_around_the_optimum_and_keeps_the_grid_runs(tmp_path):
    """The refined cell holds the grid's runs unchanged plus ``lr_k * 1.25**(j/4)`` for
    ``0 < |j| < 4`` around the grid's seed-mean argmin ``lr_k``; a rerun loads it."""
    plain = run_sweep(SweepSpec("linear-sgd", (4, 256), LRGrid(k_max=24), seeds=(0, 1), **SMALL),
                      progress=False)
    spec = SweepSpec("linear-sgd", (4, 256), LRGrid(k_max=24), seeds=(0, 1), refine=4, **SMALL)
    refined = run_sweep(spec, out=tmp_path, progress=False)
    for grid_cell, cell in zip(plain.cells, refined.cells, strict=True):
        best = grid_cell.lrs[np.argmin(grid_cell.metric(1).mean(axis=1))]
        fine = best * 1.25 ** (np.array([-3, -2, -1, 1, 2, 3]) / 4)
        np.testing.assert_allclose(cell.lrs, np.sort(np.concatenate([grid_cell.lrs, fine])),
                                   rtol=1e-12)
        on_grid = np.isclose(cell.lrs[:, None], grid_cell.lrs[None], rtol=1e-12).any(axis=1)
        np.testing.assert_array_equal(cell.test_loss[:, on_grid], grid_cell.test_loss)
    assert run_sweep(spec, out=tmp_path, progress=False) == refined
    once = run_sweep(SweepSpec("linear-sgd", (4, 256), LRGrid(k_max=24), seeds=(0, 1), refine=1,
                               **SMALL), progress=False)           # a whole step: nothing new
    assert all(np.array_equal(a.lrs, b.lrs) for a, b in zip(once.cells, plain.cells, strict=True))


def test_the_interval_covers_the_exact_least_squares_optimum_at_its_nominal_rate():
    """112 intervals (16 seed sets x 7 batch sizes) hold the exact optimum at 95% within two
    binomial standard errors, and no batch size's estimate is biased by more than a third of
    its interval's half-width on average."""
    sizes = (2, 4, 16, 64, 256, 1024, 2048)
    problem = SweepSpec("linear-sgd", sizes, LRGrid()).problem()
    theory = nqm.FiniteSampleLeastSquaresSGD(problem.X_train, problem.y_train, problem.X_test,
                                             problem.y_test)
    exact = np.array([theory.optimal_lr(b, 100, window=1) for b in sizes])
    covered, errors, half_widths = [], [], []
    for first in range(0, 80, 5):
        spec = SweepSpec("linear-sgd", sizes, LRGrid(), steps=100,
                         seeds=tuple(range(first, first + 5)), refine=4)
        optima = run_sweep(spec, progress=False).optima(n_boot=200)
        covered.append([o.interval[0] <= e <= o.interval[1] for o, e in zip(optima, exact, strict=True)])
        errors.append(np.log([o.subgrid_lr for o in optima] / exact))
        half_widths.append([np.log(o.interval[1] / o.interval[0]) / 2 for o in optima])
    covered = np.array(covered)
    rate, standard_error = covered.mean(), np.sqrt(0.95 * 0.05 / covered.size)
    assert abs(rate - 0.95) <= 2 * standard_error, (rate, covered.sum(axis=0))
    assert np.all(np.abs(np.mean(errors, axis=0)) < np.mean(half_widths, axis=0) / 3)


def test_the_local_cubic_is_unbiased_on_the_exact_least_squares_curves():
    """On the exact expected metric at a quarter of the 1.25 step the cubic's minimum errs by
    under 0.1% at every batch size of ``lrbs run``; the quadratic's vertex (the previous local
    model) by up to 1%, and on the 1.25 grid alone by up to 16%."""
    sizes = (2, 4, 16, 64, 256, 1024, 2048)
    problem = SweepSpec("linear-sgd", sizes, LRGrid()).problem()
    theory = nqm.FiniteSampleLeastSquaresSGD(problem.X_train, problem.y_train, problem.X_test,
                                             problem.y_test)
    quarter = 1e-3 * 1.25 ** (np.arange(40 * 4) / 4)
    cubic, quadratic, coarse = [], [], []
    for b in sizes:
        exact = theory.optimal_lr(b, 100, window=1)
        metric = theory.expected_test_mse(quarter, b, 100)[:, -1]
        found = [v[0] for v in _local_minima(quarter, metric[None])]
        cubic.append(found[0] / exact - 1)
        quadratic.append(found[1] / exact - 1)
        coarse.append(_local_minima(quarter[::4], metric[None, ::4])[1][0] / exact - 1)
    assert np.max(np.abs(cubic)) < 1e-3
    assert 5e-3 < np.max(np.abs(quadratic)) < 2e-2
    assert np.max(np.abs(coarse)) > 0.1
