"""Vectorized learning-rate x batch-size sweeps in torch.

All learning rates (and seeds) of one batch size train as one batched tensor program with
common random numbers; :mod:`empirical.reference` holds the plain per-run loops they match.
"""

from empirical import reference
from empirical._digits import (
    DigitsRuns,
    DigitsSplit,
    MLPShape,
    evaluate_checkpoint,
    init_mlp_params,
    load_digits_split,
    train_digits_batched,
)
from empirical._edge import StabilityEdge, stability_edges
from empirical._hessian import (
    batch_hessian_top_eigenvalues,
    lanczos_top_eigenvalue,
    noiseless_lr_max,
)
from empirical._linear import train_linear_sgd_batched
from empirical._mlp import minibatch_indices, schedule_factors, train_mlp_batched
from empirical._noise import (
    NoiseEstimate,
    NoiseTrace,
    bias_corrected_ema,
    noise_along_run,
    per_example_noise,
    two_batch_noise,
)
from empirical._optimum import Optimum, find_optimum, steps_to_target_optimum, subgrid_argmin
from empirical._problems import Problem, least_squares_problem, teacher_mlp_problem
from empirical._scaling_study import (
    ScalingRuns,
    ScalingSpec,
    ShapeResult,
    run_scaling_study,
    tune_shape,
)
from empirical._shipped import least_squares_workload, teacher_mlp_workload
from empirical._spec import MODELS, LRGrid, SweepSpec
from empirical._store import (
    DamagedFileError,
    atomic_write_bytes,
    atomic_write_json,
    locked_directory,
    strict_json,
)
from empirical._sweep import SweepCell, SweepResult, failed, run_sweep
from empirical._workload import OptimizerConfig, Workload, load_workload, train_workload

__all__ = [
    "DamagedFileError",
    "DigitsRuns",
    "DigitsSplit",
    "LRGrid",
    "MLPShape",
    "MODELS",
    "NoiseEstimate",
    "NoiseTrace",
    "OptimizerConfig",
    "Optimum",
    "Problem",
    "ScalingRuns",
    "ScalingSpec",
    "ShapeResult",
    "StabilityEdge",
    "SweepCell",
    "SweepResult",
    "SweepSpec",
    "Workload",
    "atomic_write_bytes",
    "atomic_write_json",
    "batch_hessian_top_eigenvalues",
    "bias_corrected_ema",
    "evaluate_checkpoint",
    "failed",
    "find_optimum",
    "init_mlp_params",
    "lanczos_top_eigenvalue",
    "least_squares_problem",
    "least_squares_workload",
    "load_digits_split",
    "load_workload",
    "locked_directory",
    "minibatch_indices",
    "noise_along_run",
    "noiseless_lr_max",
    "per_example_noise",
    "reference",
    "run_scaling_study",
    "run_sweep",
    "schedule_factors",
    "stability_edges",
    "steps_to_target_optimum",
    "strict_json",
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
