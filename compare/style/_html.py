"""HTML fragments every section of a page shares: numbers, intervals, tables, figures, rule tables."""

from __future__ import annotations

import base64
import html
from pathlib import Path

CSS = """body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}table{border-collapse:collapse;margin:.8em 0;font-size:.9em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f3f3f3}
td:first-child{text-align:left}img{max-width:100%}figure{margin:1em 0}
figcaption{font-size:.9em;color:#444}.flat{background:#fff4d6}code{background:#f3f3f3;padding:0 .2em}
.answer li{margin:.35em 0}.quick{background:#fde2e1;padding:.5em 1em;border-left:4px solid #c00}
nav ol{columns:2}"""


MEDIA_TYPES = {".svg": "image/svg+xml", ".png": "image/png"}


def img(path: Path, caption: str, svg: str | None = None) -> str:
    """A figure embedded in the page (the file's bytes as a data URI), with a link to its SVG."""
    data = base64.b64encode(Path(path).read_bytes()).decode()
    media = MEDIA_TYPES[Path(path).suffix]
    link = f' (<a href="{html.escape(svg)}">SVG</a>)' if svg else ""
    return (f'<figure><img alt="{html.escape(caption)}" src="data:{media};base64,{data}">'
            f'<figcaption>{html.escape(caption)}{link}</figcaption></figure>')


def num_text(v, digits: int = 3) -> str:
    if v is None:
        return "&ndash;"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    return f"{v:.{digits}g}"


def interval_text(iv, digits: int = 3) -> str:
    """``[lo, hi]``; a degenerate interval (``lo == hi``: one seed, or no spread to measure)
    is said to be one rather than printed as if it had a width."""
    if iv[0] == iv[1]:
        return f"{num_text(iv[0], digits)} (zero-width interval)"
    return f"[{num_text(iv[0], digits)}, {num_text(iv[1], digits)}]"


def answer_list(lines) -> str:
    """A study's sentences as the page's answer list (each escaped)."""
    return "<ul class='answer'>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>"


def table(headers, rows) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class FigureRefs:
    """Numbers the page's figures in order of appearance, each embedded (its SVG where there is
    one, else its PNG) with its SVG linked."""

    def __init__(self, paths: dict, root_paths: dict):
        self.paths, self.root_paths, self.count = paths, root_paths, 0

    def __call__(self, name: str, caption: str) -> str:
        self.count += 1
        svg = self.root_paths.get(name, {}).get("svg")
        files = self.paths[name]
        return img(files.get("svg", files.get("png")), f"Figure {self.count}. {caption}", svg)


def rules_table(fit: dict) -> str:
    best = min((r["score"] for r in fit["rules"].values() if r["score"] is not None),
               default=None)                   # None: too few batch sizes for AICc
    rows = []
    for name, r in sorted(fit["rules"].items(), key=lambda kv: (kv[1]["score"] is None,
                                                                kv[1]["score"] or 0)):
        params = "<br>".join(f"{k} = {num_text(v)} {interval_text(r['intervals'][k])}: {html.escape(m)}"
                             for (k, v), m in zip(r["params"].items(), r["meanings"], strict=True))
        delta = None if r["score"] is None or best is None else r["score"] - best
        mark = (" (tied)" if name in fit["tied"] and len(fit["tied"]) > 1 else
                " (excluded by the exponent's interval)" if name in fit["excluded"] else "")
        rows.append([name + mark,
                     html.escape(r["formula"]), params, num_text(delta, 2)])
    return table(["rule", "formula", "parameters [95% interval]: meaning",
                   "&Delta;AICc (under 2: tie)"], rows)


def local_table(fit: dict) -> str:
    rows = [[f"{e['batch_sizes'][0]} &rarr; {e['batch_sizes'][1]}", num_text(e["exponent"], 2),
             interval_text(e["interval"], 2), num_text(4.0 ** e["exponent"], 3)]
            for e in fit["local_exponents"]]
    return table(["batch sizes", "local exponent", "95% interval", "lr multiplier per 4x B"],
                  rows)
