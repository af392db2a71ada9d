"""Double descent and ridge: the min-norm least-squares risk peaks where the samples reach the
features, and ridge at its optimal penalty removes the peak (Hastie et al. 2022), formula
against Monte Carlo."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from matplotlib.figure import Figure

import nqm
from compare.analysis._double_descent import RiskSimulation, simulate_risk
from compare.studies._base import Context, Summary
from compare.style._figures import PALETTE, label_axes
from compare.style._html import answer_list
from compare.style._text import fmt
from empirical._core.arguments import checked, kind

NAME = "double-descent"
KEY = "double_descent"
TITLE = "Double descent and ridge"
ORDER = 50
USES_SWEEPS = False
REFERENCES = (
    "T. Hastie, A. Montanari, S. Rosset, R. Tibshirani, Surprises in high-dimensional ridgeless "
    "least squares interpolation, Ann. Statist. 2022 (double descent, ridge).",
)
FEATURES = 500
"""Features d of the simulated least-squares problems; the sample counts sit around it."""
NOISE_VARS = (0.0, 0.04)


@checked(sim=kind(RiskSimulation))
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


def run(context: Context) -> Summary:
    """Monte Carlo risks of min-norm and optimal-ridge least squares around n = d."""
    sim = simulate_risk(FEATURES, context.settings["mc_ns"], NOISE_VARS,
                        trials=context.settings["mc_trials"])
    data = dict(d=sim.d, n=sim.ns, noise_vars=list(sim.noise_vars),
                ridgeless_median=np.median(sim.ridgeless, axis=-1),
                ridge_mean=np.mean(sim.ridge, axis=-1), trials=sim.ridgeless.shape[-1])
    return Summary(data, detail=sim)


def figures(summary: Summary) -> dict[str, Figure]:
    return {"double_descent": plot_double_descent(summary.detail)}


def sentences(data: dict) -> list[str]:
    """Per noisy variance, where the ridgeless risk peaks and what optimal ridge does there;
    computed from the Monte Carlo numbers of ``results.json``'s ``double_descent``."""
    n, d = np.asarray(data["n"]), data["d"]
    lines = []
    for var, ridgeless, ridge in zip(data["noise_vars"], data["ridgeless_median"],
                                     data["ridge_mean"], strict=True):
        if var == 0:
            continue
        risk = np.array([np.inf if r is None else r for r in ridgeless], dtype=float)
        peak = int(np.argmax(risk))
        sampled = np.abs(n - d)
        where = ("beside the interpolation threshold n = d (no sampled n is nearer)"
                 if sampled[peak] == sampled.min() else "not at the interpolation threshold n = d")
        text = (f"Noise variance {fmt(var)}, d = {d}: the min-norm risk (median over "
                f"{data['trials']} draws) is {fmt(risk[0])} at n = {n[0]}, peaks at "
                f"{fmt(risk[peak])} at n = {n[peak]}, {where}, and is {fmt(risk[-1])} at "
                f"n = {n[-1]}")
        if ridge[peak] is not None:
            text += (f"; ridge at its optimal penalty is {fmt(ridge[peak])} at n = {n[peak]}, "
                     f"{fmt(risk[peak] / ridge[peak])}x lower, and never above the ridgeless "
                     f"risk at any n here" if all(
                         r is None or g is None or r <= g * (1 + 1e-9)
                         for r, g in zip(ridge, ridgeless, strict=True))
                     else f"; ridge at its optimal penalty is {fmt(ridge[peak])} there")
        lines.append(text + ".")
    return lines


def html(results: dict, figure: Callable[[str, str], str]) -> str:
    return "".join([f"<h2 id='{NAME}'>{TITLE}</h2>",
                    figure("double_descent", "Ridgeless and ridge risk: formulas and Monte Carlo."),
                    answer_list(sentences(results[KEY]))])
