"""The ``lrbs`` command line."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import version

from compare._theory_table import diagonal_table, format_rows, scalar_table


def _batch_sizes(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"batch sizes must be integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"batch sizes must be >= 1, got {text!r}")
    return values


def _positive(kind: type):
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lrbs", description="How should the learning rate scale with the batch size?")
    parser.add_argument("--version", action="version", version=f"lrbs {version('lrbs')}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    theory = commands.add_parser(
        "theory", help="print what the closed forms predict per batch size",
        description="Optimal learning rates of the scalar noisy quadratic model (a = 1, "
                    "sigma^2 = 1, w0^2 = 1) under three criteria, and the diagonal NQM of "
                    "Zhang et al. (2019): optimal steps to a target loss and the critical "
                    "batch size, plain, with momentum 0.9 and with H^-1/2 preconditioning.")
    theory.add_argument("--batch-sizes", type=_batch_sizes,
                        default=_batch_sizes("1,4,16,64,256,1024,4096"))
    theory.add_argument("--steps", type=_positive(int), default=100,
                        help="fixed horizon of the scalar model (default 100)")
    theory.add_argument("--target", type=_positive(float), default=0.01,
                        help="target loss of the scalar model, below 0.5 (default 0.01)")
    theory.add_argument("--diagonal-target", type=_positive(float), default=0.1,
                        help="target loss of the diagonal NQM (default 0.1)")
    theory.add_argument("--dim", type=_positive(int), default=1000,
                        help="dimension of the diagonal NQM (default 1000; the paper's 10000 "
                             "gives the same picture in about four minutes)")
    return parser


def _theory(args) -> None:
    if args.target >= 0.5:
        raise ValueError(f"--target must be below the initial loss 0.5, got {args.target}")
    print(f"Scalar NQM (a=1, sigma^2=1, w0^2=1): optimal lr per batch size\n"
          f"  horizon: minimizes E L after {args.steps} steps;  target: reaches "
          f"E L = {args.target:g} in the fewest steps;  greedy: best single step\n")
    rows = scalar_table(args.batch_sizes, steps=args.steps, target_loss=args.target)
    print(format_rows(rows, {"batch_size": "B", "lr_horizon": "lr* horizon",
                             "lr_target": "lr* target", "steps_target": "steps",
                             "lr_greedy": "lr* greedy"}))
    variants = [("plain SGD", {}), ("momentum 0.9", {"momentum": 0.9}),
                ("preconditioned H^-1/2", {"precondition_power": 0.5})]
    for label, kwargs in variants:
        rows, b_crit = diagonal_table(args.batch_sizes, target_loss=args.diagonal_target,
                                      dim=args.dim, **kwargs)
        print(f"\nDiagonal NQM (Zhang et al. 2019, dim={args.dim}), {label}: fewest steps to "
              f"E L = {args.diagonal_target:g}\n")
        print(format_rows(rows, {"batch_size": "B", "lr": "lr*", "steps": "steps"}))
        print(f"critical batch size (steps = 2 x noise-free minimum): {b_crit:.4g}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        {"theory": _theory}[args.command](args)
    except ValueError as exc:
        print(f"lrbs {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
