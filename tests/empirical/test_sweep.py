"""Sweeps: spec validation, determinism, optimum extraction, grid extension, save/load/resume."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import empirical.sweep._run as run_module
import empirical.sweep._tasks as tasks_module
from empirical import (
    LRGrid,
    SweepResult,
    SweepSpec,
    find_optimum,
    run_sweep,
    steps_to_target_optimum,
    subgrid_argmin,
)
from empirical.sweep._optimum import steps_to_target_rows, subgrid_argmin_rows

SMALL = dict(steps=30, n_train=500, n_test=100)


def test_spec_validation_names_the_field():
    for kwargs, name in [(dict(model="linear"), "model"), (dict(batch_sizes=[0]), "batch_sizes"),
                         (dict(lrs=[0.1, np.inf]), "lrs"), (dict(window=31), "window"),
                         (dict(seeds=(1, 1)), "seeds"), (dict(weight_decay=-1.0), "weight_decay"),
                         (dict(model="mlp-adam", steps=10), "steps")]:
        args = dict(model="linear-sgd", batch_sizes=[4], **SMALL) | kwargs
        with pytest.raises(ValueError, match=name):
            SweepSpec(**args)
    spec = SweepSpec("mlp-adam", [64, 4, 4], LRGrid(k_max=3), seeds=[2, 0], **SMALL)
    assert spec.batch_sizes == (4, 64) and SweepSpec.from_dict(spec.to_dict()) == spec


def test_same_seeds_same_numbers():
    spec = SweepSpec("mlp-sgd", [4], [0.01, 0.1], seeds=(0, 1), **SMALL)
    a, b = run_sweep(spec, progress=False), run_sweep(spec, progress=False)
    assert a == b
    other = run_sweep(SweepSpec("mlp-sgd", [4], [0.01, 0.1], seeds=(0, 2), **SMALL),
                      progress=False)
    np.testing.assert_array_equal(a.cells[0].test_loss[0], other.cells[0].test_loss[0])
    assert not np.array_equal(a.cells[0].test_loss[1], other.cells[0].test_loss[1])


def test_subgrid_recovers_a_parabola_vertex():
    lrs = 0.01 * 1.25 ** np.arange(20)
    true = 0.0731
    metric = 3.0 + (np.log(lrs) - np.log(true)) ** 2
    assert subgrid_argmin(lrs, metric) == pytest.approx(true, rel=1e-9)


def _polyfit_minimum(lrs, values):
    """The sub-grid estimate as its docstring states it, written independently: numpy's
    polyfit through the argmin and up to two finite neighbours each side, a cubic's local
    minimum (the root of its derivative where the second derivative is positive) where 4-5
    points allow one, else the parabola's vertex, clipped to the points' span."""
    best = int(np.argmin(values))
    lo = hi = best
    while lo > 0 and best - lo < 2 and np.isfinite(values[lo - 1]):
        lo -= 1
    while hi < len(values) - 1 and hi - best < 2 and np.isfinite(values[hi + 1]):
        hi += 1
    if lo == best or hi == best:
        return lrs[best]
    x = np.log(lrs[lo:hi + 1])
    y = values[lo:hi + 1]
    if hi - lo >= 3:
        cubic = np.polyfit(x, y, 3)
        roots = np.roots(np.polyder(cubic))
        minima = [r.real for r in roots if abs(r.imag) < 1e-9 * max(1.0, abs(r.real))
                  and np.polyval(np.polyder(cubic, 2), r.real) > 0]
        if minima:
            return np.exp(np.clip(minima[0], x[0], x[-1]))
    a, b, _ = np.polyfit(x, y, 2)
    return lrs[best] if a <= 0 else np.exp(np.clip(-b / (2 * a), x[0], x[-1]))


def test_subgrid_minimum_is_unbiased_where_a_parabola_is_not():
    """On an asymmetric valley (a loss that rises faster toward large rates) the cubic's
    minimum on a quarter-step grid is within 2e-4 of the true minimum, ten times closer than
    the parabola's vertex through the same points."""
    true = 0.0731
    lrs = 0.01 * 1.25 ** (np.arange(60) / 4)
    x = np.log(lrs / true)
    metric = np.exp(2 * x) - 2 * x                     # minimum at x = 0, steep above it
    got = subgrid_argmin(lrs, metric)
    assert got == pytest.approx(true, rel=2e-4)
    best = int(np.argmin(metric))
    a, b, _ = np.polyfit(np.log(lrs[best - 2:best + 3]), metric[best - 2:best + 3], 2)
    assert abs(np.exp(-b / (2 * a)) / true - 1) > 10 * abs(got / true - 1)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10**6), n_lr=st.integers(1, 12), diverged=st.floats(0.0, 0.5),
       scale=st.sampled_from([1e-6, 1.0, 1e6]))
