r"""Exact second moments of the exponential moving average of the iterates: of plain SGD
(:class:`AveragedSGD`, below) and of heavy-ball SGD (:class:`AveragedHeavyBall`).

One coordinate: :math:`w_{t+1} = a w_t - \alpha\xi_t` with :math:`a = 1 - k`, and the average
:math:`u_t = \gamma u_{t-1} + (1-\gamma) w_t`, :math:`u_0 = w_0`. Eliminating :math:`w`,

.. math::

    u_{t+1} = (a + \gamma) u_t - a\gamma\, u_{t-1} - (1-\gamma)\alpha\xi_t,
    \qquad u_{-1} = u_0,

a heavy-ball sequence with momentum :math:`\beta' = a\gamma`, effective step
:math:`k' = 1 + \beta' - (a + \gamma) = k(1-\gamma)`, roots :math:`a` and :math:`\gamma`, and
injected noise :math:`(1-\gamma)^2 D` (:func:`nqm.symbolic.ema_as_heavy_ball`). Where
:math:`a\gamma > 0` it is evaluated by :class:`nqm._heavy_ball.HeavyBall` (exact through the
double root :math:`a = \gamma`). Where :math:`a \le 0` (:math:`k \ge 1`) the roots have
opposite signs and nothing cancels: with :math:`\varphi(m) = (\gamma^m - a^m)/(\gamma - a)`,

.. math::

    \mathbb{E}u_t^2 = s_0 F_t^2 + (1-\gamma)^2 D \sum_{m=1}^{t} \varphi(m)^2,\qquad
    F_t = \frac{\gamma(1-a)\gamma^t - a(1-\gamma) a^t}{\gamma - a},

the sum taken as geometric sums in :math:`\gamma^2`, :math:`a\gamma` and :math:`a^2`.
"""

from __future__ import annotations

import numpy as np

from nqm._heavy_ball import HeavyBall

TRUSTED_AMPLIFICATION = 1e3
"""The averaged heavy ball's closed form is used where it amplifies the rounding of its inputs
at most this much: they come from :class:`nqm._heavy_ball.HeavyBall`, accurate to about 1e-11
relative at worst, and against 50 digits the closed form then stays within 4e-11 relative;
elsewhere :func:`_doubled` is used."""

NEGLIGIBLE_PRODUCT = 2.0**-106
"""Where :math:`a\\gamma` is below this the direct form is exact and the heavy-ball form
would divide by its square root."""


def _geometric(q: np.ndarray, t: np.ndarray, one_m_q: np.ndarray) -> np.ndarray:
    """sum_{m=1}^{t} q^m for |q| < 1, with 1 - q given exactly."""
    with np.errstate(under="ignore", divide="ignore", invalid="ignore"):
        q_t = np.where(q > 0, np.exp(t * np.log1p(-one_m_q)), np.sign(q) ** t * np.abs(q) ** t)
        return q * (1.0 - q_t) / one_m_q


