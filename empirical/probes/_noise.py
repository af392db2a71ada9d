"""Estimators of the gradient noise scale (McCandlish et al. 2018) for any functional loss."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np
import torch
from torch.func import grad, vmap

from empirical._core.arguments import (
    MAX_EXAMPLES,
    MAX_ITERATIONS,
    MAX_STEPS,
    POSITIVE,
    SEED,
    checked,
    function,
    kind,
    numbers,
    optional,
    parameters,
    real,
    tensors,
    whole,
    whole_sequence,
)
from empirical.probes._hessian import gradient_curvature
from empirical.problems._workload import Workload
from empirical.train._generic import train_workload


class NoiseEstimate(NamedTuple):
    """Estimates of :math:`\\lvert G\\rvert^2` and :math:`\\operatorname{tr}\\Sigma`, their
    standard errors, and the simple noise scale.

    Attributes
    ----------
    gradient_sq, trace_cov : float
        Unbiased estimates (means over independent repetitions).
    gradient_sq_se, trace_cov_se : float
        Their standard errors over the repetitions.
    b_simple : float
        ``trace_cov / gradient_sq``, the ratio of the two means (McCandlish et al. average
        numerator and denominator separately, since the ratio of noisy estimates is biased).

    See Also
    --------
    per_example_noise : From per-example gradients.
    two_batch_noise : From minibatch gradients at two batch sizes.
    """

    gradient_sq: float
    trace_cov: float
    gradient_sq_se: float
    trace_cov_se: float
    b_simple: float


def _flat_grad(loss: Callable, params: Mapping[str, torch.Tensor]):
    """``batch -> flat gradient vector`` of ``loss`` at ``params``."""
    names = list(params)

    def flat(batch):
        g = grad(loss)(dict(params), batch)
        return torch.cat([g[k].reshape(-1) for k in names])
    return flat


def _mean_and_error(values: np.ndarray) -> tuple[float, float]:
    """The mean and its standard error, computed on the values over their largest magnitude so
    that the gradients of a diverging run (up to float64's limit) do not overflow the squares."""
    n = values.size
    scale = float(np.max(np.abs(values))) if np.all(np.isfinite(values)) else float("nan")
    if not np.isfinite(scale):
        return float("nan"), float("nan")
    unit = values / scale if scale > 0 else values
    factor = scale if scale > 0 else 1.0
    error = factor * float(unit.std(ddof=1)) / float(np.sqrt(n)) if n > 1 else float("nan")
    return factor * float(unit.mean()), error


def _summary(g2: np.ndarray, trace: np.ndarray) -> NoiseEstimate:
    (g2_mean, g2_se), (trace_mean, trace_se) = _mean_and_error(g2), _mean_and_error(trace)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        b_simple = float(np.float64(trace_mean) / np.float64(g2_mean))
    return NoiseEstimate(g2_mean, trace_mean, g2_se, trace_se, b_simple)


@checked(loss=function, params=parameters, data=tensors, batch_size=whole(1, MAX_EXAMPLES),
         n_batches=whole(1, MAX_ITERATIONS), seed=SEED)
def per_example_noise(loss: Callable, params: Mapping[str, torch.Tensor], data: tuple,
                      batch_size: int, *, n_batches: int = 10, seed: int = 0) -> NoiseEstimate:
    r"""The gradient noise scale from per-example gradients (``torch.func.vmap`` of ``grad``).

    For each of ``n_batches`` minibatches of ``batch_size`` examples (drawn with replacement,
    ``numpy.random.RandomState(seed)``), with per-example gradients :math:`g_i` and their mean
    :math:`\bar g`:

    .. math::

        \widehat{\operatorname{tr}\Sigma} = \frac{1}{B-1}\sum_i \lVert g_i - \bar g\rVert^2,
        \qquad \widehat{\lvert G\rvert^2} = \lVert\bar g\rVert^2 -
        \frac{\widehat{\operatorname{tr}\Sigma}}{B},

    both unbiased for the data set's own :math:`G` and :math:`\Sigma` (the per-example gradient
    covariance under sampling with replacement). ``loss(params, batch)`` is a workload's loss,
    called here on one-example batches.

    References
    ----------
    .. [1] S. McCandlish, J. Kaplan, D. Amodei, "An Empirical Model of Large-Batch Training",
       arXiv:1812.06162 (2018), section 2.2 and appendix A.

    See Also
    --------
    two_batch_noise : The estimator that needs no per-example gradients.
    nqm.LeastSquaresSGD.noise_scale : The exact values for Gaussian least squares.

    Examples
    --------
    For the loss :math:`\overline{\lVert w - x\rVert^2}` at :math:`w = 0` with
    :math:`x \sim N(\mu, I_4)`, :math:`\mu = (0.5, \dots, 0.5)`, the per-example gradient is
    :math:`2(w - x)`: :math:`\lvert G\rvert^2 = 4\lvert\mu\rvert^2 = 4`,
    :math:`\operatorname{tr}\Sigma = 4 \cdot 4 = 16` and :math:`B_{\rm simple} = 4`.

    >>> import torch
    >>> from empirical import per_example_noise
    >>> x = torch.randn(20000, 4, dtype=torch.float64,
    ...                 generator=torch.Generator().manual_seed(0)) + 0.5
    >>> def loss(p, batch):
    ...     return torch.mean(torch.sum((p["w"] - batch[0]) ** 2, dim=1))
    >>> est = per_example_noise(loss, {"w": torch.zeros(4, dtype=torch.float64)}, (x,),
    ...                         batch_size=256, n_batches=20)
    >>> bool(abs(est.trace_cov - 16) < 3 * est.trace_cov_se), round(est.b_simple, 1)
    (True, 3.9)
    """
    if batch_size < 2:
        raise ValueError(f"batch_size must be >= 2 for a covariance, got {batch_size!r}")
    flat = _flat_grad(loss, params)
    per_example = vmap(lambda example: flat(tuple(t[None] for t in example)))
    rows = np.random.RandomState(seed).randint(0, data[0].shape[0], (n_batches, batch_size))
    g2, trace = np.empty(n_batches), np.empty(n_batches)
    for i, idx in enumerate(rows):
        g = per_example(tuple(t[torch.as_tensor(idx, device=t.device)] for t in data))
        mean = g.mean(dim=0)
        trace[i] = float(((g - mean) ** 2).sum() / (batch_size - 1))
        g2[i] = float(mean @ mean) - trace[i] / batch_size
    return _summary(g2, trace)


@checked(loss=function, params=parameters, data=tensors, small=whole(1, MAX_EXAMPLES),
         big=whole(1, MAX_EXAMPLES), n_pairs=whole(1, MAX_ITERATIONS), seed=SEED)
def two_batch_noise(loss: Callable, params: Mapping[str, torch.Tensor], data: tuple,
                    small: int, big: int, *, n_pairs: int = 10, seed: int = 0) -> NoiseEstimate:
    r"""The gradient noise scale from minibatch gradients at two batch sizes.

    For each of ``n_pairs`` pairs of independent minibatches of sizes :math:`b` (``small``) and
    :math:`B` (``big``), with gradients :math:`G_b`, :math:`G_B` of the mean loss,
    :math:`\mathbb{E}\lvert G_b\rvert^2 = \lvert G\rvert^2 + \operatorname{tr}\Sigma / b`, so

    .. math::

        \widehat{\lvert G\rvert^2} = \frac{B\lvert G_B\rvert^2 - b\lvert G_b\rvert^2}{B - b},
        \qquad \widehat{\operatorname{tr}\Sigma} = \frac{\lvert G_b\rvert^2 -
        \lvert G_B\rvert^2}{1/b - 1/B},

    both unbiased (McCandlish et al., appendix A.1). Only minibatch gradients are needed, as
    in data-parallel training where each device's gradient is the small batch.

    References
    ----------
    .. [1] S. McCandlish, J. Kaplan, D. Amodei, "An Empirical Model of Large-Batch Training",
       arXiv:1812.06162 (2018), appendix A.1.

    See Also
    --------
    per_example_noise : The per-example estimator.

    Examples
    --------
    The example of :func:`per_example_noise` (:math:`\lvert G\rvert^2 = 4`,
    :math:`\operatorname{tr}\Sigma = 16`): the difference of two noisy squared norms makes
    the trace the noisier estimate, which its standard error says.

    >>> import torch
    >>> from empirical import two_batch_noise
    >>> x = torch.randn(20000, 4, dtype=torch.float64,
    ...                 generator=torch.Generator().manual_seed(0)) + 0.5
    >>> def loss(p, batch):
    ...     return torch.mean(torch.sum((p["w"] - batch[0]) ** 2, dim=1))
    >>> est = two_batch_noise(loss, {"w": torch.zeros(4, dtype=torch.float64)}, (x,),
    ...                       small=8, big=256, n_pairs=200)
    >>> bool(abs(est.gradient_sq - 4) < 3 * est.gradient_sq_se)
    True
    >>> bool(abs(est.trace_cov - 16) < 3 * est.trace_cov_se), est.trace_cov_se > 10 * est.gradient_sq_se
    (True, True)
    """
    if not 1 <= small < big:
        raise ValueError(f"need 1 <= small < big, got small={small!r}, big={big!r}")
    flat = _flat_grad(loss, params)
    stream = np.random.RandomState(seed)
    n = data[0].shape[0]
    g2, trace = np.empty(n_pairs), np.empty(n_pairs)
    for i in range(n_pairs):
        norms = {}
        for size in (small, big):
            idx = torch.as_tensor(stream.randint(0, n, size))
            g = flat(tuple(t[idx.to(t.device)] for t in data))
            norms[size] = float(g @ g)
        g2[i] = (big * norms[big] - small * norms[small]) / (big - small)
        trace[i] = (norms[small] - norms[big]) / (1 / small - 1 / big)
    return _summary(g2, trace)


class NoiseTrace(NamedTuple):
    r"""The gradient noise scale and the curvature along one training run.

    Attributes
    ----------
    lr : float
    batch_size : int
        The run's learning rate and batch size.
    method : {"two-batch", "per-example"}
    steps : ndarray of int, shape (n,)
        Updates done at each checkpoint (0: the initialization).
    train_loss, test_loss : ndarray, shape (n,)
        The loss on the whole training set and the workload's test metric there.
    gradient_sq, trace_cov, gradient_sq_se, trace_cov_se : ndarray, shape (n,)
        The unbiased estimates of :math:`\lvert G\rvert^2` and :math:`\operatorname{tr}\Sigma`
        at each checkpoint and their standard errors (:class:`NoiseEstimate`).
    b_simple : ndarray, shape (n,)
        ``trace_cov / gradient_sq`` at each checkpoint.
    b_simple_ema : ndarray, shape (n,)
        The ratio of the bias-corrected exponential moving averages of the two estimates
        (decay ``ema`` per checkpoint), as training codebases report it.
    lr_max : ndarray, shape (n,)
        :func:`noiseless_lr_max` on the whole training set (exact for the data set: no
        standard error; negative where the curvature along the gradient is).
    lr_max_ema : ndarray, shape (n,)
        The ratio of the bias-corrected moving averages of :math:`\lvert G\rvert^2` and
        :math:`G^\top H G` (both on the whole training set).
    seconds : float
        Wall time of the estimates (the training run excluded).

    See Also
    --------
    noise_along_run : Measures it.
    """

    lr: float
    batch_size: int
    method: str
    steps: np.ndarray
    train_loss: np.ndarray
    test_loss: np.ndarray
    gradient_sq: np.ndarray
    trace_cov: np.ndarray
    gradient_sq_se: np.ndarray
    trace_cov_se: np.ndarray
    b_simple: np.ndarray
    b_simple_ema: np.ndarray
    lr_max: np.ndarray
    lr_max_ema: np.ndarray
    seconds: float


@checked(values=numbers(), decay=real(0.0, 1.0, open_high=True))
def bias_corrected_ema(values, decay: float) -> np.ndarray:
    r"""The exponential moving average of a series, corrected for its start at zero.

    .. math::

        m_k = \gamma m_{k-1} + (1 - \gamma) x_k,\quad m_{-1} = 0,\qquad
        \hat m_k = \frac{m_k}{1 - \gamma^{k+1}},

    where ``values`` are :math:`x_0, x_1, \ldots` and ``decay`` is :math:`\gamma`; as Adam
    corrects its moments (Kingma and Ba 2015, section 3), so that :math:`\hat m_0 = x_0`.

    References
    ----------
    .. [1] D. P. Kingma, J. Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015,
       arXiv:1412.6980, section 3 (the bias correction).

    See Also
    --------
    noise_along_run : Averages the noise estimates with it.

    Examples
    --------
    >>> from empirical import bias_corrected_ema
    >>> print(bias_corrected_ema([2.0, 4.0, 4.0], 0.5).round(4))
    [2.     3.3333 3.7143]
    """
    x = np.asarray(values, dtype=float)
    if not 0 <= decay < 1:
        raise ValueError(f"decay must lie in [0, 1), got {decay!r}")
    out, m = np.empty_like(x), 0.0
    for k, v in enumerate(x):
        m = decay * m + (1 - decay) * v
        out[k] = m / (1 - decay ** (k + 1))
    return out


METHODS = ("two-batch", "per-example")


@checked(lr=POSITIVE, batch_size=whole(1, MAX_EXAMPLES), steps=whole(1, MAX_STEPS),
         every=optional(whole(1, MAX_STEPS)), method=kind(str),
         sizes=whole_sequence(1, MAX_EXAMPLES, length=2), n_batches=whole(1, MAX_ITERATIONS),
         ema=real(0.0, 1.0, open_high=True), run_seed=SEED, seed=SEED)
def noise_along_run(workload, lr: float, batch_size: int, steps: int, *, every: int | None = None,
                    method: str = "two-batch", sizes: tuple = (16, 256), n_batches: int = 10,
                    ema: float = 0.8, run_seed: int = 0, seed: int = 0,
                    device: str = "cpu") -> NoiseTrace:
    r"""The gradient noise scale and :math:`\eta_\max` measured along one run of a workload.

    The run is the sweep's own (:func:`train_workload`: the workload's optimizer, rate ``lr``,
    minibatches of ``batch_size`` from ``run_seed``); every ``every`` updates its parameters
    are taken and, there, :math:`\lvert G\rvert^2` and :math:`\operatorname{tr}\Sigma` of the
    training loss are estimated from ``n_batches`` draws (``method="two-batch"``:
    :func:`two_batch_noise` with batch sizes ``sizes``; ``"per-example"``:
    :func:`per_example_noise` on batches of ``sizes[1]`` examples), and
    :math:`\eta_\max = \lvert G\rvert^2 / G^\top H G` (:func:`noiseless_lr_max` on the whole
    training set). The estimator draws at checkpoint :math:`k` use seed ``seed + k``. The
    noise scale and :math:`\eta_\max` are reported per checkpoint and as ratios of the
    bias-corrected moving averages of their numerators and denominators
    (:func:`bias_corrected_ema`, decay ``ema``): McCandlish et al. average the two separately
    because the ratio of noisy estimates is biased.

    Parameters
    ----------
    workload : Workload
    lr : float
    batch_size, steps : int
        The run.
    every : int, optional
        Updates between checkpoints; ``max(1, steps // 20)`` by default.
    method : {"two-batch", "per-example"}, default "two-batch"
    sizes : tuple of int, default (16, 256)
    n_batches : int, default 10
    ema : float, default 0.8
    run_seed, seed : int, default 0
    device : str, default "cpu"

    Returns
    -------
    NoiseTrace

    References
    ----------
    .. [1] S. McCandlish, J. Kaplan, D. Amodei, "An Empirical Model of Large-Batch Training",
       arXiv:1812.06162 (2018), section 2.2 and appendix A.

    See Also
    --------
    two_batch_noise, per_example_noise : The estimators.
    noiseless_lr_max : The curvature along the gradient.
    nqm.mccandlish_lr : The learning rate these predict.

    Examples
    --------
    Least squares from its initialization, where the exact values are
    :math:`B_{\rm simple} = D + 1 + \sigma^2 D^2 / e = 29.5` and :math:`\eta_{\max} = 1/2`
    (:meth:`nqm.LeastSquaresSGD.noise_scale`, :math:`e = 2D^2`); the noise scale grows as the
    error falls:

    >>> from empirical import least_squares_workload, noise_along_run
    >>> trace = noise_along_run(least_squares_workload(), 0.02, 64, 20, every=10,
    ...                         method="per-example", n_batches=5)
    >>> print(trace.steps, trace.b_simple.round(1), trace.lr_max.round(2))
    [ 0 10 20] [29.  47.6 78.8] [0.5 0.5 0.5]
    """
    if not isinstance(workload, Workload):
        raise TypeError(f"workload must be an empirical.Workload, got {type(workload).__name__} {workload!r:.60}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    small, big = (int(v) for v in sizes)
    if not 1 <= small < big or (method == "per-example" and big < 2):
        raise ValueError(f"sizes must be (small, big) with 1 <= small < big, got {sizes!r}")
    every = max(1, steps // 20) if every is None else int(every)
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every!r}")
    marks = list(range(0, steps + 1, every))
    *_, snapshots = train_workload(workload, [lr], batch_size, steps, run_seeds=(run_seed,),
                                   device=device, checkpoints=marks)
    started = time.perf_counter()
    train = tuple(t.to(device) for t in workload.train)
    test = tuple(t.to(device) for t in workload.test)
    rows = []
    for k, snapshot in enumerate(snapshots):
        params = {name: v[0, 0] for name, v in snapshot.items()}
        if method == "two-batch":
            estimate = two_batch_noise(workload.loss, params, train, small, big,
                                       n_pairs=n_batches, seed=(seed + k) % 2**32)
        else:
            estimate = per_example_noise(workload.loss, params, train, big,
                                         n_batches=n_batches, seed=(seed + k) % 2**32)
        loss, g2_full, ghg = gradient_curvature(workload.loss, params, train)
        with torch.no_grad():
            test_loss = float(workload.measure(params, test))
        rows.append((loss, test_loss, *estimate[:4], g2_full, ghg))
    loss, test_loss, g2, trace, g2_se, trace_se, g2_full, ghg = (
        np.array(c) for c in zip(*rows, strict=True))
    if not all(np.isfinite(v).all() for v in (loss, test_loss, g2, trace, g2_full, ghg)):
        raise ValueError(f"the run at lr={lr:g} diverged (its losses or gradients are not finite "
                         f"by step {marks[-1]}): the noise scale along it is not defined; use a "
                         "smaller lr")
    with np.errstate(divide="ignore", invalid="ignore"):
        b_simple = trace / g2
        b_ema = bias_corrected_ema(trace, ema) / bias_corrected_ema(g2, ema)
        lr_max_ema = bias_corrected_ema(g2_full, ema) / bias_corrected_ema(ghg, ema)
        return NoiseTrace(float(lr), int(batch_size), method, np.array(marks), loss, test_loss,
                          g2, trace, g2_se, trace_se, b_simple, b_ema, g2_full / ghg, lr_max_ema,
                          time.perf_counter() - started)
