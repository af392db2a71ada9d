"""Bad inputs, table-driven: each ends in one clear line that names the input, and nothing else.

The command line: exit status 2, one line on stderr naming the bad option or value, no
traceback, no file written. The Python API: a ``ValueError`` (or ``TypeError``) with a
one-line message naming the argument, raised before any work.
"""

import math

import numpy as np
import pytest

import nqm
from compare import analyze, fit_rule, simulate_risk
from compare.cli import main
from empirical import (
    LRGrid,
    ScalingSpec,
    SweepSpec,
    find_optimum,
    least_squares_problem,
    reference,
    run_sweep,
    steps_to_target_optimum,
    teacher_mlp_problem,
    train_linear_sgd_batched,
    train_mlp_batched,
)

SWEEP = ["sweep", "linear-sgd", "--quiet"]
ADAM = ["sweep", "mlp-adam", "--quiet"]

CLI_CASES = [
    # (argv, what the message must name)
    (["frobnicate"], "frobnicate"),
    (["sweep", "nope"], "nope"),
    (["sweep"], "model"),
    (SWEEP + ["--batch-sizes", "0"], "batch sizes"),
    (SWEEP + ["--batch-sizes", "a,b"], "batch sizes"),
    (SWEEP + ["--batch-sizes", ","], "batch sizes"),
    (SWEEP + ["--batch-sizes", "1000000000"], "GiB"),
    (SWEEP + ["--lrs", "0.1,-0.2"], "learning rates"),
    (SWEEP + ["--lrs", "nan"], "finite"),
    (SWEEP + ["--lrs", "inf"], "finite"),
    (SWEEP + ["--lrs", "0.1,0.1"], "repeat"),
    (SWEEP + ["--lrs", "x"], "numbers"),
    (SWEEP + ["--lrs", "0.1", "--grid", "0.001,1.25,0,3"], "not allowed"),
    (SWEEP + ["--logspace", "1,2"], "3 comma-separated"),
    (SWEEP + ["--logspace=-3,0,0"], "NUM"),
    (SWEEP + ["--logspace=-3,0,2.5"], "NUM"),
    (SWEEP + ["--grid", "0.001,1.25,0"], "4 comma-separated"),
    (SWEEP + ["--grid", "0.001,0.5,0,3"], "ratio"),
    (SWEEP + ["--grid=-1,1.25,0,3"], "base"),
    (SWEEP + ["--grid", "0.001,1.25,3,1"], "k_min <= k_max"),
    (SWEEP + ["--grid", "0.001,1.25,0.5,3"], "KMIN"),
    (SWEEP + ["--grid", "0.001,1.25,0,1000000000"], "at most"),
    (SWEEP + ["--logspace=-3,0,100000000"], "at most"),
    (SWEEP + ["--steps", "0"], "--steps"),
    (SWEEP + ["--steps", "1.5"], "--steps"),
    (SWEEP + ["--steps", "abc"], "--steps"),
    (SWEEP + ["--steps", "1000000000000"], "GiB"),
    (ADAM + ["--steps", "10"], "warmup"),
    (SWEEP + ["--seeds", "a-b"], "seeds"),
    (SWEEP + ["--seeds", "3-1"], "A <= B"),
    (SWEEP + ["--seeds", "0-1000000"], "at most"),
    (SWEEP + ["--seeds", "0-1000000000000000000"], "at most"),
    (SWEEP + ["--seeds", "-1"], "seeds"),
    (SWEEP + ["--seeds", "0,0"], "repeat"),
    (SWEEP + ["--window", "0"], "--window"),
    (SWEEP + ["--window", "200"], "window"),
    (SWEEP + ["--weight-decay", "0.1"], "mlp-adam only"),
    (ADAM + ["--weight-decay", "-1"], "--weight-decay"),
    (ADAM + ["--weight-decay", "nan"], "--weight-decay"),
    (SWEEP + ["--device", "meta"], "device"),
    (SWEEP + ["--device", "mps"], "MPS"),
    (SWEEP + ["--device", "cuda"], "CUDA"),
    (SWEEP + ["--device", "gpu!"], "device"),
    (SWEEP + ["--json", "missing-folder/optima.json"], "does not exist"),
    (SWEEP + ["--json", "."], "is a directory"),
    (SWEEP + ["--out", "a-file"], "not a directory"),
    (SWEEP + ["--threads", "0"], "--threads"),
    (SWEEP + ["--bogus"], "--bogus"),
    (["theory", "--dim", "0"], "--dim"),
    (["theory", "--dim", "10000000000"], "GiB"),
    (["theory", "--diagonal-target", "1000000"], "initial loss"),
    (["theory", "--diagonal-target", "nan"], "--diagonal-target"),
    (["theory", "--target", "0.7"], "initial loss 0.5"),
    (["theory", "--target", "-1"], "--target"),
    (["theory", "--steps", "0"], "--steps"),
    (["theory", "--batch-sizes", "0"], "batch sizes"),
    (["run", "--seeds", "1-0"], "A <= B"),
    (["run", "--seeds", "two"], "seeds"),
    (["run", "--device", "tpu"], "tpu"),
    (["run", "--threads", "-2"], "--threads"),
    (["run", "--seeds", "0-99999"], "at most"),
    (["scaling-law", "--dropout", "1.5"], "dropout"),
    (["scaling-law", "--optimizer", "rmsprop"], "rmsprop"),
    (["scaling-law", "--seeds", "-1"], "seeds"),
    (["scaling-law", "--bogus"], "--bogus"),
    # found by the audits of issue 29, and the new --only
    (SWEEP + ["--out", ""], "needs a folder name"),
    (["gns", "linear-sgd", "--out", ""], "needs a folder name"),
    (["run", "--out", " "], "needs a folder name"),
    (["theory", "--out", ""], "needs a folder name"),
    (["sweep", "mlp-sgd", "--workers", "1000"], "at most"),
    (["gns", "linear-sgd", "--lr", "1000", "--steps", "20"], "test loss ended no lower"),
    (["run", "--only", "edge"], "studies must be among optimal-lr"),
    # the theory's unreachable targets and extreme parameters (issue 29)
    (["theory", "--diagonal-target", "1e-12"], "unreachable"),
    (["theory", "--dim", "1000000000000", "--bins", "10"], "GiB"),
    (["theory", "--dim", "100", "--bins", "1000"], "bins"),
    (["theory", "--diagonal-target", "1e-300"], "unreachable"),
]


