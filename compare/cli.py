"""The ``lrbs`` command line."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import warnings
from importlib.metadata import version
from pathlib import Path

from compare._arguments import (
    STUDY_NAMES,
    Parser,
    batch_sizes_arg,
    dropout_arg,
    folder_arg,
    positive_arg,
    study_names_arg,
    study_options,
    threads_option,
)
from compare._train_commands import add_gns, add_sweep, gns, sweep
from compare.analysis._theory_table import (
    DIAGONAL_MAX_STEPS,
    diagonal_curves,
    format_rows,
    scalar_table,
)
from compare.studies.diagonal_nqm import diagonal_conclusion
from empirical._core.interrupts import interruptible
from empirical._core.threads import THREADS_ENV


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="lrbs", description="How should the learning rate scale with the batch size?")
    parser.add_argument("--version", action="version", version=f"lrbs {version('lrbs')}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    theory = commands.add_parser(
        "theory", help="print what the closed forms predict per batch size",
        description="Optimal learning rates of the scalar noisy quadratic model (a = 1, "
                    "sigma^2 = 1, w0^2 = 1) under three criteria, and Zhang et al. (2019)'s "
                    "figure on their diagonal NQM: the fewest steps to a target loss per batch "
                    "size for plain SGD, momentum and the moving average of the iterates (each "
                    "tuned jointly with the rate) and preconditioning by H^-1/4, H^-1/2, "
                    "H^-3/4, each one's critical batch size, and their lower bound. Writes "
                    "files only with --out.")
    theory.add_argument("--batch-sizes", type=batch_sizes_arg,
                        default=batch_sizes_arg("1,4,16,64,256,1024,4096"), metavar="B1,B2,...",
                        help="batch sizes of the tables (Zhang et al.'s figure: "
                             "4,16,64,...,1048576)")
    theory.add_argument("--steps", type=positive_arg(int), default=100,
                        help="fixed horizon of the scalar model")
    theory.add_argument("--target", type=positive_arg(float), default=0.01,
                        help="target loss of the scalar model, below its initial loss 0.5")
    theory.add_argument("--diagonal-target", type=positive_arg(float), default=0.1,
                        help="target loss of the diagonal NQM, below its initial loss (Zhang "
                             "et al.'s figure: 0.01)")
    theory.add_argument("--dim", type=positive_arg(int), default=1000,
                        help="dimension of the diagonal NQM (the paper's is 10000)")
    theory.add_argument("--bins", type=positive_arg(int), default=None, metavar="K",
                        help="bin the spectrum into K geometric bins as Zhang et al.'s notebook "
                             "does (their figures: --dim 10000 --bins 100); exact by default")
    theory.add_argument("--out", type=lambda text: Path(folder_arg(text)), default=None,
                        metavar="DIR",
                        help="also draw the diagonal NQM's figure to DIR/diagonal_nqm.png and "
                             ".svg")
    threads_option(theory)
    add_sweep(commands)
    add_gns(commands)
    _add_run(commands)
    _add_scaling_law(commands)
    return parser


def _add_scaling_law(commands) -> None:
    study = commands.add_parser(
        "scaling-law", help="tune every MLP shape on digits, fit L(N) and L(N, D)",
        description="For each MLP shape (widths 8-128, depths 1 and 2), tune the learning rate "
                    "(all rates and seeds of a shape as one batched program, Adam, early "
                    "stopping on the validation loss), fit L(N) = E + A N^-alpha with "
                    "bootstrap intervals over seeds, check the extrapolation to the largest "
                    "shape; train the depth-1 shapes again on 1/8, 1/4 and 1/2 of the training "
                    "split and fit L(N, D) = E + A N^-alpha + B D^-beta with intervals from a "
                    "bootstrap over the points and held-out checks; tune the learning rate, "
                    "dropout and batch size jointly per shape and test the source's three "
                    "insights; train depth-2 widths in the standard parametrization and in muP "
                    "and check whether the rate tuned at width 8 transfers; write "
                    "DIR/scaling_law.json and DIR/figures/. Needs the 'data' "
                    "extra (scikit-learn). Finished shapes are kept under DIR/runs/ (one directory "
                    "per setting), so an interrupted run resumes; with two cores a helper "
                    "process trains the next setting in line whenever it is free.")
    study_options(study, out="lrbs-scaling", seeds_default="0-2 (0 with --quick)",
                  quick_help="six widths, 300 steps, six rates",
                  out_help="output directory; each setting's folder under DIR/runs/ is locked "
                           "while it trains")
    study.add_argument("--full", action="store_true",
                       help="the full grids: every shape x batch sizes 16-256 x dropout 0-0.3 "
                            "x 16 rates for the tuning, widths up to 512 for muP")
    study.add_argument("--optimizer", choices=("adam", "sgd"), default="adam",
                       help="optimizer of every run")
    study.add_argument("--dropout", type=dropout_arg, default=0.0,
                       help="dropout on the hidden layers while training, in [0, 1)")


def _add_run(commands) -> None:
    run = commands.add_parser(
        "run", help="the whole study: four sweeps, stability edges, noise scales, theory, fits; "
                    "writes a report",
        description="Run the four sweeps (least squares with SGD, the MLP with SGD and with "
                    "Adam at the notebook's betas 0.5, 0.5 and at the theories' 0.9, 0.999; "
                    "geometric grid that extends itself), their stability edges, their "
                    "critical batch sizes beside the gradient noise scale, the exact theory and "
                    "the scaling-rule fits, and write DIR/index.html, DIR/results.json and "
                    "DIR/figures/, with a section for the digits scaling law when the 'data' "
                    "extra is installed. Finished runs are kept under DIR/sweeps/ and "
                    "DIR/scaling/runs/, so an interrupted run resumes.")
    study_options(run, out="lrbs-report", seeds_default="0-4; 0-1 with --quick",
                       quick_help="fewer batch sizes, resamples and Monte Carlo draws (about "
                                  "50 s on 2 cores)")
    run.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                     help="torch device of the sweeps")
    run.add_argument("--only", type=study_names_arg, default=None, metavar="NAME,...",
                     help="run only these studies (default: all): " + ", ".join(STUDY_NAMES))


def _theory(args) -> None:
    import numpy as np

    import nqm
    if args.target >= 0.5:
        raise ValueError(f"--target must be below the initial loss 0.5, got {args.target:g}")
    diagonal_model = nqm.DiagonalNQM.zhang2019(dim=args.dim, bins=args.bins)  # checks memory
    if args.diagonal_target >= diagonal_model.initial_loss:
        raise ValueError(f"--diagonal-target must be below the diagonal NQM's initial loss "
                         f"{diagonal_model.initial_loss:.4g}, got {args.diagonal_target:g}")
    bound = np.atleast_1d(diagonal_model.steps_lower_bound(min(args.batch_sizes),
                                                           args.diagonal_target))[0]
    if bound > DIAGONAL_MAX_STEPS:
        raise ValueError(f"--diagonal-target {args.diagonal_target:g} is unreachable within "
                         f"{DIAGONAL_MAX_STEPS:.0e} steps at B = {min(args.batch_sizes)}: even the "
                         f"information-theoretic lower bound needs {bound:.3g}; choose a larger "
                         "target or larger batch sizes")
    print(f"Scalar NQM (a=1, sigma^2=1, w0^2=1): optimal lr per batch size\n"
          f"  horizon: minimizes E L after {args.steps} steps;  target: reaches "
          f"E L = {args.target:g} in the fewest steps;  greedy: best single step\n")
    rows = scalar_table(args.batch_sizes, steps=args.steps, target_loss=args.target)
    print(format_rows(rows, {"batch_size": "B", "lr_horizon": "lr* horizon",
                             "lr_target": "lr* target", "steps_target": "steps",
                             "lr_greedy": "lr* greedy"}))
    diagonal = diagonal_curves(args.dim, args.batch_sizes, args.diagonal_target, bins=args.bins,
                               progress="diagonal NQM")
    binned = f" in {diagonal_model.curvatures.size} non-empty bins" if args.bins else ""
    names = list(diagonal["curves"])
    print(f"\nDiagonal NQM (Zhang et al. 2019, dim={args.dim}{binned}): fewest steps to "
          f"E L = {args.diagonal_target:g}; momentum and the moving average tuned jointly with "
          f"the rate; last row: critical batch size (steps = 2 x noise-free minimum)\n")
    rows = [dict(batch_size=int(b), bound=bound,
                 **{name: diagonal["curves"][name]["steps"][i] for name in names})
            for i, (b, bound) in enumerate(zip(diagonal["batch_sizes"], diagonal["lower_bound"],
                                               strict=True))]
    rows.append(dict(batch_size="B_crit", bound=None,
                     **{name: diagonal["curves"][name]["critical_batch_size"] for name in names}))
    print(format_rows(rows, {"batch_size": "B", **{name: name for name in names},
                             "bound": "lower bound"}))
    momentum, average = (diagonal["curves"][name]
                         for name in ("momentum (tuned)", "moving average (tuned)"))
    rows = [dict(batch_size=int(b), plain=diagonal["curves"]["plain SGD"]["lr"][i],
                 momentum_lr=momentum["lr"][i], momentum=1.0 - momentum["momentum"][i],
                 average_lr=average["lr"][i], decay=1.0 - average["ema_decay"][i])
            for i, b in enumerate(diagonal["batch_sizes"])]
    print("\nThe optimal hyperparameters\n")
    print(format_rows(rows, {"batch_size": "B", "plain": "plain SGD lr*", "momentum_lr":
                             "momentum lr*", "momentum": "1 - momentum", "average_lr":
                             "average lr*", "decay": "1 - decay"}))
    print("\n" + diagonal_conclusion(diagonal))
    if args.out is not None:
        from compare import plot_diagonal_nqm, save_figure
        paths = save_figure(plot_diagonal_nqm(diagonal), args.out, "diagonal_nqm")
        print(f"\nwrote {paths['png']} and {paths['svg']}")
        return
    print("\nwrote no files")


def _run(args) -> None:
    from compare import run_report
    if args.device == "cuda":
        import torch
        if not torch.cuda.is_available():
            raise ValueError("--device cuda: torch sees no CUDA device on this machine")
    results = run_report(args.out, seeds=args.seeds, quick=args.quick, device=args.device,
                         progress=not args.quiet, only=args.only)
    from compare.studies._answer import answer_rows
    from compare.style._text import QUICK_MARK
    mark = QUICK_MARK if args.quick else ""
    for label, criterion, growth, per4, rules in answer_rows(results.get("studies") or {}):
        print(f"{mark}{label}, {criterion}: lr* grows {growth}; lr x per 4x B {per4}; "
              f"best rule (AICc) {rules}")
    print(f"wrote the report {Path(args.out) / 'index.html'}, its results.json and figures/, "
          f"and the runs under {Path(args.out) / 'sweeps'}")
    prov = results["provenance"]
    print(f"took {prov['run_seconds']:.1f} s: " + ", ".join(
        f"{name} {seconds:.1f} s" for name, seconds in prov["stage_seconds"].items()))


def _scaling_law(args) -> None:
    from compare import run_scaling_law
    from compare.report._second_core import train_settings
    from compare.studies.scaling_law import scaling_law_settings
    seeds = args.seeds if args.seeds is not None else (1 if args.quick else 3)
    if args.quick and args.full:
        raise ValueError("--quick and --full exclude each other")
    options = dict(seeds=seeds, quick=args.quick, full=args.full, optimizer=args.optimizer,
                   dropout=args.dropout)
    train_settings(scaling_law_settings(args.out, **options), progress=not args.quiet)
    results = run_scaling_law(args.out, progress=not args.quiet, **options)
    print(format_rows(results["shapes"], {"width": "width", "depth": "depth",
                                          "n_params": "params", "lr": "tuned lr",
                                          "on_edge": "on edge", "test_loss": "test loss",
                                          "test_accuracy": "accuracy"}))
    print("\n".join(results["conclusions"] + results["nuisance"]["conclusions"]
                    + results["mup_transfer"]["conclusions"]))
    print(f"wrote {Path(args.out) / 'scaling_law.json'}, scaling_law.md and figures/, and the "
          f"runs under {Path(args.out) / 'runs'}")


COMMANDS = {"theory": _theory, "sweep": sweep, "gns": gns, "run": _run,
            "scaling-law": _scaling_law}


def _interrupted(args, argv: list[str]) -> str:
    """The one line said on Ctrl-C: what was kept and how to resume."""
    again = "lrbs " + " ".join(shlex.quote(a) for a in argv)
    out = getattr(args, "out", None)
    if args.command in ("theory", "gns"):
        return "interrupted; nothing was written"
    if out is None:
        return "interrupted; nothing was kept (--out DIR keeps finished batch sizes)"
    return f"interrupted; finished work is kept in {out}; resume with: {again}"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.threads is not None:
        os.environ[THREADS_ENV] = str(args.threads)
    prefix = f"lrbs {args.command}"
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = lambda message, *_, **__: print(
            f"{prefix}: warning: {message}", file=sys.stderr)
        try:
            with interruptible():
                COMMANDS[args.command](args)
        except KeyboardInterrupt:
            print(f"{prefix}: {_interrupted(args, argv)}", file=sys.stderr)
            return 130
        except (ValueError, OSError, ImportError) as exc:
            print(f"{prefix}: error: {_one_line(exc)}", file=sys.stderr)
            return 2
    return 0


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
