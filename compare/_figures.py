"""The report's figures, drawn with matplotlib's object API (no pyplot state, no backend choice)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import nqm
from compare._double_descent import RiskSimulation
from compare._rules import RULES
from compare._study import Study
from empirical import atomic_write_bytes

# Okabe & Ito's colour-blind-safe palette
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
RULE_STYLES = {"linear": ("#000000", ":"), "sqrt": ("#000000", "--"),
               "saturating": ("#D55E00", "-"), "surge": ("#CC79A7", "-"),
               "power": ("#009E73", "-.")}


def label_axes(ax, xlabel: str, ylabel: str, title: str, *, legend_size: float = 7,
               legend_columns: int = 1) -> None:
    """The finishing every panel gets: axis labels, a small title, a light grid, the legend."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=legend_size, ncol=legend_columns)


def save_figure(fig: Figure, directory, name: str) -> dict:
    """Write ``name.png`` and ``name.svg`` under ``directory``; returns both paths."""
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
    """Figure 1: seed-mean test loss against learning rate, one curve per batch size."""
    fig = Figure(figsize=(7.0, 4.4), layout="constrained")
    ax = fig.add_subplot()
    ceiling = loss_ceiling(study)
    window = study.result.spec.window
    for i, (cell, opt) in enumerate(zip(study.result.cells, study.optima, strict=True)):
        colour = PALETTE[i % len(PALETTE)]
        with np.errstate(invalid="ignore"):
            mean = np.where(np.isfinite(m := cell.metric(window)), m, np.inf).mean(axis=1)
        ax.plot(cell.lrs, np.minimum(mean, ceiling), "o-", ms=2.5, lw=1.2, color=colour,
                label=f"B = {cell.batch_size}")
        ax.plot([opt.subgrid_lr], [min(opt.best_loss, ceiling)], "*", ms=11, color=colour,
                mec="black", mew=0.6)
        if study.theory is not None:
            ax.plot(cell.lrs, np.minimum(study.theory.finite_metric[i], ceiling), "--", lw=0.9,
                    color=colour)
    ax.set_xscale("log")
    ax.set_yscale("log")
    extra = ("; dashed: exact finite-sample theory" if study.theory is not None else "")
    label_axes(ax, "learning rate", f"test MSE, mean of last {window} step(s) and seeds",
               f"{study.label}: loss vs learning rate\n(stars: sub-grid optimum; values above "
               f"{ceiling:.3g} and diverged runs drawn at {ceiling:.3g}{extra})", legend_columns=2)
    return fig


def _rule_curves(ax, fit, dense) -> None:
    for name in ("saturating", "surge", "power"):
        colour, style = RULE_STYLES[name]
        rule = fit.rules[name]
        label = name if name != "power" else f"power, alpha = {fit.exponent:.2f}"
        ax.plot(dense, rule.predict(dense), style, color=colour, lw=1.3,
                label=f"{label} (AICc {rule.aicc:.1f})" if np.isfinite(rule.aicc) else label)
    anchor_b, anchor_lr = fit.batch_sizes[0], fit.lr[0]
    for name in ("linear", "sqrt"):
        colour, style = RULE_STYLES[name]
        ax.plot(dense, RULES[name](dense / anchor_b, anchor_lr), style, color=colour, lw=1.0,
                label=f"{name}, anchored at B = {anchor_b:g}")


def plot_optima(study: Study) -> Figure:
    """Figure 2: optimal learning rate against batch size, both criteria, rules and theory."""
    fig = Figure(figsize=(11.0, 4.4), layout="constrained")
    b = study.batch_sizes
    dense = np.geomspace(b.min() / 1.5, b.max() * 1.5, 200)
    panels = [("fixed horizon: lowest final test loss", study.horizon,
               np.array([o.subgrid_lr for o in study.optima]),
               np.array([o.interval for o in study.optima]).T)]
    if study.target is not None:
        panels.append((f"steps to target loss {study.target_loss:.3g}", study.target,
                       study.target_lr, None))
    for k, (title, fit, lr, interval) in enumerate(panels):
        ax = fig.add_subplot(1, 2, k + 1)
        err = None if interval is None else np.abs(interval - lr)
        ax.errorbar(b, lr, yerr=err, fmt="o", color=PALETTE[0], ms=5, capsize=3,
                    label="measured" + (" (95% interval over seeds)" if err is not None else ""))
        _rule_curves(ax, fit, dense)
        theory = study.theory
        if theory is not None:
            if k == 0:
                ax.plot(b, theory.finite_lr, "s", mfc="none", color=PALETTE[3], ms=8,
                        label="exact theory, finite sample")
                ax.plot(b, theory.online_lr, "x", color=PALETTE[3], ms=7,
                        label="exact theory, online")
            else:
                ax.plot(b, theory.target_lr, "x", color=PALETTE[3], ms=7,
                        label="exact theory, online")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        label_axes(ax, "batch size B", "optimal learning rate",
                   f"{study.label}\n{title}", legend_size=6.5)
    return fig


