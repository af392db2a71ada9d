"""The noise-scale estimate against the sweep it predicts: time of each, and their ratio.

For each study of ``lrbs run`` (its full specs: 7 batch sizes, 5 seeds, the self-extending
grid, 100 steps): the sweep's wall time (``run_sweep``, nothing on disk), the noise-scale run
of the report (``empirical.noise_along_run``: one training run at B = 64 and 21 checkpoints of
per-example estimates, 10 batches of 256 examples each, plus one Hessian-vector product on the
training set), with and without its training run, and a single estimate at initialization
(one ``per_example_noise`` + ``noiseless_lr_max``). The issue's bar: under 5% of the sweep.

Run by hand: ``python benchmarks/bench_gns.py [--repeats N]`` (best of N, default 2);
``LRBS_THREADS`` sets torch's threads (default 1).
"""

from __future__ import annotations

import argparse
import time


def _best(repeats: int, work) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        out = work()
        times.append(time.perf_counter() - started)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="best of N (default 2)")
    repeats = parser.parse_args().repeats

    from compare.studies._base import sweep_specs
    from empirical import noise_along_run, noiseless_lr_max, per_example_noise, run_sweep

    print(f"{'study':<12}{'sweep':>10}{'gns run':>10}{'estimates':>11}{'one point':>11}"
          f"{'run/sweep':>11}{'point/sweep':>13}")
    for spec in sweep_specs(5):
        sweep, result = _best(repeats, lambda spec=spec: run_sweep(spec, progress=False))
        workload = spec.workload()
        lr = result.optima(n_boot=10)[3].lr                     # B = 64, as the report
        run, trace = _best(repeats, lambda w=workload, lr=lr, spec=spec: noise_along_run(
            w, lr, 64, spec.steps, method="per-example", run_seed=spec.seeds[0]))
        params = workload.parameters(spec.seeds[0])
        point, _ = _best(repeats, lambda w=workload, p=params: (
            per_example_noise(w.loss, p, w.train, 256, n_batches=10),
            noiseless_lr_max(w.loss, p, w.train)))
        print(f"{spec.model:<12}{sweep:>9.2f}s{run:>9.2f}s{trace.seconds:>10.2f}s{point:>10.3f}s"
              f"{100 * run / sweep:>10.1f}%{100 * point / sweep:>12.2f}%")


if __name__ == "__main__":
    main()
