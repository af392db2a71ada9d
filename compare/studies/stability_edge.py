"""The stability edge against batch size: measured, predicted from the minibatch Hessian, fitted,
and set against Granziol et al.'s claim (linear for SGD, square root for Adam)."""

from __future__ import annotations

import html as html_
from collections.abc import Callable

import numpy as np
from matplotlib.figure import Figure

from compare.analysis._edges import (
    ADAM_DIVERGENCE,
    ADAM_DIVERGENCE_CHECK,
    CLAIMS,
    FROZEN_ADAM,
    NOISE_PLUS_HESSIAN,
    EdgeStudy,
    HessianRegimes,
    edge_study,
)
from compare.fit._fits import fit_rule
from compare.fit._summary import fit_summary
from compare.studies._base import Context, Summary
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


def _holds(claim: float, interval) -> bool:
    """``claim`` lies inside the (95%) ``interval``."""
    return bool(interval[0] <= claim <= interval[1])


def _definition_text(edge: EdgeStudy) -> str:
    """What the edge is, whether each seed crosses it once, and (Adam) how it moves with the
    stated multiple."""
    crossings = np.concatenate([e.crossings for e in edge.edges])
    several = [e.batch_size for e in edge.edges if np.any(e.crossings > 1)]
    text = (f"{edge.label}: the edge is where a seed's runs start to fail ({edge.criterion}): its "
            f"first failing rate on the grid, bisected against the rate below; its runs cross "
            f"from stable to failing once along every rate tried for {int(np.sum(crossings == 1))} of "
            f"{crossings.size} (seed, batch size) pairs")
    if several:
        band = np.concatenate([(e.transition / e.seed_edges[:, None])[e.crossings > 1]
                               for e in edge.edges])
        low, high = band[:, 0], band[:, 1][np.isfinite(band[:, 1])]
        text += (f", more than once at B = {', '.join(map(str, several))}: there passing and "
                 f"failing alternate, from the lowest failing rate tried ({low.min():.3g}-"
                 f"{low.max():.3g} times the seed's edge) to the rate from which all fail ("
                 + (f"{high.min():.3g}-{high.max():.3g} times it" if high.size else
                    "none: the largest rate tried passes") + "), and the bisection closes on "
                 "one crossing in that band")
    text += "." + _first_update_text(edge)
    if edge.check_edges is not None:
        ratio = np.array([c.edge / e.edge for c, e in zip(edge.check_edges, edge.edges,
                                                           strict=True)])
        text += (f" Measured at {ADAM_DIVERGENCE_CHECK:g}x the start instead, the edge is "
                 f"{np.nanmin(ratio):.3g}-{np.nanmax(ratio):.3g} times higher: Adam's step is "
                 "bounded by the rate, so its loss grows gradually above the edge and the edge "
                 "depends on the multiple stated.")
    return text


def _overshoot_batches(edge: EdgeStudy) -> list[int]:
    """The batch sizes at which every seed's run at its first failing rate fails at its first
    update."""
    return [e.batch_size for e in edge.edges if np.all(e.failure_step == 1)]


def _first_update_text(edge: EdgeStudy) -> str:
    """How many seeds' runs at their first failing rate fail at the first update, where, and
    (Adam) why that is not the stability the theories describe."""
    steps = np.concatenate([e.failure_step for e in edge.edges])
    known = steps[np.isfinite(steps)]
    if not known.size:
        return ""
    ones, everywhere = int(np.sum(known == 1)), _overshoot_batches(edge)
    text = (f" The run at a seed's first failing rate fails at its first update for {ones} of "
            f"{known.size} (seed, batch size) pairs"
            + (f", for every seed at B = {', '.join(map(str, everywhere))}" if everywhere else ""))
    if edge.optimizer == "adam" and ones:
        text += ("; Adam's bias-corrected first update is lr g / (|g| + eps), lr sign(g) "
                 "whatever its betas, so there the edge is that one step's overshoot, not the "
                 "sustained instability the stability theories describe")
    return text + "."


