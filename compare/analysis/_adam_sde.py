"""Adam's square-root SDE rule measured on the teacher MLP: loss curves against the examples
seen under three scaling rules, the optimum under the full rule, and the noise scale that
decides whether the SDE's regime applies."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from compare.fit._fits import ScalingFit, fit_scaling
from empirical import (
    AdamScaling,
    NoiseTrace,
    find_optimum,
    noise_along_run,
    teacher_mlp_problem,
    teacher_mlp_workload,
    train_mlp_batched,
)
from empirical._core.arguments import MAX_RESAMPLES, SEED, SEEDS, checked, numbers, whole
from empirical.sweep._optimum import subgrid_argmin_rows

REFERENCE_BATCH = 128
"""B_ref: the batch size the rules scale from."""
KAPPAS = (1 / 16, 1 / 4, 1.0, 4.0, 16.0, 64.0)
"""kappa = B / B_ref of ``lrbs run`` (B = 8 to 8192)."""
EXAMPLES = 16384
"""Examples every run sees (the SDE's time at a fixed rate schedule): 128 steps at B_ref,
2 at B = 8192."""
BASE_BETAS = (0.9, 0.999)
"""Adam's betas at B_ref: the values the SDE papers assume (the notebook's (0.5, 0.5) admit
no kappa >= 2 under the rule)."""
BASE_EPS = 1e-8
LR_FACTORS = 2.0 ** (np.arange(-4, 5) / 2)
"""The rate grid of each batch size under the full rule: sqrt(kappa) times a first guess at
B_ref's optimum, times these factors."""
FIRST_GUESS = 0.08
"""The grid's centre at B_ref (the optimum of a pilot run, 0.07-0.1)."""
RULES = ("sde", "sqrt-lr", "linear-lr")
"""(a) Malladi et al.'s full rule; (b) the rate alone by sqrt(kappa); (c) the rate alone by
kappa. (b) and (c) keep the reference's betas and eps."""
BASELINE_SEED_OFFSET = 1000
"""The seed-noise baseline: the reference at seeds ``s + offset``, against seeds ``s``."""


@dataclass
class AdamSDEStudy:
    """Adam's square-root SDE rule, measured.

    Attributes
    ----------
    batch_sizes : ndarray of int, shape (n_k,)
        ``kappa * reference_batch``.
    kappas : ndarray, shape (n_k,)
    reference_batch, examples : int
    seeds : tuple of int
    floor : float
        The test loss's noise floor.
    reference_lr : float
        The optimum at the reference batch size (sub-grid estimate, the full rule's sweep at
        kappa = 1), the rate every rule scales.
    defined : ndarray of bool, shape (n_k,)
        Whether the full rule exists there (``kappa (1 - beta1) < 1``).
    examples_seen : list of ndarray
        Per kappa, the examples seen at each compared point (multiples of the larger batch).
    curves : dict of str to list
        Per rule, per kappa, the seed-mean test loss at ``examples_seen`` (``None`` where
        undefined); ``"reference"``: the reference's at the same points.
    distance : dict of str to ndarray
        Per rule, shape (n_k,): the mean absolute gap between the rule's seed-mean curve and
        the reference's over the compared points, divided by the reference's mean excess loss
        there; under ``"<rule> interval"``, shape (n_k, 2), its 95% percentile interval over
        bootstrap resamples of the seeds (the same seeds in both curves). ``nan`` where the
        rule is undefined and at kappa = 1 (every rule is the reference there).
    late_distance : dict of str to ndarray
        The same over the second half of the examples, where the noise scale is larger.
    baseline, late_baseline : float
        The same distances between the reference and the reference trained from other seeds
        (:data:`BASELINE_SEED_OFFSET`): what seed noise alone gives.
    optimum_lr, optimum_interval : ndarray, shapes (n_k,) and (n_k, 2)
        The optimum under the full rule (final-eighth mean test loss; sub-grid estimate and
        its 95% seed-bootstrap interval); ``nan`` where undefined.
    fit : ScalingFit or None
        The rules fitted to those optima (None with fewer than three defined batch sizes).
    noise : NoiseTrace
        The gradient noise scale along the reference run.

    See Also
    --------
    adam_sde_study : Measures it.
    plot_adam_sde : Draws it.
    """

    batch_sizes: np.ndarray
    kappas: np.ndarray
    reference_batch: int
    examples: int
    seeds: tuple
    floor: float
    reference_lr: float
    defined: np.ndarray
    examples_seen: list
    curves: dict
    distance: dict
    late_distance: dict
    baseline: float
    late_baseline: float
    optimum_lr: np.ndarray
    optimum_interval: np.ndarray
    fit: ScalingFit | None
    noise: NoiseTrace


