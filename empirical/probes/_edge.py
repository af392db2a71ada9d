"""The stability edge of a sweep: the smallest learning rate at which a run fails, per seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import stdtrit  # Student's t quantile, as scipy.stats.t.ppf

from empirical._core.arguments import checked, kind, optional, real, whole
from empirical.sweep._result import SweepCell, SweepResult
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
        Geometric mean of the seeds' edges where every seed's runs cross from passing to
        failing once (:attr:`single`); ``nan`` where a seed's edge is unknown or is not a
        single crossing: then there is no edge to report, only :attr:`band`.
    interval : tuple of float
        95% interval of the geometric mean over seeds (Student's t on the log edges;
        ``(nan, nan)`` with one seed, or where :attr:`edge` is ``nan``).
    rounds : int
        Bisection rounds after the grid.
    crossings : ndarray of int, shape (n_seed,)
        How often each seed's runs switch from passing to failing along every rate it was
        trained at: the scan (the sweep's rates, or the same retrained at a constant rate), the
        doublings, the bisection, and :data:`ABOVE` times its first failing rate; a failure at
        the smallest counts one. 1 is a single edge, 0 no failure at all; more means the
        failing rates are not one interval above the edge, and the bisection, which assumes one
        crossing, brackets the lowest.
    transition : ndarray, shape (n_seed, 2)
        Per seed, the band where passing and failing alternate: the lowest rate tried that
        fails, and the smallest from which every rate tried fails. Both are the top of its
        bracket where it crosses once; where it crosses more often the edge lies inside the
        band. ``nan`` where no rate fails (the upper end: where the largest rate tried passes).
    no_edge_below : ndarray, shape (n_seed,)
        Where a seed has no failing run at all, the largest rate tried (the scan's top doubled
        up to ``max_doublings`` times): it has no edge below it. ``nan`` where its edge was
        found.
    criterion : str
        What a failed run is, in words.
    passing_loss : tuple of float
        Over seeds, the smallest and largest last test loss of the runs that pass at a rate
        above their seed's lowest failing rate (inside :attr:`band`): what the runs that
        alternate with failures end at. ``(nan, nan)`` where none does.
    failure_step : ndarray, shape (n_seed,)
        The step at which each seed's run at its first failing rate (the top of its bracket)
        first fails (1: after the first update): its loss non-finite or above the multiple,
        or under the sweep's own criterion the last step where it ends no better than it
        started. ``nan`` where the bracket never closed. A failure at step 1 is the first
        update's overshoot, whatever happens after it.

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
    crossings: np.ndarray
    transition: np.ndarray
    no_edge_below: np.ndarray
    criterion: str
    passing_loss: tuple
    failure_step: np.ndarray

    @property
    def single(self) -> bool:
        """Every seed's bracket closed and its runs cross from passing to failing exactly once
        along every rate tried: the edge is one crossing, and bisection found it."""
        return bool(np.all(self.crossings == 1) and np.all(np.isfinite(self.seed_edges)))

    @property
    def band(self) -> tuple[float, float]:
        """Over seeds, the lowest rate tried at which a run fails and the smallest from which
        every seed's runs fail at every rate tried (``nan`` where some seed's largest rate
        passes, or where no run fails)."""
        low, high = self.transition[:, 0], self.transition[:, 1]
        return (float(np.nanmin(low)) if np.isfinite(low).any() else float("nan"),
                float(np.max(high)) if np.isfinite(high).all() else float("nan"))


def _grid_brackets(lrs: np.ndarray, fail: np.ndarray) -> np.ndarray:
    """Per seed, the last scanned rate below the first failing one and that failing one; a
    missing end (``nan``) where no rate failed (lower end: the top of the scan) or the
    smallest did (upper end: the bottom of the scan)."""
    brackets = np.full((fail.shape[0], 2), np.nan)
    for s, row in enumerate(fail):
        if not row.any():
            brackets[s, 0] = lrs[-1]
        elif row[0]:
            brackets[s, 1] = lrs[0]
        else:
            k = int(np.argmax(row))
            brackets[s] = lrs[k - 1], lrs[k]
    return brackets


def _failure_steps(test_loss: np.ndarray, initial_loss: np.ndarray,
                   divergence: float | None) -> np.ndarray:
    """(n_seed, n_lr): the step (1: after the first update) at which each run first fails, 0
    where it does not: its loss non-finite, or above ``divergence`` times its start
    (:func:`diverged`); with ``divergence`` None the sweep's own criterion (:func:`failed`),
    the first non-finite step, else the last where the run ends no better than it started."""
    bad = ~np.isfinite(test_loss)
    if divergence is not None:
        with np.errstate(invalid="ignore"):
            bad |= test_loss > divergence * initial_loss[:, None, None]
    first = np.where(bad.any(axis=-1), bad.argmax(axis=-1) + 1, 0)
    if divergence is None:
        with np.errstate(invalid="ignore"):
            ends = (first == 0) & (test_loss[:, :, -1] >= initial_loss[:, None])
        first = np.where(ends, test_loss.shape[-1], first)
    return first


def _fails(spec, batch_size: int, rates: np.ndarray, initial: np.ndarray,
           divergence: float | None, constant_rate: bool) -> tuple[np.ndarray, np.ndarray]:
    """Every seed trained at every rate, as one program: the step at which each run failed
    (:func:`_failure_steps`) and its last test loss, each ``(n_seed, n_rate)``."""
    order = np.unique(rates)
    [(_, test, _)] = _train(spec, order, [batch_size], tuple(spec.seeds),
                            constant_rate=constant_rate)
    columns = np.searchsorted(order, rates)
    return _failure_steps(test, initial, divergence)[:, columns], test[:, columns, -1]


def _has_schedule(spec) -> bool:
    """The sweep's runs follow a schedule (warmup or decay) that a constant rate drops."""
    if spec.is_workload:
        config = spec.workload().optimizer
        return config.warmup > 0 or config.decay != "constant"
    return spec.model == "mlp-adam"


