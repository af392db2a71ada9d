"""The ``lrbs`` command line."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shlex
import sys
import time
import warnings
from importlib.metadata import version
from pathlib import Path

from compare._answer import diagonal_conclusion
from compare._theory_table import (
    diagonal_curves,
    format_rows,
    scalar_table,
)
from compare._theory_table import format_number as _fmt
from empirical._threads import THREADS_ENV


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default in its help, except where there is none to show."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

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


MAX_RATES = 10_000
"""Learning rates per batch size the command line accepts (a grid of 32 is the homework's)."""


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
    if num > MAX_RATES:
        raise argparse.ArgumentTypeError(f"at most {MAX_RATES} rates, got NUM={num:g}")
    return list(np.logspace(start, stop, int(num)))


def _grid(text: str):
    from empirical import LRGrid
    base, ratio, k_min, k_max = _numbers(text, 4)
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


def _seeds(text: str) -> list[int]:
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
        return _int_list(text, "seeds", 0)
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


def _nonnegative(text: str) -> float:
    """A finite number ``>= 0``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


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


def _threads_option(parser) -> None:
    parser.add_argument("--threads", type=_positive(int), default=None, metavar="N",
                        help="torch intra-op threads for training (default: $LRBS_THREADS, "
                             "else 1: one thread per process avoids oversubscribing shared "
                             "cores, see the README)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lrbs", description="How should the learning rate scale with the batch size?")
    parser.add_argument("--version", action="version", version=f"lrbs {version('lrbs')}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    theory = commands.add_parser(
        "theory", help="print what the closed forms predict per batch size",
        description="Optimal learning rates of the scalar noisy quadratic model (a = 1, "
                    "sigma^2 = 1, w0^2 = 1) under three criteria, and Zhang et al. (2019)'s "
                    "figure on their diagonal NQM: the fewest steps to a target loss per batch "
                    "size for plain SGD, momentum and the moving average of the iterates (each "
                    "tuned jointly with the rate) and preconditioning by H^-1/4, H^-1/2, "
                    "H^-3/4, each one's critical batch size, and their lower bound. Writes "
                    "files only with --out.")
    theory.add_argument("--batch-sizes", type=_batch_sizes,
                        default=_batch_sizes("1,4,16,64,256,1024,4096"), metavar="B1,B2,...",
                        help="batch sizes of the tables (Zhang et al.'s figure: "
                             "4,16,64,...,1048576)")
    theory.add_argument("--steps", type=_positive(int), default=100,
                        help="fixed horizon of the scalar model")
    theory.add_argument("--target", type=_positive(float), default=0.01,
                        help="target loss of the scalar model, below its initial loss 0.5")
    theory.add_argument("--diagonal-target", type=_positive(float), default=0.1,
                        help="target loss of the diagonal NQM, below its initial loss (Zhang "
                             "et al.'s figure: 0.01)")
    theory.add_argument("--dim", type=_positive(int), default=1000,
                        help="dimension of the diagonal NQM (the paper's is 10000)")
    theory.add_argument("--bins", type=_positive(int), default=None, metavar="K",
                        help="bin the spectrum into K geometric bins as Zhang et al.'s notebook "
                             "does (their figures: --dim 10000 --bins 100); exact by default")
    theory.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="also draw the diagonal NQM's figure to DIR/diagonal_nqm.png and "
                             ".svg")
    _threads_option(theory)
    _add_sweep(commands)
    _add_gns(commands)
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
    _add_study_options(study, out="lrbs-scaling", seeds_default="0-2 (0 with --quick)",
                       quick_help="six widths, 300 steps, six rates")
    study.add_argument("--optimizer", choices=("adam", "sgd"), default="adam",
                       help="optimizer of every run")
    study.add_argument("--dropout", type=_dropout, default=0.0,
                       help="dropout on the hidden layers while training, in [0, 1)")


def _dropout(text: str) -> float:
    value = _nonnegative(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"dropout must be in [0, 1), got {text!r}")
    return value


def _add_study_options(parser, *, out: str, seeds_default: str, quick_help: str) -> None:
    """--out, --seeds, --quick, --quiet and --threads, shared by the commands that run a study."""
    parser.add_argument("--out", default=out, metavar="DIR",
                        help="output directory, locked while the study runs")
    parser.add_argument("--seeds", type=_seeds, default=None,
                        help=f"{SEEDS_HELP} (default {seeds_default})")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    _threads_option(parser)


def _add_run(commands) -> None:
    run = commands.add_parser(
        "run", help="the whole study: three sweeps, stability edges, noise scales, theory, fits; "
                    "writes a report",
        description="Run the three sweeps (least squares with SGD, the MLP with SGD and with "
                    "Adam; geometric grid that extends itself), their stability edges, their "
                    "critical batch sizes beside the gradient noise scale, the exact theory and "
                    "the scaling-rule fits, and write DIR/index.html, DIR/results.json and "
                    "DIR/figures/, with a section for the digits scaling law when the 'data' "
                    "extra is installed. Finished runs are kept under DIR/sweeps/ and "
                    "DIR/scaling/runs/, so an interrupted run resumes.")
    _add_study_options(run, out="lrbs-report", seeds_default="0-4; 0-1 with --quick",
                       quick_help="fewer batch sizes, resamples and Monte Carlo draws (about "
                                  "50 s on 2 cores)")
    run.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                     help="torch device of the sweeps")


def _add_sweep(commands) -> None:
    from empirical import MODELS
    sweep = commands.add_parser(
        "sweep", help="train a learning-rate x batch-size sweep and print the optimum per batch size",
        description="Train every (batch size, learning rate, seed) of a shipped problem or of "
                    "your own workload, all rates of one batch size as one batched program "
                    "(here, or on a Dask cluster), and print the optimum per batch size: grid "
                    "argmin, sub-grid estimate, basin (excess loss above the noise floor within "
                    "5% of the best), bootstrap interval over seeds, best loss and an edge "
                    "flag. With --out DIR and two or more batch sizes, DIR/index.html is the "
                    "sweep's report: the answer, figures, fits and rules.")
    sweep.add_argument("model", nargs="?", choices=MODELS,
                       help="a shipped problem and optimizer (or give --workload)")
    sweep.add_argument("--workload", metavar="MODULE:FACTORY",
                       help="your own model: 'package.module:factory' or 'file.py:factory', a "
                            "function returning an empirical.Workload (model, loss, data, "
                            "optimizer), swept through the generic vectorized path")
    sweep.add_argument("--batch-sizes", type=_batch_sizes, metavar="B1,B2,...",
                       default=_batch_sizes("2,4,16,64,256,1024,2048"), help="batch sizes")
    lrs = sweep.add_mutually_exclusive_group()
    lrs.add_argument("--lrs", type=_lr_list, metavar="V1,V2,...",
                     help="explicit learning rates, > 0, no repeats (used in increasing order)")
    lrs.add_argument("--logspace", type=_logspace, metavar="START,STOP,NUM",
                     help="as numpy.logspace; write --logspace=-3,0,32 for a negative START")
    lrs.add_argument("--grid", type=_grid, metavar="BASE,RATIO,KMIN,KMAX",
                     help="geometric grid BASE*RATIO**k, extended until optima are interior "
                          "(default 0.001,1.25,0,31)")
    sweep.add_argument("--steps", type=_positive(int), default=100, help="steps of every run")
    sweep.add_argument("--seeds", type=_seeds, default=[0], help=SEEDS_HELP + " (default 0)")
    sweep.add_argument("--window", type=_positive(int), default=1,
                       help="metric: mean test loss over the last K steps")
    sweep.add_argument("--weight-decay", type=_nonnegative, default=None,
                       help="mlp-adam only: Adam's coupled L2 weight decay (default 0.001, the "
                            "question's; the notebook's code used 0.01)")
    sweep.add_argument("--device", default="cpu", help="torch device: cpu, cuda[:N] or mps")
    sweep.add_argument("--out", metavar="DIR",
                       help="results directory: written as it goes, locked, resumed on rerun")
    sweep.add_argument("--json", metavar="FILE",
                       help="write the optima and raw metric to this JSON file (strict JSON: "
                            "null where a run diverged)")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    cluster = sweep.add_mutually_exclusive_group()
    cluster.add_argument("--workers", type=_positive(int), metavar="N",
                         help="run the tasks on a local Dask cluster of N worker processes "
                              "(needs the 'dask' extra)")
    cluster.add_argument("--scheduler", metavar="ADDRESS",
                         help="run the tasks on an existing Dask cluster, e.g. "
                              "tcp://10.0.0.5:8786 (its workers need lrbs and the workload "
                              "importable)")
    sweep.add_argument("--seeds-per-task", type=_positive(int), metavar="K",
                       help="seeds per task (default: all in one task); fewer gives a cluster "
                            "more tasks to run at once")
    _threads_option(sweep)


def _model_or_workload(args) -> str:
    """The shipped model or the workload reference: exactly one must be given."""
    from empirical import MODELS
    if (args.model is None) == (args.workload is None):
        raise ValueError("give a model (" + ", ".join(MODELS) + ") or --workload MODULE:FACTORY"
                         + (", not both" if args.model else ""))
    return args.model or args.workload


GNS_LR = {"linear-sgd": 0.02, "mlp-sgd": 0.2, "mlp-adam": 0.15}
"""``lrbs gns``'s default rate per shipped problem: about its fixed-horizon optimum at B = 64."""


def _add_gns(commands) -> None:
    from empirical import MODELS
    from empirical._noise import METHODS
    gns = commands.add_parser(
        "gns", help="measure the gradient noise scale along one run and predict the optimal rate",
        description="Train one run (the sweep's own: same data, initialization, minibatches and "
                    "optimizer) and, every few steps, estimate |G|^2 and tr(Sigma) of the "
                    "training loss with their standard errors (McCandlish et al. 2018: two "
                    "batch sizes, or per-example gradients), the noise scale B_simple = "
                    "tr(Sigma) / |G|^2 with its bias-corrected moving average, and lr_max = "
                    "|G|^2 / G^T H G from one Hessian-vector product on the whole training set. "
                    "Prints the time series and the optimal rate it predicts per batch size, "
                    "lr_max / (1 + B_simple / B), from the moving averages at the last step.")
    gns.add_argument("model", nargs="?", choices=MODELS,
                     help="a shipped problem and optimizer (or give --workload)")
    gns.add_argument("--workload", metavar="MODULE:FACTORY",
                     help="your own model, as for lrbs sweep (then --lr is required)")
    gns.add_argument("--lr", type=_positive(float), default=None,
                     help="the run's learning rate (default: about the shipped problem's "
                          "optimum at B = 64: " + ", ".join(f"{k} {v:g}" for k, v in
                                                            GNS_LR.items()) + ")")
    gns.add_argument("--batch-size", type=_positive(int), default=64, help="the run's batch size")
    gns.add_argument("--steps", type=_positive(int), default=100, help="the run's steps")
    gns.add_argument("--every", type=_positive(int), default=None, metavar="K",
                     help="steps between estimates (default steps // 20)")
    gns.add_argument("--method", choices=METHODS, default="two-batch",
                     help="two-batch: minibatch gradients at two sizes; per-example: "
                          "torch.func.vmap over per-example gradients")
    gns.add_argument("--sizes", type=lambda text: tuple(_int_list(text, "--sizes", 1)),
                     default=(16, 256), metavar="SMALL,BIG",
                     help="the two batch sizes of the estimator (per-example uses BIG)")
    gns.add_argument("--batches", type=_positive(int), default=10, metavar="N",
                     help="independent draws per estimate (their spread is the standard error)")
    gns.add_argument("--seed", type=int, default=0, help="seed of the run and the estimator")
    gns.add_argument("--predict", type=_batch_sizes, default=_batch_sizes("2,4,16,64,256,1024,2048"),
                     metavar="B1,B2,...", help="batch sizes of the predicted optimal rate")
    gns.add_argument("--device", default="cpu", help="torch device: cpu, cuda[:N] or mps")
    gns.add_argument("--out", metavar="DIR",
                     help="write DIR/noise_scale.json and the figure DIR/noise_scale.png/.svg")
    _threads_option(gns)


def _gns(args) -> None:
    import numpy as np

    import nqm
    from compare._figures import plot_noise_trace, save_figure
    from empirical import SweepSpec, atomic_write_json, noise_along_run, strict_json
    _model_or_workload(args)
    if args.workload and args.lr is None:
        raise ValueError("--workload needs --lr (the rate of the run to measure along)")
    if len(args.sizes) != 2 or not args.sizes[0] < args.sizes[1]:
        raise ValueError(f"--sizes must be SMALL,BIG with SMALL < BIG, got {args.sizes}")
    spec = SweepSpec(args.model or args.workload, (args.batch_size,), [1.0], steps=args.steps,
                     seeds=(args.seed,), device=args.device)
    workload = spec.workload()
    lr = args.lr if args.lr is not None else GNS_LR[args.model]
    trace = noise_along_run(workload, lr, args.batch_size, args.steps, every=args.every,
                            method=args.method, sizes=args.sizes, n_batches=args.batches,
                            run_seed=args.seed, seed=args.seed, device=args.device)
    print(f"{spec.label}: noise scale along the run at lr {lr:g}, B = {args.batch_size} "
          f"({args.method}, {args.batches} draws per estimate, +/- one standard error)")
    print(format_rows([dict(step=int(t), test=test, g2=f"{_fmt(g)} +/- {_fmt(gse)}",
                            trace=f"{_fmt(c)} +/- {_fmt(cse)}", b=b, ema=ema,
                            lr_max=m if m > 0 else float("nan"), lr_ema=m_ema)
                       for t, test, g, gse, c, cse, b, ema, m, m_ema in zip(
                           trace.steps, trace.test_loss, trace.gradient_sq, trace.gradient_sq_se,
                           trace.trace_cov, trace.trace_cov_se, trace.b_simple,
                           trace.b_simple_ema, trace.lr_max, trace.lr_max_ema, strict=True)],
                      {"step": "step", "test": "test loss", "g2": "|G|^2", "trace": "tr Sigma",
                       "b": "B_simple", "ema": "B_simple (EMA)", "lr_max": "lr_max",
                       "lr_ema": "lr_max (EMA)"}))
    last_b, last_lr = trace.b_simple_ema[-1], trace.lr_max_ema[-1]
    if last_b > 0 and last_lr > 0:
        predicted = nqm.mccandlish_lr(np.array(args.predict), lr_max=last_lr, b_noise=last_b)
        print(f"\npredicted optimal rate lr_max / (1 + B_simple / B), moving averages at step "
              f"{trace.steps[-1]} (lr_max {_fmt(last_lr)}, B_simple {_fmt(last_b)})"
              + ("; Adam's rate is not lr_max, read the shape only"
                 if workload.optimizer.kind != "sgd" else "") + ":")
        print(format_rows([dict(b=b, lr=p) for b, p in zip(args.predict, predicted, strict=True)],
                          {"b": "B", "lr": "predicted lr*"}))
    else:
        print(f"\nno prediction: at step {trace.steps[-1]} the estimate of |G|^2 or G^T H G is "
              "not positive (more --batches, or an earlier step)")
    print(f"estimates took {trace.seconds:.2f} s (the run excluded)")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / "noise_scale.json", strict_json(dict(
            model=spec.model, label=spec.label, **{k: v for k, v in trace._asdict().items()})))
        paths = save_figure(plot_noise_trace(trace, floor=workload.floor), out, "noise_scale")
        print(f"wrote {out / 'noise_scale.json'} and " + " and ".join(map(str, paths.values())))
    else:
        print("wrote no files (--out DIR keeps the series and its figure)")


