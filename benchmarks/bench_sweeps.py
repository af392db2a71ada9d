"""Speed and memory of the vectorized sweeps against the per-run reference loops.

The homework grids: 7 batch sizes x 32 learning rates (1e-3 * 1.25**k) x 100 steps, one
seed, for each model; once with ``run_sweep`` (all rates of a batch size in one batched
program, the least-squares batch sizes in lock step) and once with the notebook-style loops
of ``empirical.reference``. Then all three sweeps with 5 seeds together. Each measurement
runs in a fresh process, so its peak resident memory (``ru_maxrss``, which includes the
~0.4 GiB of an imported torch) is its own; a tiny warm-up run before the clock starts keeps
import and first-call costs out of both sides. Shared virtual machines are noisy, so every
measurement is repeated (``--repeats``, fresh processes each time) and the best time is
reported, with the median beside it; the ratio is best against best.

The last line is the anchor the question asks about: question 1's grid (least squares, one
seed) through ``run_sweep`` against the notebook's own loop, its ``run_sgd`` called once per
(batch size, rate) exactly as the homework's cell would, timed in one process.

Run by hand: ``python benchmarks/bench_sweeps.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import statistics
import time

BATCH_SIZES = (2, 4, 16, 64, 256, 1024, 2048)
MODELS = ("linear-sgd", "mlp-sgd", "mlp-adam")


def _vectorized(models, seeds, batch_sizes=BATCH_SIZES, k_max=31, steps=100):
    from empirical import LRGrid, SweepSpec, run_sweep
    for model in models:
        run_sweep(SweepSpec(model, batch_sizes, LRGrid(k_max=k_max), steps=steps, seeds=seeds,
                            extend=False), progress=False)


def _reference(model, batch_sizes=BATCH_SIZES, k_max=31, steps=100):
    from empirical import LRGrid, SweepSpec, reference
    problem = SweepSpec(model, batch_sizes).problem()
    for b in batch_sizes:
        for lr in LRGrid(k_max=k_max).values():
            if model == "linear-sgd":
                reference.train_linear_sgd(problem, lr, b, steps)
            else:
                reference.train_mlp(problem, lr, b, steps, optimizer=model.split("-")[1])


def _notebook_q1(batch_sizes=BATCH_SIZES, k_max=31, iters=100):
    """Question 1's sweep as the homework notebook writes it: its data cell, its ``run_sgd``
    (numpy, ``np.random.seed(0)`` per run: the legacy global stream on purpose) and one call
    per (batch size, rate)."""  # noqa: NPY002
    import numpy as np
    np.random.seed(0)  # noqa: NPY002
    N, D, sigma = 10000, 16, 5.0
    X_train = np.random.randn(N, D)  # noqa: NPY002
    X_test = np.random.randn(1_000, D)  # noqa: NPY002
    w_true = np.random.randn(D, D)  # noqa: NPY002
    y_train = X_train @ w_true + sigma * np.random.randn(N, D)  # noqa: NPY002
    y_test = X_test @ w_true + sigma * np.random.randn(1_000, D)  # noqa: NPY002

    def compute_mse(X, y, w):
        return np.mean((y - X @ w) ** 2)

    def run_sgd(iters, batch_size, lr):
        np.random.seed(0)  # noqa: NPY002
        w = np.random.randn(D, D)  # noqa: NPY002
        test_sgd_mse, train_sgd_mse = [], []
        for _ in range(iters):
            idx = np.random.randint(0, N, batch_size)  # noqa: NPY002
            x, y = X_train[idx], y_train[idx]
            grad = (2 / batch_size) * (x.T @ x @ w - x.T @ y)
            w = w - lr * grad
            train_sgd_mse.append(compute_mse(x, y, w))
            test_sgd_mse.append(compute_mse(X_test, y_test, w))
        return w, train_sgd_mse, test_sgd_mse

    return {(b, k): run_sgd(iters, b, 1e-3 * 1.25 ** k)[2]
            for b in batch_sizes for k in range(k_max + 1)}


def _against_notebook(queue, repeats):
    """Best and median seconds of question 1's grid, run_sweep and the notebook's loop taking
    turns in this one process (after a warm-up of each)."""
    from threadpoolctl import threadpool_limits
    _vectorized(("linear-sgd",), (0,), (2,), 1, 12)
    _notebook_q1((2,), 1, 12)
    times = {"vectorized": [], "notebook": []}
    with threadpool_limits(1):                      # as run_sweep holds numpy's BLAS
        for _ in range(repeats):
            for name, target in (("vectorized", lambda: _vectorized(("linear-sgd",), (0,))),
                                 ("notebook", _notebook_q1)):
                start = time.perf_counter()
                target()
                times[name].append(time.perf_counter() - start)
    queue.put({k: (min(v), statistics.median(v)) for k, v in times.items()})


def _child(queue, target, args, warmup):
    target(*warmup)                                     # imports and first-call kernels
    start = time.perf_counter()
    target(*args)
    wall = time.perf_counter() - start
    queue.put((wall, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20))


def measure(target, args, warmup, repeats: int) -> tuple[float, float, float]:
    """(best wall seconds, median wall seconds, peak resident GiB) of ``target(*args)``,
    each of ``repeats`` runs in a fresh process."""
    ctx = mp.get_context("spawn")
    walls, peaks = [], []
    for _ in range(repeats):
        queue = ctx.Queue()
        proc = ctx.Process(target=_child, args=(queue, target, args, warmup))
        proc.start()
        wall, peak = queue.get()
        proc.join()
        walls.append(wall)
        peaks.append(peak)
    return min(walls), statistics.median(walls), max(peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3,
                        help="fresh-process runs per measurement (default 3)")
    repeats = parser.parse_args().repeats
    print(f"{'sweep (7 x 32 x 100 steps, 1 seed)':<36}{'vectorized':>20}{'reference':>20}"
          f"{'ratio':>8}{'peak GiB':>10}")
    print(f"{'':<36}{'best (median)':>20}{'best (median)':>20}")
    for model in MODELS:
        vec, vec_med, mem = measure(_vectorized, ((model,), (0,)), ((model,), (0,), (2,), 1, 12),
                                    repeats)
        ref, ref_med, _ = measure(_reference, (model,), (model, (2,), 1, 12), repeats)
        print(f"{model:<36}{f'{vec:.3f} s ({vec_med:.3f})':>20}{f'{ref:.2f} s ({ref_med:.2f})':>20}"
              f"{ref / vec:>7.0f}x{mem:>10.2f}")
    vec, vec_med, mem = measure(_vectorized, (MODELS, (0, 1, 2, 3, 4)), (MODELS, (0,), (2,), 1, 12),
                                repeats)
    print(f"{'all three, seeds 0-4, vectorized':<36}{f'{vec:.2f} s ({vec_med:.2f})':>20}{'':>20}"
          f"{'':>8}{mem:>10.2f}")
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_against_notebook, args=(queue, repeats))
    proc.start()
    times = queue.get()
    proc.join()
    (vec, vec_med), (nb, nb_med) = times["vectorized"], times["notebook"]
    print(f"{'Q1 grid, one process: notebook loop':<36}{f'{vec:.3f} s ({vec_med:.3f})':>20}"
          f"{f'{nb:.2f} s ({nb_med:.2f})':>20}{nb / vec:>7.0f}x")


if __name__ == "__main__":
    main()
