"""Theory over experiment: scaling-rule fits, the study report and the ``lrbs`` command line."""

from compare._double_descent import RiskSimulation, simulate_risk
from compare._fits import RuleFit, ScalingFit, fit_rule, fit_scaling
from compare._report import run_report
from compare._rules import (
    RULES,
    ScalingRule,
    linear_rule,
    power_rule,
    saturating_rule,
    sqrt_rule,
    surge_rule,
)
from compare._study import Study, Theory, analyze, bootstrap_optima

__all__ = [
    "RULES",
    "RiskSimulation",
    "RuleFit",
    "ScalingFit",
    "ScalingRule",
    "Study",
    "Theory",
    "analyze",
    "bootstrap_optima",
    "fit_rule",
    "fit_scaling",
    "linear_rule",
    "power_rule",
    "run_report",
    "saturating_rule",
    "simulate_risk",
    "sqrt_rule",
    "surge_rule",
]
