"""Figure styling every study shares: the palette, axes finishing, rule curves, saving."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatterSciNotation

from empirical._core.arguments import checked, kind, path
from empirical.files import atomic_write_bytes

# Okabe & Ito's colour-blind-safe palette
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


RULE_STYLES = {"constant": ("#999999", (0, (1, 3))), "linear": ("#000000", ":"),
               "sqrt": ("#000000", "--"),
               "saturating": ("#D55E00", "-"), "surge": ("#CC79A7", "-"),
               "power": ("#009E73", "-."), "logarithmic": ("#56B4E9", "-")}


_SUPERSCRIPT = str.maketrans("-\N{MINUS SIGN}0123456789",
                             "\N{SUPERSCRIPT MINUS}" * 2 + "⁰¹²³⁴⁵⁶⁷⁸⁹")
_MATHTEXT_POWER = re.compile(r"\$\\mathdefault\{(?:([-\N{MINUS SIGN}]?[\d.]+)\\times)?(\d+)"
                             r"\^\{([-\N{MINUS SIGN}]?\d+)\}\}\$")


class PlainLogFormatter(LogFormatterSciNotation):
    """matplotlib's log-axis tick labels (the same ticks and labels) as plain text: ``10⁻³``,
    ``2×10⁻³``, ``2⁵`` rather than mathtext.

    Mathtext labels are parsed (by pyparsing) at every layout pass, and the parser's cache is
    too small for a report's figures. A label this does not recognize stays as matplotlib
    wrote it.

    See Also
    --------
    label_axes : Puts it on every log axis of a panel.
    """

    def __call__(self, x, pos=None) -> str:
        text = super().__call__(x, pos)
        match = _MATHTEXT_POWER.fullmatch(text)
        if match is None:
            return text
        coefficient, base, exponent = match.groups()
        times = f"{coefficient}\N{MULTIPLICATION SIGN}" if coefficient else ""
        return times + base + exponent.translate(_SUPERSCRIPT)


TITLE_WIDTH = 52
"""Characters per title line (math counted as written): a 5-inch panel's width at size 10."""


def wrap_title(title: str, width: int = TITLE_WIDTH) -> str:
    """``title`` broken into lines of at most ``width`` characters at spaces, never inside a
    ``$...$`` math span (a panel's title is clipped, not shrunk, where it runs long)."""
    lines, line = [], ""
    for word in re.findall(r"(?:\$[^$]*\$|[^\s$])+", title):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join([*lines, line])


def label_axes(ax, xlabel: str, ylabel: str, title: str, *, legend_size: float = 8,
               legend_columns: int = 1, legend_below: bool = False) -> None:
    """The finishing every panel gets: axis labels, a title, a light grid, the legend, and
    plain-text tick labels on log axes (:class:`PlainLogFormatter`; set the scales first).

    With ``legend_below`` the legend sits under the axes (constrained layout makes room), so
    that it never covers the data.
    """
    for axis in (ax.xaxis, ax.yaxis):
        if axis.get_scale() == "log":
            base = axis.get_transform().base
            axis.set_major_formatter(PlainLogFormatter(base))
            axis.set_minor_formatter(PlainLogFormatter(base, labelOnlyBase=False))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(wrap_title(title), fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    if legend_below:
        ax.legend(fontsize=legend_size, ncol=legend_columns, loc="upper center",
                  bbox_to_anchor=(0.5, -0.16), frameon=False)
    else:
        ax.legend(fontsize=legend_size, ncol=legend_columns)


def data_limits(ax, *arrays, margin: float = 1.6) -> None:
    """A log y-range set by the data (and their intervals), not by reference lines."""
    values = np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in arrays])
    values = values[np.isfinite(values) & (values > 0)]
    if values.size:
        ax.set_ylim(values.min() / margin, values.max() * margin)


FORMATS = ("png", "svg")


@checked(fig=kind(Figure), directory=path, name=kind(str))
def save_figure(fig: Figure, directory, name: str, *, formats=FORMATS) -> dict:
    """Write ``name.png`` and ``name.svg`` (or only the ``formats`` given) under ``directory``;
    returns their paths by extension.

    Each format draws the figure anew (its layout and text included), so ``lrbs run`` writes
    only the SVG its page embeds, and a PNG only where the README or the docs show one.

    See Also
    --------
    run_report : Saves every figure of the report with it.
    """
    if not formats or set(formats) - set(FORMATS):
        raise ValueError(f"formats must be some of {FORMATS}, got {formats!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for ext in formats:
        paths[ext] = directory / f"{name}.{ext}"
        buffer = io.BytesIO()
        fig.savefig(buffer, format=ext, dpi=110)
        atomic_write_bytes(paths[ext], buffer.getvalue())
    return paths


RULE_LABELS = {"constant": r"constant $c$", "linear": r"linear $cB$", "sqrt": r"square root $c\sqrt{B}$",
               "power": r"power $cB^{\alpha}$", "logarithmic": r"logarithmic $c\ln(1+B/B_0)$",
               "saturating": r"saturating $\eta_{\max}/(1+B_{\rm noise}/B)$",
               "surge": "surge"}


def rule_curves(ax, fit, dense) -> None:
    """Every fitted rule, labelled with its AICc difference from the best (ties: under 2)."""
    best = min(r.aicc for r in fit.rules.values())
    for name, rule in sorted(fit.rules.items(), key=lambda kv: kv[1].aicc):
        colour, style = RULE_STYLES[name]
        label = RULE_LABELS[name] + (rf", $\alpha = {fit.exponent:.2f}$" if name == "power" else "")
        if np.isfinite(rule.aicc):
            label += rf", $\Delta$AICc {rule.aicc - best:.1f}"
        ax.plot(dense, rule.predict(dense), linestyle=style, color=colour, lw=1.3 if name in fit.tied
                else 0.9, label=label)


def relative(paths: dict, root: Path) -> dict:
    """Figure paths (name -> extension -> path) relative to the report's folder."""
    return {name: {ext: str(Path(p).relative_to(root)) for ext, p in ps.items()}
            for name, ps in paths.items()}