def _check_output_file(path: str) -> Path:
    """Fail before any work if ``path`` cannot be written."""
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise ValueError(f"--json {path!r} is a directory")
    if not parent.is_dir():
        raise ValueError(f"--json {path!r}: folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise ValueError(f"--json {path!r}: folder {str(parent)!r} is not writable")
    return target


def _sweep(args) -> None:
    from compare import analyze, conclusions, summarize, write_sweep_report
    from empirical import (
        LRGrid,
        SweepSpec,
        atomic_write_json,
        locked_directory,
        run_sweep,
    )
    _model_or_workload(args)
    json_path = _check_output_file(args.json) if args.json else None
    lrs = args.lrs or args.logspace or args.grid or LRGrid()
    spec = SweepSpec(args.model or args.workload, args.batch_sizes, lrs, steps=args.steps,
                     seeds=tuple(args.seeds), window=args.window, weight_decay=args.weight_decay,
                     device=args.device)
    if spec.is_workload:
        spec.workload()                              # a bad workload fails before any work
    started = time.perf_counter()
    with _dask_client(args) as client:
        result = run_sweep(spec, out=args.out, progress=False if args.quiet else None,
                           client=client, seeds_per_task=args.seeds_per_task)
    seconds = time.perf_counter() - started
    study = analyze(result) if len(result.cells) >= 2 else None
    optima = study.optima if study is not None else result.optima()
    rows = [dict(batch_size=o.batch_size, lr=o.lr, subgrid=o.subgrid_lr,
                 basin=f"[{_fmt(o.basin[0])}, {_fmt(o.basin[1])}]",
                 interval=f"[{_fmt(o.interval[0])}, {_fmt(o.interval[1])}]", loss=o.best_loss,
                 edge=o.on_edge) for o in optima]
    print(f"{spec.label}: optimum per batch size (metric: mean test loss over the last "
          f"{spec.window} step(s), seeds {', '.join(map(str, spec.seeds))})")
    print(format_rows(rows, {"batch_size": "B", "lr": "lr*", "subgrid": "sub-grid lr*",
                             "basin": "basin (5% excess)", "interval": "95% over seeds",
                             "loss": "best loss", "edge": "on edge"}))
    for cell in result.cells:
        for note in cell.notes:
            print(f"B={cell.batch_size}: {note}")
        diverged, collapsed = cell.diverged.mean(), cell.collapsed.all()
        if collapsed:
            print(f"B={cell.batch_size}: every run diverged or ended above its initial loss; "
                  "its optimum is not meaningful")
        elif diverged:
            print(f"B={cell.batch_size}: {100 * diverged:.0f}% of runs diverged")
    if study is None:
        print("one batch size: no scaling rule to fit")
    else:
        fit = study.horizon
        print("\nlocal exponent between neighbouring batch sizes (95% over seeds):")
        print(format_rows([dict(pair=f"{a:g} -> {b:g}", exponent=e, interval=f"[{_fmt(lo)}, "
                                f"{_fmt(hi)}]", per4=4.0 ** e)
                           for a, b, e, (lo, hi) in zip(fit.batch_sizes[:-1], fit.batch_sizes[1:],
                                                        fit.local_exponents, fit.local_intervals,
                                                        strict=True)],
                          {"pair": "B", "exponent": "exponent", "interval": "95% interval",
                           "per4": "lr x per 4x B"}))
        print("\n" + conclusions(summarize(study))[0])
    if json_path is not None:
        cells = [{"batch_size": cell.batch_size, "lr": cell.lrs, "metric": cell.metric(spec.window),
                  "diverged": cell.diverged, "optimal_lr": o.lr, "subgrid_lr": o.subgrid_lr,
                  "basin": o.basin, "interval": o.interval, "on_edge": o.on_edge}
                 for cell, o in zip(result.cells, optima, strict=True)]
        atomic_write_json(json_path, {
            "spec": spec.to_dict(), "version": result.version,
            "null": "a metric is null where its run diverged (see 'diverged')", "cells": cells})
    written = [f"results in {args.out}"] if args.out else []
    if args.out and study is not None:
        with locked_directory(args.out):
            written.append(f"the report {write_sweep_report(study, args.out, seconds=seconds)}")
    written += [f"optima in {args.json}"] if args.json else []
    print(f"wrote {' and '.join(written)}" if written else
          "wrote no files (--out DIR keeps the runs, --json FILE the optima)")


@contextlib.contextmanager
def _dask_client(args):
    """A Dask client for --workers N (a LocalCluster) or --scheduler ADDRESS; else ``None``."""
    if args.workers is None and args.scheduler is None:
        yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("--workers and --scheduler need dask.distributed: pip install "
                          "'lrbs[dask]'") from None
    if args.scheduler is not None:
        with Client(args.scheduler, timeout="30s") as client:
            yield client
        return
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def _theory(args) -> None:
    import nqm
    if args.target >= 0.5:
        raise ValueError(f"--target must be below the initial loss 0.5, got {args.target:g}")
    diagonal_model = nqm.DiagonalNQM.zhang2019(dim=args.dim, bins=args.bins)  # checks memory
    if args.diagonal_target >= diagonal_model.initial_loss:
        raise ValueError(f"--diagonal-target must be below the diagonal NQM's initial loss "
                         f"{diagonal_model.initial_loss:.4g}, got {args.diagonal_target:g}")
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
        from compare._figures import plot_diagonal_nqm, save_figure
        paths = save_figure(plot_diagonal_nqm(diagonal), args.out, "diagonal_nqm")
        print(f"\nwrote {paths['png']} and {paths['svg']}")
        return
    print("\nwrote no files")


def _run(args) -> None:
    from compare._report import run_report
    if args.device == "cuda":
        import torch
        if not torch.cuda.is_available():
            raise ValueError("--device cuda: torch sees no CUDA device on this machine")
    results = run_report(args.out, seeds=args.seeds, quick=args.quick, device=args.device,
                         progress=not args.quiet)
    from compare._answer import QUICK_MARK, answer_rows
    mark = QUICK_MARK if args.quick else ""
    for label, criterion, growth, per4, rules in answer_rows(results["studies"]):
        print(f"{mark}{label}, {criterion}: lr* grows {growth}; lr x per 4x B {per4}; "
              f"best rule (AICc) {rules}")
    print(f"wrote the report {Path(args.out) / 'index.html'}, its results.json and figures/, "
          f"and the runs under {Path(args.out) / 'sweeps'}")


def _scaling_law(args) -> None:
    from compare._scaling_report import run_scaling_law
    seeds = args.seeds if args.seeds is not None else (1 if args.quick else 3)
    results = run_scaling_law(args.out, seeds=seeds, quick=args.quick,
                              progress=not args.quiet, optimizer=args.optimizer,
                              dropout=args.dropout)
    print(format_rows(results["shapes"], {"width": "width", "depth": "depth",
                                          "n_params": "params", "lr": "tuned lr",
                                          "on_edge": "on edge", "test_loss": "test loss",
                                          "test_accuracy": "accuracy"}))
    print("\n".join(results["conclusions"]))
    print(f"wrote {Path(args.out) / 'scaling_law.json'}, scaling_law.md and figures/, and the "
          f"runs under {Path(args.out) / 'runs'}")


COMMANDS = {"theory": _theory, "sweep": _sweep, "gns": _gns, "run": _run,
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
