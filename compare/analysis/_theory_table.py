"""The theory tables printed by ``lrbs theory``: what the closed forms predict per batch size."""

from __future__ import annotations

import sys

import numpy as np
from tqdm.auto import tqdm

import nqm
from empirical._core.arguments import POSITIVE, checked, kind, numbers, optional, whole

DIAGONAL_VARIANTS = {
    "plain SGD": {},
    "momentum (tuned)": {"momentum": "tuned"},
    "moving average (tuned)": {"ema_decay": "tuned"},
    "H^-1/4": {"precondition_power": 0.25},
    "H^-1/2": {"precondition_power": 0.5},
    "H^-3/4": {"precondition_power": 0.75},
}
"""The optimizers of Zhang et al. (2019)'s figures: plain SGD; heavy-ball momentum and the
moving average of the iterates, each tuned jointly with the rate; SGD preconditioned by
:math:`H^{-p}`."""

DIAGONAL_TARGET = 0.1
"""Target loss of the diagonal NQM in the report and ``lrbs theory``."""


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


DIAGONAL_MAX_STEPS = 10**7
"""The step limit of :meth:`nqm.DiagonalNQM.optimal_steps_to_target`'s search (its default)."""


@checked(dim=whole(1), batch_sizes=numbers(1, low=1.0, increasing=True), target=POSITIVE,
         bins=optional(whole(2)), progress=optional(kind(str)))
def diagonal_curves(dim: int, batch_sizes, target: float = DIAGONAL_TARGET, *,
                    bins: int | None = None, progress: str | None = None) -> dict:
    """Zhang et al. (2019)'s figure: the fewest steps to ``target`` per batch size for each of
    :data:`DIAGONAL_VARIANTS`, each one's critical batch size, and the lower bound.

    ``bins`` bins the spectrum as their notebook does (:meth:`nqm.DiagonalNQM.zhang2019`).
    ``progress`` labels a progress bar on stderr, shown on a terminal once the curves have
    taken two seconds; none by default.

    Returns
    -------
    dict
        ``dim``, ``bins``, ``target``, ``batch_sizes``, ``lower_bound`` (per batch size) and
        ``curves``: per optimizer the ``lr``, ``steps`` (integer), ``momentum`` and
        ``ema_decay`` at the optimum of each batch size, and its ``critical_batch_size``.

    See Also
    --------
    nqm.DiagonalNQM.optimal_steps_to_target : Each point.
    nqm.DiagonalNQM.critical_batch_size : Each critical batch size.
    nqm.DiagonalNQM.steps_lower_bound : The bound.
    plot_diagonal_nqm : Draws them.
    """
    model = nqm.DiagonalNQM.zhang2019(dim=dim, bins=bins)
    b = np.asarray(batch_sizes, dtype=float)
    curves = {}
    with tqdm(total=len(DIAGONAL_VARIANTS) * (b.size + 1), desc=progress, unit="point",
              leave=False, delay=2.0, disable=progress is None or not sys.stderr.isatty()) as bar:
        for name, kwargs in DIAGONAL_VARIANTS.items():
            points = []
            for size in b:
                points.append(model.optimal_steps_to_target(size, target, **kwargs))
                bar.update(1)
            curves[name] = dict(lr=np.array([p.lr for p in points]),
                                steps=np.ceil([p.steps for p in points]),
                                momentum=np.array([p.momentum for p in points]),
                                ema_decay=np.array([p.ema_decay for p in points]),
                                critical_batch_size=model.critical_batch_size(target, **kwargs))
            bar.update(1)
    return dict(dim=dim, bins=bins, target=target, batch_sizes=b, curves=curves,
                lower_bound=np.atleast_1d(model.steps_lower_bound(b, target)))


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
