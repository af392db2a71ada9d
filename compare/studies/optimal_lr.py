"""The optimal learning rate per batch size under both criteria: measured, fitted, and (least
squares) the exact theory through the measurement's own estimator."""

from __future__ import annotations

import html as html_
from collections.abc import Callable

import numpy as np
from matplotlib.figure import Figure

from compare.analysis._optima import FLAT_POINTS, LABELS, Study, adam_label, model_key, sweep_key
from compare.fit._fits import fit_rule
from compare.fit._summary import fit_summary
from compare.studies._answer import ANSWER_COLUMNS, QUICK_MARK, answer_rows, conclusions, criteria_text, theory_check
from compare.studies._base import ADAM_THEORY_BETAS, Context, Summary
from compare.style._figures import PALETTE, data_limits, label_axes, rule_curves
from compare.style._html import answer_list, interval_text, local_table, num_text, rules_table, table
from compare.style._text import paragraph
from empirical._core.arguments import checked, kind, sequence_of
from empirical.files import strict_json
from empirical.problems._shipped import ADAM_BETAS, ADAM_EPS, ADAM_WEIGHT_DECAY

NAME = "optimal-lr"
KEY = "studies"
TITLE = "The optimal learning rate, two criteria"
ORDER = 10
USES_SWEEPS = True


SETUP = (
    ("Least squares, SGD", "linear-sgd",
     "The homework's linear regression: y = X W* + sigma eps with D = 16 inputs and outputs, "
     "sigma = 5 (so the test-loss floor is 25), 10,000 training and 1,000 test points, "
     "plain minibatch SGD on the mean squared error for 100 steps from a random "
     "initialization. The exact finite-sample theory (nqm.FiniteSampleLeastSquaresSGD) "
     "predicts every curve."),
    ("MLP, SGD", "mlp-sgd",
     "The homework's teacher network y = relu(X W1) W2 + sigma eps (D = 4, sigma = 2, floor 4) "
     "learned by a two-layer ReLU student of width 4 with plain minibatch SGD, 100 steps."),
    (LABELS["mlp-adam"], "mlp-adam",
     f"The same teacher and student, trained with the notebook's Adam: betas "
     f"{ADAM_BETAS[0]:g} and {ADAM_BETAS[1]:g} (not the 0.9 and 0.999 the Adam theories assume; "
     f"the sweep below and the adam-sde and adam-annealing sections use those), eps "
     f"{ADAM_EPS:g}, coupled L2 weight decay {ADAM_WEIGHT_DECAY:g}, under 10 steps of linear "
     "warmup and a cosine decay to zero at step 100: the parity study, as the notebook runs "
     "it."),
    (adam_label(ADAM_THEORY_BETAS), sweep_key("mlp-adam", ADAM_THEORY_BETAS),
     f"The same, with the betas {ADAM_THEORY_BETAS[0]:g} and {ADAM_THEORY_BETAS[1]:g} the Adam "
     "theories assume (and PyTorch's default); everything else as above."),
)


def _theory_exponent(batch_sizes, lr) -> float:
    return fit_rule("power", batch_sizes, lr).params["exponent"]


def _inside(value: float, interval) -> bool:
    return bool(interval[0] <= value <= interval[1])


