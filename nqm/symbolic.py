"""Sympy derivations of every closed form in :mod:`nqm`.

Each function derives one expression from its model's definition and returns it (a sympy
expression, or a tuple of them) in terms of the module-level symbols below. The numeric
functions are tested against these at random points, evaluated at 50 digits with mpmath.

Examples
--------
>>> from nqm import symbolic
>>> symbolic.scalar_stationary_loss()
-eta*sigma^2/(2*B*(a*eta - 2))
>>> symbolic.scalar_stability_bound()
2/a
"""

from __future__ import annotations

import sympy as sp

# the symbols every derivation is written in (eta, a, sigma^2, B, w_0^2, w^2, t, target, D,
# gamma, lambda, r^2, n, d and the function m), importable from here
from nqm._derivation import (  # noqa: F401
    _QUADRATIC,
    B,
    D,
    _step,
    a,
    as_latex,
    d,
    eta,
    gamma,
    lam,
    latex_of,
    m,
    n,
    r2,
    sigma2,
    steps,
    t,
    target,
    w0sq,
    wsq,
)
from nqm._symbolic_least_squares import (
    least_squares_error_recursion,
    least_squares_max_stable_lr,
    least_squares_noise_scale,
    wishart_second_moment,
)
from nqm._symbolic_risk import (
    marchenko_pastur_edge,
    mp_stieltjes,
    mp_stieltjes_derivative,
    ridge_risk,
    ridge_risk_at_optimum,
    ridgeless_risk,
)


def scalar_moment_recursion() -> sp.Expr:
    r"""Right-hand side of :math:`\mathbb{E}w_{t+1}^2` in terms of ``m(t)`` = :math:`\mathbb{E}w_t^2`.

    From :math:`w_{t+1} = (1 - \eta a) w_t - \eta\xi_t` with :math:`\mathbb{E}\xi = 0`,
    :math:`\mathbb{E}\xi^2 = \sigma^2/B`, :math:`\xi` independent of :math:`w_t`.
    """
    w, xi, xi2 = sp.symbols("w xi xi2")
    square = _step("square the update", sp.expand(((1 - eta * a) * w - eta * xi) ** 2))
    square = _step("take expectations: E xi = 0, E xi^2 = sigma^2 / B",
                   square.subs(xi**2, xi2).subs(xi, 0).subs(xi2, sigma2 / B))
    return square.subs(w**2, m(t))


def scalar_second_moment() -> sp.Expr:
    r""":math:`\mathbb{E}w_t^2` solving the recursion with :math:`\mathbb{E}w_0^2 = w_0^2`."""
    rate = (1 - eta * a) ** 2
    drive = eta**2 * sigma2 / B
    recursion = scalar_moment_recursion()
    assert sp.simplify(recursion - (rate * m(t) + drive)) == 0
    _step("the recursion is affine, m(t+1) = rate m(t) + drive", sp.Eq(m(t + 1), rate * m(t) + drive))
    solution = _step("solved with m(0) = w_0^2 (sympy rsolve)",
                     sp.rsolve(m(t + 1) - rate * m(t) - drive, m(t), {m(0): w0sq}))
    return _step("simplified", sp.simplify(solution))


def scalar_expected_loss() -> sp.Expr:
    r""":math:`\mathbb{E}L_t = \tfrac{a}{2}\mathbb{E}w_t^2`."""
    return _step("L = (a/2) w^2, in expectation", a / 2 * scalar_second_moment())


def scalar_stationary_loss() -> sp.Expr:
    """The fixed point of the moment recursion, as a loss."""
    fixed = _step("fixed point m = E w^2 of the moment recursion",
                  sp.solve(sp.Eq(m(t), scalar_moment_recursion()), m(t))[0])
    return _step("as a loss, a/2 m", sp.factor(a / 2 * fixed))


def scalar_stability_bound() -> sp.Expr:
    r"""The positive :math:`\eta` at which the recursion's rate :math:`(1-\eta a)^2` reaches 1."""
    roots = _step("roots of (1 - eta a)^2 = 1", sp.solve(sp.Eq((1 - eta * a) ** 2, 1), eta))
    return _step("the positive one", max(roots, key=lambda r: r.subs(a, 1)))


