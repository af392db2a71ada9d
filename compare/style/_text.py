"""How every computed sentence writes its numbers: three significant digits, intervals, spans."""

from __future__ import annotations

import textwrap

QUICK_MARK = "provisional (--quick run): "
"""Prefix of every verdict and conclusion of a ``--quick`` run: fewer batch sizes, seeds and
resamples than the full study, whose verdicts it can contradict."""


def fmt(value: float) -> str:
    """Three significant digits, as every number of a conclusion is written."""
    return f"{value:.3g}"


def fmt_iv(interval) -> str:
    """``[lo, hi]``; one that shows no width at the printed precision (one seed, or resamples
    that all agree) is said to be none rather than printed as ``[x, x]``."""
    lo, hi = fmt(interval[0]), fmt(interval[1])
    return "(no interval: one seed, or every resample agrees)" if lo == hi else f"[{lo}, {hi}]"


def overlap(a, b) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def span(values) -> str:
    lo, hi = fmt(min(values)), fmt(max(values))
    return lo if lo == hi else f"{lo}-{hi}"


def paragraph(text: str) -> str:
    return textwrap.fill(text, width=95, break_on_hyphens=False)
