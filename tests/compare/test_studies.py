"""Every study has the same face, and the report, results.json, the README and the docs loop
over them: a study is its module, its schema fragment, its tests and its docs page."""

import json
from pathlib import Path

import pytest

from compare import results_schema
from compare.report._readme import RESULTS
from compare.studies._base import registered, schema_fragment, select

ROOT = Path(__file__).resolve().parents[2]
STUDIES = registered()


def test_studies_are_found_in_report_order():
    names = [s.NAME for s in STUDIES]
    assert names[0] == "optimal-lr" and len(set(names)) == len(names)
    assert len({s.KEY for s in STUDIES}) == len(STUDIES)
    assert [s.ORDER for s in STUDIES] == sorted({s.ORDER for s in STUDIES})


@pytest.mark.parametrize("study", STUDIES, ids=lambda s: s.NAME)
def test_each_study_has_the_whole_face(study):
    for name in ("run", "sentences", "figures", "html"):
        assert callable(getattr(study, name)), name
    assert study.TITLE and study.REFERENCES
    fragment = schema_fragment(study)
    assert set(fragment) <= {"property", "$defs"} and "description" in fragment["property"]
    assert (ROOT / "docs" / "studies" / f"{study.NAME}.md").exists()


@pytest.mark.parametrize("study", STUDIES, ids=lambda s: s.NAME)
def test_sentences_come_from_the_stored_numbers(study):
    """Each study's sentences of docs/results.json, the ones its docs page shows."""
    results = json.loads(RESULTS.read_text())
    if results.get(study.KEY) is None:
        pytest.skip(f"{study.NAME} is not in docs/results.json")
    lines = study.sentences(results[study.KEY])
    assert lines and all(isinstance(line, str) and line.endswith(".") for line in lines)


def test_the_schema_is_the_common_part_and_every_fragment():
    schema = results_schema()
    assert {s.KEY for s in STUDIES} <= set(schema["properties"])
    for study in STUDIES:
        assert schema["properties"][study.KEY] == schema_fragment(study)["property"]


def test_select_names_the_choices():
    assert [s.NAME for s in select(["stability-edge", "optimal-lr"])] == ["optimal-lr",
                                                                          "stability-edge"]
    with pytest.raises(ValueError, match="unknown study 'edge'; choose from optimal-lr"):
        select(["edge"])