def scalar_target_feasibility() -> sp.Expr:
    r"""The :math:`\eta` at which the stationary loss equals the target: the reachable range's edge."""
    _step("set the stationary loss to the target", sp.Eq(scalar_stationary_loss(), target))
    return _step("solved for eta", sp.solve(sp.Eq(scalar_stationary_loss(), target), eta)[0])


def scalar_steps_to_target() -> sp.Expr:
    r"""The real :math:`t` solving :math:`\mathbb{E}L_t = L^\star` (``target``)."""
    power = sp.Symbol("power", positive=True)              # (1 - eta a)^(2 t)
    rate = (1 - eta * a) ** 2
    loss = _step("the loss is affine in power = (1 - eta a)^(2t)", scalar_expected_loss().replace(
        lambda e: e.is_Pow and e.exp == 2 * t, lambda e: power))
    solved = _step("solve loss = target for power", sp.solve(sp.Eq(loss, target), power)[0])
    return _step("t = log(power) / log((1 - eta a)^2)", sp.log(solved) / sp.log(rate))


def optimal_lr_greedy() -> sp.Expr:
    r"""Minimizer of the one-step loss from :math:`\mathbb{E}w^2 =` ``wsq``."""
    one_step = _step("expected loss after one step from E w^2 = w^2",
                     a / 2 * scalar_moment_recursion().subs(m(t), wsq))
    slope = _step("its derivative in eta", sp.diff(one_step, eta))
    return _step("the root: the derivative vanishes", sp.simplify(sp.solve(slope, eta)[0]))


def fixed_horizon_optimal_lr() -> sp.Expr:
    r"""The fixed-horizon optimum for small :math:`\eta a` and :math:`B \gg B_0`: :math:`c \ln(B/B_0)`.

    For :math:`\eta a \ll 1`, :math:`(1-\eta a)^{2T} \approx e^{-2\eta a T}` and the
    stationary loss :math:`\approx \eta\sigma^2/(4B)`; dropping the decaying part of the
    stationary term (relative size :math:`u e^{-u}` at :math:`B = B_0 e^u`), the loss after
    :math:`T` steps is :math:`\tfrac a2 w_0^2 e^{-2a\eta T} + \eta\sigma^2/(4B)`, whose
    minimizer is
    :math:`\ln(4a^2Tw_0^2B/\sigma^2)/(2aT)`: logarithmic in :math:`B`, with
    :math:`c = 1/(2aT)` and :math:`B_0 = \sigma^2/(4a^2Tw_0^2)`
    (:func:`compare.logarithmic_rule`).
    """
    small = _step("the stationary loss to first order in eta",
                  sp.series(scalar_stationary_loss(), eta, 0, 2).removeO())
    loss = _step("the loss after T = t steps, (1 - eta a)^(2t) ~ exp(-2 eta a t)",
                 a / 2 * w0sq * sp.exp(-2 * a * eta * t) + small)
    slope = _step("its derivative in eta", sp.diff(loss, eta))
    root = _step("its root", sp.solve(slope, eta)[0])
    closed = sp.log(4 * a**2 * t * w0sq * B / sigma2) / (2 * a * t)
    assert sp.simplify(sp.expand_log(root - closed, force=True)) == 0
    return _step("written as one logarithm", closed)


def momentum_moment_matrix() -> sp.Matrix:
    r"""The 3x3 map of :math:`(\mathbb{E}w_t^2, \mathbb{E}w_t w_{t-1}, \mathbb{E}w_{t-1}^2)`.

    Heavy ball :math:`w_{t+1} = u w_t - \beta w_{t-1} - \alpha\xi_t` with
    :math:`u = 1 + \beta - k`; the noise adds :math:`\alpha^2 c/B` to the first entry only.
    """
    u, beta, w1, w2 = sp.symbols("u beta w1 w2")
    nxt = _step("the noise-free update w_{t+1} in terms of w1 = w_t, w2 = w_{t-1}",
                u * w1 - beta * w2)
    rows = _step("the new second moments, expanded", [sp.expand(nxt**2), sp.expand(nxt * w1),
                                                      w1**2])
    monomials = [w1**2, w1 * w2, w2**2]
    return sp.Matrix([[sp.Poly(row, w1, w2).coeff_monomial(mono) for mono in monomials]
                      for row in rows])


