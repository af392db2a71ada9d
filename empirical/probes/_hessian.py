"""The minibatch Hessian's largest eigenvalue, by Lanczos on Hessian-vector products."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch
from scipy.linalg import eigh_tridiagonal
from torch.func import grad, vmap

from empirical._core.arguments import (
    FLOAT32_MAX,
    MAX_EXAMPLES,
    MAX_ITERATIONS,
    SEED,
    checked,
    function,
    kind,
    optional,
    parameters,
    real,
    tensors,
    whole,
)


def _flat(params: Mapping[str, torch.Tensor]):
    """The parameters as one vector, and the map from such a vector back to the dict."""
    names = list(params)
    shapes = [params[k].shape for k in names]
    sizes = [params[k].numel() for k in names]
    vector = torch.cat([params[k].reshape(-1) for k in names])

    def unflatten(flat: torch.Tensor) -> dict[str, torch.Tensor]:
        return {k: piece.view(shape) for k, piece, shape in
                zip(names, torch.split(flat, sizes), shapes, strict=True)}
    return vector, unflatten


@checked(matvec=function, dim=whole(1, MAX_EXAMPLES), iterations=whole(1, MAX_ITERATIONS),
         generator=optional(kind(torch.Generator)))
def lanczos_top_eigenvalue(matvec: Callable[[torch.Tensor], torch.Tensor], dim: int, *,
                           iterations: int = 30, generator: torch.Generator | None = None,
                           dtype=torch.float64, device="cpu") -> float:
    """The largest eigenvalue of a symmetric operator given by its products with vectors.

    ``iterations`` steps of Lanczos from a random unit vector, each new vector
    re-orthogonalized twice against all earlier ones (full re-orthogonalization), then the
    largest eigenvalue of the tridiagonal matrix. Exact once the Krylov space is invariant
    (at most ``dim`` steps, fewer for an operator with few distinct eigenvalues: the
    iteration stops there).

    References
    ----------
    .. [1] C. Lanczos, "An iteration method for the solution of the eigenvalue problem of
       linear differential and integral operators", J. Res. Nat. Bur. Standards 45 (1950).
    .. [2] G. H. Golub, C. F. Van Loan, Matrix Computations, 4th ed. (2013), section 10.1
       (full re-orthogonalization).

    See Also
    --------
    batch_hessian_top_eigenvalues : Applies it to minibatch Hessians.

    Examples
    --------
    >>> import torch
    >>> from empirical import lanczos_top_eigenvalue
    >>> a = torch.diag(torch.tensor([1.0, 2.0, 5.0], dtype=torch.float64))
    >>> lanczos_top_eigenvalue(lambda v: a @ v, 3, generator=torch.Generator().manual_seed(0))
    5.0
    """
    start = torch.randn(dim, generator=generator, dtype=dtype).to(device)
    return float(_lanczos(lambda v: matvec(v[0])[None], start[None], iterations)[0])


def _lanczos(matvec: Callable[[torch.Tensor], torch.Tensor], start: torch.Tensor,
             iterations: int) -> np.ndarray:
    """:func:`lanczos_top_eigenvalue` for ``n`` operators at once: ``matvec`` maps ``(n, dim)``
    to ``(n, dim)`` (row ``i`` through operator ``i``), ``start`` is ``(n, dim)``. Each
    operator's iteration stops where its own Krylov space became invariant."""
    n, dim = start.shape
    k = min(int(iterations), int(dim))
    basis = [start / start.norm(dim=1, keepdim=True)]
    alphas, betas = [], []
    length = np.full(n, k)                       # the Lanczos steps each operator keeps
    active = torch.ones(n, dtype=torch.bool, device=start.device)
    w = matvec(basis[0])
    for j in range(k):
        alphas.append((w * basis[j]).sum(dim=1))
        w = w - alphas[-1][:, None] * basis[j] - (betas[-1][:, None] * basis[j - 1] if j else 0.0)
        stacked = torch.stack(basis, dim=1)                             # (n, j + 1, dim)
        for _ in range(2):
            w = w - torch.einsum("njd,nj->nd", stacked, torch.einsum("njd,nd->nj", stacked, w))
        beta = w.norm(dim=1)
        scale = torch.stack(alphas).abs().amax(dim=0)
        invariant = active & (beta <= 1e-10 * torch.where(scale > 0, scale, 1.0))
        length[invariant.cpu().numpy()] = j + 1
        active &= ~invariant
        if j == k - 1 or not active.any():
            break
        betas.append(beta)
        basis.append(w / torch.where(active, beta, 1.0)[:, None])
        w = matvec(basis[-1])
    a = torch.stack(alphas, dim=1).cpu().numpy()
    b = torch.stack(betas, dim=1).cpu().numpy() if betas else np.empty((n, 0))
    return np.array([eigh_tridiagonal(a[i, :length[i]], b[i, :length[i] - 1],
                                      eigvals_only=True)[-1] for i in range(n)])


