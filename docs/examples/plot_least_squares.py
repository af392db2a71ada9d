"""
Least squares: exact theory against the measured sweep
======================================================

The homework's linear model (``D = 16``, ``sigma = 5``), trained with minibatch SGD for 100
steps at every learning rate of a geometric grid, two seeds. The exact finite-sample theory
(:class:`nqm.FiniteSampleLeastSquaresSGD`) predicts the whole loss-vs-learning-rate curve.
"""

# %%
# The sweep and its analysis
# --------------------------
from compare import analyze, plot_loss_vs_lr, plot_optima
from empirical import LRGrid, SweepSpec, run_sweep

spec = SweepSpec("linear-sgd", (2, 16, 128, 1024), LRGrid(), steps=100, seeds=(0, 1))
study = analyze(run_sweep(spec, progress=False), n_boot=50)
fig_loss = plot_loss_vs_lr(study)

# %%
# Measured and predicted optima, both criteria
# --------------------------------------------
fig_optima = plot_optima(study)
for o, predicted in zip(study.optima, study.theory.finite_lr, strict=True):
    print(f"B={o.batch_size:5d}  measured {o.subgrid_lr:.4f}  predicted {predicted:.4f}")
print(study.horizon.verdict("fixed horizon"))
print(study.target.verdict("steps to target"))

# %%
# Conclusion
# ----------
# Computed from the numbers above: how close the theory comes, and what each criterion's
# exponent says.
import numpy as np  # noqa: E402

ratio = np.array([o.subgrid_lr for o in study.optima]) / study.theory.finite_lr
within = np.abs(np.log(ratio)) <= np.log(spec.lrs.ratio)
print(f"The theory lands within one grid step ({spec.lrs.ratio}x) of {within.sum()} of "
      f"{within.size} measured optima (measured / predicted {ratio.min():.2f} to "
      f"{ratio.max():.2f}).")
print(f"Fixed budget: exponent {study.horizon.exponent:.2f} "
      f"[{study.horizon.exponent_interval[0]:.2f}, {study.horizon.exponent_interval[1]:.2f}]; "
      f"steps to target: {study.target.exponent:.2f} [{study.target.exponent_interval[0]:.2f}, "
      f"{study.target.exponent_interval[1]:.2f}] ({len(spec.seeds)} seeds, so the intervals "
      "are wide). The same sweep gives two scaling rules, depending on the question asked.")