def _regime_text(label: str, regimes: HessianRegimes) -> list[str]:
    """The paper's noise-plus-Hessian form in its own regimes: where the noise term dominates
    the edge should grow linearly, where the full Hessian does it should be flat."""
    if not np.isfinite(regimes.noise):
        return [f"{label}: Granziol et al.'s form 2 / (lambda_1 + kappa/B) has no noise term "
                f"here: the minibatch Hessian's largest eigenvalue at the smallest B is not above "
                f"the full Hessian's, lambda_1 = {regimes.full_hessian:.3g}."]
    text = (f"{label}: Granziol et al.'s form 2 / (lambda_1 + kappa/B), with the full training "
            f"set's Hessian lambda_1 = {regimes.full_hessian:.3g} and the noise term kappa = "
            f"{regimes.noise:.3g} (B (lambda_max(H_B) - lambda_1) at the smallest B, the form "
            f"scaled at that point; both at the initialization)")
    if np.isfinite(regimes.exact_noise):
        text += (f" (theory for Gaussian least squares: lambda_1 = "
                 f"{regimes.exact_full_hessian:.3g}, the finite-size Marchenko-Pastur edge of "
                 f"the training set, and kappa = 2D = {regimes.exact_noise:.3g}, the 1/B term of "
                 "the exact minibatch edge 2 (1 + sqrt(D/B))^2, whose cross term 4 sqrt(D/B) "
                 "the form leaves out and the measured kappa at the smallest B includes)")
    text += (f": the noise term dominates below B = kappa/lambda_1 = {regimes.crossover:.3g}, "
             "where the form's edge tends to linear growth, and the full Hessian above it, "
             "where it tends to a constant.")
    sides = ((regimes.noise_fit, regimes.noise_form_exponent, "below", 1),
             (regimes.hessian_fit, regimes.hessian_form_exponent, "above", 0))
    for fit, form, name, limit in sides:
        if fit is None:
            text += f" Fewer than two batch sizes lie {name} it: no exponent there."
            continue
        lo, hi = fit.exponent_interval
        text += (f" {name.capitalize()} it (B = {fit.batch_sizes[0]:.0f}-"
                 f"{fit.batch_sizes[-1]:.0f}) the measured edge grows as B^{fit.exponent:.2f} "
                 f"[{lo:.2f}, {hi:.2f}], the form as B^{form:.2f} there (its limit: {limit}): "
                 + ("inside" if lo <= form <= hi else "outside") + " the interval.")
    return [text]


@checked(edge=kind(EdgeStudy))
def edge_conclusions(edge: EdgeStudy) -> list[str]:
    """The verdict on the paper's claim for this study's optimizer, from the numbers.

    Whether "linear for SGD, square root for Adam" holds for the stability edge (over the
    whole range, or between the smallest batch sizes only), for the optimum, or for neither:
    the claimed exponent against the 95% intervals of the fitted power law and of the first
    local exponent.

    See Also
    --------
    edge_study : The numbers.
    """
    claim, name = CLAIMS[edge.optimizer]
    b = edge.batch_sizes
    lines = [_definition_text(edge)]
    if edge.fit is None:
        return lines + [f"{edge.label}: the stability edge is not measured at every batch size "
                        f"({'; '.join(edge.notes)}), so its scaling is not fitted."]
    fit, opt = edge.fit, edge.optimum
    other, other_name = [(c, n) for c, n in CLAIMS.values() if c != claim][0]
    lines.append(f"{edge.label}: the paper's claim for "
                 f"{'SGD' if edge.optimizer == 'sgd' else 'Adam'} is {name} scaling of the "
                 f"largest stable rate (exponent {claim:g}; the other rule: {other:g}).")
    targets = (
        (f"the stability edge from B = {b[0]:g} to {b[-1]:g}", fit.exponent,
         fit.exponent_interval),
        (f"the stability edge between B = {b[0]:g} and {b[1]:g}", fit.local_exponents[0],
         fit.local_intervals[0]),
        (f"the fixed-horizon optimum from B = {opt.batch_sizes[0]:g} to "
         f"{opt.batch_sizes[-1]:g}", opt.exponent, opt.exponent_interval))
    for what, exponent, interval in targets:
        claimed, rival = _holds(claim, interval), _holds(other, interval)
        status = (f"consistent with the claimed {name}, not with {other_name}"
                  if claimed and not rival else
                  f"too uncertain to tell {name} from {other_name}" if claimed and rival else
                  f"consistent with {other_name}, not with the claimed {name}" if rival else
                  f"consistent with neither {name} nor {other_name}")
        lines.append(f"{what[0].upper()}{what[1:]} grows as B^{exponent:.2f} "
                     f"[{interval[0]:.2f}, {interval[1]:.2f}]: {status}.")
    lines.append(f"Best rule for the edge: {fit.choice()}.")
    for label, curve in edge.predicted.items():
        # a claim anchored at the smallest batch size agrees there by construction
        first = 1 if label.startswith("claim") else 0
        pairs = list(zip(curve, edge.edges, strict=True))[first:]
        inside = sum(_holds(p, e.interval) for p, e in pairs)
        ratio = np.array([p / e.edge for p, e in pairs])
        lines.append(f"Predicted edge '{label}': inside the measured 95% interval at {inside} of "
                     f"{len(pairs)} batch sizes"
                     + (f" (the anchor, B = {edge.edges[0].batch_size}, not counted)" if first
                        else "")
                     + f"; predicted / measured {np.nanmin(ratio):.3g}-{np.nanmax(ratio):.3g}.")
    if edge.regimes is not None:
        lines += _regime_text(edge.label, edge.regimes)
    if edge.preconditioned_init is not None:
        lines.append(_frozen_adam_text(edge))
    return lines


