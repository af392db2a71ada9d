"""The main job: every registered study run in turn, written as results.json, figures and a page."""

from __future__ import annotations

import datetime
import importlib
import json
import platform
import subprocess
import time
from dataclasses import dataclass, replace
from importlib import resources
from importlib.metadata import version
from pathlib import Path

import numpy as np

from compare.report import _second_core
from compare.report._page import render_html
from compare.report._second_core import HandOver, resolved, save_figures, second_core, written
from compare.studies._base import FULL, QUICK, Context, schema_fragment, select, sweep_specs
from compare.style._figures import FORMATS, relative
from empirical._core.interrupts import checkpoint
from empirical.files import atomic_write_bytes, atomic_write_json, locked_directory, strict_json

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
RESULTS = ROOT / "docs" / "results.json"
HEADLINE = ROOT / "docs" / "images" / "headline.png"
HEADLINE_FIGURE = "optimal_lr_linear-sgd"
FIGURES = {HEADLINE_FIGURE: HEADLINE,
           "stability_edge": ROOT / "docs" / "images" / "stability_edge.png",
           "critical_batch": ROOT / "docs" / "images" / "critical_batch.png",
           "adam_sde": ROOT / "docs" / "images" / "adam_sde.png",
           "adam_annealing": ROOT / "docs" / "images" / "adam_annealing.png",
           "greedy_rate": ROOT / "docs" / "images" / "greedy_rate.png",
           "trajectories": ROOT / "docs" / "images" / "trajectories.png",
           "temperature": ROOT / "docs" / "images" / "temperature.png"}
"""The figures of a run the README and the docs pages show, and where they are kept: ``lrbs
run`` writes these as PNG too (``python -m compare.report._readme`` copies them)."""
FULL_SCALING = ROOT / "docs" / "scaling_law_full.json"
"""The ``scaling_law.json`` of ``lrbs scaling-law --full`` behind the docs pages' full-grid
sections (``python -m compare.report._readme --scaling-full DIR`` keeps it)."""
FULL_SCALING_FIGURES = {"nuisance": ROOT / "docs" / "images" / "nuisance_full.png",
                        "mup_transfer": ROOT / "docs" / "images" / "mup_transfer_full.png"}
"""Its figures the docs pages show, and where they are kept."""


def run_report(out="lrbs-report", *, seeds: int | None = None, quick: bool = False,
               device: str = "cpu", progress: bool = True, only=None) -> dict:
    """Run every study and write ``out/index.html``, ``out/results.json``, ``out/figures/``.

    The studies are the modules of :mod:`compare.studies`, run in report order: the optimal
    learning rate under both criteria, the stability edge, the noise scale, the diagonal NQM,
    double descent and the digits scaling law. The sweeps are stored under ``out/sweeps/`` as
    they finish (one directory per spec), so an interrupted run resumes where it stopped.

    Parameters
    ----------
    out : path-like, default "lrbs-report"
        Locked against other writers while the study runs.
    seeds : int or sequence of int, optional
        Run seeds of every sweep: a count ``K`` (seeds ``0..K-1``) or the seeds themselves;
        5 by default, 2 with ``quick``.
    quick : bool, default False
        Fewer batch sizes, bootstrap resamples and Monte Carlo draws, a smaller NQM.
    device : str, default "cpu"
    progress : bool, default True
        Stage messages and progress bars on stderr.
    only : sequence of str, optional
        The studies to run, by name (``"optimal-lr"``, ``"stability-edge"``, ...); all by
        default. A study that needs the sweeps runs (or loads) them.

    Returns
    -------
    dict
        What ``results.json`` holds; ``provenance.stage_seconds`` has each study's time.

    See Also
    --------
    summarize : Each sweep's entry of results.json.
    results_schema : The schema of results.json.
    conclusions : The sentences at the top of the page.
    """
    studies = select(only)
    settings = QUICK if quick else FULL
    specs = sweep_specs(settings["seeds"] if seeds is None else seeds, quick=quick, device=device)
    for spec in specs:
        spec.check_memory()
    with locked_directory(out) as root:
        context = Context(root, specs, settings, quick=quick, device=device, progress=progress)
        return _write_report(context, studies)


def results_schema() -> dict:
    """The JSON Schema (draft 2020-12) of ``results.json``, every field described.

    The common part (settings, versions, figures, provenance and the shared definitions) with
    each registered study's fragment: its entry under its key, and its definitions.

    See Also
    --------
    run_report : Writes the results.json it describes.
    summarize : Each sweep's entry.

    Examples
    --------
    >>> from compare import results_schema
    >>> results_schema()["title"]
    'results.json of lrbs run'
    """
    schema = json.loads(resources.files("compare").joinpath("schemas/results.schema.json")
                        .read_text())
    for study in select(None):
        fragment = schema_fragment(study)
        schema["properties"][study.KEY] = fragment["property"]
        schema["$defs"].update(fragment.get("$defs", {}))
    return schema


