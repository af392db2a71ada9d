"""Minibatch index streams, drawn as the notebook's loops draw them."""

from __future__ import annotations

import numpy as np

from empirical._core.arguments import MAX_EXAMPLES, SEEDS, checked, whole


@checked(run_seeds=SEEDS, n_train=whole(1, MAX_EXAMPLES), batch_size=whole(1, MAX_EXAMPLES),
         steps=whole(0, MAX_EXAMPLES))
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
