"""
The temperature lr/B at equal examples
======================================

Sclocchi et al. read SGD's noise through the temperature ``T = lr / B``: where the loss depends
on ``T`` alone, linear scaling holds. :func:`compare.temperature_study` compares each adjacent
pair of a sweep's batch sizes at equal examples. It finds the shift ``lr -> lr (B2/B1)^k`` that
best aligns their loss curves: ``k = 1`` is the temperature regime, ``k = 0`` the rate alone.
:func:`compare.least_squares_data_axis` repeats this at other training-set sizes, with the exact
finite-sample theory beside the measurement. This example is a small least-squares sweep: 4
batch sizes and 3 seeds.

**An illustration.** This page runs a smaller setting than ``lrbs run`` (fewer batch sizes,
seeds or steps) so that it builds in seconds: its numbers and verdicts show the method and can
differ from the report's, which are on :doc:`the study's page <../studies/temperature>`.
"""

# %%
from compare import analyze, least_squares_data_axis, plot_temperature, temperature_study
from empirical import LRGrid, SweepSpec, run_sweep

sizes = (2, 16, 128, 1024)
results = [run_sweep(SweepSpec("linear-sgd", sizes, LRGrid(), steps=100, seeds=(0, 1, 2),
                               n_train=n), progress=False) for n in (64, 1024)]
study = temperature_study(analyze(results[-1], n_boot=100), n_boot=100)
axis = least_squares_data_axis(results, n_boot=100)
fig = plot_temperature([study], axis)
for i, k in enumerate(study.exponent):
    lo, hi = study.exponent_interval[i]
    print(f"B = {sizes[i]} and {sizes[i + 1]}: k = {k:.2f} [{lo:.2f}, {hi:.2f}]")
print("crossover B*:", study.b_star, "interval", study.b_star_interval)
for n, exact in zip(axis.n_train, axis.exact_exponent, strict=True):
    print(f"n_train = {n}: exact k per pair {exact.round(2)}")

# %%
# Conclusion
# ----------
# Read each printed ``k`` against 1 (the loss depends on ``lr / B`` alone) and 0 (on ``lr``
# alone). An infinite ``B*`` means ``k`` never fell below 1/2 in the measured range, so the
# crossover lies beyond the largest batch size. The exact theory's ``k`` at each training-set
# size is the prediction the measurement is checked against. ``lrbs run`` reports the same
# analysis on 7 batch sizes and 5 seeds, for the MLPs too.