@checked(loss=function, params=parameters, data=tensors, batch_size=whole(1, MAX_EXAMPLES),
         n_batches=whole(1, MAX_ITERATIONS), iterations=whole(1, MAX_ITERATIONS), seed=SEED)
def batch_hessian_top_eigenvalues(loss: Callable, params: Mapping[str, torch.Tensor],
                                  data: tuple, batch_size: int, *, n_batches: int = 10,
                                  iterations: int = 30, seed: int = 0) -> np.ndarray:
    r"""The largest eigenvalue of the loss's Hessian on ``n_batches`` random minibatches.

    For each minibatch (``batch_size`` examples drawn with replacement, as the sweeps draw
    them, from ``numpy.random.RandomState(seed)``) the Hessian
    :math:`H_B = \nabla^2_\theta L_B(\theta)` of ``loss(params, batch)`` at ``params`` is
    never formed: :func:`lanczos_top_eigenvalue` runs on its products with vectors,
    :math:`H v = \nabla_\theta (\nabla_\theta L_B \cdot v)` (``torch.func.grad`` twice,
    reverse over reverse). Gradient descent on
    that one minibatch is stable below :math:`2 / \lambda_{\max}(H_B)`.

    Parameters
    ----------
    loss : callable ``(params, batch) -> Tensor``
        As a :class:`Workload`'s.
    params : dict of Tensor
        Where the Hessian is taken (an initialization, or a trained point).
    data : tuple of Tensor
        The training tensors the minibatches index.
    batch_size, n_batches, iterations, seed : int

    Returns
    -------
    ndarray, shape (n_batches,)

    References
    ----------
    .. [1] D. Granziol, S. Zohren, S. Roberts, "Learning Rates as a Function of Batch Size: A
       Random Matrix Theory Approach to Neural Network Training", JMLR 23 (2022),
       arXiv:2006.09092 (the batch Hessian's extremal eigenvalues and the largest stable
       learning rate).

    See Also
    --------
    lanczos_top_eigenvalue : The eigenvalue solver.
    nqm.marchenko_pastur_edge : The least-squares answer for large dimensions.

    Examples
    --------
    The Hessian of ``mean((x w)^2)`` on a minibatch ``X`` is ``2 X^T X / B``:

    >>> import numpy as np, torch
    >>> from empirical import batch_hessian_top_eigenvalues
    >>> x = torch.randn(1000, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> def loss(p, batch):
    ...     return torch.mean((batch[0] @ p["w"]) ** 2)
    >>> w0 = {"w": torch.zeros(4, dtype=torch.float64)}
    >>> top = batch_hessian_top_eigenvalues(loss, w0, (x,), batch_size=64, n_batches=1)
    >>> xb = x[np.random.RandomState(0).randint(0, 1000, (1, 64))[0]]
    >>> exact = torch.linalg.eigvalsh(2 * xb.T @ xb / 64)[-1].item()
    >>> bool(abs(top[0] - exact) < 1e-10 * exact)
    True
    """
    vector, minibatch_hvp, start = _minibatch_hessians(loss, params, data, batch_size,
                                                       n_batches, seed)
    return _lanczos(minibatch_hvp, start, iterations)


