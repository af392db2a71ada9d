"""``lrbs scaling-law`` on one core against two: the settings handed out to a helper process.

The command trains its settings (the study, its data axis, the nuisance grid's batch sizes,
both parametrizations of the muP study) one at a time in resumable folders; with two cores a
helper process takes the next one in line whenever it is free
(:func:`compare.report._second_core.train_settings`). Each run here is a fresh process writing
into a fresh folder, pinned to one core (``os.sched_setaffinity``) or given every core, and timed
from outside; the two runs' ``scaling_law.json`` must agree number for number.

Run by hand (Linux): ``python benchmarks/bench_scaling_cores.py`` (the default grids, about two
and a half minutes on 2 cores) or ``--full`` (the full grids, about half an hour).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.same_results import differences  # noqa: E402


def one_run(full: bool, cores: set[int]) -> tuple[float, dict]:
    """Wall time of one ``lrbs scaling-law`` on ``cores`` in a fresh folder, and its results."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "compare.cli", "scaling-law", "--quiet", "--out", folder]
        started = time.perf_counter()
        subprocess.run(command + (["--full"] if full else []), check=True,
                       stdout=subprocess.DEVNULL, preexec_fn=lambda: os.sched_setaffinity(0, cores))
        wall = time.perf_counter() - started
        results = json.loads((Path(folder) / "scaling_law.json").read_text())
    for key in ("created", "figures"):
        results.pop(key)
    return wall, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the full grids")
    args = parser.parse_args()
    available = os.sched_getaffinity(0)
    if len(available) < 2:
        raise SystemExit("needs two cores")
    one, alone = one_run(args.full, {min(available)})
    two, beside = one_run(args.full, available)
    title = "lrbs scaling-law" + (" --full" if args.full else "")
    print(f"{title}\n| cores | seconds (wall, with start-up) |\n|---:|---:|")
    print(f"| 1 | {one:.1f} |\n| {len(available)} | {two:.1f} |")
    print(f"ratio: {one / two:.2f}x; the results agree number for number: "
          f"{differences(alone, beside, rtol=0.0) == []}")


if __name__ == "__main__":
    main()
