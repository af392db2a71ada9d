"""The report page: one self-contained HTML file, a loop over the studies that ran."""

from __future__ import annotations

import html
import re
from pathlib import Path

from compare.style._figures import relative
from compare.style._html import CSS, FigureRefs, num_text, table


def _provenance(results: dict) -> str:
    settings, versions, prov = results["settings"], results["versions"], results["provenance"]
    rows = [["git commit", html.escape(str(prov["git_commit"]))],
            ["run time", f"{prov['run_seconds']:.0f} s"],
            *([f"stage: {html.escape(name)}", f"{s:.1f} s"]
              for name, s in prov.get("stage_seconds", {}).items()),
            ["seeds", ", ".join(map(str, settings["seeds"]))],
            ["bootstrap resamples", settings["n_boot"]],
            ["quick run", num_text(settings["quick"])], ["device", html.escape(settings["device"])]]
    rows += [[k, html.escape(v)] for k, v in versions.items()]
    return "<h2 id='provenance'>Provenance</h2>" + table(["", ""], rows)


def _not_run(study) -> str:
    """The section of a study whose run returned nothing (its optional dependency is missing)."""
    return (f"<h2 id='{study.NAME}'>{html.escape(study.TITLE)}</h2><p>Not run: install the "
            "<code>data</code> extra (scikit-learn) for this section.</p>")


def render_html(results: dict, studies: list, paths: dict, root: Path) -> str:
    """One self-contained page (figures embedded as PNG data) from ``results.json``'s content.

    The answer comes first (the studies that give one: the table and each sweep's sentences),
    then a table of contents, each study's section in report order, the files, the references
    and the provenance.

    Parameters
    ----------
    results : dict
        What ``results.json`` holds.
    studies : list of module
        The studies that ran (:func:`compare.studies._base.registered` order).
    paths : dict
        Every figure's files, name -> extension -> path.
    root : Path
        The report's folder; links are relative to it.
    """
    figure = FigureRefs(paths, relative(paths, root))
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>lrbs report"
             f"</title><style>{CSS}</style></head><body>",
             "<h1>How should the learning rate scale with the batch size?</h1>"]
    if results["settings"]["quick"]:
        parts.append("<p class='quick'>A <code>--quick</code> run: fewer batch sizes, seeds and "
                     "resamples than the full study. Every sentence below is provisional; the "
                     "full <code>lrbs run</code> can contradict it.</p>")
    answers = [s.answer_html(results[s.KEY]) for s in studies if hasattr(s, "answer_html")]
    if answers:
        parts.append("<h2 id='answer'>The answer</h2><p>Per study and criterion, computed from "
                     "the tables below. Intervals are 95% over run seeds (bootstrap, Student's "
                     "quantile for fitted quantities); the exact theory has no interval.</p>")
        parts += answers
    sections = [s.html(results, figure) if results[s.KEY] is not None else _not_run(s)
                for s in studies]
    toc = [("answer", "The answer")] if answers else []
    toc += re.findall(r"<h2 id='([^']+)'>(.*?)</h2>", "".join(sections))
    toc += [("files", "Files"), ("references", "References"), ("provenance", "Provenance")]
    parts.append("<nav><h2>Contents</h2><ol>" + "".join(
        f"<li><a href='#{a}'>{re.sub(r'<[^>]+>', '', t)}</a></li>" for a, t in toc) + "</ol></nav>")
    parts += sections
    files = [("results.json", "results.json"), *(
        (f"{name} (SVG)", p["svg"]) for name, p in relative(paths, root).items())]
    parts.append("<h2 id='files'>Files</h2><p>Relative to this page; <code>results.json</code> "
                 "is described by <code>compare.results_schema()</code>.</p><ul>" + "".join(
                     f"<li><a href='{html.escape(p)}'>{html.escape(t)}</a></li>"
                     for t, p in files) + "</ul>")
    references = list(dict.fromkeys(r for s in studies for r in s.REFERENCES))
    parts.append("<h2 id='references'>References</h2><ol>" + "".join(
        f"<li>{html.escape(r)}</li>" for r in references) + "</ol>")
    parts.append(_provenance(results) + "</body></html>")
    return "\n".join(parts)
