"""The report's figures, drawn with matplotlib's object API (no pyplot state, no backend choice)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import nqm
from compare._double_descent import RiskSimulation
from compare._study import Study
from empirical import atomic_write_bytes

# Okabe & Ito's colour-blind-safe palette
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
RULE_STYLES = {"linear": ("#000000", ":"), "sqrt": ("#000000", "--"),
               "saturating": ("#D55E00", "-"), "surge": ("#CC79A7", "-"),
               "power": ("#009E73", "-."), "logarithmic": ("#56B4E9", "-")}


def label_axes(ax, xlabel: str, ylabel: str, title: str, *, legend_size: float = 8,
               legend_columns: int = 1, legend_below: bool = False) -> None:
    """The finishing every panel gets: axis labels, a title, a light grid, the legend.

    With ``legend_below`` the legend sits under the axes (constrained layout makes room), so
    that it never covers the data.
    """
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    if legend_below:
        ax.legend(fontsize=legend_size, ncol=legend_columns, loc="upper center",
                  bbox_to_anchor=(0.5, -0.16), frameon=False)
    else:
        ax.legend(fontsize=legend_size, ncol=legend_columns)


def _data_limits(ax, *arrays, margin: float = 1.6) -> None:
    """A log y-range set by the data (and their intervals), not by reference lines."""
    values = np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in arrays])
    values = values[np.isfinite(values) & (values > 0)]
    if values.size:
        ax.set_ylim(values.min() / margin, values.max() * margin)


def save_figure(fig: Figure, directory, name: str) -> dict:
    """Write ``name.png`` and ``name.svg`` under ``directory``; returns both paths.

    See Also
    --------
    run_report : Saves every figure of the report with it.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for ext in ("png", "svg"):
        paths[ext] = directory / f"{name}.{ext}"
        buffer = io.BytesIO()
        fig.savefig(buffer, format=ext, dpi=110)
        atomic_write_bytes(paths[ext], buffer.getvalue())
    return paths


def loss_ceiling(study: Study) -> float:
    """Twice the mean initial test loss: losses above it (and diverged runs) are drawn at it."""
    return 2.0 * float(np.mean([c.initial_loss.mean() for c in study.result.cells]))


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


RULE_LABELS = {"linear": r"linear $cB$", "sqrt": r"square root $c\sqrt{B}$",
               "power": r"power $cB^{\alpha}$", "logarithmic": r"logarithmic $c\ln(1+B/B_0)$",
               "saturating": r"saturating $\eta_{\max}/(1+B_{\rm noise}/B)$",
               "surge": "surge"}


def _rule_curves(ax, fit, dense) -> None:
    """Every fitted rule, labelled with its AICc difference from the best (ties: under 2)."""
    best = min(r.aicc for r in fit.rules.values())
    for name, rule in sorted(fit.rules.items(), key=lambda kv: kv[1].aicc):
        colour, style = RULE_STYLES[name]
        label = RULE_LABELS[name] + (rf", $\alpha = {fit.exponent:.2f}$" if name == "power" else "")
        if np.isfinite(rule.aicc):
            label += rf", $\Delta$AICc {rule.aicc - best:.1f}"
        ax.plot(dense, rule.predict(dense), style, color=colour, lw=1.3 if name in fit.tied
                else 0.9, label=label)


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
        _rule_curves(ax, fit, dense)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        _data_limits(ax, *shown)
        label_axes(ax, "batch size $B$", r"optimal learning rate $\eta^\star$",
                   f"{study.label}\n{title}", legend_columns=2, legend_below=True)
    return fig


def plot_steps_to_target(studies: list[Study], diagonal: dict) -> Figure:
    """Optimal steps to the target against batch size: measured, exact theory and the NQM.

    See Also
    --------
    diagonal_curves : The NQM curves.
    plot_optima : The rates that reach the target.
    """
    fig = Figure(figsize=(12.0, 5.6), layout="constrained")
    ax = fig.add_subplot(1, 2, 1)
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

    draw_diagonal_nqm(fig.add_subplot(1, 2, 2), diagonal)
    return fig


_DIAGONAL_LABELS = {"H^-1/4": "$H^{-1/4}$", "H^-1/2": "$H^{-1/2}$", "H^-3/4": "$H^{-3/4}$"}