def momentum_stability_bound() -> sp.Expr:
    r"""Largest stable effective curvature :math:`k = \eta h^{1-p}` under momentum :math:`\beta`.

    The characteristic polynomial :math:`z^2 - (1+\beta-k)z + \beta` has a root at
    :math:`z = -1` when :math:`k = 2(1 + \beta)` (Jury's criterion gives stability for
    :math:`0 < k < 2(1+\beta)`, :math:`0 \le \beta < 1`).
    """
    k, beta = sp.symbols("k beta")
    z = -1
    polynomial = _step("the characteristic polynomial at z = -1", z**2 - (1 + beta - k) * z + beta)
    return _step("solved for k", sp.solve(sp.Eq(polynomial, 0), k)[0])


def heavy_ball_noise_sum() -> tuple[sp.Expr, sp.Expr]:
    r"""(:math:`P`, :math:`c`) with :math:`\sum_{n<t} g_n^2 = P(1 - f_t^2 - c\,g_t g_{t-1})`.

    :math:`g_n` is heavy ball's impulse response (:math:`g_0 = 1`, :math:`g_{-1} = 0`,
    :math:`g_{n+1} = u g_n - \beta g_{n-1}`, :math:`u = 1+\beta-k`) and :math:`f_t = g_t -
    \beta g_{t-1}` its response to the start. The ansatz holds at :math:`t = 0` (both sides
    vanish) and is kept by every step iff the increment equals :math:`g_t^2` for all
    :math:`(g_t, g_{t-1})`: matching coefficients fixes :math:`P` and :math:`c`.
    :math:`P` is the stationary sum :math:`\sum_n g_n^2`, so :math:`\mathbb{E}w_t^2 =
    s_0 f_t^2 + D S_t = m_\infty + (s_0 - m_\infty) f_t^2 - m_\infty c\, g_t g_{t-1}` with
    :math:`m_\infty = DP`.
    """
    k, beta, g_now, g_before, big_p, c = sp.symbols("k beta g_t g_{t-1} P c")
    u = 1 + beta - k
    g_next = u * g_now - beta * g_before

    def ansatz(now, before):
        return big_p * (1 - (now - beta * before) ** 2 - c * now * before)
    increment = _step("S_{t+1} - S_t - g_t^2 under the ansatz, a polynomial in (g_t, g_{t-1})",
                      sp.expand(ansatz(g_next, g_now) - ansatz(g_now, g_before) - g_now**2))
    coefficients = _step("its coefficients, all of which must vanish",
                         sp.Poly(increment, g_now, g_before).coeffs())
    solution = sp.solve(coefficients, [big_p, c], dict=True)[0]
    assert sp.simplify(ansatz(1, 0).subs(solution)) == 0                  # S_0 = 0
    return _step("solved for P and c", (sp.factor(solution[big_p]), sp.factor(solution[c])))


def greedy_lr_is_mccandlish() -> sp.Expr:
    r"""The exact greedy step of least-squares SGD is McCandlish et al.'s
    :math:`\eta_\max / (1 + B_{\rm noise}/B)`, with :math:`B_{\rm noise} = \operatorname{tr}
    \Sigma / \lvert G\rvert^2` at the expected error (a ratio of expectations)."""
    g2, trace, lr_max = least_squares_noise_scale()
    one_step = least_squares_error_recursion()
    greedy = _step("minimize e_{t+1} over eta: the root of its derivative",
                   sp.solve(sp.diff(one_step, eta), eta)[0])
    b_noise = _step("B_noise = tr Sigma / G.G", trace / g2)
    rule = _step("McCandlish: eta_max / (1 + B_noise / B)", lr_max / (1 + b_noise / B))
    return _step("their difference simplifies to 0", sp.simplify(greedy - rule))


