"""Adam's square-root SDE rule (Malladi et al. 2022): do runs at every batch size trace the
reference's loss curve against the examples seen, under the full rule, the rate alone scaled
by sqrt(kappa), or by kappa; and does the optimum under the full rule grow as sqrt(B)?"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from matplotlib.figure import Figure

from compare.analysis._adam_sde import BASE_BETAS, BASE_EPS, RULES, AdamSDEStudy, adam_sde_study
from compare.studies._base import Context, Summary
from compare.style._figures import PALETTE, label_axes
from compare.style._html import answer_list
from compare.style._text import fmt, fmt_iv
from empirical._core.arguments import checked, kind

NAME = "adam-sde"
KEY = "adam_sde"
TITLE = "Adam's square-root SDE rule"
ORDER = 35
USES_SWEEPS = False
REFERENCES = (
    "S. Malladi, K. Lyu, A. Panigrahi, S. Arora, On the SDEs and scaling rules for adaptive "
    "gradient algorithms, NeurIPS 2022, arXiv:2205.10287 (the square-root scaling rule: "
    "lr x sqrt(kappa), 1 - beta x kappa, eps / sqrt(kappa)).",
    "S. McCandlish, J. Kaplan, D. Amodei, An empirical model of large-batch training, "
    "arXiv:1812.06162 (the noise scale B_simple).",
)
LABELS = {"sde": "full rule (lr, betas, eps)", "sqrt-lr": "lr x sqrt(kappa) alone",
          "linear-lr": "lr x kappa alone"}
COLORS = {"reference": PALETTE[7], "sde": PALETTE[0], "sqrt-lr": PALETTE[1], "linear-lr": PALETTE[3]}
QUICK_KAPPAS = (1 / 4, 1.0, 4.0, 16.0)
"""``lrbs run --quick``: B = 32 to 2048."""
FULL_KAPPAS = (1 / 16, 1 / 4, 1.0, 4.0, 16.0, 64.0)
"""``lrbs run``: B = 8 to 8192."""


def _floats(values) -> np.ndarray:
    """A list from ``results.json`` (``None`` for undefined) as floats with ``nan``."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _kappa_text(kappa: float) -> str:
    return f"1/{1 / kappa:g}" if kappa < 1 else f"{kappa:g}"


def run(context: Context) -> Summary:
    """The rule measured on the teacher MLP (:func:`compare.adam_sde_study`)."""
    quick = context.quick
    study = adam_sde_study(seeds=range(3 if quick else 5),
                           kappas=QUICK_KAPPAS if quick else FULL_KAPPAS,
                           n_boot=context.settings["n_boot"] * 5)
    fit = study.fit
    data = dict(
        batch_sizes=study.batch_sizes, kappas=study.kappas, reference_batch=study.reference_batch,
        examples=study.examples, seeds=list(study.seeds), floor=study.floor,
        betas=list(BASE_BETAS), eps=BASE_EPS, reference_lr=study.reference_lr,
        defined=study.defined,
        distance={name: study.distance[name] for name in RULES},
        distance_interval={name: study.distance[name + " interval"] for name in RULES},
        late_distance={name: study.late_distance[name] for name in RULES},
        late_distance_interval={name: study.late_distance[name + " interval"] for name in RULES},
        baseline=study.baseline, late_baseline=study.late_baseline,
        optimum_lr=study.optimum_lr, optimum_interval=study.optimum_interval,
        exponent=None if fit is None else fit.exponent,
        exponent_interval=None if fit is None else list(fit.exponent_interval),
        noise_steps=study.noise.steps, b_simple=study.noise.b_simple,
        b_simple_ema=study.noise.b_simple_ema)
    return Summary(data, detail=study)


@checked(study=kind(AdamSDEStudy))
def plot_adam_sde(study: AdamSDEStudy) -> Figure:
    """The rule's check: test loss against examples seen per kappa (top row), the distance of
    each rule from the reference per kappa, whole run and second half (bottom left), and the
    optimum under the full rule against sqrt scaling (bottom right).

    See Also
    --------
    adam_sde_study : The numbers.
    """
    shown = [i for i, k in enumerate(study.kappas) if k != 1]
    fig = Figure(figsize=(max(11.0, 2.9 * len(shown)), 8.4), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=(1.0, 1.15))
    for column, (i, ax) in enumerate(zip(shown, top.subplots(1, len(shown)), strict=True)):
        seen = study.examples_seen[i]
        for name in ("reference", *RULES):
            curve = study.curves[name][i]
            if curve is None:
                continue
            ax.plot(seen, curve, "-" if name == "reference" else "--", color=COLORS[name], lw=1.4,
                    marker="o" if seen.size < 20 else None, ms=3,
                    label=f"reference, B = {study.reference_batch}" if name == "reference"
                    else LABELS[name])
        ax.axhline(study.floor, color="grey", lw=0.8, ls=":")
        ax.set_yscale("log")
        undefined = "\n(full rule undefined)" if not study.defined[i] else ""
        label_axes(ax, "examples seen", "test loss" if column == 0 else "",
                   f"B = {study.batch_sizes[i]} (kappa {_kappa_text(study.kappas[i])}){undefined}",
                   legend_size=7)
        if column:
            ax.get_legend().remove()
    axes = bottom.subplots(1, 3)
    for ax, (distances, baseline, what) in zip(axes[:2], (
            (study.distance, study.baseline, "whole run"),
            (study.late_distance, study.late_baseline, "second half")), strict=True):
        for offset, name in zip((-0.06, 0.0, 0.06), RULES, strict=True):
            d, iv = distances[name], distances[name + " interval"]
            ok = np.isfinite(d)
            ax.errorbar(study.kappas[ok] * 2**offset, d[ok], yerr=[d[ok] - iv[ok, 0], iv[ok, 1] - d[ok]],
                        fmt="o-", ms=4, capsize=2, color=COLORS[name], label=LABELS[name])
        ax.axhline(baseline, color="grey", ls=":", label="seed noise (other seeds)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        label_axes(ax, "kappa = B / B_ref", "distance from the reference",
                   f"curve distance, {what}\n(95% seed bootstrap)", legend_size=7,
                   legend_below=True)
    ax = axes[2]
    ok = np.isfinite(study.optimum_lr)
    b, lr, iv = study.batch_sizes[ok], study.optimum_lr[ok], study.optimum_interval[ok]
    ax.errorbar(b, lr, yerr=[lr - iv[:, 0], iv[:, 1] - lr], fmt="o", capsize=3, color=PALETTE[0],
                label="measured optimum, full rule")
    dense = np.geomspace(b.min(), b.max(), 50)
    ax.plot(dense, study.reference_lr * np.sqrt(dense / study.reference_batch), "k--",
            label="sqrt(kappa) x reference optimum")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    label_axes(ax, "batch size B", "optimal learning rate",
               f"optimum under the full rule\n({study.examples} examples)", legend_size=7,
               legend_below=True)
    return fig


