"""Two sweeps at once against one alone: does lrbs share the machine's cores?

Each measurement runs ``lrbs sweep`` as a fresh process (the three homework sweeps would take
longer; one model with five seeds is a few seconds of small kernels), alone and then two at
once, with torch's default of lrbs (``--threads 1``) and with two threads per process. The
concurrent time is each process's own wall time; the ratio is concurrent over alone (1.0:
no slowdown; 2.0 would be a fair share of two busy cores; more: oversubscription).

Run by hand: ``python benchmarks/bench_threads.py [--repeats N] [--model MODEL]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def _command(model: str, threads: int) -> list[str]:
    return [sys.executable, "-m", "compare.cli", "sweep", model, "--seeds", "0-4", "--quiet",
            "--threads", str(threads)]


def _timed(procs) -> list[float]:
    start = time.perf_counter()
    ends = {}
    while len(ends) < len(procs):
        for i, p in enumerate(procs):
            if i not in ends and p.poll() is not None:
                if p.returncode:
                    raise RuntimeError(p.stderr.read())
                ends[i] = time.perf_counter() - start
        time.sleep(0.01)
    for p in procs:
        p.communicate()
    return [ends[i] for i in range(len(procs))]


def measure(model: str, threads: int, concurrent: int) -> list[float]:
    procs = [subprocess.Popen(_command(model, threads), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for _ in range(concurrent)]
    return _timed(procs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default="mlp-adam")
    args = parser.parse_args()
    print(f"lrbs sweep {args.model} --seeds 0-4, wall seconds (median of {args.repeats})")
    print(f"{'threads':>8} {'alone':>8} {'two at once':>12} {'ratio':>6}")
    for threads in (1, 2):
        alone = statistics.median(measure(args.model, threads, 1)[0] for _ in range(args.repeats))
        pair = statistics.median(max(measure(args.model, threads, 2))
                                 for _ in range(args.repeats))
        print(f"{threads:>8} {alone:>8.2f} {pair:>12.2f} {pair / alone:>6.2f}")


if __name__ == "__main__":
    main()
