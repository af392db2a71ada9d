"""The diagonal NQM's fewest steps to a target: first crossings, the joint optimum over the
hyperparameters, the critical batch size and the information-theoretic lower bound."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.optimize import brentq

from nqm._diagonal_options import _check_optimizer, _search_space
from nqm._fewest_steps import envelope_at, fewest_steps
from nqm._validation import positive, scalar_or_array, steps_array

_DENSE = 512
"""Intervals at most this long that the bound cannot rule out are evaluated step by step."""


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


def _max_steps(value) -> int:
    """The step limit of a search, a whole number ``>= 1``."""
    steps = int(steps_array("max_steps", value))
    if steps < 1:
        raise ValueError(f"max_steps must be at least 1, got {value!r}")
    return steps


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


class FewestSteps:
    """The fewest-steps methods of :class:`DiagonalNQM` (a mixin over its exact loss)."""

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
        max_steps = _max_steps(max_steps)
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

        Raises
        ------
        ValueError
            If a ``target_loss`` is not below the initial loss (every rate reaches it at step 0).

        Returns
        -------
        OptimalSteps
            Named tuple ``(lr, steps, momentum, ema_decay)``, broadcast over the arguments;
            ``steps`` is ``inf`` (the rest nan: no rate) where the target is not reached
            within ``max_steps``.

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
        max_steps = _max_steps(max_steps)
        if np.any(target_loss >= self.initial_loss):
            raise ValueError(f"target_loss={np.max(target_loss):g} is not below the initial loss "
                             f"{self.initial_loss:.4g}: every rate reaches it at step 0")

        def solve(b, target):
            best = fewest_steps(quadratic, b, target, space, max_steps)
            return best.lr, best.steps, best.beta, best.gamma

        fields = np.vectorize(solve, otypes=[float] * 4)(batch_size, target_loss)
        return OptimalSteps(*(scalar_or_array(v) for v in fields))

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
        max_steps = _max_steps(max_steps)
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
            if log_hi > 512.0:              # e^512 ~ 1e222, far beyond any batch size
                raise ValueError(f"target_loss={target:g}: even B = 1e222 needs more than "
                                 "twice the noiseless steps; the critical batch size is beyond "
                                 "float64's range")
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
