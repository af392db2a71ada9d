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

from empirical._core.arguments import MAX_EXAMPLES, MAX_STEPS, SEEDS, checked, kind, numbers, real, whole
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
    if (not isinstance(checkpoint, (list, tuple)) or not checkpoint or len(checkpoint) % 2
            or not all(isinstance(p, (np.ndarray, torch.Tensor)) and p.ndim == 3
                       for p in checkpoint)):
        raise TypeError("checkpoint must be DigitsRuns.checkpoint: (W_1, b_1, W_2, ...) arrays "
                        f"with a leading axis of runs, got {type(checkpoint).__name__} "
                        f"{checkpoint!r:.60}")
    params = [torch.as_tensor(p) for p in checkpoint]
    runs = params[0].shape[0]
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 2 or X.shape[1] != params[0].shape[1] or not np.isfinite(X).all():
        raise ValueError(f"X must be finite inputs of shape (n, {params[0].shape[1]}), got "
                         f"shape {X.shape} ({np.array2string(X, threshold=4)[:60]})")
    if y.shape != X.shape[:1] or y.dtype.kind not in "iu" \
            or not ((y >= 0) & (y < params[-1].shape[-1])).all():
        raise ValueError(f"y must hold one integer label in [0, {params[-1].shape[-1]}) per row "
                         f"of X ({X.shape[0]}), got {y.dtype} of shape {y.shape} "
                         f"({np.array2string(y, threshold=4)[:60]})")
    with torch.no_grad():
        logits = _forward(params, torch.as_tensor(X, dtype=params[0].dtype).expand(runs, -1, -1))
        labels = torch.as_tensor(y).expand(runs, -1)
        loss = _cross_entropy(logits, labels).numpy()
        if not np.isfinite(loss).all() and all(torch.isfinite(p).all() for p in params):
            raise ValueError(f"X's entries (up to {np.abs(X).max():.3g}) overflow the network's "
                             "logits: the cross-entropy is not finite")
        return loss, (logits.argmax(-1) == labels).float().mean(-1).numpy()


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
@checked(split=kind(DigitsSplit), shape=kind(MLPShape),
         lrs=numbers(1, low=0.0, open_low=True), run_seeds=SEEDS, optimizer=kind(str),
         batch_size=whole(1, MAX_EXAMPLES), max_steps=whole(1, MAX_STEPS),
         eval_every=whole(1, MAX_STEPS), patience=whole(1, MAX_STEPS),
         dropout=real(0.0, 1.0, open_high=True))
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
    generators = [torch.Generator().manual_seed(int(s)) for s in run_seeds]
    per_seed = [init_mlp_params(shape, s, g) for s, g in zip(run_seeds, generators, strict=True)]
    # (seed, rate, out, in) weights and (seed, rate, out, 1) biases: nn.Linear's layout
    layers = [torch.stack(layer).transpose(-1, -2)[:, None].expand(-1, n_lr, -1, -1)
              for layer in zip(*per_seed, strict=True)]
    net = _Columns(layers, torch.arange(n_lr), torch.as_tensor(lrs, dtype=torch.float32))
    X, Y = torch.as_tensor(split.X_train), torch.as_tensor(split.y_train)
    one_hot = torch.nn.functional.one_hot(Y, 10).float()
    X_val_t = torch.as_tensor(split.X_val).T.contiguous()                     # (in, n_val)
    Y_val = torch.as_tensor(split.y_val)
    # every minibatch up front: the same draws as one rng.integers(0, N, B) call per step
    idx = torch.as_tensor(np.stack([np.random.default_rng(int(s)).integers(
        0, len(Y), (max_steps, batch_size)) for s in run_seeds], axis=1))      # (step, seed, B)
    dropout_gen = torch.Generator().manual_seed(int(run_seeds[0]) + 1_000_003)

    best_val = torch.full((n_seed, n_lr), math.inf)
    best = [layer.clone() for layer in layers]
    best_step = torch.zeros((n_seed, n_lr), dtype=torch.long)
    stopped_at = torch.full((n_seed, n_lr), max_steps, dtype=torch.long)
    waited = torch.zeros((n_seed, n_lr), dtype=torch.long)
    stopped = torch.zeros((n_seed, n_lr), dtype=torch.bool)
    for step in range(1, max_steps + 1):
        x = X[idx[step - 1]].transpose(1, 2)                                 # (seed, in, B)
        target = one_hot[idx[step - 1]].transpose(1, 2)[:, None]           # (seed, 1, 10, B)
        masks = None
        if dropout > 0:
            masks = [torch.rand((n_seed, n_lr, width, batch_size), generator=dropout_gen)
                     [:, net.columns] >= dropout for width in shape.layer_sizes[1:-1]]
        net.step(x, target, step, optimizer, dropout, masks)
        if step % eval_every and step != max_steps:
            continue
        columns = net.columns
        val = net.validation_loss(X_val_t, Y_val)                           # (seed, live)
        live = ~stopped[:, columns]
        improved = live & torch.isfinite(val) & (val < best_val[:, columns])
        seed_of, column_of = improved.nonzero(as_tuple=True)
        best_val[seed_of, columns[column_of]] = val[seed_of, column_of]
        best_step[seed_of, columns[column_of]] = step
        for kept, layer in zip(best, net.layers(), strict=True):
            kept[seed_of, columns[column_of]] = layer[seed_of, column_of]
        waited[:, columns] = torch.where(improved, 0, waited[:, columns] + live.long())
        stop = live & ((waited[:, columns] >= patience) | ~torch.isfinite(val))
        seed_of, column_of = stop.nonzero(as_tuple=True)
        stopped_at[seed_of, columns[column_of]] = step
        stopped[seed_of, columns[column_of]] = True
        finished = stopped[:, columns].all(dim=0)
        if finished.all():
            break
        if finished.any():
            net.keep(~finished)
    checkpoint = [b.reshape(n_seed * n_lr, *b.shape[2:]).transpose(-1, -2).contiguous()
                  for b in best]                              # (runs, in, out), seed-major
    test_loss, accuracy = evaluate_checkpoint(checkpoint, split.X_test, split.y_test)
    test_loss = np.where(np.isfinite(best_val.numpy().ravel()), test_loss, np.inf)

    def grid(values):
        return np.asarray(values).reshape(n_seed, n_lr)

    return DigitsRuns(shape, lrs, grid(best_val).astype(float), grid(test_loss).astype(float),
                      grid(accuracy).astype(float), grid(best_step), grid(stopped_at),
                      checkpoint=[c.numpy() for c in checkpoint])