def quadratic_greedy_step() -> tuple[sp.Expr, sp.Expr]:
    r"""(:math:`\eta_{\rm opt}`, :math:`\Delta L_{\rm opt}`): the greedy step of minibatch SGD on
    any quadratic and its expected improvement, McCandlish et al.'s eqs. 2.6-2.7.

    One step :math:`w - \eta g` with :math:`\mathbb{E}g = G`, :math:`\operatorname{Cov}g =
    \Sigma/B` changes a quadratic loss by :math:`-\eta G^\top g + \tfrac{\eta^2}{2} g^\top H g`;
    in expectation :math:`\mathbb{E}g^\top H g = G^\top H G + \operatorname{tr}(H\Sigma)/B`.
    Symbols: ``GG`` is :math:`\lvert G\rvert^2`, ``GHG`` is :math:`G^\top H G`, ``trHSigma`` is
    :math:`\operatorname{tr}(H\Sigma)`.
    """
    g2, ghg, ths = _QUADRATIC
    improvement = _step("the expected improvement of one step with rate eta",
                        eta * g2 - eta**2 / 2 * (ghg + ths / B))
    best = _step("the root of its derivative in eta", sp.solve(sp.diff(improvement, eta), eta)[0])
    lr_max, b_noise = g2 / ghg, ths / ghg
    _step("minus McCandlish's eta_max / (1 + B_noise / B) simplifies to 0",
          sp.simplify(best - lr_max / (1 + b_noise / B)))
    gain = _step("the improvement there", sp.simplify(improvement.subs(eta, best)))
    _step("minus Delta L_max / (1 + B_noise / B), Delta L_max = eta_max GG / 2, simplifies to 0",
          sp.simplify(gain - lr_max * g2 / 2 / (1 + b_noise / B)))
    return best, gain


def steps_examples_tradeoff() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    r"""(:math:`S`, :math:`E`, :math:`(S/S_{\min} - 1)(E/E_{\min} - 1)`) at a constant noise
    scale: McCandlish et al.'s eqs. 2.8-2.11.

    A loss decrease :math:`\Delta` made of greedy steps, each improving by
    :math:`\Delta L_{\rm opt}(B)` (:func:`quadratic_greedy_step`), takes
    :math:`S = \Delta / \Delta L_{\rm opt}` steps and :math:`E = BS` examples; :math:`S_{\min}`
    is the limit :math:`B \to \infty`, :math:`E_{\min}` the limit :math:`B \to 0`.
    """
    g2, ghg, ths = _QUADRATIC
    progress = sp.Symbol("Delta", positive=True)
    steps = _step("S = Delta / Delta L_opt(B)", sp.simplify(progress / quadratic_greedy_step()[1]))
    examples = _step("E = B S", sp.simplify(B * steps))
    s_min = _step("S_min, the limit B -> oo", sp.limit(steps, B, sp.oo))
    e_min = _step("E_min, the limit B -> 0", sp.limit(examples, B, 0))
    _step("B_crit = E_min / S_min equals B_noise = trHSigma / GHG", sp.simplify(e_min / s_min))
    product = _step("(S / S_min - 1)(E / E_min - 1)",
                    sp.simplify((steps / s_min - 1) * (examples / e_min - 1)))
    return steps, examples, product


def greedy_error_map() -> tuple[sp.Expr, sp.Expr]:
    r"""(least squares, scalar NQM): the error after one greedy step, each written as
    :math:`e\,B_{\rm noise}/(B + B_{\rm noise})` with :math:`B_{\rm noise} = k + c/e`, and the
    scalar model's map on :math:`1/e`.

    Least squares: :math:`k = D + 1`, :math:`c = \sigma^2 D^2` (:func:`least_squares_noise_scale`);
    the scalar NQM (error :math:`\mathbb{E}w^2`): :math:`k = 0`, :math:`c = \sigma^2/a^2`, where
    the map is :math:`1/e' = 1/e + B a^2/\sigma^2`, linear in the step count.
    """
    e = m(t)
    recursion = least_squares_error_recursion()
    greedy = sp.solve(sp.diff(recursion, eta), eta)[0]
    least_squares = _step("least squares: the error recursion at its greedy rate",
                          sp.factor(recursion.subs(eta, greedy)))
    noise = D + 1 + sigma2 * D**2 / e
    _step("minus e B_noise / (B + B_noise), B_noise = D + 1 + sigma^2 D^2 / e, simplifies to 0",
          sp.simplify(least_squares - e * noise / (B + noise)))
    scalar_recursion = scalar_moment_recursion()
    scalar = _step("the scalar NQM: its moment recursion at its greedy rate",
                   sp.factor(scalar_recursion.subs(eta, sp.solve(sp.diff(scalar_recursion, eta),
                                                                 eta)[0])))
    _step("minus e B_noise / (B + B_noise), B_noise = sigma^2 / (a^2 e), simplifies to 0",
          sp.simplify(scalar - e * (sigma2 / (a**2 * e)) / (B + sigma2 / (a**2 * e))))
    _step("1/e' - 1/e = B a^2 / sigma^2, whatever e",
          sp.simplify(1 / scalar - 1 / e))
    return least_squares, scalar


