"""Vectorized learning-rate x batch-size sweeps in torch.

All learning rates (and seeds) of one batch size train as one batched tensor program with
common random numbers; :mod:`empirical.reference` holds the plain per-run loops they match.
"""

from empirical import reference
from empirical._linear import train_linear_sgd_batched
from empirical._mlp import schedule_factors, train_mlp_batched
from empirical._optimum import Optimum, find_optimum, steps_to_target_optimum, subgrid_argmin
from empirical._problems import Problem, least_squares_problem, teacher_mlp_problem
from empirical._spec import MODELS, LRGrid, SweepSpec
from empirical._sweep import SweepCell, SweepResult, run_sweep

__all__ = [
    "MODELS",
    "LRGrid",
    "Optimum",
    "Problem",
    "SweepCell",
    "SweepResult",
    "SweepSpec",
    "find_optimum",
    "least_squares_problem",
    "reference",
    "run_sweep",
    "schedule_factors",
    "steps_to_target_optimum",
    "subgrid_argmin",
    "teacher_mlp_problem",
    "train_linear_sgd_batched",
    "train_mlp_batched",
]
