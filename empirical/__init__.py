"""Vectorized learning-rate x batch-size sweeps in torch.

All learning rates (and seeds) of one batch size train as one batched tensor program with
common random numbers; :mod:`empirical.reference` holds the plain per-run loops they match.
"""

import sys

from empirical._core.adam_scaling import AdamScaling
from empirical._core.grid import LRGrid
from empirical._core.schedules import schedule_factors
from empirical._core.streams import minibatch_indices
from empirical.probes._coordinates import CoordinateCheck, coordinate_check
from empirical.probes._edge import StabilityEdge, stability_edges
from empirical.probes._hessian import (
    batch_hessian_top_eigenvalues,
    hessian_top_eigenvalue,
    lanczos_top_eigenvalue,
    noiseless_lr_max,
    preconditioned_hessian_top_eigenvalues,
)
from empirical.probes._noise import (
    NoiseEstimate,
    NoiseTrace,
    bias_corrected_ema,
    noise_along_run,
    per_example_noise,
    two_batch_noise,
)
from empirical.probes._sign import SignStatistics, sign_descent_statistics
from empirical.problems._digits import DigitsSplit, MLPShape, init_mlp_params, load_digits_split
from empirical.problems._loading import WorkloadError, check_workload, load_workload
from empirical.problems._shipped import MODELS, least_squares_workload, teacher_mlp_workload
from empirical.problems._synthetic import Problem, least_squares_problem, teacher_mlp_problem
from empirical.problems._workload import OptimizerConfig, Workload
from empirical.scaling._study import (
    ScalingRuns,
    ScalingSpec,
    ShapeResult,
    run_scaling_study,
    tune_shape,
)
from empirical.sweep._optimum import Optimum, find_optimum, steps_to_target_optimum, subgrid_argmin
from empirical.sweep._result import SweepCell, SweepResult, diverged, failed
from empirical.sweep._run import run_sweep
from empirical.sweep._spec import SweepSpec
from empirical.sweep._store import DamagedFileError
from empirical.sweep._tasks import trained_parameters
from empirical.train import reference
from empirical.train._digits import DigitsRuns, evaluate_checkpoint, train_digits_batched
from empirical.train._generic import train_workload
from empirical.train._linear import train_linear_sgd_batched
from empirical.train._mlp import train_mlp_batched
from empirical.train._mup import MuPScaling, mup_scaling

# the per-run loops keep their public path: `import empirical.reference` is this module
sys.modules[f"{__name__}.reference"] = reference

__all__ = [
    "AdamScaling",
    "CoordinateCheck",
    "DamagedFileError",
    "DigitsRuns",
    "DigitsSplit",
    "LRGrid",
    "MLPShape",
    "MODELS",
    "MuPScaling",
    "NoiseEstimate",
    "NoiseTrace",
    "OptimizerConfig",
    "Optimum",
    "Problem",
    "ScalingRuns",
    "ScalingSpec",
    "ShapeResult",
    "SignStatistics",
    "StabilityEdge",
    "SweepCell",
    "SweepResult",
    "SweepSpec",
    "Workload",
    "WorkloadError",
    "batch_hessian_top_eigenvalues",
    "bias_corrected_ema",
    "check_workload",
    "coordinate_check",
    "diverged",
    "evaluate_checkpoint",
    "failed",
    "find_optimum",
    "init_mlp_params",
    "hessian_top_eigenvalue",
    "preconditioned_hessian_top_eigenvalues",
    "lanczos_top_eigenvalue",
    "least_squares_problem",
    "least_squares_workload",
    "load_digits_split",
    "load_workload",
    "minibatch_indices",
    "mup_scaling",
    "noise_along_run",
    "noiseless_lr_max",
    "per_example_noise",
    "reference",
    "run_scaling_study",
    "run_sweep",
    "trained_parameters",
    "schedule_factors",
    "sign_descent_statistics",
    "stability_edges",
    "steps_to_target_optimum",
    "subgrid_argmin",
    "teacher_mlp_problem",
    "teacher_mlp_workload",
    "train_digits_batched",
    "train_linear_sgd_batched",
    "train_mlp_batched",
    "train_workload",
    "tune_shape",
    "two_batch_noise",
]
