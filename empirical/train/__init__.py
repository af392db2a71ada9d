"""Trainers: the hand-batched kernels, the generic ``vmap`` path, the optimizer updates, and
:mod:`~empirical.train.reference`, the plain per-run loops they reproduce."""
