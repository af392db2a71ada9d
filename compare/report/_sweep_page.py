"""One sweep's page: what ``lrbs sweep --out DIR`` writes beside the sweep's files."""

from __future__ import annotations

import datetime
import html
from importlib.metadata import version
from pathlib import Path

from compare.analysis._optima import Study
from compare.report._run import git_commit, versions
from compare.studies._answer import ANSWER_COLUMNS, answer_rows
from compare.studies.optimal_lr import model_html, plot_loss_vs_lr, plot_optima, summarize
from compare.style._figures import relative, save_figure
from compare.style._html import CSS, FigureRefs, num_text, table
from empirical._core.arguments import NONNEGATIVE, checked, kind, optional, path
from empirical.files import atomic_write_bytes, atomic_write_json, strict_json


@checked(study=kind(Study), directory=path, seconds=optional(NONNEGATIVE))
def write_sweep_report(study: Study, directory, *, seconds: float | None = None) -> Path:
    """One sweep's page: ``DIR/index.html``, ``DIR/summary.json`` and ``DIR/figures/``.

    What ``lrbs sweep --out DIR`` writes beside the sweep's files for a shipped problem or
    any workload: the answer (table and computed sentences), the loss-against-rate and
    optimum-against-batch-size figures, the optima with their intervals under both criteria,
    the local exponents and every rule's fit, and the provenance.

    Parameters
    ----------
    study : Study
        :func:`analyze` of the sweep.
    directory : path-like
        Written into (the sweep's own directory is the natural place).
    seconds : float, optional
        The sweep's run time, for the provenance table.

    Returns
    -------
    Path
        The page.

    See Also
    --------
    analyze : The study it shows.
    run_report : The whole study's page.
    """
    root = Path(directory)
    drawn = {f"loss_vs_lr_{study.key}": plot_loss_vs_lr(study),
             f"optimal_lr_{study.key}": plot_optima(study)}
    paths = {name: save_figure(fig, root / "figures", name) for name, fig in drawn.items()}
    spec = study.result.spec
    summary = strict_json(dict(
        summarize(study), lrbs_version=version("lrbs"),
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        versions=versions(), figures=relative(paths, root),
        provenance=dict(git_commit=git_commit(), run_seconds=seconds)))
    atomic_write_json(root / "summary.json", summary)
    figure = FigureRefs(paths, summary["figures"])
    setup = (f"{len(spec.batch_sizes)} batch sizes, {len(spec.seeds)} seed(s) "
             f"({', '.join(map(str, spec.seeds))}), {spec.steps} steps per run, on {spec.device}")
    if spec.is_workload:
        config = spec.workload().optimizer
        setup += (f"; workload <code>{html.escape(spec.model)}</code>, optimizer "
                  f"{html.escape(repr(config))}")
    rows = [["git commit", html.escape(str(summary["provenance"]["git_commit"]))],
            ["sweep time", "&ndash;" if seconds is None else f"{seconds:.0f} s"],
            *([k, html.escape(v)] for k, v in summary["versions"].items())]
    page = "\n".join([
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>lrbs sweep: "
        f"{html.escape(study.label)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(study.label)}: how should the learning rate scale with the batch "
        "size?</h1>",
        "<h2 id='answer'>The answer</h2><p>Computed from the tables below. Intervals are 95% "
        "over run seeds (bootstrap, Student's quantile for fitted quantities).</p>",
        table(ANSWER_COLUMNS, [[html.escape(c) for c in row]
                                for row in answer_rows({study.key: summary})]),
        "<ul class='answer'>" + "".join(f"<li>{html.escape(line)}</li>"
                                        for line in summary["conclusions"]) + "</ul>",
        f"<h2 id='setup'>Setup</h2><p>{setup}. Every learning rate of a batch size trains as "
        "one vectorized program with the same initialization and minibatches per seed; the "
        "optimum is the minimum of a local cubic in log lr around the argmin of the "
        "seed-mean metric, measured above the floor "
        f"{num_text(spec.noise_floor())}.</p>",
        model_html(study.key, summary, figure),
        "<h2 id='files'>Files</h2><ul><li><a href='summary.json'>summary.json</a></li>"
        "<li><a href='sweep.json'>sweep.json</a> (the raw curves' index)</li>" + "".join(
            f"<li><a href='{html.escape(p['svg'])}'>{html.escape(n)} (SVG)</a></li>"
            for n, p in summary["figures"].items()) + "</ul>",
        "<h2 id='provenance'>Provenance</h2>" + table(["", ""], rows) + "</body></html>"])
    atomic_write_bytes(root / "index.html", page.encode())
    return root / "index.html"