def greedy_critical_batch() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    r"""(:math:`S_{\min}`, :math:`E_{\min}`, :math:`B_{\rm crit}`) of McCandlish et al.'s
    continuum model from error :math:`e_0` (``w_0^2``) to :math:`e` (``target``) with
    :math:`B_{\rm noise}(e) = k + c/e` and :math:`\Delta e_{\max} = e`, as on least squares
    and the scalar NQM (:func:`greedy_error_map`).

    Each greedy step improves the error by :math:`e / (1 + B_{\rm noise}(e)/B)`
    (:func:`quadratic_greedy_step`); summed as an integral over the error,
    :math:`S(B) = \int_e^{e_0} (1 + B_{\rm noise}(x)/B)\,dx/x`.
    """
    k, c, x = sp.symbols("k c x", positive=True)
    e0, e = w0sq, target
    steps = _step("S(B): the integral of (1 + B_noise(x)/B) / x from e to e_0",
                  sp.integrate((1 + (k + c / x) / B) / x, (x, e, e0)))
    s_min = _step("S_min, the limit B -> oo", sp.simplify(sp.limit(steps, B, sp.oo)))
    e_min = _step("E_min, the limit of B S as B -> 0", sp.simplify(sp.limit(B * steps, B, 0)))
    _step("S(B) - S_min (1 + B_crit / B), B_crit = E_min / S_min, simplifies to 0",
          sp.simplify(steps - s_min * (1 + e_min / s_min / B)))
    return s_min, e_min, sp.simplify(e_min / s_min)


def ema_as_heavy_ball() -> tuple[sp.Expr, sp.Expr]:
    r"""(:math:`\beta'`, :math:`k'`): the moving average :math:`u_t = \gamma u_{t-1} +
    (1-\gamma) w_t` of plain SGD's iterates :math:`w_{t+1} = (1-k) w_t - \xi_t` is a
    heavy-ball sequence :math:`u_{t+1} = (1 + \beta' - k') u_t - \beta' u_{t-1} -
    (1-\gamma)\xi_t` started at :math:`u_{-1} = u_0 = w_0`; its roots are :math:`1-k` and
    :math:`\gamma`."""
    k, g, w0, xi, u_prev, w_now = sp.symbols("k gamma w_0 xi u_{t-1} w_t")
    beta_p = _step("beta' = (1 - k) gamma, the product of the roots", (1 - k) * g)
    k_p = _step("k' = 1 + beta' - (1 - k + gamma), one minus the sum of the roots plus beta'",
                sp.factor(1 + beta_p - (1 - k + g)))
    u_now = g * u_prev + (1 - g) * w_now
    u_next = g * u_now + (1 - g) * ((1 - k) * w_now - xi)
    step = _step("u(t+1) - (1 + beta' - k') u(t) + beta' u(t-1), for any u(t-1) and w(t)",
                 sp.simplify(u_next - (1 + beta_p - k_p) * u_now + beta_p * u_prev))
    first = _step("the heavy-ball u(1) from u(-1) = u(0) = w0, minus gamma w0 + (1 - gamma) w(1)",
                  sp.simplify((1 + beta_p - k_p) * w0 - beta_p * w0 - (1 - g) * xi
                              - (g * w0 + (1 - g) * ((1 - k) * w0 - xi))))
    assert sp.simplify(step + (1 - g) * xi) == 0
    assert first == 0
    return beta_p, k_p


