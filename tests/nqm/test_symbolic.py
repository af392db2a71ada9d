"""Every numeric closed form against its sympy derivation, at 50 digits, to 1e-10 relative."""

import mpmath
import numpy as np
import sympy as sp
from hypothesis import example, given
from hypothesis import strategies as st

import nqm
from nqm import symbolic as sym
from tests import strategies as S
from tests.helpers import high_precision, rel_err

TOL = 1e-10
EXPECTED_LOSS = sym.scalar_expected_loss()
STATIONARY = sym.scalar_stationary_loss()
FEASIBLE = sym.scalar_target_feasibility()
STEPS = sym.scalar_steps_to_target()
GREEDY = sym.optimal_lr_greedy()
LS_RECURSION = sym.least_squares_error_recursion()
UNDER, OVER = sym.ridgeless_risk()
M, DM = sym.mp_stieltjes(), sym.mp_stieltjes_derivative()
BIAS, VARIANCE = sym.ridge_risk()
LAM_STAR, TOTAL_STAR = sym.ridge_risk_at_optimum()


@given(a=S.curvatures, s2=S.noise_vars, b=S.batch_sizes, frac=st.floats(0.01, 1.3),
       t=S.steps, w0=S.log_uniform(1e-2, 1e2))
def test_scalar_expected_loss(a, s2, b, frac, t, w0):
    lr = frac * 2 / a
    numeric = nqm.scalar_expected_loss(lr, b, t, curvature=a, noise_var=s2, w0_sq=w0)
    exact = high_precision(EXPECTED_LOSS, eta=lr, a=a, sigma2=s2, B=b, t=t, w0sq=w0)
    assert rel_err(numeric, exact) < TOL


@given(a=S.curvatures, s2=S.noise_vars, b=S.batch_sizes, frac=S.fractions)
def test_scalar_stationary_loss(a, s2, b, frac):
    lr = frac * 2 / a
    numeric = nqm.scalar_stationary_loss(lr, b, curvature=a, noise_var=s2)
    assert rel_err(numeric, high_precision(STATIONARY, eta=lr, a=a, sigma2=s2, B=b)) < TOL
    assert nqm.scalar_stationary_loss(2.0001 / a, b, curvature=a, noise_var=s2) == np.inf


@given(a=S.curvatures)
def test_scalar_stability_bound(a):
    assert rel_err(nqm.scalar_max_stable_lr(curvature=a),
                   high_precision(sym.scalar_stability_bound(), a=a)) < TOL


@given(a=S.curvatures, s2=S.noise_vars, b=S.batch_sizes, target=S.log_uniform(1e-4, 1.0))
def test_scalar_target_feasibility(a, s2, b, target):
    numeric = nqm.scalar_max_feasible_lr(b, target, curvature=a, noise_var=s2)
    exact = high_precision(FEASIBLE, a=a, sigma2=s2, B=b, target=target)
    assert rel_err(numeric, exact) < TOL


@given(a=S.curvatures, s2=S.noise_vars, b=S.batch_sizes, frac=S.fractions,
       ratio=st.floats(0.01, 0.99))
def test_scalar_steps_to_target(a, s2, b, frac, ratio):
    w0 = 1.0
    lr = frac / a                       # below 1/a: the rate (1 - lr a)^2 is not degenerate
    l_inf = nqm.scalar_stationary_loss(lr, b, curvature=a, noise_var=s2)
    l_0 = a * w0 / 2
    if l_inf >= l_0:
        return
    target = l_inf + ratio * (l_0 - l_inf)
    numeric = nqm.steps_to_target(lr, b, target, curvature=a, noise_var=s2, w0_sq=w0)
    exact = high_precision(STEPS, eta=lr, a=a, sigma2=s2, B=b, target=target, w0sq=w0)
    assert rel_err(numeric, exact) < TOL


@given(a=S.curvatures, s2=S.noise_vars, b=S.batch_sizes, w=S.log_uniform(1e-3, 1e3))
def test_optimal_lr_greedy(a, s2, b, w):
    numeric = nqm.optimal_lr_greedy(b, curvature=a, noise_var=s2, w_sq=w)
    assert rel_err(numeric, high_precision(GREEDY, a=a, sigma2=s2, B=b, wsq=w)) < TOL


@given(d=st.integers(1, 64), b=S.batch_sizes, frac=st.floats(0.01, 1.2), t=st.integers(0, 300),
       sigma=S.log_uniform(0.01, 10.0))
def test_least_squares_error(d, b, frac, t, sigma):
    model = nqm.LeastSquaresSGD(dim=d, noise_std=sigma, init_error=2.0 * d * d)
    lr = frac * model.max_stable_lr(b)
    recursion = sp.lambdify(sym.m(sym.t), LS_RECURSION.subs(
        {sym.eta: sp.Float(str(lr), 60), sym.B: b, sym.D: d,
         sym.sigma2: sp.Float(str(sigma), 60) ** 2}), modules="mpmath")
    e = mpmath.mpf(2 * d * d)
    for _ in range(t):
        e = recursion(e)
    assert rel_err(model.expected_error(lr, b, t), float(e)) < TOL
    exact_bound = high_precision(sym.least_squares_max_stable_lr(), B=b, D=d)
    assert rel_err(model.max_stable_lr(b), exact_bound) < TOL


@given(n=st.integers(2, 2000), d=st.integers(1, 2000), s2=S.noise_vars,
       r2=S.log_uniform(0.01, 10.0))
