"""Theory over experiment: scaling-rule fits, the study report and the ``lrbs`` command line."""

from compare.analysis._adam_sde import AdamSDEStudy, adam_sde_study
from compare.analysis._double_descent import RiskSimulation, simulate_risk
from compare.analysis._edges import EdgeStudy, edge_study
from compare.analysis._gns import NoiseScaleStudy, noise_scale_study
from compare.analysis._greedy import GreedyStudy, greedy_study
from compare.analysis._nuisance import NuisanceStudy, nuisance_study
from compare.analysis._optima import Study, Theory, analyze, bootstrap_optima
from compare.analysis._temperature import (
    DataAxis,
    TemperatureStudy,
    least_squares_data_axis,
    temperature_study,
)
from compare.analysis._theory_table import diagonal_curves
from compare.analysis._trajectories import TrajectoryStudy, trajectory_study
from compare.analysis._transfer import TransferStudy, transfer_study
from compare.fit._annealing import AnnealingFit, annealing_areas, fit_annealing_law
from compare.fit._critical import CriticalBatchFit, fit_critical_batch
from compare.fit._data_law import DataLawFit, fit_data_law
from compare.fit._fits import RuleFit, ScalingFit, fit_rule, fit_scaling
from compare.fit._law import Extrapolation, LawFit, extrapolation_check, fit_scaling_law
from compare.fit._rules import (
    RULES,
    ScalingRule,
    constant_rule,
    linear_rule,
    logarithmic_rule,
    power_rule,
    saturating_rule,
    sqrt_rule,
    surge_rule,
)
from compare.report._run import results_schema, run_report
from compare.report._sweep_page import write_sweep_report
from compare.studies._answer import conclusions
from compare.studies.adam_annealing import AnnealingStudy, annealing_study, plot_annealing
from compare.studies.adam_sde import plot_adam_sde
from compare.studies.diagonal_nqm import (
    diagonal_conclusion,
    draw_diagonal_nqm,
    plot_diagonal_nqm,
)
from compare.studies.double_descent import plot_double_descent
from compare.studies.greedy_rate import plot_greedy_rate
from compare.studies.mup_transfer import (
    plot_transfer,
    run_transfer,
    summarize_transfer,
    transfer_conclusions,
)
from compare.studies.noise_scale import (
    noise_scale_conclusions,
    plot_critical_batch,
    plot_noise_trace,
    summarize_noise_scale,
)
from compare.studies.nuisance import (
    nuisance_conclusions,
    plot_nuisance,
    run_nuisance,
    summarize_nuisance,
)
from compare.studies.optimal_lr import plot_loss_vs_lr, plot_optima, plot_steps_to_target, summarize
from compare.studies.scaling_law import (
    plot_lr_vs_width,
    plot_scaling_law,
    run_scaling_law,
    scaling_law_conclusions,
    scaling_spec,
    summarize_scaling_law,
)
from compare.studies.stability_edge import edge_conclusions, plot_stability_edges, summarize_edges
from compare.studies.temperature import plot_temperature
from compare.studies.trajectories import plot_trajectories
from compare.style._figures import save_figure

__all__ = [
    "AdamSDEStudy",
    "AnnealingFit",
    "AnnealingStudy",
    "CriticalBatchFit",
    "DataAxis",
    "DataLawFit",
    "EdgeStudy",
    "Extrapolation",
    "GreedyStudy",
    "LawFit",
    "NoiseScaleStudy",
    "NuisanceStudy",
    "RULES",
    "RiskSimulation",
    "RuleFit",
    "ScalingFit",
    "ScalingRule",
    "Study",
    "TemperatureStudy",
    "Theory",
    "TrajectoryStudy",
    "TransferStudy",
    "adam_sde_study",
    "analyze",
    "annealing_areas",
    "annealing_study",
    "bootstrap_optima",
    "conclusions",
    "constant_rule",
    "diagonal_conclusion",
    "diagonal_curves",
    "draw_diagonal_nqm",
    "edge_conclusions",
    "edge_study",
    "extrapolation_check",
    "fit_annealing_law",
    "fit_critical_batch",
    "fit_data_law",
    "fit_rule",
    "fit_scaling",
    "fit_scaling_law",
    "greedy_study",
    "least_squares_data_axis",
    "linear_rule",
    "logarithmic_rule",
    "noise_scale_conclusions",
    "noise_scale_study",
    "nuisance_conclusions",
    "nuisance_study",
    "plot_adam_sde",
    "plot_annealing",
    "plot_critical_batch",
    "plot_diagonal_nqm",
    "plot_double_descent",
    "plot_greedy_rate",
    "plot_loss_vs_lr",
    "plot_lr_vs_width",
    "plot_noise_trace",
    "plot_nuisance",
    "plot_optima",
    "plot_scaling_law",
    "plot_stability_edges",
    "plot_steps_to_target",
    "plot_temperature",
    "plot_trajectories",
    "plot_transfer",
    "power_rule",
    "results_schema",
    "run_nuisance",
    "run_report",
    "run_scaling_law",
    "run_transfer",
    "saturating_rule",
    "save_figure",
    "scaling_law_conclusions",
    "scaling_spec",
    "simulate_risk",
    "sqrt_rule",
    "summarize",
    "summarize_edges",
    "summarize_noise_scale",
    "summarize_nuisance",
    "summarize_scaling_law",
    "summarize_transfer",
    "surge_rule",
    "temperature_study",
    "trajectory_study",
    "transfer_conclusions",
    "transfer_study",
    "write_sweep_report",
]
