"""The Monte Carlo table of the closed forms against simulation (closed form, mean, s.e., z).

Run by hand: ``python -m tests.nqm.monte_carlo_table`` (about a minute). It reuses the
simulators of the tests, so the table and the tests check the same thing.
"""

import numpy as np

import nqm
from tests.nqm.test_least_squares import SIGMA, D, simulate_errors
from tests.nqm.test_risk import simulate_min_norm_risk, simulate_ridge_risk
from tests.nqm.test_scalar import SIGMA2, W0, A, simulate_losses


def _row(name, exact, samples):
    return name, float(exact), samples.mean(), samples.std(ddof=1) / np.sqrt(samples.size)


def main() -> None:
    rows = []
    for lr, b, t in [(0.05, 1, 30), (0.3, 8, 20), (0.9, 64, 10)]:
        exact = nqm.scalar_expected_loss(lr, b, t, curvature=A, noise_var=SIGMA2, w0_sq=W0)
        rows.append(_row(f"scalar NQM E[L_{t}] lr={lr} B={b}", exact,
                         simulate_losses(lr, b, t, chains=200_000, seed=1)))
    model = nqm.LeastSquaresSGD(dim=D, noise_std=SIGMA, init_error=2.0 * D * D)
    for b, chains in [(2, 4000), (16, 2000), (256, 400)]:
        for frac in [0.1, 0.5, 0.9]:
            lr = frac * model.max_stable_lr(b)
            rows.append(_row(f"LS SGD e_20 D=16 B={b} lr={lr:.4g}", model.expected_error(lr, b, 20),
                             simulate_errors(lr, b, 20, chains=chains, seed=b)))
    for n in [30, 60, 150, 300]:
        for sigma in [0.0, 0.2, 1.0]:
            rows.append(_row(f"ridgeless d=100 n={n} sigma={sigma}",
                             nqm.ridgeless_risk(n, 100, noise_var=sigma**2).total,
                             simulate_min_norm_risk(n, 100, sigma, draws=1500, seed=n)))
    for n in [200, 400, 1600]:
        for factor in [0.1, 1.0, 10.0]:
            lam = factor * nqm.optimal_ridge_lambda(n, 400, noise_var=0.25)
            rows.append(_row(f"ridge d=400 n={n} lam={lam:.4g}",
                             nqm.ridge_risk(n, 400, lam, noise_var=0.25).total,
                             simulate_ridge_risk(n, 400, lam, 0.5, draws=20, seed=n)))
    print("| quantity | closed form | simulation | s.e. | z |\n|---|---:|---:|---:|---:|")
    for name, exact, mean, se in rows:
        z = (mean - exact) / se if se > 0 else 0.0
        print(f"| {name} | {exact:.6g} | {mean:.6g} | {se:.3g} | {z:+.2f} |")


if __name__ == "__main__":
    main()
