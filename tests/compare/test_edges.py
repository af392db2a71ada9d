"""The stability-edge study: its sentences follow its numbers, its summary fits the schema."""

import dataclasses

import jsonschema
import numpy as np
import pytest

from compare import analyze, edge_conclusions, edge_study, results_schema, summarize_edges
from compare.analysis._edges import FROZEN_ADAM, NOISE_PLUS_HESSIAN
from empirical import LRGrid, SweepSpec, run_sweep
from empirical.files import strict_json


@pytest.fixture(scope="module")
def least_squares_edges():
    spec = SweepSpec("linear-sgd", (2, 16, 128), LRGrid(base=0.01, ratio=1.25, k_max=24),
                     seeds=(0, 1, 2), extend=False)
    return edge_study(analyze(run_sweep(spec, progress=False), n_boot=50), n_boot=50,
                      n_batches=2)


def test_sentences_follow_the_intervals(least_squares_edges):
    """Move the fitted intervals and the verdict moves with them."""
    edge = least_squares_edges
    fit = edge.fit

    def verdicts(whole, small):
        changed = dataclasses.replace(edge, fit=dataclasses.replace(
            fit, exponent_interval=whole, local_intervals=np.array([small, *fit.local_intervals[1:]])))
        return edge_conclusions(changed)[2:4]

    holds, unsure = verdicts((0.9, 1.1), (0.4, 1.2))
    assert holds.endswith("consistent with the claimed linear, not with square root.")
    assert unsure.endswith("too uncertain to tell linear from square root.")
    rival, neither = verdicts((0.3, 0.6), (1.5, 2.0))
    assert rival.endswith("consistent with square root, not with the claimed linear.")
    assert neither.endswith("consistent with neither linear nor square root.")


def test_prediction_counts_are_the_summary_numbers(least_squares_edges):
    summary = strict_json(summarize_edges(least_squares_edges))
    schema = results_schema()
    jsonschema.validate(summary, {**schema["$defs"]["stability_edge"], "$defs": schema["$defs"]})
    for name in summary["edges"][0]["predicted"]:
        first = 1 if name.startswith("claim") else 0         # the anchor agrees by construction
        inside = sum(row["predicted_inside"][name] for row in summary["edges"][first:])
        line = next(s for s in summary["conclusions"] if f"'{name}'" in s)
        assert (f"inside the measured 95% interval at {inside} of {3 - first} batch sizes with a "
                "single edge") in line
        assert ("(the anchor, B = 2, not counted)" in line) == bool(first)
    exact = [row["predicted"]["exact, same criterion"] for row in summary["edges"]]
    assert all(row["interval"][0] <= p <= row["interval"][1]
               for row, p in zip(summary["edges"], exact, strict=True))


def test_an_edge_off_the_grid_is_said_not_fitted():
    spec = SweepSpec("linear-sgd", (2, 16), [1e-3, 2e-3], steps=20, seeds=(0, 1), extend=False)
    study = analyze(run_sweep(spec, progress=False), n_boot=20)
    edge = edge_study(study, n_boot=20, n_batches=1, max_doublings=0)
    assert edge.fit is None
    definition, line, *rest = edge_conclusions(edge)
    assert "a single crossing at fewer than two batch sizes" in line
    predictions = [s for s in rest if s.startswith("Predicted edge")]
    assert len(predictions) == len(edge.predicted) and all(
        s.endswith("no batch size with a single edge to compare it with.") for s in predictions)
    assert "no edge below 0.002 for 2 of 2 seeds" in line        # the top, not doubled
    assert "once along every rate tried for 0 of 4" in definition


def test_crossings_are_counted_and_adam_is_measured_at_a_constant_rate():
    """Least squares crosses once per seed; Adam's edge is taken at a constant rate with the
    divergence criterion, and the sentence says how far it moves at 100x instead of 10x."""
    spec = SweepSpec("mlp-adam", (8, 64), LRGrid(k_max=24), steps=40, seeds=(0, 1), n_train=2000,
                     n_test=200)
    edge = edge_study(analyze(run_sweep(spec, progress=False), n_boot=20), n_boot=20,
                      n_batches=1, rounds=3)
    assert "above 10x its start within the horizon, at a constant rate" in edge.criterion
    first = edge_conclusions(edge)[0]
    ratio = [c.edge / e.edge for c, e in zip(edge.check_edges, edge.edges, strict=True)]
    assert f"the edge is {min(ratio):.3g}-{max(ratio):.3g} times higher" in first
    ones = sum(int(np.sum(e.crossings == 1)) for e in edge.edges)
    assert f"for {ones} of 4 (seed, batch size) pairs" in first
    at_first = sum(int(np.sum(e.failure_step == 1)) for e in edge.edges)
    assert f"fails at its first update for {at_first} of 4 (seed, batch size) pairs" in first
    assert ("lr sign(g) whatever its betas" in first) == (at_first > 0)
    assert edge.regimes is None and NOISE_PLUS_HESSIAN not in edge.predicted
    # Cohen et al.'s frozen-preconditioner edge at beta1 = 0.5 (the notebook's): 6 / sharpness
    for where, sharpness in (("init", edge.preconditioned_init),
                             ("trained", edge.preconditioned_trained)):
        np.testing.assert_allclose(edge.predicted[f"{FROZEN_ADAM}, {where}"],
                                   6.0 / sharpness[:, 0].astype(float), rtol=1e-12)
    line = edge_conclusions(edge)[-1]
    curve = edge.predicted[f"{FROZEN_ADAM}, init"]
    slope = np.log(curve[1] / curve[0]) / np.log(64 / 8)        # a power law through two points
    assert f"from the initialization it grows as B^{slope:.2f} (" in line
    assert f"the preconditioned sharpness as B^{-slope:.2f}" in line
    measured = np.array([e.edge for e in edge.edges])
    below = all(np.all(edge.predicted[f"{FROZEN_ADAM}, {w}"] < measured) for w in ("init", "trained"))
    assert line.endswith("need not blow up there.") == below
    summary = strict_json(summarize_edges(edge))
    schema = results_schema()
    jsonschema.validate(summary, {**schema["$defs"]["stability_edge"], "$defs": schema["$defs"]})
    assert summary["edges"][1]["preconditioned_trained"] == edge.preconditioned_trained[1, 0]


