"""The loss along a run as a function of its learning-rate schedule: Tissue et al.'s scaling law
with learning-rate annealing, L(s) = L0 + A S1^-alpha - C S2."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from empirical._core.arguments import FRACTION, checked, numbers, real, sequence_of

ANNEALING_DECAY = 0.999
"""lambda, the momentum of the annealing area (Tissue et al.'s default)."""
ALPHA_BOUNDS = (0.01, 3.0)
"""The exponent is searched within these bounds; a fit at a bound has no exponent to report."""
MAX_LOSS = 1e100
"""Losses beyond this are refused: their squares overflow the least-squares fit."""
MIN_AREA = 1e-30
"""The smallest forward area fitted: S1^-alpha must stay finite up to the bound alpha = 3."""
_GRID = np.geomspace(*ALPHA_BOUNDS, 300)
_GOLDEN_ROUNDS = 40


@checked(rates=numbers(1, low=0.0), decay=real(0.0, 1.0, open_high=True))
def annealing_areas(rates, *, decay: float = ANNEALING_DECAY) -> tuple[np.ndarray, np.ndarray]:
    r"""The forward area :math:`S_1` and the annealing area :math:`S_2` after each step.

    .. math::

        S_1(s) = \sum_{i=1}^{s} \eta_i, \qquad
        m_i = \lambda\, m_{i-1} + (\eta_{i-1} - \eta_i), \qquad
        S_2(s) = \sum_{i=1}^{s} m_i,

    where :math:`\eta_i` is the rate of step :math:`i` (``rates``, the schedule times the peak
    rate) and :math:`\lambda` is ``decay``. The drops :math:`\eta_{i-1} - \eta_i` count from
    the schedule's peak on: a warmup's rising rates enter :math:`S_1` only (our reading of the
    paper's treatment of warmup, which it leaves out of the annealing area).

    Parameters
    ----------
    rates : array_like of float, shape (steps,)
        The rate of each step, ``>= 0``.
    decay : float, default 0.999
        :math:`\lambda`, in ``[0, 1)``.

    Returns
    -------
    s1 : ndarray, shape (steps,)
    s2 : ndarray, shape (steps,)

    References
    ----------
    H. Tissue, V. Wang, L. Wang, Scaling law with learning rate annealing, arXiv:2408.11029
    (2024), eq. (1) and the momentum form of the annealing area.

    See Also
    --------
    fit_annealing_law : Fits the law on these areas.

    Examples
    --------
    >>> from compare import annealing_areas
    >>> s1, s2 = annealing_areas([1.0, 1.0, 0.5, 0.5], decay=0.5)
    >>> s1.tolist(), s2.tolist()
    ([1.0, 2.0, 2.5, 3.0], [0.0, 0.0, 0.5, 0.75])
    """
    rates = np.asarray(rates, dtype=float)
    drops = np.r_[0.0, rates[:-1] - rates[1:]]
    drops[:int(np.argmax(rates)) + 1] = 0.0
    momentum = np.empty_like(drops)
    m = 0.0
    for i, drop in enumerate(drops):
        m = decay * m + drop
        momentum[i] = m
    return np.cumsum(rates), np.cumsum(momentum)


@dataclass(frozen=True)
class AnnealingFit:
    r"""A fitted :math:`L(s) = L_0 + A S_1^{-\alpha} - C S_2`.

    Attributes
    ----------
    L0, A, alpha, C : float
    decay : float
        :math:`\lambda` of the annealing area.
    rms : float
        Root-mean-square residual over the fitted points (loss units).
    alpha_at_bound : bool
        The exponent sits at a bound of :data:`ALPHA_BOUNDS`: the data set no exponent.

    See Also
    --------
    fit_annealing_law : Fits it.
    annealing_areas : Its inputs.
    """

    L0: float
    A: float
    alpha: float
    C: float
    decay: float
    rms: float
    alpha_at_bound: bool

    @checked(rates=numbers(1, low=0.0))
    def predict(self, rates) -> np.ndarray:
        """The loss after each step of the schedule ``rates`` (the first step's ``S1 > 0``)."""
        s1, s2 = annealing_areas(rates, decay=self.decay)
        with np.errstate(divide="ignore"):
            return self.L0 + self.A * s1**-self.alpha - self.C * s2


def _solve(alpha: float, s1: np.ndarray, s2: np.ndarray, loss: np.ndarray) -> tuple[np.ndarray, float]:
    """(L0, A, C) by linear least squares at exponent ``alpha``, and the residual sum of squares."""
    design = np.column_stack([np.ones_like(s1), s1**-alpha, -s2])
    coef, *_ = np.linalg.lstsq(design, loss, rcond=None)
    return coef, float(np.sum((design @ coef - loss) ** 2))


@checked(schedules=sequence_of(list, tuple, np.ndarray), losses=sequence_of(list, tuple, np.ndarray),
         start=FRACTION, decay=real(0.0, 1.0, open_high=True))
def fit_annealing_law(schedules, losses, *, start: float = 0.1,
                      decay: float = ANNEALING_DECAY) -> AnnealingFit:
    r"""Fit :math:`L(s) = L_0 + A S_1^{-\alpha} - C S_2` to loss curves under known schedules.

    Given :math:`\alpha` the law is linear in :math:`(L_0, A, C)`, solved by least squares on
    the losses; :math:`\alpha` is the minimizer of that profile over :data:`ALPHA_BOUNDS`,
    found on a 300-point log grid and refined by golden section, so the fit is the global
    least-squares minimum within the bounds (no start to choose, no early stop). Tissue et al.
    fit one or two curves (a constant and a cosine schedule) and predict the rest.

    Parameters
    ----------
    schedules : sequence of array_like, each shape (steps_k,)
        The rate of each step of each fitted run.
    losses : sequence of array_like, each shape (steps_k,)
        The loss after each step (e.g. a seed-mean validation loss), finite.
    start : float, default 0.1
        Each curve is fitted from this fraction of its steps on: the law has no term for the
        first steps' fast descent.
    decay : float, default 0.999
        :math:`\lambda` of :func:`annealing_areas`.

    Returns
    -------
    AnnealingFit

    References
    ----------
    H. Tissue, V. Wang, L. Wang, Scaling law with learning rate annealing, arXiv:2408.11029
    (2024), eq. (1).

    See Also
    --------
    annealing_areas : S1 and S2.

    Examples
    --------
    >>> import numpy as np
    >>> from compare import annealing_areas, fit_annealing_law
    >>> constant, cosine = np.full(200, 0.1), 0.05 * (1 + np.cos(np.pi * np.arange(200) / 200))
    >>> law = lambda r: 2.0 + 0.5 * annealing_areas(r)[0] ** -0.6 - 0.3 * annealing_areas(r)[1]
    >>> fit = fit_annealing_law([constant, cosine], [law(constant), law(cosine)])
    >>> round(fit.L0, 6), round(fit.A, 6), round(fit.alpha, 6), round(fit.C, 6)
    (2.0, 0.5, 0.6, 0.3)
    """
    if len(schedules) != len(losses) or not schedules:
        raise ValueError(f"schedules and losses must pair up one to one, got {len(schedules)} "
                         f"schedules and {len(losses)} loss curves")
    s1s, s2s, ls = [], [], []
    for k, (rates, loss) in enumerate(zip(schedules, losses, strict=True)):
        rates, loss = np.asarray(rates, dtype=float), np.asarray(loss, dtype=float)
        if rates.ndim != 1 or rates.shape != loss.shape or not np.all(np.isfinite(rates)) \
                or not np.all(np.abs(loss) < MAX_LOSS) or np.any(rates < 0) or rates[0] <= 0:
            raise ValueError(f"schedules[{k}] and losses[{k}] must be 1-d, of one length, the "
                             f"rates finite and >= 0 with a first rate > 0, the losses finite "
                             f"and below {MAX_LOSS:g} in size; got shapes {rates.shape} and "
                             f"{loss.shape}")
        s1, s2 = annealing_areas(rates, decay=decay)
        keep = slice(int(start * rates.size), None)
        s1s.append(s1[keep])
        s2s.append(s2[keep])
        ls.append(loss[keep])
    s1, s2, loss = (np.concatenate(v) for v in (s1s, s2s, ls))
    if s1.size and (s1.min() < MIN_AREA or not np.all(np.isfinite(s2))):
        raise ValueError(f"schedules must give a forward area S1 >= {MIN_AREA:g} at every fitted "
                         f"step (S1^-alpha overflows below it) and a finite S2, got S1 from "
                         f"{s1.min():g}")
    if loss.size < 4:
        raise ValueError(f"the fit needs at least 4 points after start={start}, got {loss.size}")

    def profile(alpha):
        return _solve(alpha, s1, s2, loss)[1]

    scores = [profile(a) for a in _GRID]
    best = int(np.argmin(scores))
    lo, hi = np.log(_GRID[max(best - 1, 0)]), np.log(_GRID[min(best + 1, _GRID.size - 1)])
    ratio = (np.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = profile(np.exp(a)), profile(np.exp(b))
    for _ in range(_GOLDEN_ROUNDS):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = profile(np.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = profile(np.exp(b))
    candidates = [(scores[best], _GRID[best]), (fa, np.exp(a)), (fb, np.exp(b))]
    rss, alpha = min(candidates)
    (l0, amp, c), rss = _solve(alpha, s1, s2, loss)
    return AnnealingFit(L0=float(l0), A=float(amp), alpha=float(alpha), C=float(c), decay=decay,
                        rms=float(np.sqrt(rss / loss.size)),
                        alpha_at_bound=bool(np.isclose(alpha, ALPHA_BOUNDS, rtol=1e-3).any()))
