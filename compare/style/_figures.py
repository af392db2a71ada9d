"""Figure styling every study shares: the palette, axes finishing, rule curves, saving."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from empirical import atomic_write_bytes

# Okabe & Ito's colour-blind-safe palette
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


RULE_STYLES = {"linear": ("#000000", ":"), "sqrt": ("#000000", "--"),
               "saturating": ("#D55E00", "-"), "surge": ("#CC79A7", "-"),
               "power": ("#009E73", "-."), "logarithmic": ("#56B4E9", "-")}


def label_axes(ax, xlabel: str, ylabel: str, title: str, *, legend_size: float = 8,
               legend_columns: int = 1, legend_below: bool = False) -> None:
    """The finishing every panel gets: axis labels, a title, a light grid, the legend.

    With ``legend_below`` the legend sits under the axes (constrained layout makes room), so
    that it never covers the data.
    """
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
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


RULE_LABELS = {"linear": r"linear $cB$", "sqrt": r"square root $c\sqrt{B}$",
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
        ax.plot(dense, rule.predict(dense), style, color=colour, lw=1.3 if name in fit.tied
                else 0.9, label=label)


def relative(paths: dict, root: Path) -> dict:
    """Figure paths (name -> extension -> path) relative to the report's folder."""
    return {name: {ext: str(Path(p).relative_to(root)) for ext, p in ps.items()}
            for name, ps in paths.items()}
