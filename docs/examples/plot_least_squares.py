"""
Least squares: exact theory against the measured sweep
======================================================

The homework's linear model (``D = 16``, ``sigma = 5``), trained with minibatch SGD for 100
steps at every learning rate of a geometric grid, five seeds. The exact finite-sample theory
(:class:`nqm.FiniteSampleLeastSquaresSGD`) predicts the whole loss-vs-learning-rate curve.

**An illustration.** This page runs a smaller setting than ``lrbs run`` (fewer batch sizes,
seeds or steps) so that it builds in seconds: its numbers and verdicts show the method and can
differ from the report's, which are on :doc:`the study's page <../studies/optimal-lr>`.
"""

# %%
# The sweep and its analysis
# --------------------------
from compare import analyze, plot_loss_vs_lr, plot_optima
from empirical import LRGrid, SweepSpec, run_sweep

spec = SweepSpec("linear-sgd", (2, 16, 128, 1024), LRGrid(), steps=100, seeds=(0, 1, 2, 3, 4))
study = analyze(run_sweep(spec, progress=False), n_boot=50)
fig_loss = plot_loss_vs_lr(study)

# %%
# Measured and predicted optima, both criteria
# --------------------------------------------
fig_optima = plot_optima(study)
theory = study.theory
for o, same, exact in zip(study.optima, theory.horizon_same_estimator, theory.finite_lr,
                          strict=True):
    print(f"B={o.batch_size:5d}  measured {o.subgrid_lr:.4f} [{o.interval[0]:.4f}, "
          f"{o.interval[1]:.4f}]  theory through the same estimator {same:.4f}  "
          f"theory's continuous argmin {exact:.4f}")
print(study.horizon.verdict("fixed horizon"))
print(study.target.verdict("steps to target"))

# %%
# Conclusion
# ----------
# Every sentence computed from the study by :func:`compare.conclusions` (the report's own
# sentences): how close the theory comes through the measurement's own estimator, and what
# each criterion's scaling says.
from compare import conclusions, summarize  # noqa: E402

for sentence in conclusions(summarize(study)):
    print(sentence, end="\n\n")