def averaged_heavy_ball_sums() -> tuple[sp.Expr, ...]:
    r"""The moving average of heavy-ball iterates in the heavy ball's own closed forms.

    With :math:`g_n` the heavy ball's impulse response (:func:`heavy_ball_noise_sum`; its
    roots :math:`y, z`, :math:`\beta = yz`, :math:`u = y + z`) and :math:`x` a third root,
    :math:`G_n = \sum_{m \le n} x^{n-m} g_m` (the response of the average with decay
    :math:`x`, or, for :math:`x` a heavy-ball root, of the average seen from the other two).
    Returns, each checked here by the recursion of :math:`g` (``t`` the step):

    - :math:`G_t = (x^{t+2} - x g_{t+1} + \beta g_t) / P(x)`, :math:`P(x) = x^2 - ux + \beta`
      (it satisfies :math:`G_t = x G_{t-1} + g_t` and :math:`G_0 = 1`);
    - :math:`\sum_{n<t} x^n g_n = (1 - x^t g_t + \beta x^{t+1} g_{t-1}) / (1 - ux + \beta
      x^2)` (its increment is :math:`x^t g_t`; zero at :math:`t = 0`);
    - :math:`\sum_{n<t} g_n g_{n+1} = (u S_t + \beta g_t g_{t-1}) / (1 + \beta)`,
      :math:`S_t = \sum_{n<t} g_n^2` (increment :math:`g_t g_{t+1}` given that of
      :math:`S_t`);
    - :math:`P(x)^2 \sum_{n<t} G_n^2` in those sums: :math:`x^4 \sum x^{2n} + 2x^2(1 -
      (1-\beta)\sum x^n g_n - x^t g_t) + \beta^2 S_t - 2\beta x \sum g_n g_{n+1} + x^2
      (S_t + g_t^2 - 1)` (:math:`P G_n = x^{n+2} + \beta g_n - x g_{n+1}`, squared and summed);
    - the start's response of the average :math:`v_t = \gamma v_{t-1} + (1-\gamma) w_t`,
      :math:`v_0 = w_0`, of heavy-ball iterates (:math:`x = \gamma`):
      :math:`F_t = \gamma^{t+1} + (1-\gamma)(G_t - \beta G_{t-1})`.
    """
    x, beta, u, g_next, g_now, g_before = sp.symbols("x beta u g_{t+1} g_t g_{t-1}")
    x_t, s_t, c_t, t_t = sp.symbols("x^t S_t C_t T_t")
    recursion = {g_next: u * g_now - beta * g_before}
    p = x**2 - u * x + beta

    def averaged(power, ahead, now):                  # G at the step whose x-power is given
        return (power * x**2 - x * ahead + beta * now) / p
    closed = _step("G_t = (x^(t+2) - x g_(t+1) + beta g_t) / P(x)", averaged(x_t, g_next, g_now))
    step = _step("G_t - x G_(t-1) - g_t, with g_(t+1) = u g_t - beta g_(t-1)",
                 sp.simplify((closed - x * averaged(x_t / x, g_now, g_before) - g_now)
                             .subs(recursion)))
    assert step == 0 and sp.simplify(averaged(1, u, 1) - 1) == 0          # G_0 = g_0 = 1
    q = 1 - u * x + beta * x**2

    def weighted(power, now, before):                 # sum_{n<t} x^n g_n
        return (1 - power * now + beta * x * power * before) / q
    weighted_sum = _step("sum_(n<t) x^n g_n", weighted(x_t, g_now, g_before))
    assert sp.simplify((weighted(x * x_t, g_next, g_now) - weighted_sum - x_t * g_now)
                       .subs(recursion)) == 0
    assert sp.simplify(weighted(1, 1, 0)) == 0

    def cross(squares, now, before):                  # sum_{n<t} g_n g_(n+1)
        return (u * squares + beta * now * before) / (1 + beta)
    cross_sum = _step("sum_(n<t) g_n g_(n+1)", cross(s_t, g_now, g_before))
    assert sp.simplify((cross(s_t + g_now**2, g_next, g_now) - cross_sum - g_now * g_next)
                       .subs(recursion)) == 0
    geometric = (1 - x_t**2) / (1 - x**2)
    bracket = _step("P(x)^2 sum_(n<t) G_n^2",
                    x**4 * geometric + 2 * x**2 * (1 - (1 - beta) * t_t - x_t * g_now)
                    + beta**2 * s_t - 2 * beta * x * c_t + x**2 * (s_t + g_now**2 - 1))
    big_g, big_g_before = sp.symbols("G_t G_{t-1}")
    start = _step("F_t = gamma^(t+1) + (1 - gamma)(G_t - beta G_(t-1))",
                  gamma * gamma**t + (1 - gamma) * (big_g - beta * big_g_before))
    # both against the definitions, exactly, at rational points and the first steps
    point = {x: sp.Rational(3, 5), beta: sp.Rational(2, 7), u: sp.Rational(9, 10)}
    g, big, v, w = [sp.Integer(1), point[u]], [sp.Integer(1)], [sp.Integer(1)], [1, 1]
    for j in range(1, 7):
        g.append(point[u] * g[j] - point[beta] * g[j - 1])
        big.append(point[x] * big[j - 1] + g[j])
        w = [point[u] * w[0] - point[beta] * w[1], w[0]]              # w_n, w_(n-1)
        v.append(point[x] * v[-1] + (1 - point[x]) * w[0])          # the average, decay x
    for now in range(1, 6):
        sums = {x_t: point[x] ** now, g_now: g[now], g_before: g[now - 1],
                s_t: sum(g[j] ** 2 for j in range(now)),
                c_t: sum(g[j] * g[j + 1] for j in range(now)),
                t_t: sum(point[x] ** j * g[j] for j in range(now))}
        assert bracket.subs(point).subs(sums) == p.subs(point) ** 2 * sum(
            big[j] ** 2 for j in range(now))
        assert start.subs({gamma: point[x], t: now, big_g: big[now], big_g_before: big[now - 1],
                           beta: point[beta]}) == v[now]
    return closed, weighted_sum, cross_sum, bracket, start