@checked(study=kind(Study))
def summarize(study: Study, *, quick: bool = False) -> dict:
    """The machine-readable summary of one study (``results.json``'s ``studies[model]``).

    Parameters
    ----------
    study : Study
    quick : bool, default False
        A ``--quick`` run: every verdict and conclusion is marked provisional.

    Returns
    -------
    dict
        The spec, the optima under both criteria with their intervals, every rule's fit, the
        local exponents, the exact theory through the same estimators (least squares) and the
        ``conclusions``: the sentences of :func:`conclusions`. Its schema is
        :func:`results_schema`'s ``$defs/study``.

    See Also
    --------
    conclusions : The sentences, from this summary.
    run_report : Writes one per study into ``results.json``.
    """
    optima = []
    th = study.theory
    for i, (o, flat) in enumerate(zip(study.optima, study.flat, strict=True)):
        row = dict(batch_size=o.batch_size, lr=o.lr, subgrid_lr=o.subgrid_lr,
                   interval=list(o.interval), basin=list(o.basin), flat=flat, on_edge=o.on_edge,
                   best_loss=o.best_loss, robust_lr=o.robust_lr, seed_lrs=o.seed_lrs,
                   estimator_error=o.estimator_error)
        if th is not None:
            row.update(theory_lr=th.finite_lr[i], theory_online_lr=th.online_lr[i],
                       theory_same_estimator=th.horizon_same_estimator[i],
                       theory_inside_interval=_inside(th.horizon_same_estimator[i], o.interval),
                       exact_inside_interval=_inside(th.finite_lr[i], o.interval))
        optima.append(row)
    target_rows = []
    for i, b in enumerate(study.batch_sizes):
        row = dict(batch_size=int(b), lr=study.target_lr[i], steps=study.target_steps[i],
                   censored=bool(study.target_censored[i]),
                   interval=list(study.target_interval[i]),
                   steps_interval=list(study.target_steps_interval[i]))
        if th is not None:
            row.update(theory_same_estimator=th.target_same_estimator[i],
                       theory_steps_same_estimator=th.target_steps_same_estimator[i],
                       theory_inside_interval=_inside(th.target_same_estimator[i],
                                                      study.target_interval[i]))
        target_rows.append(row)
    target = dict(target_loss=study.target_loss, optima=target_rows)
    if study.target is not None:
        target.update(fit_summary(study.target, f"{study.label}, steps to target"))
    out = dict(label=study.label, spec=study.result.spec.to_dict(), criterion=(
        f"mean test loss over the last {study.result.spec.window} step(s), seed-mean, "
        f"{study.result.spec.steps} steps"), optima=optima,
        **fit_summary(study.horizon, study.label), steps_to_target=target, notes=study.notes)
    if th is not None:
        out["theory"] = dict(
            horizon_exponent=_theory_exponent(study.batch_sizes, th.finite_lr),
            target_exponent=_theory_exponent(study.batch_sizes[~study.target_censored],
                                             th.target_lr[~study.target_censored]),
            target_lr=th.target_lr, target_steps=th.target_steps,
            critical_batch_size=th.critical_batch_size,
            horizon_inside=sum(o["theory_inside_interval"] for o in optima),
            horizon_exact_inside=sum(o["exact_inside_interval"] for o in optima),
            target_inside=sum(o["theory_inside_interval"] for o in target_rows))
    if quick:
        out["verdict"] = QUICK_MARK + out["verdict"]
        if "verdict" in target:
            target["verdict"] = QUICK_MARK + target["verdict"]
    out["conclusions"] = conclusions(strict_json(out), quick=quick)
    return out


def loss_ceiling(study: Study) -> float:
    """Twice the mean initial test loss: losses above it (and diverged runs) are drawn at it."""
    return 2.0 * float(np.mean([c.initial_loss.mean() for c in study.result.cells]))


@checked(study=kind(Study))
def plot_loss_vs_lr(study: Study) -> Figure:
    """Seed-mean test loss against learning rate, one curve per batch size, with the noise floor.

    See Also
    --------
    plot_optima : The optima against batch size.
    analyze : The study it draws.
    """
    fig = Figure(figsize=(7.5, 5.0), layout="constrained")
    ax = fig.add_subplot()
    ceiling = loss_ceiling(study)
    window = study.result.spec.window
    floor = study.result.spec.noise_floor()
    for i, (cell, opt) in enumerate(zip(study.result.cells, study.optima, strict=True)):
        colour = PALETTE[i % len(PALETTE)]
        with np.errstate(invalid="ignore"):
            mean = np.where(np.isfinite(m := cell.metric(window)), m, np.inf).mean(axis=1)
        ax.plot(cell.lrs, np.minimum(mean, ceiling), "o-", ms=2.5, lw=1.2, color=colour,
                label=f"$B = {cell.batch_size}$")
        ax.plot([opt.subgrid_lr], [min(opt.best_loss, ceiling)], "*", ms=11, color=colour,
                mec="black", mew=0.6)
        if study.theory is not None:
            ax.plot(cell.lrs, np.minimum(study.theory.finite_metric[i], ceiling), "--", lw=0.9,
                    color=colour)
    if floor > 0:                                 # a log axis has no place for a zero floor
        ax.axhline(floor, color="grey", lw=1.0, ls=":",
                   label=rf"noise floor $\sigma^2 = {floor:g}$")
    ax.plot([], [], "*", color="grey", mec="black", mew=0.6, ms=9, label="sub-grid optimum")
    if study.theory is not None:
        ax.plot([], [], "--", color="grey", lw=0.9, label="exact finite-sample theory")
    ax.set_xscale("log")
    ax.set_yscale("log")
    metric = "test metric" if study.result.spec.is_workload else "test MSE"
    label_axes(ax, r"learning rate $\eta$", f"{metric} (mean of last {window} step(s), seeds)",
               f"{study.label}: loss against learning rate\n(above {ceiling:.3g}, and diverged "
               f"runs, drawn at {ceiling:.3g})", legend_columns=3, legend_below=True)
    return fig


