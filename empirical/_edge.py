"""The stability edge of a sweep: the smallest learning rate at which a run fails, per seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from empirical._sweep import SweepCell, SweepResult, _train, failed


@dataclass(frozen=True)
class StabilityEdge:
    """The stability edge of one batch size: per seed, and over seeds.

    Attributes
    ----------
    batch_size : int
    seed_edges : ndarray, shape (n_seed,)
        Each seed's edge: the geometric midpoint of its final bracket; ``nan`` where no
        grid rate failed (the edge lies above the grid) or the smallest one did (below it).
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
    """Per seed, the last grid rate below the first failing one and that failing one."""
    fail = failed(cell.test_loss, cell.initial_loss)
    brackets = np.full((fail.shape[0], 2), np.nan)
    for s, row in enumerate(fail):
        if row.any() and not row[0]:
            k = int(np.argmax(row))
            brackets[s] = cell.lrs[k - 1], cell.lrs[k]
    return brackets


def stability_edges(result: SweepResult, *, rounds: int = 6) -> list[StabilityEdge]:
    """The smallest learning rate at which a run diverges or collapses, per batch size and seed.

    The sweep's grid brackets each seed's edge (the first failing rate and the one below it,
    :func:`empirical.failed`); ``rounds`` of bisection in log learning rate then narrow every bracket by
    a factor ``2**rounds`` in log space. Each round trains all seeds' midpoints at once for
    every seed (one vectorized program per batch size, the sweep's own trainer, horizon and
    minibatches) and keeps each seed's run at its own midpoint.

    Parameters
    ----------
    result : SweepResult
    rounds : int, default 6
        With the homework's grid (rates 1.25x apart) six rounds leave brackets 1.0035x wide.

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
    if isinstance(rounds, bool) or not isinstance(rounds, int | np.integer) or rounds < 0:
        raise ValueError(f"rounds must be an integer >= 0, got {rounds!r}")
    spec = result.spec
    seeds = tuple(spec.seeds)
    edges = []
    for cell in result.cells:
        brackets = _grid_brackets(cell)
        known = np.isfinite(brackets[:, 0])
        for _ in range(rounds if known.any() else 0):
            mid = np.sqrt(brackets[known, 0] * brackets[known, 1])
            rates = np.unique(mid)
            [(_, test)] = _train(spec, rates, [cell.batch_size], seeds)
            fail = failed(test, cell.initial_loss)
            for s, m in zip(np.flatnonzero(known), mid, strict=True):
                brackets[s, 1 if fail[s, np.searchsorted(rates, m)] else 0] = m
        seed_edges = np.sqrt(brackets[:, 0] * brackets[:, 1])
        edges.append(StabilityEdge(cell.batch_size, seed_edges, brackets,
                                   *_geometric_interval(seed_edges), rounds))
    return edges


def _geometric_interval(values: np.ndarray) -> tuple[float, tuple[float, float]]:
    """Geometric mean and its 95% Student interval over seeds (log space)."""
    if not np.all(np.isfinite(values)):
        return float("nan"), (float("nan"), float("nan"))
    logs = np.log(values)
    centre = float(np.exp(logs.mean()))
    if logs.size < 2:
        return centre, (float("nan"), float("nan"))
    half = stats.t.ppf(0.975, logs.size - 1) * logs.std(ddof=1) / np.sqrt(logs.size)
    return centre, (float(np.exp(logs.mean() - half)), float(np.exp(logs.mean() + half)))
