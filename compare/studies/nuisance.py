"""Dropout, batch size and learning rate tuned jointly per digits shape, and the scaling-law
source's three insights about them confirmed or refuted with the study's own numbers."""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby

import numpy as np
from matplotlib.figure import Figure

from compare.analysis._nuisance import (
    SOURCE_BATCH_SIZE,
    SOURCE_DROPOUT_ORDER,
    NuisanceStudy,
    nuisance_specs,
    nuisance_study,
)
from compare.analysis._paths import digits_folder
from compare.fit._law import fit_scaling_law, law_summary
from compare.studies._base import Context, Summary, has_data_extra
from compare.style._figures import PALETTE, label_axes
from compare.style._html import answer_list, num_text, table
from compare.style._text import fmt, fmt_iv
from empirical import run_scaling_study
from empirical._core.arguments import MAX_RESAMPLES, checked, kind, whole

NAME = "nuisance"
KEY = "nuisance"
TITLE = "Dropout, batch size and learning rate per shape on digits"
ORDER = 61
USES_SWEEPS = False
SECONDS = 30
"""A full run's time (measured 2026-12-05), for the second core's order."""
REFERENCES = (
    "The scaling-law framework of the project's sources (003): \"Dropout should be tuned very "
    "carefully. 0.15 > 0.1 > 0.2\", \"Batch size seems to perform better at 64\", \"Smaller "
    "batches benefit from smaller learning rates\".",
)
NUISANCE_SEEDS = 3
UNIDENTIFIED = 1e3
"""A law's floor E whose 95% interval spans more than this factor is said not identified."""
"""Seeds of ``lrbs run``'s study (1 with ``--quick``)."""


def run_nuisance(root, seeds, *, quick: bool = False, full: bool = False,
                 progress: bool = False, optimizer: str = "adam",
                 n_boot: int = 200) -> NuisanceStudy:
    """Train the study's shapes at every batch size, each a resumable folder under
    ``root/runs/`` with all (rate, dropout) columns of a shape as one batched program.

    See Also
    --------
    compare.nuisance_study : Gathers the runs.
    compare.summarize_nuisance : Its summary and sentences.
    """
    runs = [run_scaling_study(spec, out=digits_folder(root, spec), progress=progress)
            for spec in nuisance_specs(seeds, quick=quick, full=full, optimizer=optimizer)]
    return nuisance_study(runs, n_boot=n_boot)


def _shape_row(study: NuisanceStudy, s: int) -> dict:
    b, d = study.best(s)
    fit = study.batch_exponent(s)
    dropout_losses = study.option_losses(s, "dropout").mean(-1)
    batch_losses = study.option_losses(s, "batch_size").mean(-1)
    row = dict(width=int(study.widths[s]), depth=int(study.depths[s]),
               n_params=int(study.n_params[s]), lr=float(study.lr[s, b, d]),
               lr_interval=study.lr_intervals(s)[b].tolist(), lr_span=study.lr_span[s, b, d].tolist(),
               on_edge=bool(study.on_edge[s, b, d]),
               dropout=float(study.dropouts[d]), batch_size=int(study.batch_sizes[b]),
               val_loss=float(study.val[s, b, d].mean()), test_loss=float(study.test[s, b, d].mean()),
               dropout_losses=dropout_losses.tolist(), batch_size_losses=batch_losses.tolist(),
               dropouts_within_noise=study.within_noise(s, "dropout").tolist(),
               batch_sizes_within_noise=study.within_noise(s, "batch_size").tolist(),
               lr_by_batch_size=study.lr[s, :, d].tolist(), batch_exponent=None)
    if fit is not None:
        row["batch_exponent"] = dict(exponent=fit.exponent, interval=list(fit.exponent_interval),
                                     verdict=fit.verdict(f"width {row['width']}"))
    untuned = [(i, j) for i, j in np.ndindex(study.val.shape[1:3])
               if study.batch_sizes[i] == SOURCE_BATCH_SIZE and study.dropouts[j] == 0]
    if untuned:
        i, j = untuned[0]
        row["untuned_val_loss"] = float(study.val[s, i, j].mean())
        row["untuned_test_loss"] = float(study.test[s, i, j].mean())
    return row