def draw_diagonal_nqm(ax, diagonal: dict) -> None:
    """Zhang et al. (2019)'s figure on ``ax``: the fewest steps per batch size of each optimizer
    (its critical batch size marked and in the legend) and the information-theoretic bound.

    See Also
    --------
    diagonal_curves : The curves.
    plot_diagonal_nqm : The same as a figure of its own.
    """
    b = diagonal["batch_sizes"]
    for i, (name, curve) in enumerate(diagonal["curves"].items()):
        critical = curve["critical_batch_size"]
        colour = PALETTE[i % 7]
        ax.plot(b, curve["steps"], "o-", ms=3, color=colour,
                label=rf"{_DIAGONAL_LABELS.get(name, name)}: $B_{{\rm crit}}$ = {critical:.3g}")
        if b[0] <= critical <= b[-1]:
            at = np.exp(np.interp(np.log(critical), np.log(b), np.log(curve["steps"])))
            ax.plot([critical], [at], "*", ms=10, color=colour, mec="black", mew=0.5)
    ax.plot(b, diagonal["lower_bound"], "k--", lw=1,
            label="lower bound $\\sum_i c_i/h_i\\,/\\,(2BL^\\star)$")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    _data_limits(ax, *(c["steps"] for c in diagonal["curves"].values()))
    binned = f" in {diagonal['bins']} bins" if diagonal.get("bins") else ""
    label_axes(ax, "batch size $B$", "fewest steps to the target (star: $B_{\\rm crit}$)",
               f"diagonal NQM (Zhang et al. 2019), dim {diagonal['dim']}{binned}, target "
               f"{diagonal['target']:g}", legend_below=True, legend_columns=2)


def plot_diagonal_nqm(diagonal: dict) -> Figure:
    """Zhang et al. (2019)'s figure as a figure of its own (:func:`draw_diagonal_nqm`).

    See Also
    --------
    diagonal_curves : The curves.
    """
    fig = Figure(figsize=(7.0, 6.0), layout="constrained")
    draw_diagonal_nqm(fig.add_subplot(), diagonal)
    return fig


def plot_double_descent(sim: RiskSimulation) -> Figure:
    """Figure 4: ridgeless double descent and ridge at its optimal penalty, formula and Monte Carlo.

    See Also
    --------
    simulate_risk : The Monte Carlo it draws.
    nqm.ridge_risk : The ridge formula.
    """
    fig = Figure(figsize=(12.0, 5.6), layout="constrained")
    d = sim.d
    # every sample count on each side of the interpolation threshold (the formula is exact
    # for whole n only; at n = d - 1, d, d + 1 the variance is infinite)
    dense = np.concatenate([np.arange(sim.ns.min(), d - 1), np.arange(d + 2, sim.ns.max() + 1)])
    ax = fig.add_subplot(1, 2, 1)
    for i, var in enumerate(sim.noise_vars):
        theory = nqm.ridgeless_risk(dense, d, noise_var=var).total
        ax.plot(dense, theory, "-", color=PALETTE[i], label=rf"formula, $\sigma = {np.sqrt(var):.2g}$")
        med = np.median(sim.ridgeless[i], axis=-1)
        lo, hi = np.percentile(sim.ridgeless[i], [25, 75], axis=-1)
        ax.errorbar(sim.ns, med, yerr=[med - lo, hi - med], fmt="o", ms=4, color=PALETTE[i],
                    capsize=2, label=(f"Monte Carlo median, IQR ({sim.ridgeless.shape[-1]} draws)" if i == 0
                           else None))
    ax.axvspan(d - 1, d + 1, color="grey", alpha=0.3)
    ax.set_yscale("log")
    ax.set_ylim(1e-3, 1e2)
    label_axes(ax, f"samples $n$ ($d = {d}$ features; grey: risk infinite)",
               r"excess risk $\|\hat w - w^\star\|^2$",
               "min-norm least squares: double descent\n"
               r"($\sigma = 0$: zero risk for $n > d + 1$, below the axis)", legend_below=True)

    ax = fig.add_subplot(1, 2, 2)
    for i, var in enumerate(sim.noise_vars):
        if var == 0:
            continue
        sigma = np.sqrt(var)
        ax.plot(dense, nqm.ridgeless_risk(dense, d, noise_var=var).total, "-", color=PALETTE[i],
                lw=0.8, label=rf"ridgeless formula, $\sigma = {sigma:.2g}$")
        ax.plot(dense, nqm.ridge_risk(dense, d, var * d / dense, noise_var=var).total, "-",
                color=PALETTE[3], label=rf"ridge formula, $\lambda = \sigma^2 d/n$, "
                                        rf"$\sigma = {sigma:.2g}$")
        ax.plot(sim.ns, np.mean(sim.ridge[i], axis=-1), "s", color=PALETTE[3], ms=4,
                label=rf"ridge Monte Carlo mean, $\sigma = {sigma:.2g}$")
    ax.set_yscale("log")
    ax.set_ylim(1e-2, 1e1)
    label_axes(ax, f"samples $n$ ($d = {d}$)", "excess risk",
               "optimal ridge removes the peak", legend_below=True)
    return fig


