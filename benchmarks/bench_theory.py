"""The diagonal NQM's fewest steps: the envelope search against the per-rate search, and
``lrbs theory`` at Zhang et al.'s dim 10,000 (exact spectrum) on the wall clock.

1. One optimum, dim 10,000 exact, B = 64, target 0.1, plain SGD and momentum 0.9: the
   reference is the per-rate search this package used before (``steps_to_target`` at each
   rate, a first-passage branch and bound per rate, over a 36-point grid refined by Brent:
   ``nqm._affine.minimize_on_log_scale``), against ``optimal_steps_to_target`` (the envelope
   search). Prints both times, the ratio and both step counts.
2. ``lrbs theory --dim 10000`` (its default batch sizes 1, 4, ..., 4096 and target 0.1), the
   same at the report's 13 batch sizes 1, 2, 4, ..., 4096, and Zhang et al.'s figure exact
   (``--diagonal-target 0.01 --batch-sizes 4,16,...,4^10``): wall time of each command, which
   computes six optimizers (two tuned jointly) and six critical batch sizes. The issue's bar:
   under 60 s on 2 cores.

Run by hand: ``python benchmarks/bench_theory.py`` (about 4 minutes).
"""

from __future__ import annotations

import subprocess
import sys
import time


def _timed(work):
    started = time.perf_counter()
    out = work()
    return time.perf_counter() - started, out


def main() -> None:
    import numpy as np

    import nqm
    from nqm._affine import minimize_on_log_scale

    model = nqm.DiagonalNQM.zhang2019(10_000)
    batch, target = 64, 0.1
    print(f"{'optimizer':<14}{'per-rate (s)':>14}{'envelope (s)':>14}{'ratio':>8}"
          f"{'steps, per-rate':>17}{'steps, envelope':>17}")
    for label, momentum in (("plain SGD", 0.0), ("momentum 0.9", 0.9)):
        top = model.max_stable_lr(momentum=momentum) * (1 - 1e-9)

        def per_rate(momentum=momentum, top=top):
            def steps(lrs):
                return np.atleast_1d(model.steps_to_target(lrs, batch, target,
                                                           momentum=momentum))
            lr = minimize_on_log_scale(steps, top * 1e-7, top, n_grid=36, xatol=1e-6)
            return float(steps([lr])[0])

        old, old_steps = _timed(per_rate)
        new, best = _timed(lambda momentum=momentum: model.optimal_steps_to_target(
            batch, target, momentum=momentum))
        print(f"{label:<14}{old:14.2f}{new:14.3f}{old / new:8.0f}{old_steps:17.2f}"
              f"{float(best.steps):17.2f}")

    zhang = ",".join(str(4**k) for k in range(1, 11))
    report = ",".join(str(2**k) for k in range(13))
    for argv in (["--dim", "10000"], ["--dim", "10000", "--batch-sizes", report],
                 ["--dim", "10000", "--diagonal-target", "0.01", "--batch-sizes", zhang]):
        seconds, _ = _timed(lambda argv=argv: subprocess.run(
            [sys.executable, "-m", "compare.cli", "theory", *argv], check=True,
            stdout=subprocess.DEVNULL))
        print(f"lrbs theory {' '.join(argv)}: {seconds:.1f} s")


if __name__ == "__main__":
    main()
