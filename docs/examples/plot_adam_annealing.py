"""
The loss under any schedule: the annealing law
==============================================

Tissue et al.'s law ``L(s) = L0 + A S1^-alpha - C S2`` ties the loss curve to the learning-rate
schedule through the forward area ``S1`` and the annealing area ``S2``. Fitted on a constant
and a cosine run of Adam on the teacher MLP, it predicts other schedules. This is a smaller
version of the study ``lrbs run`` reports: 3 seeds and 300 steps per schedule.

**An illustration.** This page runs a smaller setting than ``lrbs run`` (fewer batch sizes,
seeds or steps) so that it builds in seconds: its numbers and verdicts show the method and can
differ from the report's, which are on :doc:`the study's page <../studies/adam-annealing>`.
"""

# %%
from compare import annealing_areas, annealing_study, plot_annealing

study = annealing_study(seeds=(0, 1, 2), steps=300)
fig = plot_annealing(study)

# %%
# The fitted law and its areas
# ----------------------------
fit = study.fit
print(f"L0 = {fit.L0:.3f}, A = {fit.A:.3g}, alpha = {fit.alpha:.3g}, C = {fit.C:.3g}")
s1, s2 = annealing_areas(study.peak_lr * study.factors["cosine"])
print(f"cosine: S1 = {s1[-1]:.2f}, S2 = {s2[-1]:.2f} after {study.steps} steps")

# %%
# Conclusion
# ----------
# The middle row shows how far the law's prediction is from each measured curve, beside two
# seed standard errors. The right column shows the two schedules the law cannot describe. With
# a tail at rate zero, the model stops changing while the predicted loss keeps falling. With
# four times the rate, the predicted loss falls, but the measured loss does not follow it.
