"""
The diagonal NQM: critical batch size, momentum and preconditioning
===================================================================

Zhang et al. (2019)'s model: curvatures ``h_i = 1/i`` and gradient noise proportional to the
curvature. The optimal number of steps to a target loss falls as ``1/B`` (perfect scaling)
until the critical batch size, then flattens. Then their own setting: the binned spectrum of
their notebook, the moving average of the iterates and the information-theoretic bound.
"""

# %%
# Optimal steps to the target per batch size, three optimizers, two dimensions
# ----------------------------------------------------------------------------
# The dimension is the condition number here (``h_i = 1/i``): it decides how long plain SGD's
# curvature-limited phase is, and so how much momentum can shorten it.
import numpy as np
from matplotlib.figure import Figure

from compare import diagonal_conclusion, diagonal_curves
from nqm import DiagonalNQM

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
# Zhang et al.'s setting: averaged iterates and the lower bound
# -------------------------------------------------------------
# Their notebook bins the spectrum of dim 10,000 into 100 geometric bins
# (``DiagonalNQM.zhang2019(10_000, bins=100)``, the same 84 non-empty bins and counts) and
# targets loss 0.01. An exponential moving average of plain SGD's iterates (decay 0.99, exact:
# ``ema_decay``) lowers the loss floor the noise sets, which is what small batches need; their
# information-theoretic bound ``dim / (2 C B)`` (``steps_lower_bound``) is the floor of every
# optimizer.
binned = DiagonalNQM.zhang2019(10_000, bins=100)
sizes = 4 ** np.arange(1, 9)
plain = binned.optimal_steps_to_target(sizes, 0.01).steps
averaged = binned.optimal_steps_to_target(sizes, 0.01, ema_decay=0.99).steps
bound = binned.steps_lower_bound(sizes, 0.01)
fig_zhang = Figure(figsize=(5.5, 4), layout="constrained")
ax = fig_zhang.add_subplot()
ax.loglog(sizes, plain, "o-", label="plain SGD, best fixed rate")
ax.loglog(sizes, averaged, "s-", label="its moving average (decay 0.99)")
ax.loglog(sizes, bound, "k--", label="lower bound dim / (2 C B)")
ax.set_xlabel("batch size $B$")
ax.set_ylabel("optimal steps to loss 0.01")
ax.set_title("dim 10,000 in 100 bins (Zhang et al.'s notebook)")
ax.legend(fontsize=8)
for b, p, a, lb in zip(sizes, plain, averaged, bound, strict=True):
    print(f"B = {b:6d}: plain {p:9.0f}, averaged {a:9.0f}, bound {lb:9.1f}")

# %%
# Conclusion
# ----------
# Computed from the curves above by :func:`compare.diagonal_conclusion` (the report's sentence),
# and from the table just printed.
for curves in runs:
    print(diagonal_conclusion(curves), end="\n\n")
gain = plain / averaged
best = int(np.argmax(gain))
print(f"Averaging the iterates (decay 0.99) takes {gain[best]:.3g} times fewer steps than plain "
      f"SGD at B = {sizes[best]}, its largest gain, {gain[0]:.3g} times at B = {sizes[0]} and "
      f"{gain[-1]:.3g} times at B = {sizes[-1]}; plain SGD stays "
      f"{(plain / bound)[0]:.3g} times above the lower bound at B = {sizes[0]}, the average "
      f"{(averaged / bound)[0]:.3g} times.")
