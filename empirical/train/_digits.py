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

from empirical._core.arguments import (
    MAX_EXAMPLES,
    MAX_STEPS,
    SEEDS,
    checked,
    kind,
    numbers,
    optional,
    whole,
)
from empirical._core.threads import bounded_threads
from empirical.problems._digits import DigitsSplit, MLPShape, init_mlp_params
from empirical.train._adam import adam_update_
from empirical.train._mup import mup_scaling

ADAM_BETAS = (0.9, 0.999)


ADAM_EPS = 1e-8
DROPOUT_STREAM = 1_000_003
"""A run seed's dropout masks come from ``torch.Generator().manual_seed(seed + DROPOUT_STREAM)``."""


@dataclass(frozen=True)
class DigitsRuns:
    """Every (seed, lr) run of one shape after early stopping.

    Attributes
    ----------
    shape : MLPShape
    lrs : ndarray, shape (n_lr,)
        One rate per column (a rate repeats when columns differ in dropout).
    best_val_loss, test_loss, test_accuracy : ndarray, shape (n_seed, n_lr)
        Validation loss at the best checkpoint, and test loss / accuracy of that checkpoint;
        ``inf``/``nan`` for runs that diverged before improving.
    best_step, stopped_at : ndarray of int, shape (n_seed, n_lr)
        The step of the best checkpoint, and the step the run stopped (``max_steps`` if it
        never ran out of patience).
    checkpoint : list of ndarray, optional
        The restored best parameters of every run, ``(W_1, b_1, W_2, ...)`` with a leading
        axis of ``n_seed * n_lr`` runs (seed-major); not written to disk.
    dropouts : ndarray, shape (n_lr,), optional
        Each column's dropout rate; ``None`` for no dropout.

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
    dropouts: np.ndarray | None = None

    @property
    def column_dropouts(self) -> np.ndarray:
        """Each column's dropout rate, zeros without dropout."""
        return np.zeros(self.lrs.size) if self.dropouts is None else np.asarray(self.dropouts)


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


def _forward(params, x):
    h = x
    n_layers = len(params) // 2
    for i in range(n_layers):
        h = torch.baddbmm(params[2 * i + 1], h, params[2 * i])
        if i < n_layers - 1:
            h = h.clamp(min=0)
    return h


def _cross_entropy(logits, labels) -> torch.Tensor:
    """Mean cross-entropy per run: logits (R, n, 10), labels (R, n) -> (R,)."""
    return (torch.logsumexp(logits, -1) - logits.gather(-1, labels[..., None])[..., 0]).mean(-1)


@bounded_threads
@checked(split=kind(DigitsSplit), shape=kind(MLPShape),
         lrs=numbers(1, low=0.0, open_low=True), run_seeds=SEEDS, optimizer=kind(str),
         batch_size=whole(1, MAX_EXAMPLES), max_steps=whole(1, MAX_STEPS),
         eval_every=whole(1, MAX_STEPS), patience=whole(1, MAX_STEPS),
         dropout=numbers(None, low=0.0), mup_base_width=optional(whole(1, 2**20)))
