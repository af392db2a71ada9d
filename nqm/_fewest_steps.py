r"""The fewest steps to a target loss, searched on the envelope of the optimal loss.

For hyperparameters :math:`\theta` (the learning rate, and the momentum or the averaging
decay when they are tuned too) the fewest steps to a target :math:`L^\star` is

.. math::

    T^\star = \min_\theta \min\{T : \mathbb{E}L_T(\theta) \le L^\star\}
            = \min\{T : \psi(T) \le L^\star\},\qquad \psi(T) = \min_\theta \mathbb{E}L_T(\theta),

so instead of a first-passage search per :math:`\theta` (hundreds of steps evaluated each)
the search runs over :math:`T` on the envelope :math:`\psi`, one smooth minimization over
:math:`\theta` at a fixed step per evaluation, whatever the size of :math:`T`. It assumes
:math:`\psi` decreases with :math:`T` (the best loss reachable in :math:`T` steps is
reachable in more), which the answer checks at :math:`T^\star - 1`.

The search over :math:`\theta` starts from a grid on a coarse copy of the spectrum (its
curvatures binned geometrically), is refined there, and then on the model itself by a
quadratic model fitted on a stencil of points, in :math:`\log\eta` and
:math:`\log(1-\beta)` (or :math:`\log(1-\gamma)`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nqm._affine import affine_moment
from nqm._averaging import AveragedHeavyBall, AveragedSGD
from nqm._heavy_ball import HeavyBall

NEGLIGIBLE_MOMENTUM = 2.0**-106
"""A momentum below this is treated as none (see :mod:`nqm._diagonal`)."""

MIN_ONE_MINUS = 1e-5
r"""Tuned momentum or decay stays at or below :math:`1 - 10^{-5}` (Zhang et al.'s grid)."""

DECADES = 7.0
"""The learning rates searched span this many decades below the stability bound."""

_BLOCK = 400_000
"""Points x coordinates evaluated at once."""

_COARSE_BINS = 64
"""Geometric bins of the coarse copy of the spectrum that the grid search runs on."""


class Quadratic(NamedTuple):
    """The arrays of a diagonal NQM (see :class:`nqm.DiagonalNQM`)."""

    curvatures: np.ndarray
    noise_var: np.ndarray
    w0_sq: np.ndarray
    multiplicity: np.ndarray

    @property
    def initial_loss(self) -> float:
        return float(0.5 * np.dot(self.curvatures * self.multiplicity, self.w0_sq))

    def coarse(self, bins: int = _COARSE_BINS) -> Quadratic:
        """A copy with the curvatures binned into ``bins`` geometric bins (multiplicity-weighted
        means of each array per bin); itself if it has at most twice that many coordinates."""
        h, n = self.curvatures, self.multiplicity
        if h.size <= 2 * bins:
            return self
        logs = np.log(h)
        edges = np.linspace(logs.min(), logs.max(), bins + 1)
        which = np.clip(np.searchsorted(edges, logs, side="right") - 1, 0, bins - 1)
        count = np.bincount(which, weights=n, minlength=bins)
        keep = count > 0

        def mean(x):
            return np.bincount(which, weights=n * x, minlength=bins)[keep] / count[keep]
        return Quadratic(mean(h), mean(self.noise_var), mean(self.w0_sq), count[keep])


class Space(NamedTuple):
    """What is searched: the learning rate, and the momentum or the decay where ``None``."""

    beta: float | None
    p: float
    gamma: float | None

    @property
    def dims(self) -> int:
        return 1 if self.beta is not None and self.gamma is not None else 2

    def params(self, theta: np.ndarray):
        r"""``(lr, beta, gamma)`` of the points ``theta`` (shape (n, dims)).

        One dimension: :math:`x = \log\eta`. Tuned momentum: :math:`x = \log(\eta/(1-\beta))`
        (the effective rate, along which small-batch optima lie flat), :math:`y = \log(1-\beta)`.
        Tuned decay: :math:`x = \log\eta`, :math:`y = \log(1-\gamma)`.
        """
        x = theta[:, 0]
        n = x.size
        if self.dims == 1:
            return np.exp(x), np.full(n, self.beta), np.full(n, self.gamma)
        y = theta[:, 1]
        free = -np.expm1(np.minimum(y, 0.0))
        if self.beta is None:
            return np.exp(x + y), free, np.full(n, self.gamma)
        return np.exp(x), np.full(n, self.beta), free

    def inside(self, theta: np.ndarray) -> np.ndarray:
        if self.dims == 1:
            return np.ones(theta.shape[0], dtype=bool)
        y = theta[:, 1]
        return (y <= 0.0) & (y >= np.log(MIN_ONE_MINUS))

    def cap(self, y, h_max_eff: float):
        """The largest stable ``x`` at ``y`` (times 1 - 1e-9)."""
        if self.dims == 1:
            return np.log(2.0 * (1.0 + self.beta) / h_max_eff * (1.0 - 1e-9))
        if self.beta is None:
            beta = -np.expm1(y)
            return np.log(2.0 * (1.0 + beta) / h_max_eff * (1.0 - 1e-9)) - y
        return np.log(2.0 * (1.0 + self.beta) / h_max_eff * (1.0 - 1e-9))

    def grid(self, h_max_eff: float) -> np.ndarray:
        """The starting grid: 33 rates over :data:`DECADES` decades below the bound, times
        11 values of :math:`1-\\beta` (or :math:`1-\\gamma`) from 1 to 1e-5 when tuned."""
        low = np.log(2.0 / h_max_eff) - DECADES * np.log(10.0)
        if self.dims == 1:
            return np.linspace(low, self.cap(None, h_max_eff), 33)[:, None]
        rows = []
        for y in np.linspace(0.0, np.log(MIN_ONE_MINUS), 11):
            xs = np.linspace(low, self.cap(y, h_max_eff), 25)
            rows.append(np.column_stack([xs, np.full(xs.size, y)]))
        return np.concatenate(rows)


def losses(model: Quadratic, batch_size: float, space: Space, steps, theta) -> np.ndarray:
    """The exact expected loss at the integer ``steps`` of each point ``theta``, ``inf`` where
    unstable or outside the search box; ``steps`` broadcasts against the points."""
    h, c, w0, n = model
    weight = 0.5 * h * n
    eff, pre = h ** (1.0 - space.p), h ** (-space.p)
    theta = np.atleast_2d(theta)
    lr, beta, gamma = space.params(theta)
    steps = np.broadcast_to(np.asarray(steps, dtype=float), lr.shape)
    out = np.full(lr.size, np.inf)
    rows_per_block = max(1, _BLOCK // h.size)
    usable = np.flatnonzero(space.inside(theta))
    for start in range(0, usable.size, rows_per_block):
        rows = usable[start:start + rows_per_block]
        k = lr[rows, None] * eff
        drive = (lr[rows, None] * pre) ** 2 * c / batch_size
        t = steps[rows, None]
        b, g = beta[rows, None], gamma[rows, None]
        stable = np.all(k < 2.0 * (1.0 + b), axis=1)
        moments = np.full(k.shape, np.inf)
        plain = stable & (beta[rows] < NEGLIGIBLE_MOMENTUM) & (gamma[rows] == 0.0)
        if plain.any():
            with np.errstate(divide="ignore"):
                log_rate = 2.0 * np.log(np.abs(1.0 - k[plain]))
            moments[plain] = affine_moment(log_rate, drive[plain], w0, t[plain])
        momentum = beta[rows] >= NEGLIGIBLE_MOMENTUM
        averaged = gamma[rows] > 0.0
        for which, closed_form in ((stable & momentum & ~averaged, HeavyBall),
                                   (stable & ~momentum & averaged, AveragedSGD),
                                   (stable & momentum & averaged, AveragedHeavyBall)):
            if which.any():
                shape = k[which].shape
                arguments = {HeavyBall: (b,), AveragedSGD: (g,), AveragedHeavyBall: (b, g)}
                form = closed_form(k[which].ravel(), *(
                    np.broadcast_to(v, k.shape)[which].ravel()
                    for v in arguments[closed_form]))
                start_share, noise_share = form.parts(
                    np.broadcast_to(t, k.shape)[which].ravel(),
                    np.broadcast_to(w0, k.shape)[which].ravel(), drive[which].ravel())
                moments[which] = (start_share + noise_share).reshape(shape)
        with np.errstate(invalid="ignore", over="ignore"):
            out[rows] = moments @ weight
    out[np.isnan(out)] = np.inf
    return np.where(steps == 0, model.initial_loss, out)


class _Envelope:
    """:math:`\\log\\psi(T)` on one model at one batch size, each step's minimizer kept to
    start the next."""

    def __init__(self, model: Quadratic, batch_size: float, space: Space):
        self.model, self.batch_size, self.space = model, batch_size, space
        self.h_max_eff = float(np.max(model.curvatures ** (1.0 - space.p)))
        self.found: dict[int, tuple[float, np.ndarray]] = {}

    def log_loss(self, steps: int, theta) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(losses(self.model, self.batch_size, self.space, steps, theta))

    def at(self, steps: int, start: np.ndarray | None = None, scale: float = 0.05):
        """``(log psi(steps), theta)``, the minimization started from ``start`` or from the
        minimizer of the nearest step already evaluated (with a spacing as large as the
        distance in log steps)."""
        if steps in self.found:
            return self.found[steps]
        if start is None:
            nearest = min(self.found, key=lambda s: abs(np.log(s) - np.log(steps)))
            start = self.found[nearest][1]
            scale = float(np.clip(abs(np.log(nearest) - np.log(steps)), 1e-3, 0.05))
        value, theta = _local_min(lambda pts: self.log_loss(steps, pts), start, scale)
        self.found[steps] = (value, theta)
        return value, theta

    def before(self, steps: int) -> float:
        """:math:`\\log\\psi` one step before ``steps >= 1`` (the initial loss before step 1)."""
        return self.at(steps - 1)[0] if steps > 1 else float(np.log(self.model.initial_loss))

    def refined(self, model: Quadratic, steps: int) -> _Envelope:
        """The envelope of ``model`` (of which this one's is the coarse copy) minimized at
        ``steps`` from this one's minimizer there; itself where the copy is the model."""
        if model is self.model:
            return self
        exact = _Envelope(model, self.batch_size, self.space)
        exact.at(steps, self.found[steps][1], scale=0.02)
        return exact

    def first_reach(self, log_target: float, hint: int, max_steps: int) -> int | None:
        r"""The least integer ``T <= max_steps`` with ``log psi(T) <= log_target`` (``None``
        if there is none), searched from ``hint``: outwards in growing steps until bracketed,
        then by regula falsi in :math:`\log T` (every third try halves the bracket in
        :math:`\log T`). ``self.found`` must hold a start."""
        low, high = 0, None                       # psi(low) > target >= psi(high)
        step = max(1, hint // 64)
        t = int(min(max(hint, 1), max_steps))
        for tries in range(200):
            if self.at(t)[0] <= log_target:
                high = t
            elif t >= max_steps:
                return None
            else:
                low = t
            if high is None:
                t, step = min(low + step, max_steps), 4 * step
                continue
            if high - low <= 1:
                return high
            if low == 0:                          # nothing above the target evaluated yet
                t, step = max(1, high - step), 4 * step
                continue
            a, b = np.log(low), np.log(high)
            f_a, f_b = self.found[low][0] - log_target, self.found[high][0] - log_target
            guess = (b - f_b * (b - a) / (f_b - f_a)) if tries % 3 and f_a > f_b > -np.inf else (a + b) / 2
            t = int(np.clip(round(np.exp(guess)), low + 1, high - 1))
        raise RuntimeError("the search for the first step did not converge")


def _local_min(objective, start, scale: float, tol: float = 1e-4, rounds: int = 24):
    """Minimize ``objective`` (vectorized over points) near ``start``.

    Each round evaluates a stencil of 3 (one dimension) or 9 points of spacing ``h`` around
    the current point, moves to the best of them, and tries the minimizer of the quadratic
    fitted to them (where convex). The spacing doubles (up to 1) while the best stencil point
    keeps moving the same way (a long flat valley, as tuned momentum has at small batch) and
    is divided by four when the point does not move; the search ends once the spacing or the
    last quadratic step is below ``tol``, or after ``rounds`` rounds (where the loss
    oscillates in the hyperparameters it moves between ripples). Returns ``(value, point)``.
    """
    x = np.asarray(start, dtype=float).ravel()
    d = x.size
    offsets = np.array(np.meshgrid(*[[-1.0, 0.0, 1.0]] * d, indexing="ij")).reshape(d, -1).T
    best, h, direction = float(objective(x[None])[0]), scale, None
    for _ in range(rounds):
        centre = x
        values = objective(centre + h * offsets)
        i = int(np.argmin(values))
        moved = values[i] < best
        if moved:
            best, x = float(values[i]), centre + h * offsets[i]
            if direction is not None and np.array_equal(direction, offsets[i]):
                h = min(2.0 * h, 1.0)
            direction = offsets[i]
        step = _quadratic_step(offsets, values, h)
        if step is not None:
            trial = centre + step
            value = float(objective(trial[None])[0])
            if value < best:
                best, x, moved, direction = value, trial, True, None
                if np.max(np.abs(step)) < tol:
                    break
                h = min(h, max(4.0 * np.max(np.abs(step)), tol))
        if not moved:
            if h <= tol:
                break
            h, direction = h / 4.0, None
    return best, x


def _quadratic_step(offsets, values, h):
    """The minimizer of the quadratic through the stencil's finite values, relative to its
    centre, where it is convex; at most two spacings per coordinate."""
    finite = np.isfinite(values)
    d = offsets.shape[1]
    u = offsets[finite]
    pairs = [(j, m) for j in range(d) for m in range(j, d)]
    design = np.column_stack([np.ones(len(u))] + [u[:, j] for j in range(d)]
                             + [u[:, j] * u[:, m] for j, m in pairs])
    if design.shape[0] < design.shape[1] or np.linalg.matrix_rank(design) < design.shape[1]:
        return None
    coef = np.linalg.lstsq(design, values[finite], rcond=None)[0]
    hess = np.zeros((d, d))
    for (j, m), value in zip(pairs, coef[1 + d:], strict=True):
        hess[j, m] += value
        hess[m, j] += value
    eig = np.linalg.eigvalsh(hess)
    if not np.all(np.isfinite(eig)) or eig.min() <= 1e-9 * max(1e-300, abs(eig).max()):
        return None
    return np.clip(-np.linalg.solve(hess, coef[1:1 + d]), -2.0, 2.0) * h


class Fewest(NamedTuple):
    steps: float
    lr: float
    beta: float
    gamma: float


def _seeded(model: Quadratic, batch_size: float, space: Space, steps: int) -> _Envelope:
    """The exact envelope of a batch size, minimized at ``steps`` from the best point of the
    grid on the coarse copy (refined there first)."""
    coarse = _Envelope(model.coarse(), batch_size, space)
    grid = space.grid(coarse.h_max_eff)
    coarse.at(steps, grid[int(np.argmin(coarse.log_loss(steps, grid)))], scale=0.1)
    return coarse.refined(model, steps)


def fewest_steps(model: Quadratic, batch_size: float, target: float, space: Space,
                 max_steps: int) -> Fewest:
    """The fewest steps to ``target`` over the searched hyperparameters, and where: ``steps``
    is ``T* - 1`` plus the log-linear interpolation of the envelope between ``T* - 1`` and
    ``T*``; the hyperparameters minimize the loss at ``T*``."""
    if target >= model.initial_loss:
        return Fewest(0.0, np.nan, np.nan, np.nan)
    log_target = np.log(target)
    coarse = _Envelope(model.coarse(), batch_size, space)
    grid = space.grid(coarse.h_max_eff)
    t, previous, before = 1, 0, np.log(model.initial_loss)
    while True:                                    # the grid at 1, 4, 16, ... steps
        values = coarse.log_loss(t, grid)
        if values.min() <= log_target or t == max_steps:
            break
        previous, t, before = t, min(4 * t, max_steps), values.min()
    coarse.at(t, grid[int(np.argmin(values))], scale=0.1)
    if coarse.found[t][0] > log_target:
        return Fewest(np.inf, np.nan, np.nan, np.nan)
    hint = t
    if previous > 0 and before > coarse.found[t][0] > -np.inf:   # log-log interpolation
        a, b = np.log(previous), np.log(t)
        hint = int(round(np.exp(b - (coarse.found[t][0] - log_target) * (b - a)
                                / (coarse.found[t][0] - before))))
    reached, exact = coarse.first_reach(log_target, hint, max_steps), coarse
    if reached is not None and coarse.model is not model:
        exact = coarse.refined(model, reached)
        reached = exact.first_reach(log_target, reached, max_steps)
    if reached is None:
        return Fewest(np.inf, np.nan, np.nan, np.nan)
    at, theta = exact.at(reached)
    before = exact.before(reached)
    # log-linear between the steps. Not within the first: no run reaches a target below the
    # initial loss in less than one step (a fraction of it would make S_min < 1 and B_crit a
    # batch size where "twice the noise-free minimum" is less than one step); nor through a
    # loss of exactly 0 (one coordinate at lr = 1/h), which leaves no line to interpolate
    fraction = ((before - log_target) / (before - at) if reached > 1 and before > at > -np.inf
                else 1.0)
    lr, beta, gamma = (float(v[0]) for v in space.params(theta[None]))
    return Fewest(reached - 1 + float(fraction), lr, beta, gamma)


def envelope_at(model: Quadratic, batch_size: float, space: Space, steps: float) -> float:
    r"""The log-linear interpolation of :math:`\log\psi` at a real step ``steps > 0``
    (between its integer neighbours), the minimizations seeded at the upper one."""
    upper = int(np.ceil(steps))
    fraction = steps - (upper - 1)
    exact = _seeded(model, batch_size, space, upper)
    return float((1.0 - fraction) * exact.before(upper) + fraction * exact.at(upper)[0])
