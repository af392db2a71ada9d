"""The moving average of plain SGD's iterates on the diagonal NQM, exact (Zhang et al. 2019,
Sec. 4.3): against a 50-digit iteration of its moment recursion, a 50-digit closed form in the
roots, simulation, and the step counts of their notebook."""

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import nqm
from nqm import symbolic as sym

DECAYS = [0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999]


def iterated(k, gamma, t, s0=1.0, drive=1.0):
    """E u_t^2 by iterating (E w^2, E w u, E u^2) at 50 digits."""
    with mp.workdps(50):
        a, g = 1 - mp.mpf(k), mp.mpf(gamma)
        ww = wu = uu = mp.mpf(s0)
        for _ in range(t):
            ww, wu, uu = (a * a * ww + drive, g * a * wu + (1 - g) * (a * a * ww + drive),
                          g * g * uu + 2 * g * (1 - g) * a * wu + (1 - g) ** 2 * (a * a * ww + drive))
        return float(uu)


def closed(k, gamma, t, s0=1.0, drive=1.0):
    """E u_t^2 at 50 digits from u_t = F_t w_0 + (1 - gamma) sum_j phi(t - j) xi_j, with
    phi(m) = (gamma^m - a^m) / (gamma - a) (a != gamma)."""
    with mp.workdps(50):
        a, g = 1 - mp.mpf(k), mp.mpf(gamma)
        f = (g * (1 - a) * g**t - a * (1 - g) * a**t) / (g - a)

        def geometric(q):                                   # sum_{m=1}^{t} q^m
            return q * (1 - q**t) / (1 - q)
        noise = (geometric(g * g) - 2 * geometric(a * g) + geometric(a * a)) / (g - a) ** 2
        return float(s0 * f * f + drive * (1 - g) ** 2 * noise)


def one_coordinate():
    return nqm.DiagonalNQM(curvatures=np.array([1.0]), noise_var=np.array([1.0]),
                           w0_sq=np.array([1.0]))


def moment(k, gamma, t):
    """E u_t^2 of a coordinate with h = 1, lr = k, B = k^2 (injected noise 1)."""
    return 2.0 * one_coordinate().expected_loss(k, k * k, t, ema_decay=gamma)


@settings(max_examples=60)
@given(gamma=st.sampled_from(DECAYS), log_k=st.floats(-9.0, np.log10(1.999)),
       t=st.sampled_from([0, 1, 2, 3, 10, 100, 1000]))
def test_against_a_50_digit_iteration(gamma, log_k, t):
    k = 10.0**log_k
    assert moment(k, gamma, t) == pytest.approx(iterated(k, gamma, t), rel=1e-9)


@settings(max_examples=60)
@given(gamma=st.sampled_from(DECAYS), log_k=st.floats(-9.0, np.log10(1.999)),
       t=st.sampled_from([10**4, 10**5, 10**6, 10**7]))
def test_against_the_50_digit_closed_form_at_long_horizons(gamma, log_k, t):
    k = 10.0**log_k
    if abs((1 - k) - gamma) < 1e-6 * gamma:             # the reference divides by gamma - a
        return
    assert moment(k, gamma, t) == pytest.approx(closed(k, gamma, t), rel=1e-9)


@pytest.mark.parametrize("gamma", DECAYS)
@pytest.mark.parametrize("distance", [0.0, 1e-12, 1e-8, -1e-8, 1e-4])
def test_exact_at_and_next_to_the_double_root(gamma, distance):
    """1 - k = gamma: the roots of the averaged sequence coincide."""
    k = (1 - gamma) * (1 + distance)
    for t in (1, 5, 50, 500):
        assert moment(k, gamma, t) == pytest.approx(iterated(k, gamma, t), rel=1e-9)


def test_the_derivation_is_a_heavy_ball():
    beta_p, k_p = sym.ema_as_heavy_ball()
    k, gamma = sp.symbols("k gamma")
    assert sp.simplify(beta_p - (1 - k) * gamma) == 0
    assert sp.simplify(k_p - k * (1 - gamma)) == 0
    assert sym.steps(sym.ema_as_heavy_ball)[-1][1] == 0


