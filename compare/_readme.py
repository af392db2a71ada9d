"""The README's result sections, written from a ``results.json`` of ``lrbs run``.

The README states measured numbers; typed by hand they go stale. Its result sections sit
between ``<!-- results:NAME -->`` and ``<!-- /results:NAME -->`` markers and are produced here
from the ``results.json`` that ``docs/results.json`` keeps, and a test checks the README
against it. After a new ``lrbs run``::

    python -m compare._readme lrbs-report
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import textwrap
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RESULTS = ROOT / "docs" / "results.json"
HEADLINE = ROOT / "docs" / "images" / "headline.png"
HEADLINE_FIGURE = "optimal_lr_linear-sgd"


def _rows(results: dict):
    """(study label, criterion, fit dict) for both criteria of every study."""
    for study in results["studies"].values():
        yield study["label"], f"fixed horizon ({study['spec']['steps']} steps)", study
        if study["steps_to_target"].get("exponent") is not None:
            yield study["label"], "steps to target", study["steps_to_target"]


def _paragraph(text: str) -> str:
    return textwrap.fill(text, width=95, break_on_hyphens=False)


def _span(values, fmt: str = ".2f") -> str:
    lo, hi = min(values), max(values)
    return f"{lo:{fmt}}" if f"{lo:{fmt}}" == f"{hi:{fmt}}" else f"{lo:{fmt}}–{hi:{fmt}}"


def answer_section(results: dict) -> str:
    """The exponent table and the sentences about it, from ``results``."""
    lines = ["| study | criterion | exponent [95% interval] | best rule (AICc) |",
             "|---|---|---|---|"]
    excluded, sqrt_margin = [], []
    for label, criterion, fit in _rows(results):
        lo, hi = fit["exponent_interval"]
        lines.append(f"| {label} | {criterion} | {fit['exponent']:.2f} [{lo:.2f}, {hi:.2f}] "
                     f"| {fit['preferred']} |")
        excluded.append(not (lo <= 0.5 <= hi) and not (lo <= 1.0 <= hi))
        sqrt_margin.append(fit["rules"]["linear"]["score"] - fit["rules"]["sqrt"]["score"])
    text = ["\n".join(lines), ""]
    if all(excluded):
        sentence = "Every interval excludes both linear (1) and square-root (0.5) scaling"
    else:
        sentence = (f"{sum(excluded)} of {len(excluded)} intervals exclude both linear (1) and "
                    "square-root (0.5) scaling")
    if all(m > 2 for m in sqrt_margin):
        sentence += (f", and square root beats linear everywhere (by {_span(sqrt_margin, '.0f')} "
                     "in AICc).")
    else:
        sentence += (f"; square root beats linear by more than 2 in AICc in "
                     f"{sum(m > 2 for m in sqrt_margin)} of {len(sqrt_margin)} rows.")
    text.append(sentence)
    linear = results["studies"].get("linear-sgd")
    if linear is not None and "theory" in linear:
        optima = linear["optima"]
        ratios = [o["measured_over_predicted"] for o in optima]
        within = sum(o["within_one_grid_step"] for o in optima)
        theory = linear["theory"]
        text.append(
            f"The exact finite-sample theory of the least-squares sweep puts {within} of "
            f"{len(optima)} measured optima within one grid step of its prediction (measured / "
            f"predicted {_span(ratios)}, batch sizes {optima[0]['batch_size']}–"
            f"{optima[-1]['batch_size']}). For least squares the criterion moves the exponent "
            f"from {linear['exponent']:.2f} to {linear['steps_to_target']['exponent']:.2f}; the "
            f"exact theory's optima give {theory['horizon_exponent']:.2f} and "
            f"{theory['target_exponent']:.2f}.")
    for model in ("mlp-sgd", "mlp-adam"):
        study = results["studies"].get(model)
        if study is None or study["steps_to_target"].get("exponent") is None:
            continue
        (a_lo, a_hi), (b_lo, b_hi) = (study["exponent_interval"],
                                      study["steps_to_target"]["exponent_interval"])
        overlap = a_lo <= b_hi and b_lo <= a_hi
        text.append(f"{study['label']}: the two criteria's exponent intervals "
                    f"{'overlap' if overlap else 'do not overlap'} ([{a_lo:.2f}, {a_hi:.2f}] "
                    f"and [{b_lo:.2f}, {b_hi:.2f}]).")
    return text[0] + "\n\n" + _paragraph(" ".join(text[2:]))


def scaling_law_section(results: dict) -> str:
    """The digits scaling-law fit, its extrapolation check and the tuned rates."""
    scaling = results.get("scaling_law")
    if scaling is None:
        return "(no scaling-law study in this run)"
    law, ex = scaling["law"], scaling["extrapolation"]
    iv = law["intervals"]
    seeds = len(scaling["spec"]["seeds"])
    shallow = sorted((s for s in scaling["shapes"] if s["depth"] == 1), key=lambda s: s["width"])
    rates = ", ".join(f"{s['lr']:.2g}" for s in shallow)
    widths = ", ".join(str(s["width"]) for s in shallow)
    best = max(shallow, key=lambda s: s["lr"])
    monotone = bool(np.all(np.diff([s["lr"] for s in shallow]) <= 0))
    trend = ("falls with width" if monotone else
             f"peaks at width {best['width']} and falls beyond it")
    return _paragraph(
        f"L(N) = E + A N^-alpha with E = {law['E']:.3f} [{iv['E'][0]:.3f}, {iv['E'][1]:.3f}], "
        f"A = {law['A']:.2g} [{iv['A'][0]:.2g}, {iv['A'][1]:.2g}], alpha = {law['alpha']:.2f} "
        f"[{iv['alpha'][0]:.2f}, {iv['alpha'][1]:.2f}] (95% intervals from a bootstrap over the "
        f"{seeds} seeds, Student's quantile, hence wide). Fitted on the smallest "
        f"{ex['n_fitted']} shapes, the law predicts {ex['predicted']:.3f} for the largest "
        f"({ex['n_params']:,.0f} parameters), which measures {ex['measured']:.3f}: "
        f"{100 * ex['relative_error']:+.0f}%. The tuned rate {trend} (Adam, depth 1: "
        f"{rates} at widths {widths}), so one rate for all shapes would bias the curve.")


SECTIONS = {"answer": answer_section, "scaling-law": scaling_law_section}


def render_readme(readme: str, results: dict) -> str:
    """``readme`` with every marked section replaced by its text from ``results``."""
    for name, section in SECTIONS.items():
        pattern = re.compile(rf"(<!-- results:{name} -->\n)(?:.*?\n)?(<!-- /results:{name} -->)",
                             re.DOTALL)
        if not pattern.search(readme):
            raise ValueError(f"README has no <!-- results:{name} --> section")
        readme = pattern.sub(lambda m, s=section: m.group(1) + s(results) + "\n" + m.group(2), readme)
    return readme


def main(argv=None) -> None:
    """Copy a run's ``results.json`` and headline figure into ``docs/`` and rewrite the README."""
    report = Path((argv or sys.argv[1:] or ["lrbs-report"])[0])
    results = json.loads((report / "results.json").read_text())
    if results["settings"]["quick"]:
        raise SystemExit(f"{report} is a --quick run; the README states the full run")
    shutil.copyfile(report / "results.json", RESULTS)
    shutil.copyfile(report / results["figures"][HEADLINE_FIGURE]["png"], HEADLINE)
    README.write_text(render_readme(README.read_text(), results))
    print(f"wrote {README}, {RESULTS} and {HEADLINE}")


if __name__ == "__main__":
    main()
