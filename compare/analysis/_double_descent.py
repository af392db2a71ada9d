"""Monte Carlo of min-norm and ridge least squares, to set beside :mod:`nqm`'s risk formulas."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from empirical._core.arguments import SEED, checked, numbers, whole, wholes
from empirical._core.checks import memory_limit


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
        Ridge at :math:`\\lambda = \\sigma^2 d / n` (the optimum for unit signal); where
        :math:`\\sigma = 0` the penalty is 0 and ridge is the min-norm solution.

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


@checked(d=whole(1, 10_000), ns=wholes(1, 10**6), noise_vars=numbers(1, low=0.0),
         trials=whole(1, 100_000), seed=SEED)
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

    References
    ----------
    .. [1] T. Hastie, A. Montanari, S. Rosset, R. J. Tibshirani, "Surprises in
       High-Dimensional Ridgeless Least Squares Interpolation", Ann. Statist. 50 (2022),
       arXiv:1903.08560 (the risks it checks).

    See Also
    --------
    nqm.ridgeless_risk : The min-norm formula.
    nqm.ridge_risk : The ridge formula.
    plot_double_descent : Draws both.

    Examples
    --------
    The ridgeless risk over 200 draws against its finite-sample formula, :math:`d = 50`:

    >>> import numpy as np, nqm
    >>> from compare import simulate_risk
    >>> sim = simulate_risk(50, [100, 400], (0.04,), trials=200)
    >>> print(sim.ridgeless.mean(axis=-1).round(4))
    [[0.0417 0.0057]]
    >>> print(nqm.ridgeless_risk(np.array([100, 400]), 50, noise_var=0.04).total.round(4))
    [0.0408 0.0057]
    """
    ns = np.asarray(ns, dtype=int)
    if d < 1 or ns.ndim != 1 or np.any(ns < 1) or trials < 1:
        raise ValueError(f"need d >= 1, 1-d ns >= 1 and trials >= 1, got d={d}, ns={ns!r}, "
                         f"trials={trials}")
    if 8 * int(ns.max()) * d * 3 > memory_limit():
        raise ValueError(f"ns up to {ns.max()} samples of d={d} features need more memory than "
                         "this machine has")
    variances = np.asarray(noise_vars, dtype=float)
    if variances.ndim != 1 or not np.all(np.isfinite(variances) & (variances >= 0)):
        raise ValueError(f"noise_vars must be finite variances >= 0, got {noise_vars!r}")
    rng = np.random.default_rng(seed)
    sigmas = np.sqrt(variances)
    ridgeless = np.empty((sigmas.size, ns.size, trials))
    ridge = np.empty_like(ridgeless)
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
                else:                     # lambda = 0: ridge's limit is the min-norm solution
                    ridge[i, j, t] = ridgeless[i, j, t]
    return RiskSimulation(d, ns, tuple(float(v) for v in noise_vars), ridgeless, ridge)
