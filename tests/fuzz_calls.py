"""Every public callable of nqm, empirical and compare, with a small valid call of each.

The fuzz test (``tests/test_fuzz.py``) starts from these calls and replaces one argument at a
time by an extreme value. ``public_callables`` finds the names from the packages' ``__all__``
(and the public methods of their classes), so a new function fails the test until it has an
entry here or in ``NOT_FUZZED`` with a reason.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

import compare
import empirical
import empirical.files
import nqm

PACKAGES = (nqm, empirical, empirical.files, compare)


@dataclass(frozen=True)
class Call:
    """A valid call: ``function(**kwargs)``; ``inf`` (``nan``) says why an infinite (a nan)
    result is documented."""

    function: Callable
    kwargs: dict
    inf: str = ""
    nan: str = ""


NOT_FUZZED = {
    # records the library makes and returns; their values are checked where they are made
    **{name: "a record returned by the library" for name in (
        "nqm.CriticalBatch", "nqm.NoiseScale", "nqm.OptimalSchedule", "nqm.OptimalSteps", "nqm.RiskDecomposition",
        "empirical.DigitsRuns", "empirical.NoiseEstimate", "empirical.NoiseTrace",
        "empirical.Optimum", "empirical.ScalingRuns", "empirical.ShapeResult",
        "empirical.StabilityEdge", "empirical.SweepCell", "empirical.SweepResult",
        "empirical.DigitsSplit", "empirical.Problem",
        "nqm.SurgeParameters", "empirical.SignStatistics",
        "compare.AdamSDEStudy", "compare.AnnealingFit", "compare.AnnealingStudy",
        "compare.GreedyStudy", "compare.TrajectoryStudy", "compare.TemperatureStudy",
        "compare.DataAxis", "compare.DataLawFit", "compare.NuisanceStudy",
        "compare.TransferStudy", "empirical.CoordinateCheck", "empirical.MuPScaling",
        "compare.CriticalBatchFit", "compare.EdgeStudy", "compare.Extrapolation",
        "compare.LawFit", "compare.NoiseScaleStudy", "compare.RiskSimulation",
        "compare.RuleFit", "compare.ScalingFit", "compare.ScalingRule", "compare.Study",
        "compare.Theory")},
    "empirical.DamagedFileError": "an exception class",
    "empirical.WorkloadError": "an exception class",
    "empirical.MODELS": "a tuple of names",
    "compare.RULES": "a dict of rules",
    "nqm.symbolic": "a module of sympy expressions (tests/nqm/test_symbolic.py)",
    "empirical.reference": "a module of per-run loops (tests/empirical/test_*_parity.py)",
    "empirical.Workload": "the user's model; its errors are tests/test_bad_inputs.py's workload "
                          "table",
    "empirical.Workload.from_module": "the user's model, as Workload",
    "empirical.Workload.parameters": "calls the user's init",
    "compare.run_report": "the whole report (tests/compare/test_report.py); its arguments are "
                          "checked by the command line table",
    "compare.run_scaling_law": "the whole scaling-law report (tests/compare/test_scaling_law.py)",
    "compare.run_nuisance": "trains into a folder (tests/compare/test_scaling_law.py's CLI run)",
    "compare.run_transfer": "trains into a folder (tests/compare/test_scaling_law.py's CLI run)",
    "empirical.SweepResult.save": "writes a folder (tests/empirical/test_store.py)",
    "empirical.SweepResult.load": "reads a folder (tests/empirical/test_store.py)",
    "empirical.files.locked_directory": "a context manager (tests/empirical/test_store.py)",
    "compare.draw_diagonal_nqm": "draws on an axis the caller owns; plot_diagonal_nqm is fuzzed",
}


def public_callables() -> list[str]:
    """Dotted names of every public callable: ``__all__`` and the classes' public methods."""
    names = []
    for package in PACKAGES:
        for name in package.__all__:
            obj = getattr(package, name)
            names.append(f"{package.__name__}.{name}")
            if inspect.isclass(obj) and not issubclass(obj, BaseException):
                for attr in dir(obj):
                    static = inspect.getattr_static(obj, attr)
                    if not attr.startswith("_") and (
                            inspect.isfunction(static)
                            or isinstance(static, (classmethod, staticmethod))):
                        names.append(f"{package.__name__}.{name}.{attr}")
    return names


# --- small valid objects ---------------------------------------------------------------------

@functools.cache
def zhang() -> nqm.DiagonalNQM:
    return nqm.DiagonalNQM.zhang2019(dim=50)


@functools.cache
def least_squares() -> nqm.LeastSquaresSGD:
    return nqm.LeastSquaresSGD(dim=4, noise_std=1.0, init_error=1.0)


@functools.cache
def problem() -> empirical.Problem:
    return empirical.least_squares_problem(0, n_train=64, n_test=16, dim=4)


@functools.cache
def mlp_problem() -> empirical.Problem:
    return empirical.teacher_mlp_problem(0, n_train=64, n_test=16)


@functools.cache
def finite_sample() -> nqm.FiniteSampleLeastSquaresSGD:
    p = problem()
    return nqm.FiniteSampleLeastSquaresSGD(p.X_train, p.y_train, p.X_test, p.y_test)


SDE_SETTINGS = dict(seeds=(0, 1, 2), kappas=(0.5, 1.0, 2.0, 8.0), reference_batch=4, examples=64,
                    n_boot=20, seed=0)


ANNEALING_SCHEDULES = (np.full(40, 0.1), 0.05 * (1 + np.cos(np.pi * np.arange(40) / 40)))


def annealing_losses() -> list:
    return [2 + compare.annealing_areas(r)[0] ** -0.5 - 0.3 * compare.annealing_areas(r)[1]
            for r in ANNEALING_SCHEDULES]


@functools.cache
def annealing_fit() -> compare.AnnealingFit:
    return compare.fit_annealing_law(ANNEALING_SCHEDULES, annealing_losses())


