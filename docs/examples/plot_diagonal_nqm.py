"""
The diagonal NQM: critical batch size, momentum and preconditioning
===================================================================

Zhang et al. (2019)'s model: curvatures ``h_i = 1/i`` and gradient noise proportional to the
curvature. The optimal number of steps to a target loss falls as ``1/B`` (perfect scaling)
until the critical batch size, then flattens.
"""

# %%
# Optimal steps to the target per batch size, three optimizers, two dimensions
# ----------------------------------------------------------------------------
# The dimension is the condition number here (``h_i = 1/i``): it decides how long plain SGD's
# curvature-limited phase is, and so how much momentum can shorten it.
from matplotlib.figure import Figure

from compare import diagonal_conclusion, diagonal_curves

fig = Figure(figsize=(10, 4), layout="constrained")
runs = [diagonal_curves(dim=dim, batch_sizes=[4**k for k in range(7)]) for dim in (50, 200)]
for k, curves in enumerate(runs):
    ax = fig.add_subplot(1, 2, k + 1)
    for name, curve in curves["curves"].items():
        shown = name.replace("H^-1/2", "$H^{-1/2}$")
        ax.loglog(curves["batch_sizes"], curve["steps"], "o-",
                  label=rf"{shown}: $B_{{\rm crit}}$ = {curve['critical_batch_size']:.0f}")
    ax.set_xlabel("batch size $B$")
    ax.set_ylabel(f"optimal steps to loss {curves['target']}")
    ax.set_title(f"dim {curves['dim']}")
    ax.legend(fontsize=8)

# %%
# Conclusion
# ----------
# Computed from the curves above by :func:`compare.diagonal_conclusion` (the report's sentence).
for curves in runs:
    print(diagonal_conclusion(curves), end="\n\n")
