"""
A two-layer MLP with SGD
========================

The teacher-student MLP of the homework (``D = 4``, ``sigma = 2``), where no exact theory
exists: the measured optima and the fitted rules.
"""

# %%
from compare import analyze, plot_optima
from empirical import LRGrid, SweepSpec, run_sweep

spec = SweepSpec("mlp-sgd", (2, 16, 128, 1024), LRGrid(), steps=100, seeds=(0, 1))
study = analyze(run_sweep(spec, progress=False), n_boot=50)
fig = plot_optima(study)
print(study.horizon.verdict("MLP, SGD"))

# %%
# Conclusion
# ----------
# As for least squares, the fixed-horizon optimum grows much more slowly than linearly, and the
# saturating rule describes it better than either pure power law.
