"""The stability edge's sentences: what the edge is, where it is absent, and the claims and
predictions against it, each computed from the numbers of an :class:`EdgeStudy`."""

from __future__ import annotations

import numpy as np

from compare.analysis._edges import (
    ADAM_DIVERGENCE_CHECK,
    CLAIMS,
    FROZEN_ADAM,
    EdgeStudy,
    HessianRegimes,
)
from compare.fit._fits import fit_rule
from empirical._core.arguments import checked, kind


def holds(claim: float, interval) -> bool:
    """``claim`` lies inside the (95%) ``interval``."""
    return bool(interval[0] <= claim <= interval[1])


def _definition_text(edge: EdgeStudy) -> str:
    """What the edge is, whether each seed crosses it once, and (Adam) how it moves with the
    stated multiple."""
    crossings = np.concatenate([e.crossings for e in edge.edges])
    several = [e.batch_size for e in edge.edges if np.any(e.crossings > 1)]
    text = (f"{edge.label}: the edge is where a seed's runs start to fail ({edge.criterion}): its "
            f"first failing rate on the grid, bisected against the rate below; its runs cross "
            f"from stable to failing once along every rate tried for {int(np.sum(crossings == 1))} of "
            f"{crossings.size} (seed, batch size) pairs")
    if several:
        band = np.concatenate([(e.transition / e.seed_edges[:, None])[e.crossings > 1]
                               for e in edge.edges])
        low, high = band[:, 0], band[:, 1][np.isfinite(band[:, 1])]
        text += (f", more than once at B = {', '.join(map(str, several))}: there passing and "
                 f"failing alternate, from the lowest failing rate tried ({low.min():.3g}-"
                 f"{low.max():.3g} times the seed's edge) to the rate from which all fail ("
                 + (f"{high.min():.3g}-{high.max():.3g} times it" if high.size else
                    "none: the largest rate tried passes") + "), so there the edge is reported "
                 "absent: the smallest failing rate is no stability edge, and bisection, which "
                 "assumes one crossing, need not find it")
    text += "." + _first_update_text(edge)
    if edge.check_edges is not None:
        ratio = np.array([c.edge / e.edge for c, e in zip(edge.check_edges, edge.edges,
                                                           strict=True)])
        text += (f" Measured at {ADAM_DIVERGENCE_CHECK:g}x the start instead, the edge is "
                 f"{np.nanmin(ratio):.3g}-{np.nanmax(ratio):.3g} times higher: Adam's step is "
                 "bounded by the rate, so its loss grows gradually above the edge and the edge "
                 "depends on the multiple stated.")
    return text


def _overshoot_batches(edge: EdgeStudy) -> list[int]:
    """The batch sizes at which every seed's run at its first failing rate fails at its first
    update."""
    return [e.batch_size for e in edge.edges if np.all(e.failure_step == 1)]


def _first_update_text(edge: EdgeStudy) -> str:
    """How many seeds' runs at their first failing rate fail at the first update, where, and
    (Adam) why that is not the stability the theories describe."""
    steps = np.concatenate([e.failure_step for e in edge.edges])
    known = steps[np.isfinite(steps)]
    if not known.size:
        return ""
    ones, everywhere = int(np.sum(known == 1)), _overshoot_batches(edge)
    text = (f" The run at a seed's first failing rate fails at its first update for {ones} of "
            f"{known.size} (seed, batch size) pairs"
            + (f", for every seed at B = {', '.join(map(str, everywhere))}" if everywhere else ""))
    if edge.optimizer == "adam" and ones:
        text += ("; Adam's bias-corrected first update is lr g / (|g| + eps), lr sign(g) "
                 "whatever its betas, so there the edge is that one step's overshoot, not the "
                 "sustained instability the stability theories describe")
    return text + "."


