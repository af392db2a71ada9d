"""``lrbs run``: results.json's schema, the figures, the self-contained page, theory vs experiment."""

import base64
import json
import re

import pytest

from compare.cli import main

RULE_NAMES = {"constant", "linear", "sqrt", "power", "logarithmic", "saturating", "surge"}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    assert main(["run", "--quick", "--seeds", "0-1", "--out", str(out), "--quiet"]) == 0
    return out


def test_quick_verdicts_are_provisional(report, capsys):
    results = json.loads((report / "results.json").read_text())
    verdicts = [v for s in results["studies"].values()
                for v in (s["verdict"], s["steps_to_target"].get("verdict")) if v]
    assert verdicts and all(v.startswith("provisional (--quick run): ") for v in verdicts)


def test_results_json_validates_against_the_shipped_schema(report):
    """Every field of a real run is described by the schema (no field it does not know)."""
    jsonschema = pytest.importorskip("jsonschema")
    from compare import results_schema
    from compare.report._readme import RESULTS
    schema = results_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    for results in (json.loads((report / "results.json").read_text()),
                    json.loads(RESULTS.read_text())):
        jsonschema.validate(results, schema, cls=jsonschema.Draft202012Validator)
    broken = json.loads((report / "results.json").read_text())
    broken["studies"]["mlp-sgd"]["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema, cls=jsonschema.Draft202012Validator)


def test_every_reported_edge_is_one_crossing_per_seed_or_absent(report):
    """In a real run and in the shipped results: an edge is a number only where every seed's
    runs cross from stable to failing once; elsewhere it is null and its band or the rate it
    lies above is given, and it is not among the batch sizes fitted."""
    from compare.report._readme import RESULTS
    for results in (json.loads((report / "results.json").read_text()),
                    json.loads(RESULTS.read_text())):
        for study in results["stability_edge"].values():
            fitted = set(study["fit"]["batch_sizes"]) if study["fit"] else set()
            for row in study["edges"]:
                single = (all(c == 1 for c in row["crossings"])
                          and None not in row["seed_edges"])
                assert row["single_edge"] == single
                assert (row["edge"] is not None) == single
                assert (row["batch_size"] in fitted) <= single
                if not single:
                    assert row["band"][0] is not None or any(
                        v is not None for v in row["no_edge_below"])


def _check_fit(block):
    lo, hi = block["exponent_interval"]
    assert lo <= block["exponent"] <= hi
    assert set(block["rules"]) == RULE_NAMES
    assert block["rules"]["power"]["params"]["exponent"] == block["exponent"]
    scores = {n: r["score"] for n, r in block["rules"].items()}
    allowed = {n: v for n, v in scores.items() if n not in block["excluded"]}
    if block["preferred"] is None:                     # a rule that cannot be scored
        assert block["tied"] == [] and None in scores.values()
    else:
        assert block["preferred"] == block["tied"][0] == min(allowed, key=allowed.get)
        assert set(block["tied"]) == {n for n, v in allowed.items()
                                      if v - allowed[block["preferred"]] < 2}
    for local in block["local_exponents"]:
        lo, hi = local["interval"]
        assert lo <= local["exponent"] <= hi
    assert [e["batch_sizes"][0] for e in block["local_exponents"]] == block["batch_sizes"][:-1]
    for rule in block["rules"].values():
        assert set(rule) >= {"params", "intervals", "score", "formula"}
        for name, value in rule["params"].items():
            assert value > 0 or name == "exponent"
            assert rule["intervals"][name][0] <= value <= rule["intervals"][name][1]
    assert block["preferred"] in RULE_NAMES | {None}
    assert block["verdict"].count("exponent") == 1


def test_results_json_schema(report):
    results = json.loads((report / "results.json").read_text(),
                         parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert set(results["studies"]) == {"linear-sgd", "mlp-sgd", "mlp-adam", "mlp-adam-betas-0p9-0p999"}
    for study in results["studies"].values():
        _check_fit(study)
        _check_fit(study["steps_to_target"])
        assert [o["batch_size"] for o in study["optima"]] == study["spec"]["batch_sizes"]
        for o in study["optima"]:
            assert o["interval"][0] <= o["subgrid_lr"] <= o["interval"][1]
            assert o["basin"][0] <= o["lr"] <= o["basin"][1]
    assert results["settings"] == {"seeds": [0, 1], "quick": True, "device": "cpu", "n_boot": 50}
    assert {"python", "numpy", "torch"} <= set(results["versions"])


def test_least_squares_optima_match_the_exact_theory(report):
    # through the measurement's own estimator, the finite-sample theory lands inside the
    # measured 95% interval at every batch size of the fixed horizon
    study = json.loads((report / "results.json").read_text())["studies"]["linear-sgd"]
    assert all(o["theory_inside_interval"] for o in study["optima"])
    assert study["theory"]["horizon_inside"] == len(study["optima"])
    assert study["theory"]["target_exponent"] > study["theory"]["horizon_exponent"]


def test_figures_written_as_svg_and_png_where_shown(report):
    """Every figure as the SVG the page embeds; a PNG only for those the README and the docs
    show (each format draws the figure anew)."""
    from compare.report._readme import FIGURES
    results = json.loads((report / "results.json").read_text())
    # 17, the critical batch, 3 noise-scale runs, and the nuisance and muP studies' where the
    # 'data' extra is there
    assert len(results["figures"]) == 21 + (2 if results["nuisance"] else 0)
    for name, paths in results["figures"].items():
        assert b"<svg" in (report / paths["svg"]).read_bytes()[:500]
        assert ("png" in paths) == (name in FIGURES), name
        if "png" in paths:
            assert (report / paths["png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_page_is_self_contained(report):
    page = (report / "index.html").read_text()
    scaling = json.loads((report / "results.json").read_text())["scaling_law"]
    sources = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(sources) == 21 + (5 if scaling else 0)   # the scaling law's 3, nuisance, muP
    for src in sources:
        assert src.startswith("data:image/svg+xml;base64,")
        assert b"<svg" in base64.b64decode(src.split(",", 1)[1])[:500]
    assert "Provenance" in page and "Scaling law on digits" in page and "References" in page
    # the answer comes first: before the contents, the setup and any figure
    assert page.index("The answer") < page.index("Contents") < page.index("<img")
    numbers = [int(n) for n in re.findall(r"<figcaption>Figure (\d+)\.", page)]
    assert numbers == list(range(1, len(sources) + 1))          # numbered once each, in order
    for link in re.findall(r"<a href='([^'#][^']*)'", page):        # every file link resolves
        assert (report / link).exists(), link


def test_scaling_law_section(report):
    pytest.importorskip("sklearn")
    scaling = json.loads((report / "results.json").read_text())["scaling_law"]
    assert len(scaling["shapes"]) == 6
    assert {"E", "A", "alpha"} <= set(scaling["law"])
    assert scaling["extrapolation"]["n_fitted"] == 4
    for paths in scaling["figures"].values():                 # relative to results.json
        assert all((report / p).is_file() for p in paths.values())


def test_rerun_resumes_from_stored_sweeps(report, capsys):
    # every sweep is on disk: a second run reads them back and gives the same verdicts
    before = json.loads((report / "results.json").read_text())
    assert main(["run", "--quick", "--seeds", "0-1", "--out", str(report), "--quiet"]) == 0
    after = json.loads((report / "results.json").read_text())
    assert [s["verdict"] for s in after["studies"].values()] == \
        [s["verdict"] for s in before["studies"].values()]


@pytest.mark.parametrize("argv", [["run", "--seeds", "1-0"], ["run", "--device", "tpu"],
                                  ["run", "--seeds", "two"]])
def test_run_bad_input(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert capsys.readouterr().err.count("\n") <= 3
