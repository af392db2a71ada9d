"""
The stability edge: linear for SGD, square root for Adam?
=========================================================

Granziol et al. (2022) predict the *largest stable* learning rate from the minibatch Hessian:
it grows linearly with the batch size for SGD and as its square root for Adam. That is a claim
about the edge, not about the optimum. Here both are measured on the same sweeps: the edge as
the smallest rate whose run fails (bisected between the rates tried, per seed: for SGD it
diverges or ends no better than it started, for Adam, at a constant rate, its loss rises above
10x its start), the optimum as in the other pages. Where some seed's runs pass and fail
alternately above its first failure, there is no single edge: the batch size's edge is absent,
and the band where they alternate is printed instead. For least squares the exact theory
predicts the edge under the very same criterion; for Adam, Cohen et al.'s threshold on the
Hessian preconditioned by Adam's denominator predicts where Adam with that denominator frozen
stops being stable, and the step at which the failing runs fail says whether the measured edge
is that instability or the first update's overshoot. Four batch sizes and three seeds keep the
page quick; ``lrbs run`` measures seven batch sizes and five seeds.

**An illustration.** This page runs a smaller setting than ``lrbs run`` (fewer batch sizes,
seeds or steps) so that it builds in seconds: its numbers and verdicts show the method and can
differ from the report's, which are on :doc:`the study's page <../studies/stability-edge>`.
"""

# %%
from compare import analyze, edge_conclusions, edge_study, plot_stability_edges
from empirical import LRGrid, SweepSpec, run_sweep

edges = []
for model in ("linear-sgd", "mlp-sgd", "mlp-adam"):
    spec = SweepSpec(model, (2, 16, 128, 1024), LRGrid(), steps=100, seeds=(0, 1, 2))
    study = analyze(run_sweep(spec, progress=False), n_boot=100)
    edges.append(edge_study(study, n_boot=100, n_batches=3))
fig = plot_stability_edges(edges)
for edge in edges:
    print(edge.label)
    for i, e in enumerate(edge.edges):
        measured = (f"edge {e.edge:.4g} [{e.interval[0]:.4g}, {e.interval[1]:.4g}]" if e.single
                    else "no single edge: runs alternate from {:.4g} to {:.4g}".format(*e.band))
        line = (f"  B = {e.batch_size:5d}: {measured}, lambda_max(H_B) at init "
                f"{edge.hessian_init[i, 0]:.3g}")
        if edge.preconditioned_init is not None:
            line += f", lambda_max(P^-1 H_B) at init {edge.preconditioned_init[i, 0]:.3g}"
        print(line)

# %%
# Conclusion
# ----------
# Every sentence computed from the numbers above by :func:`compare.edge_conclusions` (the
# report's own sentences): whether the claimed exponent lies inside the 95% interval of the
# edge's exponent (over the whole range and between the two smallest batch sizes) and of the
# optimum's, and how each prediction compares with the measured edge.
for edge in edges:
    for sentence in edge_conclusions(edge):
        print(sentence, end="\n\n")