EDGE_STYLES = {
    "2 / lambda_max, init": ("-.", "#009E73", r"$2/\lambda_{\max}(H_B)$ at initialization"),
    "2 / lambda_max, trained": (":", "#D55E00", r"$2/\lambda_{\max}(H_B)$ at the trained point"),
    "exact, same criterion": ("--", "#CC79A7", "exact theory, same criterion"),
    "mean-square bound B/(B+D+1)": ((0, (5, 2, 1, 2)), "#56B4E9",
                                    "mean-square bound $B/(B+D+1)$"),
    "Marchenko-Pastur (1+sqrt(D/B))^-2": ((0, (1, 1)), "#000000",
                                          r"Marchenko-Pastur $(1+\sqrt{D/B})^{-2}$")}
"""Line style, colour and legend label of each predicted edge."""


def plot_stability_edges(edges: list) -> Figure:
    """The largest stable learning rate against batch size, one panel per study.

    The measured edge (geometric mean over seeds, 95% interval), the best-fitting rule, the
    batch-Hessian and exact predictions, and the fixed-horizon optimum for comparison.

    See Also
    --------
    compare.edge_study : The numbers.
    plot_optima : The optimum's own figure.
    """
    fig = Figure(figsize=(5.0 * len(edges), 5.4), layout="constrained")
    for k, edge in enumerate(edges):
        ax = fig.add_subplot(1, len(edges), k + 1)
        b = edge.batch_sizes
        value = np.array([e.edge for e in edge.edges])
        interval = np.array([e.interval for e in edge.edges])
        ok = np.isfinite(interval).all(axis=1)
        err = np.abs(np.where(ok[:, None], interval, value[:, None]).T - value)
        ax.errorbar(b, value, yerr=err, fmt="o", color=PALETTE[0], ms=5, capsize=3,
                    label="measured edge (95% over seeds)")
        if edge.fit is not None:
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


def plot_critical_batch(studies: list) -> Figure:
    """Per study: steps to each target against batch size with the fitted hyperbolas (top),
    the measured critical batch size and the noise scale against the target's excess loss
    (middle), and McCandlish's predicted rate against the measured optima (bottom).

    See Also
    --------
    compare.noise_scale_study : The numbers.
    plot_noise_trace : The noise-scale run itself.
    """
    fig = Figure(figsize=(5.0 * len(studies), 13.5), layout="constrained")
    for k, gns in enumerate(studies):
        b = gns.batch_sizes
        dense = np.geomspace(b[0], b[-1], 100)
        ax = fig.add_subplot(3, len(studies), k + 1)
        for i, (target, fit) in enumerate(zip(gns.targets, gns.fits, strict=True)):
            colour = PALETTE[i % len(PALETTE)]
            steps, interval = gns.steps[i], gns.steps_interval[i]
            ok = np.isfinite(interval).all(axis=1) & np.isfinite(steps)
            err = np.abs(np.where(ok[:, None], interval, steps[:, None]).T - steps)
            ax.errorbar(b[ok], steps[ok], yerr=err[:, ok], fmt="o", color=colour, ms=4,
                        capsize=2, label=f"loss {target:.3g}")
            if fit is not None:
                ax.plot(dense, nqm.steps_examples_tradeoff(dense, s_min=fit.s_min,
                                                           b_crit=fit.b_crit)[0],
                        color=colour, lw=1.0)
                ax.axvline(fit.b_crit, color=colour, lw=0.6, ls=":")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        label_axes(ax, "batch size $B$", "fewest steps to the target",
                   f"{gns.label}: $S = S_{{min}}(1 + B_{{crit}}/B)$ (dotted: $B_{{crit}}$)",
                   legend_size=7)

        ax = fig.add_subplot(3, len(studies), len(studies) + k + 1)
        excess = gns.targets - gns.floor
        fitted = [i for i, f in enumerate(gns.fits) if f is not None]
        if fitted:
            crit = np.array([gns.fits[i].b_crit for i in fitted])
            iv = np.array([gns.fits[i].b_crit_interval for i in fitted], dtype=float)
            good = np.isfinite(iv).all(axis=1)
            err = np.abs(np.where(good[:, None], iv, crit[:, None]).T - crit)
            ax.errorbar(excess[fitted], crit, yerr=err, fmt="o", color=PALETTE[0], capsize=3,
                        label="measured $B_{crit}$ (95% over seeds)")
        noise = gns.noise_at_target
        seen = np.isfinite(noise[:, 0])
        ax.errorbar(excess[seen] * 1.03, noise[seen, 0],
                    yerr=np.abs(noise[seen, 1:].T - noise[seen, 0]), fmt="s", color=PALETTE[3],
                    capsize=3, label=f"$B_{{simple}}$ of one run at B={gns.trace.batch_size}")
        if gns.exact_noise_at_target is not None:
            ax.plot(excess, gns.exact_noise_at_target, "--", color=PALETTE[2],
                    label="exact $B_{noise}$ of least squares at that loss")
        ax.set_xscale("log")
        ax.set_yscale("log")
        label_axes(ax, "target excess test loss $L - L_\\infty$", "batch size",
                   f"{gns.label}: critical batch size and noise scale", legend_size=7)

        ax = fig.add_subplot(3, len(studies), 2 * len(studies) + k + 1)
        iv = gns.optimum_interval
        ok = np.isfinite(iv).all(axis=1)
        err = np.abs(np.where(ok[:, None], iv, gns.optimum_lr[:, None]).T - gns.optimum_lr)
        ax.errorbar(b, gns.optimum_lr, yerr=err, fmt="o", color=PALETTE[0], capsize=3,
                    label="measured optimum (95%)")
        ax.fill_between(b, gns.predicted_band[:, 0], gns.predicted_band[:, 1], color=PALETTE[1],
                        alpha=0.25, label="predicted along the run")
        what = "predicted" if gns.prediction_kind == "absolute" else "predicted shape"
        ax.plot(b, gns.predicted, color=PALETTE[1], lw=1.5,
                label=f"{what}: $\\eta_{{max}}/(1 + B_{{noise}}/B)$, EMA at step "
                      f"{gns.trace.steps[-1]}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        label_axes(ax, "batch size $B$", "learning rate",
                   f"{gns.label}: predicted inside {int(gns.inside[gns.counted].sum())} of "
                   f"{int(gns.counted.sum())}", legend_size=7, legend_below=True)
    return fig