def _frozen_adam_text(edge: EdgeStudy) -> str:
    """Cohen et al.'s frozen-preconditioner edge for Adam: its exponent from each point against
    the measured edge's (through the same weighted fit), Granziol et al.'s square root, and
    which side of the measured edge it lies on."""
    fit, b = edge.fit, edge.batch_sizes
    lo, hi = fit.exponent_interval
    measured = np.array([e.edge for e in edge.edges])
    text = (f"{edge.label}: Cohen et al.'s edge for Adam with its preconditioner frozen, "
            "2 (1 + beta1) / ((1 - beta1) lambda_max(P^-1 H_B)) with P = sqrt(E v) + eps at "
            "Adam's expected second moment E v = g^2 + s^2/B (its fluctuation about E v left "
            "out: the picture assumes a denominator that changes slowly, whose memory is about "
            f"1/(1 - beta2) steps), against the measured edge's B^{fit.exponent:.2f} "
            f"[{lo:.2f}, {hi:.2f}]:")
    pieces, everywhere_below = [], True
    for where, name in (("init", "the initialization"), ("trained", "the trained point")):
        curve = edge.predicted[f"{FROZEN_ADAM}, {where}"]
        ok = np.isfinite(curve)
        if ok.sum() < 2:
            pieces.append(f" from {name} it is finite at fewer than two batch sizes")
            everywhere_below = False
            continue
        exponent = fit_rule("power", b[ok], curve[ok], fit.log_sd[ok]).params["exponent"]
        ratio = curve[ok] / measured[ok]
        everywhere_below &= bool(np.all(ratio < 1))
        side = ("below the measured edge at every batch size" if np.all(ratio < 1) else
                "above it at every batch size" if np.all(ratio > 1) else "on both sides of it")
        pieces.append(f" from {name} it grows as B^{exponent:.2f} ("
                      + ("inside" if lo <= exponent <= hi else "outside")
                      + f" the interval; the preconditioned sharpness as B^{-exponent:.2f}, "
                      f"where Granziol et al.'s square root needs B^-0.5), {side}")
    text += ";".join(pieces) + "."
    overshoot = _overshoot_batches(edge)
    if overshoot:
        text += (f" At B = {', '.join(map(str, overshoot))} the edge is the first update's "
                 "overshoot, so there agreement or not is no test of the frozen threshold, "
                 "which is about sustained steps.")
    if everywhere_below:
        text += (" Above the frozen threshold Adam's denominator grows with its gradients and "
                 "holds the preconditioned sharpness at the threshold (Cohen et al.), so a run "
                 "need not blow up there.")
    return text


@checked(edge=kind(EdgeStudy))
def summarize_edges(edge: EdgeStudy) -> dict:
    """The machine-readable stability-edge section of one study (``results.json``'s
    ``stability_edge[model]``).

    Per batch size: the measured edge with its 95% interval over seeds and each seed's edge,
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
            predicted_inside={k: _holds(v[i], e.interval) for k, v in edge.predicted.items()},
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
                           "failing rate on the grid, bisected against the rate below",
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

    The measured edge (geometric mean over seeds, 95% interval), the best-fitting rule, the
    batch-Hessian and exact predictions, and the fixed-horizon optimum for comparison.

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
        ax.errorbar(b, value, yerr=err, fmt="o", color=PALETTE[0], ms=5, capsize=3,
                    label="measured edge (95% over seeds)")
        if edge.fit is not None and edge.fit.preferred is not None:
            dense = np.geomspace(b[0], b[-1], 100)
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


EIGENVALUE_HEADS = {
    "hessian_init": "&lambda;<sub>max</sub>(H<sub>B</sub>), init",
    "hessian_trained": "&lambda;<sub>max</sub>(H<sub>B</sub>), trained",
    "preconditioned_init": "&lambda;<sub>max</sub>(P<sup>-1</sup>H<sub>B</sub>), init",
    "preconditioned_trained": "&lambda;<sub>max</sub>(P<sup>-1</sup>H<sub>B</sub>), trained"}
"""The stability-edge table's column heads for the eigenvalues a study's rows carry."""


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
             "sentence says how many seeds cross from stable to failing only once, and where "
             "the others alternate. The "
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
        rows = [[r["batch_size"], f"{num_text(r['edge'])} {interval_text(r['interval'])}",
                 *(f"{num_text(r[k])} {interval_text(r[k + '_interval'])}" for k in eigenvalues),
                 *(f"{num_text(r['predicted'][k])} ({'inside' if r['predicted_inside'][k] else 'outside'})"
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
