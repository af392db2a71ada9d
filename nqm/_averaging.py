r"""Exact second moments of the exponential moving average of plain SGD's iterates.

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
