"""Results on disk: damaged cells, two writers, a kill mid-sweep, Ctrl-C, strict JSON."""

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

from empirical import DamagedFileError, ScalingSpec, SweepResult, SweepSpec, run_scaling_study, run_sweep
from empirical.files import atomic_write_json, locked_directory

SPEC = SweepSpec("linear-sgd", [4, 16, 64], [0.003, 0.01, 0.03], steps=20, seeds=(0, 1),
                 n_train=500)


@pytest.fixture(scope="module")
def fresh():
    return run_sweep(SPEC, progress=False)


def _sweep_to(directory):
    run_sweep(SPEC, out=directory, progress=False)
    return json.loads((directory / "sweep.json").read_text())


def _truncate(path, _):
    path.write_bytes(path.read_bytes()[:100])


def _empty(path, _):
    path.write_bytes(b"")


def _garbage(path, _):
    path.write_bytes(os.urandom(2000))


def _other_batch_size(path, directory):
    shutil.copyfile(directory / "cell_B16.npz", path)


def _other_shapes(path, directory):
    """A consistent-looking file (its checksum put in the index) whose curves are too short."""
    from empirical.sweep._store import save_arrays
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["train_loss"] = arrays["train_loss"][..., :5]
    arrays["test_loss"] = arrays["test_loss"][..., :5]
    checksum = save_arrays(path, **arrays)
    index = json.loads((directory / "sweep.json").read_text())
    index["cells"][0]["sha256"] = checksum
    (directory / "sweep.json").write_text(json.dumps(index))


@pytest.mark.parametrize("damage", [_truncate, _empty, _garbage, _other_batch_size, _other_shapes])
def test_damaged_cell_is_named_and_recomputed(damage, tmp_path, fresh):
    _sweep_to(tmp_path)
    cell = tmp_path / "cell_B4.npz"
    damage(cell, tmp_path)
    with pytest.raises(DamagedFileError, match="cell_B4.npz"):
        SweepResult.load(tmp_path)
    with pytest.warns(RuntimeWarning, match="cell_B4.npz.*recomputed"):
        resumed = run_sweep(SPEC, out=tmp_path, progress=False)
    assert resumed == fresh
    assert SweepResult.load(tmp_path) == fresh                  # repaired on disk


def test_only_the_new_cell_is_written(tmp_path, monkeypatch):
    import empirical.sweep._result as sweep_module
    written = []
    original = sweep_module.SweepCell._save

    def save(self, path, digest):
        written.append(path.name)
        return original(self, path, digest)
    monkeypatch.setattr(sweep_module.SweepCell, "_save", save)
    run_sweep(SPEC, out=tmp_path, progress=False)
    assert written == ["cell_B4.npz", "cell_B16.npz", "cell_B64.npz"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_second_writer_is_refused(tmp_path):
    with locked_directory(tmp_path):
        with pytest.raises(ValueError, match=rf"in use by another lrbs process \(pid {os.getpid()}\)"):
            run_sweep(SPEC, out=tmp_path, progress=False)
    _sweep_to(tmp_path)                                          # free again once released


def _lrbs(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "compare.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def test_second_process_is_told_who_holds_the_folder(tmp_path):
    with locked_directory(tmp_path):
        proc = _lrbs("sweep", "linear-sgd", "--batch-sizes", "4", "--lrs", "0.01", "--steps", "5",
                     "--out", str(tmp_path), "--quiet")
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert err.strip().count("\n") == 0 and f"pid {os.getpid()}" in err


LONG = ("sweep", "mlp-adam", "--batch-sizes", "2,4,8,16,32,64,128,256", "--seeds", "0-3",
        "--steps", "60", "--quiet")


def _wait_for_cells(directory, count, proc, timeout=120.0):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        index = directory / "sweep.json"
        if index.exists() and len(json.loads(index.read_text())["cells"]) >= count:
            return
        assert proc.poll() is None, "the sweep finished before it could be interrupted"
        time.sleep(0.05)
    raise AssertionError("the sweep wrote no cell in time")


def test_killed_mid_sweep_resumes_to_the_same_numbers(tmp_path):
    proc = _lrbs(*LONG, "--out", str(tmp_path / "run"))
    _wait_for_cells(tmp_path / "run", 1, proc)
    proc.kill()                                                   # SIGKILL: no clean-up at all
    proc.communicate(timeout=60)                                  # and close its pipes
    spec = SweepResult.load(tmp_path / "run").spec                # what was kept is intact
    resumed = run_sweep(spec, out=tmp_path / "run", progress=False)
    assert resumed == run_sweep(spec, progress=False)


def test_ctrl_c_says_what_was_kept_and_exits_130(tmp_path):
    proc = _lrbs(*LONG, "--out", str(tmp_path / "run"))
    _wait_for_cells(tmp_path / "run", 1, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert "interrupted; finished work is kept in" in err and "resume with: lrbs sweep" in err
    assert SweepResult.load(tmp_path / "run").cells                # kept, and loads


def test_strict_json(tmp_path):
    atomic_write_json(tmp_path / "x.json", {"a": [1.0, float("nan"), float("inf")],
                                            "b": np.float32(2.5), "c": np.arange(2)})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": [1.0, None, None], "b": 2.5,
                                                             "c": [0, 1]}


def test_damaged_scaling_shape_is_retrained(tmp_path):
    pytest.importorskip("sklearn")
    spec = ScalingSpec(shapes=((4, 1), (8, 1), (16, 1)), seeds=(0,), max_steps=40, eval_every=20)
    first = run_scaling_study(spec, out=tmp_path)
    (tmp_path / "shape_w8_d1.npz").write_bytes(b"broken")
    with pytest.warns(RuntimeWarning, match="shape_w8_d1.npz.*retrained"):
        again = run_scaling_study(spec, out=tmp_path)
    for a, b in zip(first.shapes, again.shapes, strict=True):
        np.testing.assert_array_equal(a.runs.test_loss, b.runs.test_loss)
    with locked_directory(tmp_path), pytest.raises(ValueError, match="in use"):
        run_scaling_study(spec, out=tmp_path)


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_get_the_permissions_of_the_umask(tmp_path, umask, mode):
    """Every result file goes through atomic_write_bytes: readable by others under umask 022."""
    from empirical.files import atomic_write_bytes, atomic_write_json
    old = os.umask(umask)
    try:
        atomic_write_bytes(tmp_path / "figure.svg", b"<svg/>")
        atomic_write_json(tmp_path / "results.json", {"a": 1})
    finally:
        os.umask(old)
    for name in ("figure.svg", "results.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode
