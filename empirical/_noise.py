"""Estimators of the gradient noise scale (McCandlish et al. 2018) for any functional loss."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np
import torch
from torch.func import grad, vmap


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


def _summary(g2: np.ndarray, trace: np.ndarray) -> NoiseEstimate:
    n = g2.size
    se = (lambda v: float(v.std(ddof=1) / np.sqrt(n))) if n > 1 else (lambda v: float("nan"))
    return NoiseEstimate(float(g2.mean()), float(trace.mean()), se(g2), se(trace),
                         float(trace.mean() / g2.mean()))


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