def _minibatch_hessians(loss: Callable, params: Mapping[str, torch.Tensor], data: tuple,
                        batch_size: int, n_batches: int, seed: int):
    """``(vector, hvp, start)``: the parameters flattened, the products of ``n_batches``
    minibatch Hessians with ``(n_batches, dim)`` vectors (row ``i`` through minibatch ``i``, one
    vmap), and Lanczos's start vectors, all drawn from ``seed``."""
    vector, unflatten = _flat({k: v.detach() for k, v in params.items()})
    n = data[0].shape[0]
    idx = np.random.RandomState(seed).randint(0, n, (n_batches, batch_size))
    generator = torch.Generator().manual_seed(seed)
    batches = tuple(t[torch.as_tensor(idx, device=t.device)] for t in data)  # (n_batches, B, ...)
    gradient = grad(lambda flat, batch: loss(unflatten(flat), batch))
    hvp = vmap(grad(lambda flat, v, batch: gradient(flat, batch) @ v), in_dims=(None, 0, 0))
    start = torch.stack([torch.randn(vector.numel(), generator=generator, dtype=vector.dtype)
                         for _ in range(n_batches)]).to(vector.device)
    return vector, (lambda v: hvp(vector, v, batches)), start


PER_EXAMPLE_ENTRIES = 2**24
"""Per-example gradient entries held at once by :func:`_gradient_moments` (examples per chunk:
this over the parameter count)."""


