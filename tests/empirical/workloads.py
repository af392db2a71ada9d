"""Workloads the tests sweep by reference (``"<this file>:factory"``)."""

import os
import signal
from pathlib import Path

import torch

from empirical import OptimizerConfig, Workload

KILL_MARKER = "LRBS_TEST_KILL_MARKER"
"""Environment variable: a path; the first worker process that trains the largest batch size
creates it and kills itself (SIGKILL) in the middle of the task."""
KILL_BATCH_SIZE = 32


def _data(seed: int, n: int, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g, dtype=dtype)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]], dtype=dtype) + 0.5 * torch.randn(
        n, 1, generator=g, dtype=dtype)
    return x, y


def _init(dtype):
    def init(seed):
        g = torch.Generator().manual_seed(seed)
        return {"w": torch.randn(3, 1, generator=g, dtype=dtype), "b": torch.zeros(1, dtype=dtype)}
    return init


def _mse(params, batch):
    x, y = batch
    return torch.mean((x @ params["w"] + params["b"] - y) ** 2)


def regression(optimizer: OptimizerConfig | None = None, dtype=torch.float32) -> Workload:
    """Linear regression with noise variance 0.25 (the floor)."""
    return Workload("noisy regression", _init(dtype), _mse, _data(0, 512, dtype),
                    _data(1, 256, dtype), optimizer=optimizer or OptimizerConfig(), floor=0.25)


def killed_once() -> Workload:
    """The regression, but the first worker to train B=32 dies half-way through its task."""
    marker, calls = Path(os.environ[KILL_MARKER]), []

    def loss(params, batch):
        if batch[0].shape[0] == KILL_BATCH_SIZE:
            calls.append(None)
        if len(calls) == 20 and os.environ.get("LRBS_TEST_DRIVER") != str(os.getpid()):
            try:
                marker.touch(exist_ok=False)
            except FileExistsError:
                pass
            else:
                os.kill(os.getpid(), signal.SIGKILL)
        return _mse(params, batch)

    return Workload("killed once", _init(torch.float32), loss, _data(0, 512), _data(1, 256),
                    metric=_mse, floor=0.25)


def with_momentum() -> Workload:
    """The regression under SGD with heavy-ball momentum 0.9."""
    return regression(OptimizerConfig(momentum=0.9))
