"""
The scalar noisy quadratic model and its two regimes
=====================================================

One coordinate with curvature ``a`` and gradient noise ``sigma^2 / B``: the simplest model in
which the optimal learning rate depends on the batch size. We compare three criteria.
"""

# %%
# Theory: three optimal learning rates
# ------------------------------------
# The greedy (one-step) optimum is McCandlish et al.'s saturating rule
# ``(1/a) / (1 + B_noise / B)``; the fixed-horizon optimum minimizes the expected loss after
# 100 steps; the target optimum reaches a loss of 0.01 in the fewest steps.
import numpy as np
from matplotlib.figure import Figure

import nqm

batch_sizes = np.geomspace(1, 4096, 25)
greedy = nqm.optimal_lr_greedy(batch_sizes, curvature=1.0, noise_var=1.0, w_sq=1.0)
horizon = nqm.optimal_lr_horizon(batch_sizes, 100, curvature=1.0, noise_var=1.0, w0_sq=1.0)
target = nqm.optimal_lr_target(batch_sizes, 0.01, curvature=1.0, noise_var=1.0, w0_sq=1.0)

fig = Figure(figsize=(6.5, 4))
ax = fig.add_subplot()
ax.loglog(batch_sizes, greedy, label="greedy: saturating rule")
ax.loglog(batch_sizes, horizon, label="fixed horizon, 100 steps")
ax.loglog(batch_sizes, target, label="steps to target 0.01")
ax.loglog(batch_sizes, batch_sizes / batch_sizes[0] * target[0], "k:", label="linear")
ax.axhline(nqm.scalar_max_stable_lr(curvature=1.0) / 2, color="grey", lw=0.8, ls="--",
           label="curvature cap 1/a")
ax.set_xlabel("batch size B")
ax.set_ylabel("optimal learning rate")
ax.legend(fontsize=8)

# %%
# Conclusion
# ----------
# Steps-to-target gives linear scaling while the noise dominates, then the curvature caps the
# learning rate at ``1/a``; with a fixed budget of 100 steps the optimum grows far more slowly,
# because a larger rate raises the noise floor that the run ends on.
