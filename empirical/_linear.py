"""Least-squares SGD for all learning rates, seeds and batch sizes as one tensor program."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from empirical._problems import Problem
from empirical._threads import numpy_blas_single_threaded

# Minibatches are gathered block by block into one reused buffer of about this size: a block
# is a few large operations, stays in cache, and the memory is not fresh each time (a first
# touch costs a page fault, some 0.3 ms per megabyte on our virtual machines).
_GATHER_BYTES = 4 * 2**20
_PATH_BYTES = 2 * 2**20


class _MinibatchStatistics:
    """``x^T x``, ``y^T x`` and ``sum(y^2)`` of minibatches of rows ``[x, y]``.

    The rows are gathered block by block of steps into one reused buffer; one product
    ``[x y]^T x`` per minibatch gives both ``x^T x`` and ``y^T x``.
    """

    def __init__(self, x, y, max_batch_size: int, steps: int):
        self.dim = x.shape[1]
        self.rows = torch.cat([x, y], dim=1)
        self.y_row_sq = y.square().sum(dim=1)
        block = int(np.clip(_GATHER_BYTES // (max_batch_size * 2 * self.dim * 8), 1, steps))
        self.buffer = torch.empty((block * max_batch_size, 2 * self.dim), dtype=x.dtype,
                                  device=x.device)
        self.y_buffer = torch.empty(block * max_batch_size, dtype=x.dtype, device=x.device)

    def __call__(self, indices: np.ndarray, gram, cross_t, y_sq) -> None:
        """Write the statistics of the minibatches ``indices`` (steps, B) into ``gram``,
        ``cross_t`` (steps, D, D: ``x^T x`` and ``y^T x``) and ``y_sq`` (steps,)."""
        d = self.dim
        steps, batch_size = indices.shape
        idx = torch.as_tensor(indices.reshape(-1), device=self.rows.device)
        block = max(1, self.buffer.shape[0] // batch_size)
        for lo in range(0, steps, block):
            n = min(block, steps - lo)
            rows = idx[lo * batch_size:(lo + n) * batch_size]
            z = torch.index_select(self.rows, 0, rows, out=self.buffer[:n * batch_size])
            z = z.view(n, batch_size, 2 * d)
            z_t = z.transpose(1, 2)
            torch.bmm(z_t[:, :d], z[..., :d], out=gram[lo:lo + n])
            torch.bmm(z_t[:, d:], z[..., :d], out=cross_t[lo:lo + n])
            y_rows = torch.index_select(self.y_row_sq, 0, rows, out=self.y_buffer[:n * batch_size])
            torch.sum(y_rows.view(n, batch_size), dim=1, out=y_sq[lo:lo + n])


def _stream_statistics(statistics: _MinibatchStatistics, stream_indices: np.ndarray,
                       batch_sizes: np.ndarray, out: tuple) -> None:
    """The statistics of every batch size's minibatches from one seed's index stream.

    With common random numbers the minibatches of every batch size are consecutive pieces of
    the same stream of indices, so where ``B`` is a multiple ``m B'`` of a smaller batch size,
    a minibatch of ``B`` is ``m`` consecutive minibatches of ``B'``: their statistics are summed
    instead of gathered again, and the rows gathered come to ``steps x max(B)``, not
    ``steps x sum(B)``. ``out`` holds ``gram``, ``cross_t`` and ``y_sq``, indexed by batch
    size first.
    """
    steps = out[2].shape[1]
    previous = None
    for b in np.argsort(batch_sizes, kind="stable"):
        size, known = int(batch_sizes[b]), 0
        if previous is not None and size % int(batch_sizes[previous]) == 0:
            m = size // int(batch_sizes[previous])
            known = steps // m
            for stat in out:
                torch.sum(stat[previous, :known * m].unflatten(0, (known, m)), dim=1,
                          out=stat[b, :known])
        if known < steps:
            statistics(stream_indices[known * size:steps * size].reshape(-1, size),
                       *(stat[b, known:] for stat in out))
        previous = b


@numpy_blas_single_threaded
def train_linear_sgd_batched(problem: Problem, lrs, batch_size: int | Sequence[int], steps: int,
                             *, run_seeds=(0,), device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    r"""All ``lrs`` x ``run_seeds`` runs of :func:`empirical.reference.train_linear_sgd` at once.

    Common random numbers, as in the notebook: for one seed, every learning rate starts from
    the same ``randn(D, D)`` and sees the same minibatch sequence (``randint(0, N, (steps, B))``
    is the same sequence as ``steps`` calls of ``randint(0, N, B)``). Several batch sizes
    train in lock step: SGD on least squares touches the data only through the minibatch's
    ``S = x^T x`` and ``C = x^T y``, computed up front, so every run of every batch size is
    the same update ``W <- W - (2 lr / B)(S W - C)`` of a ``D x D`` matrix.

    The runs' weights are kept transposed and rotated into the eigenbasis ``Q`` of the test
    set's ``X^T X = Q diag(lambda) Q^T``, as ``M = W^T Q`` stacked run after run: a step is then
    one matrix product per (batch size, seed), and both losses are inner products of ``M``
    with small matrices or with the step's residual,

    .. math::

        \|x W - y\|^2 = \langle M, M \tilde S - 2 \tilde C^T \rangle + \|y\|^2,

    with :math:`\tilde S = Q^T S Q` and :math:`\tilde C = Q^T C` of the minibatch, and
    :math:`\tilde S = \operatorname{diag}(\lambda)` for the test set, so there is no pass
    over the data per learning rate and no matrix product for the test loss. Both are taken
    block by block of steps, over the stored states.

    The numbers equal the per-run loop's to rounding (``1e-10`` relative is tested, diverging
    runs included) and do not depend on which batch sizes train together.

    Parameters
    ----------
    problem : Problem
    lrs : array_like of float, shape (n_lr,)
    batch_size : int or sequence of int, shape (n_b,)
    steps : int
    run_seeds : sequence of int, shape (n_seed,)
    device : str

    Returns
    -------
    train_loss, test_loss : ndarray, shape (n_seed, n_lr, steps) or (n_b, n_seed, n_lr, steps)
        Minibatch loss before each step and test loss after it, float64; ``inf``/``nan``
        kept where a run diverged. The leading batch-size axis is there when
        ``batch_size`` is a sequence.
    """
    batch_sizes = np.atleast_1d(np.asarray(batch_size, dtype=int))
    dev = torch.device(device)
    f64 = dict(dtype=torch.float64, device=dev)
    lr_values = np.asarray(lrs, dtype=float)
    n_b, n_seed, n_lr, d = batch_sizes.size, len(run_seeds), lr_values.size, problem.dim
    n_group, n_run = n_b * n_seed, n_b * n_seed * n_lr              # group: (batch size, seed)
    x_test = torch.as_tensor(problem.X_test, **f64)
    # rotate the inputs into the eigenbasis of the test set's X^T X once: x Q, so the minibatch
    # statistics come out as Q^T S Q and C^T Q directly. (All linear algebra here is torch's:
    # numpy's BLAS threads spin after each call and would compete with torch's for the cores.)
    eigvals, basis = torch.linalg.eigh(x_test.T @ x_test)
    statistics = _MinibatchStatistics(torch.as_tensor(problem.X_train, **f64) @ basis,
                                      torch.as_tensor(problem.y_train, **f64),
                                      int(batch_sizes.max()), steps)
    # the states of a block of steps (path[k]: before step t0 + k) and their residuals
    block = int(np.clip(_PATH_BYTES // (n_run * d * d * 8), 1, steps))
    path = torch.empty((block + 1, n_group, n_lr * d, d), **f64)
    gram, cross_t = (torch.empty((n_group, steps, d, d), **f64) for _ in range(2))
    y_sq = torch.empty((n_group, steps), **f64)
    for s, seed in enumerate(run_seeds):
        stream = np.random.RandomState(seed)                           # np.random.seed(seed)
        w0_t = torch.as_tensor(stream.randn(d, d), **f64).T @ basis
        path[0, s::n_seed] = w0_t.repeat(n_lr, 1)
        # every batch size's minibatches are consecutive pieces of one index stream
        stream_indices = stream.randint(0, problem.X_train.shape[0], steps * int(batch_sizes.max()))
        groups = slice(s, None, n_seed)
        _stream_statistics(statistics, stream_indices, batch_sizes,
                           (gram[groups], cross_t[groups], y_sq[groups]))
    shift_test = -2.0 * torch.as_tensor(problem.y_test, **f64).T @ (x_test @ basis)  # -2 C~_test^T
    y_sq_test = float((problem.y_test**2).sum())
    # the step size 2 lr / B of every row of the stacked weights, as the loop forms it
    rate = torch.as_tensor(np.repeat(2.0 / batch_sizes, n_seed)[:, None, None]
                           * np.repeat(lr_values, d)[None, :, None], **f64)   # (group, lr*D, 1)

    resid = torch.empty((block, n_group, n_lr * d, d), **f64)
    quad_train, lin_train, quad_test = (torch.empty((steps, n_run), **f64) for _ in range(3))
    cross_by_step = cross_t.transpose(0, 1)
    # views per step taken once: indexing in the loop would cost more than the arithmetic
    states, resids = path.unbind(0), resid.unbind(0)
    resid_blocks = resid.view(block, n_group, n_lr, d, d).unbind(0)
    grams, crosses = gram.transpose(0, 1).unbind(0), cross_by_step[:, :, None].unbind(0)
    for t0 in range(0, steps, block):
        n, span = min(block, steps - t0), slice(t0, min(t0 + block, steps))
        for k in range(n):
            torch.bmm(states[k], grams[t0 + k], out=resids[k])             # M S~ - C~^T
            resid_blocks[k].sub_(crosses[t0 + k])
            torch.addcmul(states[k], rate, resids[k], value=-1.0, out=states[k + 1])
        before, after = path[:n].view(n * n_run, d * d), path[1:n + 1].view(n * n_run, d * d)
        # train: <M, M S~ - C~^T> and <M, C~^T> before each step
        torch.bmm(before.unsqueeze(1), resid[:n].view(n * n_run, d * d, 1),
                  out=quad_train[span].view(-1, 1, 1))
        torch.bmm(before.view(n * n_group, n_lr, d * d),
                  cross_by_step[span].reshape(n * n_group, d * d, 1),
                  out=lin_train[span].view(n * n_group, n_lr, 1))
        # test, after each step: <M, M diag(lambda) - 2 C~_test^T>
        target = torch.addcmul(shift_test, path[1:n + 1].unflatten(2, (n_lr, d)), eigvals,
                               out=resid[:n].unflatten(2, (n_lr, d)))
        torch.bmm(after.unsqueeze(1), target.view(n * n_run, d * d, 1),
                  out=quad_test[span].view(-1, 1, 1))
        path[0] = path[n]

    # <M, M S~> - 2 <M, C~^T> = <M, M S~ - C~^T> - <M, C~^T>
    shape = (steps, n_b, n_seed, n_lr)
    sizes = torch.as_tensor(batch_sizes * d, **f64).view(1, n_b, 1, 1)
    train = (quad_train.view(shape) - lin_train.view(shape)
             + y_sq.T.reshape(steps, n_b, n_seed, 1)) / sizes
    test = (quad_test.view(shape) + y_sq_test) / problem.y_test.size
    train, test = (x.permute(1, 2, 3, 0).cpu().numpy() for x in (train, test))
    if np.ndim(batch_size) == 0:
        return train[0], test[0]
    return train, test