@checked(study=kind(Study))
def plot_optima(study: Study) -> Figure:
    """Optimal learning rate against batch size, both criteria, every rule and the theory.

    The y-range follows the measured optima, their intervals and the theory; the rules are
    drawn across it (a rule that leaves the range is clipped, not allowed to squash the data).

    See Also
    --------
    plot_loss_vs_lr : The curves the optima come from.
    fit_scaling : The rules it draws.
    """
    fig = Figure(figsize=(12.0, 6.2), layout="constrained")
    b = study.batch_sizes
    dense = np.geomspace(b.min() / 1.5, b.max() * 1.5, 200)
    panels = [("fixed horizon: lowest final test loss", study.horizon,
               np.array([o.subgrid_lr for o in study.optima]),
               np.array([o.interval for o in study.optima]))]
    if study.target is not None:
        panels.append((f"steps to target loss {study.target_loss:.3g}", study.target,
                       study.target_lr, study.target_interval))
    theory = study.theory
    for k, (title, fit, lr, interval) in enumerate(panels):
        ax = fig.add_subplot(1, 2, k + 1)
        finite = np.all(np.isfinite(interval), axis=1)
        err = np.abs(np.where(finite[:, None], interval, lr[:, None]).T - lr)
        ax.errorbar(b, lr, yerr=err, fmt="o", color=PALETTE[0], ms=5, capsize=3, zorder=3,
                    label="measured, 95% interval over seeds")
        shown = [lr, interval[finite]]
        if theory is not None:
            same = theory.horizon_same_estimator if k == 0 else theory.target_same_estimator
            ax.plot(b, same, "D", mfc="none", color=PALETTE[3], ms=8, zorder=4,
                    label="exact theory, same estimator and grid")
            continuous = theory.finite_lr if k == 0 else theory.target_lr
            ax.plot(b, continuous, "x", color=PALETTE[3], ms=7, zorder=4,
                    label="exact theory, continuous argmin" + (" (online)" if k else ""))
            shown += [same, continuous]
        rule_curves(ax, fit, dense)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        data_limits(ax, *shown)
        label_axes(ax, "batch size $B$", r"optimal learning rate $\eta^\star$",
                   f"{study.label}\n{title}", legend_columns=2, legend_below=True)
    return fig


