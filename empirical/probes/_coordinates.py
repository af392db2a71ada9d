"""muP's coordinate check: how the size of every layer's activations moves with width."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from empirical._core.arguments import SEEDS, checked, kind, optional, real, whole, wholes
from empirical._core.threads import bounded_threads
from empirical.problems._digits import DigitsSplit, MLPShape
from empirical.train._digits import initial_columns


@dataclass(frozen=True)
class CoordinateCheck:
    """Mean absolute activation of every layer over the first steps, per width.

    Attributes
    ----------
    widths : ndarray of int, shape (n_width,)
    sizes : ndarray, shape (n_width, steps + 1, depth + 1)
        ``|h|`` averaged over coordinates, the step's minibatch and the seeds: the hidden
        layers' outputs after the ReLU, then the logits; step 0 is the initialization.
    mup_base_width : int or None
        The base width of muP, ``None`` for the standard parametrization.

    See Also
    --------
    coordinate_check : Measures it.
    """

    widths: np.ndarray
    sizes: np.ndarray
    mup_base_width: int | None

    def slopes(self) -> np.ndarray:
        """The least-squares slope of ``log |h|`` against ``log width``, shape (steps + 1,
        depth + 1): 0 where a layer's coordinates keep their size as the network widens."""
        x = np.log(self.widths.astype(float))
        y = np.log(self.sizes)
        x = x - x.mean()
        return np.tensordot(x, y - y.mean(axis=0), axes=(0, 0)) / (x @ x)


@bounded_threads
@checked(split=kind(DigitsSplit), widths=wholes(1, 2**16), lr=real(0.0, open_low=True),
         depth=whole(1, 16), mup_base_width=optional(whole(1, 2**20)), optimizer=kind(str),
         steps=whole(1, 10_000), run_seeds=SEEDS, batch_size=whole(1, 10**6))
def coordinate_check(split: DigitsSplit, widths, lr: float, *, depth: int = 2,
                     mup_base_width: int | None = None, optimizer: str = "adam", steps: int = 4,
                     run_seeds=(0, 1, 2), batch_size: int = 64) -> CoordinateCheck:
    r"""Train each width for ``steps`` steps and record the size of every layer's activations.

    Yang et al.'s check that a parametrization is right: under muP every activation
    coordinate's size, :math:`\overline{|h|}`, stays the same as the width grows, at
    initialization and after each update; under the standard parametrization with Adam the
    logits grow about linearly in width after the first step, because every readout weight
    moves by about the learning rate and the readout sums ``width`` of them. The runs are
    those of :func:`empirical.train_digits_batched` (same initialization and minibatches);
    each step's activations are measured on that step's minibatch, before the update.

    Parameters
    ----------
    split : DigitsSplit
    widths : sequence of int
    lr : float
    depth : int, default 2
    mup_base_width : int, optional
        The base width of muP; the standard parametrization without it.
    optimizer : {"adam", "sgd"}, default "adam"
    steps : int, default 4
    run_seeds : sequence of int, default (0, 1, 2)
    batch_size : int, default 64

    Returns
    -------
    CoordinateCheck
        Its sizes are ``inf`` or ``nan`` where a rate large enough to diverge overflows.

    See Also
    --------
    empirical.mup_scaling : The parametrization it checks.

    References
    ----------
    G. Yang et al., Tensor Programs V, arXiv:2203.03466, section 4 and the ``mup`` package's
    ``get_coord_data``.
    """
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    widths = np.asarray(widths)
    X, Y = torch.as_tensor(split.X_train), torch.as_tensor(split.y_train)
    one_hot = torch.nn.functional.one_hot(Y, 10).float()
    sizes = np.empty((widths.size, steps + 1, depth + 1))
    idx = torch.as_tensor(np.stack([np.random.default_rng(int(s)).integers(
        0, len(Y), (steps + 1, batch_size)) for s in run_seeds], axis=1))    # (step, seed, B)
    for w, width in enumerate(widths):
        net, _ = initial_columns(MLPShape(int(width), depth), np.array([lr]), run_seeds,
                                 optimizer, mup_base_width)
        for step in range(steps + 1):
            x = X[idx[step]].transpose(1, 2)                                 # (seed, in, B)
            with torch.no_grad():
                h, params = x, net.layers()
                for layer in range(depth + 1):
                    w_, b = params[2 * layer][:, 0], params[2 * layer + 1][:, 0]
                    factor = net.readout if layer == depth else 1.0
                    h = torch.baddbmm(b, w_, h * factor)
                    if layer < depth:
                        h = h.clamp(min=0)
                    sizes[w, step, layer] = float(h.abs().mean())
            if step < steps:
                net.step(x, one_hot[idx[step]].transpose(1, 2)[:, None], step + 1, optimizer)
    return CoordinateCheck(widths, sizes, mup_base_width)
