"""The generic path: any workload swept as one vectorized program, here or on a Dask cluster."""

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from empirical import (
    LRGrid,
    OptimizerConfig,
    SweepResult,
    SweepSpec,
    Workload,
    load_workload,
    reference,
    run_sweep,
    teacher_mlp_problem,
    teacher_mlp_workload,
    train_mlp_batched,
    train_workload,
)
from empirical.sweep import _result as sweep_module
from empirical.train import _generic as generic
from empirical.train._generic import _train_stacked
from tests.empirical import workloads
from tests.empirical.test_mlp_parity import assert_matches_reference, perturbed_references

HERE = Path(__file__).parent
REGRESSION = f"{HERE / 'workloads.py'}:regression"
LRS = [1e-3, 0.03, 0.3, 1.0, 20.0]


@pytest.mark.parametrize("optimizer,steps", [("sgd", 60), ("adam", 40)])
def test_generic_path_equals_hand_batched_mlp(optimizer, steps, monkeypatch):
    """The shipped MLP problems as workloads: every curve of every run equals the hand-batched
    trainer's to float32 rounding (the allowance of test_mlp_parity where the reference run
    itself is that sensitive), and diverges where it does."""
    problem = teacher_mlp_problem(0, n_train=2000, n_test=300)
    workload = teacher_mlp_workload(optimizer, n_train=2000, n_test=300)
    seeds = (0, 1)
    for batch_size in (2, 64):
        generic = train_workload(workload, LRS, batch_size, steps, run_seeds=seeds)
        hand = train_mlp_batched(problem, LRS, batch_size, steps, run_seeds=seeds,
                                 optimizer=optimizer)
        for i, seed in enumerate(seeds):
            for j, lr in enumerate(LRS):
                jitters = perturbed_references(monkeypatch, problem, lr, batch_size, steps,
                                               run_seed=seed, optimizer=optimizer)
                for k, (got, want) in enumerate(zip(generic, hand, strict=True)):
                    assert_matches_reference(got[i, j], want[i, j], [jitter[k] for jitter in jitters])


OPTIMIZERS = pytest.mark.parametrize("config", [
    OptimizerConfig("sgd", momentum=0.9, weight_decay=0.01),
    OptimizerConfig("sgd", momentum=0.5, nesterov=True, warmup=5, decay="cosine"),
    OptimizerConfig("adam", betas=(0.8, 0.99), weight_decay=0.1),
    OptimizerConfig("adamw", weight_decay=0.1, warmup=5, warmup_start=0.1, decay="cosine"),
], ids=["sgd-momentum-decay", "nesterov-warmup-cosine", "adam-decay", "adamw-warmup-cosine"])


@OPTIMIZERS
def test_generic_optimizers_equal_torch_optim(config):
    """In float64 the stacked optimizers equal ``torch.optim`` (and its schedulers) run per
    run to 1e-12: the same arithmetic, not just the same algorithm."""
    workload = workloads.regression(config, dtype=torch.float64)
    lrs, seeds = [0.003, 0.03, 0.3], (0, 3)
    train, test = train_workload(workload, lrs, 8, 30, run_seeds=seeds)
    for i, seed in enumerate(seeds):
        for j, lr in enumerate(lrs):
            want = reference.train_workload(workload, lr, 8, 30, run_seed=seed)
            np.testing.assert_allclose(train[i, j], want[0], rtol=1e-12)
            np.testing.assert_allclose(test[i, j], want[1], rtol=1e-12)


