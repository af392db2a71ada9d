"""The scaling-law study's trainer: parity with the torch.optim loop, early stopping, resume."""

import json

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the scaling-law study needs the 'data' extra")

from empirical import (  # noqa: E402
    LRGrid,
    MLPShape,
    ScalingSpec,
    evaluate_checkpoint,
    load_digits_split,
    reference,
    run_scaling_study,
    train_digits_batched,
)


@pytest.fixture(scope="module")
def split():
    return load_digits_split(0)


def test_split_is_fixed_standardized_and_disjoint(split):
    again = load_digits_split(0)
    assert np.array_equal(split.X_train, again.X_train)
    assert not np.array_equal(split.X_train, load_digits_split(1).X_train)
    assert np.allclose(split.X_train.mean(axis=0), 0, atol=1e-5)
    assert split.X_train.shape[0] + split.X_val.shape[0] + split.X_test.shape[0] == 1797


def test_parameter_count():
    assert MLPShape(8, 1).n_params == 65 * 8 + 9 * 10
    assert MLPShape(128, 2).n_params == 65 * 128 + 129 * 128 + 129 * 10


@pytest.mark.parametrize("bad", [dict(width=0, depth=1), dict(width=4, depth=1.5)])
def test_shape_validation(bad):
    with pytest.raises((ValueError, TypeError), match="MLPShape"):      # 1.5: a wrong type
        MLPShape(**bad)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_batched_runs_equal_the_torch_optim_loop(split, optimizer):
    shape, lrs, seeds = MLPShape(16, 2), [3e-3, 3e-2], (0, 4)
    runs = train_digits_batched(split, shape, lrs, run_seeds=seeds, optimizer=optimizer,
                                max_steps=200, eval_every=20, patience=3)
    for i, seed in enumerate(seeds):
        for j, lr in enumerate(lrs):
            ref = reference.train_digits(split, shape, lr, run_seed=seed, optimizer=optimizer,
                                         max_steps=200, eval_every=20, patience=3)
            assert runs.best_step[i, j] == ref["best_step"]
            assert runs.stopped_at[i, j] == ref["stopped_at"]
            # float32 over 200 steps; the batched products sum in another order than
            # nn.Linear's addmm, and Adam's normalized step lifts that rounding in coordinates
            # with tiny gradients: measured up to 9e-5 relative for Adam, 1e-6 for SGD
            assert runs.best_val_loss[i, j] == pytest.approx(ref["best_val_loss"], rel=1e-4)
            assert runs.test_loss[i, j] == pytest.approx(ref["test_loss"], rel=1e-4)


def test_early_stopping_stops_and_restores_the_best_checkpoint(split):
    # a large rate overfits or blows up early: the run must stop `patience` evaluations after
    # its best, and the returned checkpoint must be that best one, not the last parameters
    runs = train_digits_batched(split, MLPShape(64, 1), [1e-3, 0.1], run_seeds=(0,),
                                max_steps=1000, eval_every=10, patience=4)
    stopped, best = runs.stopped_at[0, 1], runs.best_step[0, 1]
    assert stopped < 1000
    assert stopped - best == 4 * 10
    val, _ = evaluate_checkpoint(runs.checkpoint, split.X_val, split.y_val)
    assert np.allclose(val, runs.best_val_loss.ravel(), rtol=1e-6)
    test, acc = evaluate_checkpoint(runs.checkpoint, split.X_test, split.y_test)
    assert np.allclose(test, runs.test_loss.ravel(), rtol=1e-6)


