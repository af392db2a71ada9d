"""The ``lrbs`` command line."""

from __future__ import annotations

import argparse
import json
import math
import sys
from importlib.metadata import version
from pathlib import Path

from compare._theory_table import DIAGONAL_VARIANTS, diagonal_table, format_rows, scalar_table


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _int_list(text: str, what: str, low: int) -> list[int]:
    """Comma-separated integers, each ``>= low``."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be integers, got {text!r}") from None
    if not values or min(values) < low:
        raise argparse.ArgumentTypeError(f"{what} must be >= {low} and non-empty, got {text!r}")
    return values


def _batch_sizes(text: str) -> list[int]:
    return _int_list(text, "batch sizes", 1)


def _numbers(text: str, count: int | None = None) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if count is not None and len(values) != count:
        raise argparse.ArgumentTypeError(f"expected {count} comma-separated numbers, got {text!r}")
    if not values or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers, got {text!r}")
    return values


def _lr_list(text: str) -> list[float]:
    values = _numbers(text)
    if min(values) <= 0:
        raise argparse.ArgumentTypeError(f"learning rates must be > 0, got {text!r}")
    return values


def _logspace(text: str):
    import numpy as np
    start, stop, num = _numbers(text, 3)
    if num < 1 or num != int(num):
        raise argparse.ArgumentTypeError(f"NUM must be a positive integer, got {text!r}")
    return list(np.logspace(start, stop, int(num)))


def _grid(text: str):
    from empirical import LRGrid
    base, ratio, k_min, k_max = _numbers(text, 4)
    if k_min != int(k_min) or k_max != int(k_max):
        raise argparse.ArgumentTypeError(f"KMIN and KMAX must be integers, got {text!r}")
    try:
        return LRGrid(base, ratio, int(k_min), int(k_max))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seeds(text: str) -> list[int]:
    """One seed, a comma list, or a range ``a-b`` (inclusive)."""
    if "-" not in text.strip("-") or "," in text:
        return _int_list(text, "seeds", 0)
    try:
        lo, hi = (int(v) for v in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must be N, N,M,... or A-B; got {text!r}") from None
    if lo < 0 or hi < lo:
        raise argparse.ArgumentTypeError(f"a seed range A-B needs 0 <= A <= B, got {text!r}")
    return list(range(lo, hi + 1))


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
    parser = _Parser(
        prog="lrbs", description="How should the learning rate scale with the batch size?")
    parser.add_argument("--version", action="version", version=f"lrbs {version('lrbs')}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
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
    _add_sweep(commands)
    _add_run(commands)
    _add_scaling_law(commands)
    return parser


def _add_scaling_law(commands) -> None:
    study = commands.add_parser(
        "scaling-law", help="tune every MLP shape on digits and fit L(N) = E + A N^-alpha",
        description="For each MLP shape (widths 8-128, depths 1 and 2), tune the learning rate "
                    "(all rates and seeds of a shape as one batched program, Adam, early "
                    "stopping on the validation loss), fit L(N) = E + A N^-alpha with "
                    "bootstrap intervals over seeds, check the extrapolation to the largest "
                    "shape, and write DIR/scaling_law.json and DIR/figures/. Needs the 'data' "
                    "extra (scikit-learn). Finished shapes are kept under DIR/runs/ (one directory "
                    "per setting), so an interrupted run resumes.")
    _add_study_options(study, out="lrbs-scaling", seeds=3, seeds_help="default 3",
                       quick_help="six widths, 300 steps, six rates")
    study.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    study.add_argument("--dropout", type=float, default=0.0,
                       help="dropout on the hidden layers while training (default 0)")


def _add_study_options(parser, *, out: str, seeds, seeds_help: str, quick_help: str) -> None:
    """--out, --seeds, --quick and --quiet, shared by the commands that run a whole study."""
    parser.add_argument("--out", default=out, help=f"output directory (default {out})")
    parser.add_argument("--seeds", type=_positive(int), default=seeds,
                        help=f"number of run seeds, 0..K-1 ({seeds_help})")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--quiet", action="store_true", help="no progress messages")


def _add_run(commands) -> None:
    run = commands.add_parser(
        "run", help="the whole study: three sweeps, theory, fits; writes a report",
        description="Run the three sweeps (least squares with SGD, the MLP with SGD and with "
                    "Adam; geometric grid that extends itself), the exact theory and the "
                    "scaling-rule fits, and write DIR/index.html, DIR/results.json and "
                    "DIR/figures/, with a section for the digits scaling law when the 'data' "
                    "extra is installed. Finished runs are kept under DIR/sweeps/ and "
                    "DIR/scaling/runs/, so an interrupted run resumes.")
    _add_study_options(run, out="lrbs-report", seeds=None, seeds_help="default 5; 2 with --quick",
                       quick_help="fewer batch sizes, resamples and Monte Carlo draws (under 20 s)")
    run.add_argument("--device", choices=("cpu", "cuda"), default="cpu")


def _add_sweep(commands) -> None:
    from empirical import MODELS
    sweep = commands.add_parser(
        "sweep", help="train a learning-rate x batch-size sweep and print the optimum per batch size",
        description="Train every (batch size, learning rate, seed), all rates of one batch size as "
                    "one batched program, and print the optimum per batch size: grid argmin, "
                    "sub-grid estimate, basin (excess loss above the noise floor within 5%% of "
                    "the best), bootstrap interval over seeds, best loss and an edge flag.")
    sweep.add_argument("model", choices=MODELS)
    sweep.add_argument("--batch-sizes", type=_batch_sizes,
                       default=_batch_sizes("2,4,16,64,256,1024,2048"))
    lrs = sweep.add_mutually_exclusive_group()
    lrs.add_argument("--lrs", type=_lr_list, metavar="V1,V2,...", help="explicit learning rates")
    lrs.add_argument("--logspace", type=_logspace, metavar="START,STOP,NUM",
                     help="as numpy.logspace; write --logspace=-3,0,32 for a negative START")
    lrs.add_argument("--grid", type=_grid, metavar="BASE,RATIO,KMIN,KMAX",
                     help="geometric grid BASE*RATIO**k, extended until optima are interior "
                          "(default 0.001,1.25,0,31)")
    sweep.add_argument("--steps", type=_positive(int), default=100)
    sweep.add_argument("--seeds", type=_seeds, default=[0], help="N, N,M,... or A-B (default 0)")
    sweep.add_argument("--window", type=_positive(int), default=1,
                       help="metric: mean test loss over the last K steps (default 1)")
    sweep.add_argument("--weight-decay", type=float, default=0.001,
                       help="Adam's coupled L2 weight decay (default 0.001; the notebook used 0.01)")
    sweep.add_argument("--device", default="cpu", help="torch device (default cpu)")
    sweep.add_argument("--out", help="results directory: written as it goes, resumed on rerun")
    sweep.add_argument("--json", help="write the optima and raw metric to this JSON file")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")


def _sweep(args) -> None:
    from empirical import LRGrid, SweepSpec, run_sweep
    lrs = args.lrs or args.logspace or args.grid or LRGrid()
    spec = SweepSpec(args.model, args.batch_sizes, lrs, steps=args.steps, seeds=tuple(args.seeds),
                     window=args.window, weight_decay=args.weight_decay, device=args.device)
    result = run_sweep(spec, out=args.out, progress=False if args.quiet else None)
    optima = result.optima()
    rows = [dict(batch_size=o.batch_size, lr=o.lr, subgrid=o.subgrid_lr,
                 basin=f"[{o.basin[0]:.3g}, {o.basin[1]:.3g}]",
                 interval=f"[{o.interval[0]:.3g}, {o.interval[1]:.3g}]", loss=o.best_loss,
                 edge="EDGE" if o.on_edge else "") for o in optima]
    print(f"{spec.model}: optimum per batch size (metric: mean test loss over the last "
          f"{spec.window} step(s), seeds {list(spec.seeds)})")
    print(format_rows(rows, {"batch_size": "B", "lr": "lr*", "subgrid": "sub-grid lr*",
                             "basin": "basin (5% excess)", "interval": "95% over seeds",
                             "loss": "best loss", "edge": "edge"}))
    for cell in result.cells:
        for note in cell.notes:
            print(f"B={cell.batch_size}: {note}")
    if args.json:
        cells = []
        for cell, o in zip(result.cells, optima, strict=True):
            cells.append({"batch_size": cell.batch_size, "lr": cell.lrs.tolist(),
                          "metric": cell.metric(spec.window).tolist(),
                          "diverged": cell.diverged.tolist(), "optimal_lr": o.lr,
                          "subgrid_lr": o.subgrid_lr, "basin": list(o.basin),
                          "interval": list(o.interval), "on_edge": o.on_edge})
        with open(args.json, "w") as fh:
            json.dump({"spec": spec.to_dict(), "version": result.version, "cells": cells}, fh,
                      indent=1)


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
    for label, kwargs in DIAGONAL_VARIANTS.items():
        rows, b_crit = diagonal_table(args.batch_sizes, target_loss=args.diagonal_target,
                                      dim=args.dim, **kwargs)
        print(f"\nDiagonal NQM (Zhang et al. 2019, dim={args.dim}), {label}: fewest steps to "
              f"E L = {args.diagonal_target:g}\n")
        print(format_rows(rows, {"batch_size": "B", "lr": "lr*", "steps": "steps"}))
        print(f"critical batch size (steps = 2 x noise-free minimum): {b_crit:.4g}")


def _run(args) -> None:
    from compare._report import run_report
    if args.device == "cuda":
        import torch
        if not torch.cuda.is_available():
            raise ValueError("--device cuda: torch sees no CUDA device on this machine")
    results = run_report(args.out, seeds=args.seeds, quick=args.quick, device=args.device,
                         progress=not args.quiet)
    for study in results["studies"].values():
        print(study["verdict"])
        if "verdict" in study["steps_to_target"]:
            print(study["steps_to_target"]["verdict"])
    print(f"report: {Path(args.out) / 'index.html'}")


def _scaling_law(args) -> None:
    from compare._scaling_report import format_law, run_scaling_law
    results = run_scaling_law(args.out, seeds=args.seeds, quick=args.quick,
                              progress=not args.quiet, optimizer=args.optimizer,
                              dropout=args.dropout)
    print(format_rows(results["shapes"], {"width": "width", "depth": "depth",
                                          "n_params": "params", "lr": "tuned lr",
                                          "on_edge": "edge", "test_loss": "test loss",
                                          "test_accuracy": "accuracy"}))
    print(format_law(results))
    print(f"results: {Path(args.out) / 'scaling_law.json'}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        {"theory": _theory, "sweep": _sweep, "run": _run,
         "scaling-law": _scaling_law}[args.command](args)
    except (ValueError, OSError, ImportError) as exc:
        print(f"lrbs {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