def test_an_edge_whose_runs_alternate_is_absent_and_left_out(monkeypatch):
    """At B = 8 one seed's runs fail from 0.01, pass between 0.015 and 0.03 and fail above:
    the edge there is absent, named with its band and what the runs that pass in it end at
    (here 100x their rate), left out of the fit and of the prediction
    counts (compared with the band instead), and the claim is anchored at B = 16, the smallest
    batch size with a single edge."""
    import empirical.probes._edge as edge_module

    spec = SweepSpec("mlp-adam", (8, 16, 64), LRGrid(k_max=12), steps=11, seeds=(0, 1),
                     n_train=200, n_test=50)
    study = analyze(run_sweep(spec, progress=False), n_boot=20)
    onset = {8: 0.01, 16: 0.02, 64: 0.04}

    def fails(spec, batch_size, rates, initial, divergence, constant_rate):
        first = rates >= onset[batch_size]
        again = first & ~((rates > 0.015) & (rates < 0.03)) if batch_size == 8 else first
        return np.stack([first, again]).astype(int), np.stack([rates, 100 * rates])

    monkeypatch.setattr(edge_module, "_fails", fails)
    edge = edge_study(study, n_boot=20, n_batches=1, iterations=5, rounds=3)
    assert [e.single for e in edge.edges] == [False, True, True]
    np.testing.assert_allclose(edge.fit.batch_sizes, [16, 64], rtol=1e-12)
    low, high = edge.edges[0].band
    passing = edge.edges[0].passing_loss          # the second seed's: 100x its rate
    assert 1.5 < passing[0] <= passing[1] < 3.0
    cell = study.result.cells[0]
    start, best = cell.initial_loss.mean(), np.nanmin(cell.test_loss[:, :, -1].mean(axis=0))
    [note] = edge.notes
    assert note == (f"edge absent at B = 8: no single edge (1 of 2 seeds cross more than once: "
                    f"runs pass and fail alternately from {low:.3g} to {high:.3g}, and the runs "
                    f"that pass there end at a test loss of {passing[0]:.3g}-{passing[1]:.3g}, "
                    f"against {start:.3g} at the start and {best:.3g} for the sweep's best "
                    "rate): left out of the fit")
    claim = edge.predicted["claim: square root from B = 16"]
    assert claim[1] == edge.edges[1].edge
    lines = edge_conclusions(edge)
    assert "so there the edge is reported absent" in lines[0]
    claim_line = next(s for s in lines if "'claim: square root from B = 16'" in s)
    inside = low <= claim[0] <= high
    assert ("at 0 of 1 batch sizes with a single edge" in claim_line
            or "at 1 of 1 batch sizes with a single edge" in claim_line)
    assert "(the anchor, B = 16, not counted)" in claim_line
    assert claim_line.endswith(f"alternately at {int(inside)} of 1 batch sizes without one.")
    summary = strict_json(summarize_edges(edge))
    schema = results_schema()
    jsonschema.validate(summary, {**schema["$defs"]["stability_edge"], "$defs": schema["$defs"]})
    row = summary["edges"][0]
    assert row["single_edge"] is False and row["edge"] is None and row["band"] == [low, high]
    assert set(row["predicted_inside"].values()) == {None}
    assert summary["edges"][1]["single_edge"] is True


def test_granziol_form_in_its_regimes(least_squares_edges):
    """The paper's form on least squares: Lanczos on the whole training set finds the
    theory's lambda_1 (the finite-size Marchenko-Pastur edge, within 3%); the form is
    2 / lambda_max(H_B) at its anchor, the smallest B; the crossover kappa/lambda_1 splits the
    batch sizes, and the sentence sets the form's own exponent (here through two points: the
    slope between them) against the measured interval."""
    edge = least_squares_edges
    regimes = edge.regimes
    assert regimes.full_hessian == pytest.approx(regimes.exact_full_hessian, rel=0.03)
    assert regimes.exact_noise == 2.0 * 16
    form = edge.predicted[NOISE_PLUS_HESSIAN]
    assert form[0] == pytest.approx(2 / edge.hessian_init[0, 0], rel=1e-9)
    assert 16 < regimes.crossover < 128
    slope = np.log(form[1] / form[0]) / np.log(16 / 2)
    assert regimes.noise_form_exponent == pytest.approx(slope, rel=1e-6)
    assert regimes.hessian_fit is None                         # one batch size above it
    line = edge_conclusions(edge)[-1]
    lo, hi = regimes.noise_fit.exponent_interval
    assert f"the form as B^{slope:.2f} there (its limit: 1): " + (
        "inside" if lo <= slope <= hi else "outside") in line
    assert "Fewer than two batch sizes with a single edge lie above it" in line
