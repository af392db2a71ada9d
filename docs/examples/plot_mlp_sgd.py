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
# Computed from the fit above.
lo, hi = study.horizon.exponent_interval
named = [name for name, a in (("linear", 1.0), ("square root", 0.5)) if lo <= a <= hi]
print(f"With {len(spec.seeds)} seeds the fixed-horizon exponent is {study.horizon.exponent:.2f} "
      f"[{lo:.2f}, {hi:.2f}]: "
      + (f"{' and '.join(named)} scaling cannot be excluded" if named
         else "both linear and square-root scaling are excluded")
      + f"; the {study.horizon.preferred} rule has the lowest AICc.")
