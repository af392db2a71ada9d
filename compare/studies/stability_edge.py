"""The stability edge against batch size: measured, predicted from the minibatch Hessian, fitted,
and set against Granziol et al.'s claim (linear for SGD, square root for Adam)."""

from __future__ import annotations

import html as html_
from collections.abc import Callable

import numpy as np
from matplotlib.figure import Figure

from compare.analysis._edges import (
    ADAM_DIVERGENCE,
    FROZEN_ADAM,
    NOISE_PLUS_HESSIAN,
    EdgeStudy,
    HessianRegimes,
    edge_study,
)
from compare.fit._summary import fit_summary
from compare.studies._base import Context, Summary
from compare.studies._edge_sentences import edge_conclusions, holds
from compare.style._figures import PALETTE, label_axes
from compare.style._html import answer_list, interval_text, local_table, num_text, rules_table, table
from empirical._core.arguments import checked, kind, sequence_of

NAME = "stability-edge"
KEY = "stability_edge"
TITLE = "The stability edge"
ORDER = 20
USES_SWEEPS = True
REFERENCES = (
    "D. Granziol, S. Zohren, S. Roberts, Learning rates as a function of batch size: a random "
    "matrix theory approach to neural network training, JMLR 23 (2022), arXiv:2006.09092 "
    "(the largest stable rate: linear for SGD, square root for Adam).",
    "J. M. Cohen et al., Adaptive gradient methods at the edge of stability, arXiv:2207.14484 "
    "(2022) (Adam's threshold 2 (1 + beta1) / ((1 - beta1) eta) on the preconditioned "
    "sharpness).",
    "I. M. Johnstone, On the distribution of the largest eigenvalue in principal components "
    "analysis, Ann. Statist. 29 (2001) (the finite-size edge of a Wishart matrix).",
)


@checked(edge=kind(EdgeStudy))
def summarize_edges(edge: EdgeStudy) -> dict:
    """The machine-readable stability-edge section of one study (``results.json``'s
    ``stability_edge[model]``).

    Per batch size: the measured edge with its 95% interval over seeds and each seed's edge
    (the edge absent where a seed's runs cross more than once, with the band where they
    alternate),
    the minibatch Hessian's largest eigenvalue at initialization and at the trained point
    (mean over minibatches, 95% interval), every predicted edge and whether it lies inside
    the measured interval; the rules fitted to the edge; the optimum's exponent beside it;
    and the sentences of :func:`edge_conclusions`.

    See Also
    --------
    edge_study : The numbers.
    results_schema : ``$defs/stability_edge`` describes the result.
    """
    rows = []
    for i, e in enumerate(edge.edges):
        rows.append(dict(
            batch_size=e.batch_size, edge=e.edge, interval=list(e.interval),
            seed_edges=list(e.seed_edges),
            hessian_init=edge.hessian_init[i, 0], hessian_init_interval=list(
                edge.hessian_init[i, 1:]),
            hessian_trained=edge.hessian_trained[i, 0], hessian_trained_interval=list(
                edge.hessian_trained[i, 1:]),
            predicted={k: v[i] for k, v in edge.predicted.items()},
            predicted_inside={k: holds(v[i], e.interval) if e.single else None
                              for k, v in edge.predicted.items()},
            single_edge=e.single, band=list(e.band), passing_loss=list(e.passing_loss),
            crossings=e.crossings, transition=e.transition,
            no_edge_below=e.no_edge_below, failure_step=e.failure_step,
            **({} if edge.check_edges is None else dict(
                check_edge=edge.check_edges[i].edge,
                check_interval=list(edge.check_edges[i].interval))),
            **({} if edge.preconditioned_init is None else dict(
                preconditioned_init=edge.preconditioned_init[i, 0],
                preconditioned_init_interval=list(edge.preconditioned_init[i, 1:]),
                preconditioned_trained=edge.preconditioned_trained[i, 0],
                preconditioned_trained_interval=list(edge.preconditioned_trained[i, 1:])))))
    return dict(label=edge.label, optimizer=edge.optimizer, rounds=edge.edges[0].rounds,
                definition=f"where a seed's runs start to fail ({edge.criterion}): its first "
                           "failing rate on the grid, bisected against the rate below; absent "
                           "where a seed's runs cross from stable to failing more than once",
                edges=rows, fit=fit_summary(edge.fit, f"{edge.label}, stability edge"),
                optimum_exponent=edge.optimum.exponent,
                optimum_exponent_interval=list(edge.optimum.exponent_interval),
                regimes=_regimes_summary(edge.regimes),
                notes=list(edge.notes), conclusions=edge_conclusions(edge))


