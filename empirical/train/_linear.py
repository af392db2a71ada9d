"""Least-squares SGD for all learning rates, seeds and batch sizes as one tensor program."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from empirical._core.arguments import SEEDS, checked, kind
from empirical._core.checks import check_run_args
from empirical._core.threads import bounded_threads
from empirical.problems._synthetic import Problem

# Minibatches are gathered block by block into one reused buffer of about this size: a block
# is a few large operations, stays in cache, and the memory is not fresh each time (a first
# touch costs a page fault, some 0.3 ms per megabyte on our virtual machines).
_GATHER_BYTES = 2 * 2**20


class _MinibatchStatistics:
    """``x^T [x, y]`` and ``sum(y^2)`` of minibatches of rows ``[x, y]``.

    The rows are gathered block by block of steps into one reused buffer; one product
    ``x^T [x y]`` per minibatch gives both ``x^T x`` and ``x^T y``.
    """

    def __init__(self, x, y, max_batch_size: int, steps: int):
        self.dim = x.shape[1]
        self.rows = torch.cat([x, y], dim=1)
        self.y_row_sq = y.square().sum(dim=1)
        block = int(np.clip(_GATHER_BYTES // (max_batch_size * 2 * self.dim * 8), 1, steps))
        self.buffer = torch.empty((block * max_batch_size, 2 * self.dim), dtype=x.dtype,
                                  device=x.device)
        self.y_buffer = torch.empty(block * max_batch_size, dtype=x.dtype, device=x.device)

    def __call__(self, indices: np.ndarray, moments, y_sq) -> None:
        """Write the statistics of the minibatches ``indices`` (steps, B) into ``moments``
        (steps, D, 2D: ``[x^T x, x^T y]``) and ``y_sq`` (steps,)."""
        d = self.dim
        steps, batch_size = indices.shape
        idx = torch.as_tensor(indices.reshape(-1), device=self.rows.device)
        block = max(1, self.buffer.shape[0] // batch_size)
        for lo in range(0, steps, block):
            n = min(block, steps - lo)
            rows = idx[lo * batch_size:(lo + n) * batch_size]
            z = torch.index_select(self.rows, 0, rows, out=self.buffer[:n * batch_size])
            z = z.view(n, batch_size, 2 * d)
            torch.bmm(z[..., :d].transpose(1, 2), z, out=moments[lo:lo + n])
            y_rows = torch.index_select(self.y_row_sq, 0, rows, out=self.y_buffer[:n * batch_size])
            torch.sum(y_rows.view(n, batch_size), dim=1, out=y_sq[lo:lo + n])


def _stream_statistics(statistics: _MinibatchStatistics, stream_indices: np.ndarray,
                       batch_sizes: np.ndarray, out: tuple) -> None:
    """The statistics of every batch size's minibatches from one seed's index stream.

    With common random numbers the minibatches of every batch size are consecutive pieces of
    the same stream of indices, so where ``B`` is a multiple ``m B'`` of a smaller batch size,
    a minibatch of ``B`` is ``m`` consecutive minibatches of ``B'``: their statistics are summed
    instead of gathered again, and the rows gathered come to ``steps x max(B)``, not
    ``steps x sum(B)``. ``out`` holds ``moments`` and ``y_sq`` (see
    :class:`_MinibatchStatistics`), indexed by batch size first.
    """
    steps = out[-1].shape[1]
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


@bounded_threads
@checked(problem=kind(Problem), run_seeds=SEEDS)
def train_linear_sgd_batched(problem: Problem, lrs, batch_size: int | Sequence[int], steps: int,
                             *, run_seeds=(0,), device: str = "cpu",
                             return_parameters: bool = False) -> tuple:
    r"""All ``lrs`` x ``run_seeds`` runs of :func:`empirical.reference.train_linear_sgd` at once.

    Common random numbers, as in the notebook: for one seed, every learning rate starts from
    the same ``randn(D, D)`` and sees the same minibatch sequence (``randint(0, N, (steps, B))``
    is the same sequence as ``steps`` calls of ``randint(0, N, B)``). Several batch sizes
    train in lock step: SGD on least squares touches the data only through the minibatch's
    ``S = x^T x`` and ``C = x^T y``, computed up front, so every run of every batch size is
    the same update ``W <- W - (2 lr / B)(S W - C)`` of a ``D x D`` matrix.

    The weights are rotated into the eigenbasis ``Q`` of the test set's
    ``X^T X = Q diag(lambda) Q^T``, as ``V = Q^T W``, and the runs of one (batch size, seed)
    sit side by side as the columns of one ``D x (D n_lr)`` matrix, so a step is one matrix
    product ``S~ V`` per (batch size, seed), with :math:`\tilde S = Q^T S Q` and
    :math:`\tilde C = Q^T C`. Both losses are sums of elementwise products,

    .. math::

        \|x W - y\|^2 = \langle V, \tilde S V - 2 \tilde C \rangle + \|y\|^2,
        \qquad
        \|X_{test} W - y_{test}\|^2 = \langle V, \Lambda V - 2 \tilde C_{test} \rangle
        + \|y_{test}\|^2,

    with :math:`\tilde C_{test} = Q^T X_{test}^T y_{test}`. The notebook records both after
    the update, the minibatch loss on the step's own minibatch: so every state :math:`V_{t+1}`
    is kept beside its products :math:`V_{t+1} \circ (\tilde S_t V_{t+1} - 2 \tilde C_t)`
    (with the statistics of the minibatch that made it) and :math:`V_{t+1} \circ V_{t+1}`
    (the entries ``(i, j)`` as rows, the runs as columns), and one product with the constant
    matrix :math:`\begin{pmatrix} 1 & 0 & 0 \\ 0 & \lambda_i & -2 \tilde C_{test} \end{pmatrix}`
    sums them into both losses, for every run at once: no pass over the data per learning
    rate, two products ``S~ V`` per step (one for the update, one for the loss) and one small
    product for both losses.

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
    return_parameters : bool, default False
        Also return every run's final weights, ``{"W": Tensor}`` of shape ``(n_seed, n_lr, D,
        D)`` (``(n_b, ...)`` with a sequence of batch sizes), rotated back from the eigenbasis.

    Returns
    -------
    train_loss : ndarray, shape (n_seed, n_lr, steps) or (n_b, n_seed, n_lr, steps)
        After each update, as the notebook records it: the loss on that step's minibatch;
        float64, ``inf``/``nan`` kept where a run diverged. The leading batch-size axis is
        there when ``batch_size`` is a sequence.
    test_loss : ndarray, the same shape
        The test loss after each update.

    See Also
    --------
    empirical.reference.train_linear_sgd : The per-run loop it matches.
    run_sweep : Calls it per batch size.
    """
    lr_values, batch_sizes = check_run_args(lrs, batch_size, steps)
    f64 = dict(dtype=torch.float64, device=torch.device(device))
    n_b, n_seed, n_lr, d = batch_sizes.size, len(run_seeds), lr_values.size, problem.dim
    n_group = n_b * n_seed                                       # group: (batch size, seed)
    x_test = torch.as_tensor(problem.X_test, **f64)
    # rotate the inputs into the eigenbasis of the test set's X^T X once: x Q, so the minibatch
    # statistics come out as Q^T S Q and Q^T C directly. (All linear algebra here is torch's:
    # numpy's BLAS threads spin after each call and would compete with torch's for the cores.)
    eigvals, basis = torch.linalg.eigh(x_test.T @ x_test)
    statistics = _MinibatchStatistics(torch.as_tensor(problem.X_train, **f64) @ basis,
                                      torch.as_tensor(problem.y_train, **f64),
                                      int(batch_sizes.max()), steps)
    moments = torch.empty((n_group, steps, d, 2 * d), **f64)         # [S~, C~] per step
    y_sq = torch.empty((n_group, steps), **f64)
    # two alternating states, each [V o (S~ V - 2 C~), V o V, V]: the rows of a slot are the
    # entries (i, j) of the D x D weights, its columns the learning rates
    work = torch.empty((2, n_group, 3, d, d, n_lr), **f64)
    for s, seed in enumerate(run_seeds):
        stream = np.random.RandomState(seed)                           # np.random.seed(seed)
        w0 = torch.as_tensor(stream.randn(d, d), **f64)
        work[0, s::n_seed, 2] = (basis.T @ w0).unsqueeze(-1)
        # every batch size's minibatches are consecutive pieces of one index stream
        stream_indices = stream.randint(0, problem.X_train.shape[0], steps * int(batch_sizes.max()))
        groups = slice(s, None, n_seed)
        _stream_statistics(statistics, stream_indices, batch_sizes, (moments[groups], y_sq[groups]))
    c_test = basis.T @ (x_test.T @ torch.as_tensor(problem.y_test, **f64))
    loss_matrix = torch.zeros((n_group, 2, 3, d * d), **f64)
    loss_matrix[:, 0, 0] = 1.0
    loss_matrix[:, 1, 1] = eigvals.repeat_interleave(d)
    loss_matrix[:, 1, 2] = -2.0 * c_test.reshape(-1)
    loss_matrix = loss_matrix.view(n_group, 2, 3 * d * d)
    # the step size 2 lr / B of every column, as the loop forms it
    rate = torch.as_tensor(np.repeat(2.0 / batch_sizes, n_seed)[:, None, None]
                           * np.tile(lr_values, d)[None, None, :], **f64)   # (group, 1, D*lr)

    resid = torch.empty((n_group, d, d * n_lr), **f64)
    resid_4d = resid.view(n_group, d, d, n_lr)
    losses = torch.empty((steps + 1, n_group, 2, n_lr), **f64)
    # views per step taken once: indexing in the loop would cost more than the arithmetic
    grams = moments[..., :d].transpose(0, 1).unbind(0)
    crosses = moments[..., d:].unsqueeze(-1).transpose(0, 1).unbind(0)     # (group, D, D, 1)
    slots = [(w[:, 0], w[:, 1], w[:, 2], w[:, 2].reshape(n_group, d, d * n_lr),
              w.view(n_group, 3 * d * d, n_lr)) for w in work.unbind(0)]
    for t, out in enumerate(losses.unbind(0)):
        prod_resid, prod_self, state, state_2d, stacked = slots[t % 2]
        if t > 0:                     # the minibatch loss after step t - 1, on its minibatch
            torch.bmm(grams[t - 1], state_2d, out=resid)
            resid_4d.sub_(crosses[t - 1], alpha=2.0)                      # S~ V - 2 C~
            torch.mul(state, resid_4d, out=prod_resid)
        else:                                              # the initial state: test loss only
            prod_resid.zero_()
        torch.mul(state, state, out=prod_self)
        torch.bmm(loss_matrix, stacked, out=out)
        if t < steps:
            torch.bmm(grams[t], state_2d, out=resid)                      # S~ V
            resid_4d.sub_(crosses[t])
            torch.addcmul(state_2d, rate, resid, value=-1.0, out=slots[(t + 1) % 2][3])

    shape = (steps, n_b, n_seed, n_lr)
    sizes = torch.as_tensor(batch_sizes * d, **f64).view(1, n_b, 1, 1)
    train = (losses[1:, :, 0] + y_sq.T.unsqueeze(-1)).view(shape) / sizes
    test = (losses[1:, :, 1].reshape(shape) + float((problem.y_test**2).sum())) / problem.y_test.size
    out = tuple(x.permute(1, 2, 3, 0).cpu().numpy() for x in (train, test))
    if return_parameters:                        # W = Q V, the final state of every run
        final = work[steps % 2, :, 2]                                   # (group, D, D, n_lr)
        weights = torch.einsum("ai,gijl->glaj", basis, final).reshape(n_b, n_seed, n_lr, d, d)
        out += ({"W": weights},)
    if np.ndim(batch_size) == 0:
        return tuple(x[0] if not isinstance(x, dict) else {k: v[0] for k, v in x.items()}
                     for x in out)
    return out