class AveragedSGD:
    """The closed form per entry of ``k`` for the moving average with decay ``gamma``.

    The interface of :class:`nqm._heavy_ball.HeavyBall`: :meth:`parts`, :attr:`monotone`,
    :meth:`start_lower_bound`; ``k`` inside ``(0, 2)``, ``0 < gamma < 1`` (one decay for all
    coordinates, or one each).
    """

    def __init__(self, k: np.ndarray, gamma):
        self.k = np.asarray(k, dtype=float)
        self.gamma = gamma = np.broadcast_to(np.asarray(gamma, dtype=float), self.k.shape)
        a = 1.0 - self.k
        product = a * gamma
        self._ball = np.flatnonzero(product >= NEGLIGIBLE_PRODUCT)
        self._direct = np.flatnonzero(product < NEGLIGIBLE_PRODUCT)
        one_m_gamma = 1.0 - gamma
        ball = self._ball
        self.heavy = (HeavyBall(self.k[ball] * one_m_gamma[ball], product[ball])
                      if ball.size else None)
        a_d, g_d = a[self._direct], gamma[self._direct]
        gap = g_d - a_d                                          # >= gamma > 0
        self._a, self._g, self._gap = a_d, g_d, gap
        self._start = (g_d * (1.0 - a_d) / gap, -a_d * (1.0 - g_d) / gap)   # A, B >= 0
        self._noise_scale = one_m_gamma**2

    def _direct_parts(self, t: np.ndarray):
        a, g, gap = self._a, self._g, self._gap
        with np.errstate(under="ignore", invalid="ignore"):
            big, small = self._start
            f = big * g**t + small * np.sign(a) ** t * np.abs(a) ** t
            sums = (_geometric(g * g, t, (1 - g) * (1 + g))
                    - 2.0 * _geometric(a * g, t, 1.0 - a * g)
                    + _geometric(a * a, t, (1.0 - a) * (1.0 + a)))
        return f, sums / gap**2

    def parts(self, t, s0, drive) -> tuple[np.ndarray, np.ndarray]:
        """``(s0 F_t^2, D' S_t)``: the start's share and the noise's share of
        :math:`\\mathbb{E}u_t^2`; ``t`` broadcasts against the coordinates (last axis)."""
        t = np.asarray(t, dtype=float)
        shape = np.broadcast_shapes(t.shape, self.k.shape)
        s0, drive = (np.broadcast_to(v, self.k.shape) for v in (s0, drive))
        start, noise = np.empty(shape), np.empty(shape)
        tt = np.broadcast_to(t, shape)
        if self._ball.size:
            sel = self._ball
            start[..., sel], noise[..., sel] = self.heavy.parts(
                tt[..., sel], s0[sel], self._noise_scale[sel] * drive[sel])
        if self._direct.size:
            sel = self._direct
            f, sums = self._direct_parts(tt[..., sel])
            start[..., sel] = s0[sel] * f**2
            noise[..., sel] = np.where(tt[..., sel] > 0, self._noise_scale[sel] * drive[sel] * sums,
                                       0.0)
        return start, noise

    @property
    def monotone(self) -> np.ndarray:
        """Coordinates whose start share never increases: the heavy-ball ones (real positive
        roots :math:`a`, :math:`\\gamma`)."""
        out = np.zeros(self.k.shape, dtype=bool)
        out[self._ball] = True
        return out

    def start_lower_bound(self, a, b, s0) -> np.ndarray:
        r"""A lower bound of :math:`s_0 F_s^2` over :math:`a \le s \le b` for the coordinates
        with :math:`a \le 0`: :math:`F_s \ge A\gamma^b - B\lvert a\rvert^{a}` (``0`` where
        that is negative); the heavy-ball coordinates get ``0`` (their share is monotone)."""
        lo, hi = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        shape = np.broadcast_shapes(lo.shape, hi.shape, self.k.shape)
        out = np.zeros(shape)
        if self._direct.size:
            sel = self._direct
            big, small = self._start
            with np.errstate(under="ignore"):
                least = (big * self._g ** np.broadcast_to(hi, shape)[..., sel]
                         - small * np.abs(self._a) ** np.broadcast_to(lo, shape)[..., sel])
            out[..., sel] = np.broadcast_to(s0, self.k.shape)[sel] * np.maximum(least, 0.0) ** 2
        return out * (1.0 - 1e-12)


