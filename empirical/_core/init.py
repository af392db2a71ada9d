"""Initializations: the notebook's MLP, created under a forked torch seed."""

from __future__ import annotations

import torch


def init_mlp(dim: int, run_seed: int) -> torch.nn.Sequential:
    """The notebook's model ``Linear(D, D) -> ReLU -> Linear(D, D)``, created after ``torch.manual_seed``.

    The global torch generator is re-seeded and restored afterwards, so the call has no
    side effect on the caller's random state.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(run_seed)
        return torch.nn.Sequential(torch.nn.Linear(dim, dim), torch.nn.ReLU(),
                                   torch.nn.Linear(dim, dim))
