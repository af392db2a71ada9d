"""The stability edge against batch size: measured, predicted from the batch Hessian, fitted."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import stdtrit  # Student's t quantile, as scipy.stats.t.ppf

import nqm
from compare.analysis._optima import Study
from compare.fit._fits import ScalingFit, fit_rule, fit_scaling
from empirical import (
    StabilityEdge,
    batch_hessian_top_eigenvalues,
    hessian_top_eigenvalue,
    preconditioned_hessian_top_eigenvalues,
    stability_edges,
    trained_parameters,
)
from empirical._core.arguments import MAX_ITERATIONS, MAX_RESAMPLES, SEED, checked, kind, whole

ADAM_DIVERGENCE = 10.0
"""Adam's edge is measured at a constant rate (no warmup, no decay: a decay to zero stops a
run short of its blow-up) and a run fails when its loss is non-finite or rises above this
multiple of its start within the horizon (:func:`empirical.diverged`). SGD's edge keeps the
sweep's own criterion, whose exact least-squares theory is
:meth:`nqm.LeastSquaresSGD.failure_lr`."""
ADAM_DIVERGENCE_CHECK = 100.0
"""Adam's edge measured again at this multiple: its update is bounded by the rate, so its loss
grows gradually above the edge, and how far the edge moves with the multiple is reported."""

CLAIMS = {"sgd": (1.0, "linear"), "adam": (0.5, "square root")}
"""Granziol et al. (2022): the largest stable rate scales linearly in B for SGD and as its
square root for Adam (:func:`nqm.claimed_max_lr`, with the paper's assumptions)."""

NOISE_PLUS_HESSIAN = "Granziol et al.: 2 / (lambda_1 + kappa/B)"
"""The name of the paper's own form among an SGD study's predicted edges."""

FROZEN_ADAM = "Cohen et al.: 2 (1 + beta1) / ((1 - beta1) lambda_max(P^-1 H_B))"
"""The start of the names of an Adam study's predicted edges (``", init"`` and ``", trained"``):
:func:`nqm.adam_max_stable_lr` of the preconditioned sharpness."""


@dataclass
class HessianRegimes:
    """Granziol et al.'s form of an SGD study's edge, :math:`2/(\\lambda_1 + \\kappa/B)`
    (:func:`nqm.noise_plus_hessian_lr`), and the measured edge's exponent in each of its regimes.

    Attributes
    ----------
    full_hessian : float
        :math:`\\lambda_1`: the full training set's Hessian's largest eigenvalue at the first
        seed's initialization (:func:`empirical.hessian_top_eigenvalue`).
    noise : float
        :math:`\\kappa = B_0(\\lambda_{\\max}(H_{B_0}) - \\lambda_1)`, from the mean minibatch
        Hessian's largest eigenvalue at the smallest batch size :math:`B_0` (the form scaled at
        that one point); ``nan`` where it is not above :math:`\\lambda_1`.
    crossover : float
        :math:`\\kappa/\\lambda_1`: the noise term dominates below it (the paper: linear), the
        full Hessian above it (the paper: saturated).
    noise_fit, hessian_fit : ScalingFit or None
        The measured edge fitted over the batch sizes below (above) the crossover that have a
        single edge (:attr:`empirical.StabilityEdge.single`), ``None`` where fewer than two do.
    noise_form_exponent, hessian_form_exponent : float
        The form's own power-law exponent over the same batch sizes, through the same
        weighted fit: it reaches the paper's limits (1 below, 0 above) only far from the
        crossover, so the measured exponent is set against it rather than against the limits.
    exact_full_hessian, exact_noise : float
        Least squares only (``nan`` otherwise): the same two numbers from theory. The
        training set's Hessian :math:`2X^\\top X/N` by the Marchenko-Pastur edge with its
        Tracy-Widom finite-size mean (:func:`nqm.marchenko_pastur_edge`), and
        :math:`\\kappa = 2D`, the :math:`1/B` term of the exact minibatch edge
        :math:`2(1 + \\sqrt{D/B})^2` (the form leaves out its cross term
        :math:`4\\sqrt{D/B}`: :func:`nqm.noise_plus_hessian_lr`).
    """

    full_hessian: float
    noise: float
    crossover: float
    noise_fit: ScalingFit | None
    hessian_fit: ScalingFit | None
    noise_form_exponent: float = float("nan")
    hessian_form_exponent: float = float("nan")
    exact_full_hessian: float = float("nan")
    exact_noise: float = float("nan")


@dataclass
class EdgeStudy:
    """The stability edge of one sweep, its predictions and its scaling, beside the optimum's.

    Attributes
    ----------
    model, label : str
    optimizer : {"sgd", "adam"}
        Which of the paper's claims applies.
    edges : list of StabilityEdge
        Measured per batch size (95% intervals over seeds).
    fit : ScalingFit or None
        The rules fitted to the measured edges (bootstrap over seeds) at the batch sizes where
        the edge is a single crossing for every seed (:attr:`empirical.StabilityEdge.single`;
        the others are absent, named in ``notes``), ``None`` where fewer than two are.
    hessian_init, hessian_trained : ndarray, shape (n_b, 3)
        The minibatch Hessian's largest eigenvalue at the first seed's initialization and at
        the point the sweep's optimum rate reaches after its steps: the mean over minibatches
        and its 95% interval (Student's t).
    predicted : dict of str to ndarray
        Predicted edges per batch size: the paper's claim (linear or square root) anchored at
        the measured edge of the smallest batch size with a single edge (``"claim: linear from
        B = 2"``), ``"2 / lambda_max, init"`` and ``"2 / lambda_max, trained"`` (gradient
        descent on one minibatch, SGD only; for least squares, whose minibatch Hessian does not
        depend on the weights, the one ``"2 / lambda_max (minibatch Hessian)"``), and for least
        squares the exact theory of the measurement's own criterion (``"exact, same criterion"``), SGD's
        mean-square bound and the Marchenko-Pastur edge of the batch Hessian; for Adam,
        :data:`FROZEN_ADAM` at initialization and at the trained point.
    optimum : ScalingFit
        The fixed-horizon optimum's fit (from the study), for the side-by-side.
    criterion : str
        What a failed run is, in words (:attr:`empirical.StabilityEdge.criterion`).
    check_edges : list of StabilityEdge or None
        Adam only: the edges at :data:`ADAM_DIVERGENCE_CHECK` times the start instead of
        :data:`ADAM_DIVERGENCE`.
    regimes : HessianRegimes or None
        SGD only: the paper's noise-plus-Hessian form and the edge's exponent in its regimes
        (its prediction is ``predicted[NOISE_PLUS_HESSIAN]``).
    preconditioned_init, preconditioned_trained : ndarray, shape (n_b, 3), or None
        Adam only: the preconditioned sharpness :math:`\\lambda_{\\max}(P^{-1}H_B)` at the same
        two points (:func:`empirical.preconditioned_hessian_top_eigenvalues`, Adam's denominator
        at its expectation there; coupled weight decay included, AdamW's decoupled decay left
        out), mean and 95% interval as above.
    notes : list of str

    See Also
    --------
    edge_study : Builds it.
    edge_conclusions : Its sentences.
    """

    model: str
    label: str
    optimizer: str
    edges: list
    fit: ScalingFit | None
    hessian_init: np.ndarray
    hessian_trained: np.ndarray
    predicted: dict
    optimum: ScalingFit
    criterion: str
    check_edges: list | None = None
    regimes: HessianRegimes | None = None
    preconditioned_init: np.ndarray | None = None
    preconditioned_trained: np.ndarray | None = None
    notes: list = field(default_factory=list)

    @property
    def batch_sizes(self) -> np.ndarray:
        return np.array([e.batch_size for e in self.edges], dtype=float)


def _mean_interval(values: np.ndarray) -> np.ndarray:
    mean = values.mean()
    half = (stdtrit(values.size - 1, 0.975) * values.std(ddof=1) / np.sqrt(values.size)
            if values.size > 1 else np.nan)
    return np.array([mean, mean - half, mean + half])


def _boot_edges(edges: list[StabilityEdge], n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n_b): the geometric-mean edge on resamples of the seeds, the same resample at
    every batch size (a seed is shared across batch sizes)."""
    logs = np.log(np.array([e.seed_edges for e in edges]))         # (n_b, n_seed)
    rows = np.random.default_rng(seed).integers(0, logs.shape[1], (n_boot, logs.shape[1]))
    return np.exp(logs[:, rows].mean(axis=-1).T)


def band_text(edge: StabilityEdge) -> str:
    """Where passing and failing alternate at a batch size without a single edge: from the
    lowest failing rate tried to the rate from which every seed's runs fail."""
    low, high = edge.band
    return (f"runs pass and fail alternately from {low:.3g} to "
            + (f"{high:.3g}" if np.isfinite(high) else "beyond the largest rate tried"))


def _absent(edges: list[StabilityEdge], start: list[float], best: list[float]) -> str:
    """Where the edge is absent: some seed with no failure below the largest rate tried, a
    failure at every rate tried, or runs that cross from passing to failing more than once
    (with what the runs that pass there end at, beside the mean ``start`` and the ``best``
    mean last loss of the sweep at that batch size)."""
    parts = []
    for e, first, lowest in zip(edges, start, best, strict=True):
        if e.single:
            continue
        below = e.no_edge_below[np.isfinite(e.no_edge_below)]
        if below.size:
            why = f"no edge below {below.min():.3g} for {below.size} of {e.seed_edges.size} seeds"
        elif not np.all(np.isfinite(e.seed_edges)):
            why = "a failure at every rate tried"
        else:
            low, high = e.passing_loss
            why = (f"no single edge ({np.sum(e.crossings > 1)} of {e.seed_edges.size} seeds "
                   f"cross more than once: {band_text(e)}"
                   + (f", and the runs that pass there end at a test loss of {low:.3g}-"
                      f"{high:.3g}, against {first:.3g} at the start and {lowest:.3g} for the "
                      "sweep's best rate" if np.isfinite(low) else "") + ")")
        parts.append(f"B = {e.batch_size}: {why}")
    return "edge absent at " + "; ".join(parts)


@checked(study=kind(Study), n_boot=whole(2, MAX_RESAMPLES), seed=SEED,
         rounds=whole(0, 52, " (float64 resolves no finer bracket)"), max_doublings=whole(0, 64),
         n_batches=whole(1, MAX_ITERATIONS), iterations=whole(1, MAX_ITERATIONS))
def edge_study(study: Study, *, n_boot: int = 200, seed: int = 0, rounds: int = 6,
               max_doublings: int = 16, n_batches: int = 5, iterations: int = 30) -> EdgeStudy:
    """Measure the stability edge of a study's sweep, predict it from the batch Hessian, fit it.

    The edge is :func:`empirical.stability_edges` (for SGD the smallest rate whose run
    diverges or ends no better than it started; for Adam, at a constant rate, the smallest
    whose loss is non-finite or rises above :data:`ADAM_DIVERGENCE` times its start; beyond
    the grid by at most ``max_doublings`` doublings, bisected ``rounds`` times; absent at a
    batch size where some seed's runs cross from passing to failing more than once), fitted
    at the batch sizes with a single edge with the rules and intervals of the optima
    (:func:`fit_scaling`, bootstrap over seeds). The minibatch
    Hessian's largest eigenvalue (:func:`empirical.batch_hessian_top_eigenvalues`,
    ``n_batches`` minibatches of each size, ``iterations`` Lanczos steps) is taken at the first
    seed's initialization and at the point its run at the sweep's optimal rate reaches; for
    SGD, gradient descent on one minibatch is stable below ``2 / lambda_max``. For least squares
    the exact theory adds the rate where the expected test loss after the sweep's steps reaches
    the initial loss (:meth:`nqm.LeastSquaresSGD.failure_lr`: the measurement's own criterion),
    SGD's mean-square bound ``B / (B + D + 1)`` and the Marchenko-Pastur edge
    ``(1 + sqrt(D/B))^-2``. For Adam the preconditioned sharpness at the same two points
    (:func:`empirical.preconditioned_hessian_top_eigenvalues`, with the run's eps and coupled
    weight decay) gives Cohen et al.'s frozen-preconditioner edge
    (:func:`nqm.adam_max_stable_lr` with the run's beta1).

    See Also
    --------
    analyze : The study it extends.
    edge_conclusions : The verdict on "linear for SGD, square root for Adam".
    """
    result, spec = study.result, study.result.spec
    workload = spec.workload()
    optimizer = "adam" if (workload.optimizer.kind != "sgd") else "sgd"
    adam = dict(divergence=ADAM_DIVERGENCE, constant_rate=True) if optimizer == "adam" else {}
    edges = stability_edges(result, rounds=rounds, max_doublings=max_doublings, **adam)
    check = (stability_edges(result, rounds=rounds, max_doublings=max_doublings,
                             divergence=ADAM_DIVERGENCE_CHECK, constant_rate=True)
             if optimizer == "adam" else None)
    b = np.array([e.batch_size for e in edges], dtype=float)
    notes = []
    single = np.array([e.single for e in edges])
    kept = [e for e in edges if e.single]
    fit = None
    if len(kept) >= 2:
        fit = fit_scaling(b[single], [e.edge for e in kept], _boot_edges(kept, n_boot, seed),
                          n_seeds=len(spec.seeds))
    if not single.all():
        initial_losses = [float(np.mean(c.initial_loss)) for c in result.cells]
        best = [float(np.nanmin(c.test_loss[:, :, -1].mean(axis=0))) for c in result.cells]
        notes.append(_absent(edges, initial_losses, best) + (": no fit" if fit is None else
                                                             ": left out of the fit"))
    start = workload.parameters(spec.seeds[0])
    hessians = dict(n_batches=n_batches, iterations=iterations, seed=seed)
    init, trained, frozen_init, frozen_trained = [], [], [], []
    for i, edge in enumerate(edges):
        b_i = edge.batch_size
        point = trained_parameters(spec, study.optima[i].lr, b_i, spec.seeds[0])
        usable = all(bool(v.isfinite().all()) for v in point.values())
        init.append(_mean_interval(batch_hessian_top_eigenvalues(
            workload.loss, start, workload.train, b_i, **hessians)))
        trained.append(_mean_interval(batch_hessian_top_eigenvalues(
            workload.loss, point, workload.train, b_i, **hessians)) if usable else np.full(3, np.nan))
        if optimizer == "adam":
            config = workload.optimizer.at_batch_size(b_i)
            adam_terms = dict(eps=config.eps, weight_decay=(
                config.weight_decay if config.kind == "adam" else 0.0), **hessians)
            frozen_init.append(_mean_interval(preconditioned_hessian_top_eigenvalues(
                workload.loss, start, workload.train, b_i, **adam_terms)))
            frozen_trained.append(_mean_interval(preconditioned_hessian_top_eigenvalues(
                workload.loss, point, workload.train, b_i, **adam_terms)) if usable
                else np.full(3, np.nan))
    init, trained = np.array(init), np.array(trained)
    regimes = None
    if optimizer == "sgd":
        full = hessian_top_eigenvalue(workload.loss, start, workload.train,
                                      iterations=iterations, seed=seed)
        kappa = b[0] * (init[0, 0] - full) if init[0, 0] > full else float("nan")
        regimes = _regimes(edges, full, kappa, n_boot, seed, len(spec.seeds))
        if spec.model == "linear-sgd":
            dim, n = spec.problem().dim, workload.train[0].shape[0]
            regimes.exact_full_hessian = 2 * float(nqm.marchenko_pastur_edge(
                n, dim, finite_size=True))
            regimes.exact_noise = 2.0 * dim
    _, name = CLAIMS[optimizer]
    predicted = {}
    if kept:
        predicted[f"claim: {name} from B = {kept[0].batch_size}"] = nqm.claimed_max_lr(
            b, optimizer=optimizer, reference_batch_size=kept[0].batch_size,
            reference_lr=kept[0].edge)
    if optimizer == "sgd" and spec.model == "linear-sgd":
        # a quadratic loss: the minibatch Hessian does not depend on the weights, so its
        # values at the start and after training are one quantity, shown once
        predicted["2 / lambda_max (minibatch Hessian)"] = 2 / init[:, 0]
    elif optimizer == "sgd":
        predicted["2 / lambda_max, init"] = 2 / init[:, 0]
        predicted["2 / lambda_max, trained"] = 2 / trained[:, 0]
    frozen = (np.array(frozen_init), np.array(frozen_trained)) if optimizer == "adam" else (None, None)
    if optimizer == "adam":
        beta1 = np.array([workload.optimizer.at_batch_size(e.batch_size).betas[0] for e in edges])
        for where, sharpness in zip(("init", "trained"), frozen, strict=True):
            predicted[f"{FROZEN_ADAM}, {where}"] = _adam_edge(sharpness[:, 0], beta1)
    if regimes is not None and np.isfinite(regimes.noise):
        predicted[NOISE_PLUS_HESSIAN] = nqm.noise_plus_hessian_lr(
            b, top_eigenvalue=regimes.full_hessian, noise=regimes.noise)
    if spec.model == "linear-sgd":
        problem = spec.problem()
        theory = nqm.LeastSquaresSGD(dim=problem.dim, noise_std=problem.noise_std,
                                     init_error=2 * problem.dim**2)
        initial = problem.noise_std**2 + 2 * problem.dim
        predicted["exact, same criterion"] = theory.failure_lr(b, spec.steps, initial)
        predicted["mean-square bound B/(B+D+1)"] = theory.max_stable_lr(b)
        predicted["Marchenko-Pastur (1+sqrt(D/B))^-2"] = 1 / nqm.marchenko_pastur_edge(
            b, problem.dim)
    return EdgeStudy(spec.model, study.label, optimizer, edges, fit, init, trained, predicted,
                     study.horizon, edges[0].criterion, check, regimes, *frozen, notes)


def _adam_edge(sharpness: np.ndarray, beta1: np.ndarray) -> np.ndarray:
    """:func:`nqm.adam_max_stable_lr`, ``nan`` where the sharpness is not a positive number
    (a trained point that diverged, or a flat direction)."""
    usable = np.isfinite(sharpness) & (sharpness > 0)
    return np.where(usable, nqm.adam_max_stable_lr(np.where(usable, sharpness, 1.0), beta1=beta1),
                    np.nan)


def _regimes(edges: list[StabilityEdge], full: float, kappa: float, n_boot: int, seed: int,
             n_seeds: int) -> HessianRegimes:
    """The form's crossover, and the measured edge fitted on each side of it (the batch sizes
    with a single edge)."""
    b = np.array([e.batch_size for e in edges], dtype=float)
    single = np.array([e.single for e in edges])
    crossover = kappa / full
    fits, form_exponents = [], []
    for side in (single & (b < crossover), single & (b > crossover)):
        if side.sum() < 2:
            fits.append(None)
            form_exponents.append(float("nan"))
            continue
        chosen = [e for e, keep in zip(edges, side, strict=True) if keep]
        fit = fit_scaling(b[side], [e.edge for e in chosen], _boot_edges(chosen, n_boot, seed),
                          n_seeds=n_seeds)
        form = nqm.noise_plus_hessian_lr(b[side], top_eigenvalue=full, noise=kappa)
        fits.append(fit)
        form_exponents.append(fit_rule("power", b[side], form, fit.log_sd).params["exponent"])
    return HessianRegimes(full, kappa, crossover, *fits, *form_exponents)
