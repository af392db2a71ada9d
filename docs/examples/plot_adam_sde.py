"""
Adam's square-root SDE rule
===========================

Malladi et al. (2022) scale Adam's rate by ``sqrt(kappa)``, ``1 - beta`` by ``kappa`` and eps
by ``1 / sqrt(kappa)`` when the batch grows by ``kappa``, so that the loss curve against the
examples seen stays the same. :func:`compare.adam_sde_study` trains the teacher MLP under the
full rule and under the rate alone scaled by ``sqrt(kappa)`` or ``kappa``, and sweeps the rate
under the full rule. This is a smaller version of the study ``lrbs run`` reports: 3 seeds,
``kappa`` from 1/4 to 16 around ``B_ref = 128``.

**An illustration.** This page runs a smaller setting than ``lrbs run`` (fewer batch sizes,
seeds or steps) so that it builds in seconds: its numbers and verdicts show the method and can
differ from the report's, which are on :doc:`the study's page <../studies/adam-sde>`.
"""

# %%
from compare import adam_sde_study, plot_adam_sde

study = adam_sde_study(seeds=(0, 1, 2), kappas=(0.25, 1.0, 4.0, 16.0), n_boot=200)
fig = plot_adam_sde(study)

# %%
# The numbers behind the figure
# -----------------------------
for name in ("sde", "sqrt-lr", "linear-lr"):
    print(name, "distance per kappa:", study.distance[name].round(3))
print("seed noise alone:", round(study.baseline, 3))
print("optimum per batch size under the full rule:", study.optimum_lr.round(4))

# %%
# Conclusion
# ----------
# The distances above say which rule keeps the curve closest here. The full rule has no value
# at ``kappa = 16``, because ``1 - beta1`` would become 1.6 (the betas of ``kappa >= 10`` do
# not exist). The reference run's noise scale tells where the SDE's regime begins: the
# approximation needs ``B`` well below the noise scale, and early in the run it is not.