def information_lower_bound() -> sp.Expr:
    r"""Zhang et al.'s bound on the steps :math:`T` to reach loss ``target`` at batch size
    :math:`B` for one coordinate of curvature ``a`` and per-example gradient-noise variance
    ``sigma^2``: each example's gradient :math:`a(w - w^\star) + \xi` carries Fisher
    information :math:`a^2/\sigma^2` about :math:`w^\star`, so :math:`N = BT` examples allow
    no unbiased estimate with variance below :math:`\sigma^2/(N a^2)` (Cramér-Rao)."""
    variance = _step("the Cramer-Rao bound with N = B t examples", sigma2 / (B * t * a**2))
    loss = _step("the expected loss a/2 Var", sp.simplify(a / 2 * variance))
    return _step("the t at which it equals the target", sp.solve(sp.Eq(loss, target), t)[0])


def sign_descent_surge() -> tuple[sp.Expr, sp.Expr]:
    r"""(:math:`B_{\rm noise}`, :math:`\epsilon_\max`): the surge of sign descent's best step.

    One step :math:`-\epsilon\operatorname{sign}\tilde g` on a quadratic changes the loss in
    expectation by :math:`-\epsilon\,G^\top e + \tfrac{\epsilon^2}{2}(e^\top H e + \sum_i
    H_{ii}(1 - e_i^2))` with :math:`e_i = \operatorname{erf}(G_i\sqrt{B}/(\sqrt2\sigma_i))`
    (:func:`nqm.sign_descent_lr`). For small :math:`B`, :math:`e_i \approx \sqrt{2B/\pi}\,
    G_i/\sigma_i`; in the coefficients ``a`` :math:`= \sqrt{2/\pi}\sum_i G_i^2/\sigma_i`,
    ``b`` :math:`= \operatorname{tr}H` and ``c`` :math:`= \tfrac2\pi(u^\top H u - \sum_i H_{ii}
    u_i^2)`, :math:`u = G/\sigma`, the best step is :math:`a\sqrt B/(b + cB)`, which is Li et
    al.'s surge :math:`\epsilon_\max / (\tfrac12(\sqrt{B_{\rm noise}/B} + \sqrt{B/B_{\rm
    noise}}))`."""
    ca, cb, cc, eps = sp.symbols("a b c epsilon", positive=True)
    change = _step("the expected change of the loss, linear e: -eps a sqrt(B) + eps^2/2 (b + c B)",
                   -eps * ca * sp.sqrt(B) + eps**2 / 2 * (cb + cc * B))
    best = _step("the root of its derivative in eps", sp.solve(sp.diff(change, eps), eps)[0])
    b_noise = _step("the peak: the root of d best / dB", sp.solve(sp.diff(best, B), B)[0])
    lr_max = _step("the best step there", sp.simplify(best.subs(B, b_noise)))
    surge = lr_max / (sp.Rational(1, 2) * (sp.sqrt(b_noise / B) + sp.sqrt(B / b_noise)))
    _step("minus the surge eps_max / (1/2 (sqrt(B_noise/B) + sqrt(B/B_noise))) simplifies to 0",
          sp.simplify(best - surge))
    return b_noise, lr_max

