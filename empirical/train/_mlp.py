"""The two-layer MLP with SGD or Adam for all learning rates and seeds of one batch size at once."""

from __future__ import annotations

import numpy as np
import torch

from empirical._core.arguments import FLOAT32_MAX, SEEDS, checked, kind, numbers, optional, real
from empirical._core.checks import check_run_args
from empirical._core.init import init_mlp
from empirical._core.schedules import schedule_factors
from empirical._core.streams import minibatch_indices
from empirical._core.threads import bounded_threads
from empirical.problems._shipped import ADAM_BETAS, ADAM_EPS
from empirical.problems._synthetic import Problem
from empirical.train._adam import adam_update_


class _Layers:
    """Views of one flat buffer as the two layers of every run, each block contiguous.

    The buffer holds ``W1`` of all runs, then ``b1``, ``W2`` and ``b2``, so a gradient is
    written block by block straight into it (``out=``) and an optimizer updates it as one
    tensor. Weights are ``(run, out, in)`` as in ``torch.nn.Linear``; biases are columns
    ``(run, out, 1)``, ready to broadcast against activations laid out ``(run, feature,
    example)``.
    """

    def __init__(self, flat: torch.Tensor, runs: int, dim: int):
        w1, b1, w2, b2 = torch.split(flat, [runs * dim * dim, runs * dim] * 2)
        self.w1, self.w2 = w1.view(runs, dim, dim), w2.view(runs, dim, dim)
        self.b1, self.b2 = b1.view(runs, dim, 1), b2.view(runs, dim, 1)


@bounded_threads
@checked(problem=kind(Problem), run_seeds=SEEDS, optimizer=kind(str),
         weight_decay=optional(real(0.0, FLOAT32_MAX)), dtype=kind(torch.dtype),
         betas=numbers(1, low=0.0), eps=real(0.0, FLOAT32_MAX),
         schedule=optional(numbers(1, low=0.0)))