def _regimes_summary(regimes: HessianRegimes | None) -> dict | None:
    if regimes is None:
        return None
    sides = {}
    for name, fit, form in (("noise", regimes.noise_fit, regimes.noise_form_exponent),
                            ("hessian", regimes.hessian_fit, regimes.hessian_form_exponent)):
        sides[name] = None if fit is None else dict(
            batch_sizes=[round(float(v)) for v in fit.batch_sizes], exponent=fit.exponent,
            interval=list(fit.exponent_interval), form_exponent=form)
    return dict(full_hessian=regimes.full_hessian, noise=regimes.noise,
                crossover=regimes.crossover, exact_full_hessian=regimes.exact_full_hessian,
                exact_noise=regimes.exact_noise, noise_regime=sides["noise"],
                hessian_regime=sides["hessian"])


EDGE_STYLES = {
    "2 / lambda_max, init": ("-.", "#009E73", r"$2/\lambda_{\max}(H_B)$ at initialization"),
    "2 / lambda_max, trained": (":", "#D55E00", r"$2/\lambda_{\max}(H_B)$ at the trained point"),
    "2 / lambda_max (minibatch Hessian)": ("-.", "#009E73",
                                           r"$2/\lambda_{\max}(H_B)$ (independent of the weights)"),
    "exact, same criterion": ("--", "#CC79A7", "exact theory, same criterion"),
    "mean-square bound B/(B+D+1)": ((0, (5, 2, 1, 2)), "#56B4E9",
                                    "mean-square bound $B/(B+D+1)$"),
    "Marchenko-Pastur (1+sqrt(D/B))^-2": ((0, (1, 1)), "#000000",
                                          r"Marchenko-Pastur $(1+\sqrt{D/B})^{-2}$"),
    NOISE_PLUS_HESSIAN: ((0, (3, 1, 1, 1, 1, 1)), "#E69F00",
                         r"Granziol et al. $2/(\lambda_1 + \kappa/B)$"),
    f"{FROZEN_ADAM}, init": ("-.", "#009E73", r"$2(1+\beta_1)/((1-\beta_1)\lambda_{\max}"
                                              r"(P^{-1}H_B))$ at initialization (Cohen et al.)"),
    f"{FROZEN_ADAM}, trained": (":", "#D55E00", r"the same at the trained point")}
"""Line style, colour and legend label of each predicted edge."""


