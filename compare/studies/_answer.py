"""The optimal-lr study's answer in sentences, computed from its summary and nothing else.

Every sentence the report, the gallery and the README state about a study comes from
:func:`conclusions`, written from the numbers of :func:`summarize` (``results.json``'s
``studies[model]``) that are printed beside it, so that prose and figures cannot disagree.
"""

from __future__ import annotations

import numpy as np

from compare.fit._fits import FIXED_SLOPES, LACK_OF_FIT
from compare.style._text import QUICK_MARK, fmt, fmt_iv, overlap, span
from empirical._core.arguments import checked, kind


def _rule_text(fit: dict) -> str:
    """The rule the data choose, in a sentence, or the fit's reason for choosing none."""
    tied = fit["tied"]
    if not tied or fit["lack_of_fit"] is not None and fit["lack_of_fit"] < LACK_OF_FIT:
        return f"Rules: {fit['choice']}."
    rule = fit["rules"][tied[0]]
    params = "; ".join(f"{name} = {fmt(value)} {fmt_iv(rule['intervals'][name])}, {meaning}"
                       for (name, value), meaning in zip(rule["params"].items(), rule["meanings"],
                                                         strict=True))
    if len(tied) > 1:
        return (f"By AICc, {', '.join(tied[:-1])} and {tied[-1]} tie (within 2, no evidence "
                f"for either); {tied[0]}, lowest: {rule['formula']} with {params}.")
    return f"By AICc, {tied[0]} explains the optima best: {rule['formula']} with {params}."


def _power_rejected(fit: dict) -> float | None:
    """How far AICc puts the power law behind the chosen rule, where it is not among the
    tied ones (``None`` where it is, where no rule is chosen, or where the chosen rule is a
    power law of fixed exponent itself)."""
    if not fit["tied"] or "power" in fit["tied"] or fit["tied"][0] in FIXED_SLOPES:
        return None
    power, best = fit["rules"]["power"]["score"], fit["rules"][fit["tied"][0]]["score"]
    return None if power is None or best is None else power - best


def _shape_text(fit: dict) -> str:
    """Whether one power law describes the curve: the local exponents' intervals, and AICc."""
    local = fit["local_exponents"]
    first, last = local[0], local[-1]
    if len(local) == 1:
        return "Two batch sizes give one local exponent: no shape to test."
    if len(local) > 1 and not overlap(first["interval"], last["interval"]):
        trend = "falls" if last["exponent"] < first["exponent"] else "rises"
        return (f"The local exponent {trend} from {fmt(first['exponent'])} "
                f"{fmt_iv(first['interval'])} (B = {first['batch_sizes'][0]}-"
                f"{first['batch_sizes'][1]}) to {fmt(last['exponent'])} {fmt_iv(last['interval'])} "
                f"(B = {last['batch_sizes'][0]}-{last['batch_sizes'][1]}): not one power law, "
                "so no single exponent describes it.")
    behind = _power_rejected(fit)
    if behind is not None:
        return (f"The first and last local exponents' intervals overlap, but AICc puts one power "
                f"law {behind:.1f} behind {fit['tied'][0]}: the overlap is a weak test, and no "
                "single exponent describes the curve.")
    return (f"The first and last local exponents' intervals overlap, so one power law, exponent "
            f"{fmt(fit['exponent'])} {fmt_iv(fit['exponent_interval'])}, is consistent with it.")


def answer(fit: dict, criterion: str) -> str:
    """What a practitioner does with the optimum's scaling under one criterion, in sentences.

    Parameters
    ----------
    fit : dict
        A fit block of :func:`summarize`: the study itself (fixed horizon) or its
        ``steps_to_target``.
    criterion : str
        How the sentences name the criterion, e.g. ``"Fixed horizon (100 steps)"``.

    Returns
    -------
    str
        How much the optimum grows over the measured batch sizes, the multiplier per 4x batch
        at both ends, what linear and square-root scaling would do at the largest batch, the
        rule AICc prefers (with honest ties) and whether one power law can describe the curve;
        every number with its 95% interval over seeds.
    """
    b, g = fit["batch_sizes"], fit["growth"]
    glo, ghi = fit["growth_interval"]
    ratio = b[-1] / b[0]
    first, last = fit["local_exponents"][0], fit["local_exponents"][-1]

    def per4(local: dict) -> str:
        return (f"{fmt(4.0 ** local['exponent'])} {fmt_iv(4.0 ** np.asarray(local['interval']))} "
                f"at B = {local['batch_sizes'][0]}-{local['batch_sizes'][1]}")

    def versus(name: str, predicted: float) -> str:
        over, (lo, hi) = predicted / g, (predicted / ghi, predicted / glo)
        if lo <= 1 <= hi:
            return (f"{name} would land at {fmt(over)}x it {fmt_iv((lo, hi))}, an interval that "
                    "cannot tell overshoot from undershoot")
        verb = "overshoot" if over > 1 else "undershoot"
        factor, (flo, fhi) = (over, (lo, hi)) if over > 1 else (1 / over, (1 / hi, 1 / lo))
        return f"{name} would {verb} it by {fmt(factor)}x {fmt_iv((flo, fhi))}"

    change = "grows" if glo > 1 else "falls" if ghi < 1 else "changes"
    caveat = ", an interval that includes no change" if change == "changes" else ""
    return (f"{criterion}: from B = {b[0]:g} to B = {b[-1]:g} ({ratio:g}x the batch) the best "
            f"learning rate {change} by a factor {fmt(g)} {fmt_iv((glo, ghi))}{caveat}. Per 4x batch, "
            "multiply it by "
            f"{per4(first)}" + (f" and by {per4(last)}" if len(fit['local_exponents']) > 1 else "")
            + f". Scaled from B = {b[0]:g} to B = {b[-1]:g}, "
            f"{versus('linear scaling', ratio)} and {versus('square-root scaling', ratio**0.5)}. "
            f"{_rule_text(fit)} {_shape_text(fit)}")


