"""The theory tables printed by ``lrbs theory``: what the closed forms predict per batch size."""

from __future__ import annotations

import sys

import numpy as np
from tqdm.auto import tqdm

import nqm

DIAGONAL_VARIANTS = {"plain SGD": {}, "momentum 0.9": {"momentum": 0.9},
                     "preconditioned H^-1/2": {"precondition_power": 0.5}}
"""The three optimizers of Zhang et al. (2019) compared on the diagonal NQM."""


def scalar_table(batch_sizes, *, steps: int, target_loss: float, curvature: float = 1.0,
                 noise_var: float = 1.0, w0_sq: float = 1.0) -> list[dict]:
    """Rows of the scalar NQM's optimal learning rate per batch size, under three criteria."""
    kwargs = dict(curvature=curvature, noise_var=noise_var)
    horizon = np.atleast_1d(nqm.optimal_lr_horizon(batch_sizes, steps, w0_sq=w0_sq, **kwargs))
    target = np.atleast_1d(nqm.optimal_lr_target(batch_sizes, target_loss, w0_sq=w0_sq, **kwargs))
    greedy = np.atleast_1d(nqm.optimal_lr_greedy(batch_sizes, w_sq=w0_sq, **kwargs))
    needed = np.atleast_1d(nqm.steps_to_target(target, batch_sizes, target_loss, w0_sq=w0_sq,
                                               **kwargs))
    return [dict(batch_size=int(b), lr_horizon=h, lr_target=t, steps_target=max(1, np.ceil(s)),
                 lr_greedy=g)
            for b, h, t, s, g in zip(batch_sizes, horizon, target, needed, greedy, strict=True)]


def diagonal_table(batch_sizes, *, target_loss: float, dim: int, momentum: float = 0.0,
                   precondition_power: float = 0.0, bins: int | None = None,
                   progress: str | None = None) -> tuple[list[dict], float]:
    """Rows of the diagonal NQM's optimal steps-to-target and rate, with Zhang et al.'s lower
    bound on the steps, and the critical batch size.

    ``bins`` bins the spectrum as their code does (:meth:`nqm.DiagonalNQM.zhang2019`).
    ``progress`` labels a progress bar over the batch sizes (and the critical batch size) on
    stderr, shown on a terminal once the table has taken two seconds; none by default.
    """
    model = nqm.DiagonalNQM.zhang2019(dim=dim, bins=bins)
    kwargs = dict(momentum=momentum, precondition_power=precondition_power)
    rows = []
    with tqdm(total=len(batch_sizes) + 1, desc=progress, unit="step", leave=False, delay=2.0,
              disable=progress is None or not sys.stderr.isatty()) as bar:
        for b in batch_sizes:
            best = model.optimal_steps_to_target(b, target_loss, **kwargs)
            rows.append(dict(batch_size=int(b), lr=best.lr, steps=np.ceil(best.steps),
                             bound=float(model.steps_lower_bound(b, target_loss))))
            bar.update(1)
        critical = model.critical_batch_size(target_loss, **kwargs)
        bar.update(1)
    return rows, critical


def format_rows(rows: list[dict], columns: dict[str, str]) -> str:
    """A plain fixed-width table; ``columns`` maps row keys to headers."""
    cells = [[format_number(row[key]) for key in columns] for row in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(columns.values())]
    lines = ["  ".join(h.rjust(w) for h, w in zip(columns.values(), widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(cell, widths, strict=True)) for cell in cells]
    return "\n".join(lines)


def format_number(value) -> str:
    """A table entry for people: four significant digits, whole numbers below 10^15 in full,
    ``yes``/``no`` for booleans, ``inf``/``nan`` spelled out."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(value) if abs(value) < 10**15 else f"{float(value):.4g}"
    if value is None:
        return "-"
    if np.isfinite(value) and float(value).is_integer() and 1 <= abs(value) < 10**15:
        return f"{int(value)}"
    return f"{value:.4g}"