def test_study_resumes_and_refuses_another_spec(tmp_path, split):
    spec = ScalingSpec(shapes=((4, 1), (8, 1), (16, 1)), seeds=(0,), max_steps=60,
                       grid=LRGrid(base=1e-3, ratio=10.0, k_min=0, k_max=2), max_extensions=1)
    first = run_scaling_study(spec, out=tmp_path)
    index = json.loads((tmp_path / "scaling.json").read_text())
    assert [e["shape"] for e in index["shapes"]] == [[4, 1], [8, 1], [16, 1]]
    # drop the last shape as if interrupted; the rerun recomputes only that one
    index["shapes"] = index["shapes"][:2]
    (tmp_path / "scaling.json").write_text(json.dumps(index))
    again = run_scaling_study(spec, out=tmp_path)
    assert np.array_equal(again.test_loss, first.test_loss)
    with pytest.raises(ValueError, match="different spec"):
        run_scaling_study(ScalingSpec(shapes=spec.shapes, seeds=(1,), max_steps=60,
                                      grid=spec.grid), out=tmp_path)


def test_grid_extends_until_the_optimum_is_interior(split):
    # start far below any useful rate: the grid must walk upward and say so
    spec = ScalingSpec(shapes=((8, 1), (16, 1), (32, 1)), seeds=(0,), max_steps=100,
                       grid=LRGrid(base=1e-6, ratio=10.0, k_min=0, k_max=2),
                       extension_points=2, max_extensions=3)
    runs = run_scaling_study(spec)
    for shape in runs.shapes:
        assert shape.notes and "extended" in shape.notes[0]
        assert shape.runs.lrs.max() > 1e-4


def test_train_size_trains_on_the_first_examples_of_the_split(split, monkeypatch):
    """A subset of the split's training part, nested across sizes (the split's own random
    order); the spec's dict and folder are unchanged without it; too many examples are refused."""
    import empirical.scaling._study as study
    seen = []
    real = study.train_digits_batched
    monkeypatch.setattr(study, "train_digits_batched",
                        lambda data, *a, **k: seen.append(data) or real(data, *a, **k))
    spec = ScalingSpec(shapes=((4, 1), (8, 1), (16, 1)), seeds=(0,), max_steps=20,
                       grid=LRGrid(base=1e-2, ratio=10.0, k_min=0, k_max=1), max_extensions=0,
                       train_size=100)
    runs = run_scaling_study(spec)
    assert runs.n_train == 100 and all(s.X_train.shape[0] == 100 for s in seen)
    np.testing.assert_array_equal(seen[0].X_train, split.X_train[:100])
    np.testing.assert_array_equal(seen[0].X_test, split.X_test)          # the same test set
    assert "train_size" not in ScalingSpec().to_dict()
    assert ScalingSpec.from_dict(spec.to_dict()) == spec
    assert run_scaling_study(ScalingSpec(shapes=spec.shapes, seeds=(0,), max_steps=20,
                                         grid=spec.grid, max_extensions=0)).n_train == 1079
    with pytest.raises(ValueError, match="train_size=5000 exceeds the 1079 training examples"):
        run_scaling_study(ScalingSpec(shapes=spec.shapes, train_size=5000))