def plot_steps_to_target(studies: list[Study], diagonal: dict) -> Figure:
    """Figure 3: optimal steps to the target against batch size; measured, exact and NQM."""
    fig = Figure(figsize=(11.0, 4.4), layout="constrained")
    ax = fig.add_subplot(1, 2, 1)
    for i, s in enumerate(studies):
        ax.plot(s.batch_sizes, s.target_steps, "o-", color=PALETTE[i], ms=4,
                label=f"{s.label} (target {s.target_loss:.3g})")
        if s.theory is not None:
            th = s.theory
            ax.plot(th.curve_batch_sizes, np.maximum(1.0, np.ceil(th.curve_steps)), "--",
                    color=PALETTE[i], lw=1, label="least squares, exact theory (integer steps)")
            if np.isfinite(th.critical_batch_size):
                ax.axvline(th.critical_batch_size, color=PALETTE[i], lw=0.8, ls=":",
                           label=f"least squares theory: B_crit = {th.critical_batch_size:.0f}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    label_axes(ax, "batch size B", "steps to reach the target (best learning rate)",
               "measured: steps fall as 1/B, then flatten\n(dotted: critical batch size)",
               legend_size=6.5)

    ax = fig.add_subplot(1, 2, 2)
    b = diagonal["batch_sizes"]
    for i, (name, curve) in enumerate(diagonal["curves"].items()):
        ax.plot(b, curve["steps"], "o-", ms=3, color=PALETTE[i + 3],
                label=f"{name}: B_crit = {curve['critical_batch_size']:.0f}")
        ax.axvline(curve["critical_batch_size"], color=PALETTE[i + 3], lw=0.8, ls=":")
    first = next(iter(diagonal["curves"].values()))["steps"][0]
    ax.plot(b, first * b[0] / b, color="grey", lw=0.8, ls="--", label="perfect scaling, 1/B")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_ylim(bottom=min(c["steps"].min() for c in diagonal["curves"].values()) / 2)
    label_axes(ax, "batch size B", "optimal steps to target",
               f"diagonal NQM (Zhang et al. 2019, dim {diagonal['dim']}), target "
               f"{diagonal['target']:g}\nnoise-dominated (1/B), then curvature-dominated (flat)")
    return fig


def plot_double_descent(sim: RiskSimulation) -> Figure:
    """Figure 4: ridgeless double descent and ridge at its optimal penalty, formula and Monte Carlo."""
    fig = Figure(figsize=(11.0, 4.2), layout="constrained")
    d = sim.d
    # every sample count on each side of the interpolation threshold (the formula is exact
    # for whole n only; at n = d - 1, d, d + 1 the variance is infinite)
    dense = np.concatenate([np.arange(sim.ns.min(), d - 1), np.arange(d + 2, sim.ns.max() + 1)])
    ax = fig.add_subplot(1, 2, 1)
    for i, var in enumerate(sim.noise_vars):
        theory = nqm.ridgeless_risk(dense, d, noise_var=var).total
        ax.plot(dense, theory, "-", color=PALETTE[i], label=f"formula, sigma = {np.sqrt(var):.2g}")
        med = np.median(sim.ridgeless[i], axis=-1)
        lo, hi = np.percentile(sim.ridgeless[i], [25, 75], axis=-1)
        ax.errorbar(sim.ns, med, yerr=[med - lo, hi - med], fmt="o", ms=4, color=PALETTE[i],
                    capsize=2, label=f"Monte Carlo median, IQR ({sim.ridgeless.shape[-1]} draws)")
    ax.axvspan(d - 1, d + 1, color="grey", alpha=0.3)
    ax.set_yscale("log")
    ax.set_ylim(1e-3, 1e2)
    label_axes(ax, f"samples n (d = {d} features; grey: singular band, risk infinite)",
               "excess risk ||w_hat - w*||^2",
               "min-norm least squares: double descent\n(sigma = 0: zero risk for n > d + 1, "
               "below the log axis)")

    ax = fig.add_subplot(1, 2, 2)
    for i, var in enumerate(sim.noise_vars):
        if var == 0:
            continue
        sigma = np.sqrt(var)
        ax.plot(dense, nqm.ridgeless_risk(dense, d, noise_var=var).total, "-", color=PALETTE[i],
                lw=0.8, label=f"ridgeless formula, sigma = {sigma:.2g}")
        ax.plot(dense, nqm.ridge_risk(dense, d, var * d / dense, noise_var=var).total, "-",
                color=PALETTE[3], label="ridge formula, lambda = sigma^2 d/n")
        ax.plot(sim.ns, np.mean(sim.ridge[i], axis=-1), "s", color=PALETTE[3], ms=4,
                label="ridge Monte Carlo mean")
    ax.set_yscale("log")
    ax.set_ylim(1e-2, 1e1)
    label_axes(ax, f"samples n (d = {d})", "excess risk",
               "optimal ridge removes the peak")
    return fig