@checked(result=kind(SweepResult), rounds=whole(0, 52, " (float64 resolves no finer bracket)"),
         max_doublings=whole(0, 64), divergence=optional(real(1.0, 1e300, open_low=True)),
         constant_rate=kind(bool))
def stability_edges(result: SweepResult, *, rounds: int = 6, max_doublings: int = 16,
                    divergence: float | None = None,
                    constant_rate: bool = False) -> list[StabilityEdge]:
    """The smallest learning rate at which a run fails, per batch size and seed.

    A run fails by the sweep's own criterion (:func:`empirical.failed`: it diverges or ends no
    better than it started), or with ``divergence`` by :func:`empirical.diverged` (its loss is
    non-finite or rises above ``divergence`` times its start within the horizon). The sweep's
    rates are the scan (with ``constant_rate`` and a schedule, retrained at a constant rate:
    one program per batch size); each seed's first failing rate and the one below it bracket
    its edge, and the scan counts its crossings. Where no scanned rate fails (or the smallest
    already does), the rate is doubled up (halved down) from the scan's end until the bracket
    closes, at most ``max_doublings`` times; a seed still without a failure has no edge below
    the largest rate tried. Then ``rounds`` of bisection in log learning rate narrow every
    bracket by a factor ``2**rounds`` in log space. Each round trains all seeds' midpoints at
    once for every seed (one vectorized program per batch size, the sweep's own trainer,
    horizon and minibatches) and keeps each seed's run at its own midpoint. Each seed is then
    trained once more at multiples of its first failing rate (:data:`ABOVE`), and its
    crossings are counted along every rate tried: the edge of a batch size is reported only
    where every seed crosses once (:attr:`StabilityEdge.single`), else it is absent and
    :attr:`StabilityEdge.band` says where passing and failing alternate.

    Parameters
    ----------
    result : SweepResult
    rounds : int, default 6
        With the homework's grid (rates 1.25x apart) six rounds leave brackets 1.0035x wide
        (a doubled bracket: 1.011x).
    max_doublings : int, default 16
    divergence : float, optional
        The loss's multiple of its start that counts as a blow-up (``> 1``); the sweep's own
        criterion by default.
    constant_rate : bool, default False
        Measure at a constant rate: a sweep with a warmup or a decay (``mlp-adam``, a
        workload's schedule) is retrained without it, as the stability theories assume. A
        decay to zero stops a run short of its blow-up, so the scheduled edge is not a
        property of the rate.

    Returns
    -------
    list of StabilityEdge
        One per batch size.

    Notes
    -----
    The edge is a property of the horizon: a run just above it may need more steps to blow up
    than the sweep trains. Bisection assumes one crossing between the bracket's ends; where a
    seed's runs cross more often (a ReLU network's run that blows up at one rate and at a
    larger one kills its hidden units, stops moving and ends below its start; or Adam's
    bounded steps, whose peak loss rises with the rate gradually and noisily) the smallest
    failing rate is not a stability edge and bisection need not find it, so the edge is
    ``nan`` and the seeds' bisected edges are kept in :attr:`StabilityEdge.seed_edges`.

    References
    ----------
    .. [1] D. Granziol, S. Zohren, S. Roberts, "Learning Rates as a Function of Batch Size: A
       Random Matrix Theory Approach to Neural Network Training", JMLR 23 (2022),
       arXiv:2006.09092 (the largest stable learning rate against the batch size).

    See Also
    --------
    failed, diverged : The two definitions of a failed run.
    run_sweep : The sweep it starts from.

    Examples
    --------
    >>> from empirical import LRGrid, SweepSpec, run_sweep, stability_edges
    >>> spec = SweepSpec("linear-sgd", [4], LRGrid(k_max=24), steps=50, n_train=2000)
    >>> [edge] = stability_edges(run_sweep(spec, progress=False), divergence=10.0)
    >>> round(edge.edge, 2), edge.crossings.tolist()
    (0.2, [1])
    """
    retrain = constant_rate and _has_schedule(result.spec)
    words = ("the loss non-finite or above " + f"{divergence:g}x its start within the horizon"
             if divergence is not None else "the loss non-finite, or its last value no better "
             "than its start") + (", at a constant rate" if retrain else
                                  ", under the sweep's own schedule" if _has_schedule(result.spec)
                                  else "")
    return [_edge_of(result.spec, cell, rounds, max_doublings, divergence, retrain, words)
            for cell in result.cells]