class _Columns:
    """The parameters (and Adam's moments) of the learning rates still training, every seed.

    One flat buffer holds, layer by layer, the weights ``(seed, rate, out, in)`` and biases
    ``(seed, rate, out, 1)`` of the live rate columns, so a step's gradient is written into one
    buffer and the optimizer updates it as one tensor. Activations are laid out ``(seed *
    rate, feature, example)``, so every product has the minibatch as its long side, and the
    first layer of one seed's rates is a single product against that seed's minibatch. A
    column leaves (:meth:`keep`) once all its seeds have stopped; a stopped run in a live
    column trains on, unread, until its column leaves.
    """

    def __init__(self, layers: list, columns: torch.Tensor, lrs: torch.Tensor):
        self.columns, self.lrs = columns, lrs
        self.n_seed = layers[0].shape[0]
        self.shapes = [tuple(layer.shape[2:]) for layer in layers]
        self.theta = self._flatten(layers)
        self.first = torch.zeros_like(self.theta)
        self.second = torch.zeros_like(self.theta)
        self.gradient = torch.empty_like(self.theta)
        self._rates()

    def _rates(self) -> None:
        """One learning rate per entry of the buffer, and the layers' views of the parameter
        and gradient buffers (valid while the columns stay: the buffers change in place)."""
        live = self.lrs[self.columns]
        self.rate = torch.cat([live[None, :, None].expand(self.n_seed, -1, math.prod(s))
                               .reshape(-1) for s in self.shapes])
        self._layers, self._gradients = self._views(self.theta), self._views(self.gradient)

    def _flatten(self, layers) -> torch.Tensor:
        return torch.cat([layer.reshape(-1) for layer in layers])

    def _views(self, flat: torch.Tensor) -> list:
        sizes = [self.n_seed * len(self.columns) * math.prod(s) for s in self.shapes]
        return [piece.view(self.n_seed, len(self.columns), *shape)
                for piece, shape in zip(torch.split(flat, sizes), self.shapes, strict=True)]

    def layers(self) -> list:
        return self._layers

    def keep(self, which: torch.Tensor) -> None:
        """Keep only the live columns ``which`` selects (a boolean mask over them)."""
        buffers = [self._views(b) for b in (self.theta, self.first, self.second)]
        self.columns = self.columns[which]
        self.theta, self.first, self.second = (
            self._flatten([v[:, which] for v in views]) for views in buffers)
        self.gradient = torch.empty_like(self.theta)
        self._rates()

    def _forward(self, x: torch.Tensor, keep_masks=None, dropout: float = 0.0) -> list:
        """Activations of every layer, ``(seed * rate, feature, example)``; ``x`` is ``(seed,
        in, examples)``, shared by a seed's rates. The last entry holds the logits."""
        params = self.layers()
        n_seed, n_col = self.n_seed, len(self.columns)
        w, b = params[0], params[1]
        h = torch.baddbmm(b.reshape(n_seed, -1, 1), w.reshape(n_seed, -1, w.shape[-1]), x)
        h = h.view(n_seed * n_col, w.shape[-2], x.shape[-1])
        out = [h]
        for i in range(2, len(params), 2):
            h.clamp_(min=0)
            if keep_masks is not None:
                h.mul_(keep_masks[i // 2 - 1].reshape(h.shape)).div_(1 - dropout)
            w, b = params[i], params[i + 1]
            h = torch.baddbmm(b.reshape(-1, *b.shape[2:]), w.reshape(-1, *w.shape[2:]), h)
            out.append(h)
        return out

    def step(self, x, target, step: int, optimizer: str, dropout: float, keep_masks) -> None:
        """One update of every run on its seed's minibatch ``x`` (one-hot ``target``)."""
        acts = self._forward(x, keep_masks, dropout)
        n_seed, n_col, batch = self.n_seed, len(self.columns), x.shape[-1]
        d = torch.softmax(acts[-1], dim=1).view(n_seed, n_col, -1, batch)
        d = d.sub_(target).div_(batch).view(n_seed * n_col, -1, batch)    # d loss / d logits
        grads = self._gradients
        params = self.layers()
        for i in range(len(params) - 2, 0, -2):
            below = acts[i // 2 - 1]
            gw, gb = grads[i].view(-1, *self.shapes[i]), grads[i + 1].view(-1, *self.shapes[i + 1])
            torch.bmm(d, below.transpose(1, 2), out=gw)
            torch.sum(d, dim=-1, keepdim=True, out=gb)
            d = torch.bmm(params[i].reshape(-1, *self.shapes[i]).transpose(1, 2), d)
            d = torch.ops.aten.threshold_backward(d, below, 0)
            if dropout > 0:
                d.div_(1 - dropout)
        d = d.view(n_seed, -1, batch)
        torch.bmm(d, x.transpose(1, 2), out=grads[0].view(n_seed, -1, self.shapes[0][-1]))
        torch.sum(d, dim=-1, keepdim=True, out=grads[1].view(n_seed, -1, 1))
        if optimizer == "adam":
            adam_update_(self.theta, self.gradient, self.first, self.second, self.rate, step,
                         ADAM_BETAS, ADAM_EPS)
        else:
            self.theta.addcmul_(self.rate, self.gradient, value=-1.0)

    def validation_loss(self, x_t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of every run on ``(x_t, y)`` (``x_t``: features x examples),
        shape (seed, live column)."""
        with torch.no_grad():
            logits = self._forward(x_t.expand(self.n_seed, -1, -1))[-1]        # (runs, 10, n)
        picked = logits.gather(1, y.expand(logits.shape[0], 1, -1))[:, 0]
        return (torch.logsumexp(logits, dim=1) - picked).mean(-1).view(self.n_seed, -1)