@functools.cache
def adam_sde() -> compare.AdamSDEStudy:
    return compare.adam_sde_study(**SDE_SETTINGS)


@functools.cache
def sweep_spec() -> empirical.SweepSpec:
    return empirical.SweepSpec("linear-sgd", (2, 4, 8), empirical.LRGrid(0.01, 2.0, 0, 4),
                               steps=20, seeds=(0, 1, 2), n_train=256, n_test=64, extend=False)


@functools.cache
def sweep() -> empirical.SweepResult:
    return empirical.run_sweep(sweep_spec(), progress=False)


@functools.cache
def study() -> compare.Study:
    return compare.analyze(sweep(), n_boot=20)


@functools.cache
def workload() -> empirical.Workload:
    return empirical.least_squares_workload(n_train=64, n_test=16)


@functools.cache
def params() -> dict:
    return workload().parameters(0)


@functools.cache
def digits() -> empirical.DigitsSplit:
    return empirical.load_digits_split(0)


SHAPES = (empirical.MLPShape(4, 1), empirical.MLPShape(8, 1), empirical.MLPShape(16, 1),
          empirical.MLPShape(8, 2))


@functools.cache
def scaling_spec() -> empirical.ScalingSpec:
    return empirical.ScalingSpec(shapes=SHAPES, seeds=(0, 1),
                                 grid=empirical.LRGrid(1e-3, 4.0, 0, 3), max_steps=40,
                                 eval_every=10, max_extensions=0)


@functools.cache
def scaling_runs() -> empirical.ScalingRuns:
    return empirical.run_scaling_study(scaling_spec())


@functools.cache
def nuisance() -> compare.NuisanceStudy:
    spec = dataclasses.replace(scaling_spec(), shapes=SHAPES[:3], dropout=(0.0, 0.1))
    return compare.nuisance_study([empirical.run_scaling_study(dataclasses.replace(
        spec, batch_size=b)) for b in (4, 8, 16)], n_boot=10)


@functools.cache
def transfer_runs() -> tuple:
    spec = dataclasses.replace(scaling_spec(), shapes=((4, 2), (8, 2), (16, 2)))
    return (empirical.run_scaling_study(spec),
            empirical.run_scaling_study(dataclasses.replace(spec, mup_base_width=4)))


@functools.cache
def transfer() -> compare.TransferStudy:
    return compare.transfer_study(*transfer_runs(), n_boot=10)


@functools.cache
def risk() -> compare.RiskSimulation:
    return compare.simulate_risk(8, [4, 16], (0.0, 0.1), trials=2)


@functools.cache
def edges() -> compare.EdgeStudy:
    return compare.edge_study(study(), n_boot=10, rounds=2, max_doublings=2, n_batches=2,
                              iterations=5)


@functools.cache
def gns() -> compare.NoiseScaleStudy:
    return compare.noise_scale_study(study(), n_boot=10, n_batches=2, every=10)


@functools.cache
def diagonal() -> dict:
    return compare.diagonal_curves(50, [1, 4, 16], target=0.1, bins=10)


DIVERGED = "a diverged run's losses and parameters are inf or nan (documented)"
NO_RULE = "lack_of_fit is nan where no rule is chosen (too few batch sizes; documented)"
DIVERGES = "a rate far above the stable bound diverges: the loss overflows to inf (documented)"
CENSORED = "a crossover beyond every pair of batch sizes is inf, censored (documented)"
BATCHES = np.array([2.0, 4.0, 8.0, 16.0])
LRS = np.array([0.01, 0.02, 0.04, 0.06])
LOSSES = np.array([1.0, 0.5, 0.3, 0.45])


