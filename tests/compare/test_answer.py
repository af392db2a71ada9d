"""The answer's sentences: every number from the summary beside it, every claim backed by it."""

import copy
import re
from pathlib import Path

import numpy as np
import pytest

from compare import analyze, conclusions, scaling_law_conclusions, summarize
from compare.studies._answer import answer
from compare.studies.diagonal_nqm import diagonal_conclusion
from compare.style._text import QUICK_MARK
from empirical import LRGrid, SweepSpec, run_sweep

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.fixture(scope="module")
def summary():
    spec = SweepSpec("linear-sgd", (2, 16, 128, 1024), LRGrid(), steps=100, seeds=(0, 1, 2))
    return summarize(analyze(run_sweep(spec, progress=False), n_boot=30))


def g(value) -> str:
    return f"{value:.3g}"


def test_every_stated_number_is_in_the_summary(summary):
    fixed, target, theory, criteria = conclusions(summary)
    lo, hi = summary["growth_interval"]
    assert f"a factor {g(summary['growth'])} [{g(lo)}, {g(hi)}]" in fixed
    for local in (summary["local_exponents"][0], summary["local_exponents"][-1]):
        a, b = local["interval"]
        assert (f"{g(4 ** local['exponent'])} [{g(4 ** a)}, {g(4 ** b)}] at B = "
                f"{local['batch_sizes'][0]}-{local['batch_sizes'][1]}") in fixed
    ratio = summary["batch_sizes"][-1] / summary["batch_sizes"][0]
    assert f"{g(ratio / summary['growth'])}x" in fixed          # linear scaling's overshoot
    best = summary["rules"][summary["tied"][0]]
    for name, value in best["params"].items():
        assert f"{name} = {g(value)}" in fixed
    assert g(summary["steps_to_target"]["growth"]) in target
    n = len(summary["optima"])
    assert f"at {summary['theory']['horizon_inside']} of {n} batch sizes" in theory
    assert f"at {summary['theory']['target_inside']} of {n} for steps to target" in theory
    assert g(summary["exponent"]) in criteria and g(summary["theory"]["target_exponent"]) in criteria


def test_claims_follow_the_numbers(summary):
    """Change a number and the sentence changes with it: prose cannot drift from the data."""
    fit = copy.deepcopy(summary)
    fit["growth_interval"] = [0.5, 3.0]
    text = answer(fit, "X")
    assert "changes by a factor" in text and "an interval that includes no change" in text
    fit["growth_interval"] = [0.2, 0.5]
    assert "falls by a factor" in answer(fit, "X")
    ratio = fit["batch_sizes"][-1] / fit["batch_sizes"][0]
    fit["growth"], fit["growth_interval"] = ratio, [ratio / 2, ratio * 2]
    assert "linear scaling would land at 1x it" in answer(fit, "X")
    assert "cannot tell overshoot from undershoot" in answer(fit, "X")

    fit = copy.deepcopy(summary)
    fit["rules"]["logarithmic"]["score"], fit["rules"]["saturating"]["score"] = 10.0, 11.0
    fit["tied"] = ["logarithmic", "saturating"]
    assert "logarithmic and saturating tie (within 2" in answer(fit, "X")
    fit["tied"] = ["saturating"]
    assert "saturating explains the optima best" in answer(fit, "X")
    fit["rules"]["power"]["score"] = 20.0
    assert "AICc puts one power law 9.0 behind saturating" in answer(fit, "X")
    assert "so one power law" not in answer(fit, "X")
    fit["tied"] = ["constant"]                  # a power law itself: the overlap stands
    assert "so one power law" in answer(fit, "X") and "AICc puts" not in answer(fit, "X")
    fit["tied"] = ["saturating"]
    fit["lack_of_fit"], fit["choice"] = 0.001, "no rule fits within the seeds' noise (...)"
    assert "Rules: no rule fits within the seeds' noise" in answer(fit, "X")
    assert "explains the optima best" not in answer(fit, "X")
    fit["tied"], fit["choice"] = [], "too few batch sizes (4) to choose among the rules"
    assert "Rules: too few batch sizes (4) to choose" in answer(fit, "X")
    assert "AICc puts" not in answer(fit, "X")

    fit = copy.deepcopy(summary)
    fit["local_exponents"][0].update(exponent=1.0, interval=[0.9, 1.1])
    fit["local_exponents"][-1].update(exponent=0.1, interval=[0.0, 0.2])
    assert "The local exponent falls from 1 [0.9, 1.1]" in answer(fit, "X")
    assert "not one power law" in answer(fit, "X")
    fit["local_exponents"][-1].update(exponent=0.8, interval=[0.5, 1.0])
    assert "one power law" in answer(fit, "X") and "not one" not in answer(fit, "X")