def _gradient_moments(loss: Callable, params: Mapping[str, torch.Tensor],
                     data: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean, variance)`` of the per-example gradients over ``data``, flattened: the full
    gradient and each coordinate's variance over examples (divided by ``n``), accumulated in
    float64 over chunks of examples (``loss`` on a batch of one example each, by vmap)."""
    vector, unflatten = _flat({k: v.detach() for k, v in params.items()})
    per_example = vmap(grad(lambda flat, example: loss(
        unflatten(flat), tuple(t[None] for t in example))), in_dims=(None, 0))
    n = data[0].shape[0]
    chunk = max(1, PER_EXAMPLE_ENTRIES // vector.numel())
    total = torch.zeros(vector.numel(), dtype=torch.float64, device=vector.device)
    squares = torch.zeros_like(total)
    for i in range(0, n, chunk):
        g = per_example(vector, tuple(t[i:i + chunk] for t in data)).double()
        total += g.sum(dim=0)
        squares += (g * g).sum(dim=0)
    mean = total / n
    return mean, (squares / n - mean * mean).clamp_min(0.0)


@checked(loss=function, params=parameters, data=tensors, batch_size=whole(1, MAX_EXAMPLES),
         eps=real(0.0, FLOAT32_MAX), weight_decay=real(0.0, FLOAT32_MAX),
         n_batches=whole(1, MAX_ITERATIONS), iterations=whole(1, MAX_ITERATIONS), seed=SEED)
def preconditioned_hessian_top_eigenvalues(loss: Callable, params: Mapping[str, torch.Tensor],
                                           data: tuple, batch_size: int, *, eps: float = 1e-8,
                                           weight_decay: float = 0.0, n_batches: int = 10,
                                           iterations: int = 30, seed: int = 0) -> np.ndarray:
    r"""Adam's preconditioned sharpness :math:`\lambda_{\max}(P^{-1}H_B)` on ``n_batches``
    random minibatches, with :math:`P` Adam's denominator at its expected value.

    At a fixed point Adam's second-moment average :math:`\hat v` (bias-corrected, any
    :math:`\beta_2`) has the expectation of a minibatch gradient's square,
    :math:`\mathbb{E}\hat v = \bar g^2 + s^2/B` per coordinate for ``batch_size``
    :math:`= B` examples drawn with replacement, where :math:`\bar g` is the full gradient
    (plus ``weight_decay`` times the parameters: coupled L2, as ``torch.optim.Adam`` adds it)
    and :math:`s^2` the per-example gradients' variance over ``data`` (over every example, in
    chunks of :data:`PER_EXAMPLE_ENTRIES` gradient entries). With :math:`P =
    \operatorname{diag}(\sqrt{\mathbb{E}\hat v} + \epsilon)` the largest eigenvalue of
    :math:`P^{-1}(H_B + \text{weight\_decay}\, I)`, similar to the symmetric
    :math:`P^{-1/2} (H_B + \text{weight\_decay}\, I) P^{-1/2}`, comes from Lanczos on
    Hessian-vector products on the same minibatches as :func:`batch_hessian_top_eigenvalues`
    draws from ``seed``. Adam with this :math:`P` frozen is stable below
    :func:`nqm.adam_max_stable_lr` of it. Assumptions: the fluctuation of :math:`\hat v`
    about its mean (large when :math:`\beta_2` is small) is left out.

    Parameters
    ----------
    loss : callable ``(params, batch) -> Tensor``
        As a :class:`Workload`'s: a mean over its batch.
    params : dict of Tensor
    data : tuple of Tensor
        The training tensors, every example (the gradient moments are over all of them).
    batch_size : int
    eps, weight_decay : float
        Adam's.
    n_batches, iterations, seed : int

    Returns
    -------
    ndarray, shape (n_batches,)

    References
    ----------
    .. [1] J. M. Cohen et al., "Adaptive Gradient Methods at the Edge of Stability",
       arXiv:2207.14484 (2022) (the preconditioned sharpness and its threshold).
    .. [2] D. Granziol, S. Zohren, S. Roberts, "Learning Rates as a Function of Batch Size",
       JMLR 23 (2022), arXiv:2006.09092 (Adam's preconditioner from the minibatch gradient's
       second moment).

    See Also
    --------
    batch_hessian_top_eigenvalues : The same without the preconditioner.
    nqm.adam_max_stable_lr : The largest stable rate it gives.

    Examples
    --------
    One parameter: :math:`P^{-1}H_B` is the minibatch Hessian :math:`2\,\overline{x_b^2}`
    over :math:`\sqrt{\mathbb{E}\hat v} + \epsilon`, where the per-example gradients are
    :math:`2x_i(x_i w - y_i)`:

    >>> import numpy as np, torch
    >>> from empirical import preconditioned_hessian_top_eigenvalues
    >>> gen = torch.Generator().manual_seed(0)
    >>> x, y = (torch.randn(200, 1, dtype=torch.float64, generator=gen) for _ in range(2))
    >>> def loss(p, batch):
    ...     return torch.mean((batch[0] @ p["w"] - batch[1][:, 0]) ** 2)
    >>> w = {"w": torch.full((1,), 0.5, dtype=torch.float64)}
    >>> top = preconditioned_hessian_top_eigenvalues(loss, w, (x, y), 8, n_batches=1)
    >>> g = (2 * x * (x * 0.5 - y)).numpy()[:, 0]
    >>> xb = x.numpy()[np.random.RandomState(0).randint(0, 200, 8), 0]
    >>> exact = 2 * np.mean(xb**2) / (np.sqrt(g.mean() ** 2 + g.var() / 8) + 1e-8)
    >>> bool(abs(top[0] - exact) < 1e-10 * exact)
    True
    """
    vector, minibatch_hvp, start = _minibatch_hessians(loss, params, data, batch_size,
                                                       n_batches, seed)
    mean, variance = _gradient_moments(loss, params, data)
    mean = mean + weight_decay * vector.double()
    scale = (torch.sqrt(mean * mean + variance / batch_size) + eps).rsqrt().to(vector.dtype)
    return _lanczos(lambda v: scale * (minibatch_hvp(scale * v) + weight_decay * scale * v),
                    start, iterations)


FULL_BATCH_CHUNK = 4096
"""Examples per Hessian-vector product of :func:`hessian_top_eigenvalue`."""


@checked(loss=function, params=parameters, data=tensors, iterations=whole(1, MAX_ITERATIONS),
         seed=SEED)
def hessian_top_eigenvalue(loss: Callable, params: Mapping[str, torch.Tensor], data: tuple, *,
                           iterations: int = 30, seed: int = 0) -> float:
    r"""The largest eigenvalue :math:`\lambda_1` of the loss's Hessian on all of ``data``.

    The full-batch counterpart of :func:`batch_hessian_top_eigenvalues` (Lanczos on
    Hessian-vector products, the start vector from ``torch.Generator().manual_seed(seed)``),
    each product summed over chunks of :data:`FULL_BATCH_CHUNK` examples weighted by their
    share, so memory stays that of one chunk (``loss`` is a mean over its batch, as a
    :class:`Workload`'s is): the full Hessian term of Granziol et al.'s minibatch edge
    :math:`\lambda_{\max}(H_B) = \lambda_1 + \kappa/B` (:func:`nqm.noise_plus_hessian_lr`).

    Parameters
    ----------
    loss : callable ``(params, batch) -> Tensor``
    params : dict of Tensor
    data : tuple of Tensor
        Every example, as one batch.
    iterations, seed : int

    Returns
    -------
    float

    References
    ----------
    .. [1] D. Granziol, S. Zohren, S. Roberts, "Learning Rates as a Function of Batch Size: A
       Random Matrix Theory Approach to Neural Network Training", JMLR 23 (2022),
       arXiv:2006.09092.

    See Also
    --------
    batch_hessian_top_eigenvalues : The same on minibatches.
    nqm.noise_plus_hessian_lr : The edge it is the large-batch limit of.

    Examples
    --------
    >>> import torch
    >>> from empirical import hessian_top_eigenvalue
    >>> x = torch.randn(500, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> def loss(p, batch):
    ...     return torch.mean((batch[0] @ p["w"]) ** 2)
    >>> top = hessian_top_eigenvalue(loss, {"w": torch.zeros(3, dtype=torch.float64)}, (x,))
    >>> exact = torch.linalg.eigvalsh(2 * x.T @ x / 500)[-1].item()
    >>> bool(abs(top - exact) < 1e-10 * exact)
    True
    """
    vector, unflatten = _flat({k: v.detach() for k, v in params.items()})
    gradient = grad(lambda flat, batch: loss(unflatten(flat), batch))
    hvp = grad(lambda flat, v, batch: gradient(flat, batch) @ v)
    n = data[0].shape[0]
    chunks = [tuple(t[i:i + FULL_BATCH_CHUNK] for t in data)
              for i in range(0, n, FULL_BATCH_CHUNK)]

    def full(v: torch.Tensor) -> torch.Tensor:
        return sum(hvp(vector, v[0], chunk) * (chunk[0].shape[0] / n) for chunk in chunks)[None]
    start = torch.randn(vector.numel(), generator=torch.Generator().manual_seed(seed),
                        dtype=vector.dtype).to(vector.device)
    return float(_lanczos(full, start[None], iterations)[0])


def gradient_curvature(loss: Callable, params: Mapping[str, torch.Tensor],
                       data: tuple) -> tuple[float, float, float]:
    """``(L, |G|^2, G^T H G)`` of ``loss(params, data)``: the loss, its gradient's squared norm
    and the curvature along the gradient (one Hessian-vector product, reverse over reverse)."""
    vector, unflatten = _flat({k: v.detach() for k, v in params.items()})
    value = loss(unflatten(vector), data)
    gradient = grad(lambda flat: loss(unflatten(flat), data))
    g = gradient(vector)
    hg = grad(lambda flat: gradient(flat) @ g)(vector)
    return float(value), float(g @ g), float(g @ hg)


@checked(loss=function, params=parameters, data=tensors)
def noiseless_lr_max(loss: Callable, params: Mapping[str, torch.Tensor], data: tuple) -> float:
    r"""McCandlish et al.'s :math:`\eta_\max = \lvert G\rvert^2 / G^\top H G`: the best step of
    noiseless gradient descent along the gradient of a locally quadratic loss.

    ``G`` and ``H`` are the gradient and Hessian of ``loss(params, data)`` on all of ``data``
    (pass the whole training set: the value is then exact for the distribution a sweep draws
    its minibatches from; on a subsample of :math:`b` examples the numerator and denominator
    gain noise terms :math:`\operatorname{tr}\Sigma/b` and :math:`\operatorname{tr}(H\Sigma)/b`).
    :math:`G^\top H G` is one Hessian-vector product, :math:`\nabla_\theta(\nabla_\theta L\cdot
    G)` with ``torch.func.grad`` twice; the Hessian is never formed.

    References
    ----------
    .. [1] S. McCandlish, J. Kaplan, D. Amodei, "An Empirical Model of Large-Batch Training",
       arXiv:1812.06162 (2018), eq. 2.4.

    See Also
    --------
    noise_along_run : Measures it along a run, beside the noise scale.
    nqm.mccandlish_lr : The learning rate it predicts with the noise scale.

    Examples
    --------
    For ``mean((x w - y)^2)`` over :math:`n` rows the Hessian is :math:`2X^\top X/n`; the
    rows below give :math:`X^\top X = 4I` with :math:`n = 12`, curvature 2/3 in every
    direction, so the best step is 3/2:

    >>> import torch
    >>> from empirical import noiseless_lr_max
    >>> x = torch.eye(3, dtype=torch.float64).repeat(4, 1)
    >>> def loss(p, batch):
    ...     return torch.mean((batch[0] @ p["w"] - 1.0) ** 2)
    >>> noiseless_lr_max(loss, {"w": torch.zeros(3, dtype=torch.float64)}, (x,))
    1.5
    """
    _, g2, ghg = gradient_curvature(loss, params, data)
    return g2 / ghg
