"""
Adam's surge, predicted from the gradient's statistics
======================================================

Li et al. (2024) analyse Adam as sign descent. On a quadratic with Gaussian gradient noise the
best rate of one step is exact (:func:`nqm.sign_descent_lr`). For small batches it becomes a
surge, which rises as ``sqrt(B)`` up to ``B_noise`` and then falls
(:func:`nqm.surge_parameters`). Both need the gradient, each coordinate's per-example noise and
the Hessian, measured here on the teacher MLP (:func:`empirical.sign_descent_statistics`) at
its initialization and after 100 of the notebook's Adam steps at ``B = 64``. ``lrbs run`` sets
the same prediction against the measured optima (the noise-scale study).
"""

# %%
import numpy as np
from matplotlib.figure import Figure

import nqm
from compare import surge_rule
from empirical import SweepSpec, sign_descent_statistics, teacher_mlp_workload, trained_parameters

workload = teacher_mlp_workload("adam")
spec = SweepSpec("mlp-adam", (64,), (0.17,), steps=100)
points = {"initialization": workload.parameters(0),
          "after 100 steps": trained_parameters(spec, 0.17, 64, 0)}
batch_sizes = np.geomspace(1, 4096, 40)
fig = Figure(figsize=(7.0, 4.6), layout="constrained")
ax = fig.add_subplot()
for color, (where, params) in zip(("#0072B2", "#D55E00"), points.items(), strict=True):
    stats = sign_descent_statistics(workload.loss, params, workload.train,
                                    weight_decay=workload.optimizer.weight_decay)
    surge = nqm.surge_parameters(gradient=stats.gradient, noise_var=stats.noise_var,
                                 hessian=stats.hessian)
    exact = nqm.sign_descent_lr(batch_sizes, gradient=stats.gradient, noise_var=stats.noise_var,
                                hessian=stats.hessian)
    print(f"{where}: B_noise = {surge.b_noise:.3g}, lr_max = {surge.lr_max:.3g}; the exact step "
          f"is largest at B = {batch_sizes[np.nanargmax(exact)]:.3g} and is {exact[-1]:.3g} at "
          f"B = {batch_sizes[-1]:g}")
    ax.plot(batch_sizes, exact, color=color, label=f"{where}: exact sign-descent step")
    ax.plot(batch_sizes, surge_rule(batch_sizes, surge.lr_max, surge.b_noise), "--", color=color,
            label=f"{where}: surge, B_noise = {surge.b_noise:.3g}")
ax.set_xscale("log", base=2)
ax.set_yscale("log")
ax.set_xlabel("batch size B")
ax.set_ylabel("best rate of one step")
ax.legend(fontsize=8)

# %%
# Conclusion
# ----------
# The printed numbers say where each curve peaks. At initialization the gradient dominates the
# noise, ``B_noise`` is below one example, and the exact step falls toward the nonzero
# large-batch limit of Li et al.'s Theorem 4, which the surge's small-batch form misses. After
# training the noise dominates and ``B_noise`` is a thousand times larger, so the best step
# rises with the batch size over most of the range. Both curves give one step's best rate. The
# optimum a sweep measures is the best over a whole run, a different criterion.