def figures(summary: Summary) -> dict[str, Figure]:
    return {"adam_sde": plot_adam_sde(summary.detail)}


def sentences(data: dict) -> list[str]:
    """The setup, each rule's distance from the reference per kappa beside the seed noise, the
    optimum's exponent under the full rule, and the noise scale that the SDE's regime needs;
    computed from ``results.json``'s ``adam_sde``."""
    kappas = np.asarray(data["kappas"], dtype=float)
    defined = np.asarray(data["defined"], dtype=bool)
    compared = kappas != 1
    lines = [
        f"Adam with betas ({data['betas'][0]:g}, {data['betas'][1]:g}) and eps {data['eps']:g} "
        f"(the values the SDE papers assume; the notebook's (0.5, 0.5) admit no kappa >= 2 under "
        f"the rule), L2 weight decay 0.001 and a constant rate on the teacher MLP, "
        f"{data['examples']} examples at every batch size, {len(data['seeds'])} seeds; the "
        f"reference is B = {data['reference_batch']} at its own optimum "
        f"{fmt(data['reference_lr'])} (mean test loss over the last eighth of the examples)."]
    undefined = [_kappa_text(k) for k in kappas[~defined]]
    for name in RULES:
        d = _floats(data["distance"][name])
        iv = np.array([[np.nan] * 2 if v is None else _floats(v) for v in data["distance_interval"][name]])
        late = _floats(data["late_distance"][name])
        parts = [f"kappa {_kappa_text(k)}: {fmt(d[i])} {fmt_iv(iv[i])} (second half {fmt(late[i])})"
                 for i, k in enumerate(kappas) if compared[i] and np.isfinite(d[i])]
        text = f"{LABELS[name].capitalize()}: distance from the reference curve " + "; ".join(parts)
        if name == "sde" and undefined:
            text += (f"; undefined at kappa {', '.join(undefined)} (kappa (1 - beta1) >= 1 would "
                     "make beta1 <= 0)")
        lines.append(text + ".")
    lines.append(f"Seed noise alone (the reference from other seeds) gives distance "
                 f"{fmt(data['baseline'])}, {fmt(data['late_baseline'])} over the second half "
                 "(distance: the mean gap between seed-mean test-loss curves at the same examples "
                 "seen, over the reference's mean excess loss; intervals: 95% seed bootstrap).")
    closest = []
    for i, k in enumerate(kappas):
        if not compared[i]:
            continue
        d = {name: _floats(data["distance"][name])[i] for name in RULES}
        ranked = sorted((n for n in RULES if np.isfinite(d[n])), key=d.get)
        text = f"{_kappa_text(k)}: {LABELS[ranked[0]]}"
        if len(ranked) > 1:
            lo_best = data["distance_interval"][ranked[0]][i]
            lo_next = data["distance_interval"][ranked[1]][i]
            if lo_best[1] >= lo_next[0]:
                text += f" (its interval overlaps the next rule's, {LABELS[ranked[1]]})"
        closest.append(text)
    lines.append("Closest to the reference over the whole run, per kappa (among the rules defined "
                 "there): " + "; ".join(closest) + ".")
    if data["exponent"] is not None:
        lo, hi = data["exponent_interval"]
        sizes = np.asarray(data["batch_sizes"])[defined]
        verdict = ("inside" if lo <= 0.5 <= hi else "outside")
        lines.append(f"Under the full rule the optimal rate grows as B^{data['exponent']:.2f} "
                     f"[{lo:.2f}, {hi:.2f}] over B = {sizes.min()}-{sizes.max()}; the SDE "
                     f"predicts 0.5, {verdict} the interval.")
    b_simple, steps = _floats(data["b_simple"]), data["noise_steps"]
    noisy = int(np.sum(b_simple > data["reference_batch"]))
    lines.append(f"The SDE assumes gradient noise dominates the gradient (B well below the noise "
                 f"scale): along the reference run B_simple is {fmt(b_simple[0])} at the start, "
                 f"{fmt(b_simple[1])} after {steps[1]} updates and {fmt(b_simple[-1])} after "
                 f"{steps[-1]}, above B = {data['reference_batch']} at {noisy} of its "
                 f"{len(steps)} checkpoints.")
    return lines


def html(results: dict, figure: Callable[[str, str], str]) -> str:
    return "".join([f"<h2 id='{NAME}'>{TITLE}</h2>",
                    figure("adam_sde", "Loss curves against examples seen under each scaling rule, "
                                       "their distance from the reference, and the optimum under "
                                       "the full rule."),
                    answer_list(sentences(results[KEY]))])
