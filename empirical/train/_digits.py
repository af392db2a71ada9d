"""The digits MLPs' batched trainer: every learning rate and seed of one shape at once.

All learning rates and seeds of one shape train as one batched program (weights carry a
leading ``runs`` axis), with Adam or SGD on minibatches, and early stopping on the validation
loss: each run keeps its best validation checkpoint and stops updating after ``patience``
evaluations without improvement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from empirical._core.threads import bounded_threads
from empirical.problems._digits import DigitsSplit, MLPShape, init_mlp_params
from empirical.train._adam import adam_update_

ADAM_BETAS = (0.9, 0.999)


ADAM_EPS = 1e-8


@dataclass(frozen=True)
class DigitsRuns:
    """Every (seed, lr) run of one shape after early stopping.

    Attributes
    ----------
    shape : MLPShape
    lrs : ndarray, shape (n_lr,)
    best_val_loss, test_loss, test_accuracy : ndarray, shape (n_seed, n_lr)
        Validation loss at the best checkpoint, and test loss / accuracy of that checkpoint;
        ``inf``/``nan`` for runs that diverged before improving.
    best_step, stopped_at : ndarray of int, shape (n_seed, n_lr)
        The step of the best checkpoint, and the step the run stopped (``max_steps`` if it
        never ran out of patience).
    checkpoint : list of ndarray, optional
        The restored best parameters of every run, ``(W_1, b_1, W_2, ...)`` with a leading
        axis of ``n_seed * n_lr`` runs (seed-major); not written to disk.

    See Also
    --------
    train_digits_batched : Produces it.
    evaluate_checkpoint : Scores its best checkpoint.
    """

    shape: MLPShape
    lrs: np.ndarray
    best_val_loss: np.ndarray
    test_loss: np.ndarray
    test_accuracy: np.ndarray
    best_step: np.ndarray
    stopped_at: np.ndarray
    checkpoint: list | None = field(default=None, compare=False, repr=False)


def evaluate_checkpoint(checkpoint, X, y) -> tuple[np.ndarray, np.ndarray]:
    """Cross-entropy and accuracy of every run's parameters on ``(X, y)``, shape (runs,) each.

    See Also
    --------
    train_digits_batched : The checkpoints it scores.
    """
    params = [torch.as_tensor(p) for p in checkpoint]
    runs = params[0].shape[0]
    with torch.no_grad():
        logits = _forward(params, torch.as_tensor(X).expand(runs, -1, -1))
        labels = torch.as_tensor(y).expand(runs, -1)
        return (_cross_entropy(logits, labels).numpy(),
                (logits.argmax(-1) == labels).float().mean(-1).numpy())


def _forward(params, x, dropout: float = 0.0, generator=None):
    h = x
    n_layers = len(params) // 2
    for i in range(n_layers):
        h = torch.baddbmm(params[2 * i + 1], h, params[2 * i])
        if i < n_layers - 1:
            h = h.clamp(min=0)
            if dropout > 0:
                keep = torch.rand(h.shape, generator=generator) >= dropout
                h = h * keep / (1 - dropout)
    return h


def _cross_entropy(logits, labels) -> torch.Tensor:
    """Mean cross-entropy per run: logits (R, n, 10), labels (R, n) -> (R,)."""
    return (torch.logsumexp(logits, -1) - logits.gather(-1, labels[..., None])[..., 0]).mean(-1)


@bounded_threads
def train_digits_batched(split: DigitsSplit, shape: MLPShape, lrs, *, run_seeds=(0,),
                         optimizer: str = "adam", batch_size: int = 64, max_steps: int = 2000,
                         eval_every: int = 20, patience: int = 5, dropout: float = 0.0
                         ) -> DigitsRuns:
    """Train every (seed, lr) of one shape at once, with early stopping on validation loss.

    For each seed, every learning rate starts from the same initialization (``torch.nn.Linear``'s
    default, drawn from ``torch.Generator().manual_seed(seed)``) and sees the same minibatches
    (drawn with replacement from ``numpy.random.default_rng(seed)``): common random numbers, as
    in the sweeps. Every ``eval_every`` steps the validation loss of each run is measured; a run
    whose loss improved stores that checkpoint, and a run that has not improved for
    ``patience`` evaluations (or became non-finite) stops: its parameters are frozen. Training
    ends when every run has stopped or after ``max_steps``. Each run's result is its best
    checkpoint.

    Parameters
    ----------
    split : DigitsSplit
    shape : MLPShape
    lrs : array_like of float, shape (n_lr,)
    run_seeds : sequence of int, default (0,)
    optimizer : {"adam", "sgd"}, default "adam"
        Adam with betas (0.9, 0.999) and eps 1e-8, or plain SGD.
    batch_size : int, default 64
    max_steps : int, default 2000
    eval_every : int, default 20
    patience : int, default 5
        Evaluations without improvement before a run stops.
    dropout : float, default 0.0
        Dropout on the hidden layers during training.

    Returns
    -------
    DigitsRuns

    See Also
    --------
    tune_shape : Tunes a shape with it.
    load_digits_split : Its data.
    """
    lrs = np.asarray(lrs, dtype=float)
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    if lrs.ndim != 1 or np.any(~np.isfinite(lrs) | (lrs <= 0)):
        raise ValueError(f"lrs must be a 1-d array of finite values > 0, got {lrs!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    n_seed, n_lr = len(run_seeds), lrs.size
    runs = n_seed * n_lr
    generators = [torch.Generator().manual_seed(int(s)) for s in run_seeds]
    per_seed = [init_mlp_params(shape, s, g) for s, g in zip(run_seeds, generators, strict=True)]
    params = [torch.stack(layer).repeat_interleave(n_lr, dim=0)          # (R, ...), seed-major
              for layer in zip(*per_seed, strict=True)]
    rate = torch.as_tensor(np.tile(lrs, n_seed), dtype=torch.float32)
    seed_of = torch.arange(runs) // n_lr
    first = [torch.zeros_like(p) for p in params]
    second = [torch.zeros_like(p) for p in params]
    rngs = [np.random.default_rng(int(s)) for s in run_seeds]
    X, Y = torch.as_tensor(split.X_train), torch.as_tensor(split.y_train)
    X_val, Y_val = torch.as_tensor(split.X_val), torch.as_tensor(split.y_val)
    dropout_gen = torch.Generator().manual_seed(int(run_seeds[0]) + 1_000_003)

    best_val = torch.full((runs,), math.inf)
    best = [p.clone() for p in params]
    best_step = torch.zeros(runs, dtype=torch.long)
    stopped_at = torch.full((runs,), max_steps, dtype=torch.long)
    waited = torch.zeros(runs, dtype=torch.long)
    # the working set holds the runs still training: a run that stops is dropped from it, so
    # its parameters freeze and it costs nothing more
    live = torch.arange(runs)
    params = [p.requires_grad_() for p in params]
    for step in range(1, max_steps + 1):
        idx = torch.as_tensor(np.stack([r.integers(0, len(Y), batch_size) for r in rngs]))
        x, y = X[idx[seed_of[live]]], Y[idx[seed_of[live]]]           # (live, B, ...)
        loss = _cross_entropy(_forward(params, x, dropout, dropout_gen), y)
        grads = torch.autograd.grad(loss.sum(), params)
        with torch.no_grad():
            for p, g, m, v in zip(params, grads, first, second, strict=True):
                lr_now = rate[live].view((-1,) + (1,) * (p.dim() - 1))
                if optimizer == "adam":
                    adam_update_(p, g, m, v, lr_now, step, ADAM_BETAS, ADAM_EPS)
                else:
                    p.sub_(lr_now * g)
            if step % eval_every and step != max_steps:
                continue
            val = _cross_entropy(_forward(params, X_val.expand(len(live), -1, -1)),
                                 Y_val.expand(len(live), -1))
            improved = torch.isfinite(val) & (val < best_val[live])
            best_val[live[improved]] = val[improved]
            best_step[live[improved]] = step
            for b, p in zip(best, params, strict=True):
                b[live[improved]] = p[improved]
            waited[live] = torch.where(improved, 0, waited[live] + 1)
            stop = (waited[live] >= patience) | ~torch.isfinite(val)
            if stop.any():
                stopped_at[live[stop]] = step
                keep = ~stop
                live = live[keep]
                if live.numel() == 0:
                    break
                params = [p[keep].detach().requires_grad_() for p in params]
                first = [m[keep] for m in first]
                second = [v[keep] for v in second]
    test_loss, accuracy = evaluate_checkpoint(best, split.X_test, split.y_test)
    test_loss = np.where(np.isfinite(best_val.numpy()), test_loss, np.inf)

    def grid(values):
        return np.asarray(values).reshape(n_seed, n_lr)

    return DigitsRuns(shape, lrs, grid(best_val).astype(float), grid(test_loss).astype(float),
                      grid(accuracy).astype(float), grid(best_step), grid(stopped_at),
                      checkpoint=[b.numpy() for b in best])