def adam_stability_bound() -> sp.Expr:
    r"""Largest stable rate :math:`\eta` of Adam with its preconditioner :math:`P` frozen, along
    an eigenvector of :math:`P^{-1}H` with eigenvalue :math:`a`.

    With :math:`P` fixed, Adam's update is exponential-moving-average momentum:
    :math:`m_{t+1} = \beta_1 m_t + (1-\beta_1) a x_t`, :math:`x_{t+1} = x_t - \eta m_{t+1}`
    (bias correction, whose factor tends to 1, left out). The characteristic polynomial of its
    transition matrix has a root at :math:`z = -1` when :math:`\eta a = 2(1+\beta_1)/(1-\beta_1)`,
    the stability threshold Cohen et al. (2022) find the preconditioned sharpness equilibrates
    at (:math:`38/\eta` for :math:`\beta_1 = 0.9`).
    """
    beta1, z, x, first = sp.symbols("beta_1 z x m")
    first_next = beta1 * first + (1 - beta1) * a * x
    transition = _step("the Jacobian of (x, m) -> (x - eta m', m'), m' = beta_1 m + (1 - beta_1) a x",
                       sp.Matrix([x - eta * first_next, first_next]).jacobian([x, first]))
    polynomial = _step("its characteristic polynomial",
                       sp.collect(sp.expand((transition - z * sp.eye(2)).det()), z))
    return _step("its root at z = -1, solved for eta",
                 sp.solve(sp.Eq(polynomial.subs(z, -1), 0), eta)[0])


DERIVATIONS = (scalar_moment_recursion, scalar_second_moment, scalar_expected_loss,
               scalar_stationary_loss, scalar_stability_bound, scalar_target_feasibility,
               scalar_steps_to_target, optimal_lr_greedy, fixed_horizon_optimal_lr,
               momentum_moment_matrix, heavy_ball_noise_sum,
               momentum_stability_bound, adam_stability_bound, wishart_second_moment, least_squares_error_recursion,
               least_squares_max_stable_lr, least_squares_noise_scale, greedy_lr_is_mccandlish,
               quadratic_greedy_step, sign_descent_surge, steps_examples_tradeoff,
               greedy_error_map, greedy_critical_batch,
               information_lower_bound,
               ema_as_heavy_ball, averaged_heavy_ball_sums,
               ridgeless_risk, mp_stieltjes, mp_stieltjes_derivative,
               marchenko_pastur_edge, ridge_risk, ridge_risk_at_optimum)
"""Every derivation of this module, in the order the docs show them."""

for _shown in (steps, latex_of, as_latex, wishart_second_moment, least_squares_error_recursion,
               least_squares_max_stable_lr, least_squares_noise_scale, ridgeless_risk, mp_stieltjes,
               marchenko_pastur_edge, mp_stieltjes_derivative, ridge_risk, ridge_risk_at_optimum):
    _shown.__module__ = __name__          # documented here, where users import them
