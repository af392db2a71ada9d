r"""Exact second moments of heavy-ball SGD on one quadratic coordinate, for every momentum.

The coordinate follows :math:`w_{t+1} = u w_t - \beta w_{t-1} - \alpha\xi_t` with
:math:`u = 1 + \beta - k`, :math:`w_{-1} = w_0`, :math:`\mathbb{E}\xi_t^2 \alpha^2 = D`. With
:math:`g_n` the impulse response (:math:`g_0 = 1`, :math:`g_1 = u`, :math:`g_{n+1} = u g_n -
\beta g_{n-1}`) and :math:`f_t = g_t - \beta g_{t-1}` the response to the start,

.. math::

    \mathbb{E}w_t^2 = s_0 f_t^2 + D S_t, \qquad S_t = \sum_{n<t} g_n^2
    = P\,(1 - f_t^2 - c\, g_t g_{t-1}),

with :math:`P = (1+\beta)/((1-\beta) k (2(1+\beta) - k))` and :math:`c = 2\beta k/(1+\beta)`
(:func:`nqm.symbolic.heavy_ball_noise_sum`). Writing :math:`x = u/(2\sqrt\beta)`,
:math:`g_n = \beta^{n/2} U_n(x)` (Chebyshev polynomials of the second kind): hyperbolic when
the roots of :math:`z^2 - uz + \beta` are real, trigonometric when they are complex. Every
quantity below is evaluated through :math:`1 - x = (k - (1-\sqrt\beta)^2)/(2\sqrt\beta)`,
``log1p`` and ``expm1``, so that nothing overflows and nothing cancels except where the
value itself passes through zero. :math:`S_t` has three evaluations (the tail form above, the
geometric sums in the roots, a pairwise sum of :math:`g_n^2`); each entry uses the one whose
rounding is amplified least, the direct sum where both closed forms would lose more than five
digits (a narrow band around the double root at early steps).
"""

from __future__ import annotations

import numpy as np

_DIRECT_BLOCK = 1_000_000
"""Steps x coordinates of the direct sum evaluated at once."""

MAX_AMPLIFICATION = 1e5
"""A closed form of :math:`S_t` is used where its rounding is amplified at most this much."""