def _regime_text(label: str, regimes: HessianRegimes) -> list[str]:
    """The paper's noise-plus-Hessian form in its own regimes: where the noise term dominates
    the edge should grow linearly, where the full Hessian does it should be flat."""
    if not np.isfinite(regimes.noise):
        return [f"{label}: Granziol et al.'s form 2 / (lambda_1 + kappa/B) has no noise term "
                f"here: the minibatch Hessian's largest eigenvalue at the smallest B is not above "
                f"the full Hessian's, lambda_1 = {regimes.full_hessian:.3g}."]
    text = (f"{label}: Granziol et al.'s form 2 / (lambda_1 + kappa/B), with the full training "
            f"set's Hessian lambda_1 = {regimes.full_hessian:.3g} and the noise term kappa = "
            f"{regimes.noise:.3g} (B (lambda_max(H_B) - lambda_1) at the smallest B, the form "
            f"scaled at that point; both at the initialization)")
    if np.isfinite(regimes.exact_noise):
        text += (f" (theory for Gaussian least squares: lambda_1 = "
                 f"{regimes.exact_full_hessian:.3g}, the finite-size Marchenko-Pastur edge of "
                 f"the training set, and kappa = 2D = {regimes.exact_noise:.3g}, the 1/B term of "
                 "the exact minibatch edge 2 (1 + sqrt(D/B))^2, whose cross term 4 sqrt(D/B) "
                 "the form leaves out and the measured kappa at the smallest B includes)")
    text += (f": the noise term dominates below B = kappa/lambda_1 = {regimes.crossover:.3g}, "
             "where the form's edge tends to linear growth, and the full Hessian above it, "
             "where it tends to a constant.")
    sides = ((regimes.noise_fit, regimes.noise_form_exponent, "below", 1),
             (regimes.hessian_fit, regimes.hessian_form_exponent, "above", 0))
    for fit, form, name, limit in sides:
        if fit is None:
            text += (f" Fewer than two batch sizes with a single edge lie {name} it: no "
                     "exponent there.")
            continue
        lo, hi = fit.exponent_interval
        text += (f" {name.capitalize()} it (B = {fit.batch_sizes[0]:.0f}-"
                 f"{fit.batch_sizes[-1]:.0f}) the measured edge grows as B^{fit.exponent:.2f} "
                 f"[{lo:.2f}, {hi:.2f}], the form as B^{form:.2f} there (its limit: {limit}): "
                 + ("inside" if lo <= form <= hi else "outside") + " the interval.")
    return [text]


@checked(edge=kind(EdgeStudy))
def edge_conclusions(edge: EdgeStudy) -> list[str]:
    """The verdict on the paper's claim for this study's optimizer, from the numbers.

    Whether "linear for SGD, square root for Adam" holds for the stability edge (over the
    whole range, or between the smallest batch sizes only), for the optimum, or for neither:
    the claimed exponent against the 95% intervals of the fitted power law and of the first
    local exponent.

    See Also
    --------
    edge_study : The numbers.
    """
    lines = [_definition_text(edge)]
    if edge.fit is None:
        lines.append(f"{edge.label}: the stability edge is a single crossing at fewer than two "
                     f"batch sizes ({'; '.join(edge.notes)}), so its scaling is not fitted.")
    else:
        lines += _claim_text(edge)
    lines += [_prediction_text(edge, label, curve) for label, curve in edge.predicted.items()]
    if edge.regimes is not None:
        lines += _regime_text(edge.label, edge.regimes)
    if edge.preconditioned_init is not None and edge.fit is not None:
        lines.append(_frozen_adam_text(edge))
    return lines


def _claim_text(edge: EdgeStudy) -> list[str]:
    """The claimed exponent against the edge's fitted and first local exponent and the
    optimum's, and the best rule for the edge."""
    claim, name = CLAIMS[edge.optimizer]
    fit, opt = edge.fit, edge.optimum
    b = fit.batch_sizes
    other, other_name = [(c, n) for c, n in CLAIMS.values() if c != claim][0]
    lines = [f"{edge.label}: the paper's claim for "
             f"{'SGD' if edge.optimizer == 'sgd' else 'Adam'} is {name} scaling of the "
             f"largest stable rate (exponent {claim:g}; the other rule: {other:g})."]
    targets = (
        (f"the stability edge from B = {b[0]:g} to {b[-1]:g}", fit.exponent,
         fit.exponent_interval),
        (f"the stability edge between B = {b[0]:g} and {b[1]:g}", fit.local_exponents[0],
         fit.local_intervals[0]),
        (f"the fixed-horizon optimum from B = {opt.batch_sizes[0]:g} to "
         f"{opt.batch_sizes[-1]:g}", opt.exponent, opt.exponent_interval))
    for what, exponent, interval in targets:
        claimed, rival = holds(claim, interval), holds(other, interval)
        status = (f"consistent with the claimed {name}, not with {other_name}"
                  if claimed and not rival else
                  f"too uncertain to tell {name} from {other_name}" if claimed and rival else
                  f"consistent with {other_name}, not with the claimed {name}" if rival else
                  f"consistent with neither {name} nor {other_name}")
        lines.append(f"{what[0].upper()}{what[1:]} grows as B^{exponent:.2f} "
                     f"[{interval[0]:.2f}, {interval[1]:.2f}]: {status}.")
    lines.append(f"Best rule for the edge: {fit.choice()}.")
    return lines