@checked(study=kind(NuisanceStudy), n_boot=whole(2, MAX_RESAMPLES))
def summarize_nuisance(study: NuisanceStudy, n_boot: int = 200) -> dict:
    """One row per shape (its tuned rate with the 95% interval over seeds, dropout and batch
    size; each option's loss and whether it is within the seeds' noise of the winner; the rate
    against batch size), the law through the tuned points where there are four shapes or more,
    and :func:`nuisance_conclusions`.

    See Also
    --------
    nuisance_conclusions : The sentences.
    """
    summary = dict(batch_sizes=study.batch_sizes.tolist(), dropouts=study.dropouts.tolist(),
                   n_seeds=study.n_seeds,
                   shapes=[_shape_row(study, s) for s in range(len(study.widths))], law=None,
                   untuned_law=None)
    if len(study.widths) >= 4:
        best = [study.best(s) for s in range(len(study.widths))]
        losses = np.array([study.test[s, b, d] for s, (b, d) in enumerate(best)])
        summary["law"] = law_summary(fit_scaling_law(study.n_params, losses, n_boot=n_boot))
        untuned = [(i, j) for i, j in np.ndindex(study.val.shape[1:3])
                   if study.batch_sizes[i] == SOURCE_BATCH_SIZE and study.dropouts[j] == 0]
        if untuned:
            i, j = untuned[0]
            summary["untuned_law"] = law_summary(fit_scaling_law(
                study.n_params, study.test[:, i, j], n_boot=n_boot))
    return dict(summary, conclusions=nuisance_conclusions(summary))


def _lr_interval_text(row: dict) -> str:
    """The tuned rate's interval, and where it reaches past the rates tried, that it does:
    the estimator cannot leave the grid, so that part of the interval is the seeds' spread
    stretched by Student's quantile, not rates the data point to."""
    (lo, hi), (first, last) = row["lr_interval"], row["lr_span"]
    if lo < first or hi > last:
        return (f"{fmt_iv(row['lr_interval'])} (reaching past the rates tried, "
                f"{fmt(first)}-{fmt(last)})")
    return fmt_iv(row["lr_interval"])


def _count(rows, test) -> int:
    return sum(bool(test(r)) for r in rows)


def _verdict(confirmed: int | None, refuted: int, n: int, against: str) -> str:
    """How many shapes confirm a claim beyond the seeds' noise, how many refute it (``against``
    beyond the noise), and the verdict: confirmed or refuted only where every shape says so;
    ``confirmed=None`` for one seed, where nothing is beyond the noise."""
    if confirmed is None:
        return "not decided: one seed gives no test against the seeds' noise."
    verdict = ("confirmed" if confirmed == n else "refuted" if refuted == n else
               "not decided by these seeds" if confirmed == refuted == 0 else
               "mixed" if confirmed and refuted else
               "refuted at some shapes, undecided at the others" if refuted else
               "confirmed at some shapes, undecided at the others")
    return (f"confirmed beyond the seeds' noise at {confirmed} of {n} shape(s), refuted ("
            f"{against}) at {refuted}: {verdict} here.")


def _widths_by_depth(rows: list[dict]) -> str:
    """``"widths 8, 16 of depth 1 and 8, 16 of depth 2"``: the shapes of ``rows`` in order."""
    runs = [(depth, [str(r["width"]) for r in group])
            for depth, group in groupby(rows, key=lambda r: r["depth"])]
    return "widths " + " and ".join(f"{', '.join(widths)} of depth {depth}" for depth, widths in runs)