def test_expected_loss_matches_simulation():
    model = nqm.DiagonalNQM.zhang2019(dim=20)
    lr, b, gamma, steps, chains = 1.5, 4, 0.9, 60, 40_000     # 1 - lr h < 0 on the top ones
    rng = np.random.default_rng(7)
    h = model.curvatures
    w = rng.standard_normal((chains, h.size))
    u = w.copy()
    for _ in range(steps):
        w = w - lr * (h * w + rng.standard_normal(w.shape) * np.sqrt(model.noise_var / b))
        u = gamma * u + (1 - gamma) * w
    losses = 0.5 * (u**2) @ h
    exact = model.expected_loss(lr, b, steps, ema_decay=gamma)
    assert abs(losses.mean() - exact) < 4 * losses.std(ddof=1) / np.sqrt(chains)


@pytest.mark.parametrize("lr,gamma", [(1.6, 0.99), (0.3, 0.9), (1.0, 0.5)])
def test_steps_to_target_matches_a_scan_of_every_step(lr, gamma):
    """The first step at or below the target, also where the average's start share
    oscillates (1 - lr h < 0)."""
    model = nqm.DiagonalNQM.zhang2019(dim=50)
    losses = model.expected_loss(lr, 32, np.arange(3000), ema_decay=gamma)
    target = float(np.sqrt(losses[20] * losses[60]))     # in the transient, not the plateau
    assert np.min(np.abs(losses / target - 1)) > 1e-9     # no step within rounding of it
    first = int(np.argmax(losses <= target))
    assert int(np.ceil(model.steps_to_target(lr, 32, target, ema_decay=gamma))) == first


def test_bad_decay():
    with pytest.raises(ValueError, match="ema_decay"):
        nqm.DiagonalNQM.zhang2019(dim=10).expected_loss(0.1, 8, 10, ema_decay=1.0)


# -- the moving average of heavy-ball iterates ----------------------------------------------
MOMENTA = [0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999]


def iterated_with_momentum(k, beta, gamma, t, s0=1.0, drive=1.0):
    """E v_t^2 at 50 digits by iterating the second moments of (w_t, w_{t-1}, v_t)."""
    with mp.workdps(50):
        k, b, g = mp.mpf(k), mp.mpf(beta), mp.mpf(gamma)
        u = 1 + b - k
        step = mp.matrix([[u, -b, 0], [1, 0, 0], [(1 - g) * u, -(1 - g) * b, g]])
        noise = mp.matrix([[-1], [0], [-(1 - g)]])
        moments = mp.matrix(3, 3)
        for i in range(3):
            for j in range(3):
                moments[i, j] = mp.mpf(s0)                     # w_{-1} = v_0 = w_0
        for _ in range(t):
            moments = step * moments * step.T + noise * noise.T * drive
        return float(moments[2, 2])


def closed_with_momentum(k, beta, gamma, t, s0=1.0, drive=1.0):
    """E v_t^2 at 60 digits from the partial fractions of G_n over the three roots."""
    with mp.workdps(60):
        k, b, g = mp.mpf(k), mp.mpf(beta), mp.mpf(gamma)
        u = 1 + b - k
        root = mp.sqrt(mp.mpc(u * u - 4 * b))
        z = [(u + root) / 2, (u - root) / 2, mp.mpc(g)]
        c = [z[i] ** 2 / mp.fprod([z[i] - z[j] for j in range(3) if j != i]) for i in range(3)]

        def averaged(n):
            return sum(c[i] * z[i] ** n for i in range(3))
        noise = sum(c[i] * c[j] * (1 - (z[i] * z[j]) ** t) / (1 - z[i] * z[j])
                    for i in range(3) for j in range(3))
        start = g ** (t + 1) + (1 - g) * (averaged(t) - b * averaged(t - 1))
        return float(mp.re(s0 * start**2 + drive * (1 - g) ** 2 * noise))


