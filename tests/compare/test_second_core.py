"""The helper process of ``lrbs run``: the same numbers with or without it, errors surfaced."""

import json
import os
import types
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from compare.report import _run, _second_core
from compare.studies._base import QUICK, Context, Summary
from scripts.same_results import differences


def _report(tmp_path, name, monkeypatch, cores, only):
    from compare import run_report
    monkeypatch.setattr(_second_core, "helper_cores", lambda: cores)
    return run_report(tmp_path / name, quick=True, progress=True, only=only)


def test_helper_and_one_process_write_the_same_results(tmp_path, monkeypatch, capfd):
    # neither needs the sweeps: with two cores the helper takes double descent (the report's
    # end) and this process, having nothing else to do, takes back the diagonal NQM, which the
    # helper has not started (it is still starting); with one core both run here
    only = ["double-descent", "diagonal-nqm"]
    beside = _report(tmp_path, "two", monkeypatch, 2, only)
    assert "The criterion decides: taken back from the second core" in capfd.readouterr().err
    alone = _report(tmp_path, "one", monkeypatch, 1, only)
    assert differences(beside, alone, rtol=0.0) == []
    for name in ("two", "one"):
        figures = json.loads((tmp_path / name / "results.json").read_text())["figures"]
        assert set(figures) == {"double_descent", "diagonal_nqm"}
        assert all((tmp_path / name / path).stat().st_size > 1000
                   for paths in figures.values() for path in paths.values())
    assert set(beside["provenance"]["stage_seconds"]) == set(only)
    assert beside["provenance"]["cores"] == 2 and alone["provenance"]["cores"] == 1


def _panel(i: int) -> Figure:
    fig = Figure()
    fig.add_subplot().plot([0, 1], [0, i])
    return fig


def _main_lane_study() -> types.ModuleType:
    """A study that uses the sweeps (so it runs in the main process) without running any."""
    study = types.ModuleType("main_lane")
    study.NAME, study.KEY, study.TITLE, study.ORDER = "main-lane", "main_lane", "Main lane", 1
    study.USES_SWEEPS, study.REFERENCES = True, ()
    study.run = lambda context: Summary({"value": 1.0})
    study.figures = lambda summary: {f"panel_{i}": _panel(i) for i in range(6)}
    study.sentences = lambda data: []
    study.html = lambda results, figure: "".join(figure(f"panel_{i}", "a panel")
                                                 for i in range(6))
    return study


def test_figures_of_the_main_process_are_written_whichever_process_gets_them(tmp_path,
                                                                             monkeypatch):
    # six figures queued for the helper: it takes the first, the main process takes back the
    # ones the helper has not started; every file is written once, the page embeds them all
    monkeypatch.setattr(_second_core, "helper_cores", lambda: 2)
    context = Context(Path(tmp_path), [types.SimpleNamespace(seeds=(0,))], QUICK, quick=True,
                      progress=False)
    results = _run._write_report(context, [_main_lane_study()])
    assert results["main_lane"] == {"value": 1.0}
    assert set(results["figures"]) == {f"panel_{i}" for i in range(6)}
    for i in range(6):
        assert (tmp_path / "figures" / f"panel_{i}.svg").stat().st_size > 1000
    assert (tmp_path / "index.html").read_text().count("Figure ") >= 6


def test_a_study_beside_the_sweeps_may_not_ask_for_them(tmp_path):
    context = Context(tmp_path, [], {}, shares_sweeps=False)
    with pytest.raises(RuntimeError, match="USES_SWEEPS"):
        context.sweeps()


def test_an_error_in_the_helper_reaches_the_caller_and_stops_it(monkeypatch):
    monkeypatch.setattr(_second_core, "helper_cores", lambda: 2)
    with pytest.raises(ValueError, match="invalid literal"):
        with _second_core.second_core() as helper:
            helper.submit(int, "not a number").result()
    with _second_core.second_core() as helper:           # and the next one starts afresh
        assert helper.submit(os.getpid).result() != os.getpid()


def test_settings_trained_on_two_cores_equal_those_trained_in_one(tmp_path, monkeypatch, capfd):
    """``lrbs scaling-law``'s settings, handed out to this process and the helper: each
    folder holds what one process trains, and the helper's are said as they finish."""
    from dataclasses import replace

    from empirical import LRGrid, ScalingSpec, run_scaling_study
    monkeypatch.setattr(_second_core, "helper_cores", lambda: 2)
    base = ScalingSpec(shapes=((4, 1), (6, 1), (8, 1)), seeds=(0,), max_steps=20,
                       grid=LRGrid(base=1e-2, ratio=10.0, k_min=0, k_max=1), max_extensions=0)
    settings = [(replace(base, batch_size=b), tmp_path / f"b{b}") for b in (16, 32, 64)]
    _second_core.train_settings(settings, progress=True)
    assert "B=16; dropout 0): done on the second core" in capfd.readouterr().err
    for spec, folder in settings:
        assert (folder / "scaling.json").exists()
        np.testing.assert_array_equal(run_scaling_study(spec, out=folder).test_loss,
                                      run_scaling_study(spec).test_loss)
