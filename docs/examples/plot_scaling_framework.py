"""
Tuning every shape: dropout, batch size, and muP transfer on digits
===================================================================

The scaling-law framework of the project's sources asks for the nuisance hyperparameters
(learning rate, dropout, ...) to be tuned at every shape, names muTransfer as the tool for it,
and reports three insights from its MNIST runs: dropout 0.15 beats 0.1, which beats 0.2; batch
size 64 works best; smaller batches prefer smaller learning rates. This page runs the three
checks lrbs makes of them: muP's coordinate check, the joint (rate, dropout, batch size)
tuning, and the transfer of a rate tuned at the smallest width.

**An illustration.** This page runs a smaller setting than ``lrbs run`` (fewer batch sizes,
seeds or steps) so that it builds in seconds: its numbers and verdicts show the method and can
differ from the report's, which are on the study pages :doc:`../studies/nuisance` and
:doc:`../studies/mup-transfer`.
"""

# %%
# muP keeps every layer's activations the same size as the width grows
# ----------------------------------------------------------------------
# :func:`empirical.coordinate_check` trains each width for four Adam steps and records the mean
# absolute activation of every layer. Its slope against width (log-log) is near zero under
# muP; under the standard parametrization the logits grow with width after the first step.
import tempfile

import numpy as np
from matplotlib.figure import Figure

from compare import (
    nuisance_conclusions,
    plot_nuisance,
    plot_transfer,
    run_nuisance,
    run_transfer,
    summarize_nuisance,
    summarize_transfer,
    transfer_conclusions,
)
from empirical import coordinate_check, load_digits_split

split = load_digits_split(0)
widths = [16, 32, 64, 128, 256, 512]
checks = {name: coordinate_check(split, widths, 1e-2, mup_base_width=base)
          for name, base in (("standard", None), ("muP", 16))}
fig_coordinates = Figure(figsize=(9, 3.6), layout="constrained")
for ax, (name, check) in zip(fig_coordinates.subplots(1, 2), checks.items(), strict=True):
    for step in range(check.sizes.shape[1]):
        ax.plot(widths, check.sizes[:, step, -1], "o-", label=f"step {step}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_title(f"{name}: logits' size against width")
    ax.set_xlabel("width")
    ax.legend(fontsize=7)
print({name: np.round(c.slopes()[:, -1], 2).tolist() for name, c in checks.items()})

# %%
# Dropout, batch size and rate tuned jointly
# ------------------------------------------
# Every (rate, dropout) pair of a shape is a column of one batched program, once per batch
# size; the sentences test the source's insights against the seeds' noise (one seed here: no
# verdict).
root = tempfile.mkdtemp()
nuisance = run_nuisance(root, 1, quick=True)
fig_nuisance = plot_nuisance(nuisance)

# %%
for sentence in nuisance_conclusions(summarize_nuisance(nuisance)):
    print(sentence, end="\n\n")

# %%
# Does the rate tuned at width 8 transfer?
# ----------------------------------------
transfer = run_transfer(root, 1, quick=True)
fig_transfer = plot_transfer(transfer)

# %%
# Conclusion
# ----------
# Every sentence computed from the numbers above by :func:`compare.transfer_conclusions` (the
# report's own sentences): whether the tuned rate and the valley's upper edge move with width
# in each parametrization, and what the rate tuned once costs.
for sentence in transfer_conclusions(summarize_transfer(transfer)):
    print(sentence, end="\n\n")
