"""The stability edge of a sweep: the smallest learning rate at which a run fails, per seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import stdtrit  # Student's t quantile, as scipy.stats.t.ppf

from empirical._core.arguments import checked, kind, whole
from empirical.sweep._result import SweepCell, SweepResult, failed
from empirical.sweep._tasks import _train


@dataclass(frozen=True)
class StabilityEdge:
    """The stability edge of one batch size: per seed, and over seeds.

    Attributes
    ----------
    batch_size : int
    seed_edges : ndarray, shape (n_seed,)
        Each seed's edge: the geometric midpoint of its final bracket; ``nan`` where the
        bracket never closed (no failure within ``max_doublings`` doublings of the grid's
        top, or still failing as far below its bottom).
    brackets : ndarray, shape (n_seed, 2)
        The largest rate that did not fail and the smallest that did, after bisection.
    edge : float
        Geometric mean of the seeds' edges (``nan`` if any is unknown).
    interval : tuple of float
        95% interval of the geometric mean over seeds (Student's t on the log edges;
        ``(nan, nan)`` with one seed).
    rounds : int
        Bisection rounds after the grid.

    See Also
    --------
    stability_edges : Measures it.
    """

    batch_size: int
    seed_edges: np.ndarray
    brackets: np.ndarray
    edge: float
    interval: tuple
    rounds: int


def _grid_brackets(cell: SweepCell) -> np.ndarray:
    """Per seed, the last grid rate below the first failing one and that failing one; a
    missing end (``nan``) where no grid rate failed (lower end: the top of the grid) or the
    smallest did (upper end: the bottom of the grid)."""
    fail = failed(cell.test_loss, cell.initial_loss)
    brackets = np.full((fail.shape[0], 2), np.nan)
    for s, row in enumerate(fail):
        if not row.any():
            brackets[s, 0] = cell.lrs[-1]
        elif row[0]:
            brackets[s, 1] = cell.lrs[0]
        else:
            k = int(np.argmax(row))
            brackets[s] = cell.lrs[k - 1], cell.lrs[k]
    return brackets


def _fails(spec, batch_size: int, rates: np.ndarray, initial: np.ndarray) -> np.ndarray:
    """(n_seed, n_rate): every seed trained at every rate, as one program; which failed."""
    order = np.unique(rates)
    [(_, test, _)] = _train(spec, order, [batch_size], tuple(spec.seeds))
    return failed(test, initial)[:, np.searchsorted(order, rates)]


@checked(result=kind(SweepResult), rounds=whole(0, 52, " (float64 resolves no finer bracket)"),
         max_doublings=whole(0, 64))
def stability_edges(result: SweepResult, *, rounds: int = 6,
                    max_doublings: int = 16) -> list[StabilityEdge]:
    """The smallest learning rate at which a run diverges or collapses, per batch size and seed.

    The sweep's grid brackets each seed's edge (the first failing rate and the one below it,
    :func:`empirical.failed`); where no grid rate fails (or the smallest already does), the
    rate is doubled up (halved down) from the grid's end until the bracket closes, at most
    ``max_doublings`` times. Then ``rounds`` of bisection in log learning rate then narrow every bracket by
    a factor ``2**rounds`` in log space. Each round trains all seeds' midpoints at once for
    every seed (one vectorized program per batch size, the sweep's own trainer, horizon and
    minibatches) and keeps each seed's run at its own midpoint.

    Parameters
    ----------
    result : SweepResult
    rounds : int, default 6
        With the homework's grid (rates 1.25x apart) six rounds leave brackets 1.0035x wide
        (a doubled bracket: 1.011x).
    max_doublings : int, default 16

    Returns
    -------
    list of StabilityEdge
        One per batch size.

    Notes
    -----
    The edge is a property of the horizon: a run just above it may need more steps to blow up
    than the sweep trains. Bisection assumes one crossing between the bracket's ends.

    See Also
    --------
    failed : The definition of a failed run.
    run_sweep : The sweep it starts from.
    """
    for name, value in (("rounds", rounds), ("max_doublings", max_doublings)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return [_edge_of(result.spec, cell, rounds, max_doublings) for cell in result.cells]


def _update(spec, cell: SweepCell, brackets: np.ndarray, seeds: np.ndarray,
            rates: np.ndarray) -> None:
    """Train ``seeds`` at their own ``rates``; a failure closes the top, else the bottom."""
    fail = _fails(spec, cell.batch_size, rates, cell.initial_loss)
    for j, (s, rate) in enumerate(zip(seeds, rates, strict=True)):
        brackets[s, 1 if fail[s, j] else 0] = rate


_DOUBLINGS_PER_PROGRAM = 4
"""Doublings (or halvings) tried at once per program: a seed's bracket closes at the first
failure (success) among them, exactly as one doubling per program would close it."""


def _widen(spec, cell: SweepCell, brackets: np.ndarray, max_doublings: int) -> None:
    """Close every open bracket end by doubling the top (halving the bottom) away from the grid,
    at most ``max_doublings`` times; several doublings of every open seed train as one
    program, and each seed keeps the first that fails (does not fail)."""
    tried = 0
    while tried < max_doublings:
        open_top, open_bottom = np.isnan(brackets[:, 1]), np.isnan(brackets[:, 0])
        seeds = np.flatnonzero(open_top | open_bottom)
        if not seeds.size:
            return
        n = min(_DOUBLINGS_PER_PROGRAM, max_doublings - tried)
        factors = 2.0 ** np.arange(1, n + 1)             # exact: powers of two
        rates = np.where(open_top[seeds, None], brackets[seeds, 0, None] * factors,
                         brackets[seeds, 1, None] / factors)            # (open seed, n)
        fail = _fails(spec, cell.batch_size, rates.ravel(), cell.initial_loss)
        for j, s in enumerate(seeds):
            row = fail[s, j * n:(j + 1) * n] if open_top[s] else ~fail[s, j * n:(j + 1) * n]
            end, other = (1, 0) if open_top[s] else (0, 1)     # the end that closes first
            if not row.any():                              # still open: move the known end
                brackets[s, other] = rates[j, -1]
                continue
            k = int(np.argmax(row))
            brackets[s, end] = rates[j, k]
            if k:
                brackets[s, other] = rates[j, k - 1]
        tried += n


def _edge_of(spec, cell: SweepCell, rounds: int, max_doublings: int) -> StabilityEdge:
    brackets = _grid_brackets(cell)
    _widen(spec, cell, brackets, max_doublings)
    known = np.flatnonzero(np.isfinite(brackets).all(axis=1))
    for _ in range(rounds if known.size else 0):
        _update(spec, cell, brackets, known, np.sqrt(brackets[known, 0] * brackets[known, 1]))
    seed_edges = np.sqrt(brackets[:, 0] * brackets[:, 1])
    return StabilityEdge(cell.batch_size, seed_edges, brackets, *_geometric_interval(seed_edges),
                         rounds)


def _geometric_interval(values: np.ndarray) -> tuple[float, tuple[float, float]]:
    """Geometric mean and its 95% Student interval over seeds (log space)."""
    if not np.all(np.isfinite(values)):
        return float("nan"), (float("nan"), float("nan"))
    logs = np.log(values)
    centre = float(np.exp(logs.mean()))
    if logs.size < 2:
        return centre, (float("nan"), float("nan"))
    half = stdtrit(logs.size - 1, 0.975) * logs.std(ddof=1) / np.sqrt(logs.size)
    return centre, (float(np.exp(logs.mean() - half)), float(np.exp(logs.mean() + half)))