@checked(summary=kind(dict))
def nuisance_conclusions(summary: dict) -> list[str]:
    """The tuned (rate, dropout, batch size) per shape and the source's three insights, each
    confirmed or refuted, in sentences computed from :func:`summarize_nuisance`'s summary.

    See Also
    --------
    summarize_nuisance : The summary.
    """
    rows, dropouts, sizes = summary["shapes"], summary["dropouts"], summary["batch_sizes"]
    n = len(rows)
    lines = [f"Tuned jointly over the learning rate, dropout {', '.join(fmt(d) for d in dropouts)} "
             f"and batch size {', '.join(str(b) for b in sizes)} ({summary['n_seeds']} seed(s); "
             "the lowest seed-mean validation loss; rate: sub-grid optimum with its 95% interval "
             "over seeds): " + "; ".join(
                 f"width {r['width']} depth {r['depth']}: lr "
                 f"{fmt(r['lr'])} {_lr_interval_text(r)}"
                 f"{' (on the grid edge)' if r['on_edge'] else ''}, dropout {fmt(r['dropout'])}, "
                 f"B = {r['batch_size']}" for r in rows) + "."]
    one = summary["n_seeds"] < 2
    winners = {d: _count(rows, lambda r, d=d: r["dropout"] == d) for d in dropouts}
    noisy = _count(rows, lambda r: all(r["dropouts_within_noise"]))
    source = [dropouts.index(d) for d in SOURCE_DROPOUT_ORDER if d in dropouts]
    text = ("Dropout: " + ", ".join(f"{fmt(d)} wins at {k} of {n}" for d, k in winners.items() if k)
            + (" shape(s) (one seed: no test against the seeds' noise)." if one else
               f" shape(s); at {noisy} of {n} every dropout rate is within the seeds' noise of the "
               "winner (paired 95% intervals of the loss difference)."))
    if len(source) == 3:
        holds = _count(rows, lambda r: r["dropout_losses"][source[0]]
                       < r["dropout_losses"][source[1]] < r["dropout_losses"][source[2]])
        resolved = _count(rows, lambda r: not r["dropouts_within_noise"][source[1]]
                          and not r["dropouts_within_noise"][source[2]]
                          and r["dropout"] == SOURCE_DROPOUT_ORDER[0])
        against = _count(rows, lambda r: not r["dropouts_within_noise"][source[0]])
        text += (f" The source's order 0.15 > 0.1 > 0.2 (lower loss first) holds in the seed means "
                 f"at {holds} of {n} shape(s); " + _verdict(None if one else resolved, against, n,
                                                            "0.15 worse than the winner"))
    lines.append(text)
    if SOURCE_BATCH_SIZE in sizes:
        i = sizes.index(SOURCE_BATCH_SIZE)
        wins = _count(rows, lambda r: r["batch_size"] == SOURCE_BATCH_SIZE)
        resolved = _count(rows, lambda r: r["batch_size"] == SOURCE_BATCH_SIZE
                          and sum(r["batch_sizes_within_noise"]) == 1)
        against = _count(rows, lambda r: not r["batch_sizes_within_noise"][i])
        lines.append(f"Batch size: B = {SOURCE_BATCH_SIZE} wins in the seed means at {wins} of {n} "
                     f"shape(s) (winners: {', '.join(str(r['batch_size']) for r in rows)}); the "
                     f"source's \"64 performs better\" is " + _verdict(
                         None if one else resolved, against, n, f"{SOURCE_BATCH_SIZE} worse than the winner"))
    fits = [r for r in rows if r["batch_exponent"] is not None]
    if fits:
        above = _count(fits, lambda r: r["batch_exponent"]["interval"][0] > 0)
        below = _count(fits, lambda r: r["batch_exponent"]["interval"][1] < 0)
        lines.append("Smaller batches prefer smaller rates where the tuned rate (at each shape's "
                     "best dropout) grows with B; its exponent, 95% over seeds: " + "; ".join(
                         f"width {r['width']} depth {r['depth']}: "
                         f"{r['batch_exponent']['exponent']:.2f} "
                         f"{fmt_iv(r['batch_exponent']['interval'])}" for r in fits)
                     + ". The source's \"smaller batches benefit from smaller learning rates\" is "
                     + _verdict(None if one else above, below, len(fits),
                                "the exponent below 0"))
    else:
        lines.append(f"With {len(sizes)} batch sizes the rate's exponent in B is not fitted.")
    gains = [r for r in rows if "untuned_test_loss" in r]
    if gains:
        lines.append(f"Against the rate tuned alone at B = {SOURCE_BATCH_SIZE} without dropout, "
                     "the jointly tuned point changes the validation loss it was chosen on by "
                     + ", ".join(f"{100 * (r['val_loss'] / r['untuned_val_loss'] - 1):+.1f}%"
                                 for r in gains) + " and the test loss by " + ", ".join(
                         f"{100 * (r['test_loss'] / r['untuned_test_loss'] - 1):+.1f}%"
                         for r in gains) + f" at {_widths_by_depth(gains)}"
                     " (seed means; a choice among many on a few seeds' validation loss need not "
                     "carry over to the test set).")
    law, untuned = summary.get("law"), summary.get("untuned_law")

    def law_text(fit: dict) -> str:
        iv = fit["intervals"]

        def interval(name: str) -> str:
            lo, hi = iv[name]
            if lo is not None and hi is not None and lo > 0 and hi / lo > UNIDENTIFIED:
                return "(not identified: its 95% interval spans more than three decades)"
            return fmt_iv(iv[name])
        return (f"E = {fmt(fit['E'])} {interval('E')}, alpha = {fmt(fit['alpha'])} "
                f"{fmt_iv(iv['alpha'])}" + (" (alpha at its bound)" if fit["alpha_at_bound"]
                                            else ""))
    if law is not None:
        lines.append("Through the jointly tuned points L(N) = E + A N^-alpha has " + law_text(law)
                     + ("" if untuned is None else f"; through the same shapes with the rate "
                        f"tuned alone at B = {SOURCE_BATCH_SIZE} without dropout, "
                        + law_text(untuned)) + " (95% over seeds).")
    else:
        lines.append(f"{n} shapes are too few for the law's three parameters: `lrbs scaling-law "
                     "--full` tunes all ten and fits it.")
    return lines


