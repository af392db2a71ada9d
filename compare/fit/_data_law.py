"""Fitting L(N, D) = E + A N^-alpha + B D^-beta as Hoffmann et al. (2022) fit their third
approach, with the corrections of Besiroglu et al. (2024): the Huber loss summed, not averaged,
many starts, the optimizer's convergence checked, and intervals from a bootstrap over the
fitted points."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product

import numpy as np
from scipy.optimize import minimize

from compare.fit._law import HUBER_DELTA
from empirical._core.arguments import MAX_RESAMPLES, SEED, checked, numbers, real, whole
from empirical._core.intervals import bootstrap_interval

EXPONENT_BOUNDS = (0.0, 3.0)
"""Both exponents are fitted within these bounds; one at a bound is reported as such."""
AGREEMENT = 1e-3
"""Starts whose fitted coordinates (the logarithms of the scales and ``E``, the exponents) all
lie within this distance of the best fit's count as having found the same minimum."""
GRADIENT_TOLERANCE = 1e-5
"""A fit converged where its gradient norm is below this fraction of ``delta`` per point (the
largest slope one point's Huber loss can have, per unit of its log residual's derivative)."""
NAMES = ("A", "B", "E", "alpha", "beta")
"""The parameters, in the order of :attr:`DataLawFit.replicates`' columns (``A``, ``B`` and
``E`` as logarithms there)."""


@dataclass(frozen=True)
class DataLawFit:
    r"""A fitted :math:`L(N, D) = E + A N^{-\alpha} + B D^{-\beta}`.

    Attributes
    ----------
    E, A, B, alpha, beta : float
        Irreducible loss, the two scales and the two exponents.
    intervals : dict of str to tuple of float
        95% intervals from refitting bootstrap resamples of the fitted points (Student's
        quantile on the fitted coordinates, :func:`empirical._core.intervals.bootstrap_interval`),
        the exponents' clipped to :data:`EXPONENT_BOUNDS`.
    objective : float
        The summed Huber loss at the optimum.
    gradient_norm : float
        The objective's gradient norm there.
    starts, agreeing_starts : int
        How many starting points the optimizer ran from, and how many reached the best fit
        (within :data:`AGREEMENT`): a lone start means the landscape has several minima and
        the grid found the best only once.
    converged : bool
        The gradient norm at the best fit is below :data:`GRADIENT_TOLERANCE` times ``delta``
        times the number of points. (L-BFGS's own success flag is not the test: at these
        tolerances its line search can end abnormally at a minimum, where floating point no
        longer resolves a decrease.)
    n_points : int
    replicates : ndarray, shape (n_boot, 5)
        The bootstrap refits, columns :data:`NAMES` (the scales and ``E`` as logarithms).

    See Also
    --------
    fit_data_law : Fits it.
    LawFit : The one-variable law :math:`L(N)`.
    """

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    intervals: dict
    objective: float
    gradient_norm: float
    starts: int
    agreeing_starts: int
    converged: bool
    n_points: int
    replicates: np.ndarray = field(default=None, compare=False, repr=False)

    @property
    def at_bound(self) -> tuple[str, ...]:
        """The exponents at a bound of :data:`EXPONENT_BOUNDS`: the data set none there."""
        return tuple(name for name in ("alpha", "beta")
                     if np.isclose(getattr(self, name), EXPONENT_BOUNDS, atol=1e-6).any())

    @checked(n_params=numbers(None, low=1.0), n_examples=numbers(None, low=1.0))
    def predict(self, n_params, n_examples) -> np.ndarray:
        """The law at parameter counts ``n_params`` and data sizes ``n_examples`` (broadcast)."""
        n = np.asarray(n_params, dtype=float)
        d = np.asarray(n_examples, dtype=float)
        try:
            np.broadcast_shapes(n.shape, d.shape)
        except ValueError:
            raise ValueError(f"n_examples of shape {d.shape} does not broadcast with n_params of "
                             f"shape {n.shape}") from None
        coordinates = np.log([self.A, self.B, self.E]).tolist() + [self.alpha, self.beta]
        return law_rows(np.array([coordinates]), n, d)[0]

    def compute_optimal_exponents(self) -> dict:
        r"""How a compute budget :math:`C \propto ND` is best split (Hoffmann et al., eq. 4).

        :math:`N_{\rm opt} \propto C^{a}` and :math:`D_{\rm opt} \propto C^{b}` with
        :math:`a = \beta/(\alpha+\beta)` and :math:`b = \alpha/(\alpha+\beta)`, each with the
        2.5 and 97.5 percentiles of its bootstrap refits.

        Returns
        -------
        dict
            ``{"a": (value, (low, high)), "b": (value, (low, high))}``.
        """
        total = self.alpha + self.beta
        a = self.beta / total if total > 0 else float("nan")
        intervals = {"a": (float("nan"), float("nan")), "b": (float("nan"), float("nan"))}
        if self.replicates is not None and len(self.replicates) >= 2:
            alpha, beta = self.replicates[:, 3], self.replicates[:, 4]
            with np.errstate(invalid="ignore", divide="ignore"):
                reps = beta / (alpha + beta)
            reps = reps[np.isfinite(reps)]
            if reps.size >= 2:
                lo, hi = np.percentile(reps, [2.5, 97.5])
                intervals = {"a": (float(lo), float(hi)), "b": (float(1 - hi), float(1 - lo))}
        return {"a": (float(a), intervals["a"]), "b": (float(1 - a), intervals["b"])}


