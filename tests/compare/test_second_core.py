"""The helper process of ``lrbs run``: the same numbers with or without it, errors surfaced."""

import json
import os

import pytest

from compare.report import _second_core
from compare.studies._base import Context
from scripts.same_results import differences


def _run(tmp_path, name, monkeypatch, cores):
    from compare import run_report
    monkeypatch.setattr(_second_core, "helper_cores", lambda: cores)
    return run_report(tmp_path / name, quick=True, seeds=1, progress=False,
                      only=["double-descent", "diagonal-nqm"])


def test_helper_and_one_process_write_the_same_results(tmp_path, monkeypatch):
    # double descent runs in the helper (no sweeps), the diagonal NQM here with the sweeps, and
    # its figures are written by the helper; with one core all of it runs here
    beside = _run(tmp_path, "two", monkeypatch, 2)
    alone = _run(tmp_path, "one", monkeypatch, 1)
    assert differences(beside, alone, rtol=0.0) == []
    for name in ("two", "one"):
        figures = json.loads((tmp_path / name / "results.json").read_text())["figures"]
        assert set(figures) == {"double_descent", "steps_to_target"}
        assert all((tmp_path / name / path).stat().st_size > 1000
                   for paths in figures.values() for path in paths.values())
    assert set(beside["provenance"]["stage_seconds"]) == {"double-descent", "diagonal-nqm"}


def test_a_study_beside_the_sweeps_may_not_ask_for_them(tmp_path):
    context = Context(tmp_path, [], {}, shares_sweeps=False)
    with pytest.raises(RuntimeError, match="USES_SWEEPS"):
        context.sweeps()


def test_an_error_in_the_helper_reaches_the_caller_and_stops_it(tmp_path, monkeypatch):
    monkeypatch.setattr(_second_core, "helper_cores", lambda: 2)
    with pytest.raises(ValueError, match="invalid literal"):
        with _second_core.second_core() as helper:
            helper.submit(int, "not a number").result()
    with _second_core.second_core() as helper:           # and the next one starts afresh
        assert helper.submit(os.getpid).result() != os.getpid()
