"""
McCandlish's rate against the best single step
===============================================

McCandlish et al.'s rate ``lr_max / (1 + B_noise / B)`` is the rate that most lowers the loss in
ONE step. :func:`compare.greedy_study` measures exactly that from checkpoints of a run: many
minibatches, one step each at every rate of a grid, and the rate with the lowest mean training
loss afterwards. The prediction goes through the same estimator. This is a smaller version of
the study ``lrbs run`` reports: three batch sizes and 24 minibatches.

**An illustration.** This page runs a smaller setting than ``lrbs run`` (fewer batch sizes,
seeds or steps) so that it builds in seconds: its numbers and verdicts show the method and can
differ from the report's, which are on :doc:`the study's page <../studies/greedy-rate>`.
"""

# %%
from compare import greedy_study, plot_greedy_rate

studies = [greedy_study(model, (2, 32, 512), steps=(0, 100), draws=24, n_boot=200)
           for model in ("linear-sgd", "mlp-sgd")]
fig = plot_greedy_rate(studies)
for study in studies:
    for c, step in enumerate(study.steps):
        print(f"{study.label}, step {step}: B_noise {study.b_noise[c]:.3g}, predicted / measured "
              f"{(study.predicted[c] / study.measured[c]).round(2)}, inside the measured 95% "
              f"interval: {study.inside[c]}")

# %%
# Conclusion
# ----------
# The printed ratios and intervals show where the prediction holds. Least squares is exactly
# quadratic, so there the prediction and the measurement agree to the Monte Carlo error, which
# 24 minibatches leave wide at the smallest batch size. For the MLP the
# quadratic model is a local approximation. It fits worst at the initialization, far from a
# minimum.