def plot_noise_trace(trace, *, floor: float | None = None) -> Figure:
    """A noise-scale run: the test loss, :math:`B_{\\rm simple}` per checkpoint (95% from its
    standard errors) with its moving average, and :math:`\\eta_\\max`, against steps.

    See Also
    --------
    empirical.noise_along_run : The run.
    plot_critical_batch : The noise scale against the measured critical batch size.
    """
    fig = Figure(figsize=(13.5, 4.2), layout="constrained")
    steps = trace.steps
    ax = fig.add_subplot(1, 3, 1)
    excess = trace.test_loss - (floor or 0.0)
    ax.plot(steps, excess, "o-", color=PALETTE[0], ms=3,
            label="test loss" + (" above the floor" if floor else ""))
    ax.set_yscale("log")
    label_axes(ax, "step", "loss", f"run at lr {trace.lr:.3g}, B = {trace.batch_size}")
    ax = fig.add_subplot(1, 3, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.sqrt((trace.trace_cov_se / trace.trace_cov) ** 2
                      + (trace.gradient_sq_se / trace.gradient_sq) ** 2)
    ok = trace.b_simple > 0
    ax.errorbar(steps[ok], trace.b_simple[ok],
                yerr=np.abs(trace.b_simple[ok] * np.exp([[-1.96], [1.96]] * rel[ok])
                            - trace.b_simple[ok]),
                fmt="o", color=PALETTE[3], ms=3, capsize=2, label=f"$B_{{simple}}$ ({trace.method})")
    ax.plot(steps, trace.b_simple_ema, color=PALETTE[3], lw=1.0, label="bias-corrected EMA")
    ax.set_yscale("log")
    label_axes(ax, "step", "$B_{simple} = tr\\Sigma / |G|^2$", "gradient noise scale")
    ax = fig.add_subplot(1, 3, 3)
    positive = trace.lr_max > 0
    ax.plot(steps[positive], trace.lr_max[positive], "o", color=PALETTE[2], ms=3,
            label="$\\eta_{max} = |G|^2 / G^T H G$ (training set)")
    ax.plot(steps, trace.lr_max_ema, color=PALETTE[2], lw=1.0, label="bias-corrected EMA")
    if not positive.all():
        ax.plot(steps[~positive], np.full((~positive).sum(), np.min(trace.lr_max[positive],
                                                                    initial=1.0)),
                "x", color=PALETTE[3], label="$G^T H G \\leq 0$ (no $\\eta_{max}$)")
    ax.set_yscale("log")
    label_axes(ax, "step", "learning rate", "best noiseless step")
    return fig