def test_the_progress_bar_names_the_setting(capsys):
    """``lrbs scaling-law --full`` trains dozens of settings; each bar says which."""
    spec = ScalingSpec(shapes=((4, 1), (5, 1), (6, 1)), seeds=(0,), max_steps=20, batch_size=32,
                       grid=LRGrid(base=1e-2, ratio=10.0, k_min=0, k_max=1), max_extensions=0,
                       dropout=(0.0, 0.15), train_size=100, mup_base_width=4)
    run_scaling_study(spec, progress=True)
    assert ("scaling law (widths 4-6, depth 1; adam, B=32; dropout 0, 0.15; 100 examples; "
            "muP from width 4)"
            in capsys.readouterr().err)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_dropout_and_mup_runs_equal_the_torch_optim_loop(split, optimizer):
    """Per-column dropout rates (masks from each seed's own stream, shared by its columns) and
    muP's rescaled layers, readout multiplier and per-parameter rates, against torch.nn
    modules and torch.optim parameter groups run one at a time."""
    # at 3e-2 Adam under muP is unstable and lifts float32 rounding to 8e-4; at 1e-2 every
    # run agrees to 2e-7
    shape, lrs, seeds = MLPShape(32, 2), np.array([3e-3, 3e-3, 1e-2]), (0, 4)
    dropouts = np.array([0.0, 0.15, 0.2])
    for base in (None, 8):
        runs = train_digits_batched(split, shape, lrs, run_seeds=seeds, optimizer=optimizer,
                                    max_steps=120, eval_every=20, patience=3, dropout=dropouts,
                                    mup_base_width=base)
        np.testing.assert_array_equal(runs.column_dropouts, dropouts)
        for i, seed in enumerate(seeds):
            for j, (lr, rate) in enumerate(zip(lrs, dropouts, strict=True)):
                ref = reference.train_digits(split, shape, lr, run_seed=seed, optimizer=optimizer,
                                             max_steps=120, eval_every=20, patience=3,
                                             dropout=rate, mup_base_width=base)
                assert runs.best_step[i, j] == ref["best_step"]
                assert runs.best_val_loss[i, j] == pytest.approx(ref["best_val_loss"], rel=1e-5)
                assert runs.test_loss[i, j] == pytest.approx(ref["test_loss"], rel=1e-5)
    # the dropped units differ between the rates: 0.15 and 0.2 end elsewhere than 0
    assert len(np.unique(np.round(runs.best_val_loss[0, :2], 6))) == 2


def test_mup_at_its_base_width_is_the_standard_parametrization(split):
    kwargs = dict(run_seeds=(0,), max_steps=60, eval_every=20)
    standard = train_digits_batched(split, MLPShape(16, 2), [1e-2], **kwargs)
    mup = train_digits_batched(split, MLPShape(16, 2), [1e-2], mup_base_width=16, **kwargs)
    np.testing.assert_array_equal(standard.best_val_loss, mup.best_val_loss)


@pytest.mark.parametrize("bad", [[0.1, 0.2], 1.0, -0.1, [[0.1]]])
def test_dropout_must_be_one_rate_or_one_per_column(split, bad):
    with pytest.raises(ValueError, match="dropout"):
        train_digits_batched(split, MLPShape(8, 1), [1e-3, 1e-2, 0.1], dropout=bad, max_steps=2)


def test_a_dropout_tuple_tunes_over_columns_and_resumes(tmp_path, split):
    spec = ScalingSpec(shapes=((4, 1), (8, 1), (16, 1)), seeds=(0,), max_steps=40,
                       grid=LRGrid(base=1e-3, ratio=10.0, k_min=0, k_max=2), max_extensions=1,
                       dropout=(0.2, 0.0), mup_base_width=4)
    assert spec.dropout == (0.0, 0.2) and spec.dropouts == (0.0, 0.2)
    assert ScalingSpec.from_dict(spec.to_dict()) == spec
    first = run_scaling_study(spec, out=tmp_path)
    for result in first.shapes:
        runs = result.runs
        assert sorted(set(runs.column_dropouts)) == [0.0, 0.2]
        np.testing.assert_array_equal(result.at_dropout(0.0)[0], result.at_dropout(0.2)[0])
        mean = runs.best_val_loss.mean(axis=0)
        assert mean[result.best_index] == mean.min()
        assert result.dropout == runs.column_dropouts[np.argmin(mean)]
    again = run_scaling_study(spec, out=tmp_path)                   # read back, not retrained
    for a, b in zip(first.shapes, again.shapes, strict=True):
        np.testing.assert_array_equal(a.runs.column_dropouts, b.runs.column_dropouts)
        np.testing.assert_array_equal(a.runs.best_val_loss, b.runs.best_val_loss)
    assert "mup_base_width" not in ScalingSpec().to_dict()
    assert ScalingSpec().to_dict()["dropout"] == 0.0


@pytest.mark.parametrize("bad", [(0.1, 0.1), (1.0,), (), (-0.1, 0.2)])
def test_a_dropout_tuple_needs_distinct_rates_in_range(bad):
    with pytest.raises(ValueError, match="dropout"):
        ScalingSpec(dropout=bad)