class HeavyBall:
    """The closed form of one coordinate per entry of ``k`` (and of ``beta``, broadcast).

    Parameters
    ----------
    k : ndarray
        Effective steps :math:`k = \\eta h^{1-p}`, inside ``(0, 2 (1 + beta))``.
    beta : float or ndarray
        Momentum in ``(0, 1)``, one for all coordinates or one each (:class:`DiagonalNQM`
        takes one below ``NEGLIGIBLE_MOMENTUM`` as none; the averaged iterate of plain SGD is
        a heavy-ball sequence with a momentum per coordinate).
    """

    def __init__(self, k: np.ndarray, beta):
        self.k = np.asarray(k, dtype=float)
        self.beta = beta = np.broadcast_to(np.asarray(beta, dtype=float), self.k.shape)
        rho = np.sqrt(beta)
        self.rho, self.one_m_rho = rho, (1.0 - beta) / (1.0 + rho)
        # log sqrt(beta): log1p keeps beta near 1 exact, log keeps a small beta exact
        self.log_rho = 0.5 * np.where(beta < 0.5, np.log(beta), np.log1p(-(1.0 - beta)))
        k = self.k
        # (1 - r1)(1 - r2) = k and (1 + r1)(1 + r2) = 2 (1 + beta) - k; each difference is
        # one rounding of two exact terms (2 - k and 3 - k are exact for k in [1.5, 4])
        margin = (2.0 - k) + 2.0 * beta                       # 2 (1 + beta) - k
        below = (k - self.one_m_rho**2) / (2.0 * rho)          # 1 - x
        above = (margin - self.one_m_rho**2) / (2.0 * rho)     # 1 + x = ((1 + rho)^2 - k) / (2 rho)
        self.case = np.select([below <= 0, above <= 0, below <= 1], [0, 3, 1], 2)
        # angle: phi (cases 0, 3: real roots) or theta (cases 1, 2: complex roots)
        d = np.where(self.case == 0, -below, np.where(self.case == 3, -above, 0.0))
        hyperbolic = np.log1p(d + np.sqrt(d * (2.0 + d)))
        half = np.where(self.case == 1, below, np.where(self.case == 2, above, 0.0))
        trig = 2.0 * np.arcsin(np.sqrt(np.clip(half, 0.0, 2.0) / 2.0))
        self.angle = np.where(self.case % 3 == 0, hyperbolic, trig)
        self.sign = np.where(self.case >= 2, -1.0, 1.0)        # negative x: (-1)^n
        # log |r1|, the decay of the slower root, without cancellation
        sh = np.sinh(np.where(self.case % 3 == 0, self.angle, 0.0))
        one_m_r2 = ((1.0 - beta) + k + 2.0 * rho * sh) / 2.0
        one_p_r2 = ((3.0 - k) + beta + 2.0 * rho * sh) / 2.0
        with np.errstate(divide="ignore", invalid="ignore"):
            self.log_r1 = np.select([self.case == 0, self.case == 3],
                                    [np.log1p(-k / one_m_r2), np.log1p(-margin / one_p_r2)],
                                    self.log_rho)
        self.stationary = (1.0 + beta) / ((1.0 - beta) * k * margin)
        self._real = np.flatnonzero(self.case % 3 == 0)
        self._unit = np.expm1(-2.0 * np.where(self.case % 3 == 0, self.angle, 0.0))
        self._complex = np.flatnonzero(self.case % 3 != 0)
        self.cross = 2.0 * beta * k / (1.0 + beta)

    # -- impulse and start responses -----------------------------------------------------
    def _grouped(self, n, hyperbolic, trigonometric) -> np.ndarray:
        """Evaluate ``hyperbolic(n, sel)`` on the real-root coordinates and
        ``trigonometric(n, sel)`` on the complex-root ones (the last axis), each only where
        it applies."""
        n = np.broadcast_to(np.asarray(n, dtype=float), np.broadcast_shapes(np.shape(n),
                                                                          self.k.shape))
        out = np.empty(n.shape)
        with np.errstate(under="ignore", over="ignore", invalid="ignore", divide="ignore"):
            for sel, formula in ((self._real, hyperbolic), (self._complex, trigonometric)):
                if sel.size:
                    out[..., sel] = formula(n[..., sel], sel)
        return out

    def _parity(self, n, sel):
        negative = self.sign[sel] < 0
        if not negative.any():
            return 1.0
        return np.where(negative & (np.mod(n, 2.0) == 1.0), -1.0, 1.0)

    def _ratio(self, a, sel):
        """``(1 - exp(-2 a phi)) / (1 - exp(-2 phi))`` of the real-root coordinates ``sel``,
        ``a`` at ``phi = 0``."""
        phi = self.angle[sel]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            return np.where(phi > 0, np.expm1(-2.0 * a * phi) / self._unit[sel], a)

    def g(self, n) -> np.ndarray:
        r"""The impulse response :math:`g_n` (``0`` for ``n < 0``)."""
        def hyperbolic(n, sel):
            return self._parity(n, sel) * np.exp(n * self.log_r1[sel]) * self._ratio(n + 1.0, sel)

        def trigonometric(n, sel):
            theta = self.angle[sel]
            return (self._parity(n, sel) * np.exp(n * self.log_rho[sel]) * np.sin((n + 1.0) * theta)
                    / np.sin(theta))

        n = np.asarray(n, dtype=float)
        return np.where(n >= 0, self._grouped(n, hyperbolic, trigonometric), 0.0)

    def f(self, n) -> np.ndarray:
        r"""The response to the start, :math:`f_n = g_n - \beta g_{n-1}` (:math:`w_{-1} = w_0`)."""
        def hyperbolic(n, sel):
            rho, one_m_rho = self.rho[sel], self.one_m_rho[sel]
            phi, decay = self.angle[sel], np.exp(n * self.log_r1[sel])
            within = self._ratio(n, sel) * np.exp(-phi)
            if np.all(self.case[sel] == 0):
                return decay * ((1.0 + np.exp(-(2.0 * n + 1.0) * phi)) / (1.0 + np.exp(-phi))
                                + one_m_rho * within)
            positive = ((1.0 + np.exp(-(2.0 * n + 1.0) * phi)) / (1.0 + np.exp(-phi))
                        + one_m_rho * within)
            negative = self._ratio(n + 1.0, sel) + rho * within
            return self._parity(n, sel) * decay * np.where(self.case[sel] == 0, positive,
                                                           negative)

        def trigonometric(n, sel):
            rho, one_m_rho = self.rho[sel], self.one_m_rho[sel]
            theta, scale = self.angle[sel], np.exp(n * self.log_rho[sel])
            positive = (np.cos((n + 0.5) * theta) / np.cos(theta / 2.0)
                        + one_m_rho * np.sin(n * theta) / np.sin(theta))
            negative = (np.sin((n + 1.0) * theta) + rho * np.sin(n * theta)) / np.sin(theta)
            return self._parity(n, sel) * scale * np.where(self.case[sel] == 1, positive,
                                                           negative)

        return self._grouped(n, hyperbolic, trigonometric)

    # -- the noise sum S_t = sum_{n<t} g_n^2 ---------------------------------------------
    def _geometric(self, t):
        """S_t from geometric sums in the roots, and how much it amplifies rounding."""
        def hyperbolic(t, sel):
            phi, beta = self.angle[sel], self.beta[sel]

            def total(log_q):                                  # sum_{n=1}^{t} q^n
                return np.where(log_q < 0, np.exp(log_q) * np.expm1(t * log_q) / np.expm1(log_q),
                                t)
            a1 = 2.0 * self.log_r1[sel]
            parts = (total(a1), 2.0 * total(np.broadcast_to(np.log(beta), a1.shape)),
                     total(a1 - 4.0 * phi))
            gap = (2.0 * self.rho[sel] * np.sinh(phi)) ** 2    # (r1 - r2)^2
            value = (parts[0] - parts[1] + parts[2]) / gap
            return value + 1j * (parts[0] + parts[1] + parts[2]) / (gap * np.abs(value))

        def trigonometric(t, sel):
            theta = self.angle[sel]
            a, b = 2.0 * self.log_rho[sel], 2.0 * theta        # q = exp(a + i b)
            plain = np.expm1(t * a) / np.expm1(a)              # sum_{n<t} rho^(2n)
            num = (-np.expm1(t * a) + 2.0 * np.exp(t * a) * np.sin(t * b / 2.0) ** 2
                   - 1j * np.exp(t * a) * np.sin(t * b))
            den = -np.expm1(a) + 2.0 * np.exp(a) * np.sin(b / 2.0) ** 2 - 1j * np.exp(a) * np.sin(b)
            rotated = np.exp(1j * b) * num / den
            value = (plain - rotated.real) / (2.0 * np.sin(theta) ** 2)
            return value + 1j * (plain + np.abs(rotated)) / (2.0 * np.sin(theta) ** 2
                                                             * np.abs(value))

        t = np.broadcast_to(np.asarray(t, dtype=float), np.broadcast_shapes(np.shape(t),
                                                                          self.k.shape))
        out = np.empty(t.shape, dtype=complex)
        with np.errstate(under="ignore", over="ignore", invalid="ignore", divide="ignore"):
            for sel, formula in ((self._real, hyperbolic), (self._complex, trigonometric)):
                if sel.size:
                    out[..., sel] = formula(t[..., sel], sel)
        # the value, and (stored as the imaginary part) the amplification of rounding
        return out.real, np.nan_to_num(out.imag, nan=np.inf)

    def _tail(self, t, f_t):
        """S_t = P (1 - f_t^2 - c g_t g_{t-1}), and how much it amplifies rounding."""
        cross = self.cross * self.g(t) * self.g(t - 1)
        value = self.stationary * (1.0 - f_t**2 - cross)
        with np.errstate(divide="ignore", invalid="ignore"):
            amp = self.stationary * (1.0 + f_t**2 + np.abs(cross)) / np.abs(value)
        return value, np.nan_to_num(amp, nan=np.inf)

    def noise_sum(self, t, f_t) -> np.ndarray:
        r""":math:`S_t` for integer ``t >= 0``; ``t`` broadcasts against the coordinates (last
        axis)."""
        t = np.broadcast_to(np.asarray(t, dtype=float), np.shape(f_t))
        value, amp = self._tail(t, f_t)
        retry = amp > 1e3                                # the tail form loses > 3 digits
        if retry.any():
            rows = np.flatnonzero(retry.any(axis=-1)) if t.ndim > 1 else slice(None)
            geometric, geometric_amp = self._geometric(t[rows])
            better = geometric_amp < amp[rows]
            value[rows] = np.where(better, geometric, value[rows])
            amp[rows] = np.minimum(amp[rows], geometric_amp)
        bad = (amp > MAX_AMPLIFICATION) & (t > 0)
        if bad.any():                               # a narrow band near the double root
            value[bad] = self._direct_sum(np.broadcast_to(np.arange(self.k.size), t.shape)[bad],
                                          t[bad])
        return np.where(t > 0, value, 0.0)

    def _direct_sum(self, coordinates: np.ndarray, t: np.ndarray) -> np.ndarray:
        r""":math:`\sum_{n<t} g_n^2` of the given coordinates, each to its own ``t``, summed
        pairwise by numpy over blocks of steps."""
        band = HeavyBall(self.k[coordinates], self.beta[coordinates])
        total = np.zeros(t.shape)
        rows = max(1, _DIRECT_BLOCK // t.size)
        for first in range(0, int(t.max()), rows):
            steps = np.arange(first, min(first + rows, int(t.max())), dtype=float)[:, None]
            total += np.sum(np.where(steps < t, band.g(steps) ** 2, 0.0), axis=0)
        return total

    def parts(self, t, s0, drive) -> tuple[np.ndarray, np.ndarray]:
        """``(s0 f_t^2, D S_t)``: the start's share and the noise's share of the moment."""
        t = np.asarray(t, dtype=float)
        f_t = self.f(t)
        return s0 * f_t**2, drive * self.noise_sum(t, f_t)

    def start_lower_bound(self, a, b, s0) -> np.ndarray:
        r"""A lower bound of :math:`s_0 f_s^2` over every step :math:`a \le s \le b`.

        Real positive roots: :math:`f_s^2` falls, so its value at ``b``. Real negative roots:
        :math:`|f_s|` is :math:`|r_1|^s` times a sum of terms that grow with ``s``, so the
        decay at ``b`` times the terms at ``a``. Complex roots:
        :math:`f_s = \beta^{s/2} R \cos(s\theta - \psi)`, so the decay at ``b`` times
        :math:`R^2` times the least :math:`\cos^2` over the phases :math:`[a\theta - \psi,
        b\theta - \psi]` (zero if they contain a zero of the cosine). ``a`` and ``b``
        broadcast against the coordinates (a column gives one row per interval).
        """
        phi, rho, everywhere = self.angle, self.rho, slice(None)
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        with np.errstate(under="ignore", over="ignore", invalid="ignore", divide="ignore"):
            falling = self.f(b + np.zeros_like(self.k)) ** 2
            negative = (np.exp(2.0 * b * self.log_r1)
                        * (self._ratio(a + 1.0, everywhere)
                           + rho * np.exp(-phi) * self._ratio(a, everywhere)) ** 2)
            slope = np.where(self.case == 1,
                             self.one_m_rho / np.sin(phi) - np.tan(phi / 2.0),
                             (np.cos(phi) + rho) / np.sin(phi))
            psi = np.arctan(slope)
            low, high = a * phi - psi, b * phi - psi
            zero_inside = np.pi / 2.0 + np.pi * np.ceil((low - np.pi / 2.0) / np.pi) <= high
            least = np.where(zero_inside, 0.0, np.minimum(np.cos(low) ** 2, np.cos(high) ** 2))
            rotating = np.exp(2.0 * b * self.log_rho) * (1.0 + slope**2) * least
        bound = np.choose(self.case, [falling, rotating, rotating, negative])
        return s0 * np.nan_to_num(bound, nan=0.0) * (1.0 - 1e-12)

    @property
    def monotone(self) -> np.ndarray:
        r"""Coordinates whose :math:`f_t^2` never increases: real positive roots, where
        :math:`f_t - f_{t+1} = k g_t > 0`."""
        return self.case == 0

    def second_moment(self, t, s0, drive) -> np.ndarray:
        r""":math:`\mathbb{E}w_t^2 = s_0 f_t^2 + D S_t` at integer steps ``t``.

        ``t`` broadcasts against the coordinates (the last axis): a column of steps gives one
        row per step. Coordinates at or beyond the stability bound :math:`k \ge 2(1+\beta)`
        give ``inf``.
        """
        start, noise = self.parts(t, s0, drive)
        return np.where(self.k < 2.0 * (1.0 + self.beta), start + noise, np.inf)
