"""The double-descent study: its sentences follow its numbers, and it runs alone (--only)."""

import copy
import json

import jsonschema
import pytest

from compare import results_schema
from compare.report._readme import RESULTS
from compare.studies import double_descent
from compare.studies._base import QUICK


@pytest.fixture(scope="module")
def stored():
    return json.loads(RESULTS.read_text())["double_descent"]


def test_sentences_follow_the_numbers(stored):
    """The peak is where the numbers put it; change them and the sentence changes."""
    [line] = double_descent.sentences(stored)
    assert "d = 500" in line
    assert "peaks at 0.956 at n = 475, beside the interpolation threshold n = d (no sampled" in line
    changed = copy.deepcopy(stored)
    changed["ridgeless_median"][1][-1] = 1e3           # the largest n made the worst
    assert "peaks at 1e+03 at n = 1000, not at the interpolation threshold" in \
        double_descent.sentences(changed)[0]


def test_noiseless_curves_say_nothing_of_a_peak(stored):
    quiet = dict(stored, noise_vars=[0.0], ridgeless_median=stored["ridgeless_median"][:1],
                 ridge_mean=stored["ridge_mean"][:1])
    assert double_descent.sentences(quiet) == []


def test_runs_alone_and_fits_the_schema(tmp_path):
    """``lrbs run --only double-descent``: no sweep, its entry, figure and page section."""
    from compare import run_report
    results = run_report(tmp_path / "report", quick=True, progress=False,
                         only=["double-descent"])
    assert set(results["provenance"]["stage_seconds"]) == {"double-descent"}
    assert "studies" not in results and not (tmp_path / "report" / "sweeps").exists()
    assert results["double_descent"]["n"] == list(QUICK["mc_ns"])
    jsonschema.validate(results, results_schema())
    page = (tmp_path / "report" / "index.html").read_text()
    assert "id='double-descent'" in page and "Figure 1." in page
