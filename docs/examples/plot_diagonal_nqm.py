"""
The diagonal NQM: critical batch size, momentum and preconditioning
===================================================================

Zhang et al. (2019)'s model: curvatures ``h_i = 1/i`` and gradient noise proportional to the
curvature. The optimal number of steps to a target loss falls as ``1/B`` (perfect scaling)
until the critical batch size, then flattens.
"""

# %%
# Optimal steps to the target per batch size, three optimizers
# -------------------------------------------------------------
from matplotlib.figure import Figure

from compare import diagonal_curves

curves = diagonal_curves(dim=50, batch_sizes=[4**k for k in range(7)])
fig = Figure(figsize=(6.5, 4))
ax = fig.add_subplot()
for name, curve in curves["curves"].items():
    ax.loglog(curves["batch_sizes"], curve["steps"], "o-",
              label=f"{name}: B_crit = {curve['critical_batch_size']:.0f}")
ax.set_xlabel("batch size B")
ax.set_ylabel(f"optimal steps to loss {curves['target']}")
ax.legend(fontsize=8)

# %%
# Conclusion
# ----------
# Momentum and ``H^-1/2`` preconditioning change where perfect scaling ends: the critical batch
# size is a property of the optimizer as well as of the problem. Below it, doubling the batch
# halves the steps, so the learning rate should grow linearly; above it, it cannot.