def law_rows(coordinates: np.ndarray, n_params, n_examples) -> np.ndarray:
    """The law for each row of fitted coordinates (``log A, log B, log E, alpha, beta``, as
    :attr:`DataLawFit.replicates`), at the broadcast points: shape (n_rows, *points)."""
    z = np.asarray(coordinates, dtype=float)
    n, d = np.asarray(n_params, dtype=float), np.asarray(n_examples, dtype=float)
    a, b, e, alpha, beta = (z[:, i].reshape((-1,) + (1,) * max(n.ndim, d.ndim))
                            for i in range(5))
    return np.exp(e) + np.exp(a) * n ** -alpha + np.exp(b) * d ** -beta


def _objective(z, log_n, log_d, log_l, delta):
    a, b, e, alpha, beta = z
    t_n, t_d = a - alpha * log_n, b - beta * log_d
    top = np.maximum(np.maximum(t_n, t_d), e)
    w_n, w_d, w_e = np.exp(t_n - top), np.exp(t_d - top), np.exp(e - top)
    total = w_n + w_d + w_e
    r = top + np.log(total) - log_l                 # log(A N^-alpha + B D^-beta + E) - log L
    g = np.clip(r, -delta, delta) / total           # huber'(r) over the sum of the weights
    g_n, g_d = g * w_n, g * w_d
    size = np.abs(r)
    value = np.sum(np.where(size <= delta, 0.5 * r * r, delta * (size - 0.5 * delta)))
    grad = np.array([g_n.sum(), g_d.sum(), (g * w_e).sum(), -(g_n @ log_n), -(g_d @ log_d)])
    return float(value), grad


_BOUNDS = [(None, None), (None, None), (None, None), EXPONENT_BOUNDS, EXPONENT_BOUNDS]


def _minimize(z0, args):
    # the objective is O(delta * residual): tight tolerances, or a run stops where a mean
    # objective's gradient looks small (Besiroglu et al.'s finding on the published fit)
    return minimize(_objective, z0, args=args, jac=True, method="L-BFGS-B", bounds=_BOUNDS,
                    options=dict(ftol=1e-15, gtol=1e-12, maxiter=5000))


def _start_grid(log_l) -> list[np.ndarray]:
    """Hoffmann et al.'s grid of starts, coarser: 3^5 = 243 points around the data's scale."""
    low = float(np.min(log_l))
    return [np.array(z) for z in product((0.0, 5.0, 10.0), (0.0, 5.0, 10.0),
                                         (low - 3.0, low - 1.0, low - 0.3),
                                         (0.2, 0.5, 1.0), (0.2, 0.5, 1.0))]


def _points(n_params, n_examples, losses):
    for name, values in (("n_params", n_params), ("n_examples", n_examples)):
        numbers(1, low=1.0)(name, values)
    numbers(1, low=0.0, open_low=True)("losses", losses)
    n, d, L = (np.asarray(v, dtype=float) for v in (n_params, n_examples, losses))
    if not n.shape == d.shape == L.shape:
        raise ValueError(f"n_params, n_examples and losses must have one value per point, got "
                         f"shapes {n.shape}, {d.shape} and {L.shape}")
    if n.size < 6 or np.unique(n).size < 2 or np.unique(d).size < 2:
        raise ValueError(f"need at least 6 points over at least 2 parameter counts and 2 data "
                         f"sizes for 5 parameters, got {n.size} points, {np.unique(n).size} "
                         f"parameter counts, {np.unique(d).size} data sizes")
    return np.log(n), np.log(d), np.log(L)