def model_html(key: str, st: dict, figure: Callable[[str, str], str]) -> str:
    """One sweep's section: its figures, the optima under both criteria with their intervals
    (and the exact theory beside them), the local exponents and every rule's fit."""
    label = st["label"]
    parts = [f"<h2 id='{key}'>{html_.escape(label)}</h2>",
             f"<p>Fixed-horizon criterion: {html_.escape(st['criterion'])}. Steps-to-target "
             f"criterion: the fewest steps after which the seed-mean test loss stays at or "
             f"below {num_text(st['steps_to_target']['target_loss'])}, interpolated between "
             "steps; a count within the first update is censored and left out of the fit."
             "</p>",
             figure(f"loss_vs_lr_{key}", f"{label}: test loss against learning rate."),
             figure(f"optimal_lr_{key}",
                    f"{label}: optimal learning rate against batch size, both criteria.")]
    theory = "theory" in st
    headers = ["B", "lr* (grid)", "lr* (sub-grid)", "95% interval of the sub-grid lr*",
               "basin (5% of excess)",
               "flat", "on edge", "best loss"]
    if theory:
        headers += ["exact optimum (continuous argmin)", "inside interval",
                    "theory, same estimator", "inside interval"]
    rows = []
    for o in st["optima"]:
        row = [o["batch_size"], num_text(o["lr"]), num_text(o["subgrid_lr"]), interval_text(o["interval"]),
               interval_text(o["basin"]), num_text(o["flat"]), num_text(o["on_edge"]), num_text(o["best_loss"], 4)]
        if theory:
            row += [num_text(o["theory_lr"]), num_text(o["exact_inside_interval"]),
                    num_text(o["theory_same_estimator"]), num_text(o["theory_inside_interval"])]
        rows.append(row)
    parts += ["<h3>Fixed horizon: optima</h3>", table(headers, rows)]
    flat = [o["batch_size"] for o in st["optima"] if o["flat"]]
    if flat:
        parts.append(f"<p class='flat'>Flat basin at B = {', '.join(map(str, flat))}: at least "
                     f"{FLAT_POINTS} grid rates lie within 5% of the best excess loss, so the "
                     "argmin within it is close to arbitrary; read the interval, not the "
                     "argmin.</p>")
    parts += ["<h3>Fixed horizon: local exponents and rules</h3>", local_table(st),
              rules_table(st)]
    tgt = st["steps_to_target"]
    headers = ["B", "lr*", "95% interval", "steps", "95% interval", "censored"]
    if theory:
        headers += ["theory lr*, same estimator", "theory steps", "inside interval"]
    rows = []
    for o in tgt["optima"]:
        row = [o["batch_size"], num_text(o["lr"]), interval_text(o["interval"]), num_text(o["steps"]),
               interval_text(o["steps_interval"]), num_text(o["censored"])]
        if theory:
            row += [num_text(o["theory_same_estimator"]), num_text(o["theory_steps_same_estimator"]),
                    num_text(o["theory_inside_interval"])]
        rows.append(row)
    parts += ["<h3>Steps to target: optima</h3>", table(headers, rows)]
    if "rules" in tgt:
        parts += ["<h3>Steps to target: local exponents and rules</h3>", local_table(tgt),
                  rules_table(tgt)]
    parts += [f"<p>Note: {html_.escape(note)}</p>" for note in st["notes"]]
    return "".join(parts)


REFERENCES = (
    "P. Goyal et al., Accurate, large minibatch SGD: training ImageNet in 1 hour, "
    "arXiv:1706.02677 (linear scaling).",
    "A. Krizhevsky, One weird trick for parallelizing convolutional neural networks, "
    "arXiv:1404.5997; S. Malladi et al., On the SDEs and scaling rules for adaptive gradient "
    "algorithms, NeurIPS 2022 (square-root scaling).",
    "S. McCandlish, J. Kaplan, D. Amodei, An empirical model of large-batch training, "
    "arXiv:1812.06162 (saturating rule, critical batch size, the gradient noise scale and its "
    "estimators).",
    "G. Zhang et al., Which algorithmic choices matter at which batch sizes? Insights from a "
    "noisy quadratic model, NeurIPS 2019, arXiv:1907.04164 (the NQM, logarithmic fixed-horizon "
    "optimum).",
    "S. Li et al., Surge phenomenon in optimal learning rate and batch size scaling, "
    "NeurIPS 2024, arXiv:2405.14578 (Adam's surge).",
    "K. P. Burnham, D. R. Anderson, Model Selection and Multimodel Inference, 2002 (AICc, "
    "differences under 2).",
)


def run(context: Context) -> Summary:
    """The four sweeps (run or resumed), their optima, rule fits and the exact theory."""
    studies = context.sweeps(adam_theory=True)
    data = {s.key: dict(summarize(s, quick=context.quick), sweep_directory=str(
        context.sweep_directories[s.key].relative_to(context.root))) for s in studies}
    return Summary(data, detail=studies)


