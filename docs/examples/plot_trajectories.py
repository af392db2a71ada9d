"""
Trajectories at any batch size from one
=======================================

Kaplan et al. (2020) model the critical batch size as a power law in the loss. With it, the
curve at one batch size predicts every other: ``S_B(L) = S_ref(L) (1 + B_crit(L)/B) / (1 +
B_crit(L)/B_ref)``. :func:`compare.trajectory_study` measures the fewest steps to each loss
level on a sweep, fits ``B_crit`` per level and its power law, and predicts each batch size from
the reference curve with the law refitted without it. This example is a small least-squares
sweep: 5 batch sizes, 3 seeds and 60 steps.

**An illustration.** This page runs a smaller setting than ``lrbs run`` (fewer batch sizes,
seeds or steps) so that it builds in seconds: its numbers and verdicts show the method and can
differ from the report's, which are on :doc:`the study's page <../studies/trajectories>`.
"""

# %%
import numpy as np

from compare import analyze, plot_trajectories, trajectory_study
from empirical import LRGrid, SweepSpec, run_sweep

spec = SweepSpec("linear-sgd", (2, 8, 64, 256, 1024), LRGrid(), steps=60, seeds=(0, 1, 2))
study = trajectory_study(analyze(run_sweep(spec, progress=False), n_boot=100), n_boot=100)
fig = plot_trajectories([study])
print(f"B_crit(L) exponent {study.exponent:.2f} [{study.exponent_interval[0]:.2f}, "
      f"{study.exponent_interval[1]:.2f}] (exact curves: {study.exact['exponent']:.2f})")
for j, b in enumerate(study.batch_sizes):
    if j != study.reference:
        print(f"B = {int(b)}: median error {100 * np.expm1(study.error[j]):.1f}% "
              f"(seed noise {100 * np.expm1(study.seed_noise[j]):.1f}%, on the exact curves "
              f"{100 * np.expm1(study.exact['error'][j]):.1f}%)")

# %%
# Conclusion
# ----------
# Each printed error compares one curve's prediction with the measured steps. Read it against
# the seed noise beside it: an error near that noise is as good as the measurement allows. The
# exact curves have no seed noise, so the error left there is the model's own: McCandlish's
# hyperbola and the power law are approximations for least squares. ``lrbs run`` reports the
# same analysis on 7 batch sizes and 5 seeds.