def test_ridgeless_risk(n, d, s2, r2):
    risk = nqm.ridgeless_risk(n, d, noise_var=s2, signal=r2)
    if d < n - 1:
        exact = high_precision(UNDER, n=n, d=d, sigma2=s2)
    elif d > n + 1:
        exact = high_precision(OVER, n=n, d=d, sigma2=s2, r2=r2)
    else:
        assert risk.total == np.inf
        return
    assert rel_err(risk.total, exact) < TOL


@given(gamma=S.gammas, lam=S.lams, s2=S.noise_vars, r2=S.log_uniform(0.01, 10.0))
def test_ridge_risk_and_stieltjes(gamma, lam, s2, r2):
    m, dm = nqm.mp_stieltjes(-lam, gamma)
    assert rel_err(m, high_precision(M, gamma=gamma, **{"lambda": lam})) < TOL
    assert rel_err(dm, high_precision(DM, gamma=gamma, **{"lambda": lam})) < TOL
    risk = nqm.ridge_risk(1000, 1000 * gamma, lam, noise_var=s2, signal=r2)
    values = dict(gamma=gamma, sigma2=s2, r2=r2, **{"lambda": lam})
    assert rel_err(risk.bias, high_precision(BIAS, **values)) < TOL
    assert rel_err(risk.variance, high_precision(VARIANCE, **values)) < TOL


@given(gamma=S.gammas, s2=S.noise_vars, r2=S.log_uniform(0.01, 10.0))
def test_ridge_at_optimum(gamma, s2, r2):
    lam = nqm.optimal_ridge_lambda(1000, 1000 * gamma, noise_var=s2, signal=r2)
    assert rel_err(lam, high_precision(LAM_STAR, gamma=gamma, sigma2=s2, r2=r2)) < TOL
    total = nqm.ridge_risk(1000, 1000 * gamma, lam, noise_var=s2, signal=r2).total
    assert rel_err(total, high_precision(TOTAL_STAR, gamma=gamma, sigma2=s2, r2=r2)) < TOL
    # the reduced form at the optimum: sigma^2 (sqrt(...) - (1 - gamma + lam)) / (2 lam)
    c = 1 - gamma + lam
    assert rel_err(total, s2 * (np.sqrt(c * c + 4 * gamma * lam) - c) / (2 * lam)) < TOL


@given(beta=st.floats(0.0, 0.95), frac=st.floats(0.05, 0.95), t=st.integers(0, 200),
       p=st.floats(0.0, 1.0), b=S.batch_sizes)
@example(beta=5.3e-180, frac=0.5, t=0, p=0.0, b=1)      # a momentum too small to matter
def test_momentum_recursion(beta, frac, t, p, b):
    """The diagonal NQM with momentum against the symbolic 3x3 matrix iterated at 50 digits."""
    model = nqm.DiagonalNQM.zhang2019(dim=4)
    lr = frac * model.max_stable_lr(momentum=beta, precondition_power=p)
    matrix = sym.momentum_moment_matrix()
    u, bb = sp.symbols("u beta")
    exact = mpmath.mpf(0)
    for h in model.curvatures:
        alpha = mpmath.mpf(lr) * mpmath.mpf(h) ** (-p)
        mat = mpmath.matrix(matrix.subs({u: 1 + sp.Float(str(beta), 60) - alpha * h,
                                         bb: sp.Float(str(beta), 60)}).evalf(50).tolist())
        state = mpmath.matrix([1, 1, 1])
        for _ in range(t):
            state = mat * state
            state[0] += alpha**2 * mpmath.mpf(h) / b
        exact += mpmath.mpf(h) * state[0] / 2
    numeric = model.expected_loss(lr, b, t, momentum=beta, precondition_power=p)
    assert rel_err(numeric, float(exact)) < TOL


FIXED_HORIZON = sym.fixed_horizon_optimal_lr()


def test_fixed_horizon_optimum_is_the_logarithmic_rule():
    """c ln(B / B0) with c = 1 / (2 a T), B0 = sigma^2 / (4 a^2 T w0^2): compare's rule."""
    c = 1 / (2 * sym.a * sym.t)
    b0 = sym.sigma2 / (4 * sym.a**2 * sym.t * sym.w0sq)
    assert sp.simplify(sp.expand_log(FIXED_HORIZON - c * sp.log(sym.B / b0), force=True)) == 0


@given(a=S.log_uniform(0.1, 10.0), s2=S.log_uniform(1e-2, 1e2), w0=S.log_uniform(1e-2, 1e2),
       u=st.floats(2.0, 12.0), t=st.sampled_from([10_000, 100_000]))
def test_fixed_horizon_optimum_against_the_exact_argmin(a, s2, w0, u, t):
    # at B = B0 e^u the optimum sits at eta a = u / (2T); the two terms the approximation
    # drops are of relative size u e^-u (the decaying part of the stationary term) and eta a
    b = s2 / (4 * a**2 * t * w0) * np.exp(u)
    exact = nqm.optimal_lr_horizon(b, t, curvature=a, noise_var=s2, w0_sq=w0)
    approx = high_precision(FIXED_HORIZON, a=a, sigma2=s2, B=b, t=t, w0sq=w0)
    assert rel_err(exact, approx) < u * np.exp(-u) + u / t


def test_every_derivation_shows_its_steps():
    """The docs page shows each derivation's own steps, not only its result."""
    for derivation in sym.DERIVATIONS:
        recorded = sym.steps(derivation)
        assert recorded, derivation.__name__
        assert all(isinstance(what, str) and sym.latex_of(expr) for what, expr in recorded)
    # only the traced derivation's own steps: scalar_expected_loss calls two others
    assert [w for w, _ in sym.steps(sym.scalar_expected_loss)] == ["L = (a/2) w^2, in expectation"]