def moment_with_momentum(k, beta, gamma, t):
    """E v_t^2 of a coordinate with h = 1, lr = k, B = k^2 (injected noise 1)."""
    return 2.0 * one_coordinate().expected_loss(k, k * k, t, momentum=beta, ema_decay=gamma)


def stable_k(beta, fraction):
    """k from 1e-9 (fraction 0) to just below the stability bound 2 (1 + beta) (fraction 1)."""
    return 10.0 ** (-9.0 + fraction * (9.0 + np.log10(2 * (1 + beta) * 0.999)))


@settings(max_examples=80)
@given(beta=st.sampled_from(MOMENTA), gamma=st.sampled_from(DECAYS),
       fraction=st.floats(0.0, 1.0), t=st.sampled_from([0, 1, 2, 3, 10, 100, 300]))
def test_with_momentum_against_a_50_digit_iteration(beta, gamma, fraction, t):
    k = stable_k(beta, fraction)
    assert moment_with_momentum(k, beta, gamma, t) == pytest.approx(
        iterated_with_momentum(k, beta, gamma, t), rel=1e-9)


@settings(max_examples=80)
@given(beta=st.sampled_from(MOMENTA), gamma=st.sampled_from(DECAYS),
       fraction=st.floats(0.0, 1.0), t=st.sampled_from([10**4, 10**5, 10**6]))
def test_with_momentum_against_the_50_digit_closed_form(beta, gamma, fraction, t):
    k = stable_k(beta, fraction)
    assert moment_with_momentum(k, beta, gamma, t) == pytest.approx(
        closed_with_momentum(k, beta, gamma, t), rel=1e-9)


@pytest.mark.parametrize("beta", MOMENTA)
@pytest.mark.parametrize("distance", [0.0, 1e-8, -1e-8, 1e-3])
def test_with_momentum_where_the_roots_cluster(beta, distance):
    """The heavy ball's double root k = (1 - sqrt(beta))^2 with the decay at that root,
    sqrt(beta) (all three roots of the average together), and next to it."""
    k = (1 - np.sqrt(beta)) ** 2 * (1 + distance)
    gamma = float(np.sqrt(beta))
    for t in (1, 7, 60, 400):
        assert moment_with_momentum(k, beta, gamma, t) == pytest.approx(
            iterated_with_momentum(k, beta, gamma, t), rel=1e-9)


@settings(max_examples=30)
@given(x=st.floats(0.05, 0.99), beta=st.floats(0.05, 0.99), k=st.floats(0.01, 1.5),
       t=st.integers(1, 12))
def test_with_momentum_the_derivation_holds(x, beta, k, t):
    """nqm.symbolic.averaged_heavy_ball_sums, evaluated at 50 digits, against G_n, the sums and
    the average itself computed from their definitions step by step."""
    closed, weighted, cross, bracket, start = sym.averaged_heavy_ball_sums()
    with mp.workdps(50):
        x, beta, k = mp.mpf(x), mp.mpf(beta), mp.mpf(k)
        u = 1 + beta - k
        g, big, v, w = [mp.mpf(1), u], [mp.mpf(1)], [mp.mpf(1)], [mp.mpf(1), mp.mpf(1)]
        for n in range(1, t + 2):
            g.append(u * g[n] - beta * g[n - 1])
            big.append(x * big[n - 1] + g[n])
            w = [u * w[0] - beta * w[1], w[0]]
            v.append(x * v[-1] + (1 - x) * w[0])
        names = {str(s_): s_ for e in (closed, weighted, cross, bracket, start)
                 for s_ in e.free_symbols}
        values = {"x": x, "beta": beta, "u": u, "x^t": x**t, "g_{t+1}": g[t + 1],
                  "g_t": g[t], "g_{t-1}": g[t - 1], "S_t": sum(g[n] ** 2 for n in range(t)),
                  "C_t": sum(g[n] * g[n + 1] for n in range(t)),
                  "T_t": sum(x**n * g[n] for n in range(t)), "gamma": x, "t": t,
                  "G_t": big[t], "G_{t-1}": big[t - 1]}
        at = {names[key]: value for key, value in values.items() if key in names}

        def number(expr):
            return mp.mpf(str(sp.N(expr.subs(at), 40)))
        p = x**2 - u * x + beta
        assert number(closed) == pytest.approx(big[t], rel=1e-30)
        assert number(weighted) == pytest.approx(values["T_t"], rel=1e-30)
        assert number(cross) == pytest.approx(values["C_t"], rel=1e-30)
        assert number(bracket) == pytest.approx(p**2 * sum(big[n] ** 2 for n in range(t)),
                                                rel=1e-25, abs=1e-30)
        assert number(start) == pytest.approx(v[t], rel=1e-30)


