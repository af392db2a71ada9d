"""Speed of the scaling-law study against a per-run loop over the same cells.

The default study of ``lrbs scaling-law`` (10 shapes, the 16-rate grid, 3 seeds, Adam, early
stopping), once with :func:`empirical.run_scaling_study` (all rates and seeds of a shape as one
batched program, grid extension included) and once as a loop of
:func:`empirical.reference.train_digits` (``torch.nn`` + ``torch.optim``) over the cells the
batched study trained. Target: the batched study under 3 minutes on 2 cores.

Run by hand: ``python benchmarks/bench_scaling.py``.
"""

from __future__ import annotations

import time

from empirical import ScalingSpec, load_digits_split, reference, run_scaling_study


def main() -> None:
    spec = ScalingSpec()
    start = time.perf_counter()
    runs = run_scaling_study(spec)
    batched = time.perf_counter() - start
    split = load_digits_split(spec.split_seed)
    cells = [(r.shape, lr, seed) for r in runs.shapes for lr in r.runs.lrs for seed in spec.seeds]
    start = time.perf_counter()
    for shape, lr, seed in cells:
        reference.train_digits(split, shape, float(lr), run_seed=seed, optimizer=spec.optimizer,
                               batch_size=spec.batch_size, max_steps=spec.max_steps,
                               eval_every=spec.eval_every, patience=spec.patience)
    loop = time.perf_counter() - start
    print(f"scaling-law study: {len(runs.shapes)} shapes, {len(cells)} runs")
    print(f"{'batched':<12}{batched:>9.1f} s")
    print(f"{'per-run loop':<12}{loop:>9.1f} s")
    print(f"{'ratio':<12}{loop / batched:>9.1f} x")


if __name__ == "__main__":
    main()