@OPTIMIZERS
def test_every_tensor_stays_on_the_device(config):
    """``device=`` placement, checked without a GPU: on the meta device (shapes, no data) the
    whole program runs, and a tensor it made on the CPU (a rate, a schedule factor, an
    optimizer state) would meet the device's tensors in an elementwise op and raise. The
    numbers on a real GPU are ``benchmarks/check_cuda.py``'s to check."""
    meta = torch.device("meta")
    train, test, params, snapshots, _ = _train_stacked(
        workloads.regression(config), np.array([0.01, 0.1, 1.0]), (0, 1), 8, 12, meta, [0, 7])
    assert train.shape == test.shape == (2, 3, 12)
    assert sorted(snapshots) == [0, 7]
    every = [train, test, *params.values(), *(v for s in snapshots.values() for v in s.values())]
    assert {t.device for t in every} == {meta}
    assert params["w"].shape == snapshots[7]["w"].shape == (2, 3, 3, 1)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_runs_in_chunks_give_the_same_numbers(optimizer):
    """``runs_per_chunk`` changes how many runs one vmap call takes, not a number: every
    curve equals the all-at-once program's bit for bit, with chunks of one run, with chunks
    that do not divide the runs, and at two batch sizes."""
    workload = teacher_mlp_workload(optimizer, n_train=2000, n_test=300)
    for batch_size in (2, 64):
        whole = train_workload(workload, LRS, batch_size, 25, run_seeds=(0, 1),
                               return_parameters=True)
        for chunk in (1, 3, 7):
            chunked = train_workload(dataclasses.replace(workload, runs_per_chunk=chunk), LRS,
                                     batch_size, 25, run_seeds=(0, 1), return_parameters=True)
            for got, want in zip(chunked[:2], whole[:2], strict=True):
                np.testing.assert_array_equal(got, want)
            for name, value in whole[2].items():
                torch.testing.assert_close(chunked[2][name], value, rtol=0, atol=0,
                                           equal_nan=True)


@pytest.mark.parametrize("fastest", [None, 64, 16, 4])
def test_auto_chunks_keep_the_fastest_and_change_no_number(monkeypatch, fastest):
    """``runs_per_chunk="auto"`` times all runs at once, then chunks of 64, 16 and 4 runs, on
    two steps each, stops at the first that is slower than one before it, and keeps the
    fastest: with a clock on which ``fastest`` is quickest (and the time U-shaped around it)
    that one is chosen, and the curves equal the all-at-once program's bit for bit."""
    workload = teacher_mlp_workload("sgd", n_train=2000, n_test=300)
    assert workload.runs_per_chunk == "auto"
    lrs, seeds, steps = np.geomspace(0.01, 1.0, 40), (0, 1), 45          # 80 runs
    whole = train_workload(dataclasses.replace(workload, runs_per_chunk=None), lrs, 16, steps,
                           run_seeds=seeds)
    order = [None, *generic.CALIBRATED_CHUNKS]
    now, used = [0.0], []
    programs = generic._programs

    def costed(workload, chunk):                 # each step's gradient advances the clock
        per_run, measure, gradient = programs(workload, chunk)

        def timed_gradient(params, batch):
            now[0] += 1.0 + abs(order.index(chunk) - order.index(fastest))
            used.append(chunk)
            return gradient(params, batch)
        return per_run, measure, timed_gradient

    monkeypatch.setattr(generic, "_programs", costed)
    monkeypatch.setattr(generic, "_clock", lambda: now[0])
    train, test, runs_per_call = generic.train_for_sweep(workload, lrs, 16, steps, seeds, "cpu")
    assert runs_per_call == (80 if fastest is None else fastest)
    tried = order[:min(order.index(fastest) + 2, len(order))]
    assert used[1:1 + 2 * len(tried)] == [c for c in tried for _ in (0, 1)]
    assert set(used[1 + 2 * len(tried):]) == {fastest}
    np.testing.assert_array_equal(train, whole[0])
    np.testing.assert_array_equal(test, whole[1])


def test_auto_chunks_leave_short_or_small_runs_whole(monkeypatch):
    """Fewer than ten steps per candidate, or too few runs to chunk: no calibration, all
    runs per call, and the clock is never read."""
    monkeypatch.setattr(generic, "_clock", lambda: pytest.fail("calibrated"))
    workload = teacher_mlp_workload("sgd", n_train=500, n_test=100)
    assert generic.train_for_sweep(workload, np.geomspace(0.01, 1, 40), 8, 39, (0, 1),
                                   "cpu")[2] == 80
    assert generic.train_for_sweep(workload, [0.1, 0.2], 8, 50, (0, 1), "cpu")[2] == 4