def _update(fails, brackets: np.ndarray, seeds: np.ndarray, rates: np.ndarray) -> None:
    """Train ``seeds`` at their own ``rates``; a failure closes the top, else the bottom."""
    fail = fails(rates)
    for j, (s, rate) in enumerate(zip(seeds, rates, strict=True)):
        brackets[s, 1 if fail[s, j] else 0] = rate


_DOUBLINGS_PER_PROGRAM = 4
"""Doublings (or halvings) tried at once per program: a seed's bracket closes at the first
failure (success) among them, exactly as one doubling per program would close it."""


def _widen(fails, brackets: np.ndarray, max_doublings: int) -> None:
    """Close every open bracket end by doubling the top (halving the bottom) away from the scan,
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
        fail = fails(rates.ravel())
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


ABOVE = (2.0**0.5, 2.0, 4.0)
"""Multiples of each seed's first failing rate trained once more: a single edge fails there too."""


def _edge_of(spec, cell: SweepCell, rounds: int, max_doublings: int, divergence: float | None,
             retrain: bool, words: str) -> StabilityEdge:
    tried: list[tuple] = []            # (rates, failure step, last loss), each run (n_seed, n_rates)

    def fails(rates: np.ndarray) -> np.ndarray:
        steps, last = _fails(spec, cell.batch_size, rates, cell.initial_loss, divergence, retrain)
        tried.append((rates, steps, last))
        return steps > 0

    if retrain:
        scan = fails(cell.lrs)
    else:
        tried.append((cell.lrs, _failure_steps(cell.test_loss, cell.initial_loss, divergence),
                      cell.test_loss[:, :, -1]))
        scan = tried[-1][1] > 0
    brackets = _grid_brackets(cell.lrs, scan)
    _widen(fails, brackets, max_doublings)
    known = np.flatnonzero(np.isfinite(brackets).all(axis=1))
    for _ in range(rounds if known.size else 0):
        _update(fails, brackets, known, np.sqrt(brackets[known, 0] * brackets[known, 1]))
    if known.size:
        fails((brackets[known, 1, None] * np.array(ABOVE)).ravel())
    seed_edges = np.sqrt(brackets[:, 0] * brackets[:, 1])
    no_edge_below = np.where(np.isnan(brackets[:, 1]), brackets[:, 0], np.nan)
    crossings = _crossings(tried)
    edge, interval = _geometric_interval(np.where(crossings == 1, seed_edges, np.nan))
    return StabilityEdge(batch_size=cell.batch_size, seed_edges=seed_edges, brackets=brackets,
                         edge=edge, interval=interval, rounds=rounds, crossings=crossings,
                         transition=_transition(tried), no_edge_below=no_edge_below,
                         criterion=words, passing_loss=_passing_loss(tried),
                         failure_step=_step_at(tried, brackets[:, 1]))


