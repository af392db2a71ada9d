"""Check the generic workload path on a CUDA device (run by hand where a GPU is available).

Compares ``train_workload`` on the CPU and on ``cuda`` for a float64 regression (AdamW with
warmup and cosine decay; SGD with Nesterov momentum) and the float32 teacher MLP (SGD, Adam):
the largest relative difference of every finite curve and the share of runs that diverge alike
(the MLP also with ``runs_per_chunk``).
Then times the gallery's digits CNN sweep on the device.

Run: ``python benchmarks/check_cuda.py``.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def _relative(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    both = np.isfinite(a) & np.isfinite(b)
    return (float(np.max(np.abs(a[both] - b[both]) / np.abs(b[both]), initial=0.0)),
            float(np.mean(np.isfinite(a) == np.isfinite(b))))


def main() -> None:
    if not torch.cuda.is_available():
        sys.exit("no CUDA device: nothing to check")
    sys.path.insert(0, str(ROOT / "tests" / "empirical"))
    import workloads

    from empirical import (
        LRGrid,
        OptimizerConfig,
        SweepSpec,
        run_sweep,
        teacher_mlp_workload,
        train_workload,
    )
    cases = [
        ("regression, float64, AdamW + warmup + cosine", workloads.regression(
            OptimizerConfig("adamw", weight_decay=0.1, warmup=5, decay="cosine"),
            dtype=torch.float64), [0.003, 0.03, 0.3]),
        ("regression, float64, Nesterov", workloads.regression(
            OptimizerConfig("sgd", momentum=0.9, nesterov=True), dtype=torch.float64),
         [0.003, 0.03, 0.3]),
        ("teacher MLP, float32, SGD", teacher_mlp_workload("sgd", n_train=2000, n_test=300),
         [0.001, 0.01, 0.1]),
        ("teacher MLP, float32, Adam", teacher_mlp_workload("adam", n_train=2000, n_test=300),
         [0.001, 0.01, 0.1]),
        ("teacher MLP, float32, SGD, 2 runs per vmap call", dataclasses.replace(
            teacher_mlp_workload("sgd", n_train=2000, n_test=300), runs_per_chunk=2),
         [0.001, 0.01, 0.1])]
    print(f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    for name, workload, lrs in cases:
        cpu = train_workload(workload, lrs, 16, 40, run_seeds=(0, 1))
        gpu = train_workload(workload, lrs, 16, 40, run_seeds=(0, 1), device="cuda")
        (train, alike_train), (test, alike_test) = (_relative(g, c) for g, c in zip(gpu, cpu, strict=True))
        print(f"{name}: max relative difference train {train:.2e}, test {test:.2e}; "
              f"diverged alike {min(alike_train, alike_test):.0%}")
    cnn = str(ROOT / "docs" / "examples" / "digits_cnn.py") + ":workload"
    spec = SweepSpec(cnn, (8, 32, 128), LRGrid(base=0.01, ratio=2.0, k_max=7), steps=100,
                     seeds=(0, 1), extend=False, device="cuda")
    run_sweep(SweepSpec(cnn, (8,), [0.1], steps=5, device="cuda"), progress=False)   # warm
    start = time.perf_counter()
    run_sweep(spec, progress=False)
    print(f"digits CNN sweep (3 x 8 x 100 steps x 2 seeds) on cuda: "
          f"{time.perf_counter() - start:.2f} s, peak "
          f"{torch.cuda.max_memory_allocated() / 2**30:.2f} GiB on the device")


if __name__ == "__main__":
    main()
