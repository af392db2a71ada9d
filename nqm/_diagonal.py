"""The diagonal noisy quadratic model of Zhang et al. (2019)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from scipy.optimize import brentq

from nqm._affine import affine_moment
from nqm._averaging import AveragedHeavyBall, AveragedSGD
from nqm._fewest_steps import Quadratic, Space, envelope_at, fewest_steps
from nqm._heavy_ball import HeavyBall
from nqm._noise_scale import NoiseScale
from nqm._validation import as_float_array, nonnegative, positive, scalar_or_array, steps_array

_BYTES_PER_COORDINATE = 1024
"""Working memory of one coordinate: the closed form's parameters and its temporaries for one
step (blocks of steps are sized to :data:`_BLOCK` elements)."""

_DENSE = 512
"""Intervals at most this long that the bound cannot rule out are evaluated step by step."""

_BLOCK = 200_000
"""Steps x coordinates evaluated at once (about 50 temporaries of this many float64)."""

NEGLIGIBLE_MOMENTUM = 2.0**-106
"""A momentum below this is treated as none: it moves every moment by a relative O(beta), far
below double precision, while the two-root closed form divides by sqrt(beta)."""


class OptimalSteps(NamedTuple):
    """Result of :meth:`DiagonalNQM.optimal_steps_to_target`.

    See Also
    --------
    nqm.DiagonalNQM.optimal_steps_to_target : Returns one.
    """

    lr: float | np.ndarray
    """The learning rate that reaches the target in the fewest steps."""
    steps: float | np.ndarray
    """Those steps, interpolated (the integer count is its ceiling)."""
    momentum: float | np.ndarray
    """The momentum: the one given, or the best one where it was ``"tuned"``."""
    ema_decay: float | np.ndarray
    """The decay of the moving average: the one given, or the best one where ``"tuned"``."""


class OptimalSchedule(NamedTuple):
    """Result of :meth:`DiagonalNQM.optimal_schedule`.

    See Also
    --------
    nqm.DiagonalNQM.optimal_schedule : Returns one.
    """

    lrs: np.ndarray
    """The learning rate of each piece, in order."""
    loss: float
    """The expected loss after the last piece."""


def _scan_grid(max_steps: int) -> np.ndarray:
    """Steps 0..16, then 8 points per octave (gaps that are powers of two) up to ``max_steps``."""
    points = list(range(17))
    t, gap = 16, 2
    while t < max_steps:
        for _ in range(8):
            t += gap
            points.append(min(t, max_steps))
        gap *= 2
    return np.unique(np.array(points, dtype=np.int64))


@dataclass(frozen=True, eq=False)
class DiagonalNQM:
    r"""Noisy quadratic model with a diagonal Hessian (Zhang et al., 2019).

    Loss :math:`L(w) = \tfrac12 \sum_i h_i w_i^2`; a minibatch gradient
    :math:`h_i w_i + \xi_i` with :math:`\operatorname{Var}\xi_i = c_i / B`. The optimizer is
    heavy-ball SGD with momentum :math:`\beta` (``torch.optim.SGD``'s convention) and a
    diagonal preconditioner :math:`H^{-p}`:

    .. math::

        w_{t+1} = w_t - \eta h^{-p} (h w_t + \xi_t) + \beta (w_t - w_{t-1}), \qquad w_{-1} = w_0.

    Each coordinate's second moments :math:`(\mathbb{E}w_t^2, \mathbb{E}w_t w_{t-1},
    \mathbb{E}w_{t-1}^2)` follow an exact linear recursion (3x3, plus the injected noise
    :math:`\eta^2 h^{-2p} c / B`; :func:`nqm.symbolic.momentum_moment_matrix`). Without
    momentum it is the scalar NQM per coordinate; with momentum
    :math:`\mathbb{E}w_t^2 = s_0 f_t^2 + D S_t` in the impulse response :math:`g_n` of
    :math:`z^2 - (1+\beta-k)z + \beta` (:func:`nqm.symbolic.heavy_ball_noise_sum`), evaluated
    in closed form through the two roots for every :math:`0 \le \beta < 1`, every stable
    :math:`k` (real, complex and double roots) and every step, without overflow; it agrees
    with a 50-digit evaluation to about 1e-11 relative (the tests ask for 1e-9) at
    :math:`\beta` up to :math:`1 - 10^{-5}`, :math:`k` from 1e-9 to the stability bound and
    :math:`t` up to :math:`10^6`.

    Parameters
    ----------
    curvatures : array_like of float, shape (dim,)
        Hessian eigenvalues :math:`h_i > 0`.
    noise_var : array_like of float, shape (dim,)
        Per-example gradient-noise variances :math:`c_i \ge 0` (the diagonal of C).
    w0_sq : array_like of float, shape (dim,)
        Initial second moments :math:`\mathbb{E} w_{0,i}^2 \ge 0`.
    multiplicity : array_like of float, shape (dim,), optional
        How many Hessian eigenvalues each coordinate stands for (:math:`n_i > 0`, 1 by
        default): a binned spectrum, as Zhang et al.'s code uses (:meth:`zhang2019` with
        ``bins``). Every sum over coordinates (the loss, the noise scale) weighs coordinate
        :math:`i` by :math:`n_i`.

    See Also
    --------
    nqm.scalar_expected_loss : One coordinate without momentum or preconditioning.
    nqm.optimal_lr_target : The scalar model's steps-to-target optimum.

    References
    ----------
    .. [1] G. Zhang, L. Li, Z. Nado, J. Martens, S. Sachdeva, G. Dahl, C. Shallue, R. Grosse,
       "Which algorithmic choices matter at which batch sizes? Insights from a noisy quadratic
       model", NeurIPS 2019, arXiv:1907.04164, Sec. 3 and App. B.

    Examples
    --------
    >>> from nqm import DiagonalNQM
    >>> model = DiagonalNQM.zhang2019(dim=1000)
    >>> round(model.initial_loss, 4)
    3.7427
    >>> print(model.expected_loss(0.5, [1, 100], 1000))
    [1.08149075 0.11940995]
    """

    curvatures: np.ndarray
    noise_var: np.ndarray
    w0_sq: np.ndarray
    multiplicity: np.ndarray | None = None
    _shape: tuple = field(init=False, repr=False)

    def __post_init__(self):
        h = positive("curvatures", self.curvatures)
        c = nonnegative("noise_var", self.noise_var)
        w = nonnegative("w0_sq", self.w0_sq)
        if h.ndim != 1 or h.size == 0:
            raise ValueError(f"curvatures must be a non-empty 1-d array, got shape {h.shape}")
        n = np.ones(h.shape) if self.multiplicity is None else positive("multiplicity",
                                                                        self.multiplicity)
        try:
            c, w, n = (np.broadcast_to(x, h.shape).astype(float) for x in (c, w, n))
        except ValueError as exc:
            raise ValueError(f"noise_var, w0_sq and multiplicity must broadcast to curvatures' "
                             f"shape {h.shape}, got {np.shape(self.noise_var)}, "
                             f"{np.shape(self.w0_sq)} and {np.shape(self.multiplicity)}") from exc
        object.__setattr__(self, "curvatures", h)
        object.__setattr__(self, "noise_var", c)
        object.__setattr__(self, "w0_sq", w)
        object.__setattr__(self, "multiplicity", n)
        object.__setattr__(self, "_shape", h.shape)

    @classmethod
    def zhang2019(cls, dim: int = 10_000, *, bins: int | None = None) -> DiagonalNQM:
        r"""The model of Zhang et al. (2019): :math:`h_i = 1/i`, :math:`C = H`, :math:`w_0 \sim N(0, I)`.

        Parameters
        ----------
        dim : int, default 10_000
            Number of Hessian eigenvalues.
        bins : int, optional
            Their code's binned spectrum: ``bins`` edges geometrically spaced from
            :math:`h_1 = 1` down to :math:`h_{\rm dim} = 1/{\rm dim}`; every eigenvalue is
            replaced by the largest edge at or below it, and each edge carries the count of
            eigenvalues it replaced (:attr:`multiplicity`; edges that replace none are left
            out). ``dim=10_000, bins=100`` reproduces the figures of their notebook number
            for number; the exact spectrum (no ``bins``) is the model itself.

        Examples
        --------
        >>> from nqm import DiagonalNQM
        >>> binned = DiagonalNQM.zhang2019(10_000, bins=100)
        >>> binned.curvatures.size, int(binned.multiplicity.sum()), float(binned.multiplicity[-1])
        (84, 10000, 889.0)
        """
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        need = dim * _BYTES_PER_COORDINATE
        if bins is None and need > 0.8 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"):
            raise ValueError(f"dim={dim} needs about {need / 2**30:.3g} GiB for the moments, "
                             "more than this machine has; use a smaller dim or bins")
        h = 1.0 / np.arange(1, dim + 1)
        if bins is None:
            return cls(curvatures=h, noise_var=h, w0_sq=np.ones(dim))
        if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 2:
            raise ValueError(f"bins must be an integer >= 2, got {bins!r}")
        edges = np.geomspace(h[0], h[-1], bins)
        # the edge of h_i: the first (largest) edge at or below it, edges decreasing
        which = np.searchsorted(-edges, -h, side="left")
        counts = np.bincount(which, minlength=bins).astype(float)
        keep = counts > 0
        return cls(curvatures=edges[keep], noise_var=edges[keep], w0_sq=np.ones(keep.sum()),
                   multiplicity=counts[keep])

    @property
    def initial_loss(self) -> float:
        r""":math:`\mathbb{E} L_0 = \tfrac12 \sum_i n_i h_i \mathbb{E} w_{0,i}^2`."""
        return float(0.5 * np.dot(self.curvatures * self.multiplicity, self.w0_sq))

    def max_stable_lr(self, *, momentum: float = 0.0, precondition_power: float = 0.0) -> float:
        r"""Largest stable learning rate, :math:`2 (1 + \beta) / \max_i h_i^{1-p}`.

        A coordinate with effective curvature :math:`k = \eta h^{1-p}` is stable iff
        :math:`0 < k < 2(1+\beta)` (both roots of :math:`z^2 - (1+\beta-k) z + \beta` inside
        the unit circle; :func:`nqm.symbolic.momentum_stability_bound`).
        """
        beta, p, _ = _check_optimizer(momentum, precondition_power)
        return float(2.0 * (1.0 + beta) / np.max(self.curvatures ** (1.0 - p)))

    # -- the loss at integer steps -------------------------------------------------------
    def _evaluator(self, lr: float, batch_size: float, optimizer: _Optimizer):
        """``parts(steps)``: (falling, rising, other) shares of the expected loss at the int
        ``steps`` for one (lr, B), shape (3, n).

        ``falling`` never increases with t (the start's share of coordinates that do not
        oscillate), ``rising`` never decreases (the noise's share), ``other`` is the start's
        share of oscillating coordinates (``>= 0``); the loss is their sum.
        """
        beta, p, gamma = optimizer
        h, c = self.curvatures, self.noise_var
        weight = h * self.multiplicity                   # each coordinate's share of the loss
        alpha = lr * h ** (-p)
        k = alpha * h
        drive = alpha**2 * c / batch_size
        block = max(1, _BLOCK // h.size)
        if beta < NEGLIGIBLE_MOMENTUM and gamma == 0.0:
            with np.errstate(divide="ignore"):
                log_rate = 2.0 * np.log(np.abs(1.0 - k))
            def shares(chunk):
                total = affine_moment(log_rate, drive, self.w0_sq, chunk)
                with np.errstate(under="ignore", over="ignore", invalid="ignore"):
                    falling = self.w0_sq * np.exp(np.where(chunk > 0, chunk * log_rate, 0.0))
                return falling, total - falling, np.zeros_like(total)

            def other_bound(a, b):
                return np.zeros(np.atleast_2d(a).shape[0])
        elif np.any(k >= 2.0 * (1.0 + beta)):
            def shares(chunk):
                return (np.zeros(chunk.shape), np.zeros(chunk.shape),
                        np.where(chunk > 0, np.inf, 0.5 * self.initial_loss))

            def other_bound(a, b):
                return np.full(np.atleast_2d(a).shape[0], np.inf)
        else:
            if gamma == 0.0:
                moments = HeavyBall(k, beta)
            elif beta < NEGLIGIBLE_MOMENTUM:
                moments = AveragedSGD(k, gamma)
            else:
                moments = AveragedHeavyBall(k, beta, gamma)
            monotone = moments.monotone

            def shares(chunk):
                begin, noise = moments.parts(chunk.astype(float), self.w0_sq, drive)
                return begin * monotone, noise, begin * ~monotone

            def other_bound(a, b):
                a, b = np.atleast_2d(a), np.atleast_2d(b)
                out = np.empty(a.shape[0])
                for start in range(0, a.shape[0], block):
                    rows = slice(start, start + block)
                    bound = moments.start_lower_bound(a[rows], b[rows], self.w0_sq)
                    out[rows] = 0.5 * (bound * ~monotone) @ weight
                return out


        def parts(steps: np.ndarray) -> np.ndarray:
            out = np.zeros((3, steps.size))
            for start in range(0, steps.size, block):
                for row, share in enumerate(shares(steps[start:start + block, None])):
                    out[row, start:start + block] = (0.5 * share @ weight if share.ndim > 1
                                                     else share)
            return out

        def second_moments(steps: np.ndarray) -> np.ndarray:
            """Every coordinate's :math:`\\mathbb{E}w_{t,i}^2`, shape (steps.size, dim)."""
            out = np.empty((steps.size, h.size))
            for start in range(0, steps.size, block):
                chunk = steps[start:start + block, None]
                out[start:start + block] = np.broadcast_to(sum(shares(chunk)),
                                                           (chunk.shape[0], h.size))
            return out

        parts.other_bound = other_bound
        parts.second_moments = second_moments
        return parts

    def _loss_at(self, lr: float, batch_size: float, steps: np.ndarray, optimizer: _Optimizer):
        """Expected loss at each entry of the int array ``steps`` for one (lr, B)."""
        return self._evaluator(lr, batch_size, optimizer)(steps).sum(axis=0)

    def expected_loss(self, lr, batch_size, steps, *, momentum: float = 0.0,
                      precondition_power: float = 0.0, ema_decay: float = 0.0):
        r"""Exact expected loss :math:`\mathbb{E}L_t = \tfrac12\sum_i h_i \mathbb{E}w_{t,i}^2`.

        Parameters
        ----------
        lr : array_like of float
            Learning rate :math:`\eta > 0`.
        batch_size : array_like of float
            Batch size :math:`B > 0`.
        steps : array_like of int
            Step :math:`t \ge 0`.
        momentum : float, default 0.0
            Heavy-ball momentum :math:`0 \le \beta < 1`.
        precondition_power : float, default 0.0
            :math:`0 \le p \le 1`; the update is preconditioned by :math:`H^{-p}`.
        ema_decay : float, default 0.0
            :math:`0 \le \gamma < 1`: the loss of the exponential moving average of the
            iterates, :math:`u_t = \gamma u_{t-1} + (1-\gamma) w_t`, :math:`u_0 = w_0`, instead
            of the iterate (Zhang et al., Sec. 4.3); exact for plain SGD
            (:func:`nqm.symbolic.ema_as_heavy_ball`) and with momentum
            (:func:`nqm.symbolic.averaged_heavy_ball_sums`).

        Returns
        -------
        float or ndarray
            Broadcast over ``lr``, ``batch_size`` and ``steps``.
        """
        optimizer = _check_optimizer(momentum, precondition_power, ema_decay)
        lr, batch_size, steps = np.broadcast_arrays(
            positive("lr", lr), positive("batch_size", batch_size, allow_inf=True),
            steps_array("steps", steps))
        out = np.empty(lr.shape)
        pairs = np.stack([lr.ravel(), batch_size.ravel()], axis=1)
        unique, inverse = np.unique(pairs, axis=0, return_inverse=True)
        flat_steps, flat_out = steps.ravel(), out.reshape(-1)
        for j, (eta, b) in enumerate(unique):
            where = np.flatnonzero(inverse.ravel() == j)
            wanted = np.unique(flat_steps[where])
            losses = self._loss_at(eta, b, wanted, optimizer)
            flat_out[where] = losses[np.searchsorted(wanted, flat_steps[where])]
        return scalar_or_array(out)

    def noise_scale(self, lr, batch_size, steps, *, momentum: float = 0.0,
                    precondition_power: float = 0.0) -> NoiseScale:
        r"""The gradient noise scale along a run, from the exact second moments of the iterates.

        With :math:`G = h \odot w_t`, the per-example gradient covariance
        :math:`\Sigma = \operatorname{diag}(c)` (it does not depend on :math:`w` in this model)
        and :math:`m_i = \mathbb{E}w_{t,i}^2`:

        .. math::

            \mathbb{E}\lvert G\rvert^2 = \sum_i h_i^2 m_i,\quad
            \mathbb{E}\,G^\top H G = \sum_i h_i^3 m_i,\quad
            B_{\rm simple} = \frac{\sum_i c_i}{\sum_i h_i^2 m_i},\quad
            B_{\rm noise} = \frac{\sum_i h_i c_i}{\sum_i h_i^3 m_i},\quad
            \eta_\max = \frac{\sum_i h_i^2 m_i}{\sum_i h_i^3 m_i}.

        These are ratios of expectations over the iterate distribution at step :math:`t`, not
        expectations of ratios: the expected one-step improvement from that distribution,
        :math:`\eta\,\mathbb{E}\lvert G\rvert^2 - \tfrac{\eta^2}{2}(\mathbb{E}\,G^\top H G +
        \operatorname{tr}(H\Sigma)/B)`, is linear in the moments, so with these values
        :func:`mccandlish_lr` is exactly the step that maximizes it and
        :func:`mccandlish_improvement` its value (for plain SGD from :math:`w_t`; with momentum
        the velocity adds to the step). The run is the one of :meth:`expected_loss` with
        ``lr``, ``batch_size``, ``momentum`` and ``precondition_power``.

        Parameters
        ----------
        lr, batch_size : float
            The run's learning rate and batch size.
        steps : array_like of int
            Steps :math:`t \ge 0` at which to evaluate.
        momentum, precondition_power : float, default 0.0
            As in :meth:`expected_loss`.

        Returns
        -------
        NoiseScale
            Each field shaped like ``steps``; ``trace_cov`` is :math:`\sum_i c_i` throughout.

        References
        ----------
        .. [1] S. McCandlish, J. Kaplan, D. Amodei, "An Empirical Model of Large-Batch
           Training", arXiv:1812.06162 (2018), eqs. 2.6-2.8.

        See Also
        --------
        mccandlish_lr : The learning rate these predict.
        LeastSquaresSGD.noise_scale : The same for Gaussian least squares.

        Examples
        --------
        >>> from nqm import DiagonalNQM
        >>> model = DiagonalNQM.zhang2019(dim=1000)
        >>> scale = model.noise_scale(0.5, 64, [0, 100, 10000])
        >>> print(scale.b_noise.round(2), scale.lr_max.round(3))
        [  1.37 265.76 270.02] [1.368 2.733 1.305]
        """
        optimizer = _check_optimizer(momentum, precondition_power)
        eta = float(positive("lr", lr))
        b = float(positive("batch_size", batch_size, allow_inf=True))
        t = steps_array("steps", steps)
        m = self._evaluator(eta, b, optimizer).second_moments(t.ravel()).reshape(*t.shape, -1)
        h, c, n = self.curvatures, self.noise_var, self.multiplicity
        with np.errstate(over="ignore", invalid="ignore"):
            g2, ghg = m @ (n * h**2), m @ (n * h**3)
            trace = np.full(t.shape, np.dot(n, c))
            return NoiseScale(*(scalar_or_array(v) for v in (
                g2, trace, trace / g2, np.dot(n * h, c) / ghg, g2 / ghg)))

    # -- steps to a target ---------------------------------------------------------------
    def _first_reach(self, lr, batch_size, target, optimizer, max_steps) -> int | None:
        """The first integer step with expected loss at or below ``target``, or ``None``.

        Exact whatever the loss's shape: a scan (every step up to 16, then eight per octave)
        and, between consecutive scanned steps above the target, a branch and bound whose
        bound on the open interval (a, b) is falling(b) + rising(a) (the other share is
        non-negative); intervals it cannot rule out are split, and evaluated step by step
        once short.
        """
        evaluate = self._evaluator(lr, batch_size, optimizer)
        grid = _scan_grid(max_steps)
        parts = np.empty((3, 0))
        for start in range(0, grid.size, 24):            # scan up to the first step reached
            parts = np.concatenate([parts, evaluate(grid[start:start + 24])], axis=1)
            if np.any(parts.sum(axis=0) <= target):
                break
        grid = grid[:parts.shape[1]]
        losses = parts.sum(axis=0)
        reached = np.flatnonzero(losses <= target)
        last = reached[0] if reached.size else grid.size - 1
        # the oscillating share's bound for every scanned interval at once
        other = evaluate.other_bound(grid[:last, None], grid[1:last + 1, None])
        pending = [(grid[i], grid[i + 1], parts[:, i], parts[:, i + 1], other[i])
                   for i in range(last - 1, -1, -1)]                 # a stack, earliest on top
        if reached.size and reached[0] == 0:
            return 0
        while pending:
            a, b, at_a, at_b, other_ab = pending.pop()
            if b - a > 1 and at_b[0] + at_a[1] + other_ab <= target:
                if b - a <= _DENSE:
                    inside = np.arange(a + 1, b)
                    below = np.flatnonzero(evaluate(inside).sum(axis=0) <= target)
                    if below.size:
                        return int(inside[below[0]])
                else:
                    mid = (a + b) // 2
                    at_mid = evaluate(np.array([mid]))[:, 0]
                    pending += [(mid, b, at_mid, at_b, evaluate.other_bound(mid, b)[0]),
                                (a, mid, at_a, at_mid, evaluate.other_bound(a, mid)[0])]
                    continue
            if at_b.sum() <= target:
                return int(b)
        return None

    def _steps_one(self, lr, batch_size, target, optimizer, max_steps) -> float:
        first = self._first_reach(lr, batch_size, target, optimizer, max_steps)
        if first is None:
            return np.inf
        if first == 0:
            return 0.0
        loss_lo, loss_hi = self._loss_at(lr, batch_size, np.array([first - 1, first]),
                                         optimizer)
        # log-linear interpolation between the last step above and the first at or below
        frac = np.log(loss_lo / target) / np.log(loss_lo / loss_hi) if loss_hi > 0 else 1.0
        return first - 1 + float(frac)

    def steps_to_target(self, lr, batch_size, target_loss, *, momentum: float = 0.0,
                        precondition_power: float = 0.0, ema_decay: float = 0.0,
                        max_steps: int = 10**7):
        r"""Steps until the expected loss first reaches ``target_loss``.

        Defined as the first integer :math:`t` with :math:`\mathbb{E}L_t \le L^\star`, also
        where the loss is not monotone in :math:`t` (momentum makes it oscillate): a scan
        (every step up to 16, then eight per octave) and a branch and bound between scanned
        steps that rules out an interval only where a bound on the loss inside it proves it
        above the target (the shares of the loss that only fall, at the interval's end, plus
        those that only rise, at its start). The result is made continuous by interpolating
        :math:`\log \mathbb{E}L` linearly between :math:`t-1` and :math:`t`, so it lies in
        :math:`(t-1, t]` and its ceiling is the step count. Zhang et al.'s notebook counts
        the first :math:`t` with :math:`\mathbb{E}L_t < L^\star`, minus one, by bisection
        (which assumes a monotone loss).

        Parameters
        ----------
        lr, batch_size, target_loss : array_like of float
            Broadcast together; all ``> 0``.
        momentum, precondition_power, ema_decay : float
            As in :meth:`expected_loss`.
        max_steps : int, default 10**7
            Horizon of the search; ``inf`` is returned if the target is not reached by then.

        Returns
        -------
        float or ndarray
        """
        optimizer = _check_optimizer(momentum, precondition_power, ema_decay)
        args = np.broadcast_arrays(positive("lr", lr),
                                   positive("batch_size", batch_size, allow_inf=True),
                                   positive("target_loss", target_loss))
        max_steps = int(steps_array("max_steps", max_steps))
        solve = np.vectorize(lambda eta, b, target: self._steps_one(
            eta, b, target, optimizer, max_steps), otypes=[float])
        return scalar_or_array(solve(*args))

    def optimal_steps_to_target(self, batch_size, target_loss, *,
                                momentum: float | str = 0.0, precondition_power: float = 0.0,
                                ema_decay: float | str = 0.0,
                                max_steps: int = 10**7) -> OptimalSteps:
        r"""The learning rate (and momentum or averaging decay) reaching ``target_loss`` in the
        fewest steps, and those steps.

        .. math::

            T^\star(B) = \min_\theta \min\{T : \mathbb{E}L_T(\theta) \le L^\star\}
            = \min\{T : \psi(T) \le L^\star\}, \qquad
            \psi(T) = \min_\theta \mathbb{E}L_T(\theta),

        with :math:`\theta` the learning rate :math:`0 < \eta < \eta_\max`
        (:meth:`max_stable_lr`, searched over seven decades below it), and with it the
        momentum or the decay where given as ``"tuned"`` (:math:`0 \le \beta, \gamma \le
        1 - 10^{-5}`, the range of Zhang et al.'s grid). The search runs over :math:`T` on the
        envelope :math:`\psi`: each evaluation minimizes the exact loss at one step over
        :math:`\theta` (started from a grid on a copy of the spectrum binned into 64
        geometric bins, refined on it and then on the model), so its cost does not grow with
        :math:`T`. It assumes :math:`\psi` falls with :math:`T`. ``steps`` is
        :math:`T^\star - 1` plus the log-linear interpolation of :math:`\psi` between
        :math:`T^\star - 1` and :math:`T^\star`; the hyperparameters returned minimize
        :math:`\mathbb{E}L_{T^\star}`. While gradient noise dominates,
        :math:`T^\star \propto 1/B` (perfect scaling); once curvature dominates it flattens.

        Where coordinates are under-damped (momentum at large batch) the loss at a fixed step
        ripples in :math:`\theta` (each such coordinate's phase at step :math:`T`); the
        minimization there follows the ripple reached from the grid's best point, so the
        steps are those of the hyperparameters returned, not a certified global minimum.

        Parameters
        ----------
        batch_size : array_like of float
            Batch sizes, ``> 0`` (``inf`` gives the noise-free limit).
        target_loss : array_like of float
            :math:`0 < L^\star`.
        momentum : float or "tuned", default 0.0
            A fixed momentum, or ``"tuned"`` to minimize over it jointly with the rate.
        precondition_power : float, default 0.0
            As in :meth:`expected_loss`.
        ema_decay : float or "tuned", default 0.0
            A fixed decay of the moving average of the iterates, or ``"tuned"`` (not both it
            and ``momentum``).
        max_steps : int, default 10**7
            ``steps`` is ``inf`` beyond it.

        Returns
        -------
        OptimalSteps
            Named tuple ``(lr, steps, momentum, ema_decay)``, broadcast over the arguments;
            ``steps`` is ``inf`` (the rest nan) where the target is not reached within
            ``max_steps``, and ``0`` (the rest nan) where it is not below the initial loss.

        References
        ----------
        .. [1] G. Zhang et al., "Which algorithmic choices matter at which batch sizes?",
           NeurIPS 2019, arXiv:1907.04164, Secs. 3-4 (their notebook searches a grid of 100
           rates, and of 20 momenta or decays).

        See Also
        --------
        steps_to_target : At one learning rate.
        critical_batch_size : Where perfect scaling ends.
        steps_lower_bound : What no optimizer beats.

        Examples
        --------
        >>> from nqm import DiagonalNQM
        >>> model = DiagonalNQM.zhang2019(dim=1000)
        >>> best = model.optimal_steps_to_target([1, 64, 4096], 0.1)
        >>> print(best.steps.round(1))
        [24657.8   568.8   279.3]
        >>> joint = model.optimal_steps_to_target(4096, 0.1, momentum="tuned")
        >>> print(round(float(joint.steps), 1), round(float(joint.momentum), 3))
        30.4 0.877
        """
        space = _search_space(momentum, precondition_power, ema_decay)
        quadratic = self._quadratic()
        batch_size, target_loss = np.broadcast_arrays(
            positive("batch_size", batch_size, allow_inf=True),
            positive("target_loss", target_loss))
        max_steps = int(steps_array("max_steps", max_steps))

        def solve(b, target):
            best = fewest_steps(quadratic, b, target, space, max_steps)
            return best.lr, best.steps, best.beta, best.gamma

        fields = np.vectorize(solve, otypes=[float] * 4)(batch_size, target_loss)
        return OptimalSteps(*(scalar_or_array(v) for v in fields))

    def _quadratic(self) -> Quadratic:
        return Quadratic(self.curvatures, self.noise_var, self.w0_sq, self.multiplicity)

    def schedule_loss(self, lrs, batch_size, piece_steps, *,
                      precondition_power: float = 0.0) -> float:
        r"""Exact expected loss of plain SGD after a piecewise-constant learning-rate schedule.

        Piece :math:`j` runs :math:`n_j` steps (``piece_steps``) at rate :math:`\eta_j`
        (``lrs``); each coordinate's second moment follows its affine recursion piece by piece,
        :math:`m \leftarrow r_j^{n_j} m + d_j (1 - r_j^{n_j})/(1 - r_j)` with
        :math:`r_j = (1 - \eta_j h^{1-p})^2` and :math:`d_j = \eta_j^2 h^{-2p} c / B`.

        References
        ----------
        .. [1] G. Zhang et al., "Which algorithmic choices matter at which batch sizes?",
           NeurIPS 2019, arXiv:1907.04164, Sec. 4.1.

        See Also
        --------
        optimal_schedule : The schedule that minimizes it.
        expected_loss : One constant rate.
        """
        _, p, _ = _check_optimizer(0.0, precondition_power)
        rates = positive("lrs", lrs)
        pieces = np.broadcast_to(steps_array("piece_steps", piece_steps), rates.shape)
        b = float(positive("batch_size", batch_size, allow_inf=True))
        return self._schedule_loss(np.log(rates), b, pieces, p)

    def _schedule_loss(self, log_lrs, batch_size, pieces, p) -> float:
        h, c = self.curvatures, self.noise_var
        m = self.w0_sq
        for log_lr, n in zip(log_lrs, pieces, strict=True):
            alpha = np.exp(log_lr) * h ** (-p)
            with np.errstate(divide="ignore"):
                log_rate = 2.0 * np.log(np.abs(1.0 - alpha * h))
            m = affine_moment(log_rate, alpha**2 * c / batch_size, m, n)
        return float(0.5 * np.dot(h * self.multiplicity, m))

    def optimal_schedule(self, batch_size, piece_steps, *, pieces: int = 10,
                         precondition_power: float = 0.0,
                         max_lr: float | None = None) -> OptimalSchedule:
        r"""The piecewise-constant schedule of plain SGD with the least expected loss.

        ``pieces`` pieces of ``piece_steps`` steps each; their rates minimize
        :meth:`schedule_loss`, optimized in :math:`\log\eta` by L-BFGS-B under the cap
        ``max_lr`` (by default the stability bound of :meth:`max_stable_lr` times
        :math:`1 - 10^{-4}`), started from the best constant rate. Zhang et al. find the
        optimal schedule starts at the largest feasible rate and decays, more steeply the
        smaller the batch.

        References
        ----------
        .. [1] G. Zhang et al., "Which algorithmic choices matter at which batch sizes?",
           NeurIPS 2019, arXiv:1907.04164, Sec. 4.1 (their notebook optimizes 10 or 50
           pieces from :math:`\log\eta = -5`).

        See Also
        --------
        schedule_loss : The objective.
        steps_with_schedule : The fewest steps to a target with such a schedule.

        Examples
        --------
        >>> from nqm import DiagonalNQM
        >>> model = DiagonalNQM.zhang2019(dim=1000)
        >>> best = model.optimal_schedule(64, 200, pieces=4)
        >>> print(best.lrs.round(3), round(best.loss, 5))
        [2.   2.   2.   0.31] 0.03208
        """
        from scipy.optimize import minimize, minimize_scalar

        _, p, _ = _check_optimizer(0.0, precondition_power)
        b = float(positive("batch_size", batch_size, allow_inf=True))
        n = int(steps_array("piece_steps", piece_steps))
        if isinstance(pieces, bool) or not isinstance(pieces, int | np.integer) or pieces < 1:
            raise ValueError(f"pieces must be a positive integer, got {pieces!r}")
        cap = (self.max_stable_lr(precondition_power=p) * (1.0 - 1e-4) if max_lr is None
               else float(positive("max_lr", max_lr)))
        top = np.log(cap)
        lengths = np.full(pieces, n)
        constant = minimize_scalar(
            lambda x: self._schedule_loss(np.full(pieces, x), b, lengths, p),
            bounds=(top - np.log(1e7), top), method="bounded", options={"xatol": 1e-8})
        result = minimize(lambda x: self._schedule_loss(x, b, lengths, p),
                          np.full(pieces, constant.x), method="L-BFGS-B",
                          bounds=[(None, top)] * pieces,
                          options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 2000})
        best = result.x if result.fun <= constant.fun else np.full(pieces, constant.x)
        return OptimalSchedule(np.exp(best), self._schedule_loss(best, b, lengths, p))

    def steps_with_schedule(self, batch_size, target_loss, *, pieces: int = 10,
                            precondition_power: float = 0.0, max_lr: float | None = None,
                            max_steps: int = 10**8) -> int:
        r"""The fewest steps to ``target_loss`` with an optimal piecewise-constant schedule.

        The smallest :math:`n` such that ``pieces`` pieces of :math:`n` steps, their rates
        from :meth:`optimal_schedule`, reach the target; bisection on :math:`n` (reaching it
        in :math:`n` steps per piece implies reaching it in :math:`n + 1`: the optimal loss
        does not increase with the budget). Returns the total ``pieces * n``, or ``-1`` if
        ``max_steps`` do not suffice. Zhang et al.'s notebook reports ``pieces * (n - 1)``
        (the last budget that does not reach the target).

        References
        ----------
        .. [1] G. Zhang et al., "Which algorithmic choices matter at which batch sizes?",
           NeurIPS 2019, arXiv:1907.04164, Sec. 4.1 and their notebook's ``ttl_sched``.

        See Also
        --------
        optimal_schedule : The schedule.
        optimal_steps_to_target : The best constant rate.
        steps_lower_bound : What no schedule beats.
        """
        target = float(positive("target_loss", target_loss))
        kwargs = dict(pieces=pieces, precondition_power=precondition_power, max_lr=max_lr)

        def reaches(n: int) -> bool:
            return self.optimal_schedule(batch_size, n, **kwargs).loss <= target

        high = 1
        while not reaches(high):
            high *= 2
            if high * pieces > max_steps:
                return -1
        low = high // 2                                   # not reached (or 0)
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (low, mid) if reaches(mid) else (mid, high)
        return pieces * high

    def critical_batch_size(self, target_loss, *, momentum: float | str = 0.0,
                            precondition_power: float = 0.0, ema_decay: float | str = 0.0,
                            max_steps: int = 10**7) -> float:
        r"""Batch size at which perfect scaling ends.

        Defined as in McCandlish et al. (2018): with :math:`S_\min = S^\star(\infty)` the
        noise-free optimal step count, :math:`B_\mathrm{crit}` solves
        :math:`S^\star(B) = 2 S_\min`. For the hyperbola :math:`S^\star = S_\min (1 +
        B_\mathrm{noise}/B)` this is exactly :math:`B_\mathrm{noise}`; below it steps fall
        as :math:`1/B`, above it they flatten. Solved at the fixed step :math:`2 S_\min`: the
        interpolated envelope :math:`\log\psi_B` there falls with :math:`B` (less noise,
        lower loss), and :math:`S^\star(B) = 2 S_\min` exactly where it equals
        :math:`\log L^\star`; Brent's method in :math:`\log B`.

        Parameters
        ----------
        target_loss : float
            :math:`L^\star > 0`.
        momentum, precondition_power, ema_decay, max_steps
            As in :meth:`optimal_steps_to_target` (``"tuned"`` included).

        Returns
        -------
        float
            :math:`B_\mathrm{crit}` (``1.0`` if even :math:`B = 1` needs at most
            :math:`2 S_\min` steps).

        Raises
        ------
        ValueError
            If ``target_loss`` is not below the initial loss, or not reachable without noise.

        References
        ----------
        .. [1] S. McCandlish et al., "An empirical model of large-batch training",
           arXiv:1812.06162, Sec. 2.2.
        """
        space = _search_space(momentum, precondition_power, ema_decay)
        quadratic = self._quadratic()
        target = float(positive("target_loss", target_loss))
        max_steps = int(steps_array("max_steps", max_steps))
        if target >= self.initial_loss:
            raise ValueError(f"target_loss={target:g} is not below the initial loss "
                             f"{self.initial_loss:.4g}: every batch size reaches it at step 0")
        s_min = fewest_steps(quadratic, np.inf, target, space, max_steps).steps
        if not np.isfinite(s_min):
            raise ValueError(f"target_loss={target} is not reachable within max_steps={max_steps}"
                             " even without noise")

        def excess(log_b):        # log psi_B at 2 S_min minus log target: falls with B
            return envelope_at(quadratic, np.exp(log_b), space, 2.0 * s_min) - np.log(target)

        if excess(0.0) <= 0:
            return 1.0
        log_hi = 1.0
        while excess(log_hi) > 0:
            log_hi *= 2.0
        return float(np.exp(brentq(excess, log_hi / 2 if log_hi > 1 else 0.0, log_hi,
                                   xtol=1e-3)))

    def steps_lower_bound(self, batch_size, target_loss):
        r"""Zhang et al.'s information-theoretic lower bound on the steps to a target loss.

        .. math::

            T \ge \frac{1}{2 B L^\star} \sum_i n_i \frac{c_i}{h_i}
            \quad\Big(= \frac{\rm dim}{2 B L^\star}\ \text{for}\ C = H\Big),

        where ``batch_size`` is :math:`B`, ``target_loss`` is :math:`L^\star` and
        :math:`n_i` the :attr:`multiplicity`. Each example's gradient observes
        :math:`h_i (w_i - w^\star_i)` with noise variance :math:`c_i`, so :math:`N = BT`
        examples carry Fisher information :math:`N h_i^2 / c_i` about :math:`w^\star_i`; by
        the Cramér-Rao bound no unbiased estimate has variance below :math:`c_i / (N h_i^2)`,
        hence an expected loss of at least :math:`\sum_i n_i c_i / (2 N h_i)`
        (:func:`nqm.symbolic.information_lower_bound`). It assumes unbiased estimation and no
        use of the prior :math:`w_0`, so it binds only for targets well below the initial
        loss; it holds for every optimizer, schedule and averaging.

        Returns
        -------
        float or ndarray
            Broadcast over ``batch_size`` and ``target_loss``.

        References
        ----------
        .. [1] G. Zhang et al., "Which algorithmic choices matter at which batch sizes?",
           NeurIPS 2019, arXiv:1907.04164, Sec. 3.3 and their notebook's "lower bound".

        See Also
        --------
        optimal_steps_to_target : What a fixed learning rate achieves.

        Examples
        --------
        >>> from nqm import DiagonalNQM
        >>> print(DiagonalNQM.zhang2019(10_000).steps_lower_bound([4, 1024], 0.01))
        [125000.    488.28125]
        """
        b = positive("batch_size", batch_size)
        target = positive("target_loss", target_loss)
        information = np.dot(self.multiplicity, self.noise_var / self.curvatures)
        return scalar_or_array(information / (2.0 * b * target))


class _Optimizer(NamedTuple):
    beta: float
    p: float
    gamma: float = 0.0


def _search_space(momentum, precondition_power, ema_decay) -> Space:
    """What :meth:`DiagonalNQM.optimal_steps_to_target` searches besides the rate."""
    given = {"momentum": momentum, "ema_decay": ema_decay}
    tuned = [name for name, value in given.items() if isinstance(value, str)]
    for name in tuned:
        if given[name] != "tuned":
            raise ValueError(f'{name} must be a number or "tuned", got {given[name]!r}')
    if len(tuned) == 2:
        raise ValueError('momentum and ema_decay cannot both be "tuned": tune one, fix the '
                         "other")
    fixed = _check_optimizer(0.0 if momentum == "tuned" else momentum, precondition_power,
                             0.0 if ema_decay == "tuned" else ema_decay)
    return Space(None if momentum == "tuned" else fixed.beta, fixed.p,
                 None if ema_decay == "tuned" else fixed.gamma)


def _check_optimizer(momentum, precondition_power, ema_decay=0.0) -> _Optimizer:
    beta = float(as_float_array("momentum", momentum, low=0.0, strict=False))
    if beta >= 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    p = float(as_float_array("precondition_power", precondition_power, low=0.0, strict=False))
    if p > 1.0:
        raise ValueError(f"precondition_power must be in [0, 1], got {precondition_power!r}")
    gamma = float(as_float_array("ema_decay", ema_decay, low=0.0, strict=False))
    if gamma >= 1.0:
        raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay!r}")
    return _Optimizer(beta, p, gamma)