@checked(studies=sequence_of(Study))
def plot_steps_to_target(studies: list[Study]) -> Figure:
    """Fewest steps to the target against batch size: measured (95% intervals over seeds) and
    the exact least-squares theory with its critical batch size.

    See Also
    --------
    plot_optima : The rates that reach the target.
    compare.plot_diagonal_nqm : The same question on the diagonal NQM.
    """
    fig = Figure(figsize=(7.0, 5.6), layout="constrained")
    ax = fig.add_subplot()
    for i, s in enumerate(studies):
        interval = s.target_steps_interval
        finite = np.all(np.isfinite(interval), axis=1)
        err = np.abs(np.where(finite[:, None], interval, s.target_steps[:, None]).T
                     - s.target_steps)
        ax.errorbar(s.batch_sizes, s.target_steps, yerr=err, fmt="o-", color=PALETTE[i], ms=4,
                    capsize=3, label=f"{s.label}, to {s.target_loss:.3g}")
        if s.theory is not None:
            th = s.theory
            ax.plot(th.curve_batch_sizes, np.maximum(1.0, np.ceil(th.curve_steps)), "--",
                    color=PALETTE[i], lw=1, label="least squares: exact theory (online)")
            if np.isfinite(th.critical_batch_size):
                ax.axvline(th.critical_batch_size, color=PALETTE[i], lw=0.8, ls=":",
                           label=rf"least squares theory: $B_{{\rm crit}}$ = "
                                 f"{th.critical_batch_size:.0f}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    label_axes(ax, "batch size $B$", "fewest steps to the target (95% interval over seeds)",
               "measured: steps fall as $1/B$, then flatten", legend_below=True)
    return fig


def figures(summary: Summary) -> dict[str, Figure]:
    """Loss against rate and optimum against batch size, per sweep; the fewest steps to the
    target of all sweeps (shown in the diagonal NQM's section)."""
    drawn = {}
    for s in summary.detail:
        drawn[f"loss_vs_lr_{s.key}"] = plot_loss_vs_lr(s)
        drawn[f"optimal_lr_{s.key}"] = plot_optima(s)
    drawn["steps_to_target"] = plot_steps_to_target(summary.detail)
    return drawn


def sentences(data: dict) -> list[str]:
    """Every sweep's :func:`conclusions`, in order, each naming its sweep."""
    return [line if line.startswith(st["label"]) else f"{st['label']}, {line[0].lower()}{line[1:]}"
            for st in data.values() for line in st["conclusions"]]


def answer_html(data: dict) -> str:
    """The page's opening: the answer table and each sweep's sentences."""
    parts = [table(ANSWER_COLUMNS, [[html_.escape(c) for c in row] for row in answer_rows(data)])]
    for st in data.values():
        parts.append(f"<h3>{html_.escape(st['label'])}</h3>" + answer_list(st["conclusions"]))
    return "".join(parts)


def readme(data: dict) -> str:
    """The README's answer: the table and the sentences a practitioner acts on (the exact
    theory's check and what the criterion does to each sweep's exponent)."""
    lines = ["| " + " | ".join(ANSWER_COLUMNS) + " |", "|" + "---|" * len(ANSWER_COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in answer_rows(data)]
    text = [s for st in data.values() for s in (theory_check(st), criteria_text(st)) if s]
    return "\n".join(lines) + "\n\n" + paragraph(" ".join(text))


def html(results: dict, figure: Callable[[str, str], str]) -> str:
    """The setup of the sweeps and one section per sweep."""
    data = results[KEY]
    sweeps = "".join(f"<li><a href='#{model_key(m)}'>{html_.escape(label)}</a>: "
                     f"{html_.escape(text)} Raw sweep: <a href='{html_.escape(data[m]['sweep_directory'])}'>"
                     f"{html_.escape(data[m]['sweep_directory'])}</a>.</li>"
                     for label, m, text in SETUP if m in data)
    parts = ["<h2 id='setup'>Setup</h2><p>Each sweep trains every learning rate of a "
             "geometric grid (1.25x apart, extended until the optimum is interior, then "
             "refined to a quarter step around it) at each batch size, with the same seeds "
             "at every batch size. An optimum is the minimum of a local cubic in log lr "
             "around the argmin of the seed-mean metric, its 95% interval Student's "
             "bootstrap over seeds widened by the gap to the quadratic's vertex; rules are "
             "fitted in log space weighted by the optima's spread over seeds and compared by "
             "AICc with that spread taken as known.</p><ul>" + sweeps + "</ul>"]
    parts += [model_html(model_key(m), st, figure) for m, st in data.items()]
    return "".join(parts)