def _ordered(tried: list) -> tuple[np.ndarray, ...]:
    """Every rate any program trained (every seed trains every rate), ascending, and what each
    run recorded in that order: ``(n_rate,)``, then ``(n_seed, n_rate)`` for each, first the
    step at which it failed (0: it did not)."""
    rates, first = np.unique(np.concatenate([t[0] for t in tried]), return_index=True)
    return rates, *(np.concatenate([t[k] for t in tried], axis=1)[:, first]
                    for k in range(1, len(tried[0])))


def _step_at(tried: list, rates: np.ndarray) -> np.ndarray:
    """Per seed, the step at which its run at ``rates[seed]`` failed; ``nan`` where that rate
    is ``nan``."""
    tried_rates, steps, *_ = _ordered(tried)
    out = np.full(rates.shape, np.nan)
    for s, rate in enumerate(rates):
        if np.isfinite(rate):
            out[s] = steps[s, np.searchsorted(tried_rates, rate)]
    return out


def _crossings(tried: list) -> np.ndarray:
    """Per seed, the switches from passing to failing along every rate any program trained it
    at (a failure at the smallest counts one)."""
    fail = (_ordered(tried)[1] > 0).astype(int)
    return np.sum(np.diff(fail, axis=1) == 1, axis=1) + fail[:, 0]


def _passing_loss(tried: list) -> tuple[float, float]:
    """Over seeds, the smallest and largest last loss of the runs that pass above their seed's
    lowest failing rate (``nan`` where none does)."""
    _, steps, last = _ordered(tried)
    fail = steps > 0
    above = np.cumsum(fail, axis=1) > 0                    # at or above the first failure
    values = last[above & ~fail]
    return ((float(np.min(values)), float(np.max(values))) if values.size
            else (float("nan"), float("nan")))


def _transition(tried: list) -> np.ndarray:
    """Per seed, the lowest rate tried that fails and the smallest from which every rate tried
    fails (``nan`` where none fails, or where the largest passes)."""
    rates, steps, *_ = _ordered(tried)
    fail = steps > 0
    n = rates.size
    first = np.where(fail.any(axis=1), rates[np.argmax(fail, axis=1)], np.nan)
    passing = ~fail
    last_pass = np.where(passing.any(axis=1), n - 1 - np.argmax(passing[:, ::-1], axis=1), -1)
    from_here = np.where(last_pass < n - 1, rates[np.minimum(last_pass + 1, n - 1)], np.nan)
    return np.column_stack([first, from_here])


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