def _prediction_text(edge: EdgeStudy, label: str, curve: np.ndarray) -> str:
    """Where a predicted edge lies: inside the measured interval at the batch sizes with a
    single edge (a claim's anchor, which agrees by construction, left out), inside the band
    where runs alternate at the others."""
    anchor = ([e.batch_size for e in edge.edges if e.single][:1] if label.startswith("claim")
              else [])
    pairs = [(p, e) for p, e in zip(curve, edge.edges, strict=True)
             if e.single and e.batch_size not in anchor]
    text = f"Predicted edge '{label}': "
    if pairs:
        inside = sum(holds(p, e.interval) for p, e in pairs)
        ratio = np.array([p / e.edge for p, e in pairs])
        text += (f"inside the measured 95% interval at {inside} of {len(pairs)} batch sizes with "
                 "a single edge" + (f" (the anchor, B = {anchor[0]}, not counted)" if anchor
                                    else "")
                 + f"; predicted / measured {np.nanmin(ratio):.3g}-{np.nanmax(ratio):.3g}")
    else:
        text += "no batch size with a single edge to compare it with" + (
            f" but its anchor, B = {anchor[0]}" if anchor else "")
    banded = [(p, e.band) for p, e in zip(curve, edge.edges, strict=True)
              if not e.single and np.isfinite(e.band[0])]
    if banded:
        inside = sum(_in_band(p, band) for p, band in banded)
        text += (f"; inside the band where runs pass and fail alternately at {inside} of "
                 f"{len(banded)} batch sizes without one")
    return text + "."


def _in_band(value: float, band: tuple[float, float]) -> bool:
    """``value`` lies in the band where runs alternate (its top open where the largest rate
    tried passes)."""
    low, high = band
    return bool(low <= value and (not np.isfinite(high) or value <= high))


def _frozen_adam_text(edge: EdgeStudy) -> str:
    """Cohen et al.'s frozen-preconditioner edge for Adam: its exponent from each point against
    the measured edge's (through the same weighted fit), Granziol et al.'s square root, and
    which side of the measured edge it lies on."""
    fit = edge.fit
    single = np.array([e.single for e in edge.edges])
    b = edge.batch_sizes[single]
    lo, hi = fit.exponent_interval
    measured = np.array([e.edge for e in edge.edges])[single]
    text = (f"{edge.label}: Cohen et al.'s edge for Adam with its preconditioner frozen, "
            "2 (1 + beta1) / ((1 - beta1) lambda_max(P^-1 H_B)) with P = sqrt(E v) + eps at "
            "Adam's expected second moment E v = g^2 + s^2/B (its fluctuation about E v left "
            "out: the picture assumes a denominator that changes slowly, whose memory is about "
            f"1/(1 - beta2) steps), against the measured edge's B^{fit.exponent:.2f} "
            f"[{lo:.2f}, {hi:.2f}]:")
    pieces, everywhere_below = [], True
    for where, name in (("init", "the initialization"), ("trained", "the trained point")):
        curve = edge.predicted[f"{FROZEN_ADAM}, {where}"][single]
        ok = np.isfinite(curve)
        if ok.sum() < 2:
            pieces.append(f" from {name} it is finite at fewer than two batch sizes with a "
                          "single edge")
            everywhere_below = False
            continue
        exponent = fit_rule("power", b[ok], curve[ok], fit.log_sd[ok]).params["exponent"]
        ratio = curve[ok] / measured[ok]
        everywhere_below &= bool(np.all(ratio < 1))
        side = ("below the measured edge at every batch size" if np.all(ratio < 1) else
                "above it at every batch size" if np.all(ratio > 1) else "on both sides of it")
        pieces.append(f" from {name} it grows as B^{exponent:.2f} ("
                      + ("inside" if lo <= exponent <= hi else "outside")
                      + f" the interval; the preconditioned sharpness as B^{-exponent:.2f}, "
                      f"where Granziol et al.'s square root needs B^-0.5), {side}")
    text += ";".join(pieces) + "."
    overshoot = [bs for bs in _overshoot_batches(edge) if bs in b]
    if overshoot:
        text += (f" At B = {', '.join(map(str, overshoot))} the edge is the first update's "
                 "overshoot, so there agreement or not is no test of the frozen threshold, "
                 "which is about sustained steps.")
    if everywhere_below:
        text += (" Above the frozen threshold Adam's denominator grows with its gradients and "
                 "holds the preconditioned sharpness at the threshold (Cohen et al.), so a run "
                 "need not blow up there.")
    return text
