"""The command line's argument types: each value checked, and named in one line when wrong."""

from __future__ import annotations

import argparse
import math
import os

from compare.studies._base import registered


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default in its help, except where there is none to show."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def int_list(text: str, what: str, low: int) -> list[int]:
    """Comma-separated integers, each ``>= low``."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be integers, got {text!r}") from None
    if not values or min(values) < low:
        raise argparse.ArgumentTypeError(f"{what} must be >= {low} and non-empty, got {text!r}")
    return values


def batch_sizes_arg(text: str) -> list[int]:
    return int_list(text, "batch sizes", 1)


def numbers_arg(text: str, count: int | None = None) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if count is not None and len(values) != count:
        raise argparse.ArgumentTypeError(f"expected {count} comma-separated numbers, got {text!r}")
    if not values or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers, got {text!r}")
    return values


MAX_RATES = 10_000
"""Learning rates per batch size the command line accepts (a grid of 32 is the homework's)."""


def lr_list_arg(text: str) -> list[float]:
    values = numbers_arg(text)
    if min(values) <= 0:
        raise argparse.ArgumentTypeError(f"learning rates must be > 0, got {text!r}")
    return values


def logspace_arg(text: str):
    import numpy as np
    start, stop, num = numbers_arg(text, 3)
    if num < 1 or num != int(num):
        raise argparse.ArgumentTypeError(f"NUM must be a positive integer, got {text!r}")
    if num > MAX_RATES:
        raise argparse.ArgumentTypeError(f"at most {MAX_RATES} rates, got NUM={num:g}")
    return list(np.logspace(start, stop, int(num)))


def grid_arg(text: str):
    from empirical import LRGrid
    base, ratio, k_min, k_max = numbers_arg(text, 4)
    if k_min != int(k_min) or k_max != int(k_max):
        raise argparse.ArgumentTypeError(f"KMIN and KMAX must be integers, got {text!r}")
    if k_max - k_min >= MAX_RATES:
        raise argparse.ArgumentTypeError(f"at most {MAX_RATES} rates, got "
                                         f"{k_max - k_min + 1:g} from {text!r}")
    try:
        return LRGrid(base, ratio, int(k_min), int(k_max))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


MAX_SEEDS = 10_000


SEEDS_HELP = "run seeds: N, N,M,... or A-B (inclusive)"


def seeds_arg(text: str) -> list[int]:
    """One seed, a comma list, or a range ``a-b`` (inclusive); at most :data:`MAX_SEEDS`."""
    seeds = _seed_list(text)
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"seeds must not repeat, got {text!r}")
    if len(seeds) > MAX_SEEDS:
        raise argparse.ArgumentTypeError(f"at most {MAX_SEEDS} seeds, got {len(seeds)} from "
                                         f"{text!r}")
    return seeds


def _seed_list(text: str) -> list[int]:
    if "-" not in text.strip("-") or "," in text:
        return int_list(text, "seeds", 0)
    try:
        lo, hi = (int(v) for v in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must be N, N,M,... or A-B; got {text!r}") from None
    if lo < 0 or hi < lo:
        raise argparse.ArgumentTypeError(f"a seed range A-B needs 0 <= A <= B, got {text!r}")
    if hi - lo >= MAX_SEEDS:
        raise argparse.ArgumentTypeError(f"at most {MAX_SEEDS} seeds, got {hi - lo + 1} from "
                                         f"{text!r}")
    return list(range(lo, hi + 1))


def nonnegative_arg(text: str) -> float:
    """A finite number ``>= 0``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def positive_arg(kind: type):
    """An argparse type: a finite number of ``kind`` (``int`` at least 1, ``float`` above 0)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number of type {kind.__name__}, got {text!r}") from None
        if (value < 1 if kind is int else not 0 < value < float("inf")):
            bound = "an integer >= 1" if kind is int else "a finite number > 0"
            raise argparse.ArgumentTypeError(f"expected {bound}, got {text!r}")
        return value
    return parse


def threads_option(parser) -> None:
    parser.add_argument("--threads", type=positive_arg(int), default=None, metavar="N",
                        help="torch intra-op threads for training (default: $LRBS_THREADS, "
                             "else 1: one thread per process avoids oversubscribing shared "
                             "cores, see docs/sweeps.md)")


def dropout_arg(text: str) -> float:
    value = nonnegative_arg(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"dropout must be in [0, 1), got {text!r}")
    return value


def study_options(parser, *, out: str, seeds_default: str, quick_help: str,
                  out_help: str = "output directory, locked while the study runs") -> None:
    """--out, --seeds, --quick, --quiet and --threads, shared by the commands that run a study."""
    parser.add_argument("--out", type=folder_arg, default=out, metavar="DIR", help=out_help)
    parser.add_argument("--seeds", type=seeds_arg, default=None,
                        help=f"{SEEDS_HELP} (default {seeds_default})")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    threads_option(parser)


STUDY_NAMES = tuple(study.NAME for study in registered())
"""The studies ``lrbs run --only`` can name, in report order."""


def study_names_arg(text: str) -> list[str]:
    """Comma-separated study names, each one of :data:`STUDY_NAMES`."""
    names = [v.strip() for v in text.split(",") if v.strip()]
    unknown = [n for n in names if n not in STUDY_NAMES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"studies must be among {', '.join(STUDY_NAMES)}; got "
                                         f"{text!r}")
    return names


def folder_arg(text: str) -> str:
    """An output folder's name: not empty (an empty one would write into the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"needs a folder name, got {text!r}")
    return text


def workers_arg(text: str) -> int:
    """Local Dask workers: at least 1, at most this machine's cores (each is a process; more
    than the cores only contend for them)."""
    workers = positive_arg(int)(text)
    cores = os.cpu_count() or 1
    if workers > cores:
        raise argparse.ArgumentTypeError(f"at most {cores} workers on this machine's {cores} "
                                         f"cores, got {workers}")
    return workers