def test_with_momentum_matches_simulation():
    model = nqm.DiagonalNQM.zhang2019(dim=20)
    lr, b, beta, gamma, p, steps, chains = 0.3, 4, 0.8, 0.95, 0.5, 80, 40_000
    rng = np.random.default_rng(11)
    h = model.curvatures
    w = rng.standard_normal((chains, h.size))
    w_prev, v = w.copy(), w.copy()
    for _ in range(steps):
        grad = h * w + rng.standard_normal(w.shape) * np.sqrt(model.noise_var / b)
        w, w_prev = w - lr * h ** (-p) * grad + beta * (w - w_prev), w
        v = gamma * v + (1 - gamma) * w
    losses = 0.5 * (v**2) @ h
    exact = model.expected_loss(lr, b, steps, momentum=beta, ema_decay=gamma,
                                precondition_power=p)
    assert abs(losses.mean() - exact) < 4 * losses.std(ddof=1) / np.sqrt(chains)


def test_with_momentum_reduces_to_each_alone():
    """A negligible decay is the heavy ball; a negligible momentum the average of SGD."""
    model = nqm.DiagonalNQM.zhang2019(dim=100)
    t = np.array([1, 10, 1000, 123457])
    np.testing.assert_allclose(model.expected_loss(0.5, 16, t, momentum=0.9, ema_decay=1e-14),
                               model.expected_loss(0.5, 16, t, momentum=0.9), rtol=1e-9)
    np.testing.assert_allclose(model.expected_loss(0.5, 16, t, momentum=1e-14, ema_decay=0.9),
                               model.expected_loss(0.5, 16, t, ema_decay=0.9), rtol=1e-9)


def test_with_momentum_steps_to_target_matches_a_scan_of_every_step():
    model = nqm.DiagonalNQM.zhang2019(dim=50)
    kwargs = dict(momentum=0.9, ema_decay=0.95)
    losses = model.expected_loss(0.8, 32, np.arange(2000), **kwargs)
    target = float(np.sqrt(losses[15] * losses[80]))
    assert np.min(np.abs(losses / target - 1)) > 1e-9
    first = int(np.argmax(losses <= target))
    assert int(np.ceil(model.steps_to_target(0.8, 32, target, **kwargs))) == first


# Zhang et al.'s notebook (gd-zhang/noisy-quadratic-model, nqm.ipynb, run as published in a
# scratch folder): time_to_loss_ema on toy_problem(10000, 100), their count being the first t
# with L_t < C, minus one.
@pytest.mark.parametrize("batch,lr,gamma,target,steps", [(64, 0.5, 0.9, 0.1, 11730),
                                                         (1024, 1.0, 0.99, 0.01, 14336),
                                                         (16, 0.2, 0.999, 0.1, 29836)])
def test_zhang2019_binned_known_step_counts_with_averaging(batch, lr, gamma, target, steps):
    binned = nqm.DiagonalNQM.zhang2019(10_000, bins=100)
    assert int(np.ceil(binned.steps_to_target(lr, batch, target, ema_decay=gamma))) - 1 == steps