def test_from_module_seeds_the_module_and_refuses_buffers():
    x, y = torch.randn(32, 3), torch.randn(32, 2)

    def make():
        return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))

    w = Workload.from_module("tanh net", make, torch.nn.functional.mse_loss, (x, y), (x, y))
    a, b, c = w.parameters(0), w.parameters(0), w.parameters(1)
    assert all(torch.equal(a[k], b[k]) for k in a) and not torch.equal(a["0.weight"], c["0.weight"])
    with torch.random.fork_rng():
        torch.manual_seed(0)
        assert torch.equal(make()[0].weight, a["0.weight"])
    with pytest.raises(ValueError, match="buffers.*running_mean"):
        Workload.from_module("bn", lambda: torch.nn.BatchNorm1d(3), torch.nn.functional.mse_loss,
                             (x, x), (x, x))


def test_bad_workloads_fail_with_a_message(tmp_path):
    x = torch.randn(8, 3)
    with pytest.raises(ValueError, match="kind must be one of sgd, adam, adamw"):
        OptimizerConfig("lamb")
    with pytest.raises(ValueError, match="momentum applies to 'sgd' only"):
        OptimizerConfig("adam", momentum=0.9)
    with pytest.raises(ValueError, match="nesterov needs"):
        OptimizerConfig(nesterov=True)
    with pytest.raises(ValueError, match="decay must be"):
        OptimizerConfig(decay="linear")
    with pytest.raises(ValueError, match="share a non-empty first"):
        Workload("w", lambda s: {"w": x}, lambda p, b: p["w"].sum(), (x, x[:4]), (x,))
    with pytest.raises(TypeError, match="init must be callable"):
        Workload("w", None, lambda p, b: p["w"].sum(), (x,), (x,))
    for chunk in (0, 2.5, True):
        with pytest.raises(ValueError, match="runs_per_chunk must be an integer >= 1, None or 'auto'"):
            Workload("w", lambda s: {"w": x}, lambda p, b: p["w"].sum(), (x,), (x,),
                     runs_per_chunk=chunk)
    bad = Workload("w", lambda s: [x], lambda p, b: p.sum(), (x,), (x,))
    with pytest.raises(TypeError, match="must return a non-empty dict"):
        train_workload(bad, [0.1], 2, 3)
    with pytest.raises(ValueError, match="warmup"):
        OptimizerConfig(warmup=10).factors(5)
    with pytest.raises(ValueError, match="cannot import 'no_such_module_xyz'"):
        load_workload("no_such_module_xyz:factory")
    with pytest.raises(ValueError, match="no file"):
        load_workload(str(tmp_path / "missing.py") + ":factory")
    with pytest.raises(ValueError, match="has no callable 'nope'"):
        load_workload(f"{HERE / 'workloads.py'}:nope")
    (tmp_path / "wrong.py").write_text("def factory():\n    return 3\n")
    with pytest.raises(ValueError, match="returned int, not an empirical.Workload"):
        load_workload(f"{tmp_path / 'wrong.py'}:factory")
    with pytest.raises(ValueError, match="or a workload 'package.module:factory'"):
        SweepSpec("not a model", [2])
    with pytest.raises(ValueError, match="weight_decay applies to mlp-adam only"):
        SweepSpec(REGRESSION, [2], weight_decay=0.1)