class AveragedHeavyBall:
    r"""The closed form per entry of ``k`` for the moving average (decay ``gamma``) of
    heavy-ball iterates (momentum ``beta``).

    With :math:`g_n` the heavy ball's impulse response (roots :math:`r_1, r_2`), the average's
    is :math:`G_n = \sum_{m \le n} \gamma^{n-m} g_m = h_n(r_1, r_2, \gamma)`, the complete
    homogeneous symmetric polynomial of degree :math:`n` in the three roots, and

    .. math::

        \mathbb{E}u_t^2 = s_0 F_t^2 + (1-\gamma)^2 D \sum_{n<t} G_n^2, \qquad
        F_t = \gamma^{t+1} + (1-\gamma)(G_t - \beta G_{t-1}).

    For any root :math:`x` and the heavy ball :math:`g'` of the other two
    (:math:`\beta' = yz`, :math:`k' = (1-y)(1-z)`),
    :math:`P(x) G_n = x^{n+2} - x g'_{n+1} + \beta' g'_n` with :math:`P(x) = (x-y)(x-z)`, and
    :math:`P(x)^2 \sum_{n<t} G_n^2` is a sum of the heavy ball's closed forms
    (:math:`\sum g'^2_n`, :math:`\sum g'_n g'_{n+1}`, :math:`\sum x^n g'_n`;
    :func:`nqm.symbolic.averaged_heavy_ball_sums`). The root set apart is the one farthest
    from the other two (:math:`\gamma` where the heavy ball's roots are complex or negative),
    so that :math:`P(x)` is as large as it can be. Where even so the closed form would amplify
    rounding more than :data:`TRUSTED_AMPLIFICATION` (the roots nearly coincide), binary
    powering in the roots' Newton basis takes over (:func:`_doubled`: sums of positive terms
    for real roots, about 20x the cost).

    The interface of :class:`nqm._heavy_ball.HeavyBall`: :meth:`parts`, :attr:`monotone`,
    :meth:`start_lower_bound`; ``k`` inside ``(0, 2 (1 + beta))``, ``0 < beta, gamma < 1``.
    """

    def __init__(self, k: np.ndarray, beta, gamma):
        self.k = np.asarray(k, dtype=float)
        self.beta = np.broadcast_to(np.asarray(beta, dtype=float), self.k.shape)
        self.gamma = np.broadcast_to(np.asarray(gamma, dtype=float), self.k.shape)

    def _averaged(self, t: np.ndarray, s0: np.ndarray, drive: np.ndarray):
        """``(s0 F_t^2, (1 - gamma)^2 D sum_{n<t} G_n^2)`` of flat arrays of coordinates and
        steps (``s0`` and ``drive`` broadcast like ``t``)."""
        k, beta, gamma, s0, drive = (np.broadcast_to(v, t.shape).ravel() for v in
                                     (self.k, self.beta, self.gamma, s0, drive))
        t = t.ravel()
        drive = (1.0 - gamma) ** 2 * drive
        ball = HeavyBall(k, beta)
        # the heavy ball's real positive roots r1 >= r2 and 1 - r, without cancellation
        real = ball.case == 0
        r1 = np.where(real, np.exp(ball.log_r1), np.nan)
        one_m_r1 = np.where(real, -np.expm1(ball.log_r1), np.nan)
        r2, one_m_r2 = beta / r1, k / one_m_r1
        gap = 2.0 * ball.rho * np.sinh(np.where(real, ball.angle, 0.0))          # r1 - r2
        to_r1, to_r2 = np.abs(one_m_r1 - (1.0 - gamma)), np.abs(one_m_r2 - (1.0 - gamma))
        # which root is set apart: 0 gamma, 1 r1, 2 r2 (the one farthest from the other two)
        apart = np.zeros(k.shape, dtype=int)
        spread = np.where(real, np.minimum(to_r1, to_r2), np.inf)
        for which, distance in ((1, np.minimum(gap, to_r1)), (2, np.minimum(gap, to_r2))):
            better = real & (distance > spread)
            apart[better], spread = which, np.where(better, distance, spread)
        f, sums, spread_f, spread_sums = (np.empty(k.shape) for _ in range(4))
        # the slowest root's decay: the scale F_t oscillates within
        with np.errstate(under="ignore"):
            decay = np.exp(t * np.maximum(np.log(gamma), ball.log_r1))
        for which in range(3):
            sel = np.flatnonzero(apart == which)
            if not sel.size:
                continue
            if which == 0:
                x, one_m_x = gamma[sel], 1.0 - gamma[sel]
                pair = HeavyBall(k[sel], beta[sel])
                p = k[sel] * x - one_m_x * (x - beta[sel])          # (x - r1)(x - r2)
            else:
                x = (r1 if which == 1 else r2)[sel]
                one_m_x = (one_m_r1 if which == 1 else one_m_r2)[sel]
                y, one_m_y = ((r2, one_m_r2) if which == 1 else (r1, one_m_r1))
                y, one_m_y = y[sel], one_m_y[sel]
                pair = HeavyBall(one_m_y * (1.0 - gamma[sel]), y * gamma[sel])
                x_minus_y = gap[sel] if which == 1 else -gap[sel]
                p = x_minus_y * ((1.0 - gamma[sel]) - one_m_x)          # (x - y)(x - gamma)
            f[sel], sums[sel], spread_f[sel], spread_sums[sel] = _set_apart(
                pair, x, one_m_x, p, t[sel], beta[sel], gamma[sel])
        start, noise = s0 * f**2, drive * sums
        # rounding of the moment against the moment, F_t measured against its own scale (so
        # that a zero of an oscillating F_t is not taken for cancellation)
        with np.errstate(invalid="ignore", over="ignore"):
            amplification = ((2.0 * s0 * np.abs(f) * spread_f + drive * spread_sums)
                             / (start + np.abs(noise) + s0 * decay**2))
        bad = np.flatnonzero(~(amplification <= TRUSTED_AMPLIFICATION) & (t > 0))
        if bad.size:
            f[bad], sums[bad] = _doubled(k[bad], beta[bad], gamma[bad], t[bad])
            start[bad], noise[bad] = s0[bad] * f[bad] ** 2, drive[bad] * sums[bad]
        return start, noise

    def parts(self, t, s0, drive) -> tuple[np.ndarray, np.ndarray]:
        """``(s0 F_t^2, (1 - gamma)^2 D sum_{n<t} G_n^2)``; ``t`` broadcasts against the
        coordinates (last axis)."""
        t = np.asarray(t, dtype=float)
        shape = np.broadcast_shapes(t.shape, self.k.shape)
        tt = np.broadcast_to(t, shape)
        s0, drive = (np.broadcast_to(v, self.k.shape) for v in (s0, drive))
        start, noise = (v.reshape(shape) for v in self._averaged(tt, s0, drive))
        return np.where(tt > 0, start, s0), np.where(tt > 0, noise, 0.0)

    @property
    def monotone(self) -> np.ndarray:
        """No coordinate's start share is known to be monotone."""
        return np.zeros(self.k.shape, dtype=bool)

    def start_lower_bound(self, a, b, s0) -> np.ndarray:
        """The trivial bound ``0`` on the start share."""
        shape = np.broadcast_shapes(np.shape(a), np.shape(b), self.k.shape)
        return np.zeros(shape)