def test_quick_marks_every_sentence(summary):
    lines = conclusions(summary, quick=True)
    assert lines and all(line.startswith(QUICK_MARK) for line in lines)
    assert summary["conclusions"] == conclusions(summary)


def test_theory_sentence_states_the_exact_optimum_against_the_measured_one(summary):
    """The counts and ratios come from the rows: the exact optimum is compared with the
    measured interval directly, beside the same-estimator comparison."""
    study = copy.deepcopy(summary)
    for o in study["optima"]:
        o["theory_lr"] = 0.8 * o["subgrid_lr"]
    study["theory"].update(horizon_exact_inside=1, horizon_inside=3)
    text = conclusions(study)[2]
    n = len(study["optima"])
    assert "lies inside the measured 95% interval" in text and f"at 1 of {n} batch sizes" in text
    assert "(exact / measured 0.8)" in text and f"inside at 3 of {n}" in text


def test_diagonal_conclusion_says_what_each_optimizer_changes():
    def curves(mom_floor, mom_crit):
        return {"dim": 100, "target": 0.1, "batch_sizes": [1, 4096],
                "lower_bound": np.array([250.0, 0.06]), "curves": {
                    "plain SGD": {"steps": np.array([1000.0, 30.0]), "critical_batch_size": 50.0},
                    "momentum (tuned)": {"steps": np.array([900.0, mom_floor]),
                                         "critical_batch_size": mom_crit}}}
    text = diagonal_conclusion(curves(10.0, 120.0))
    assert ("momentum (tuned) needs 0.9x plain SGD's steps at B = 1 and 0.333x at B = 4096, "
            "and raises B_crit from 50 to 120") in text
    assert "plain SGD needs 4x the information-theoretic lower bound (250 steps), the best " \
           "optimizer (momentum (tuned)) 3.6x" in text
    assert "lowers B_crit from 50 to 40" in diagonal_conclusion(curves(30.0, 40.0))


def _scaling(alpha, losses, rates, n_seeds=1, at_bound=False):
    widths = [8, 16, 32, 64]
    return {"law": {"E": 0.07, "A": 40.0, "alpha": alpha, "n_seeds": n_seeds,
                    "alpha_at_bound": at_bound,
                    "intervals": {"E": [0.06, 0.08], "A": [20.0, 80.0], "alpha": [0.5, 1.5]}},
            "extrapolation": {"n_fitted": 3, "n_params": 4810, "predicted": 0.08, "measured": 0.07,
                              "relative_error": 0.08 / 0.07 - 1},
            "shapes": [{"width": w, "depth": 1, "n_params": 75 * w + 10, "lr": r, "test_loss": v}
                       for w, v, r in zip(widths, losses, rates, strict=True)]}


def test_scaling_law_sentences_follow_the_numbers():
    ok = scaling_law_conclusions(_scaling(0.9, [0.2, 0.1, 0.08, 0.07], [1e-3, 5e-3, 2e-3, 1e-3],
                                          n_seeds=3))
    assert "alpha = 0.9 [0.5, 1.5] (95% intervals from a bootstrap over the 3 seeds" in ok[0]
    assert not any("bound" in line for line in ok)
    assert "+14%" in ok[1]
    assert "is not monotone in width: it peaks at width 16" in ok[2]
    pinned = scaling_law_conclusions(_scaling(3.0, [0.2, 0.07, 0.1, 0.06], [1e-2, 1e-2, 5e-3, 1e-3],
                                              at_bound=True))
    assert "one seed, so no intervals" in pinned[0] and "[" not in pinned[0]
    assert "sits at the fit's bound" in pinned[1]
    assert "rises from 0.07 at 1,210 parameters to 0.1 at 2,410" in pinned[1]
    assert "falls or stays with every doubling of width" in pinned[3]


@pytest.mark.parametrize("page", ["plot_least_squares.py", "plot_mlp_sgd.py", "plot_mlp_adam.py"])
def test_gallery_conclusions_are_the_reports(page):
    """The sweep pages state their conclusions through the report's own function, not prose."""
    source = (EXAMPLES / page).read_text()
    conclusion = source[source.index("# Conclusion"):]
    assert "conclusions(summarize(study))" in conclusion
    prose = [line for line in conclusion.splitlines() if line.startswith("# ")]
    assert not any(re.search(r"\d", line) for line in prose)   # no number typed by hand