def test_subgrid_rows_equal_a_polyfit_per_row(seed, n_lr, diverged, scale):
    """Every row at once (what the bootstraps use) gives each row's polyfit minimum to 1e-8,
    diverged rates (inf), cubics without a minimum and non-convex fits included."""
    rng = np.random.default_rng(seed)
    lrs = 1e-3 * 1.25 ** np.sort(rng.choice(40, n_lr, replace=False))
    values = scale * (1 + rng.standard_normal((30, n_lr)) ** 2 + (np.log(lrs) + 4) ** 2 / 5)
    values[rng.random(values.shape) < diverged] = np.inf
    values[:, 0] = np.where(np.isfinite(values).any(axis=1), values[:, 0], 1.0)
    got = subgrid_argmin_rows(lrs, values)
    want = [_polyfit_minimum(lrs, row) for row in values]
    np.testing.assert_allclose(got, want, rtol=1e-8)
    assert subgrid_argmin(lrs, values[0]) == got[0]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10**6), target=st.floats(0.5, 5.0))
def test_steps_to_target_rows_equal_the_optimum_per_row(seed, target):
    """The batched fewest-steps rule equals the rule as its docstring states it, written here
    as a loop per row: the first step from which the seed-mean loss stays at or below the
    target, interpolated linearly from the step before, censored at 1 within the first update,
    the rate the local cubic's minimum of the counts (ties by geometric mean), (nan, inf)
    where no rate stays below; and
    :func:`steps_to_target_optimum` on each row agrees."""
    rng = np.random.default_rng(seed)
    lrs = np.array([0.01, 0.02, 0.05, 0.1])
    curves = rng.uniform(0, 6, (20, 3, 4, 8))                  # 20 rows, 3 seeds, not monotone
    curves[rng.random(curves.shape) < 0.05] = np.inf
    lr, steps, censored = steps_to_target_rows(
        lrs, np.where(np.isfinite(curves), curves, np.inf).mean(axis=1), target)
    for k in range(len(curves)):
        mean = np.where(np.isfinite(curves[k]), curves[k], np.inf).mean(axis=0)
        counts, first_ones = [], []
        for row in mean:
            t = next((t for t in range(len(row)) if all(v <= target for v in row[t:])), None)
            if t is None:
                counts.append(np.inf)
            elif t == 0:
                counts.append(1.0)
            else:
                before, at = row[t - 1], row[t]
                counts.append(t + (min(1.0, (before - target) / (before - at))
                                   if np.isfinite(before) else 1.0))
            first_ones.append(t == 0)
        best = min(counts)
        if np.isfinite(best):
            tied = [i for i, c in enumerate(counts) if c == best]
            cut = any(first_ones[i] for i in tied)
            rate = (np.exp(np.mean(np.log(lrs[tied]))) if cut or len(tied) > 1
                    else _polyfit_minimum(lrs, np.array(counts)))
            want = (rate, best, cut)
        else:
            want = (np.nan, np.inf, False)
        np.testing.assert_allclose([lr[k], steps[k]], want[:2], rtol=1e-12)
        assert censored[k] == want[2]
        got = steps_to_target_optimum(lrs, curves[k], target)
        np.testing.assert_allclose(got[:2], want[:2], rtol=1e-12)
        assert got[2] == want[2]