def train_digits_batched(split: DigitsSplit, shape: MLPShape, lrs, *, run_seeds=(0,),
                         optimizer: str = "adam", batch_size: int = 64, max_steps: int = 2000,
                         eval_every: int = 20, patience: int = 5, dropout=0.0,
                         mup_base_width: int | None = None) -> DigitsRuns:
    """Train every (seed, lr) of one shape at once, with early stopping on validation loss.

    For each seed, every learning rate starts from the same initialization (``torch.nn.Linear``'s
    default, drawn from ``torch.Generator().manual_seed(seed)``) and sees the same minibatches
    (drawn with replacement from ``numpy.random.default_rng(seed)``) and, with dropout, the same
    uniform draws behind its masks (``torch.Generator().manual_seed(seed +``
    :data:`DROPOUT_STREAM` ``)``, one ``(width, batch_size)`` draw per hidden layer and step; a
    unit is dropped where its draw is below the column's rate): common random numbers, as in
    the sweeps. Every ``eval_every`` steps the validation loss of each run is measured; a run
    whose loss improved stores that checkpoint, and a run that has not improved for
    ``patience`` evaluations (or became non-finite) stops: its parameters are frozen. Training
    ends when every run has stopped or after ``max_steps``. Each run's result is its best
    checkpoint.

    Parameters
    ----------
    split : DigitsSplit
    shape : MLPShape
    lrs : array_like of float, shape (n_lr,)
        One rate per column.
    run_seeds : sequence of int, default (0,)
    optimizer : {"adam", "sgd"}, default "adam"
        Adam with betas (0.9, 0.999) and eps 1e-8, or plain SGD.
    batch_size : int, default 64
    max_steps : int, default 2000
    eval_every : int, default 20
    patience : int, default 5
        Evaluations without improvement before a run stops.
    dropout : float or array_like of float, shape (n_lr,), default 0.0
        Dropout on the hidden layers during training (inverted: kept units are divided by
        ``1 - dropout``), one rate for every column or one per column, each in [0, 1).
    mup_base_width : int, optional
        Train in muP (:func:`empirical.mup_scaling`) tuned at this width; the standard
        parametrization by default. The returned checkpoint folds the readout's input
        multiplier into its weights.

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
    dropouts = np.asarray(dropout, dtype=float)
    if dropouts.ndim > 1 or (dropouts.ndim == 1 and dropouts.shape != lrs.shape) \
            or np.any(dropouts >= 1):
        raise ValueError(f"dropout must be one rate in [0, 1) or one per rate ({lrs.size}), "
                         f"got {dropout!r:.80}")
    dropouts = np.broadcast_to(dropouts, lrs.shape).copy()
    n_seed, n_lr = len(run_seeds), lrs.size
    net, layers = initial_columns(shape, lrs, run_seeds, optimizer, mup_base_width, dropouts)
    X, Y = torch.as_tensor(split.X_train), torch.as_tensor(split.y_train)
    one_hot = torch.nn.functional.one_hot(Y, 10).float()
    X_val_t = torch.as_tensor(split.X_val).T.contiguous()                     # (in, n_val)
    Y_val = torch.as_tensor(split.y_val)
    # every minibatch up front: the same draws as one rng.integers(0, N, B) call per step
    idx = torch.as_tensor(np.stack([np.random.default_rng(int(s)).integers(
        0, len(Y), (max_steps, batch_size)) for s in run_seeds], axis=1))      # (step, seed, B)
    dropout_streams = ([torch.Generator().manual_seed(int(s) + DROPOUT_STREAM) for s in run_seeds]
                       if dropouts.any() else None)

    best_val = torch.full((n_seed, n_lr), math.inf)
    best = [layer.clone() for layer in layers]
    best_step = torch.zeros((n_seed, n_lr), dtype=torch.long)
    stopped_at = torch.full((n_seed, n_lr), max_steps, dtype=torch.long)
    waited = torch.zeros((n_seed, n_lr), dtype=torch.long)
    stopped = torch.zeros((n_seed, n_lr), dtype=torch.bool)
    for step in range(1, max_steps + 1):
        x = X[idx[step - 1]].transpose(1, 2)                                 # (seed, in, B)
        target = one_hot[idx[step - 1]].transpose(1, 2)[:, None]           # (seed, 1, 10, B)
        draws = None
        if dropout_streams is not None:                  # (seed, width, B) per hidden layer
            draws = [torch.stack([torch.rand((width, batch_size), generator=g)
                                  for g in dropout_streams]) for width in shape.layer_sizes[1:-1]]
        net.step(x, target, step, optimizer, draws)
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
    checkpoint[-2].mul_(net.readout)
    test_loss, accuracy = evaluate_checkpoint(checkpoint, split.X_test, split.y_test)
    test_loss = np.where(np.isfinite(best_val.numpy().ravel()), test_loss, np.inf)

    def grid(values):
        return np.asarray(values).reshape(n_seed, n_lr)

    return DigitsRuns(shape, lrs, grid(best_val).astype(float), grid(test_loss).astype(float),
                      grid(accuracy).astype(float), grid(best_step), grid(stopped_at),
                      checkpoint=[c.numpy() for c in checkpoint],
                      dropouts=dropouts if dropouts.any() else None)


def initial_columns(shape: MLPShape, lrs: np.ndarray, run_seeds, optimizer: str,
                    mup_base_width: int | None, dropouts: np.ndarray | None = None) -> tuple:
    """The columns of every rate (and dropout rate, none by default) and seed at
    initialization, and their initial layers ``(seed, rate, out, in)`` (weights) and ``(seed,
    rate, out, 1)`` (biases)."""
    n_lr = lrs.size
    per_seed = [init_mlp_params(shape, s, torch.Generator().manual_seed(int(s)))
                for s in run_seeds]
    scaling = None if mup_base_width is None else mup_scaling(shape, mup_base_width, optimizer)
    # nn.Linear's layout; muP rescales the standard draw
    layers = [torch.stack(layer).transpose(-1, -2)[:, None].expand(-1, n_lr, -1, -1)
              * (1.0 if scaling is None else scaling.init[i])
              for i, layer in enumerate(zip(*per_seed, strict=True))]
    net = _Columns(layers, torch.arange(n_lr), torch.as_tensor(lrs, dtype=torch.float32),
                   lr_scale=None if scaling is None else scaling.lr,
                   readout=1.0 if scaling is None else scaling.readout,
                   dropouts=None if dropouts is None else torch.as_tensor(dropouts,
                                                                          dtype=torch.float32))
    return net, layers


class _Columns:
    """The parameters (and Adam's moments) of the learning rates still training, every seed.

    One flat buffer holds, layer by layer, the weights ``(seed, rate, out, in)`` and biases
    ``(seed, rate, out, 1)`` of the live rate columns, so a step's gradient is written into one
    buffer and the optimizer updates it as one tensor. Activations are laid out ``(seed *
    rate, feature, example)``, so every product has the minibatch as its long side, and the
    first layer of one seed's rates is a single product against that seed's minibatch. A
    column leaves (:meth:`keep`) once all its seeds have stopped; a stopped run in a live
    column trains on, unread, until its column leaves. A column may carry its own dropout rate;
    under muP each layer's rate has its own factor (``lr_scale``) and the readout's input is
    multiplied by ``readout``.
    """

    def __init__(self, layers: list, columns: torch.Tensor, lrs: torch.Tensor, *,
                 lr_scale=None, readout: float = 1.0, dropouts=None):
        self.columns, self.lrs = columns, lrs
        self.lr_scale = lr_scale or (1.0,) * len(layers)
        self.readout = readout
        self.dropouts = torch.zeros(len(lrs)) if dropouts is None else dropouts
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
        self.rate = torch.cat([(live * scale)[None, :, None].expand(self.n_seed, -1,
                                                                     math.prod(s)).reshape(-1)
                               for s, scale in zip(self.shapes, self.lr_scale, strict=True)])
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

    def keep_factors(self, draws) -> list:
        """Inverted dropout's factors, ``(seed * rate, width, example)`` per hidden layer: 0
        where a unit's uniform draw (``(seed, width, example)``, shared by a seed's columns) is
        below its column's rate, ``1 / (1 - rate)`` elsewhere."""
        rate = self.dropouts[self.columns][None, :, None, None]
        return [((u[:, None] >= rate) / (1 - rate)).reshape(-1, *u.shape[1:]) for u in draws]

    def _forward(self, x: torch.Tensor, keep=None) -> list:
        """Activations of every layer, ``(seed * rate, feature, example)``; ``x`` is ``(seed,
        in, examples)``, shared by a seed's rates. The last entry holds the logits; the one
        before it, the readout's input (times muP's readout multiplier)."""
        params = self.layers()
        n_seed, n_col = self.n_seed, len(self.columns)
        w, b = params[0], params[1]
        h = torch.baddbmm(b.reshape(n_seed, -1, 1), w.reshape(n_seed, -1, w.shape[-1]), x)
        h = h.view(n_seed * n_col, w.shape[-2], x.shape[-1])
        out = [h]
        for i in range(2, len(params), 2):
            h.clamp_(min=0)
            if keep is not None:
                h.mul_(keep[i // 2 - 1])
            if i == len(params) - 2 and self.readout != 1:
                h.mul_(self.readout)
            w, b = params[i], params[i + 1]
            h = torch.baddbmm(b.reshape(-1, *b.shape[2:]), w.reshape(-1, *w.shape[2:]), h)
            out.append(h)
        return out

    def step(self, x, target, step: int, optimizer: str, draws=None) -> None:
        """One update of every run on its seed's minibatch ``x`` (one-hot ``target``), with
        dropout's uniform ``draws`` (:meth:`keep_factors`) if any."""
        keep = None if draws is None else self.keep_factors(draws)
        acts = self._forward(x, keep)
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
            if i == len(params) - 2 and self.readout != 1:
                d.mul_(self.readout)
            d = torch.ops.aten.threshold_backward(d, below, 0)
            if keep is not None:
                d.mul_(keep[i // 2 - 1])
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
