"""Speed and memory of the generic workload path, and of Dask against one local process.

1. The shipped MLP sweeps (7 batch sizes x 32 rates 1e-3 * 1.25**k x 100 steps x 5 seeds, the
   grid fixed) through the generic path (``teacher_mlp_workload`` as a ``SweepSpec``
   workload: ``torch.func.vmap`` over the runs), against the per-run ``torch.optim`` loop
   (``empirical.reference.train_mlp``, the loop a user would write) and against the
   hand-batched kernel (``train_mlp_batched``). The reference loop is timed on every 4th rate
   of seed 0 at every batch size (8 of the 160 runs per batch size) and scaled by 20; the
   vectorized sides run in full.
2. The digits CNN of the gallery (``docs/examples/digits_cnn.py``): sweep time and peak
   resident memory, 3 batch sizes x 8 rates x 2 seeds x 100 steps, against the per-run
   ``torch.optim`` loop (``empirical.reference.train_workload``, every 2nd rate of seed 0,
   scaled by 4).
3. Two Dask workers (a ``LocalCluster``, one thread each) against one local process on the
   same sweep, with one task per (batch size, seed) and with one per batch size: the ratio
   as the work per task grows.
4. Where vectorizing pays: the teacher MLP made wider (``D`` = 4, 32, 128; 2 batch sizes x
   32 rates x 5 seeds x 50 steps) through the generic path, all 160 runs per vmap call, in
   chunks of 16 (``Workload.runs_per_chunk``) and as chosen by timing the first steps
   (``"auto"``, the default), against the per-run ``torch.optim`` loop (every 4th rate of
   seed 0, scaled by 20) on the same number of torch threads (``LRBS_THREADS``, default 1;
   with torch's default of one thread per core the loop's wide products would use both cores
   while the vectorized side uses one). The last column is each side against the faster of
   the per-run loop and all runs per call: ``"auto"`` should not fall below 0.9x.

Each measurement runs in fresh processes (``bench_sweeps.measure``: best of ``--repeats``,
median beside it, peak ``ru_maxrss`` including torch's ~0.4 GiB). Run by hand:
``python benchmarks/bench_workload.py [--repeats N]``; ``LRBS_THREADS`` sets torch's threads
for every vectorized side (default 1).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench_sweeps import BATCH_SIZES, measure

CNN = str(Path(__file__).resolve().parents[1] / "docs" / "examples" / "digits_cnn.py")
SEEDS = (0, 1, 2, 3, 4)


def _mlp_workload(optimizer: str):
    from empirical import teacher_mlp_workload
    return teacher_mlp_workload(optimizer)


def mlp_sgd():
    return _mlp_workload("sgd")


def mlp_adam():
    return _mlp_workload("adam")


def _spec(model, batch_sizes=BATCH_SIZES, seeds=SEEDS, steps=100, k_max=31):
    from empirical import LRGrid, SweepSpec
    return SweepSpec(model, batch_sizes, LRGrid(k_max=k_max), steps=steps, seeds=seeds,
                     extend=False)


def _generic(optimizer, *spec_args):
    from empirical import run_sweep
    run_sweep(_spec(f"{__file__}:mlp_{optimizer}", *spec_args), progress=False)


def _hand(optimizer, *spec_args):
    from empirical import run_sweep
    run_sweep(_spec(f"mlp-{optimizer}", *spec_args), progress=False)


def _reference(optimizer, batch_sizes=BATCH_SIZES, steps=100):
    from empirical import LRGrid, reference, teacher_mlp_problem
    problem = teacher_mlp_problem(0)
    for b in batch_sizes:
        for lr in LRGrid().values()[::4]:
            reference.train_mlp(problem, lr, b, steps, optimizer=optimizer)


def _cnn(batch_sizes=(8, 32, 128), steps=100):
    from empirical import LRGrid, SweepSpec, run_sweep
    run_sweep(SweepSpec(f"{CNN}:workload", batch_sizes, LRGrid(base=0.01, ratio=2.0, k_max=7),
                        steps=steps, seeds=(0, 1), extend=False), progress=False)


def _cnn_reference(batch_sizes=(8, 32, 128), steps=100):
    from empirical import LRGrid, load_workload, reference
    workload = load_workload(f"{CNN}:workload")
    for b in batch_sizes:
        for lr in LRGrid(base=0.01, ratio=2.0, k_max=7).values()[::2]:
            reference.train_workload(workload, lr, b, steps)


WIDE_BATCH_SIZES, WIDE_STEPS = (16, 512), 50


def _wide_workload(dim: int, runs_per_chunk: int | str | None):
    import torch

    from empirical import Workload, teacher_mlp_problem
    problem = teacher_mlp_problem(0, dim=dim)
    data = [torch.as_tensor(a, dtype=torch.float32)
            for a in (problem.X_train, problem.y_train, problem.X_test, problem.y_test)]
    return Workload.from_module(
        f"teacher MLP, D = {dim}",
        lambda: torch.nn.Sequential(torch.nn.Linear(dim, dim), torch.nn.ReLU(),
                                    torch.nn.Linear(dim, dim)),
        torch.nn.functional.mse_loss, tuple(data[:2]), tuple(data[2:]),
        runs_per_chunk=runs_per_chunk)


def _wide(dim, runs_per_chunk, batch_sizes=WIDE_BATCH_SIZES, steps=WIDE_STEPS):
    from empirical import LRGrid, train_workload
    workload = _wide_workload(dim, runs_per_chunk)
    for b in batch_sizes:
        train_workload(workload, LRGrid(k_max=31).values(), b, steps, run_seeds=SEEDS)


def _wide_reference(dim, batch_sizes=WIDE_BATCH_SIZES, steps=WIDE_STEPS):
    import torch

    from empirical import LRGrid, reference
    from empirical._core.threads import compute_threads
    torch.set_num_threads(compute_threads())        # the vectorized side's threads: like for like
    workload = _wide_workload(dim, None)
    for b in batch_sizes:
        for lr in LRGrid(k_max=31).values()[::4]:
            reference.train_workload(workload, lr, b, steps)


def _dask_ratio(spec, repeats: int) -> tuple[float, float, float]:
    """Seconds of one sweep, best of ``repeats``: here, and on two workers with one task per
    (batch size, seed) and per batch size; the cluster is started before the clock."""
    from distributed import Client, LocalCluster

    from empirical import run_sweep
    local = min(_timed(lambda: run_sweep(spec, progress=False)) for _ in range(repeats))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        run_sweep(_spec(spec.model, (2,), (0,), 5, 3), client=client, progress=False)  # warm
        per_seed = min(_timed(lambda: run_sweep(spec, client=client, seeds_per_task=1,
                                                progress=False)) for _ in range(repeats))
        per_batch = min(_timed(lambda: run_sweep(spec, client=client, progress=False))
                        for _ in range(repeats))
    return local, per_seed, per_batch


def _timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3,
                        help="fresh-process runs per measurement (default 3)")
    parser.add_argument("--part", type=int, choices=(1, 3, 4), action="append",
                        help="run only these parts (1 includes 2); all by default")
    args = parser.parse_args()
    parts = set(args.part or (1, 3, 4))
    for part, run in ((1, _speed), (3, _dask), (4, _widths)):
        if part in parts:
            run(args.repeats)


def _speed(repeats: int) -> None:
    print(f"{'MLP sweep, 7 x 32 x 100 steps x 5 seeds':<42}{'seconds, best (median)':>24}"
          f"{'vs reference':>14}{'peak GiB':>10}")
    warm = ((2,), (0,), 12, 3)
    for optimizer in ("sgd", "adam"):
        ref, ref_med, _ = measure(_reference, (optimizer,), (optimizer, (2,), 12), repeats)
        ref, ref_med = 20 * ref, 20 * ref_med                   # 8 of 160 runs per batch size
        gen, gen_med, gen_mem = measure(_generic, (optimizer,), (optimizer, *warm), repeats)
        hand, hand_med, hand_mem = measure(_hand, (optimizer,), (optimizer, *warm), repeats)
        for name, best, med, mem in (("per-run torch.optim (scaled)", ref, ref_med, None),
                                     ("generic workload path", gen, gen_med, gen_mem),
                                     ("hand-batched kernel", hand, hand_med, hand_mem)):
            print(f"{f'mlp-{optimizer}: {name}':<42}{f'{best:.2f} ({med:.2f})':>24}"
                  f"{f'{ref / best:.1f}x':>14}{'' if mem is None else f'{mem:.2f}':>10}")
        print(f"{f'mlp-{optimizer}: generic / hand-batched time':<42}{f'{gen / hand:.1f}x':>24}")
    cnn_ref, cnn_ref_med, _ = measure(_cnn_reference, (), ((8,), 3), repeats)
    cnn_ref, cnn_ref_med = 4 * cnn_ref, 4 * cnn_ref_med          # 4 of 16 runs per batch size
    cnn, cnn_med, cnn_mem = measure(_cnn, (), ((8,), 3), repeats)
    print(f"\n{'digits CNN, 3 x 8 x 100 steps x 2 seeds':<42}")
    print(f"{'  per-run torch.optim (scaled)':<42}{f'{cnn_ref:.2f} ({cnn_ref_med:.2f})':>24}"
          f"{'1.0x':>14}")
    print(f"{'  generic workload path':<42}{f'{cnn:.2f} ({cnn_med:.2f})':>24}"
          f"{f'{cnn_ref / cnn:.1f}x':>14}{cnn_mem:>10.2f}")


def _dask(repeats: int) -> None:
    print(f"\n{'Dask, 2 workers vs 1 process (1 thread each)':<42}{'local s':>10}"
          f"{'tasks (B, seed)':>18}{'tasks (B)':>16}")
    from empirical import LRGrid, SweepSpec
    cnn_spec = SweepSpec(f"{CNN}:workload", (8, 32, 128), LRGrid(base=0.01, ratio=2.0, k_max=7),
                         steps=100, seeds=SEEDS, extend=False)
    for name, spec in [*((f"mlp-sgd, 7 B x 5 seeds, {steps} steps", _spec("mlp-sgd", steps=steps))
                         for steps in (25, 100, 400)),
                       ("digits CNN, 3 B x 5 seeds, 100 steps", cnn_spec)]:
        local, per_seed, per_batch = _dask_ratio(spec, max(1, repeats // 2))
        print(f"{name:<42}{local:>10.2f}{f'{per_seed:.2f} ({local / per_seed:.2f}x)':>18}"
              f"{f'{per_batch:.2f} ({local / per_batch:.2f}x)':>16}")


def _widths(repeats: int) -> None:
    print(f"\n{'teacher MLP of width D, 2 B x 32 x 5 x 50':<42}{'seconds, best (median)':>24}"
          f"{'vs reference':>14}{'vs faster':>11}{'peak GiB':>10}")
    for dim in (4, 32, 128):
        ref, ref_med, _ = measure(_wide_reference, (dim,), (dim, (2,), 2), repeats)
        ref, ref_med = 20 * ref, 20 * ref_med                   # 8 of 160 runs per batch size
        rows = {}
        for chunk in (None, 16, "auto"):
            rows[chunk] = measure(_wide, (dim, chunk), (dim, chunk, (2,), 2), repeats)
        faster = min(ref, rows[None][0])
        print(f"{f'D = {dim}: per-run torch.optim (scaled)':<42}{f'{ref:.2f} ({ref_med:.2f})':>24}"
              f"{'1.0x':>14}{f'{faster / ref:.2f}x':>11}")
        for chunk, (best, med, mem) in rows.items():
            name = f"D = {dim}: generic, " + {None: "all runs per call", "auto": "auto"}.get(
                chunk, f"{chunk} runs per call")
            print(f"{name:<42}{f'{best:.2f} ({med:.2f})':>24}{f'{ref / best:.1f}x':>14}"
                  f"{f'{faster / best:.2f}x':>11}{mem:>10.2f}")


if __name__ == "__main__":
    main()