def train_mlp_batched(problem: Problem, lrs, batch_size: int, steps: int, *, run_seeds=(0,),
                      optimizer: str = "sgd", weight_decay: float = 0.001,
                      betas=ADAM_BETAS, eps: float = ADAM_EPS, schedule=None,
                      device: str = "cpu", dtype: torch.dtype = torch.float32,
                      return_parameters: bool = False) -> tuple:
    """All ``lrs`` x ``run_seeds`` runs of :func:`empirical.reference.train_mlp` at once.

    The forward and backward passes of the two-layer ReLU network are written out by hand,
    with activations laid out ``(run, feature, example)``: every product is then a matrix
    product whose long side is the batch (the first layer of one seed's rates is a single
    GEMM against the shared minibatch), which runs an order of magnitude faster than the
    ``(example, feature)`` layout's many 4 x 4 products. The parameters of every run live in
    one buffer (float32, as in the notebook's model, unless ``dtype`` says otherwise); SGD or
    Adam (``torch.optim.Adam``'s update with coupled L2 weight decay, under the warmup +
    cosine schedule) updates it at once. For one seed every
    learning rate starts from the same initialization and sees the same minibatches (common
    random numbers); the minibatch stream is drawn up front (``randint(0, N, (steps, B))`` is
    the same sequence as ``steps`` calls of ``randint(0, N, B)``).

    Adam's ``betas`` and ``eps`` are the notebook's (0.5, 0.5) and 1e-8 unless given (an
    :class:`AdamScaling` gives them per batch size); ``schedule``, the rate's factor at each
    of the ``steps`` steps, is the notebook's warmup + cosine (:func:`schedule_factors`)
    unless given. Both apply to Adam only.

    ``dtype=torch.float64`` runs the same arithmetic in double precision (the initialization
    is still drawn in float32, as the notebook draws it, then cast): it equals the reference
    loop run in float64 to ``1e-9``, which separates the arithmetic from float32 rounding.

    With ``return_parameters`` every run's final parameters come back too, named as the
    notebook's ``nn.Sequential`` names them (``"0.weight"``, ``"0.bias"``, ``"2.weight"``,
    ``"2.bias"``), each ``(n_seed, n_lr, *shape)``.

    Returns
    -------
    train_loss, test_loss : ndarray, shape (n_seed, n_lr, steps)
        After each update, as the notebook records them: the loss on that step's minibatch
        and the test loss; ``inf``/``nan`` kept.
    parameters : dict of Tensor
        With ``return_parameters``.

    See Also
    --------
    empirical.reference.train_mlp : The per-run loop it matches.
    run_sweep : Calls it per batch size.
    """
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    lr_values, _ = check_run_args(lrs, batch_size, steps)
    if optimizer == "adam" and weight_decay is None:
        raise TypeError("weight_decay must be a number for optimizer='adam', got None")
    betas = tuple(float(b) for b in np.asarray(betas, dtype=float))
    if len(betas) != 2 or not all(b < 1 for b in betas):
        raise ValueError(f"betas must be two numbers in [0, 1), got {betas}")
    if schedule is not None and len(schedule) != steps:
        raise ValueError(f"schedule must have one factor per step ({steps}), got "
                         f"{len(schedule)}")
    if optimizer != "adam" and (schedule is not None or betas != ADAM_BETAS or eps != ADAM_EPS):
        raise ValueError("betas, eps and schedule apply to optimizer='adam' only")
    dev = torch.device(device)
    f32 = dict(dtype=dtype, device=dev)
    n_seed = len(run_seeds)
    n_lr, d = lr_values.size, problem.dim
    runs = n_seed * n_lr
    X = torch.as_tensor(problem.X_train, **f32)
    Y = torch.as_tensor(problem.y_train, **f32)
    X_test_t = torch.as_tensor(problem.X_test.T, **f32).contiguous()    # (D, n_test)
    Y_test_t = torch.as_tensor(problem.y_test.T, **f32).contiguous()
    n_test = X_test_t.shape[1]

    # every minibatch up front, transposed to (step, seed, D, B)
    idx = torch.as_tensor(minibatch_indices(run_seeds, X.shape[0], batch_size, steps),
                          device=dev)                                       # (steps, seed, B)
    x_t = X[idx].transpose(-1, -2).contiguous()
    y_t = Y[idx].transpose(-1, -2).contiguous().view(steps, n_seed, 1, d, batch_size)

    theta = torch.empty(runs * 2 * d * (d + 1), **f32)
    grad = torch.empty_like(theta)
    params, grads = _Layers(theta, runs, d), _Layers(grad, runs, d)
    for s, seed in enumerate(run_seeds):                 # one initialization per seed
        first_layer, _, second_layer = init_mlp(d, seed)
        for layer, w, b in ((first_layer, params.w1, params.b1), (second_layer, params.w2, params.b2)):
            w[s * n_lr:(s + 1) * n_lr] = layer.weight.detach()
            b[s * n_lr:(s + 1) * n_lr] = layer.bias.detach()[:, None]
    # the first layer of one seed's rates is one stack of weights against the shared minibatch
    w1_by_seed, b1_by_seed = params.w1.view(n_seed, n_lr * d, d), params.b1.view(n_seed, -1, 1)
    grad_w1_by_seed, grad_b1_by_seed = grads.w1.view(n_seed, n_lr * d, d), grads.b1.view(n_seed, -1, 1)
    # one learning rate per parameter entry, in the buffer's block layout
    per_run = torch.as_tensor(np.tile(lr_values, n_seed), **f32)
    lr_flat = torch.cat([per_run.repeat_interleave(n) for n in (d * d, d, d * d, d)])
    if optimizer == "adam":
        first, second, decayed = (torch.zeros_like(theta) for _ in range(3))
        # the scheduled rate of every parameter entry at every step
        factors = schedule_factors(steps) if schedule is None else np.asarray(schedule, dtype=float)
        rates = (lr_flat * torch.as_tensor(factors, **f32)[:, None]).unbind(0)
    threshold_backward = torch.ops.aten.threshold_backward.grad_input
    scale = 2.0 / (batch_size * d)                                       # MSELoss' mean
    train_sq = torch.empty((steps, runs, 1, 1), **f32)
    test_sq = torch.empty_like(train_sq)
    # activations preallocated (a fresh megabyte-sized tensor per op costs page faults), and
    # every view the loop needs taken once (indexing in the loop costs more than small ops)
    hidden, diff, d_pre = (torch.empty((runs, d, batch_size), **f32) for _ in range(3))
    hidden_by_seed, d_pre_by_seed = (v.view(n_seed, n_lr * d, batch_size) for v in (hidden, d_pre))
    diff_by_seed, diff_flat = diff.view(n_seed, n_lr, d, batch_size), diff.view(runs, 1, -1)
    hidden_test = torch.empty((runs * d, n_test), **f32)
    hidden_test_by_run = hidden_test.view(runs, d, n_test)
    diff_test = torch.empty((runs, d, n_test), **f32)
    diff_test_flat = diff_test.view(runs, 1, -1)
    w1_all, b1_all, w2_t = params.w1.view(-1, d), params.b1.view(-1, 1), params.w2.transpose(1, 2)
    def forward(x, y):
        """Residuals ``W2 relu(W1 x + b1) + b2 - y`` of every run on its seed's minibatch."""
        torch.baddbmm(b1_by_seed, w1_by_seed, x, out=hidden_by_seed)    # x: (seed, D, B)
        hidden.clamp_(min=0)
        torch.baddbmm(params.b2, params.w2, hidden, out=diff)          # (run, D, B)
        diff_by_seed.sub_(y)

    for t, (x, y, train_t, test_t) in enumerate(zip(x_t.unbind(0), y_t.unbind(0),
                                                    train_sq.unbind(0), test_sq.unbind(0),
                                                    strict=True)):
        forward(x, y)
        d_out = diff.mul_(scale)
        torch.sum(d_out, dim=-1, keepdim=True, out=grads.b2)
        torch.bmm(d_out, hidden.transpose(1, 2), out=grads.w2)
        torch.bmm(w2_t, d_out, out=d_pre)
        threshold_backward(d_pre, hidden, 0, grad_input=d_pre)
        torch.sum(d_pre_by_seed, dim=-1, keepdim=True, out=grad_b1_by_seed)
        torch.bmm(d_pre_by_seed, x.transpose(1, 2), out=grad_w1_by_seed)
        if optimizer == "adam":
            torch.add(grad, theta, alpha=weight_decay, out=decayed)
            adam_update_(theta, decayed, first, second, rates[t], t + 1, betas, eps)
        else:
            theta.addcmul_(lr_flat, grad, value=-1.0)
        # after the update, as the notebook records them: the test loss, the first layer of
        # every run as one GEMM against the shared inputs ...
        torch.addmm(b1_all, w1_all, X_test_t, out=hidden_test)
        hidden_test.clamp_(min=0)
        torch.baddbmm(params.b2, params.w2, hidden_test_by_run, out=diff_test)
        diff_test.sub_(Y_test_t)
        torch.bmm(diff_test_flat, diff_test_flat.transpose(1, 2), out=test_t)
        # ... and the loss on the same minibatch
        forward(x, y)
        torch.bmm(diff_flat, diff_flat.transpose(1, 2), out=train_t)
    train_loss = train_sq.view(steps, n_seed, n_lr).double() / (batch_size * d)
    test_loss = test_sq.view(steps, n_seed, n_lr).double() / (n_test * d)
    out = (train_loss.permute(1, 2, 0).cpu().numpy(), test_loss.permute(1, 2, 0).cpu().numpy())
    if return_parameters:
        named = {"0.weight": params.w1, "0.bias": params.b1, "2.weight": params.w2,
                 "2.bias": params.b2}
        out += ({k: v.reshape(n_seed, n_lr, *v.shape[1:]).squeeze(-1).clone() if "bias" in k
                 else v.reshape(n_seed, n_lr, d, d).clone() for k, v in named.items()},)
    return out