def _write_report(context: Context, studies: list) -> dict:
    root = context.root
    started = time.perf_counter()
    outcomes = {}
    with second_core() as helper:
        beside = [s for s in studies if helper is not None and not s.USES_SWEEPS]
        alone = replace(context, progress=False, shares_sweeps=False)
        for study in beside:
            context.log(f"[{studies.index(study) + 1}/{len(studies)}] {study.TITLE} "
                        "(on the second core)")
        # the longest first (a study's SECONDS), then from the report's end
        handed = HandOver(helper, [(s.NAME, _run_study, s.__name__, alone)
                                   for s in sorted(reversed(beside),
                                                   key=lambda s: -getattr(s, "SECONDS", 0))])
        for k, study in enumerate(studies, 1):
            if study not in beside:
                checkpoint()
                context.log(f"[{k}/{len(studies)}] {study.TITLE}")
                outcomes[study.NAME] = _run_study(study, context, helper)
        # what the helper has not started is shared: each process takes the next in line
        while (name := handed.take_next()) is not None:
            checkpoint()
            study = next(s for s in beside if s.NAME == name)
            context.log(f"  {study.TITLE}: taken back from the second core")
            outcomes[name] = _run_study(study, alone)
        outcomes.update(handed.futures)
        checkpoint()
        saved = written({name: queued for outcome in outcomes.values()
                         if isinstance(outcome, _Outcome)
                         for name, queued in outcome.figures.items()})
        outcomes = {name: resolved(value) for name, value in outcomes.items()}
        saved.update(written({name: queued for outcome in outcomes.values()
                              for name, queued in outcome.figures.items() if name not in saved}))
    entries, files, seconds = {}, {}, {}
    for study in studies:
        outcome = outcomes[study.NAME]
        entries[study.KEY] = outcome.data
        files.update(outcome.files)
        seconds[study.NAME] = outcome.seconds + sum(
            saved[name][1] for name in outcome.figures)
    saved = {name: paths for name, (paths, _) in saved.items()}
    results = dict(
        lrbs_version=version("lrbs"), created=datetime.datetime.now(datetime.UTC).isoformat(
            timespec="seconds"),
        settings=dict(seeds=list(context.specs[0].seeds), quick=context.quick,
                      device=context.device, n_boot=context.settings["n_boot"]),
        versions=versions(),
        provenance=dict(git_commit=git_commit(), run_seconds=time.perf_counter() - started,
                        stage_seconds=seconds, cores=_second_core.helper_cores()),
        figures=relative(saved, root), **entries)
    results = strict_json(results)
    atomic_write_json(root / "results.json", results)
    page = render_html(results, studies, {**saved, **files}, root)
    atomic_write_bytes(root / "index.html", page.encode())
    return results


@dataclass
class _Outcome:
    """One study's run: its results.json entry, its files, its figures (name -> (paths,
    seconds of writing) or a Future of them) and the seconds of its run and of drawing its
    figures (writing them not included)."""

    data: dict | None
    files: dict
    figures: dict
    seconds: float


def _run_study(study, context: Context, helper=None) -> _Outcome:
    """Run ``study`` (a module, or its name in the helper process) and write its figures,
    through ``helper`` when given."""
    if isinstance(study, str):
        study = importlib.import_module(study)
    begun = time.perf_counter()
    summary = study.run(context)
    drawn = study.figures(summary)
    seconds = time.perf_counter() - begun
    figures = save_figures(helper, drawn, context.root / "figures",
                           lambda name: FORMATS if name in FIGURES else ("svg",))
    return _Outcome(summary.data, summary.files, figures, seconds)


def git_commit() -> str | None:
    """The commit of the lrbs checkout that ran, ``+dirty`` with local changes; ``None`` when
    lrbs is not installed from a git checkout (or git is missing)."""
    source = Path(__file__).resolve().parents[2]
    try:
        def git(*args):
            return subprocess.run(["git", *args], cwd=source, capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()
        commit = git("rev-parse", "HEAD")
        return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no")
                         else "")
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict:
    """Versions of Python, the numeric packages and the platform."""
    import matplotlib
    import scipy
    import torch
    return dict(python=platform.python_version(), numpy=np.__version__, scipy=scipy.__version__,
                torch=torch.__version__, matplotlib=matplotlib.__version__,
                platform=platform.platform())
