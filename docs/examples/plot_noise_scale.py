"""
Predict before you sweep: the gradient noise scale
==================================================

McCandlish et al. (2018) answer the batch-size question from a few gradient evaluations: the
gradient noise scale :math:`B_{\\rm noise} = \\operatorname{tr}(H\\Sigma) / G^\\top H G` (in
practice :math:`B_{\\rm simple} = \\operatorname{tr}\\Sigma / \\lvert G\\rvert^2`) is the
critical batch size, below which doubling the batch halves the steps, and the optimal rate is
:math:`\\eta_\\max / (1 + B_{\\rm noise}/B)`. A sweep measures both directly. Here, for least
squares and the MLP with SGD: the critical batch size fitted to the fewest steps to four target
losses, the noise scale of one extra run at the same losses, and the predicted rate against the
measured optima. Four batch sizes and three seeds keep the page quick; ``lrbs run`` measures
seven batch sizes and five seeds, and adds Adam.

**An illustration.** This page runs a smaller setting than ``lrbs run`` (fewer batch sizes,
seeds or steps) so that it builds in seconds: its numbers and verdicts show the method and can
differ from the report's, which are on :doc:`the study's page <../studies/noise-scale>`.
"""

# %%
# The exact theory first: for Gaussian least squares the noise scale at squared error
# :math:`e` is :math:`D + 1 + \sigma^2 D^2 / e`, and McCandlish's rate is exactly the greedy
# step (:func:`nqm.symbolic.greedy_lr_is_mccandlish`).
import nqm
from compare import analyze, noise_scale_conclusions, noise_scale_study, plot_critical_batch
from empirical import LRGrid, SweepSpec, run_sweep

theory = nqm.LeastSquaresSGD(dim=16, noise_std=5.0, init_error=2 * 16**2)
for error in (512.0, 50.0, 5.0):
    scale = theory.noise_scale(error)
    print(f"e = {error:5g}: B_noise = {float(scale.b_noise):7.1f}, lr at B = 64: "
          f"{float(nqm.mccandlish_lr(64, lr_max=scale.lr_max, b_noise=scale.b_noise)):.4f}")

# %%
# The sweeps, the fits and the noise-scale runs.
studies = []
for model in ("linear-sgd", "mlp-sgd"):
    spec = SweepSpec(model, (2, 16, 128, 1024), LRGrid(), steps=100, seeds=(0, 1, 2))
    study = analyze(run_sweep(spec, progress=False), n_boot=100)
    studies.append(noise_scale_study(study, n_boot=100))
fig = plot_critical_batch(studies)
for gns in studies:
    print(gns.label, f"(noise-scale run: lr {gns.trace.lr:.3g}, B = {gns.trace.batch_size}, "
                     f"estimates {gns.trace.seconds:.2f} s)")
    for target, fit, noise in zip(gns.targets, gns.fits, gns.noise_at_target, strict=True):
        if fit is None:             # too few batch sizes need more than one update to count
            print(f"  loss {target:.4g}: no fit ({'; '.join(gns.notes)})")
            continue
        print(f"  loss {target:.4g}: B_crit {fit.b_crit:.3g} [{fit.b_crit_interval[0]:.3g}, "
              f"{fit.b_crit_interval[1]:.3g}], B_simple at that loss {noise[0]:.3g}")

# %%
# Conclusion
# ----------
# Every sentence computed from the numbers above by :func:`compare.noise_scale_conclusions`
# (the report's own sentences): the measured critical batch sizes, how far the noise scale at
# the same loss is from them, and at how many batch sizes the predicted rate lies inside the
# measured optimum's 95% interval.
for gns in studies:
    for sentence in noise_scale_conclusions(gns):
        print(sentence, end="\n\n")
