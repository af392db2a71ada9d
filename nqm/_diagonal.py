"""The diagonal noisy quadratic model of Zhang et al. (2019)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from nqm._affine import affine_moment
from nqm._averaging import AveragedHeavyBall, AveragedSGD
from nqm._diagonal_options import _check_optimizer, _Optimizer
from nqm._diagonal_schedules import Schedules
from nqm._diagonal_steps import FewestSteps
from nqm._heavy_ball import HeavyBall
from nqm._noise_scale import NoiseScale
from nqm._validation import nonnegative, positive, scalar_or_array, steps_array

_BYTES_PER_COORDINATE = 1024
"""Working memory of one coordinate: the closed form's parameters and its temporaries for one
step (blocks of steps are sized to :data:`_BLOCK` elements)."""

_BLOCK = 200_000
"""Steps x coordinates evaluated at once (about 50 temporaries of this many float64)."""

NEGLIGIBLE_MOMENTUM = 2.0**-106
"""A momentum below this is treated as none: it moves every moment by a relative O(beta), far
below double precision, while the two-root closed form divides by sqrt(beta)."""


@dataclass(frozen=True, eq=False)
class DiagonalNQM(FewestSteps, Schedules):
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
        if bins is not None and (isinstance(bins, bool) or not isinstance(bins, int | np.integer)
                                 or not 2 <= bins <= dim):
            raise ValueError(f"bins must be an integer from 2 to dim={dim}, got {bins!r}")
        # binning still draws every coordinate's curvature (8 bytes) and its bin (8 more)
        need = dim * (_BYTES_PER_COORDINATE if bins is None else 16)
        if need > 0.8 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"):
            raise ValueError(f"dim={dim} needs about {need / 2**30:.3g} GiB, more than this "
                             "machine has; use a smaller dim")
        h = 1.0 / np.arange(1, dim + 1)
        if bins is None:
            return cls(curvatures=h, noise_var=h, w0_sq=np.ones(dim))
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
        with np.errstate(over="ignore"):                 # inf: a diverging run
            drive = alpha**2 * c / batch_size
        block = max(1, _BLOCK // h.size)
        if beta < NEGLIGIBLE_MOMENTUM and gamma == 0.0:
            with np.errstate(divide="ignore"):
                log_rate = 2.0 * np.log(np.abs(1.0 - k))
            def shares(chunk):
                total = affine_moment(log_rate, drive, self.w0_sq, chunk)
                with np.errstate(under="ignore", over="ignore", invalid="ignore"):
                    falling = self.w0_sq * np.exp(np.where(chunk > 0, chunk * log_rate, 0.0))
                    rising = np.where(np.isinf(falling), 0.0, total - falling)   # not inf - inf
                return falling, rising, np.zeros_like(total)

            def other_bound(a, b):
                return np.zeros(np.atleast_2d(a).shape[0])
        elif np.any(k >= 2.0 * (1.0 + beta)):
            def shares(chunk):                           # 1-d: the loss itself
                steps = chunk[:, 0]
                return (np.zeros(steps.shape), np.zeros(steps.shape),
                        np.where(steps > 0, np.inf, self.initial_loss))

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
            Broadcast over ``lr``, ``batch_size`` and ``steps``; ``inf`` where the loss
            overflows (a rate above :meth:`max_stable_lr`: the run diverges).
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
        if not np.isfinite(m).all():
            raise ValueError(f"lr={eta:g} diverges (the stable bound is "
                             f"{self.max_stable_lr(momentum=momentum, precondition_power=precondition_power):.4g}):"
                             " the noise scale along a diverging run is not defined")
        h, c, n = self.curvatures, self.noise_var, self.multiplicity
        with np.errstate(over="ignore", invalid="ignore"):
            g2, ghg = m @ (n * h**2), m @ (n * h**3)
            trace = np.full(t.shape, np.dot(n, c))
            return NoiseScale(*(scalar_or_array(v) for v in (
                g2, trace, trace / g2, np.dot(n * h, c) / ghg, g2 / ghg)))

    # -- steps to a target ---------------------------------------------------------------
