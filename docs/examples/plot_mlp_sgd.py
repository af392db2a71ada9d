"""
A two-layer MLP with SGD
========================

The teacher-student MLP of the homework (``D = 4``, ``sigma = 2``), where no exact theory
exists: the measured optima and the fitted rules.

**An illustration.** This page runs a smaller setting than ``lrbs run`` (fewer batch sizes,
seeds or steps) so that it builds in seconds: its numbers and verdicts show the method and can
differ from the report's, which are on :doc:`the study's page <../studies/optimal-lr>`.
"""

# %%
from compare import analyze, plot_optima
from empirical import LRGrid, SweepSpec, run_sweep

spec = SweepSpec("mlp-sgd", (2, 16, 128, 1024), LRGrid(), steps=100, seeds=(0, 1))
study = analyze(run_sweep(spec, progress=False), n_boot=50)
fig = plot_optima(study)
print(study.horizon.verdict("MLP, SGD"))

# %%
# Conclusion
# ----------
# Every sentence computed from the study by :func:`compare.conclusions` (the report's own
# sentences), so it cannot disagree with the numbers and the figure above.
from compare import conclusions, summarize  # noqa: E402

for sentence in conclusions(summarize(study)):
    print(sentence, end="\n\n")
