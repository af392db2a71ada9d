"""
Sweep your own model: a small CNN on digits
===========================================

Any torch model becomes a sweep once it is written as an :class:`empirical.Workload`: how its
parameters are drawn from a seed (here a ``torch.nn.Module`` factory), its loss, its data and
its optimizer. lrbs then trains every learning rate and seed of a batch size as one
vectorized program (``torch.func.vmap`` over the runs) and gives the workload what the
shipped problems get: optima with intervals over seeds, a grid that extends itself, resumable
results, the rule fits and a report. The whole user file is the one printed below; from the
command line the same sweep, with its report page, is::

    lrbs sweep --workload digits_cnn.py:workload --batch-sizes 8,32,128 \\
        --grid 0.02,2,0,5 --steps 60 --seeds 0,1 --out cnn-sweep

Add ``--workers 2`` to run it on a local Dask cluster, or ``--scheduler ADDRESS`` for an
existing one. This page keeps the sweep small (60 steps, six rates, two seeds) so that it
builds in seconds.
"""

# %%
# The user's file
# ---------------
from pathlib import Path

try:
    here = Path(__file__).parent
except NameError:                 # sphinx-gallery runs the page from its folder, without __file__
    here = Path.cwd()
workload_file = here / "digits_cnn.py"
print(workload_file.read_text())

# %%
# The sweep, and its analysis
# ---------------------------
from compare import analyze, plot_loss_vs_lr, plot_optima  # noqa: E402
from empirical import LRGrid, SweepSpec, run_sweep  # noqa: E402

spec = SweepSpec(f"{workload_file}:workload", (8, 32, 128),
                 LRGrid(base=0.02, ratio=2.0, k_min=0, k_max=5), steps=60, seeds=(0, 1))
study = analyze(run_sweep(spec, progress=False), n_boot=50)
fig_loss = plot_loss_vs_lr(study)
fig_optima = plot_optima(study)
for optimum in study.optima:
    print(f"B = {optimum.batch_size:4d}: lr* = {optimum.subgrid_lr:.3g} "
          f"[{optimum.interval[0]:.3g}, {optimum.interval[1]:.3g}], "
          f"test cross-entropy {optimum.best_loss:.3f}")

# %%
# Conclusion
# ----------
# Every sentence computed from the study by :func:`compare.conclusions` (the report's own
# sentences), so it cannot disagree with the numbers and the figures above.
from compare import conclusions, summarize  # noqa: E402

for sentence in conclusions(summarize(study)):
    print(sentence, end="\n\n")
