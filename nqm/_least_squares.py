"""Exact dynamics of minibatch SGD on Gaussian least squares (the homework's linear model)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from nqm._affine import affine_first_passage, affine_moment, minimize_on_log_scale
from nqm._critical_batch import CriticalBatch, continuum_critical_batch, greedy_step_count
from nqm._noise_scale import NoiseScale
from nqm._validation import nonnegative, positive, scalar_or_array, steps_array


@dataclass(frozen=True)
class LeastSquaresSGD:
    r"""Online minibatch SGD on Gaussian multi-output least squares, in expectation.

    Data :math:`x \sim N(0, I_D)` (a row), labels :math:`y = x W^\star + \sigma\varepsilon`
    with :math:`\varepsilon \sim N(0, I_D)`; weights :math:`W \in \mathbb{R}^{D\times D}`;
    each step draws a fresh batch :math:`X \in \mathbb{R}^{B\times D}` and applies the
    homework's gradient :math:`\tfrac{2}{B}(X^\top X W - X^\top Y)`. The error
    :math:`e_t = \mathbb{E}\lVert W_t - W^\star\rVert_F^2` then obeys exactly

    .. math::

        e_{t+1} = \Big(1 - 4\eta + 4\eta^2 \frac{B + D + 1}{B}\Big) e_t
                  + \frac{4 \eta^2 \sigma^2 D^2}{B},

    from the Wishart moments :math:`\mathbb{E}X^\top X = B I`,
    :math:`\mathbb{E}(X^\top X)^2 = B(B+D+1) I` (derived in
    :func:`nqm.symbolic.least_squares_error_recursion`); :math:`\eta` is the learning rate.
    The test MSE (mean over the :math:`D` outputs) is :math:`\sigma^2 + e_t / D`.

    Parameters
    ----------
    dim : int
        :math:`D`, the input and output dimension.
    noise_std : float
        :math:`\sigma \ge 0`, the label-noise standard deviation.
    init_error : float
        :math:`e_0 = \mathbb{E}\lVert W_0 - W^\star\rVert_F^2 \ge 0`; ``2 * dim**2`` for the
        notebook's independent :math:`N(0, 1)` draws of :math:`W_0` and :math:`W^\star`.

    See Also
    --------
    nqm.FiniteSampleLeastSquaresSGD : The same dynamics on a given finite training set.
    nqm.scalar_expected_loss : The scalar model it reduces to per direction.

    Notes
    -----
    Assumes fresh samples every step (the online limit of a large training set). On a finite
    training set sampled with replacement, use :class:`FiniteSampleLeastSquaresSGD`.

    References
    ----------
    .. [1] J. Wishart moments: A. K. Gupta and D. K. Nagar, *Matrix Variate Distributions*,
       Chapman & Hall, 2000, Thm. 3.3.15 (:math:`\mathbb{E}W^2 = n(n+p+1)\Sigma^2` at
       :math:`\Sigma = I`).
    .. [2] S. Ma, R. Bassily, M. Belkin, "The power of interpolation: understanding the
       effectiveness of SGD in modern over-parametrized learning", ICML 2018,
       arXiv:1712.06559 (the same critical learning rate :math:`B/(B+D+1)` structure).

    Examples
    --------
    >>> from nqm import LeastSquaresSGD
    >>> model = LeastSquaresSGD(dim=16, noise_std=5.0, init_error=2 * 16**2)
    >>> print(model.max_stable_lr([2, 16, 256]))
    [0.10526316 0.48484848 0.93772894]
    >>> print(model.expected_test_mse([0.01, 0.1], 16, 100).round(3))
    [25.839 28.15 ]
    """

    dim: int
    noise_std: float
    init_error: float

    def __post_init__(self):
        if not isinstance(self.dim, int | np.integer) or self.dim < 1:
            raise ValueError(f"dim must be a positive integer, got {self.dim!r}")
        nonnegative("noise_std", self.noise_std)
        nonnegative("init_error", self.init_error)

    def _recursion(self, lr, batch_size):
        d = self.dim
        lr = positive("lr", lr)
        batch_size = positive("batch_size", batch_size)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):   # inf: diverges
            growth = 4.0 * lr * (1.0 - lr * (batch_size + d + 1) / batch_size)
            log_rate = np.log1p(-growth)
            drive = 4.0 * lr**2 * self.noise_std**2 * d**2 / batch_size
        return log_rate, drive

    def expected_error(self, lr, batch_size, steps):
        r"""Exact :math:`e_t = \mathbb{E}\lVert W_t - W^\star\rVert_F^2` (see the class formula).

        Parameters
        ----------
        lr, batch_size : array_like of float
            ``> 0``.
        steps : array_like of int
            ``>= 0``.

        Returns
        -------
        float or ndarray
            Broadcast over the arguments; ``inf`` where it overflows (a rate far above
            :meth:`max_stable_lr`: the run diverges).
        """
        log_rate, drive = self._recursion(lr, batch_size)
        return scalar_or_array(affine_moment(log_rate, drive, self.init_error,
                                             steps_array("steps", steps)))

    def expected_test_mse(self, lr, batch_size, steps):
        r"""Expected test MSE :math:`\sigma^2 + e_t / D` (mean over outputs and test points)."""
        return scalar_or_array(self.noise_std**2
                               + np.asarray(self.expected_error(lr, batch_size, steps)) / self.dim)

    def max_stable_lr(self, batch_size):
        r""":math:`\eta_\max = B / (B + D + 1)`: the rate at which :math:`e_t`'s factor reaches 1."""
        batch_size = positive("batch_size", batch_size)
        return scalar_or_array(batch_size / (batch_size + self.dim + 1))

    def optimal_lr(self, batch_size, steps, *, window: int = 1):
        r"""Learning rate minimizing the mean test MSE over the last ``window`` steps.

        .. math::

            \eta^\star = \arg\min_\eta \frac{1}{k}\sum_{t=T-k+1}^{T} \Big(\sigma^2 +
            \frac{e_t(\eta)}{D}\Big), \qquad k = \text{window},\ T = \text{steps}.

        Found on a geometric grid refined by bounded Brent in :math:`\log\eta`, within
        :math:`(0, \eta_\max]`.

        Examples
        --------
        >>> from nqm import LeastSquaresSGD
        >>> model = LeastSquaresSGD(dim=16, noise_std=5.0, init_error=2 * 16**2)
        >>> print(model.optimal_lr([2, 16, 256], 100).round(4))
        [0.0101 0.0154 0.022 ]
        """
        steps = int(steps_array("steps", steps))
        if not isinstance(window, int | np.integer) or not 1 <= window <= steps:
            raise ValueError(f"window must be an integer in [1, steps={steps}], got {window!r}")
        ts = np.arange(steps - window + 1, steps + 1)

        def solve(b):
            def objective(lrs):
                log_rate, drive = self._recursion(lrs[:, None], b)
                return affine_moment(log_rate, drive, self.init_error, ts).mean(axis=1)
            top = float(self.max_stable_lr(b))            # below 1e-9 at a tiny batch size
            return minimize_on_log_scale(objective, min(1e-9, 1e-6 * top), top)

        batch_size = positive("batch_size", batch_size)
        return scalar_or_array(np.vectorize(solve, otypes=[float])(batch_size))

    def noise_scale(self, error):
        r"""The gradient noise scale at squared error :math:`e = \lVert W - W^\star\rVert_F^2`.

        .. math::

            \lvert G\rvert^2 = 4e,\quad \operatorname{tr}\Sigma = 4[(D + 1)e + \sigma^2 D^2],
            \quad B_{\rm noise} = B_{\rm simple} = D + 1 + \frac{\sigma^2 D^2}{e},\quad
            \eta_\max = \tfrac12,

        for the homework's per-example gradient :math:`2x^\top(xE - \sigma\varepsilon)` (the
        Hessian is :math:`2I`, so the two noise scales agree); derived in
        :func:`nqm.symbolic.least_squares_noise_scale`. Along a run, pass the expected error
        :meth:`expected_error`: both :math:`\lvert G\rvert^2` and :math:`\operatorname{tr}\Sigma`
        are linear in :math:`e`, so this is the ratio of their expectations over the iterate
        distribution, the quantity the expected one-step improvement depends on (and with it
        :func:`mccandlish_lr` is the exact greedy step).

        Examples
        --------
        >>> from nqm import LeastSquaresSGD
        >>> model = LeastSquaresSGD(dim=16, noise_std=5.0, init_error=2 * 16**2)
        >>> print(round(float(model.noise_scale(512.0).b_noise), 2))
        29.5
        """
        e = positive("error", error)
        d = self.dim
        trace = 4 * ((d + 1) * e + self.noise_std**2 * d**2)
        b_noise = trace / (4 * e)
        return NoiseScale(scalar_or_array(4 * e), scalar_or_array(trace),
                          scalar_or_array(b_noise), scalar_or_array(b_noise),
                          scalar_or_array(np.full_like(e, 0.5)))

    def _target_error(self, target_mse) -> np.ndarray:
        target_mse = positive("target_mse", target_mse)
        error = self.dim * (target_mse - self.noise_std**2)
        if np.any(error <= 0) or np.any(error >= self.init_error):
            raise ValueError(f"target_mse must lie between the noise floor noise_std^2 = "
                             f"{self.noise_std**2:g} and the initial test MSE "
                             f"{self.noise_std**2 + self.init_error / self.dim:g}, got "
                             f"{target_mse.min():g} to {target_mse.max():g}")
        return error

    def critical_batch(self, target_mse) -> CriticalBatch:
        r"""McCandlish et al.'s fewest steps, fewest examples and critical batch size to a test
        MSE, from the noise scale along the greedy schedule.

        .. math::

            S_{\min} = \ln\frac{e_0}{e},\quad
            E_{\min} = (D + 1)\ln\frac{e_0}{e} + \sigma^2 D^2\Big(\frac1e - \frac1{e_0}\Big),
            \quad B_{\rm crit} = \frac{E_{\min}}{S_{\min}},\quad e = D(\text{target} - \sigma^2),

        the continuum model :math:`S(B) = S_{\min} + E_{\min}/B` integrated with
        :math:`B_{\rm noise}(e) = D + 1 + \sigma^2 D^2/e` (:meth:`noise_scale`) and
        :math:`\Delta e_{\max} = e` (:func:`nqm.symbolic.greedy_critical_batch`). As the error
        falls into the noise, :math:`B_{\rm crit} \approx \sigma^2 D^2 / (e \ln(e_0/e))`:
        Kaplan et al.'s power law in the loss with exponent :math:`-1`, up to the logarithm.
        The continuum holds for :math:`B \ll B_{\rm noise}`; :meth:`greedy_steps` is the exact
        count, which falls below :math:`S_{\min}` at large batch sizes (an infinite batch
        reaches the minimum in one step).

        Parameters
        ----------
        target_mse : float or array_like
            Between the noise floor :math:`\sigma^2` and the initial test MSE.

        Returns
        -------
        CriticalBatch

        References
        ----------
        .. [1] S. McCandlish, J. Kaplan, D. Amodei, "An Empirical Model of Large-Batch
           Training", arXiv:1812.06162 (2018), eqs. 2.11-2.12, integrated along the run.
        .. [2] J. Kaplan et al., "Scaling Laws for Neural Language Models", arXiv:2001.08361
           (2020), section 5.1 (:math:`B_{\rm crit}(L) = B_\ast / L^{1/\alpha_B}`).

        See Also
        --------
        greedy_steps : The exact fewest steps it approximates.
        nqm.scalar_critical_batch : The same for the scalar noisy quadratic model.
        nqm.steps_examples_tradeoff : The hyperbola it parametrizes.

        Examples
        --------
        >>> from nqm import LeastSquaresSGD
        >>> model = LeastSquaresSGD(dim=16, noise_std=5.0, init_error=2 * 16**2)
        >>> print(model.critical_batch([26.0, 30.0]).b_crit.round(1))
        [128.8  53.4]
        """
        error = self._target_error(target_mse)
        return continuum_critical_batch(error, self.init_error, self.dim + 1.0,
                                        self.noise_std**2 * self.dim**2)

    def greedy_steps(self, batch_size, target_mse):
        r"""The fewest steps to a test MSE over all learning-rate schedules: the greedy
        schedule's, counted exactly.

        The greedy rate :math:`\tfrac12 / (1 + B_{\rm noise}(e)/B)` (:meth:`noise_scale`,
        :func:`nqm.mccandlish_lr`) takes the error to exactly

        .. math::

            e' = e\,\frac{B_{\rm noise}(e)}{B + B_{\rm noise}(e)},\qquad
            B_{\rm noise}(e) = D + 1 + \frac{\sigma^2 D^2}{e}

        (:func:`nqm.symbolic.greedy_error_map`). The error after a step grows with the error
        before it at every rate, so minimizing each step minimizes every later one and no
        schedule does better. Counted by iterating the map (at most ``10**6`` steps).

        Parameters
        ----------
        batch_size, target_mse : float or array_like
            ``batch_size > 0``; ``target_mse`` as in :meth:`critical_batch`. Broadcast.

        Returns
        -------
        int or ndarray of int

        See Also
        --------
        critical_batch : McCandlish et al.'s continuum model of the same count.
        optimal_lr_target : The fewest steps at one constant rate.

        Examples
        --------
        >>> from nqm import LeastSquaresSGD
        >>> model = LeastSquaresSGD(dim=16, noise_std=5.0, init_error=2 * 16**2)
        >>> print(model.greedy_steps([2, 16, 256, 4096], 26.0))
        [224  29   3   1]
        """
        error = self._target_error(target_mse)
        b = positive("batch_size", batch_size)
        return greedy_step_count(b, error, self.init_error, self.dim + 1.0,
                                 self.noise_std**2 * self.dim**2, lambda:
                                 f"batch_size={np.min(b):g}, target_mse={np.min(target_mse):g}")

    def failure_lr(self, batch_size, steps, level):
        r"""The rate above which the expected test MSE after ``steps`` steps ends above ``level``.

        .. math::

            \eta_{\rm fail}:\quad \sigma^2 + \frac{e_T(\eta_{\rm fail})}{D} = \text{level},
            \qquad \eta^\star < \eta_{\rm fail} < \eta_\max,\ T = \text{steps},

        the root above the optimal rate :meth:`optimal_lr`, found by Brent's method; with
        ``level`` the initial loss it is the sweep's collapse criterion (the last test loss no
        better than the first, :func:`empirical.failed`) in expectation. It lies below the
        mean-square bound :meth:`max_stable_lr`, where the noise-driven stationary error
        diverges: with label noise, a run fails before it becomes unstable. ``0`` where
        ``level`` is at or below the best loss reachable in ``steps`` steps (every rate
        fails); the bound itself where the loss after ``steps`` steps stays below ``level``
        all the way up to it.

        Examples
        --------
        >>> from nqm import LeastSquaresSGD
        >>> model = LeastSquaresSGD(dim=16, noise_std=5.0, init_error=2 * 16**2)
        >>> print(model.failure_lr([2, 32, 512], 100, 25.0 + 2 * 16).round(4))
        [0.0635 0.5203 0.9455]
        """
        steps = int(steps_array("steps", steps))
        level = positive("level", level)

        def solve(b, lvl):
            def excess(lr):
                return self.noise_std**2 + float(self.expected_error(lr, b, steps)) / self.dim - lvl
            best = float(self.optimal_lr(b, steps))
            top = float(self.max_stable_lr(b)) * (1 - 1e-12)
            if excess(best) >= 0:                    # every rate ends above the level
                return 0.0
            if excess(top) <= 0:                     # no failure below the bound in T steps
                return float(self.max_stable_lr(b))
            return brentq(excess, best, top, xtol=1e-14, rtol=1e-12)

        batch_size = positive("batch_size", batch_size)
        return scalar_or_array(np.vectorize(solve, otypes=[float])(batch_size, level))

    def steps_to_target(self, lr, batch_size, target_mse):
        r"""Real :math:`t` solving :math:`\sigma^2 + e_t/D = \text{target}` (``inf`` if unreachable)."""
        log_rate, drive = self._recursion(lr, batch_size)
        target_error = self.dim * (positive("target_mse", target_mse) - self.noise_std**2)
        return scalar_or_array(affine_first_passage(log_rate, drive, self.init_error,
                                                    target_error))

    def optimal_lr_target(self, batch_size, target_mse):
        r"""Learning rate reaching ``target_mse`` in the fewest steps.

        Raises
        ------
        ValueError
            If a target is at or below the noise floor :math:`\sigma^2` (no rate reaches it).

        Examples
        --------
        >>> from nqm import LeastSquaresSGD
        >>> model = LeastSquaresSGD(dim=16, noise_std=5.0, init_error=2 * 16**2)
        >>> print(model.optimal_lr_target([2, 16, 256], 26.0).round(4))
        [0.004  0.031  0.3372]
        """
        target_mse = positive("target_mse", target_mse)
        if np.any(target_mse <= self.noise_std**2):
            raise ValueError(f"target_mse={np.min(target_mse):g} is at or below the noise floor "
                             f"noise_std^2 = {self.noise_std**2:g}: no rate reaches it")

        def solve(b, target):
            top = float(self.max_stable_lr(b))
            return minimize_on_log_scale(lambda lrs: self.steps_to_target(lrs, b, target),
                                         min(1e-9, 1e-6 * top), top)

        batch_size = positive("batch_size", batch_size)
        return scalar_or_array(np.vectorize(solve, otypes=[float])(batch_size, target_mse))