ANSWER_COLUMNS = ("study", "criterion", "best lr grows, smallest to largest B [95%]",
                  "lr multiplier per 4x B, smallest -> largest B pair [95%]",
                  "best rule (AICc; ties within 2)")
"""The columns of :func:`answer_rows`."""


def answer_rows(studies: dict) -> list[list[str]]:
    """The answer as a table: one row per study and criterion, every number with its interval.

    ``studies`` is ``results.json``'s ``studies``; the columns are :data:`ANSWER_COLUMNS`.
    """
    rows = []
    for study in studies.values():
        fits = [(f"fixed horizon ({study['spec']['steps']} steps)", study)]
        if study["steps_to_target"].get("exponent") is not None:
            fits.append(("steps to target", study["steps_to_target"]))
        for criterion, fit in fits:
            b, (lo, hi) = fit["batch_sizes"], fit["growth_interval"]
            ends = [fit["local_exponents"][0], fit["local_exponents"][-1]]
            per4 = " -> ".join(f"{4 ** e['exponent']:.2f} [{4 ** e['interval'][0]:.2f}, "
                               f"{4 ** e['interval'][1]:.2f}]" for e in ends)
            rows.append([study["label"], criterion,
                         f"{fmt(fit['growth'])}x [{fmt(lo)}, {fmt(hi)}] (B = {b[0]} -> {b[-1]})",
                         per4, _chosen(fit)])
    return rows


def _chosen(fit: dict) -> str:
    """The answer table's rule cell: the chosen rules, or why none is."""
    if not fit["tied"]:
        return "too few batch sizes to choose"
    if fit["lack_of_fit"] is not None and fit["lack_of_fit"] < LACK_OF_FIT:
        return f"none fits within the seed noise (closest: {fit['tied'][0]})"
    return ", ".join(fit["tied"])


def theory_check(study: dict) -> str | None:
    """Where the exact theory falls among the measured optima, through the same estimators.

    ``None`` for a study without exact theory.
    """
    if "theory" not in study:
        return None
    horizon = study["optima"]
    target = study["steps_to_target"]["optima"]
    same = [o["theory_same_estimator"] / o["subgrid_lr"] for o in horizon]
    exact = [o["theory_lr"] / o["subgrid_lr"] for o in horizon]
    th = study["theory"]
    seeds = len(study["spec"]["seeds"])
    return (f"The exact optimum (the finite-sample theory's continuous argmin) lies inside the "
            f"measured 95% interval (Student bootstrap over {seeds} seeds, widened by the gap "
            f"between the cubic and quadratic local models) at {th['horizon_exact_inside']} of "
            f"{len(horizon)} batch sizes for the fixed horizon (exact / measured {span(exact)}). "
            f"Through the measurement's own estimator on the same rates the theory is inside at "
            f"{th['horizon_inside']} of {len(horizon)} (predicted / measured {span(same)}), and at "
            f"{th['target_inside']} of {len(target)} for steps to target (percentile bootstrap).")


def criteria_text(study: dict) -> str | None:
    """Whether the criterion moves the exponent, from the two fits' intervals."""
    target = study["steps_to_target"]
    if target.get("exponent") is None:
        return None
    a, b = study["exponent_interval"], target["exponent_interval"]
    text = (f"{study['label']}: the criterion {'does not separate' if overlap(a, b) else 'moves'} "
            "the power-law "
            f"exponent: {fmt(study['exponent'])} {fmt_iv(a)} for the fixed horizon, "
            f"{fmt(target['exponent'])} {fmt_iv(b)} for steps to target (intervals "
            f"{'overlap' if overlap(a, b) else 'do not overlap'})")
    if "theory" in study:
        th = study["theory"]
        text += (f"; the exact theory's optima give {fmt(th['horizon_exponent'])} and "
                 f"{fmt(th['target_exponent'])}")
    return text + "."


@checked(study=kind(dict))
def conclusions(study: dict, *, quick: bool = False) -> list[str]:
    """Every sentence lrbs states about one study, computed from its summary.

    Parameters
    ----------
    study : dict
        :func:`summarize` of a :class:`Study` (``results.json``'s ``studies[model]``).
    quick : bool, default False
        Prefix each sentence with :data:`QUICK_MARK`.

    Returns
    -------
    list of str
        The fixed-horizon answer, the steps-to-target answer (when every batch size reaches
        the target), the check of the exact theory (least squares) and what the criterion does
        to the exponent.

    See Also
    --------
    summarize : The summary these sentences are computed from.
    run_report : Writes them at the top of the report.

    Examples
    --------
    >>> from compare import analyze, conclusions, summarize
    >>> from empirical import LRGrid, SweepSpec, run_sweep
    >>> spec = SweepSpec("linear-sgd", (4, 64, 1024), LRGrid(), steps=100, seeds=(0, 1))
    >>> study = analyze(run_sweep(spec, progress=False), n_boot=20)
    >>> print(conclusions(summarize(study))[0][:52])
    Fixed horizon (100 steps): from B = 4 to B = 1024 (2
    """
    lines = [answer(study, f"Fixed horizon ({study['spec']['steps']} steps)")]
    if study["steps_to_target"].get("exponent") is not None:
        lines.append(answer(study["steps_to_target"],
                            f"Steps to test loss {fmt(study['steps_to_target']['target_loss'])}"))
    lines += [s for s in (theory_check(study), criteria_text(study)) if s is not None]
    return [QUICK_MARK + s if quick else s for s in lines]