def test_basin_on_excess_versus_total_loss():
    """Noise floor 25: a 5% band on the total loss spans decades, on the excess it does not."""
    lrs = 1e-3 * 1.25 ** np.arange(40)
    metric = (25.0 + 0.5 * (np.log(lrs / 0.05)) ** 2)[:, None]
    opt = find_optimum(16, lrs, metric, floor=25.0, tolerance=0.05)
    assert opt.basin[0] == opt.basin[1] == opt.lr
    assert opt.lr == pytest.approx(0.05, rel=0.13)
    wide = lrs[metric[:, 0] <= 1.05 * metric[:, 0].min()]
    assert wide[-1] / wide[0] > 10                      # the homework's band: over a decade
    assert not opt.on_edge


def test_bootstrap_interval_covers_the_seed_optima_and_edges_are_flagged():
    rng = np.random.default_rng(0)
    lrs = 1e-3 * 1.25 ** np.arange(30)
    centers = 0.05 * np.exp(0.1 * rng.standard_normal(8))
    metric = 1.0 + (np.log(lrs[:, None]) - np.log(centers[None, :])) ** 2
    opt = find_optimum(4, lrs, metric)
    assert opt.interval[0] <= np.exp(np.log(centers).mean()) <= opt.interval[1]
    np.testing.assert_allclose(opt.seed_lrs, centers, rtol=1e-6)
    assert find_optimum(4, lrs[:5], metric[:5]).on_edge


def test_steps_to_target_optimum():
    """A dip below the target that does not last does not count; the count is interpolated;
    reaching it within the first update is censored."""
    curves = np.array([[[5, 4, 3, 2], [5, 3, 1, 1], [5, 2.5, np.inf, np.inf]]], dtype=float)
    assert steps_to_target_optimum([0.1, 0.2, 0.4], curves, 3.0) == pytest.approx(
        (0.2, 2.0, False))
    assert steps_to_target_optimum([0.1, 0.2, 0.4], curves, 3.5) == pytest.approx(
        (0.2, 1.75, False))
    assert steps_to_target_optimum([0.1, 0.2, 0.4], curves, 6.0) == pytest.approx(
        (np.sqrt(0.1 * 0.2), 1.0, True))
    assert steps_to_target_optimum([0.1, 0.2, 0.4], curves, 0.5)[1] == np.inf


@pytest.mark.parametrize("grid,side", [(LRGrid(1e-4, 1.25, 0, 5), "up"),
                                       (LRGrid(0.05, 1.25, 0, 5), "down")])
def test_grid_extends_until_the_optimum_is_interior(grid, side):
    spec = SweepSpec("linear-sgd", [8], grid, max_extensions=12, **SMALL)
    result = run_sweep(spec, progress=False)
    opt = result.optima()[0]
    assert not opt.on_edge
    assert result.cells[0].notes and side in result.cells[0].notes[0]
    assert result.cells[0].lrs.size > 6 and np.all(np.diff(result.cells[0].lrs) > 0)


def test_explicit_lrs_are_used_as_given():
    spec = SweepSpec("linear-sgd", [8], [1e-4, 2e-4], **SMALL)
    result = run_sweep(spec, progress=False)
    assert result.cells[0].lrs.tolist() == [1e-4, 2e-4] and result.optima()[0].on_edge


