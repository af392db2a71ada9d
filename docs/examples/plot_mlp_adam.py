"""
The MLP with Adam, warmup and cosine decay
==========================================

Adam with betas (0.5, 0.5), coupled weight decay 0.001, ten warmup steps and cosine decay.
Its loss-vs-learning-rate basin is flat, so the interval, not the argmin, carries the result.

**An illustration.** This page runs a smaller setting than ``lrbs run`` (fewer batch sizes,
seeds or steps) so that it builds in seconds: its numbers and verdicts show the method and can
differ from the report's, which are on :doc:`the study's page <../studies/optimal-lr>`.
"""

# %%
from compare import analyze, plot_loss_vs_lr, plot_optima
from empirical import LRGrid, SweepSpec, run_sweep

spec = SweepSpec("mlp-adam", (2, 16, 128, 1024), LRGrid(), steps=100, seeds=(0, 1))
study = analyze(run_sweep(spec, progress=False), n_boot=50)
fig_loss = plot_loss_vs_lr(study)
fig_optima = plot_optima(study)
for o, flat in zip(study.optima, study.flat, strict=True):
    print(f"B={o.batch_size:5d}  lr* {o.subgrid_lr:.3f}  basin {o.basin[0]:.3f}-{o.basin[1]:.3f}"
          f"{'  (flat)' if flat else ''}")
print(study.horizon.verdict("MLP, Adam"))

# %%
# Conclusion
# ----------
# Computed from the numbers above: the flat basins, then the report's own sentences
# (:func:`compare.conclusions`).
from compare import conclusions, summarize  # noqa: E402

print(f"{sum(study.flat)} of {len(study.flat)} batch sizes have a flat basin (at least three grid "
      "rates within 5% of the best excess loss), where the argmin is a coin toss and the "
      "interval carries the result.")
for sentence in conclusions(summarize(study)):
    print(sentence, end="\n\n")
