"""Theory over experiment: scaling-rule fits, the study report and the ``lrbs`` command line."""

from compare._answer import conclusions, diagonal_conclusion, scaling_law_conclusions
from compare._critical import CriticalBatchFit, fit_critical_batch
from compare._double_descent import RiskSimulation, simulate_risk
from compare._edges import EdgeStudy, edge_conclusions, edge_study
from compare._figures import (
    draw_diagonal_nqm,
    plot_critical_batch,
    plot_diagonal_nqm,
    plot_double_descent,
    plot_loss_vs_lr,
    plot_noise_trace,
    plot_optima,
    plot_stability_edges,
    plot_steps_to_target,
    save_figure,
)
from compare._fits import RuleFit, ScalingFit, fit_rule, fit_scaling
from compare._gns import (
    NoiseScaleStudy,
    noise_scale_conclusions,
    noise_scale_study,
    summarize_noise_scale,
)
from compare._report import (
    results_schema,
    run_report,
    summarize,
    summarize_edges,
    write_sweep_report,
)
from compare._rules import (
    RULES,
    ScalingRule,
    linear_rule,
    logarithmic_rule,
    power_rule,
    saturating_rule,
    sqrt_rule,
    surge_rule,
)
from compare._scaling_law import Extrapolation, LawFit, extrapolation_check, fit_scaling_law
from compare._scaling_report import (
    plot_lr_vs_width,
    plot_scaling_law,
    run_scaling_law,
    scaling_spec,
    summarize_scaling_law,
)
from compare._study import Study, Theory, analyze, bootstrap_optima
from compare._theory_table import diagonal_curves

__all__ = [
    "CriticalBatchFit",
    "EdgeStudy",
    "Extrapolation",
    "LawFit",
    "NoiseScaleStudy",
    "RULES",
    "RiskSimulation",
    "RuleFit",
    "ScalingFit",
    "ScalingRule",
    "Study",
    "Theory",
    "analyze",
    "bootstrap_optima",
    "conclusions",
    "diagonal_conclusion",
    "diagonal_curves",
    "draw_diagonal_nqm",
    "edge_conclusions",
    "edge_study",
    "extrapolation_check",
    "fit_critical_batch",
    "fit_rule",
    "fit_scaling",
    "fit_scaling_law",
    "linear_rule",
    "logarithmic_rule",
    "noise_scale_conclusions",
    "noise_scale_study",
    "plot_critical_batch",
    "plot_diagonal_nqm",
    "plot_double_descent",
    "plot_loss_vs_lr",
    "plot_lr_vs_width",
    "plot_noise_trace",
    "plot_optima",
    "plot_scaling_law",
    "plot_stability_edges",
    "plot_steps_to_target",
    "power_rule",
    "results_schema",
    "run_report",
    "run_scaling_law",
    "saturating_rule",
    "save_figure",
    "scaling_law_conclusions",
    "scaling_spec",
    "simulate_risk",
    "sqrt_rule",
    "summarize",
    "summarize_edges",
    "summarize_noise_scale",
    "summarize_scaling_law",
    "surge_rule",
    "write_sweep_report",
]
