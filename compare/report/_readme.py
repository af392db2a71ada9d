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

from compare._answer import (
    ANSWER_COLUMNS,
    answer_rows,
    conclusions,
    diagonal_conclusion,
    scaling_law_conclusions,
)

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RESULTS = ROOT / "docs" / "results.json"
HEADLINE = ROOT / "docs" / "images" / "headline.png"
HEADLINE_FIGURE = "optimal_lr_linear-sgd"
FIGURES = {HEADLINE_FIGURE: HEADLINE,
           "stability_edge": ROOT / "docs" / "images" / "stability_edge.png",
           "critical_batch": ROOT / "docs" / "images" / "critical_batch.png"}
"""The figures of a run the README shows, and where they are kept."""


def _paragraph(text: str) -> str:
    return textwrap.fill(text, width=95, break_on_hyphens=False)


def answer_section(results: dict) -> str:
    """The answer table and the sentences about it, from ``results`` (nothing typed by hand)."""
    lines = ["| " + " | ".join(ANSWER_COLUMNS) + " |", "|" + "---|" * len(ANSWER_COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in answer_rows(results["studies"])]
    text = []
    for study in results["studies"].values():
        sentences = conclusions(study)
        text += sentences[2:] if "theory" in study else sentences[-1:]
    text.append(diagonal_conclusion(results["diagonal_nqm"]))
    return "\n".join(lines) + "\n\n" + _paragraph(" ".join(text))


def scaling_law_section(results: dict) -> str:
    """The digits scaling-law sentences (:func:`compare.scaling_law_conclusions`)."""
    scaling = results.get("scaling_law")
    if scaling is None:
        return "(no scaling-law study in this run)"
    return _paragraph(" ".join(scaling_law_conclusions(scaling)))


def stability_edge_section(results: dict) -> str:
    """Per study, the verdict on the largest stable rate (:func:`compare.edge_conclusions`)."""
    return "\n\n".join(_paragraph(" ".join(st["conclusions"]))
                       for st in results["stability_edge"].values())


def noise_scale_section(results: dict) -> str:
    """Per study, the critical batch sizes, the noise scale beside them and the prediction's
    verdict (:func:`compare.noise_scale_conclusions`), with the noise-scale run's time."""
    noise = results["noise_scale"]
    seconds = sum(st["run"]["seconds"] for st in noise.values())
    sweeps = results["provenance"]["run_seconds"]
    text = [_paragraph(" ".join(st["conclusions"])) for st in noise.values()]
    text.append(_paragraph(f"The three noise-scale runs' estimates took {seconds:.2f} s in all, "
                           f"of a {sweeps:.0f} s `lrbs run`."))
    return "\n\n".join(text)


SECTIONS = {"answer": answer_section, "stability-edge": stability_edge_section,
            "noise-scale": noise_scale_section, "scaling-law": scaling_law_section}


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
    for name, path in FIGURES.items():
        shutil.copyfile(report / results["figures"][name]["png"], path)
    README.write_text(render_readme(README.read_text(), results))
    print(f"wrote {README}, {RESULTS} and {', '.join(map(str, FIGURES.values()))}")


if __name__ == "__main__":
    main()
