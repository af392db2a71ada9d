"""One study = one sweep, its optima under two criteria, the rule fits and the exact theory."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import nqm
from compare.fit._fits import ScalingFit, fit_scaling
from empirical import Optimum, SweepCell, SweepResult, steps_to_target_optimum, subgrid_argmin
from empirical._core.arguments import MAX_RESAMPLES, POSITIVE, SEED, checked, function, kind, optional, whole
from empirical.problems._shipped import ADAM_BETAS
from empirical.sweep._optimum import steps_to_target_rows, subgrid_argmin_rows


def adam_label(betas) -> str:
    """The shipped Adam study's name, with its betas: every Adam verdict says which it is."""
    return f"MLP, Adam (betas {betas[0]:g}, {betas[1]:g}; warmup + cosine)"


LABELS = {"linear-sgd": "Least squares, SGD", "mlp-sgd": "MLP, SGD",
          "mlp-adam": adam_label(ADAM_BETAS)}
FLAT_POINTS = 3
"""A basin (rates within 5% of the best *excess* loss) is called flat when it holds at least
this many grid rates: the argmin inside it is then a coin toss, and the interval carries the
conclusion."""


@checked(result=kind(SweepResult), estimator=function, n_boot=whole(2, MAX_RESAMPLES), seed=SEED)
def bootstrap_optima(result: SweepResult, estimator: Callable[[SweepCell, np.ndarray], float], *,
                     n_boot: int = 200, seed: int = 0) -> np.ndarray:
    """Re-estimate the optimum of every batch size on bootstrap resamples of the seeds.

    Parameters
    ----------
    result : SweepResult
    estimator : callable
        ``estimator(cell, seed_indices) -> lr``, the optimum from the runs of the given seeds.
        One with a ``rows(cell, picks)`` method (:func:`horizon_estimator`,
        :func:`target_estimator`) gives every resample of a cell at once, the same numbers.
    n_boot : int, default 200
    seed : int, default 0
        Seed of the resampling generator.

    Returns
    -------
    ndarray, shape (n_boot, n_b) or (n_boot, n_b, k)
        One resample of seed indices per row, shared by all batch sizes (a run seed is common
        to every batch size), the last axis for an estimator that returns ``k`` values; empty
        (``n_boot`` = 0) with a single seed.

    See Also
    --------
    compare.fit_scaling : Fits the rules with these rows as its bootstrap.
    empirical.find_optimum : The per-batch-size optimum and its own interval.

    References
    ----------
    .. [1] B. Efron, R. J. Tibshirani, An Introduction to the Bootstrap (1993), ch. 6.

    Examples
    --------
    The sub-grid optimum of the final test loss, re-estimated on 100 resamples of 3 seeds:

    >>> import numpy as np
    >>> from compare import bootstrap_optima
    >>> from empirical import LRGrid, SweepSpec, run_sweep, subgrid_argmin
    >>> spec = SweepSpec("linear-sgd", (4, 64), LRGrid(k_max=24), steps=50, seeds=(0, 1, 2),
    ...                  n_train=2000, extend=False)
    >>> def final_loss_optimum(cell, picks):
    ...     return subgrid_argmin(cell.lrs, cell.test_loss[picks, :, -1].mean(axis=0))
    >>> rows = bootstrap_optima(run_sweep(spec, progress=False), final_loss_optimum, n_boot=100)
    >>> rows.shape
    (100, 2)
    """
    n_seed = len(result.spec.seeds)
    if n_seed < 2:
        return np.empty((0, len(result.cells)))
    picks = np.random.default_rng(seed).integers(0, n_seed, (n_boot, n_seed))
    rows = getattr(estimator, "rows", None)
    if rows is not None:                      # blocks of resamples bound the memory
        return np.concatenate([
            np.stack([np.asarray(rows(cell, block)) for cell in result.cells], axis=1)
            for block in np.array_split(picks, -(-n_boot // _ROWS_PER_BLOCK))])
    return np.array([[estimator(cell, p) for cell in result.cells] for p in picks])


_ROWS_PER_BLOCK = 256


def _finite(values: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(values), values, np.inf)


@dataclass(frozen=True)
class _Horizon:
    """Sub-grid argmin of the seed-mean test loss over the last ``window`` steps."""

    window: int

    def __call__(self, cell: SweepCell, seeds: np.ndarray) -> float:
        return subgrid_argmin(cell.lrs, _finite(cell.metric(self.window)[:, seeds]).mean(axis=1))

    def rows(self, cell: SweepCell, picks: np.ndarray) -> np.ndarray:
        """The estimate for every row of seed indices ``picks`` (n_boot, n_seed)."""
        means = _finite(cell.metric(self.window))[:, picks].mean(axis=2)     # (n_lr, n_boot)
        return subgrid_argmin_rows(cell.lrs, means.T)


@dataclass(frozen=True)
class _Target:
    """(rate, steps, censored): the rate that reaches ``target`` test loss for good in the
    fewest (fractional) steps, seed-mean."""

    target: float

    def __call__(self, cell: SweepCell, seeds: np.ndarray) -> tuple[float, float, bool]:
        return steps_to_target_optimum(cell.lrs, cell.test_loss[seeds], self.target)

    def rows(self, cell: SweepCell, picks: np.ndarray) -> np.ndarray:
        """``(rate, steps, censored)`` for every row of seed indices ``picks``: shape
        (n_boot, 3)."""
        curves = _finite(cell.test_loss)
        means = np.stack([curves[p].mean(axis=0) for p in picks])     # (n_boot, n_lr, steps)
        return np.column_stack(steps_to_target_rows(cell.lrs, means, self.target))


def horizon_estimator(window: int) -> Callable[[SweepCell, np.ndarray], float]:
    """Sub-grid argmin of the seed-mean test loss over the last ``window`` steps (with the
    batched ``rows`` that :func:`bootstrap_optima` uses)."""
    return _Horizon(window)


def target_estimator(target: float) -> Callable[[SweepCell, np.ndarray],
                                                tuple[float, float, bool]]:
    """(rate, steps): the rate that reaches ``target`` test loss in the fewest steps, seed-mean
    (with the batched ``rows`` that :func:`bootstrap_optima` uses)."""
    return _Target(target)


def percentile_interval(boot: np.ndarray) -> np.ndarray:
    """95% percentile intervals (n_b, 2) of bootstrap rows (n_boot, n_b), in log space.

    The kind :func:`empirical.find_optimum` gives the fixed-horizon optimum; non-finite
    resamples (the target not reached) widen the interval to infinity.
    """
    with np.errstate(invalid="ignore"):
        logs = np.log(np.where(np.isfinite(boot), boot, np.inf))
        bounds = np.percentile(logs, [2.5, 97.5], axis=0)      # inf - inf interpolates to nan
    return np.exp(np.where(np.isnan(bounds), np.inf, bounds)).T


@dataclass
class Theory:
    """What the exact least-squares theory predicts for a sweep's setting.

    The measured optima come from estimators on a grid (a quadratic sub-grid vertex for the
    fixed horizon, the fewest-steps grid rate for the target); ``*_same_estimator`` puts the
    finite-sample theory's expected curves through the *same* estimators on the *same* grid,
    so that measured and predicted differ only by the sweep's sampling noise. The continuous
    argmins (``finite_lr``, ``online_lr``, ``target_lr``) are shown beside them: their gap to
    the measurement includes the estimators' own bias.

    Attributes
    ----------
    online_lr : ndarray, shape (n_b,)
        :meth:`nqm.LeastSquaresSGD.optimal_lr` (fresh samples each step), same steps and window.
    finite_lr : ndarray, shape (n_b,)
        :meth:`nqm.FiniteSampleLeastSquaresSGD.optimal_lr` on the sweep's own training set.
    finite_metric : list of ndarray, shape (n_lr,) each
        The finite-sample prediction of the measured metric at each grid rate.
    horizon_same_estimator : ndarray, shape (n_b,)
        :func:`empirical.subgrid_argmin` of ``finite_metric``: the fixed-horizon prediction
        through the measurement's estimator.
    target_same_estimator, target_steps_same_estimator : ndarray, shape (n_b,)
        :func:`empirical.steps_to_target_optimum` of the finite-sample expected test curves on
        the grid: rate and (integer) steps.
    target_lr, target_steps : ndarray, shape (n_b,)
        Steps-to-target optimum of :class:`nqm.LeastSquaresSGD` (real-valued step count).
    curve_batch_sizes, curve_steps : ndarray
        A dense curve of the optimal steps-to-target for figure 3.
    critical_batch_size : float
        Where the optimal step count is twice its large-batch limit :math:`S_{\\min} = 1`.

    See Also
    --------
    Study : The study it belongs to.
    nqm.FiniteSampleLeastSquaresSGD : The finite-sample theory.
    nqm.LeastSquaresSGD : The online theory.
    """

    online_lr: np.ndarray
    finite_lr: np.ndarray
    finite_metric: list
    horizon_same_estimator: np.ndarray
    target_same_estimator: np.ndarray
    target_steps_same_estimator: np.ndarray
    target_lr: np.ndarray
    target_steps: np.ndarray
    curve_batch_sizes: np.ndarray
    curve_steps: np.ndarray
    critical_batch_size: float


def least_squares_theory(result: SweepResult, target: float) -> Theory:
    """Evaluate :class:`nqm.LeastSquaresSGD` and :class:`nqm.FiniteSampleLeastSquaresSGD`."""
    spec, problem = result.spec, result.spec.problem()
    b = np.array([c.batch_size for c in result.cells], dtype=float)
    online = nqm.LeastSquaresSGD(dim=problem.dim, noise_std=problem.noise_std,
                                 init_error=2.0 * problem.dim**2)
    finite = nqm.FiniteSampleLeastSquaresSGD(problem.X_train, problem.y_train, problem.X_test,
                                             problem.y_test)
    curves = [finite.expected_test_mse(c.lrs, c.batch_size, spec.steps)[:, 1:]
              for c in result.cells]                    # (n_lr, steps): after each update
    finite_metric = [c[:, -spec.window:].mean(axis=1) for c in curves]
    same_target = np.array([steps_to_target_optimum(cell.lrs, c[None], target)
                            for cell, c in zip(result.cells, curves, strict=True)])
    target_lr = np.atleast_1d(online.optimal_lr_target(b, target))
    curve_b = np.geomspace(1, 4 * b.max(), 40)
    curve_steps = np.atleast_1d(online.steps_to_target(online.optimal_lr_target(curve_b, target),
                                                       curve_b, target))
    # integer step counts: at infinite batch lr = 1/2 solves isotropic least squares in one
    # step, so S_min = 1 and B_crit is where the optimal (real-valued) count falls to 2
    with np.errstate(divide="ignore"):       # a target above the initial loss takes 0 steps
        b_crit = (float(np.exp(np.interp(np.log(2.0), np.log(curve_steps[::-1]),
                                         np.log(curve_b[::-1]))))
                  if curve_steps.min() <= 2.0 else np.inf)
    return Theory(
        online_lr=np.atleast_1d(online.optimal_lr(b, spec.steps, window=spec.window)),
        finite_lr=np.array([finite.optimal_lr(int(x), spec.steps, window=spec.window) for x in b]),
        finite_metric=finite_metric,
        horizon_same_estimator=np.array([subgrid_argmin(c.lrs, m) for c, m in
                                         zip(result.cells, finite_metric, strict=True)]),
        target_same_estimator=same_target[:, 0], target_steps_same_estimator=same_target[:, 1],
        target_lr=target_lr,
        target_steps=np.atleast_1d(online.steps_to_target(target_lr, b, target)),
        curve_batch_sizes=curve_b, curve_steps=curve_steps,
        critical_batch_size=b_crit)


@dataclass
class Study:
    """A sweep analysed: optima, flat basins, both criteria's fits, theory where it exists.

    Attributes
    ----------
    model : str
    result : SweepResult
        The raw curves.
    optima : list of Optimum, length n_b
        Fixed-horizon optimum per batch size (metric: mean test loss over the last ``window``
        steps).
    flat : list of bool, length n_b
        The basin holds at least :data:`FLAT_POINTS` grid rates.
    horizon : ScalingFit
        The rules fitted to the fixed-horizon sub-grid optima.
    target_loss : float
        The steps-to-target criterion's test loss.
    target_lr, target_steps : ndarray, shape (n_b,)
        The rate reaching ``target_loss`` for good in the fewest steps, and that (fractional)
        step count (:func:`empirical.steps_to_target_optimum`).
    target_censored : ndarray of bool, shape (n_b,)
        The count is censored at one update: the rate is not determined, and the fit leaves
        the batch size out.
    target_interval, target_steps_interval : ndarray, shape (n_b, 2)
        Their 95% percentile intervals over bootstrap resamples of the seeds, the rate's
        widened to at least half a grid step on each side where it is a grid rate (no
        sub-grid minimum); infinite where some resample never reaches the target.
    target : ScalingFit or None
        The rules fitted to ``target_lr`` at the uncensored batch sizes (``None`` if some batch
        size never reaches the target, or fewer than three are uncensored).
    theory : Theory or None
        The exact least-squares theory (the ``linear-sgd`` model only).
    notes : list of str
        Grid extensions and anything the analysis had to skip.

    See Also
    --------
    analyze : Builds it from a sweep.
    summarize : Its machine-readable summary.
    Theory : The exact theory it carries for least squares.
    """

    model: str
    result: SweepResult
    optima: list
    flat: list
    horizon: ScalingFit
    target_loss: float
    target_lr: np.ndarray
    target_steps: np.ndarray
    target_censored: np.ndarray
    target_interval: np.ndarray
    target_steps_interval: np.ndarray
    target: ScalingFit
    theory: Theory | None = None
    notes: list = field(default_factory=list)

    @property
    def key(self) -> str:
        """The sweep as a name for results, files and page anchors (:func:`sweep_key`)."""
        return sweep_key(self.model, self.result.spec.adam_betas)

    @property
    def label(self) -> str:
        betas = self.result.spec.adam_betas
        if self.model == "mlp-adam" and betas is not None:
            return adam_label(betas)
        return LABELS.get(self.model) or self.result.spec.label

    @property
    def batch_sizes(self) -> np.ndarray:
        return np.array([o.batch_size for o in self.optima])


def model_key(model: str) -> str:
    """A model as a name for files and page anchors (a workload reference sanitized)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", model).strip("-")


def sweep_key(model: str, adam_betas=None) -> str:
    """A sweep as a name for results, files and page anchors: its model (:func:`model_key`),
    followed by Adam's betas where the sweep sets its own (``SweepSpec.adam_betas``), as in
    ``mlp-adam-betas-0p9-0p999``."""
    key = model_key(model)
    if adam_betas is not None:
        key += "-betas-" + "-".join(f"{b:g}".replace(".", "p") for b in adam_betas)
    return key


def _flat(cell: SweepCell, optimum: Optimum) -> bool:
    lo, hi = optimum.basin
    return int(np.sum((cell.lrs >= lo) & (cell.lrs <= hi))) >= FLAT_POINTS


def default_target(result: SweepResult, optima: list[Optimum]) -> float:
    """A test loss every batch size reaches: floor + 1.25 x the largest best excess."""
    floor = result.spec.noise_floor()
    return float(floor + 1.25 * max(o.best_loss - floor for o in optima))


def _with_grid_resolution(cells, lrs: np.ndarray, interval: np.ndarray) -> np.ndarray:
    """``interval`` (n_b, 2) widened to half a grid step on each side of each rate that is a
    grid rate (the local cubic had no minimum, or rates tied): such a rate is known only to
    the grid's resolution, however often the seeds' resamples pick the same one."""
    out = np.array(interval, dtype=float)
    for i, (cell, lr) in enumerate(zip(cells, lrs, strict=True)):
        if not (np.isfinite(lr) and np.isclose(cell.lrs, lr, rtol=1e-12, atol=0).any()):
            continue
        below = cell.lrs[cell.lrs < lr * (1 - 1e-12)]
        above = cell.lrs[cell.lrs > lr * (1 + 1e-12)]
        out[i, 0] = min(out[i, 0], np.sqrt(lr * below[-1]) if below.size else lr)
        out[i, 1] = max(out[i, 1], np.sqrt(lr * above[0]) if above.size else lr)
    return out


@checked(n_boot=whole(2, MAX_RESAMPLES), seed=SEED, target=optional(POSITIVE))
def analyze(result: SweepResult, *, n_boot: int = 200, seed: int = 0,
            target: float | None = None) -> Study:
    """Optima, bootstrap fits under both criteria, and (least squares) the exact theory.

    Parameters
    ----------
    result : SweepResult
    n_boot : int, default 200
        Bootstrap resamples of the seeds, for the optimum intervals and the fits.
    seed : int, default 0
        Seed of the resampling.
    target : float, optional
        Test loss of the steps-to-target criterion; by default :func:`default_target`.

    Returns
    -------
    Study

    See Also
    --------
    empirical.run_sweep : The sweep it analyses.
    fit_scaling : The rule fits.
    summarize : The study as results.json's entry.
    conclusions : The study in sentences.
    """
    if not isinstance(result, SweepResult):
        raise TypeError(f"result must be a SweepResult (from empirical.run_sweep), got "
                        f"{type(result).__name__} {result!r:.60}")
    spec = result.spec
    optima = result.optima(n_boot=n_boot)
    b = np.array([o.batch_size for o in optima], dtype=float)
    horizon = fit_scaling(b, [o.subgrid_lr for o in optima],
                          bootstrap_optima(result, horizon_estimator(spec.window), n_boot=n_boot,
                                           seed=seed), n_seeds=len(spec.seeds))
    target = default_target(result, optima) if target is None else float(target)
    reached = [steps_to_target_optimum(c.lrs, c.test_loss, target) for c in result.cells]
    target_lr = np.array([r[0] for r in reached])
    target_steps = np.array([r[1] for r in reached])
    censored = np.array([r[2] for r in reached])
    boot = bootstrap_optima(result, target_estimator(target), n_boot=n_boot, seed=seed)
    if len(boot):
        target_interval, steps_interval = (percentile_interval(boot[..., k]) for k in (0, 1))
    else:
        target_interval, steps_interval = (np.column_stack([v, v]) for v in (target_lr,
                                                                               target_steps))
    target_interval = _with_grid_resolution(result.cells, target_lr, target_interval)
    notes = [f"B={c.batch_size}: {n}" for c in result.cells for n in c.notes]
    target_fit = None
    if not np.all(np.isfinite(target_lr)):
        notes.append(f"target {target:.4g} not reached at every batch size")
    elif np.sum(~censored) < 3:
        notes.append(f"target {target:.4g} reached within the first update at "
                     f"{int(censored.sum())} of {censored.size} batch sizes: too few counted "
                     "steps to fit")
    else:
        if censored.any():
            notes.append(f"steps to target {target:.4g}: censored at one update (reached within "
                         "the first) at B = " + ", ".join(f"{x:g}" for x in b[censored])
                         + ", left out of the fit")
        target_fit = fit_scaling(b[~censored], target_lr[~censored],
                                 boot[..., 0][:, ~censored] if len(boot) else boot,
                                 n_seeds=len(spec.seeds))
    theory = least_squares_theory(result, target) if spec.model == "linear-sgd" else None
    return Study(spec.model, result, optima, [_flat(c, o) for c, o in zip(result.cells, optima, strict=True)],
                 horizon, target, target_lr, target_steps, censored, target_interval,
                 steps_interval,
                 target_fit, theory, notes)
