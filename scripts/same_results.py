"""Check that two results.json files of ``lrbs run`` hold the same numbers.

Everything must be equal except what a run cannot reproduce: when and how long it ran
(``created``, ``provenance`` with its commit and timings, and the noise-scale runs' timed
``seconds``). Floats are compared exactly unless ``--rtol`` allows a summation-order change.

    python scripts/same_results.py BEFORE/results.json AFTER/results.json [--rtol 1e-12]

Exit status 0 when they agree, 1 with every differing path listed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

IGNORED_TOP = ("created", "provenance")
IGNORED_KEYS = ("seconds",)        # wall times measured inside a study


def differences(a, b, path: str = "", rtol: float = 0.0) -> list[str]:
    """Every path where ``a`` and ``b`` differ, as readable lines."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if (not path and key in IGNORED_TOP) or key in IGNORED_KEYS:
                continue
            if key not in a or key not in b:
                out.append(f"{path}/{key}: only in {'the first' if key in a else 'the second'}")
            else:
                out += differences(a[key], b[key], f"{path}/{key}", rtol)
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items against {len(b)}"]
        return [line for i, (x, y) in enumerate(zip(a, b, strict=True))
                for line in differences(x, y, f"{path}[{i}]", rtol)]
    if (isinstance(a, float) and isinstance(b, float | int) and not isinstance(b, bool)
            and math.isclose(a, b, rel_tol=rtol, abs_tol=0.0)):
        return []
    return [] if a == b else [f"{path}: {a!r} against {b!r}"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first")
    parser.add_argument("second")
    parser.add_argument("--rtol", type=float, default=0.0,
                        help="relative tolerance for floats (default: exact)")
    args = parser.parse_args(argv)
    with open(args.first) as f, open(args.second) as g:
        found = differences(json.load(f), json.load(g), rtol=args.rtol)
    for line in found:
        print(line)
    print(f"{len(found)} difference(s)" if found else "same numbers")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