def calls() -> dict[str, Callable[[], Call]]:
    """Name -> a factory of its valid call (factories, so that fixtures are made on use)."""
    ls = least_squares
    q = dict(curvature=1.0, noise_var=1.0)
    return {
        # nqm: the scalar NQM
        "nqm.scalar_expected_loss": lambda: Call(nqm.scalar_expected_loss, dict(
            lr=0.1, batch_size=4, steps=10, w0_sq=1.0, **q),
            inf=DIVERGES),
        "nqm.scalar_stationary_loss": lambda: Call(nqm.scalar_stationary_loss, dict(
            lr=0.1, batch_size=4, **q),
            inf=DIVERGES),
        "nqm.scalar_max_stable_lr": lambda: Call(nqm.scalar_max_stable_lr, dict(curvature=1.0)),
        "nqm.scalar_max_feasible_lr": lambda: Call(nqm.scalar_max_feasible_lr, dict(
            batch_size=4, target_loss=0.2, **q)),
        "nqm.optimal_lr_greedy": lambda: Call(nqm.optimal_lr_greedy, dict(
            batch_size=4, w_sq=1.0, **q)),
        "nqm.optimal_lr_horizon": lambda: Call(nqm.optimal_lr_horizon, dict(
            batch_size=4, steps=10, w0_sq=1.0, **q)),
        "nqm.optimal_lr_target": lambda: Call(nqm.optimal_lr_target, dict(
            batch_size=4, target_loss=0.3, w0_sq=1.0, **q)),
        "nqm.steps_to_target": lambda: Call(nqm.steps_to_target, dict(
            lr=0.1, batch_size=4, target_loss=0.3, w0_sq=1.0, **q),
            inf="an unreachable target takes infinitely many steps (documented)"),
        "nqm.scalar_critical_batch": lambda: Call(nqm.scalar_critical_batch, dict(
            target_loss=0.3, w0_sq=1.0, **q)),
        "nqm.scalar_greedy_steps": lambda: Call(nqm.scalar_greedy_steps, dict(
            batch_size=BATCHES, target_loss=0.3, w0_sq=1.0, **q)),
        "nqm.steps_examples_tradeoff": lambda: Call(nqm.steps_examples_tradeoff, dict(
            batch_size=BATCHES, s_min=10.0, b_crit=100.0)),
        "nqm.mccandlish_lr": lambda: Call(nqm.mccandlish_lr, dict(
            batch_size=BATCHES, lr_max=0.5, b_noise=100.0)),
        "nqm.mccandlish_improvement": lambda: Call(nqm.mccandlish_improvement, dict(
            batch_size=BATCHES, gradient_sq=1.0, lr_max=0.5, b_noise=100.0)),
        "nqm.claimed_max_lr": lambda: Call(nqm.claimed_max_lr, dict(
            batch_size=BATCHES, optimizer="sgd", reference_batch_size=2.0, reference_lr=0.1)),
        "nqm.marchenko_pastur_edge": lambda: Call(nqm.marchenko_pastur_edge, dict(
            batch_size=BATCHES, dim=16)),
        "nqm.noise_plus_hessian_lr": lambda: Call(nqm.noise_plus_hessian_lr, dict(
            batch_size=BATCHES, top_eigenvalue=2.0, noise=32.0)),
        "nqm.adam_max_stable_lr": lambda: Call(nqm.adam_max_stable_lr, dict(
            sharpness=[1.0, 38.0], beta1=0.9)),
        "nqm.mp_stieltjes": lambda: Call(nqm.mp_stieltjes, dict(z=-1.0, gamma=0.5)),
        # nqm: risk
        "nqm.ridgeless_risk": lambda: Call(nqm.ridgeless_risk, dict(n=20, d=10, noise_var=0.1)),
        "nqm.ridge_risk": lambda: Call(nqm.ridge_risk, dict(n=20, d=10, lam=0.1, noise_var=0.1)),
        "nqm.optimal_ridge_lambda": lambda: Call(nqm.optimal_ridge_lambda, dict(
            n=20, d=10, noise_var=0.1)),
        # nqm: least squares
        "nqm.LeastSquaresSGD": lambda: Call(nqm.LeastSquaresSGD, dict(
            dim=4, noise_std=1.0, init_error=1.0)),
        "nqm.LeastSquaresSGD.expected_error": lambda: Call(ls().expected_error, dict(
            lr=0.1, batch_size=4, steps=10),
            inf=DIVERGES),
        "nqm.LeastSquaresSGD.expected_test_mse": lambda: Call(ls().expected_test_mse, dict(
            lr=0.1, batch_size=4, steps=10),
            inf=DIVERGES),
        "nqm.LeastSquaresSGD.max_stable_lr": lambda: Call(ls().max_stable_lr, dict(
            batch_size=4)),
        "nqm.LeastSquaresSGD.optimal_lr": lambda: Call(ls().optimal_lr, dict(
            batch_size=4, steps=10, window=1)),
        "nqm.LeastSquaresSGD.critical_batch": lambda: Call(ls().critical_batch, dict(
            target_mse=1.1)),
        "nqm.LeastSquaresSGD.greedy_steps": lambda: Call(ls().greedy_steps, dict(
            batch_size=BATCHES, target_mse=1.1)),
        "nqm.LeastSquaresSGD.noise_scale": lambda: Call(ls().noise_scale, dict(error=0.5)),
        "nqm.LeastSquaresSGD.failure_lr": lambda: Call(ls().failure_lr, dict(
            batch_size=4, steps=10, level=1.2)),
        "nqm.LeastSquaresSGD.steps_to_target": lambda: Call(ls().steps_to_target, dict(
            lr=0.1, batch_size=4, target_mse=1.5),
            inf="an unreachable target takes infinitely many steps (documented)"),
        "nqm.LeastSquaresSGD.optimal_lr_target": lambda: Call(ls().optimal_lr_target, dict(
            batch_size=4, target_mse=1.5)),
        "nqm.FiniteSampleLeastSquaresSGD": lambda: Call(nqm.FiniteSampleLeastSquaresSGD, dict(
            X_train=problem().X_train, y_train=problem().y_train, X_test=problem().X_test,
            y_test=problem().y_test)),
        "nqm.FiniteSampleLeastSquaresSGD.expected_test_mse": lambda: Call(
            finite_sample().expected_test_mse, dict(lrs=LRS, batch_size=4, steps=10),
            inf=DIVERGES),
        "nqm.FiniteSampleLeastSquaresSGD.optimal_lr": lambda: Call(
            finite_sample().optimal_lr, dict(batch_size=4, steps=10, window=1)),
        # nqm: the diagonal NQM
        "nqm.DiagonalNQM": lambda: Call(nqm.DiagonalNQM, dict(
            curvatures=np.array([1.0, 0.1]), noise_var=np.array([1.0, 0.1]),
            w0_sq=np.array([1.0, 1.0]))),
        "nqm.DiagonalNQM.zhang2019": lambda: Call(nqm.DiagonalNQM.zhang2019, dict(
            dim=50, bins=10)),
        "nqm.DiagonalNQM.max_stable_lr": lambda: Call(zhang().max_stable_lr, dict(
            momentum=0.5, precondition_power=0.5)),
        "nqm.DiagonalNQM.expected_loss": lambda: Call(zhang().expected_loss, dict(
            lr=0.1, batch_size=4, steps=10, momentum=0.5, precondition_power=0.0,
            ema_decay=0.0),
            inf=DIVERGES),
        "nqm.DiagonalNQM.noise_scale": lambda: Call(zhang().noise_scale, dict(
            lr=0.1, batch_size=4, steps=10, momentum=0.5, precondition_power=0.0)),
        "nqm.DiagonalNQM.steps_to_target": lambda: Call(zhang().steps_to_target, dict(
            lr=0.1, batch_size=4, target_loss=0.2, momentum=0.0, precondition_power=0.0,
            ema_decay=0.0, max_steps=10_000),
            inf="a target not reached within max_steps (documented)"),
        "nqm.DiagonalNQM.optimal_steps_to_target": lambda: Call(
            zhang().optimal_steps_to_target, dict(
                batch_size=4, target_loss=0.2, momentum=0.0, precondition_power=0.0,
                ema_decay=0.0, max_steps=10_000),
            inf="a target not reached within max_steps takes inf steps (documented)",
            nan="...and then has no rate, momentum or decay (documented)"),
        "nqm.DiagonalNQM.critical_batch_size": lambda: Call(zhang().critical_batch_size, dict(
            target_loss=0.2, momentum=0.0, precondition_power=0.0, ema_decay=0.0,
            max_steps=10_000)),
        "nqm.DiagonalNQM.steps_lower_bound": lambda: Call(zhang().steps_lower_bound, dict(
            batch_size=4, target_loss=0.2)),
        "nqm.DiagonalNQM.schedule_loss": lambda: Call(zhang().schedule_loss, dict(
            lrs=[0.5, 0.2], batch_size=4, piece_steps=5, precondition_power=0.0),
            inf=DIVERGES),
        "nqm.sign_descent_lr": lambda: Call(nqm.sign_descent_lr, dict(
            batch_size=[1, 16], gradient=[1.0, -0.5], noise_var=[2.0, 1.0],
            hessian=np.array([[2.0, 0.3], [0.3, 1.0]])),
            nan="where the curvature term is not positive (no finite best step)"),
        "nqm.surge_parameters": lambda: Call(nqm.surge_parameters, dict(
            gradient=[1.0, 1.0], noise_var=[4.0, 4.0], hessian=np.ones((2, 2))),
            nan="(nan, inf) where the surge has no peak", inf="(nan, inf) where it has no peak"),
        "empirical.sign_descent_statistics": lambda: Call(empirical.sign_descent_statistics, dict(
            loss=workload().loss, params=workload().parameters(0), data=workload().train,
            weight_decay=0.001)),
        "nqm.DiagonalNQM.schedule_curve": lambda: Call(zhang().schedule_curve, dict(
            lrs=[0.5, 0.2, 0.2], batch_size=4), inf=DIVERGES),
        "nqm.DiagonalNQM.optimal_schedule": lambda: Call(zhang().optimal_schedule, dict(
            batch_size=4, piece_steps=5, pieces=2, precondition_power=0.0, max_lr=None)),
        "nqm.DiagonalNQM.steps_with_schedule": lambda: Call(zhang().steps_with_schedule, dict(
            batch_size=4, target_loss=0.2, pieces=2, precondition_power=0.0, max_lr=None,
            max_steps=10_000)),
        # empirical: specs and grids
        "empirical.LRGrid": lambda: Call(empirical.LRGrid, dict(
            base=0.01, ratio=2.0, k_min=0, k_max=4)),
        "empirical.LRGrid.values": lambda: Call(empirical.LRGrid().values, dict(
            k_min=0, k_max=4)),
        "empirical.MLPShape": lambda: Call(empirical.MLPShape, dict(width=8, depth=1)),
        "empirical.OptimizerConfig": lambda: Call(empirical.OptimizerConfig, dict(
            kind="sgd", momentum=0.5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
            warmup=2, warmup_start=1e-3, decay="cosine")),
        "empirical.OptimizerConfig.factors": lambda: Call(
            empirical.OptimizerConfig(warmup=2, decay="cosine").factors, dict(steps=10)),
        "empirical.OptimizerConfig.at_batch_size": lambda: Call(empirical.OptimizerConfig(
            kind="adam", betas=(0.9, 0.999), scaling=empirical.AdamScaling(8)).at_batch_size,
            dict(batch_size=16)),
        "empirical.AdamScaling": lambda: Call(empirical.AdamScaling, dict(
            reference_batch=8, scale_betas=True, scale_eps=False)),
        **{f"empirical.AdamScaling.{name}": functools.partial(
            lambda name, kwargs: Call(getattr(empirical.AdamScaling(8), name), kwargs), name, kwargs)
           for name, kwargs in (("kappa", dict(batch_size=16)), ("lr_factor", dict(batch_size=16)),
                                ("defined_at", dict(betas=(0.9, 0.999), batch_size=16)),
                                ("betas_at", dict(betas=(0.9, 0.999), batch_size=16)),
                                ("eps_at", dict(eps=1e-8, batch_size=16)), ("to_dict", {}))},
        "empirical.SweepSpec.adam_settings": lambda: Call(empirical.SweepSpec(
            "mlp-adam", (4, 16), (0.01,), steps=20, adam_betas=(0.9, 0.999),
            adam_scaling=empirical.AdamScaling(8), n_train=64, n_test=16).adam_settings,
            dict(batch_size=16)),
        "empirical.SweepSpec": lambda: Call(empirical.SweepSpec, dict(
            model="linear-sgd", batch_sizes=(2, 4), lrs=(0.01, 0.02), steps=5, seeds=(0,),
            window=1, problem_seed=0, n_train=64, n_test=16, max_extensions=1,
            extension_points=2)),
        "empirical.SweepSpec.workload": lambda: Call(sweep_spec().workload, {}),
        "empirical.SweepSpec.noise_floor": lambda: Call(sweep_spec().noise_floor, {}),
        "empirical.SweepSpec.initial_lrs": lambda: Call(sweep_spec().initial_lrs, {}),
        "empirical.SweepSpec.problem": lambda: Call(sweep_spec().problem, {}),
        "empirical.SweepSpec.memory_bytes": lambda: Call(sweep_spec().memory_bytes, {}),
        "empirical.SweepSpec.check_memory": lambda: Call(sweep_spec().check_memory, {}),
        "empirical.SweepSpec.to_dict": lambda: Call(sweep_spec().to_dict, {}),
        "empirical.SweepSpec.from_dict": lambda: Call(empirical.SweepSpec.from_dict, dict(
            data=sweep_spec().to_dict())),
        "empirical.ScalingSpec": lambda: Call(empirical.ScalingSpec, dict(
            shapes=SHAPES, seeds=(0,), grid=empirical.LRGrid(),
            optimizer="adam", batch_size=16, max_steps=20, eval_every=5, patience=2,
            dropout=0.1, split_seed=0, max_extensions=1, extension_points=2)),
        "empirical.ScalingSpec.to_dict": lambda: Call(scaling_spec().to_dict, {}),
        "empirical.ScalingSpec.from_dict": lambda: Call(empirical.ScalingSpec.from_dict, dict(
            data=scaling_spec().to_dict())),
        # empirical: problems and trainers
        "empirical.least_squares_problem": lambda: Call(empirical.least_squares_problem, dict(
            seed=0, n_train=32, dim=4, noise_std=1.0, n_test=8)),
        "empirical.teacher_mlp_problem": lambda: Call(empirical.teacher_mlp_problem, dict(
            seed=0, n_train=32, dim=4, noise_std=1.0, n_test=8)),
        "empirical.least_squares_workload": lambda: Call(empirical.least_squares_workload, dict(
            problem_seed=0, n_train=32, n_test=8)),
        "empirical.teacher_mlp_workload": lambda: Call(empirical.teacher_mlp_workload, dict(
            optimizer="adam", problem_seed=0, n_train=32, n_test=8, weight_decay=0.01)),
        "empirical.check_workload": lambda: Call(empirical.check_workload, dict(
            workload=workload(), where="fuzz")),
        "empirical.load_workload": lambda: Call(empirical.load_workload, dict(
            reference="tests.empirical.workloads:regression")),
        "empirical.load_digits_split": lambda: Call(empirical.load_digits_split, dict(
            seed=0, val_fraction=0.2, test_fraction=0.2)),
        "empirical.init_mlp_params": lambda: Call(empirical.init_mlp_params, dict(
            shape=empirical.MLPShape(4, 1), seed=0, generator=torch.Generator())),
        "empirical.minibatch_indices": lambda: Call(empirical.minibatch_indices, dict(
            run_seeds=(0, 1), n_train=32, batch_size=4, steps=5)),
        "empirical.schedule_factors": lambda: Call(empirical.schedule_factors, dict(
            steps=20, warmup=5, start_factor=1e-3, decay="cosine")),
        "empirical.train_linear_sgd_batched": lambda: Call(empirical.train_linear_sgd_batched,
            dict(problem=problem(), lrs=LRS, batch_size=4, steps=5, run_seeds=(0, 1)),
            inf=DIVERGED, nan=DIVERGED),
        "empirical.train_mlp_batched": lambda: Call(empirical.train_mlp_batched, dict(
            problem=mlp_problem(), lrs=LRS, batch_size=4, steps=12, run_seeds=(0,),
            optimizer="adam", weight_decay=0.01), inf=DIVERGED, nan=DIVERGED),
        "empirical.train_workload": lambda: Call(empirical.train_workload, dict(
            workload=workload(), lrs=LRS, batch_size=4, steps=5, run_seeds=(0,),
            checkpoints=(2,)), inf=DIVERGED, nan=DIVERGED),
        "empirical.train_digits_batched": lambda: Call(empirical.train_digits_batched, dict(
            split=digits(), shape=empirical.MLPShape(4, 1), lrs=[1e-3, 1e-2], run_seeds=(0,),
            optimizer="adam", batch_size=16, max_steps=20, eval_every=10, patience=1,
            dropout=0.1)),
        "empirical.trained_parameters": lambda: Call(empirical.trained_parameters, dict(
            spec=sweep_spec(), lr=0.02, batch_size=4, seed=0), inf=DIVERGED, nan=DIVERGED),
        "empirical.run_sweep": lambda: Call(empirical.run_sweep, dict(
            spec=empirical.SweepSpec("linear-sgd", (2,), (0.01, 0.02), steps=3, n_train=32,
                                     n_test=8, extend=False), progress=False,
            seeds_per_task=1)),
        "empirical.run_scaling_study": lambda: Call(empirical.run_scaling_study, dict(
            spec=empirical.ScalingSpec(shapes=SHAPES, seeds=(0,),
                                       grid=empirical.LRGrid(1e-3, 4.0, 0, 1), max_steps=10,
                                       eval_every=5, max_extensions=0))),
        "empirical.tune_shape": lambda: Call(empirical.tune_shape, dict(
            spec=scaling_spec(), split=digits(), shape=empirical.MLPShape(4, 1))),
        # empirical: optima and metrics
        "empirical.find_optimum": lambda: Call(empirical.find_optimum, dict(
            batch_size=4, lrs=LRS, metric=np.array([LOSSES, LOSSES * 1.1]).T, floor=0.0,
            tolerance=0.05, robust_tolerance=0.05, n_boot=20, seed=0)),
        "empirical.subgrid_argmin": lambda: Call(empirical.subgrid_argmin, dict(
            lrs=LRS, metric=LOSSES)),
        "empirical.steps_to_target_optimum": lambda: Call(empirical.steps_to_target_optimum,
            dict(lrs=LRS, curves=np.linspace(2.0, 0.1, 10)[None, None, :]
                 ** np.array([1.0, 1.5, 2.0, 0.5])[None, :, None], target=0.5),
            inf="no rate reaches the target: (nan, inf) (documented)", nan="the same"),
        "empirical.failed": lambda: Call(empirical.failed, dict(
            test_loss=np.array([[[1.0, 0.5], [1.0, 2.0], [1.0, np.inf]]]),
            initial_loss=np.array([1.0]))),
        "empirical.diverged": lambda: Call(empirical.diverged, dict(
            test_loss=np.array([[[1.0, 0.5], [1.0, 20.0], [1.0, np.inf]]]),
            initial_loss=np.array([1.0]), factor=10.0)),
        "empirical.bias_corrected_ema": lambda: Call(empirical.bias_corrected_ema, dict(
            values=LOSSES, decay=0.8)),
        "empirical.evaluate_checkpoint": lambda: Call(empirical.evaluate_checkpoint, dict(
            checkpoint=scaling_runs().shapes[0].runs.checkpoint,
            X=digits().X_test, y=digits().y_test)),
        "empirical.files.strict_json": lambda: Call(empirical.files.strict_json, dict(
            value={"a": [1.0, 2.0]})),
        "empirical.files.atomic_write_json": lambda: Call(empirical.files.atomic_write_json, dict(
            path="fuzz.json", value={"a": 1.0})),
        "empirical.files.atomic_write_bytes": lambda: Call(empirical.files.atomic_write_bytes, dict(
            path="fuzz.bin", data=b"abc")),
        # empirical: probes
        "empirical.stability_edges": lambda: Call(empirical.stability_edges, dict(
            result=sweep(), rounds=2, max_doublings=2),
            nan="an edge not bracketed within max_doublings is nan (documented)"),
        "empirical.lanczos_top_eigenvalue": lambda: Call(empirical.lanczos_top_eigenvalue,
            dict(matvec=lambda v: 2.0 * v, dim=4, iterations=3,
                 generator=torch.Generator().manual_seed(0))),
        "empirical.batch_hessian_top_eigenvalues": lambda: Call(
            empirical.batch_hessian_top_eigenvalues, dict(
                loss=workload().loss, params=params(), data=workload().train, batch_size=4,
                n_batches=2, iterations=3, seed=0)),
        "empirical.preconditioned_hessian_top_eigenvalues": lambda: Call(
            empirical.preconditioned_hessian_top_eigenvalues, dict(
                loss=workload().loss, params=params(), data=workload().train, batch_size=4,
                eps=1e-8, weight_decay=0.001, n_batches=2, iterations=3, seed=0)),
        "empirical.hessian_top_eigenvalue": lambda: Call(
            empirical.hessian_top_eigenvalue, dict(
                loss=workload().loss, params=params(), data=workload().train, iterations=3,
                seed=0)),
        "empirical.per_example_noise": lambda: Call(empirical.per_example_noise, dict(
            loss=workload().loss, params=params(), data=workload().train, batch_size=4,
            n_batches=2, seed=0)),
        "empirical.two_batch_noise": lambda: Call(empirical.two_batch_noise, dict(
            loss=workload().loss, params=params(), data=workload().train, small=4, big=16,
            n_pairs=2, seed=0)),
        "empirical.noiseless_lr_max": lambda: Call(empirical.noiseless_lr_max, dict(
            loss=workload().loss, params=params(), data=workload().train)),
        "empirical.noise_along_run": lambda: Call(empirical.noise_along_run, dict(
            workload=workload(), lr=0.01, batch_size=4, steps=10, every=5,
            method="two-batch", sizes=(4, 16), n_batches=2, ema=0.8, run_seed=0, seed=0)),
        # compare: rules and fits
        "compare.linear_rule": lambda: Call(compare.linear_rule, dict(
            batch_sizes=BATCHES, scale=0.01)),
        "compare.constant_rule": lambda: Call(compare.constant_rule, dict(
            batch_sizes=BATCHES, scale=0.01)),
        "compare.sqrt_rule": lambda: Call(compare.sqrt_rule, dict(
            batch_sizes=BATCHES, scale=0.01)),
        "compare.power_rule": lambda: Call(compare.power_rule, dict(
            batch_sizes=BATCHES, scale=0.01, exponent=0.5), inf="B**exponent overflows (documented)"),
        "compare.logarithmic_rule": lambda: Call(compare.logarithmic_rule, dict(
            batch_sizes=BATCHES, scale=0.01, b0=4.0)),
        "compare.saturating_rule": lambda: Call(compare.saturating_rule, dict(
            batch_sizes=BATCHES, lr_max=0.1, b_noise=8.0)),
        "compare.surge_rule": lambda: Call(compare.surge_rule, dict(
            batch_sizes=BATCHES, lr_max=0.1, b_noise=8.0)),
        "compare.fit_rule": lambda: Call(compare.fit_rule, dict(
            rule="power", batch_sizes=BATCHES, lr=LRS, log_sd=np.full(4, 0.1))),
        "compare.fit_scaling": lambda: Call(compare.fit_scaling, dict(
            batch_sizes=BATCHES, lr=LRS,
            boot_lr=LRS * np.exp(np.random.default_rng(0).normal(0, 0.1, (20, 4))),
            n_seeds=3, min_log_sd=0.05)),
        "compare.fit_critical_batch": lambda: Call(compare.fit_critical_batch, dict(
            batch_sizes=BATCHES, steps=np.array([40.0, 22.0, 13.0, 9.0]),
            boot_steps=np.array([40.0, 22.0, 13.0, 9.0])
            * np.exp(np.random.default_rng(0).normal(0, 0.1, (20, 4))), n_seeds=3),
            nan="a bootstrap row that cannot be fitted, and intervals without rows, are nan "
                "(documented)"),
        "compare.fit_scaling_law": lambda: Call(compare.fit_scaling_law, dict(
            n_params=np.array([100.0, 200.0, 400.0, 800.0, 1600.0]),
            losses=np.array([[0.5, 0.35, 0.27, 0.22, 0.2], [0.52, 0.34, 0.28, 0.21, 0.19]]).T,
            n_boot=10, seed=0, delta=1e-3)),
        "compare.fit_data_law": lambda: Call(compare.fit_data_law, dict(
            n_params=np.array([1e3, 1e4, 1e5, 1e3, 1e4, 1e5, 1e3, 1e4, 1e5]),
            n_examples=np.array([1e4, 1e4, 1e4, 1e5, 1e5, 1e5, 1e6, 1e6, 1e6]),
            losses=np.array([3.1, 2.2, 1.9, 2.6, 1.7, 1.4, 2.5, 1.6, 1.3]),
            n_boot=4, seed=0, delta=1e-3)),
        "compare.DataLawFit.predict": lambda: Call(data_law_fit().predict, dict(
            n_params=BATCHES, n_examples=BATCHES)),
        "compare.DataLawFit.compute_optimal_exponents": lambda: Call(
            data_law_fit().compute_optimal_exponents, dict()),
        "compare.extrapolation_check": lambda: Call(compare.extrapolation_check, dict(
            n_params=np.array([100.0, 200.0, 400.0, 800.0, 1600.0]),
            losses=np.array([[0.5, 0.35, 0.27, 0.22, 0.2], [0.52, 0.34, 0.28, 0.21, 0.19]]).T,
            fraction=0.8)),
        "empirical.SweepResult.cell": lambda: Call(sweep().cell, dict(batch_size=4)),
        "empirical.SweepResult.optima": lambda: Call(sweep().optima, dict(
            tolerance=0.05, robust_tolerance=0.05, n_boot=20)),
        "empirical.SweepCell.metric": lambda: Call(sweep().cell(4).metric, dict(window=2)),
        "compare.ScalingFit.verdict": lambda: Call(study().horizon.verdict, dict(label="B")),
        "compare.ScalingFit.choice": lambda: Call(study().horizon.choice, dict()),
        "compare.RuleFit.predict": lambda: Call(study().horizon.rules["power"].predict, dict(
            batch_sizes=BATCHES)),
        "compare.LawFit.predict": lambda: Call(law_fit().predict, dict(n_params=BATCHES)),
        "compare.LawFit.band": lambda: Call(law_fit().band, dict(n_params=BATCHES)),
        # compare: studies
        "compare.analyze": lambda: Call(compare.analyze, dict(
            result=sweep(), n_boot=10, seed=0, target=None), nan=NO_RULE),
        "compare.bootstrap_optima": lambda: Call(compare.bootstrap_optima, dict(
            result=sweep(), estimator=lambda cell, seeds: 0.01 * len(seeds), n_boot=10,
            seed=0)),
        "compare.summarize": lambda: Call(compare.summarize, dict(study=study(), quick=True),
                                          nan=NO_RULE),
        "compare.conclusions": lambda: Call(compare.conclusions, dict(
            study=compare.summarize(study()), quick=True)),
        "compare.edge_study": lambda: Call(compare.edge_study, dict(
            study=study(), n_boot=10, seed=0, rounds=2, max_doublings=2, n_batches=2,
            iterations=5),
            nan="an edge not bracketed within max_doublings is nan (documented)"),
        "compare.summarize_edges": lambda: Call(compare.summarize_edges, dict(edge=edges()),
                                                nan=NO_RULE),
        "compare.edge_conclusions": lambda: Call(compare.edge_conclusions, dict(edge=edges())),
        "compare.trajectory_study": lambda: Call(compare.trajectory_study, dict(
            study=study(), n_boot=10, seed=0),
            nan="the reference batch size is not predicted: its steps and error are nan "
                "(documented)"),
        "compare.plot_trajectories": lambda: Call(compare.plot_trajectories, dict(
            studies=[compare.trajectory_study(study(), n_boot=10)])),
        "compare.temperature_study": lambda: Call(compare.temperature_study, dict(
            study=study(), n_boot=10, seed=0), inf=CENSORED),
        "compare.least_squares_data_axis": lambda: Call(compare.least_squares_data_axis, dict(
            results=[sweep()], n_boot=10, seed=0), inf=CENSORED),
        "compare.plot_temperature": lambda: Call(compare.plot_temperature, dict(
            studies=[compare.temperature_study(study(), n_boot=10)],
            data=compare.least_squares_data_axis([sweep()], n_boot=10))),
        "compare.noise_scale_study": lambda: Call(compare.noise_scale_study, dict(
            study=study(), n_boot=10, seed=0, factors=(1.5, 2.5), method="two-batch",
            n_batches=2, every=10)),
        "compare.summarize_noise_scale": lambda: Call(compare.summarize_noise_scale, dict(
            gns=gns())),
        "compare.noise_scale_conclusions": lambda: Call(compare.noise_scale_conclusions, dict(
            gns=gns())),
        "compare.diagonal_curves": lambda: Call(compare.diagonal_curves, dict(
            dim=50, batch_sizes=[1, 4], target=0.1, bins=10)),
        "compare.diagonal_conclusion": lambda: Call(compare.diagonal_conclusion, dict(
            diagonal=diagonal())),
        "compare.simulate_risk": lambda: Call(compare.simulate_risk, dict(
            d=8, ns=[4, 16], noise_vars=(0.0, 0.1), trials=2, seed=0)),
        "compare.scaling_spec": lambda: Call(compare.scaling_spec, dict(seeds=2, quick=True)),
        "compare.summarize_scaling_law": lambda: Call(compare.summarize_scaling_law, dict(
            runs=scaling_runs(), fit=law_fit(), check=law_check())),
        "compare.scaling_law_conclusions": lambda: Call(compare.scaling_law_conclusions, dict(
            summary=compare.summarize_scaling_law(scaling_runs(), law_fit(), law_check()))),
        "compare.results_schema": lambda: Call(compare.results_schema, {}),
        "compare.nuisance_study": lambda: Call(compare.nuisance_study, dict(
            runs=[empirical.run_scaling_study(dataclasses.replace(
                scaling_spec(), shapes=SHAPES[:3], dropout=(0.0, 0.1), batch_size=b))
                for b in (4, 8)], n_boot=10, seed=0)),
        "compare.NuisanceStudy.best": lambda: Call(nuisance().best, dict(shape=1)),
        "compare.NuisanceStudy.lr_intervals": lambda: Call(nuisance().lr_intervals, dict(
            shape=1, dropout=0)),
        "compare.NuisanceStudy.option_losses": lambda: Call(nuisance().option_losses, dict(
            shape=1, axis="dropout")),
        "compare.NuisanceStudy.within_noise": lambda: Call(nuisance().within_noise, dict(
            shape=1, axis="batch_size")),
        "compare.NuisanceStudy.batch_exponent": lambda: Call(nuisance().batch_exponent, dict(
            shape=1), nan="ScalingFit.lack_of_fit: no rule is scored on three batch sizes"),
        "compare.summarize_nuisance": lambda: Call(compare.summarize_nuisance, dict(
            study=nuisance(), n_boot=10)),
        "compare.nuisance_conclusions": lambda: Call(compare.nuisance_conclusions, dict(
            summary=compare.summarize_nuisance(nuisance(), n_boot=10))),
        "compare.plot_nuisance": lambda: Call(compare.plot_nuisance, dict(study=nuisance())),
        "compare.transfer_study": lambda: Call(compare.transfer_study, dict(
            standard=transfer_runs()[0], mup=transfer_runs()[1], n_boot=10, seed=0),
            nan="the valley's edge where the loss stays below twice its minimum"),
        "compare.summarize_transfer": lambda: Call(compare.summarize_transfer, dict(
            study=transfer()), nan="the valley's edge where the loss stays below twice its "
                                   "minimum"),
        "compare.transfer_conclusions": lambda: Call(compare.transfer_conclusions, dict(
            summary=compare.summarize_transfer(transfer()))),
        "compare.plot_transfer": lambda: Call(compare.plot_transfer, dict(study=transfer())),
        "empirical.mup_scaling": lambda: Call(empirical.mup_scaling, dict(
            shape=empirical.MLPShape(8, 2), base_width=4, optimizer="sgd")),
        "empirical.coordinate_check": lambda: Call(empirical.coordinate_check, dict(
            split=digits(), widths=[4, 8], lr=1e-2, depth=1, mup_base_width=4,
            optimizer="adam", steps=2, run_seeds=(0,), batch_size=8),
            inf="a rate large enough to diverge", nan="a rate large enough to diverge"),
        "empirical.CoordinateCheck.slopes": lambda: Call(empirical.coordinate_check(
            digits(), [4, 8], 1e-2, steps=1).slopes, {}),
        "empirical.ShapeResult.at_dropout": lambda: Call(scaling_runs().shapes[0].at_dropout,
                                                          dict(rate=0.0)),
        "compare.annealing_areas": lambda: Call(compare.annealing_areas, dict(
            rates=[0.1, 0.2, 0.1, 0.05], decay=0.9)),
        "compare.fit_annealing_law": lambda: Call(compare.fit_annealing_law, dict(
            schedules=ANNEALING_SCHEDULES, losses=annealing_losses(), start=0.1, decay=0.999)),
        "compare.AnnealingFit.predict": lambda: Call(annealing_fit().predict, dict(
            rates=[0.1, 0.1, 0.05])),
        "compare.annealing_study": lambda: Call(compare.annealing_study, dict(
            seeds=(0, 1), steps=60, batch_size=8, peak_lr=0.05)),
        "compare.greedy_study": lambda: Call(compare.greedy_study, dict(
            model="mlp-sgd", batch_sizes=(2, 16), steps=(0,), draws=4, n_boot=10, seed=0)),
        "compare.adam_sde_study": lambda: Call(compare.adam_sde_study, SDE_SETTINGS,
                                               nan="the rules where undefined, and at kappa = 1"),
        "compare.write_sweep_report": lambda: Call(compare.write_sweep_report, dict(
            study=study(), directory="fuzz-report", seconds=1.0)),
        # compare: figures
        "compare.save_figure": lambda: Call(compare.save_figure, dict(
            fig=compare.plot_optima(study()), directory="fuzz-figures", name="optima",
            formats=("svg",))),
        "compare.plot_optima": lambda: Call(compare.plot_optima, dict(study=study())),
        "compare.plot_loss_vs_lr": lambda: Call(compare.plot_loss_vs_lr, dict(study=study())),
        "compare.plot_steps_to_target": lambda: Call(compare.plot_steps_to_target, dict(
            studies=[study()])),
        "compare.plot_critical_batch": lambda: Call(compare.plot_critical_batch, dict(
            studies=[gns()])),
        "compare.plot_stability_edges": lambda: Call(compare.plot_stability_edges, dict(
            edges=[edges()])),
        "compare.plot_noise_trace": lambda: Call(compare.plot_noise_trace, dict(
            trace=gns().trace, floor=None)),
        "compare.plot_diagonal_nqm": lambda: Call(compare.plot_diagonal_nqm, dict(
            diagonal=diagonal())),
        "compare.plot_double_descent": lambda: Call(compare.plot_double_descent, dict(
            sim=risk())),
        "compare.plot_annealing": lambda: Call(compare.plot_annealing, dict(
            study=compare.annealing_study(seeds=(0, 1), steps=60, batch_size=8))),
        "compare.plot_greedy_rate": lambda: Call(compare.plot_greedy_rate, dict(studies=[
            compare.greedy_study("linear-sgd", (2, 16), steps=(0,), draws=4, n_boot=10)])),
        "compare.plot_adam_sde": lambda: Call(compare.plot_adam_sde, dict(study=adam_sde())),
        "compare.plot_lr_vs_width": lambda: Call(compare.plot_lr_vs_width, dict(
            runs=scaling_runs())),
        "compare.plot_scaling_law": lambda: Call(compare.plot_scaling_law, dict(
            runs=scaling_runs(), fit=law_fit(), check=law_check())),
    }


@functools.cache
@functools.cache
def data_law_fit() -> compare.DataLawFit:
    return compare.fit_data_law(np.array([1e3, 1e4, 1e5, 1e3, 1e4, 1e5]),
                                np.array([1e4, 1e4, 1e4, 1e6, 1e6, 1e6]),
                                np.array([3.1, 2.2, 1.9, 2.5, 1.6, 1.3]), n_boot=4)


def law_fit() -> compare.LawFit:
    return compare.fit_scaling_law(scaling_runs().n_params, scaling_runs().test_loss, n_boot=10)


@functools.cache
def law_check() -> compare.Extrapolation:
    return compare.extrapolation_check(scaling_runs().n_params, scaling_runs().test_loss,
                                       n_boot=10)