def _set_apart(pair: HeavyBall, x, one_m_x, p, t, beta, gamma):
    r"""``(F_t, sum_{n<t} G_n^2)`` with root ``x`` set apart, ``pair`` the heavy ball of the
    other two, ``p = P(x)``, and the sums of absolute values their rounding scales with."""
    b, u = pair.beta, 1.0 + pair.beta - pair.k
    with np.errstate(under="ignore", over="ignore", invalid="ignore", divide="ignore"):
        g_next, g_t, g_prev = pair.g(t + 1.0), pair.g(t), pair.g(t - 1.0)
        squares = pair.noise_sum(t, pair.f(t))                         # sum_{n<t} g'^2
        cross = (u * squares + b * g_t * g_prev) / (1.0 + b)           # sum_{n<t} g'_n g'_{n+1}
        log_x = np.log1p(-one_m_x)
        x_t = np.exp(t * log_x)
        weighted = ((1.0 - x_t * g_t + b * x * x_t * g_prev)            # sum_{n<t} x^n g'_n
                    / (one_m_x * (1.0 - b * x) + pair.k * x))
        geometric = -np.expm1(2.0 * t * log_x) / (one_m_x * (1.0 + x))  # sum_{n<t} x^{2n}
        terms = (x**4 * geometric, 2.0 * x**2 * (1.0 - (1.0 - b) * weighted - x_t * g_t),
                 b * b * squares, -2.0 * b * x * cross, x**2 * (squares + g_t**2 - 1.0))
        bracket = sum(terms)
        sums = bracket / p**2
        # G_t and G_{t-1}, then F_t = gamma^{t+1} + (1 - gamma)(G_t - beta G_{t-1})
        parts_t = (x * x * x_t, -x * g_next, b * g_t)
        parts_prev = (x * x_t, -x * g_t, b * g_prev)
        g_avg, g_avg_prev = sum(parts_t) / p, sum(parts_prev) / p
        gamma_next = np.exp((t + 1.0) * np.log(gamma))
        f = gamma_next + (1.0 - gamma) * (g_avg - beta * g_avg_prev)
        spread_f = gamma_next + (1.0 - gamma) * (sum(np.abs(v) for v in parts_t)
                                                 + beta * sum(np.abs(v) for v in parts_prev)
                                                 ) / np.abs(p)
        spread_sums = sum(np.abs(v) for v in terms) / p**2
    return f, sums, spread_f, spread_sums


