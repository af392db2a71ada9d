"""The scaling-law study's data axis: L(N, D) as JSON, its sentences and its figure."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from compare.analysis._law_data import DataLawStudy
from compare.style._figures import PALETTE, label_axes
from compare.style._text import fmt, fmt_iv
from empirical._core.arguments import checked, kind


@checked(study=kind(DataLawStudy))
def plot_data_law(study: DataLawStudy) -> Figure:
    """Test loss against training-set size, one colour per parameter count: seed means with
    their spread over seeds, and the fitted :math:`L(N, D)` through them.

    See Also
    --------
    compare.fit_data_law : The fit it draws.
    compare.plot_scaling_law : The loss against size on the whole training split.
    """
    fig = Figure(figsize=(6.8, 4.4), layout="constrained")
    ax = fig.add_subplot()
    fit = study.fit
    dense = np.geomspace(study.n_examples.min() / 1.3, study.n_examples.max() * 1.3, 100)
    for i, n in enumerate(np.unique(study.n_params)):
        at = study.n_params == n
        d, loss = study.n_examples[at], study.losses[at]
        colour = PALETTE[i % len(PALETTE)]
        sd = loss.std(axis=1, ddof=1) if loss.shape[1] > 1 else np.zeros(len(d))
        ax.errorbar(d, loss.mean(axis=1), yerr=sd, fmt="o", color=colour, capsize=2, ms=4,
                    label=f"N = {n:,.0f}")
        ax.plot(dense, fit.predict(n, dense), "-", color=colour, lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    label_axes(ax, "training examples $D$", "test cross-entropy (seed mean, sd over seeds)",
               rf"$L = {fit.E:.3f} + {fit.A:.3g}\,N^{{-{fit.alpha:.2f}}} + {fit.B:.3g}\,"
               rf"D^{{-{fit.beta:.2f}}}$", legend_size=7)
    return fig


def data_law_summary(study: DataLawStudy | None) -> dict | None:
    """The L(N, D) fit, its held-out checks and the compute-optimal split, as JSON."""
    if study is None:
        return None
    fit = study.fit
    return dict(
        points=[dict(n_params=float(n), n_examples=float(d), test_loss=float(np.mean(loss)))
                for n, d, loss in zip(study.n_params, study.n_examples, study.losses,
                                      strict=True)],
        n_seeds=int(study.losses.shape[1]),
        fit=dict(E=fit.E, A=fit.A, B=fit.B, alpha=fit.alpha, beta=fit.beta,
                 intervals={k: list(v) for k, v in fit.intervals.items()},
                 objective=fit.objective, gradient_norm=fit.gradient_norm, starts=fit.starts,
                 agreeing_starts=fit.agreeing_starts, converged=fit.converged,
                 at_bound=list(fit.at_bound)),
        held_out=[dict(axis=h.axis, value=h.value, predicted=list(h.predicted),
                       measured=list(h.measured), error=h.error, interval=list(h.interval))
                  for h in study.held_out],
        compute_optimal=study.compute_optimal_split())


def data_law_text(data: dict) -> list[str]:
    """The L(N, D) sentences: the law, the optimizer's convergence, the held-out errors and the
    compute-optimal split where its interval supports it."""
    fit, points = data["fit"], data["points"]
    iv = fit["intervals"]
    ns = sorted({p["n_params"] for p in points})
    ds = sorted({p["n_examples"] for p in points})
    text = (f"L(N, D) = E + A N^-alpha + B D^-beta over {len(ns)} widths x {len(ds)} training-"
            f"set sizes ({len(points)} points, N {ns[0]:,.0f}-{ns[-1]:,.0f} parameters, D "
            f"{ds[0]:,.0f}-{ds[-1]:,.0f} examples; each loss the mean of {data['n_seeds']} "
            f"seed(s) at its shape's tuned rate): E = {fmt(fit['E'])} {fmt_iv(iv['E'])}, "
            f"alpha = {fmt(fit['alpha'])} {fmt_iv(iv['alpha'])}, beta = {fmt(fit['beta'])} "
            f"{fmt_iv(iv['beta'])}, A = {fmt(fit['A'])}, B = {fmt(fit['B'])} (95% intervals "
            "from a bootstrap over the points, Student's quantile). ")
    text += (f"The summed Huber fit converged (gradient norm {fit['gradient_norm']:.2g}; "
             f"{fit['agreeing_starts']} of {fit['starts']} starts reach the same minimum)."
             if fit["converged"] else
             f"The summed Huber fit did not converge (gradient norm "
             f"{fit['gradient_norm']:.2g}); read the numbers as the optimizer's last point.")
    if fit["at_bound"]:
        text += f" {' and '.join(fit['at_bound'])} sit(s) at the fit's bound: no exponent there."
    lines = [text]
    checks = [f"without the largest {'parameter count' if h['axis'] == 'N' else 'data size'} "
              f"({h['value']:,.0f}) it predicts those {len(h['predicted'])} points "
              f"{100 * h['error']:+.1f}% [{100 * h['interval'][0]:+.1f}, "
              f"{100 * h['interval'][1]:+.1f}]" for h in data["held_out"]]
    lines.append("Held out: " + "; ".join(checks) + " (mean relative error, with its interval "
                 "over the reduced fit's bootstrap).")
    split = data["compute_optimal"]
    lo, hi = split["a_interval"]
    if split["supported"]:
        lines.append(f"For compute C ~ N D the law puts N_opt ~ C^a with a = {fmt(split['a'])} "
                     f"[{fmt(lo)}, {fmt(hi)}] and D_opt ~ C^{fmt(split['b'])} (Hoffmann et al.'s "
                     "beta / (alpha + beta)).")
    else:
        lines.append(f"The compute-optimal split is not stated: its exponent a = beta / (alpha + "
                     f"beta) = {fmt(split['a'])} has the interval [{fmt(lo)}, {fmt(hi)}], too "
                     "wide to say how N and D should grow with compute.")
    return lines
