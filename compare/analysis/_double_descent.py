"""Monte Carlo of min-norm and ridge least squares, to set beside :mod:`nqm`'s risk formulas."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

import nqm
from compare.style._figures import PALETTE, label_axes


@dataclass(frozen=True)
class RiskSimulation:
    """Monte Carlo excess risks :math:`\\lVert \\hat w - w^\\star\\rVert^2`.

    Attributes
    ----------
    d : int
    ns : ndarray of int, shape (n_n,)
    noise_vars : tuple of float
    ridgeless : ndarray, shape (n_noise, n_n, trials)
        Min-norm least squares (``lstsq``).
    ridge : ndarray, shape (n_noise, n_n, trials)
        Ridge at :math:`\\lambda = \\sigma^2 d / n` (the optimum for unit signal); ``nan`` where
        :math:`\\sigma = 0` (no penalty to apply).

    See Also
    --------
    simulate_risk : Draws it.
    nqm.ridgeless_risk : The formula it checks.
    plot_double_descent : Draws it against the formulas.
    """

    d: int
    ns: np.ndarray
    noise_vars: tuple
    ridgeless: np.ndarray
    ridge: np.ndarray


def simulate_risk(d: int, ns, noise_vars=(0.0, 0.04), *, trials: int = 8,
                  seed: int = 0) -> RiskSimulation:
    """Draw Gaussian least-squares problems and measure the excess risk of two estimators.

    Each trial draws :math:`w^\\star \\sim N(0, I_d / d)` (so :math:`r^2 = 1`),
    :math:`X \\sim N(0, I)^{n \\times d}` and one noise vector per noise level, then fits
    min-norm least squares and ridge :math:`(X^\\top X/n + \\lambda I)^{-1} X^\\top y / n` at
    :math:`\\lambda = \\sigma^2 d/n`. Compare with :func:`nqm.ridgeless_risk` and
    :func:`nqm.ridge_risk`.

    Parameters
    ----------
    d : int
        Feature count.
    ns : array_like of int, shape (n_n,)
        Sample counts.
    noise_vars : sequence of float, default (0.0, 0.04)
        Label-noise variances :math:`\\sigma^2`.
    trials : int, default 8
    seed : int, default 0

    Returns
    -------
    RiskSimulation

    See Also
    --------
    nqm.ridgeless_risk : The min-norm formula.
    nqm.ridge_risk : The ridge formula.
    plot_double_descent : Draws both.
    """
    ns = np.asarray(ns, dtype=int)
    if d < 1 or ns.ndim != 1 or np.any(ns < 1) or trials < 1:
        raise ValueError(f"need d >= 1, 1-d ns >= 1 and trials >= 1, got d={d}, ns={ns!r}, "
                         f"trials={trials}")
    rng = np.random.default_rng(seed)
    sigmas = np.sqrt(np.asarray(noise_vars, dtype=float))
    ridgeless = np.empty((sigmas.size, ns.size, trials))
    ridge = np.full_like(ridgeless, np.nan)
    for j, n in enumerate(ns):
        for t in range(trials):
            w_star = rng.standard_normal(d) / np.sqrt(d)
            X = rng.standard_normal((n, d))
            Y = (X @ w_star)[:, None] + rng.standard_normal((n, 1)) * sigmas[None, :]
            w_hat = np.linalg.lstsq(X, Y, rcond=None)[0]                    # (d, n_noise)
            ridgeless[:, j, t] = ((w_hat - w_star[:, None]) ** 2).sum(axis=0)
            gram = X.T @ X / n
            for i, s in enumerate(sigmas):
                if s > 0:
                    w = np.linalg.solve(gram + s**2 * d / n * np.eye(d), X.T @ Y[:, i] / n)
                    ridge[i, j, t] = ((w - w_star) ** 2).sum()
    return RiskSimulation(d, ns, tuple(float(v) for v in noise_vars), ridgeless, ridge)


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