def test_save_load_and_resume(tmp_path, monkeypatch):
    spec = SweepSpec("mlp-sgd", [2, 8, 32], [0.01, 0.1, 1.0, 30.0], seeds=(0, 1), **SMALL)
    full = run_sweep(spec, progress=False)
    assert full.cells[0].diverged[-1].all()                       # lr 30 diverges, kept
    assert np.isnan(full.cells[0].test_loss[:, -1, -1]).all()
    full.save(tmp_path / "saved")
    assert SweepResult.load(tmp_path / "saved") == full

    calls = []
    original = tasks_module._train

    def interrupted(spec_, lrs, batch_sizes, seeds):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.extend(batch_sizes)
        return original(spec_, lrs, batch_sizes, seeds)

    monkeypatch.setattr(tasks_module, "_train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, out=tmp_path / "run", progress=False)
    assert [c.batch_size for c in SweepResult.load(tmp_path / "run").cells] == [2, 8]
    calls.clear()
    monkeypatch.setattr(tasks_module, "_train",
                        lambda s, lrs, bs, seeds: calls.extend(bs) or original(s, lrs, bs, seeds))
    resumed = run_sweep(spec, out=tmp_path / "run", progress=False)
    assert calls == [32] and resumed == full                    # nothing finished recomputed

    with pytest.raises(ValueError, match="different spec.*steps"):
        run_sweep(SweepSpec("mlp-sgd", [2], [0.1], **(SMALL | dict(steps=31))),
                  out=tmp_path / "run")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "sweep.json").write_text("{not json")
    with pytest.raises(ValueError, match="sweep.json.* is not valid JSON"):
        SweepResult.load(tmp_path / "broken")


def test_least_squares_lock_step_groups_resume(tmp_path, monkeypatch):
    """Least-squares batch sizes train in lock step, in groups bounded by their work; each
    group is saved when it finishes and a rerun trains only the groups that did not."""
    spec = SweepSpec("linear-sgd", [2, 8, 32, 128], [0.003, 0.01, 0.03, 0.1], seeds=(0, 1),
                     **SMALL)
    full = run_sweep(spec, progress=False)
    # work per batch size B: steps x seeds x (B + n_lr x dim); a budget that holds [2, 8] only
    monkeypatch.setattr(run_module, "_LOCKSTEP_WORK", spec.steps * 2 * (2 + 8 + 2 * 4 * 16))
    assert run_module._lockstep_groups(spec, 16, spec.batch_sizes) == [[2, 8], [32], [128]]
    calls = []
    original = tasks_module._train

    def interrupted(spec_, lrs, batch_sizes, seeds):
        if calls:
            raise KeyboardInterrupt
        calls.append(list(batch_sizes))
        return original(spec_, lrs, batch_sizes, seeds)

    monkeypatch.setattr(tasks_module, "_train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, out=tmp_path, progress=False)
    assert [c.batch_size for c in SweepResult.load(tmp_path).cells] == [2, 8]
    calls.clear()
    monkeypatch.setattr(tasks_module, "_train",
                        lambda s, lrs, bs, seeds: calls.append(list(bs)) or original(s, lrs, bs, seeds))
    resumed = run_sweep(spec, out=tmp_path, progress=False)
    assert calls == [[32], [128]]
    for got, want in zip(resumed.cells, full.cells, strict=True):  # grouping changes no number
        np.testing.assert_allclose(got.test_loss, want.test_loss, rtol=1e-12)
        np.testing.assert_allclose(got.train_loss, want.train_loss, rtol=1e-12)


def test_rates_in_any_order_give_the_same_sweep():
    """Explicit rates are used in increasing order, whatever order they were given in."""
    shuffled = SweepSpec("linear-sgd", [4, 64], [0.1, 0.003, 0.3, 0.01, 0.03], steps=30,
                         n_train=500)
    ordered = SweepSpec("linear-sgd", [4, 64], [0.003, 0.01, 0.03, 0.1, 0.3], steps=30,
                        n_train=500)
    assert shuffled == ordered
    a, b = run_sweep(shuffled, progress=False), run_sweep(ordered, progress=False)
    assert a == b and [o.subgrid_lr for o in a.optima()] == [o.subgrid_lr for o in b.optima()]

