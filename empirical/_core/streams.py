"""Minibatch index streams, drawn as the notebook's loops draw them."""

from __future__ import annotations

import numpy as np


def minibatch_indices(run_seeds, n_train: int, batch_size: int, steps: int) -> np.ndarray:
    """Every minibatch of every seed, shape ``(steps, n_seed, batch_size)``.

    Seed ``s`` draws ``RandomState(s).randint(0, n_train, (steps, batch_size))``, the same
    sequence as ``steps`` calls of ``randint(0, n_train, batch_size)`` in the notebook's
    loops (common random numbers: every rate of a seed sees it).

    See Also
    --------
    train_mlp_batched : Draws its minibatches with it.
    train_workload : As does the generic path.
    """
    return np.stack([np.random.RandomState(s).randint(0, n_train, (steps, batch_size))
                     for s in run_seeds], axis=1)