def _distance_rows(run: np.ndarray, ref: np.ndarray, floor: float, picks: np.ndarray) -> np.ndarray:
    """The distance of :class:`AdamSDEStudy` for each row of seed indices ``picks``."""
    run_mean, ref_mean = run[picks].mean(axis=1), ref[picks].mean(axis=1)
    return np.abs(run_mean - ref_mean).mean(axis=1) / (ref_mean - floor).mean(axis=1)


@checked(seeds=SEEDS, kappas=numbers(1, low=0.0, open_low=True, increasing=True),
         reference_batch=whole(1, 10**6), examples=whole(1, 10**8), n_boot=whole(1, MAX_RESAMPLES),
         seed=SEED)
def adam_sde_study(seeds=(0, 1, 2, 3, 4), kappas=KAPPAS, *, reference_batch: int = REFERENCE_BATCH,
                   examples: int = EXAMPLES, n_boot: int = 1000, seed: int = 0) -> AdamSDEStudy:
    r"""Test Malladi et al.'s square-root SDE rule for Adam on the teacher MLP.

    Adam with betas (0.9, 0.999), eps 1e-8, the problem's L2 weight decay 0.001 and a constant
    rate (a schedule would have to be rescaled in time too) trains on ``examples`` examples at
    every batch size :math:`B = \kappa B_\mathrm{ref}`. First the rate is swept under the full
    rule (:class:`empirical.AdamScaling`: betas and eps scaled) at each batch size where the
    rule exists, a grid of :data:`LR_FACTORS` around :math:`\sqrt{\kappa}` times
    :data:`FIRST_GUESS`, and the optimum of the mean test loss over the final eighth of the
    examples is found (:func:`empirical.find_optimum`); the optimum at :math:`\kappa = 1` is the
    reference rate :math:`\eta_\mathrm{ref}`. The SDE predicts the optimum
    :math:`\eta_\mathrm{ref}\sqrt{\kappa}`: exponent 1/2. Then, at every kappa, three rules
    scale :math:`\eta_\mathrm{ref}`: (a) the full rule, (b) :math:`\sqrt{\kappa}\,\eta` alone,
    (c) :math:`\kappa\,\eta` alone, and each seed-mean test-loss curve is compared with the
    reference's at the same examples seen, the SDE's time.

    Parameters
    ----------
    seeds : sequence of int
        Run seeds (initialization and minibatches); the reference at seed ``s`` and every rule
        at seed ``s`` share the initialization.
    kappas : sequence of float, increasing
        Batch-size ratios; each ``kappa * reference_batch`` must be a whole number dividing
        ``examples``, and 1 must be among them.
    reference_batch, examples : int
    n_boot : int, default 1000
        Bootstrap resamples of the seeds.
    seed : int, default 0
        The bootstrap's and the noise probe's seed.

    Returns
    -------
    AdamSDEStudy

    References
    ----------
    S. Malladi, K. Lyu, A. Panigrahi, S. Arora, On the SDEs and scaling rules for adaptive
    gradient algorithms, NeurIPS 2022, arXiv:2205.10287 (the square-root scaling rule; the SDE
    approximation assumes small rates and gradient noise that dominates the gradient).

    See Also
    --------
    empirical.AdamScaling : The rule.
    noise_along_run : The noise-scale probe.
    """
    seeds = tuple(int(s) for s in seeds)
    kappas = np.asarray(kappas, dtype=float)
    batch_sizes = kappas * reference_batch
    if not np.allclose(batch_sizes, np.round(batch_sizes)) or 1.0 not in kappas:
        raise ValueError(f"kappas times reference_batch={reference_batch} must be whole batch "
                         f"sizes and include kappa = 1, got {list(kappas)}")
    batch_sizes = np.round(batch_sizes).astype(int)
    if np.any(examples % batch_sizes):
        raise ValueError(f"examples={examples} must be a multiple of every batch size "
                         f"{batch_sizes.tolist()}")
    problem = teacher_mlp_problem(0)
    floor = problem.noise_std**2
    rule = AdamScaling(reference_batch)
    defined = np.array([rule.defined_at(BASE_BETAS, int(b)) for b in batch_sizes])
    picks = np.random.default_rng(seed).integers(0, len(seeds), (n_boot, len(seeds)))

    def train(lrs, b, betas, eps, run_seeds=seeds):
        steps = examples // b
        return train_mlp_batched(problem, lrs, int(b), steps, run_seeds=run_seeds, optimizer="adam",
                                 betas=betas, eps=eps, schedule=np.ones(steps))[1]

    # the rate swept under the full rule: the optimum per batch size, B_ref's first; the
    # full rule's own run at sqrt(kappa) eta_ref rides along in the same program
    optimum_lr, optimum_interval = np.full(kappas.size, np.nan), np.full((kappas.size, 2), np.nan)
    boot_lr = np.full((n_boot, kappas.size), np.nan)
    full_rule_runs = {}
    reference_lr = None
    for i in np.argsort(np.abs(np.log(kappas))):                 # kappa = 1 first
        kappa, b = kappas[i], int(batch_sizes[i])
        if not defined[i]:
            continue
        lrs = FIRST_GUESS * np.sqrt(kappa) * LR_FACTORS
        extra = [] if reference_lr is None else [np.sqrt(kappa) * reference_lr]
        test = train(np.r_[lrs, extra], b, rule.betas_at(BASE_BETAS, b), rule.eps_at(BASE_EPS, b))
        if extra:
            full_rule_runs[i], test = test[:, -1], test[:, :-1]
        window = max(1, test.shape[-1] // 8)
        metric = test[..., -window:].mean(axis=-1).T                 # (n_lr, n_seed)
        opt = find_optimum(b, lrs, metric, floor=floor, n_boot=n_boot, seed=seed)
        optimum_lr[i], optimum_interval[i] = opt.subgrid_lr, opt.interval
        finite = np.where(np.isfinite(metric), metric, np.inf)
        boot_lr[:, i] = subgrid_argmin_rows(lrs, finite[:, picks].mean(axis=2).T)
        if reference_lr is None:
            reference_lr = float(opt.subgrid_lr)
    fit = (fit_scaling(batch_sizes[defined], optimum_lr[defined], boot_lr[:, defined],
                       n_seeds=len(seeds)) if defined.sum() >= 3 else None)

    # the three rules' curves against the reference's, at the same examples seen; the
    # reference and its seed-noise baseline (other seeds) in one program
    both = train([reference_lr], reference_batch, BASE_BETAS, BASE_EPS,
                 run_seeds=seeds + tuple(s + BASELINE_SEED_OFFSET for s in seeds))[:, 0]
    ref, other = both[:len(seeds)], both[len(seeds):]                # (seed, steps)
    baseline = float(_distance_rows(other, ref, floor, np.arange(len(seeds))[None])[0])
    second_half = np.arange(1, ref.shape[1] + 1) * reference_batch > examples / 2
    late_baseline = float(_distance_rows(other[:, second_half], ref[:, second_half], floor,
                                         np.arange(len(seeds))[None])[0])
    curves = {name: [] for name in ("reference", *RULES)}
    distance, late_distance = ({**{name: np.full(kappas.size, np.nan) for name in RULES},
                                **{name + " interval": np.full((kappas.size, 2), np.nan)
                                   for name in RULES}} for _ in range(2))
    examples_seen = []
    for i, (kappa, b) in enumerate(zip(kappas, batch_sizes, strict=True)):
        stride = max(int(b), reference_batch)
        seen = np.arange(stride, examples + 1, stride)
        examples_seen.append(seen)
        ref_at = ref[:, seen // reference_batch - 1]
        curves["reference"].append(ref_at.mean(0))
        if kappa == 1:                     # every rule is the reference itself: not compared
            for name in RULES:
                curves[name].append(ref_at.mean(0))
            continue
        lrs = np.array([np.sqrt(kappa), kappa]) * reference_lr
        order = np.argsort(lrs)
        fixed = train(lrs[order], int(b), BASE_BETAS, BASE_EPS)[:, np.argsort(order)]
        runs = {"sqrt-lr": fixed[:, 0], "linear-lr": fixed[:, 1]}
        if i in full_rule_runs:
            runs["sde"] = full_rule_runs[i]
        for name in RULES:
            if name not in runs:
                curves[name].append(None)
                continue
            run_at = runs[name][:, seen // int(b) - 1]
            curves[name].append(run_at.mean(0))
            for where, late in ((distance, slice(None)), (late_distance, seen > examples / 2)):
                where[name][i] = _distance_rows(run_at[:, late], ref_at[:, late], floor,
                                                np.arange(len(seeds))[None])[0]
                rows = _distance_rows(run_at[:, late], ref_at[:, late], floor, picks)
                where[name + " interval"][i] = (
                    np.percentile(rows[np.isfinite(rows)], [2.5, 97.5])
                    if np.isfinite(rows).any() else (np.inf, np.inf))

    workload = teacher_mlp_workload("adam", adam_betas=BASE_BETAS)
    constant = dataclasses.replace(workload.optimizer, warmup=0, decay="constant")
    noise = noise_along_run(dataclasses.replace(workload, optimizer=constant), reference_lr,
                            reference_batch, examples // reference_batch,
                            every=max(1, examples // reference_batch // 4), run_seed=seeds[0],
                            seed=seed)
    return AdamSDEStudy(
        batch_sizes=batch_sizes, kappas=kappas, reference_batch=reference_batch, examples=examples,
        seeds=seeds, floor=floor, reference_lr=reference_lr, defined=defined,
        examples_seen=examples_seen, curves=curves, distance=distance,
        late_distance=late_distance, baseline=baseline, late_baseline=late_baseline,
        optimum_lr=optimum_lr, optimum_interval=optimum_interval, fit=fit, noise=noise)

