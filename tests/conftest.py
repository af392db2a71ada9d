"""Test configuration: hypothesis profiles live in tests/strategies.py; warnings are errors.

torch computes on one intra-op thread here, as lrbs's trainers do (``LRBS_THREADS``, default
1): the reference loops' small products gain nothing from a second thread, whose workers spin
between them (the question grids' MLP check took 40 s on torch's default two threads and 35 s
on one, with half the CPU).
"""

import torch

from tests.strategies import load_profile

load_profile()
torch.set_num_threads(1)
