"""The README's result sections are the numbers of the run they claim to come from."""

import copy
import json

import pytest

from compare import scaling_law_conclusions
from compare.analysis._optima import sweep_key
from compare.report._readme import README, RESULTS, answer_section, render_readme
from compare.studies._base import FULL, sweep_specs


@pytest.fixture(scope="module")
def results():
    return json.loads(RESULTS.read_text())


def test_readme_sections_are_written_from_docs_results(results):
    readme = README.read_text()
    assert render_readme(readme, results) == readme, (
        "README.md's result sections differ from docs/results.json: run "
        "`python -m compare.report._readme lrbs-report` after `lrbs run`")


def test_docs_results_is_a_full_run_of_todays_specs(results):
    """The stored run is ``lrbs run`` with today's defaults, not a quick or stale one."""
    assert results["settings"]["quick"] is False
    assert results["settings"]["seeds"] == list(range(FULL["seeds"]))
    for spec in sweep_specs(FULL["seeds"]):
        assert results["studies"][sweep_key(spec.model, spec.adam_betas)]["spec"] == spec.to_dict()


def test_sentences_follow_the_numbers(results):
    """Change a number and the sentence about it changes: nothing in them is typed by hand."""
    changed = copy.deepcopy(results)
    changed["studies"]["linear-sgd"]["theory"]["horizon_exact_inside"] = 5
    assert "at 5 of 7 batch sizes for the fixed horizon" in \
        answer_section(changed).replace("\n", " ")
    changed["studies"]["mlp-sgd"]["tied"] = ["sqrt", "linear"]
    assert "| MLP, SGD | fixed horizon (100 steps) |" in answer_section(changed)
    assert "| sqrt, linear |" in answer_section(changed)
    shapes = changed["scaling_law"]["shapes"]
    for shape, lr in zip((s for s in shapes if s["depth"] == 1), [5e-3, 4e-3, 3e-3, 2e-3, 1e-3],
                         strict=True):
        shape["lr"] = lr
    assert "falls or stays with every doubling of width" in \
        " ".join(scaling_law_conclusions(changed["scaling_law"]))


@pytest.mark.parametrize("key", ["linear-sgd", "mlp-sgd", "mlp-adam", "mlp-adam-betas-0p9-0p999"])
def test_docs_results_are_what_the_code_measures_today(results, key):
    """Rerun each sweep of ``lrbs run`` (a few seconds): the stored optima are today's.

    Guards against a README stated on data or trainers that have since changed. Least squares
    runs in float64: the same optima to 1e-6. The MLPs run in float32, whose sums another CPU
    orders differently, and 100 steps amplify that: between the machine that stored the run
    and an AMD EPYC the best losses differ by up to 2.5e-4 relative (mlp-adam, B = 2048), and
    in Adam's flat basins at B >= 256 the grid argmin moves by up to a factor 2 (sub-grid
    estimate 0.47 lower at B = 2048). So for them: best losses to 1e-3 (a change of data, seed
    or trainer moves them by more), and today's optimum inside the stored 95% interval over
    seeds, which is what the README's sentences rest on.
    """
    from empirical import run_sweep
    [spec] = [s for s in sweep_specs(FULL["seeds"]) if sweep_key(s.model, s.adam_betas) == key]
    stored = results["studies"][key]["optima"]
    measured = run_sweep(spec, progress=False).optima(n_boot=2)
    assert [o.batch_size for o in measured] == [o["batch_size"] for o in stored]
    for o, want in zip(measured, stored, strict=True):
        if key == "linear-sgd":
            assert o.subgrid_lr == pytest.approx(want["subgrid_lr"], rel=1e-6)
            assert o.best_loss == pytest.approx(want["best_loss"], rel=1e-6)
        else:
            assert o.best_loss == pytest.approx(want["best_loss"], rel=1e-3)
            assert want["interval"][0] <= o.subgrid_lr <= want["interval"][1]


def test_the_full_scaling_run_behind_the_docs_is_one_of_todays_grids():
    """``docs/scaling_law_full.json`` is ``lrbs scaling-law --full`` of today's grids: its
    nuisance and muP parts hold the full grids' shapes, batch sizes and widths, satisfy their
    schemas and its sentences are today's sentences of its numbers; its figures are kept."""
    import jsonschema

    from compare.analysis._nuisance import NUISANCE_FULL
    from compare.analysis._transfer import TRANSFER_FULL
    from compare.report._run import FULL_SCALING, FULL_SCALING_FIGURES, results_schema
    from compare.studies import mup_transfer, nuisance
    full = json.loads(FULL_SCALING.read_text())
    assert full["settings"] == {"quick": False, "full": True, "framework": True}
    assert [(r["width"], r["depth"]) for r in full["nuisance"]["shapes"]] == list(NUISANCE_FULL["shapes"])
    assert full["nuisance"]["batch_sizes"] == list(NUISANCE_FULL["batch_sizes"])
    assert full["nuisance"]["dropouts"] == list(NUISANCE_FULL["dropout"])
    assert full["mup_transfer"]["widths"] == [w for w, _ in TRANSFER_FULL["shapes"]]
    schema = results_schema()
    for module, conclusions in ((nuisance, nuisance.nuisance_conclusions),
                                (mup_transfer, mup_transfer.transfer_conclusions)):
        jsonschema.validate(full[module.KEY], {**schema["$defs"][module.KEY], "$defs": schema["$defs"]})
        numbers = {k: v for k, v in full[module.KEY].items() if k != "conclusions"}
        assert conclusions(numbers) == full[module.KEY]["conclusions"], (
            "docs/scaling_law_full.json's sentences differ from today's: rerun `lrbs scaling-law "
            "--full` and `python -m compare.report._readme --scaling-full DIR`")
    assert all(path.stat().st_size > 10_000 for path in FULL_SCALING_FIGURES.values())


def test_only_a_full_scaling_run_is_kept(tmp_path):
    from compare.report._readme import main
    for settings in ({"quick": False, "full": False, "framework": True}, {}):
        (tmp_path / "scaling_law.json").write_text(json.dumps({"settings": settings}))
        with pytest.raises(SystemExit, match="is not a run of `lrbs scaling-law --full`"):
            main(["--scaling-full", str(tmp_path)])
