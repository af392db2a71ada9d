"""A scaling fit as JSON: ``results.json``'s ``$defs/fit``, each parameter's meaning said only
where the data support it."""

from __future__ import annotations

from compare.fit._fits import COMPARED, ScalingFit
from compare.fit._rules import RULES

BATCH_PARAMETERS = ("b0", "b_noise")
"""The rules' parameters that are batch sizes: their meaning holds only inside the data."""


def _meanings(name: str, params: dict, batch_sizes: list) -> list:
    """The rule's parameter meanings, a batch-size parameter outside the measured batch sizes
    said to be so instead (a fit there means the data show no turn, not where it is)."""
    lo, hi = min(batch_sizes), max(batch_sizes)
    return [f"outside the measured batch sizes ({lo}-{hi}): the data show no turn, so "
            f"this value has no meaning" if key in BATCH_PARAMETERS and not lo <= params[key] <= hi
            else meaning for key, meaning in zip(RULES[name].params, RULES[name].meanings,
                                                 strict=True)]


def fit_summary(fit: ScalingFit | None, label: str) -> dict | None:
    """A :class:`ScalingFit` as JSON (``results.json``'s ``$defs/fit``); ``None`` for no fit.

    ``label`` names the study in the verdict sentence.
    """
    if fit is None:
        return None
    b = [int(round(v)) for v in fit.batch_sizes]
    return dict(
        batch_sizes=b, lr=fit.lr, exponent=fit.exponent,
        exponent_interval=list(fit.exponent_interval),
        local_exponents=[dict(batch_sizes=[b[i], b[i + 1]], exponent=e, interval=list(iv))
                         for i, (e, iv) in enumerate(zip(fit.local_exponents,
                                                         fit.local_intervals, strict=True))],
        growth=fit.growth, growth_interval=list(fit.growth_interval),
        rules={name: dict(formula=RULES[name].formula, params=fit.rules[name].params,
                          meanings=_meanings(name, fit.rules[name].params, b),
                          intervals={k: list(v) for k, v in fit.rules[name].intervals.items()},
                          score=fit.rules[name].aicc, chi2=fit.rules[name].chi2)
               for name in COMPARED},
        score_name="AICc (lower is better)", preferred=fit.preferred, tied=list(fit.tied),
        excluded=list(fit.excluded), lack_of_fit=fit.lack_of_fit, choice=fit.choice(),
        verdict=fit.verdict(label))
