"""
A scaling law on digits, with the learning rate tuned per shape
===============================================================

For each MLP shape, all learning rates and seeds train as one batched program with Adam and
early stopping on the validation loss; the best checkpoint's test loss at the tuned rate is the
shape's result. We fit ``L(N) = E + A N^-alpha`` (Huber loss on log residuals, multi-start
L-BFGS, as Hoffmann et al. 2022) and check it by extrapolation. This page runs the quick
study (six widths, one seed, 300 steps); ``lrbs scaling-law`` runs the full one.

**An illustration.** This page runs a smaller setting than ``lrbs run`` (fewer batch sizes,
seeds or steps) so that it builds in seconds: its numbers and verdicts show the method and can
differ from the report's, which are on :doc:`the study's page <../studies/scaling-law>`.
"""

# %%
from compare import (
    extrapolation_check,
    fit_scaling_law,
    plot_lr_vs_width,
    plot_scaling_law,
    scaling_law_conclusions,
    scaling_spec,
    summarize_scaling_law,
)
from empirical import run_scaling_study

runs = run_scaling_study(scaling_spec(1, quick=True))
fit = fit_scaling_law(runs.n_params, runs.test_loss)
check = extrapolation_check(runs.n_params, runs.test_loss)
fig_law = plot_scaling_law(runs, fit, check)
print(f"E = {fit.E:.3f}, A = {fit.A:.3g}, alpha = {fit.alpha:.2f}")
print(f"extrapolation error at N = {check.n_params:.0f}: {100 * check.relative_error:+.1f}%")

# %%
# Does the optimal learning rate move with size?
# ----------------------------------------------
fig_lr = plot_lr_vs_width(runs)

# %%
# Conclusion
# ----------
# Every sentence computed from the numbers above by :func:`compare.scaling_law_conclusions`
# (the report's own sentences): whether the exponent is identified at all, how the
# extrapolation fares, and where the tuned rate moves with width.
for sentence in scaling_law_conclusions(summarize_scaling_law(runs, fit, check)):
    print(sentence, end="\n\n")
