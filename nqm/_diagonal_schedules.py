"""The diagonal NQM under piecewise-constant learning-rate schedules: exact loss, the optimal
schedule, and the fewest steps with one."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nqm._affine import affine_moment
from nqm._diagonal_options import _check_optimizer
from nqm._fewest_steps import Quadratic
from nqm._validation import nonnegative, positive, steps_array

MAX_PIECES = 10_000
"""The most pieces a schedule may have: L-BFGS-B optimizes one rate per piece."""


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


class Schedules:
    """The schedule methods of :class:`DiagonalNQM` (a mixin over its exact loss)."""

    def _quadratic(self) -> Quadratic:
        return Quadratic(self.curvatures, self.noise_var, self.w0_sq, self.multiplicity)

    def schedule_loss(self, lrs, batch_size, piece_steps, *,
                      precondition_power: float = 0.0) -> float:
        r"""Exact expected loss of plain SGD after a piecewise-constant learning-rate schedule.

        Piece :math:`j` runs :math:`n_j` steps (``piece_steps``) at rate :math:`\eta_j`
        (``lrs``); each coordinate's second moment follows its affine recursion piece by piece,
        :math:`m \leftarrow r_j^{n_j} m + d_j (1 - r_j^{n_j})/(1 - r_j)` with
        :math:`r_j = (1 - \eta_j h^{1-p})^2` and :math:`d_j = \eta_j^2 h^{-2p} c / B`.
        ``inf`` where the loss overflows (pieces far above :meth:`max_stable_lr` diverge).

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
        if rates.size == 0:
            raise ValueError("lrs must hold the rate of at least one piece, got none")
        pieces = np.broadcast_to(steps_array("piece_steps", piece_steps), rates.shape)
        b = float(positive("batch_size", batch_size, allow_inf=True))
        return self._schedule_loss(np.log(rates), b, pieces, p)

    def schedule_curve(self, lrs, batch_size) -> np.ndarray:
        r"""Exact expected loss of plain SGD after each step of a per-step rate schedule.

        .. math::

            m_{t,i} = (1 - \eta_t h_i)^2\, m_{t-1,i} + \eta_t^2 c_i / B, \qquad
            L_t = \tfrac12 \sum_i n_i h_i m_{t,i},

        where :math:`\eta_t` is step :math:`t`'s rate (``lrs``), :math:`B` is
        ``batch_size``, :math:`h_i, c_i, n_i` are the curvatures, per-example noise variances
        and multiplicities, and :math:`m_{0,i}` the initial second moments: the recursion of
        :meth:`schedule_loss` taken one step at a time, so that every point of the curve is
        exact. ``inf`` where it overflows.

        Parameters
        ----------
        lrs : array_like of float, shape (steps,)
            The rate of each step, ``>= 0``.
        batch_size : float

        Returns
        -------
        ndarray, shape (steps,)

        References
        ----------
        .. [1] G. Zhang et al., "Which algorithmic choices matter at which batch sizes?",
           NeurIPS 2019, arXiv:1907.04164, Sec. 3.

        See Also
        --------
        schedule_loss : The loss after the last step of a piecewise-constant schedule.

        Examples
        --------
        >>> from nqm import DiagonalNQM
        >>> model = DiagonalNQM([1.0], noise_var=[1.0], w0_sq=[1.0])
        >>> print(model.schedule_curve([0.5, 0.5], 1))
        [0.25   0.1875]
        """
        rates = nonnegative("lrs", lrs)
        if rates.ndim != 1 or rates.size == 0:
            raise ValueError(f"lrs must hold the rate of each step, 1-d and non-empty, got shape "
                             f"{rates.shape}")
        b = float(positive("batch_size", batch_size, allow_inf=True))
        h, c, m = self.curvatures, self.noise_var, self.w0_sq
        weight = 0.5 * h * self.multiplicity
        curve = np.empty(rates.size)
        with np.errstate(over="ignore", invalid="ignore"):
            for t, lr in enumerate(rates):
                m = (1.0 - lr * h) ** 2 * m + lr**2 * c / b
                curve[t] = np.dot(weight, m)
        return np.where(np.isnan(curve), np.inf, curve)

    def _schedule_loss(self, log_lrs, batch_size, pieces, p) -> float:
        h, c = self.curvatures, self.noise_var
        m = self.w0_sq
        for log_lr, n in zip(log_lrs, pieces, strict=True):
            alpha = np.exp(log_lr) * h ** (-p)
            with np.errstate(divide="ignore", over="ignore"):      # inf: a diverging piece
                log_rate = 2.0 * np.log(np.abs(1.0 - alpha * h))
                drive = alpha**2 * c / batch_size
            m = affine_moment(log_rate, drive, m, n)
        return float(0.5 * np.dot(h * self.multiplicity, m))

    def optimal_schedule(self, batch_size, piece_steps, *, pieces: int = 10,
                         precondition_power: float = 0.0,
                         max_lr: float | None = None) -> OptimalSchedule:
        r"""The piecewise-constant schedule of plain SGD with the least expected loss.

        ``pieces`` pieces of ``piece_steps`` steps each; their rates minimize
        :meth:`schedule_loss`, optimized in :math:`\log\eta` by L-BFGS-B under the cap
        ``max_lr`` (at most the stability bound of :meth:`max_stable_lr`; by default that
        bound times :math:`1 - 10^{-4}`), started from the best constant rate. Zhang et al. find the
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
        if n < 1:
            raise ValueError(f"piece_steps must be at least 1, got {n}")
        if (isinstance(pieces, bool) or not isinstance(pieces, int | np.integer)
                or not 1 <= pieces <= MAX_PIECES):
            raise ValueError(f"pieces must be an integer from 1 to {MAX_PIECES} (one rate each "
                             f"to optimize), got {pieces!r}")
        bound = self.max_stable_lr(precondition_power=p)
        cap = bound * (1.0 - 1e-4) if max_lr is None else float(positive("max_lr", max_lr))
        if cap > bound:
            raise ValueError(f"max_lr={cap:g} is above the stability bound {bound:.4g}: a "
                             "schedule's rates are searched below it")
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
        does not increase with the budget). Returns the total ``pieces * n``, ``0`` where the
        target is not below the initial loss, or ``-1`` if ``max_steps`` do not suffice.
        Zhang et al.'s notebook reports ``pieces * (n - 1)``
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
        max_steps = int(steps_array("max_steps", max_steps))
        kwargs = dict(pieces=pieces, precondition_power=precondition_power, max_lr=max_lr)
        if target >= self.initial_loss:
            return 0                                      # reached before the first step

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
