"""Vectorized learning-rate x batch-size sweeps in torch.

All learning rates (and seeds) of one batch size train as one batched tensor program with
common random numbers; :mod:`empirical.reference` holds the plain per-run loops they match.
"""

from empirical import reference
from empirical._linear import train_linear_sgd_batched
from empirical._mlp import schedule_factors, train_mlp_batched
from empirical._problems import Problem, least_squares_problem, teacher_mlp_problem

__all__ = [
    "Problem",
    "least_squares_problem",
    "reference",
    "schedule_factors",
    "teacher_mlp_problem",
    "train_linear_sgd_batched",
    "train_mlp_batched",
]