def _run_cli(argv) -> int:
    try:
        return main(argv)
    except SystemExit as exc:             # argparse's usage errors
        return exc.code


@pytest.mark.parametrize("argv,named", CLI_CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_cli_bad_input(argv, named, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("not a folder")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert _run_cli(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert err and named in err[-1], captured.err
    assert "Traceback" not in captured.err
    # one line; argparse's own errors come with its usage lines before them
    assert len([line for line in err if "error" in line]) == 1
    assert all(line.startswith(("usage:", " ", "lrbs")) for line in err)
    assert sorted(p.name for p in tmp_path.iterdir()) == before          # nothing written


def test_cli_bad_threads_variable(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LRBS_THREADS", "many")
    assert _run_cli(["sweep", "linear-sgd", "--batch-sizes", "4", "--lrs", "0.01", "--steps",
                     "5", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "LRBS_THREADS" in err and err.count("\n") == 0


PROBLEM = least_squares_problem(0, n_train=50, n_test=10)
MLP_PROBLEM = teacher_mlp_problem(0, n_train=50, n_test=10)
ZHANG = nqm.DiagonalNQM.zhang2019(dim=50)
NAN = float("nan")

API_CASES = [
    # (call, what the message must name)
    (lambda: SweepSpec("x", [2]), "model"),
    (lambda: SweepSpec("linear-sgd", []), "batch_sizes"),
    (lambda: SweepSpec("linear-sgd", [0]), "batch_sizes"),
    (lambda: SweepSpec("linear-sgd", [2.5]), "batch_sizes"),
    (lambda: SweepSpec("linear-sgd", [2], [0.1, -1.0]), "lrs"),
    (lambda: SweepSpec("linear-sgd", [2], [0.1, NAN]), "lrs"),
    (lambda: SweepSpec("linear-sgd", [2], [0.1, 0.1]), "repeat"),
    (lambda: SweepSpec("linear-sgd", [2], "fast"), "lrs"),
    (lambda: SweepSpec("linear-sgd", [2], weight_decay=0.1), "mlp-adam only"),
    (lambda: SweepSpec("mlp-adam", [2], weight_decay=NAN), "weight_decay"),
    (lambda: SweepSpec("mlp-adam", [2], weight_decay=-0.1), "weight_decay"),
    (lambda: SweepSpec("linear-sgd", [2], device="meta"), "device"),
    (lambda: SweepSpec("linear-sgd", [2], device="cuda:7"), "device"),
    (lambda: SweepSpec("linear-sgd", [2], seeds=(1, 1)), "seeds"),
    (lambda: SweepSpec("linear-sgd", [2], seeds=(-1,)), "seeds"),
    (lambda: SweepSpec("linear-sgd", [2], steps=0), "steps"),
    (lambda: SweepSpec("linear-sgd", [2], window=0), "window"),
    (lambda: SweepSpec("linear-sgd", [2], fingerprint="abc"), "fingerprint applies to workloads"),
    (lambda: SweepSpec("linear-sgd", [2], n_train=0), "n_train"),
    (lambda: run_sweep(SweepSpec("linear-sgd", [2], LRGrid(k_max=10**12)), progress=False),
     "k_max"),
    (lambda: run_sweep(SweepSpec("linear-sgd", [10**9], [0.1]), progress=False), "GiB"),
    (lambda: run_sweep(SweepSpec("mlp-sgd", [2], [0.1], seeds=tuple(range(10**6))),
                       progress=False), "GiB"),
    (lambda: run_sweep("spec"), "SweepSpec"),
    (lambda: train_linear_sgd_batched(PROBLEM, [NAN], 2, 10), "lrs"),
    (lambda: train_linear_sgd_batched(PROBLEM, [0.1], [2, 0], 10), "batch_size"),
    (lambda: train_linear_sgd_batched(PROBLEM, [0.1], 2, 0), "steps"),
    (lambda: train_mlp_batched(MLP_PROBLEM, [-0.1], 2, 10), "lrs"),
    (lambda: train_mlp_batched(MLP_PROBLEM, [0.1], 0, 10), "batch_size"),
    (lambda: train_mlp_batched(MLP_PROBLEM, [0.1], 2, 10, optimizer="rmsprop"), "optimizer"),
    (lambda: reference.train_linear_sgd(PROBLEM, -0.1, 2, 10), "lrs"),
    (lambda: reference.train_mlp(MLP_PROBLEM, NAN, 2, 10), "lrs"),
    (lambda: find_optimum(2, [0.1, 0.2], [[NAN], [NAN]]), "diverged"),
    (lambda: find_optimum(2, [0.2, 0.1], [[1.0], [2.0]]), "increasing"),
    (lambda: find_optimum(2, [0.1, 0.2], [[1.0]]), "shape"),
    (lambda: least_squares_problem(0, n_train=0), "n_train"),
    (lambda: teacher_mlp_problem(-1), "seed"),
    (lambda: LRGrid(ratio=1.0), "ratio"),
    (lambda: LRGrid(base=NAN), "base"),
    (lambda: ScalingSpec(dropout=1.0), "dropout"),
    (lambda: ScalingSpec(shapes=((8, 1),)), "shapes"),
    (lambda: fit_rule("cubic", [1, 2, 4], [0.1, 0.2, 0.4]), "rule"),
    (lambda: nqm.optimal_lr_horizon(1, 2**60, curvature=1.0, noise_var=1.0, w0_sq=1.0), "2^53"),
    (lambda: nqm.optimal_lr_horizon(1, 0, curvature=1.0, noise_var=1.0, w0_sq=1.0), "steps"),
    (lambda: nqm.optimal_lr_target(1, 10.0, curvature=1.0, noise_var=1.0, w0_sq=1.0),
     "initial loss"),
    (lambda: nqm.scalar_expected_loss(-1.0, 1, 10, curvature=1.0, noise_var=1.0, w0_sq=1.0),
     "lr"),
    (lambda: nqm.ridgeless_risk(10.5, 3, noise_var=0.1), "n must be whole"),
    (lambda: nqm.ridgeless_risk(10, 0, noise_var=0.1), "d"),
    (lambda: nqm.DiagonalNQM.zhang2019(dim=0), "dim"),
    (lambda: nqm.DiagonalNQM.zhang2019(dim=10**10), "GiB"),
    (lambda: ZHANG.critical_batch_size(1e6), "initial loss"),
    (lambda: ZHANG.expected_loss(0.1, 1, 10, momentum=1.0), "momentum"),
    (lambda: ZHANG.steps_to_target(0.1, 1, 0.1, max_steps=2**60), "2^53"),
    # found by the audits of issue 29
    (lambda: LRGrid(base="a"), "LRGrid.base must be a number"),
    (lambda: LRGrid(k_max=True), "LRGrid.k_max"),
    (lambda: steps_to_target_optimum([0.1, 0.2], np.ones(5), 0.5), "(n_seed, n_lr, steps)"),
    (lambda: analyze(None), "SweepResult"),
    (lambda: ZHANG.schedule_loss([], 4, 10), "at least one piece"),
    (lambda: ZHANG.optimal_steps_to_target(4, 0.1, max_steps=0), "max_steps must be at least 1"),
    (lambda: ZHANG.steps_to_target(0.1, 4, 0.1, max_steps=0), "max_steps must be at least 1"),
    (lambda: nqm.FiniteSampleLeastSquaresSGD(PROBLEM.X_train, PROBLEM.y_train, PROBLEM.X_test,
                                             PROBLEM.y_test).expected_test_mse(0.01, 2.5, 10),
     "batch_size must be whole"),
    (lambda: simulate_risk(20, [10, 30], (-1.0,), trials=2), "noise_vars"),
    (lambda: ScalingSpec(seeds=(-1,)), "ScalingSpec.seeds must be an integer from 0"),
]


@pytest.mark.parametrize("call,named", API_CASES, ids=[str(i) for i in range(len(API_CASES))])
def test_api_bad_input(call, named):
    with pytest.raises((ValueError, TypeError)) as exc:
        call()
    message = str(exc.value)
    assert named in message and "\n" not in message


def test_at_least_sixty_cases():
    assert len(CLI_CASES) + len(API_CASES) >= 60 and math.isfinite(np.float64(len(CLI_CASES)))