@checked(study=kind(NuisanceStudy))
def plot_nuisance(study: NuisanceStudy) -> Figure:
    """Top: seed-mean validation loss against dropout, one panel per shape (a row per depth),
    a line per batch size. Bottom: the tuned rate against batch size at each shape's best
    dropout, 95% over seeds, one panel per depth.

    See Also
    --------
    nuisance_study : What it draws.
    """
    depths = sorted(set(int(d) for d in study.depths))
    rows = [np.flatnonzero(study.depths == depth) for depth in depths]
    n_cols = max(len(r) for r in rows)
    fig = Figure(figsize=(max(3.0 * n_cols, 7.0), 3.8 * (len(depths) + 1)), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=(len(depths), 1))
    panels = top.subplots(len(depths), n_cols, squeeze=False)
    for row, shapes in enumerate(rows):
        for col in range(n_cols):
            ax = panels[row, col]
            if col >= len(shapes):
                ax.set_axis_off()
                continue
            s = shapes[col]
            for b, size in enumerate(study.batch_sizes):
                ax.plot(study.dropouts, study.val[s, b].mean(-1), "o-", color=PALETTE[b % 8],
                        ms=3, label=f"B = {size}")
            b, d = study.best(s)
            ax.plot(study.dropouts[d], study.val[s, b, d].mean(), "*", color="black", ms=11,
                    label="best")
            label_axes(ax, "dropout", "validation loss (seed mean)" if col == 0 else "",
                       f"width {study.widths[s]}, depth {study.depths[s]}", legend_size=7)
    for ax, depth, shapes in zip(bottom.subplots(1, len(depths), squeeze=False)[0], depths, rows,
                                 strict=True):
        for k, s in enumerate(shapes):
            d = study.best(s)[1]
            lr = study.lr[s, :, d]
            err = np.abs(study.lr_intervals(s).T - lr)
            dodge = 1 + 0.03 * (k - (len(shapes) - 1) / 2)         # side by side at each B
            ax.errorbar(study.batch_sizes * dodge, lr, yerr=err, fmt="o-", color=PALETTE[k % 8],
                        capsize=3, label=f"width {study.widths[s]} (dropout {study.dropouts[d]:g})")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        label_axes(ax, "batch size $B$", "tuned learning rate (95% over seeds)",
                   f"depth {depth}: do smaller batches prefer smaller rates?", legend_size=7)
    return fig


def run(context: Context) -> Summary:
    """The study under ``root/scaling/runs/``, when the optional ``data`` extra (scikit-learn)
    is there; ``None`` otherwise, and the page says so."""
    if not has_data_extra(context):
        return Summary(None)
    study = run_nuisance(context.root / "scaling", 1 if context.quick else NUISANCE_SEEDS,
                         quick=context.quick, progress=context.progress,
                         n_boot=context.settings["n_boot"])
    return Summary(summarize_nuisance(study, context.settings["n_boot"]), detail=study)


def figures(summary: Summary) -> dict[str, Figure]:
    return {"nuisance": plot_nuisance(summary.detail)}


def sentences(data: dict | None) -> list[str]:
    return [] if data is None else list(data["conclusions"])


def html(results: dict, figure: Callable[[str, str], str]) -> str:
    data = results[KEY]
    rows = [[r["width"], r["depth"], num_text(r["lr"]), f"{num_text(r['lr_interval'][0])}-"
             f"{num_text(r['lr_interval'][1])}", num_text(r["dropout"]), r["batch_size"],
             num_text(r["val_loss"], 4), num_text(r["test_loss"], 4)] for r in data["shapes"]]
    return "".join([
        f"<h2 id='{NAME}'>{TITLE}</h2>",
        "<p>Each shape trained at every (learning rate, dropout) as columns of one batched "
        "program, once per batch size (Adam, early stopping on the validation loss); the tuned "
        "point is the lowest seed-mean validation loss.</p>",
        answer_list(data["conclusions"]),
        figure("nuisance", "Validation loss against dropout per batch size, and the tuned rate "
                           "against batch size with 95% intervals over seeds."),
        table(["width", "depth", "tuned lr", "95% over seeds", "dropout", "B", "val loss",
               "test loss"], rows)])
