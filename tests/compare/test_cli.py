"""The ``lrbs`` command line: the theory tables and bad input."""

import html
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from compare.cli import main


def test_theory_prints_the_tables_and_draws_zhangs_figure(capsys, tmp_path):
    assert main(["theory", "--batch-sizes", "1,16,256", "--dim", "100",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Scalar NQM" in out and "lr* horizon" in out
    header = next(line for line in out.splitlines() if line.strip().startswith("B  plain SGD"))
    assert header.split() == ["B", "plain", "SGD", "momentum", "(tuned)", "moving", "average",
                              "(tuned)", "H^-1/4", "H^-1/2", "H^-3/4", "lower", "bound"]
    assert "B_crit" in out and "1 - decay" in out and "needs" in out
    assert (tmp_path / "diagonal_nqm.png").stat().st_size > 0


@pytest.mark.parametrize("argv", [["theory", "--batch-sizes", "0,4"],
                                  ["theory", "--target", "-1"],
                                  ["theory", "--steps", "x"]])
def test_bad_input_is_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


def test_unreachable_target_is_one_line(capsys):
    assert main(["theory", "--target", "0.7", "--dim", "10"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--target" in err


def test_console_script_version():
    out = subprocess.run([sys.executable, "-m", "compare.cli", "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert out.startswith("lrbs ")


def test_sweep_table_and_json(tmp_path, capsys):
    out = tmp_path / "result.json"
    argv = ["sweep", "mlp-sgd", "--batch-sizes", "4,32", "--logspace=-2,1.5,8", "--steps", "20",
            "--seeds", "0-1", "--json", str(out), "--quiet"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "sub-grid lr*" in text and "basin" in text
    # it ends with the local exponent and the answer (two batch sizes: too few for AICc)
    assert "local exponent between neighbouring batch sizes" in text and "4 -> 32" in text
    assert "Fixed horizon (20 steps): from B = 4 to B = 32 (8x the batch)" in text
    assert "too few batch sizes (2) to choose among the rules" in text and "no shape to test" in text
    data = json.loads(out.read_text())                 # NaN / Infinity are accepted by json
    assert data["spec"]["model"] == "mlp-sgd" and data["spec"]["seeds"] == [0, 1]
    cell = data["cells"][0]
    assert set(cell) >= {"batch_size", "lr", "metric", "diverged", "optimal_lr", "subgrid_lr",
                         "basin", "on_edge"}
    assert len(cell["lr"]) == 8 and len(cell["metric"]) == 8 and len(cell["metric"][0]) == 2
    assert cell["diverged"][-1] == [True, True]        # lr = 10**1.5 diverges
    assert cell["metric"][-1][0] is None                  # strict JSON: null, said why


@pytest.mark.parametrize("argv", [
    ["sweep", "linear-sgd", "--batch-sizes", "0"],
    ["sweep", "linear-sgd", "--lrs", "0.1,-2"],
    ["sweep", "linear-sgd", "--lrs", "0.1,nan"],
    ["sweep", "linear-sgd", "--window", "200"],
    ["sweep", "linear-sgd", "--seeds", "a-b"],
    ["sweep", "linear-sgd", "--refine", "0"],
    ["sweep", "linear-sgd", "--lrs", "0.1,0.2", "--refine", "4"],
    ["sweep", "resnet"],
])
def test_sweep_bad_input_is_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        code = main(argv)
        raise SystemExit(code)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "error" in err


def test_sweep_unreadable_directory(tmp_path, capsys):
    (tmp_path / "sweep.json").write_text("garbage")
    assert main(["sweep", "linear-sgd", "--out", str(tmp_path), "--quiet"]) == 2
    assert "sweep.json' is not valid JSON" in capsys.readouterr().err


def test_sweep_your_own_workload_on_two_dask_workers(tmp_path, capsys):
    """One command from a workload file to its report: optima, fits, the page and its summary."""
    pytest.importorskip("distributed")
    workload = Path(__file__).parent.parent / "empirical" / "workloads.py"
    out = tmp_path / "sweep"
    argv = ["sweep", "--workload", f"{workload}:regression", "--batch-sizes", "4,16,64",
            "--grid", "0.004,2,0,4", "--steps", "30", "--seeds", "0,1", "--out", str(out),
            "--quiet"]
    assert main(argv + ["--workers", "2", "--seeds-per-task", "1"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("noisy regression: optimum per batch size")
    assert "B=16: " in printed and " runs per vmap call (the fastest on the first steps)" in printed
    assert f"the report {out / 'index.html'}" in printed
    summary = json.loads((out / "summary.json").read_text())
    page = (out / "index.html").read_text()
    assert summary["label"] == "noisy regression"
    assert html.escape(summary["conclusions"][0]) in page
    assert [o["batch_size"] for o in summary["optima"]] == [4, 16, 64]
    assert main(argv) == 0                              # rerun here: loaded, not retrained
    again = capsys.readouterr().out
    assert "noisy regression" in again
    assert [line for line in again.splitlines() if "runs per vmap call" in line] == [
        line for line in printed.splitlines() if "runs per vmap call" in line]


@pytest.mark.parametrize("argv,message", [
    (["sweep"], "give a model"),
    (["sweep", "mlp-sgd", "--workload", "x.py:w"], "not both"),
    (["sweep", "--workload", "no_such_module_xyz:w"], "cannot import"),
])
def test_sweep_needs_exactly_one_model(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_gns_prints_the_series_and_the_prediction(tmp_path, capsys):
    assert main(["gns", "linear-sgd", "--steps", "10", "--every", "5", "--method", "per-example",
                 "--predict", "4,64", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "B_simple (EMA)" in out and "predicted optimal rate" in out
    saved = json.loads((tmp_path / "noise_scale.json").read_text())
    assert saved["steps"] == [0, 5, 10] and saved["method"] == "per-example"
    assert saved["lr"] == 0.02 and len(saved["b_simple_ema"]) == 3
    assert (tmp_path / "noise_scale.png").exists() and "wrote" in out.splitlines()[-1]


def test_a_sweep_where_every_run_failed_draws_no_conclusion(capsys):
    assert main(["sweep", "linear-sgd", "--batch-sizes", "4,16,64", "--lrs", "5,10", "--steps",
                 "20", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "no scaling conclusion: every run failed at B = 4, 16, 64" in out
    assert "one seed: every interval has zero width" in out and "[5, 5]" not in out
    assert "linear scaling would" not in out and "power law" not in out


def test_gns_scales_the_prediction_by_one_minus_momentum(capsys):
    """McCandlish's rate is plain SGD's: with heavy ball the rate is (1 - momentum) times it."""
    workload = Path(__file__).parent.parent / "empirical" / "workloads.py"
    rows = {}
    for factory in ("regression", "with_momentum"):
        assert main(["gns", "--workload", f"{workload}:{factory}", "--lr", "0.005", "--steps",
                     "20", "--every", "10", "--predict", "4,64", "--batch-size", "8"]) == 0
        out = capsys.readouterr().out
        table = out.split("predicted lr*")[1].split("estimates took")[0].split()
        rows[factory] = np.array([float(v) for v in table[1::2]])
    assert "times 1 - momentum = 0.1" in out
    # the two runs differ (momentum moves the run), so compare the scaling, not equality
    assert np.all(rows["with_momentum"] < 0.3 * rows["regression"])


@pytest.mark.parametrize("argv, message", [
    (["gns"], "give a model"),
    (["gns", "--workload", "x.py:f"], "--workload needs --lr"),
    (["gns", "mlp-sgd", "--sizes", "8,4"], "--sizes must be SMALL,BIG"),
])
def test_gns_bad_input_is_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err


def test_theory_on_zhangs_binned_spectrum_prints_the_lower_bound(capsys):
    assert main(["theory", "--batch-sizes", "1024", "--dim", "10000", "--bins", "100",
                 "--diagonal-target", "0.01"]) == 0
    out = capsys.readouterr().out
    assert out.count("dim=10000 in 84 non-empty bins") == 1
    assert "lower bound" in out and "488.3" in out            # dim / (2 C B), their notebook


def test_sweep_refines_the_grid_around_each_optimum(tmp_path):
    """``--refine 4`` adds the six quarter-step rates around each optimum to the grid's."""
    out = tmp_path / "result.json"
    argv = ["sweep", "linear-sgd", "--batch-sizes", "16", "--grid", "0.004,1.25,0,14",
            "--steps", "30", "--refine", "4", "--json", str(out), "--quiet"]
    assert main(argv) == 0
    assert len(json.loads(out.read_text())["cells"][0]["lr"]) == 15 + 6
