"""The nuisance study (rate, dropout and batch size per shape) and the muP transfer study:
their estimators on constructed runs with known answers, and the verdicts their sentences
draw from the numbers."""

import numpy as np
import pytest

from compare import nuisance_conclusions, plot_nuisance, transfer_conclusions
from compare.analysis._nuisance import NuisanceStudy
from compare.analysis._transfer import Parametrization, valley_edges


def test_valley_edge_is_the_interpolated_crossing_of_twice_the_minimum():
    lrs = 10.0 ** np.arange(-4, 1)                       # 1e-4 ... 1
    curve = np.array([1.0, 0.5, 0.4, 0.6, 1.6])            # 2 x min = 0.8, crossed in (0.1, 1)
    t = (np.log(0.8) - np.log(0.6)) / (np.log(1.6) - np.log(0.6))
    assert valley_edges(lrs, curve[None])[0] == pytest.approx(10 ** (-1 + t))
    assert np.isnan(valley_edges(lrs, np.array([[1.0, 0.5, 0.4, 0.5, 0.7]]))[0])   # none
    assert valley_edges(lrs, np.array([[0.4, 0.9, 1.0, 1.0, 1.0]]))[0] < 1e-3       # first


def _study(val):
    """A study of one shape over batch sizes (16, 64) and dropouts (0, 0.1, 0.15, 0.2)."""
    val = np.asarray(val, dtype=float)
    n_b, n_d = val.shape[:2]
    lr = np.full((1, n_b, n_d), 1e-3)
    return NuisanceStudy(np.array([1000]), np.array([8]), np.array([1]), np.array([16, 64]),
                         np.array([0.0, 0.1, 0.15, 0.2]), val[None], val[None], lr,
                         np.full((10, 1, n_b, n_d), 1e-3), np.zeros((1, n_b, n_d), dtype=bool),
                         np.tile([1e-4, 1e-1], (1, n_b, n_d, 1)))


def test_the_best_cell_and_paired_noise():
    offsets = np.array([0.0, 0.001, -0.001])               # seed effects shared by every cell
    means = np.array([[0.30, 0.28, 0.25, 0.29], [0.31, 0.27, 0.26, 0.35]])
    study = _study(means[..., None] + offsets)
    assert study.best(0) == (0, 2)                          # B = 16, dropout 0.15
    # the shared seed effects cancel in the paired differences: every gap is resolved
    assert study.within_noise(0, "dropout").tolist() == [False, False, True, False]
    # independent seed noise of sd 0.05 against gaps of 0.05 at most: nothing resolved
    noisy = _study(means[..., None] + 0.05 * np.random.default_rng(0).standard_normal((2, 4, 3)))
    assert noisy.within_noise(0, "dropout").all()


def _row(**kw):
    row = dict(width=8, depth=1, n_params=1000, lr=1e-3, lr_interval=[5e-4, 2e-3],
               lr_span=[1e-4, 1e-1], on_edge=False,
               dropout=0.15, batch_size=64, val_loss=0.2, test_loss=0.21,
               dropout_losses=[0.3, 0.25, 0.2, 0.28], batch_size_losses=[0.25, 0.2, 0.22],
               dropouts_within_noise=[False, False, True, False],
               batch_sizes_within_noise=[False, True, False], lr_by_batch_size=[1e-4, 1e-3, 1e-2],
               batch_exponent=dict(exponent=1.0, interval=[0.5, 1.5], verdict=""))
    return {**row, **kw}


def _summary(rows, n_seeds=3):
    return dict(batch_sizes=[16, 64, 256], dropouts=[0.0, 0.1, 0.15, 0.2], n_seeds=n_seeds,
                shapes=rows, law=None)


def test_insights_confirmed_only_beyond_the_noise_at_every_shape():
    text = " ".join(nuisance_conclusions(_summary([_row(), _row(width=16)])))
    assert text.count("confirmed beyond the seeds' noise at 2 of 2") == 3
    assert text.count(": confirmed here.") == 3
    # the same numbers within the noise: not decided, never confirmed
    tied = _row(dropouts_within_noise=[True] * 4, batch_sizes_within_noise=[True] * 3,
                batch_exponent=dict(exponent=1.0, interval=[-0.5, 2.5], verdict=""))
    text = " ".join(nuisance_conclusions(_summary([tied, tied])))
    assert text.count("not decided by these seeds") == 3 and "confirmed here" not in text
    # the opposite beyond the noise: refuted
    against = _row(dropout=0.0, dropout_losses=[0.2, 0.25, 0.3, 0.28],
                   dropouts_within_noise=[True, False, False, False], batch_size=16,
                   batch_sizes_within_noise=[True, False, False],
                   batch_exponent=dict(exponent=-1.0, interval=[-1.5, -0.5], verdict=""))
    text = " ".join(nuisance_conclusions(_summary([against])))
    assert text.count(": refuted here.") == 3
    # an interval reaching past the rates tried is said, not printed as if it pinned the rate
    text = nuisance_conclusions(_summary([_row(lr_interval=[1e-5, 0.3])]))[0]
    assert "[1e-05, 0.3] (reaching past the rates tried, 0.0001-0.1)" in text
    # one seed: no verdict at all
    text = " ".join(nuisance_conclusions(_summary([_row()], n_seeds=1)))
    assert "confirmed" not in text and "refuted here" not in text


def test_two_depths_are_told_apart_in_the_figure_and_the_sentences():
    """``--full`` tunes both depths: a row of panels and a rate panel per depth, and every
    list of per-shape numbers names the depth of its widths."""
    shapes = [(8, 1), (16, 1), (32, 1), (8, 2), (16, 2)]
    val = np.random.default_rng(0).uniform(0.2, 0.3, (5, 2, 4, 3))
    lr = np.broadcast_to([[1e-3], [3e-3]], (5, 2, 4)).copy()             # grows with B
    boot = lr * np.geomspace(0.5, 2, 10)[:, None, None, None]
    study = NuisanceStudy(*(np.array(v) for v in zip(*[(1000, w, d) for w, d in shapes],
                                                         strict=True)),
                          np.array([16, 64]), np.array([0.0, 0.1, 0.15, 0.2]), val, val, lr, boot,
                          np.zeros(lr.shape, dtype=bool), np.tile([1e-4, 1e-1], (5, 2, 4, 1)))
    axes = plot_nuisance(study).get_axes()
    titles = [ax.get_title() for ax in axes if ax.axison]
    assert titles[:5] == [f"width {w}, depth {d}" for w, d in shapes]
    assert [t.split(":")[0] for t in titles[5:]] == ["depth 1", "depth 2"]
    assert sum(not ax.axison for ax in axes) == 1                     # the empty sixth panel
    rows = [_row(width=w, depth=d, untuned_val_loss=0.2, untuned_test_loss=0.21)
            for w, d in shapes]
    text = " ".join(nuisance_conclusions(_summary(rows)))
    assert "at widths 8, 16, 32 of depth 1 and 8, 16 of depth 2 (seed means" in text


def _param(slope_interval, costs, cost_intervals, edge_interval=(-0.1, 0.1)):
    return dict(lr=[1e-3, 1e-3, 1e-3], lr_intervals=[[1e-4, 1e-2]] * 3, slope=0.0,
                slope_interval=list(slope_interval), edge=[0.1, 0.1, 0.1], edge_slope=0.0,
                edge_slope_interval=list(edge_interval), grid_lr=[1e-3, 2e-3, 2e-3],
                base_lr=1e-3, tuned_test_loss=[0.2] * 3, transferred_test_loss=[0.2] * 3,
                transfer_cost=costs, transfer_cost_intervals=cost_intervals)


def test_transfer_verdicts_follow_the_intervals():
    law = dict(E=0.1, A=1.0, alpha=0.5, alpha_at_bound=False,
               intervals=dict(E=[0.09, 0.11], A=[0.5, 2], alpha=[0.3, 0.7]))
    summary = dict(widths=[8, 16, 32], n_params=[1, 2, 3], base_width=8, n_seeds=3,
                   laws=dict(standard=law, mup=law, mup_transferred=law),
                   standard=_param((-1.2, -0.4), [0, 0.05, 0.2], [[0, 0], [-0.1, 0.2], [0.1, 0.3]],
                                   edge_interval=(-0.8, -0.4)),
                   mup=_param((-0.3, 0.4), [0, 0.01, 0.02], [[0, 0], [-0.1, 0.1], [-0.1, 0.2]]))
    standard, mup, cost_sp, cost_mup, _ = transfer_conclusions(summary)
    assert "the optimum falls with width" in standard and "the edge falls with width" in standard
    assert "the optimum does not move resolvably" in mup
    assert "beyond the seeds' noise at width(s) 32" in cost_sp
    assert "costs no loss beyond the seeds' noise at any width" in cost_mup


def test_transfer_study_refuses_mismatched_runs():
    from compare import transfer_study
    from empirical import ScalingRuns, ScalingSpec
    spec = ScalingSpec(shapes=((8, 2), (16, 2), (32, 2)))
    with pytest.raises(ValueError, match="muP"):
        transfer_study(ScalingRuns(spec), ScalingRuns(spec))


def test_parametrization_penalty_is_the_paired_ratio():
    tuned = np.array([[1.0, 2.0, 4.0], [1.0, 1.0, 1.0]])
    moved = np.array([[1.0, 2.0, 4.0], [1.1, 1.2, 1.3]])
    p = Parametrization("x", [], [], [], np.ones(2), np.ones((2, 2)), 0.0, (0.0, 0.0),
                        np.ones(2), 0.0, (0.0, 0.0), np.ones(2), tuned, 1.0, moved)
    mean, iv = p.penalty()
    assert mean == pytest.approx([0.0, 0.2])
    assert iv[0] == pytest.approx([0.0, 0.0]) and iv[1, 0] < 0.2 < iv[1, 1]