def test_workload_sweep_optima_resume_and_floor(tmp_path):
    """A workload gets what a shipped problem gets: a self-extending grid, optima with
    intervals over seeds measured above its floor, and a resumable directory."""
    spec = SweepSpec(REGRESSION, [4, 32], LRGrid(base=0.002, ratio=2.0, k_min=0, k_max=3),
                     steps=40, seeds=(0, 1, 2))
    assert spec.is_workload and spec.label == "noisy regression" and spec.noise_floor() == 0.25
    with pytest.raises(ValueError, match="is a workload"):
        spec.problem()
    result = run_sweep(spec, out=tmp_path, progress=False)
    assert SweepSpec.from_dict(spec.to_dict()) == spec
    assert SweepResult.load(tmp_path) == result
    optima = result.optima(n_boot=50)
    assert all(o.interval[0] <= o.subgrid_lr <= o.interval[1] and not o.on_edge for o in optima)
    assert any("extended" in note for cell in result.cells for note in cell.notes)
    assert all(o.best_loss > 0.25 for o in optima)
    assert run_sweep(spec, out=tmp_path, progress=False) == result       # resumed: loaded


def test_seed_blocks_give_the_same_numbers():
    """A workload's runs of one seed do not depend on the other seeds of their task."""
    spec = SweepSpec(REGRESSION, [4, 32], LRGrid(base=0.01, ratio=2.0, k_min=0, k_max=3),
                     steps=30, seeds=(0, 1, 2))
    assert run_sweep(spec, progress=False, seeds_per_task=1) == run_sweep(spec, progress=False)
    with pytest.raises(ValueError, match="seeds_per_task"):
        run_sweep(spec, seeds_per_task=0)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two worker processes (and their replacements) that know where the kill marker goes."""
    distributed = pytest.importorskip("distributed")
    marker = tmp_path_factory.mktemp("kill") / "killed"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(workloads.KILL_MARKER, str(marker))   # inherited by every worker
        patch.setenv("LRBS_TEST_DRIVER", str(os.getpid()))
        yield from _local_cluster(distributed)


def _local_cluster(distributed):
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local, \
            distributed.Client(local) as client:
        yield client


def test_dask_sweep_is_bit_identical_and_resumes_locally(cluster, tmp_path):
    spec = SweepSpec("mlp-sgd", [2, 16, 64], LRGrid(k_min=8, k_max=20), steps=30,
                     seeds=(0, 1), n_train=1000, n_test=200)
    local = run_sweep(spec, progress=False)
    distributed_run = run_sweep(spec, out=tmp_path, progress=False, client=cluster,
                                seeds_per_task=1)
    assert distributed_run == local                                # bit for bit
    (tmp_path / "cell_B16.npz").unlink()                           # a lost cell ...
    with pytest.warns(RuntimeWarning, match="cell_B16"):
        assert run_sweep(spec, out=tmp_path, progress=False) == local   # ... redone here


def test_dask_worker_killed_mid_sweep(cluster, tmp_path, monkeypatch):
    """A worker dies (SIGKILL) half-way through a task: the scheduler reruns the task on a
    live worker, every cell is written exactly once, and the numbers are a local run's."""
    marker = Path(os.environ[workloads.KILL_MARKER])
    assert not marker.exists()
    spec = SweepSpec(f"{HERE / 'workloads.py'}:killed_once", [4, 8, workloads.KILL_BATCH_SIZE],
                     [0.01, 0.03, 0.1, 0.3], steps=60, seeds=(0, 1))
    pids = set(cluster.run(os.getpid).values())
    saves = []
    original = sweep_module.SweepCell._save
    monkeypatch.setattr(sweep_module.SweepCell, "_save",
                        lambda cell, path, digest: saves.append(cell.batch_size)
                        or original(cell, path, digest))
    result = run_sweep(spec, out=tmp_path / "sweep", progress=False, client=cluster,
                       seeds_per_task=1)
    assert marker.exists()                                         # a worker did die ...
    cluster.wait_for_workers(2)
    assert set(cluster.run(os.getpid).values()) != pids            # ... and was replaced
    assert sorted(saves) == [4, 8, workloads.KILL_BATCH_SIZE]      # each cell written once
    assert SweepResult.load(tmp_path / "sweep") == result
    assert result == run_sweep(spec, progress=False)               # the driver never dies