def _doubled(k, beta, gamma, t):
    r"""``(F_t, sum_{n<t} G_n^2)`` by binary powering in the Newton basis of the three roots.

    With :math:`J` upper bidiagonal (the roots :math:`r_1, r_2, \gamma` on the diagonal, ones
    above it), :math:`G_n = (J^{n+2})_{13}`, the divided difference of :math:`z^{n+2}`, and
    :math:`\sum_{n<t} G_n^2 = (J^2 X_t J^{2\top})_{11}` with
    :math:`X_t = \sum_{m<t} J^m e_3 e_3^\top J^{m\top}` (:math:`X_{2a} = X_a + J^a X_a
    J^{a\top}`). Where the roots are real and positive every entry is a sum of positive
    terms, so nothing cancels however close the roots lie; complex roots near the double root
    are nearly real. Entries with :math:`t \ge 1`.
    """
    one_m_rho = (1.0 - beta) / (1.0 + np.sqrt(beta))
    u = 1.0 + beta - k
    disc = (one_m_rho**2 - k) * ((2.0 - one_m_rho) ** 2 - k)          # u^2 - 4 beta
    root = np.sqrt(disc.astype(complex))
    n = k.size
    J = np.zeros((n, 3, 3), dtype=complex)
    J[:, 0, 0], J[:, 1, 1], J[:, 2, 2] = (u + root) / 2.0, (u - root) / 2.0, gamma
    J[:, 0, 1] = J[:, 1, 2] = 1.0
    power = np.broadcast_to(np.eye(3, dtype=complex), (n, 3, 3)).copy()
    sums = np.zeros((n, 3, 3), dtype=complex)
    steps = t.astype(np.int64)
    for bit in range(int(steps.max()).bit_length() - 1, -1, -1):
        sums = sums + power @ sums @ power.transpose(0, 2, 1)
        power = power @ power
        on = ((steps >> bit) & 1).astype(bool)
        last = power[on, :, 2]
        sums[on] += last[:, :, None] * last[:, None, :]
        power[on] = power[on] @ J[on]
    square = J @ J
    total = (square @ sums @ square.transpose(0, 2, 1))[:, 0, 0].real
    g_t, g_prev = (power @ square)[:, 0, 2].real, (power @ J)[:, 0, 2].real
    return gamma ** (steps + 1.0) + (1.0 - gamma) * (g_t - beta * g_prev), total
