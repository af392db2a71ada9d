"""The README's result sections, written from a ``results.json`` of ``lrbs run``.

The README states measured numbers; typed by hand they go stale. Its result sections sit
between ``<!-- results:NAME -->`` and ``<!-- /results:NAME -->`` markers and are produced here
from the ``results.json`` that ``docs/results.json`` keeps, and a test checks the README
against it. After a new ``lrbs run``::

    python -m compare.report._readme lrbs-report

and after a new ``lrbs scaling-law --full`` (the docs pages' full-grid sections)::

    python -m compare.report._readme --scaling-full lrbs-scaling
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

from compare.report._run import FIGURES, FULL_SCALING, FULL_SCALING_FIGURES, README, RESULTS
from compare.studies._base import registered
from compare.style._text import paragraph


def answer_section(results: dict) -> str:
    """The README's answer: each study's ``readme`` block, from ``results`` (nothing typed by
    hand)."""
    return "\n\n".join(study.readme(results[study.KEY]) for study in registered()
                         if hasattr(study, "readme") and results.get(study.KEY) is not None)


def timing_section(results: dict) -> str:
    """When the run behind the README's numbers ran, how long it took, and on what."""
    provenance = results["provenance"]
    stages = ", ".join(f"{name} {seconds:.1f} s"
                       for name, seconds in provenance["stage_seconds"].items())
    cores = provenance.get("cores")
    on = f"{cores} cores, " if cores else ""
    return paragraph(
        f"The full `lrbs run` behind the numbers below ran on {results['created'][:10]} in "
        f"{provenance['run_seconds']:.0f} s ({on}{results['versions']['platform']}); its "
        f"stages, on either core: {stages}. `python benchmarks/bench_main.py` times both runs "
        "stage by stage.")


SECTIONS = {"timing": timing_section, "answer": answer_section}


def render_readme(readme: str, results: dict) -> str:
    """``readme`` with every marked section replaced by its text from ``results``."""
    for name, section in SECTIONS.items():
        pattern = re.compile(rf"(<!-- results:{name} -->\n)(?:.*?\n)?(<!-- /results:{name} -->)",
                             re.DOTALL)
        if not pattern.search(readme):
            raise ValueError(f"README has no <!-- results:{name} --> section")
        readme = pattern.sub(lambda m, s=section: m.group(1) + s(results) + "\n" + m.group(2), readme)
    return readme


def keep_full_scaling(folder: Path) -> None:
    """Copy the ``scaling_law.json`` of ``lrbs scaling-law --full`` and its figures into
    ``docs/``; any other run of the command is refused."""
    results = json.loads((folder / "scaling_law.json").read_text())
    settings = results.get("settings", {})
    if not (settings.get("full") and settings.get("framework")):
        raise SystemExit(f"{folder} is not a run of `lrbs scaling-law --full`")
    shutil.copyfile(folder / "scaling_law.json", FULL_SCALING)
    for name, path in FULL_SCALING_FIGURES.items():
        shutil.copyfile(folder / results["figures"][name]["png"], path)
    print(f"wrote {FULL_SCALING} and {', '.join(map(str, FULL_SCALING_FIGURES.values()))}")


def main(argv=None) -> None:
    """Copy a run's ``results.json`` and headline figure into ``docs/`` and rewrite the README
    (with ``--scaling-full DIR``: :func:`keep_full_scaling`)."""
    argv = list(argv or sys.argv[1:])
    if argv[:1] == ["--scaling-full"]:
        keep_full_scaling(Path(argv[1] if len(argv) > 1 else "lrbs-scaling"))
        return
    report = Path((argv or ["lrbs-report"])[0])
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
