"""Where the main job's time goes: ``lrbs run`` and ``lrbs run --quick``, stage by stage.

Each run is a fresh process writing into a fresh folder (nothing resumed), timed from outside
(wall time with start-up) and from inside (``results.json``'s ``provenance``: the run's own
time and each study's stage, its figures included; outside it are the interpreter's start-up,
the imports and writing the page). The median of ``--repeats`` runs is printed per stage with
its share of all stages. On two cores the stages overlap (a helper process runs the studies
that need no sweeps and writes the figures), so they sum to more than the run.

    python benchmarks/bench_main.py                 # both, 3 repeats each
    python benchmarks/bench_main.py --quick-only --repeats 1
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def one_run(quick: bool) -> tuple[float, dict]:
    """Wall time of one ``lrbs run`` in a fresh process and folder, and its provenance."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "report"
        command = [sys.executable, "-m", "compare.cli", "run", "--quiet", "--out", str(out)]
        started = time.perf_counter()
        subprocess.run(command + (["--quick"] if quick else []), check=True,
                       stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        return wall, json.loads((out / "results.json").read_text())["provenance"]


def report(quick: bool, repeats: int) -> None:
    runs = [one_run(quick) for _ in range(repeats)]
    walls = [w for w, _ in runs]
    inside = [p["run_seconds"] for _, p in runs]
    stages = {name: [p["stage_seconds"][name] for _, p in runs]
              for name in runs[0][1]["stage_seconds"]}
    total = float(np.median(inside))
    title = "lrbs run --quick" if quick else "lrbs run"
    print(f"\n{title}: {np.median(walls):.1f} s wall with start-up (median of {repeats}: "
          f"{', '.join(f'{w:.1f}' for w in walls)}), {total:.1f} s inside the run")
    summed = sum(float(np.median(v)) for v in stages.values())
    print("| stage | seconds (median) | share of the stages |\n|---|---:|---:|")
    for name, values in stages.items():
        print(f"| {name} | {np.median(values):.1f} | {np.median(values) / summed:.0%} |")
    print(f"| all stages (on either core) | {summed:.1f} | {summed / total:.2f}x the run |")
    outside = float(np.median(walls)) - total
    print(f"| outside the run: start-up, imports, the page | {outside:.1f} | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick-only", action="store_true")
    args = parser.parse_args()
    report(True, args.repeats)
    if not args.quick_only:
        report(False, args.repeats)


if __name__ == "__main__":
    main()