@checked(n_boot=whole(2, MAX_RESAMPLES), seed=SEED, delta=real(0.0, 10.0, open_low=True))
def fit_data_law(n_params, n_examples, losses, *, n_boot: int = 200, seed: int = 0,
                 delta: float = HUBER_DELTA) -> DataLawFit:
    r"""Fit :math:`L(N, D) = E + A N^{-\alpha} + B D^{-\beta}` to losses at parameter counts
    and data sizes, with intervals from a bootstrap over the points.

    Minimizes the *summed* Huber loss of the log residuals,
    :math:`\sum_i \mathrm{Huber}_\delta\big(\mathrm{LSE}(a - \alpha\log N_i,\, b - \beta\log
    D_i,\, e) - \log L_i\big)` with :math:`A = e^a`, :math:`B = e^b`, :math:`E = e^e`, by
    L-BFGS with the analytic gradient from 243 starting points (Hoffmann et al.'s approach 3,
    :math:`\delta = 10^{-3}`). Besiroglu et al. found the published fit wrong because an
    averaged objective let L-BFGS stop early; here the sum, tight tolerances and the
    convergence report (:attr:`DataLawFit.converged`, :attr:`DataLawFit.agreeing_starts`)
    guard against that. The intervals refit resamples of the points drawn with replacement, as
    Besiroglu et al. bootstrap theirs, each from the point estimate and the best distinct
    other start.

    Parameters
    ----------
    n_params, n_examples, losses : array_like of float, shape (n_points,)
        Parameter count :math:`N_i`, training examples :math:`D_i` and the loss of each point
        (``> 0``; at least 6 points over 2 or more of each).
    n_boot : int, default 200
    seed : int, default 0
        Seed of the resampling.
    delta : float, default 1e-3

    Returns
    -------
    DataLawFit

    References
    ----------
    .. [1] J. Hoffmann et al., "Training Compute-Optimal Large Language Models", NeurIPS 2022,
       arXiv:2203.15556, sec. 3.3 and app. D.2.
    .. [2] T. Besiroglu, E. Erdil, M. Barnett, J. You, "Chinchilla Scaling: A replication
       attempt", arXiv:2404.10102 (2024).

    See Also
    --------
    fit_scaling_law : The law in :math:`N` alone, with intervals over seeds.

    Examples
    --------
    Points drawn from a known law (the parameters of Besiroglu et al.'s estimate, at smaller
    :math:`N` and :math:`D`), with 1% noise:

    >>> import numpy as np
    >>> from compare import fit_data_law
    >>> grid = np.meshgrid(np.geomspace(1e5, 1e7, 5), np.geomspace(1e6, 1e8, 5))
    >>> n, d = (a.ravel() for a in grid)
    >>> law = 1.82 + 482.0 * n**-0.348 + 2085.0 * d**-0.366
    >>> noisy = law * np.exp(0.01 * np.random.default_rng(0).standard_normal(n.size))
    >>> fit = fit_data_law(n, d, noisy, n_boot=50)
    >>> fit.converged, fit.intervals["alpha"][0] < 0.348 < fit.intervals["alpha"][1]
    (True, True)
    """
    log_n, log_d, log_l = _points(n_params, n_examples, losses)
    args = (log_n, log_d, log_l, delta)
    runs = sorted((_minimize(z0, args) for z0 in _start_grid(log_l)), key=lambda r: r.fun)
    best = runs[0]
    agreeing = sum(np.max(np.abs(r.x - best.x)) < AGREEMENT for r in runs)
    gradient_norm = float(np.linalg.norm(_objective(best.x, *args)[1]))
    converged = gradient_norm < GRADIENT_TOLERANCE * delta * log_l.size
    starts = [best.x] + [r.x for r in runs[1:] if np.max(np.abs(r.x - best.x)) >= AGREEMENT][:1]
    rows = np.random.default_rng(seed).integers(0, log_l.size, (n_boot, log_l.size))
    replicates = np.array([min((_minimize(z0, (log_n[p], log_d[p], log_l[p], delta))
                                for z0 in starts), key=lambda r: r.fun).x for p in rows])
    lo, hi = bootstrap_interval(best.x, replicates, log_l.size)
    # the exponents' intervals end at the bounds the fit itself cannot cross
    intervals = {name: ((float(np.exp(lo[i])), float(np.exp(hi[i]))) if i < 3 else
                        (float(max(lo[i], EXPONENT_BOUNDS[0])),
                         float(min(hi[i], EXPONENT_BOUNDS[1]))))
                 for i, name in enumerate(NAMES)}
    a, b, e, alpha, beta = best.x
    return DataLawFit(float(np.exp(e)), float(np.exp(a)), float(np.exp(b)), float(alpha),
                      float(beta), intervals, float(best.fun), gradient_norm, len(runs),
                      int(agreeing), converged, int(log_l.size), replicates)
