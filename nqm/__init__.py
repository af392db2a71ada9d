"""Closed-form theory of the optimal learning rate as a function of batch size.

The noisy quadratic model (scalar and diagonal), the exact SGD dynamics of Gaussian least
squares (online and on a given training set), and the ridgeless and ridge risk formulas.
Every closed form has its sympy derivation in :mod:`nqm.symbolic`. numpy/scipy/sympy only.
"""

import importlib

from nqm._batch_hessian import (
    adam_max_stable_lr,
    claimed_max_lr,
    marchenko_pastur_edge,
    noise_plus_hessian_lr,
)
from nqm._critical_batch import CriticalBatch, scalar_critical_batch, scalar_greedy_steps
from nqm._diagonal import DiagonalNQM
from nqm._diagonal_schedules import OptimalSchedule
from nqm._diagonal_steps import OptimalSteps
from nqm._finite_sample import FiniteSampleLeastSquaresSGD
from nqm._least_squares import LeastSquaresSGD
from nqm._noise_scale import (
    NoiseScale,
    mccandlish_improvement,
    mccandlish_lr,
    steps_examples_tradeoff,
)
from nqm._risk import (
    RiskDecomposition,
    mp_stieltjes,
    optimal_ridge_lambda,
    ridge_risk,
    ridgeless_risk,
)
from nqm._scalar import (
    optimal_lr_greedy,
    optimal_lr_horizon,
    optimal_lr_target,
    scalar_expected_loss,
    scalar_max_feasible_lr,
    scalar_max_stable_lr,
    scalar_stationary_loss,
    steps_to_target,
)
from nqm._sign_descent import SurgeParameters, sign_descent_lr, surge_parameters

__all__ = [
    "CriticalBatch",
    "DiagonalNQM",
    "FiniteSampleLeastSquaresSGD",
    "LeastSquaresSGD",
    "NoiseScale",
    "OptimalSchedule",
    "OptimalSteps",
    "RiskDecomposition",
    "SurgeParameters",
    "adam_max_stable_lr",
    "claimed_max_lr",
    "marchenko_pastur_edge",
    "mccandlish_improvement",
    "mccandlish_lr",
    "mp_stieltjes",
    "noise_plus_hessian_lr",
    "optimal_lr_greedy",
    "optimal_lr_horizon",
    "optimal_lr_target",
    "optimal_ridge_lambda",
    "ridge_risk",
    "ridgeless_risk",
    "scalar_critical_batch",
    "scalar_expected_loss",
    "scalar_greedy_steps",
    "scalar_max_feasible_lr",
    "scalar_max_stable_lr",
    "scalar_stationary_loss",
    "sign_descent_lr",
    "steps_examples_tradeoff",
    "steps_to_target",
    "surge_parameters",
    "symbolic",
]


def __getattr__(name: str):
    """``nqm.symbolic`` is imported on first use: sympy costs a quarter second to import and
    the numeric functions do not need it."""
    if name == "symbolic":
        return importlib.import_module("nqm.symbolic")
    raise AttributeError(f"module 'nqm' has no attribute {name!r}")
