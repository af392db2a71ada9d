"""The minibatch Hessian's largest eigenvalue, by Lanczos on Hessian-vector products."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch
from scipy.linalg import eigh_tridiagonal
from torch.func import grad


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


def lanczos_top_eigenvalue(matvec: Callable[[torch.Tensor], torch.Tensor], dim: int, *,
                           iterations: int = 30, generator: torch.Generator | None = None,
                           dtype=torch.float64, device="cpu") -> float:
    """The largest eigenvalue of a symmetric operator given by its products with vectors.

    ``iterations`` steps of Lanczos from a random unit vector, each new vector
    re-orthogonalized twice against all earlier ones (full re-orthogonalization), then the
    largest eigenvalue of the tridiagonal matrix. Exact once the Krylov space is invariant
    (at most ``dim`` steps, fewer for an operator with few distinct eigenvalues: the
    iteration stops there).

    See Also
    --------
    batch_hessian_top_eigenvalues : Applies it to minibatch Hessians.
    """
    k = min(int(iterations), int(dim))
    v = torch.randn(dim, generator=generator, dtype=dtype).to(device)
    basis = [v / v.norm()]
    alphas, betas = [], []
    w = matvec(basis[0])
    for j in range(k):
        alphas.append(float(w @ basis[j]))
        w = w - alphas[-1] * basis[j] - (betas[-1] * basis[j - 1] if j else 0.0)
        stacked = torch.stack(basis)
        for _ in range(2):
            w = w - stacked.T @ (stacked @ w)
        beta = float(w.norm())
        scale = max(abs(a) for a in alphas) or 1.0
        if j == k - 1 or beta <= 1e-10 * scale:
            break
        betas.append(beta)
        basis.append(w / beta)
        w = matvec(basis[-1])
    return float(eigh_tridiagonal(np.array(alphas), np.array(betas), eigvals_only=True)[-1])


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
    vector, unflatten = _flat({k: v.detach() for k, v in params.items()})
    n = data[0].shape[0]
    idx = np.random.RandomState(seed).randint(0, n, (n_batches, batch_size))
    generator = torch.Generator().manual_seed(seed)
    tops = np.empty(n_batches)
    for i, rows in enumerate(idx):
        batch = tuple(t[torch.as_tensor(rows, device=t.device)] for t in data)
        gradient = grad(lambda flat, batch=batch: loss(unflatten(flat), batch))
        hvp = grad(lambda flat, v, gradient=gradient: gradient(flat) @ v)   # H v = d(g . v)

        def matvec(v, hvp=hvp):
            return hvp(vector, v)
        tops[i] = lanczos_top_eigenvalue(matvec, vector.numel(), iterations=iterations,
                                         generator=generator, dtype=vector.dtype,
                                         device=vector.device)
    return tops