@checked(edges=sequence_of(EdgeStudy))
def plot_stability_edges(edges: list) -> Figure:
    """The largest stable learning rate against batch size, one panel per study, two a row.

    The measured edge (geometric mean over seeds, 95% interval; where it is absent, the band
    where runs pass and fail alternately), the best-fitting rule over the batch sizes it was
    fitted at, the batch-Hessian and exact predictions, and the fixed-horizon optimum for
    comparison.

    See Also
    --------
    compare.edge_study : The numbers.
    plot_optima : The optimum's own figure.
    """
    columns = min(len(edges), 2)
    rows = -(-len(edges) // columns)
    fig = Figure(figsize=(6.4 * columns, 6.2 * rows), layout="constrained")
    for k, edge in enumerate(edges):
        ax = fig.add_subplot(rows, columns, k + 1)
        b = edge.batch_sizes
        value = np.array([e.edge for e in edge.edges])
        interval = np.array([e.interval for e in edge.edges])
        ok = np.isfinite(interval).all(axis=1)
        err = np.abs(np.where(ok[:, None], interval, value[:, None]).T - value)
        if np.isfinite(value).any():
            ax.errorbar(b, value, yerr=err, fmt="o", color=PALETTE[0], ms=5, capsize=3,
                        label="measured edge (95% over seeds)")
        _plot_bands(ax, edge.edges)
        if edge.fit is not None and edge.fit.preferred is not None:
            dense = np.geomspace(edge.fit.batch_sizes[0], edge.fit.batch_sizes[-1], 100)
            best = edge.fit.rules[edge.fit.preferred]
            ax.plot(dense, best.predict(dense), color=PALETTE[0], lw=1.0,
                    label=f"fitted: {edge.fit.preferred}, $B^{{{edge.fit.exponent:.2f}}}$ overall")
        for name, curve in edge.predicted.items():
            style, colour, label = EDGE_STYLES.get(name, ((0, (6, 3)), "#999999", name))
            ax.plot(b, curve, ls=style, color=colour, lw=1.2, label=label)
        optimum = edge.optimum
        ax.plot(optimum.batch_sizes, optimum.lr, "s", color=PALETTE[1], ms=4,
                label="fixed-horizon optimum")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        label_axes(ax, "batch size $B$", "learning rate", f"{edge.label}: stability edge",
                   legend_below=True)
    return fig


def _plot_bands(ax, edges: list) -> None:
    """At the batch sizes without a single edge, the band where runs pass and fail
    alternately (a triangle at its bottom where its top is beyond the largest rate tried)."""
    bands = [(e.batch_size, *e.band) for e in edges if not e.single and np.isfinite(e.band[0])]
    if not bands:
        return
    b, low, high = np.array(bands).T
    closed = np.isfinite(high)
    ax.vlines(b[closed], low[closed], high[closed], color=PALETTE[0], lw=5, alpha=0.3,
              label="no single edge: runs pass and fail alternately")
    if not closed.all():
        ax.plot(b[~closed], low[~closed], "^", color=PALETTE[0], mfc="none", ms=6,
                label="no single edge: runs fail from here, not at every rate above")


EIGENVALUE_HEADS = {
    "hessian_init": "&lambda;<sub>max</sub>(H<sub>B</sub>), init",
    "hessian_trained": "&lambda;<sub>max</sub>(H<sub>B</sub>), trained",
    "preconditioned_init": "&lambda;<sub>max</sub>(P<sup>-1</sup>H<sub>B</sub>), init",
    "preconditioned_trained": "&lambda;<sub>max</sub>(P<sup>-1</sup>H<sub>B</sub>), trained"}
"""The stability-edge table's column heads for the eigenvalues a study's rows carry."""


def _edge_cell(row: dict) -> str:
    """The measured edge and its interval, or where it is absent the band where runs pass and
    fail alternately and what the runs that pass there end at."""
    if row["single_edge"]:
        return f"{num_text(row['edge'])} {interval_text(row['interval'])}"
    low, high = row["band"]
    if low is None:
        return "absent"
    passing = row["passing_loss"]
    return (f"absent: alternate from {num_text(low)} to "
            + (num_text(high) if high is not None else "beyond the largest rate tried")
            + (f"; the runs that pass end at a test loss of {num_text(passing[0])}-"
               f"{num_text(passing[1])}" if passing[0] is not None else ""))


def _inside_cell(inside: bool | None) -> str:
    return "" if inside is None else f" ({'inside' if inside else 'outside'})"


def _edge_html(edges: dict, figure) -> str:
    first = next(iter(edges.values()))
    parts = ["<h2 id='stability-edge'>The stability edge: linear for SGD, square root for "
             "Adam?</h2>",
             "<p>Granziol et al. (2022) derive the <em>largest stable</em> learning rate from "
             "the extremal eigenvalues of the minibatch Hessian: linear in the batch size for "
             "SGD, square root for Adam. Their claim is about the edge, not the optimum. The "
             "edge is where a seed's runs start to fail: its first failing rate on the grid, "
             f"bisected {first['rounds']} rounds against the rate below (the grid's rates doubled "
             "beyond its top where none failed), with a 95% interval over seeds (Student's t "
             "on the log edges). For SGD a run fails by the sweep's own criterion, whose exact "
             "least-squares theory is known; Adam's is measured at a constant rate (its "
             "sweep's cosine decay to zero stops a run short of its blow-up) and fails when "
             f"its loss rises above {ADAM_DIVERGENCE:g}x its start. Each study's first "
             "sentence says how many seeds cross from stable to failing only once; where some "
             "seed's runs alternate, the smallest failing rate is no stability edge, so the edge "
             "is reported absent there, with the band where they alternate, and left out of the "
             "fit. The "
             "minibatch Hessian's "
             "largest eigenvalue comes from Lanczos on Hessian-vector products at the first "
             "seed's initialization and at the point its run at the optimal rate reaches (mean "
             "over minibatches, 95% interval); gradient descent on one minibatch is stable "
             "below 2 / &lambda;<sub>max</sub>. The paper's own form for SGD, 2 / (&lambda;<sub>1</sub> "
             "+ &kappa;/B), splits that eigenvalue into the full training set's Hessian "
             "&lambda;<sub>1</sub> and a minibatch-noise term &kappa;/B (scaled at the smallest "
             "B): linear growth where the noise dominates, a constant where the full Hessian "
             "does; each regime's measured exponent is set against the form's own over the same "
             "batch sizes. For Adam the Hessian is preconditioned by Adam's denominator P = "
             "sqrt(E v) + eps at the expected second moment of a minibatch gradient, and Adam with "
             "P frozen is stable below 2 (1 + &beta;<sub>1</sub>) / ((1 - &beta;<sub>1</sub>) "
             "&lambda;<sub>max</sub>(P<sup>-1</sup>H<sub>B</sub>)) (Cohen et al. 2022: 38 / "
             "&lambda; at &beta;<sub>1</sub> = 0.9). The exponents carry the optima's intervals "
             "(bootstrap over seeds, Student's quantile).</p>",
             figure("stability_edge", "The stability edge against batch size, measured (95% "
                                      "intervals over seeds) and predicted, with the "
                                      "fixed-horizon optimum for comparison.")]
    for st in edges.values():
        names = list(st["edges"][0]["predicted"])
        parts.append(f"<h3>{html_.escape(st['label'])}</h3>" + answer_list(st["conclusions"]))
        eigenvalues = [k for k in ("hessian_init", "hessian_trained", "preconditioned_init",
                                   "preconditioned_trained") if k in st["edges"][0]]
        rows = [[r["batch_size"], _edge_cell(r),
                 *(f"{num_text(r[k])} {interval_text(r[k + '_interval'])}" for k in eigenvalues),
                 *(num_text(r["predicted"][k]) + _inside_cell(r["predicted_inside"][k])
                   for k in names)] for r in st["edges"]]
        parts.append(table(["B", "edge [95%]", *(EIGENVALUE_HEADS[k] for k in eigenvalues),
                             *(html_.escape(k) for k in names)], rows))
        if st["fit"] is not None:
            parts += [local_table(st["fit"]), rules_table(st["fit"])]
        parts += [f"<p>Note: {html_.escape(note)}</p>" for note in st["notes"]]
    return "".join(parts)


def run(context: Context) -> Summary:
    """Each sweep's edge by bisection, its batch Hessians, predictions and rule fits."""
    settings = context.settings
    studies = context.sweeps(adam_theory=True)
    edges = [edge_study(s, n_boot=settings["n_boot"], n_batches=settings["hessian_batches"],
                        rounds=settings["edge_rounds"]) for s in studies]
    return Summary({s.key: summarize_edges(e) for s, e in zip(studies, edges, strict=True)},
                   detail=edges)


def figures(summary: Summary) -> dict[str, Figure]:
    return {"stability_edge": plot_stability_edges(summary.detail)}


def sentences(data: dict) -> list[str]:
    """Every sweep's :func:`edge_conclusions`, in order."""
    return [line for st in data.values() for line in st["conclusions"]]


def html(results: dict, figure: Callable[[str, str], str]) -> str:
    return _edge_html(results[KEY], figure)
