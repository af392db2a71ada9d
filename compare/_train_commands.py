"""The commands that train: ``lrbs sweep`` (a shipped problem or any workload, here or on Dask)
and ``lrbs gns`` (the gradient noise scale along one run)."""


from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

from compare._arguments import (
    SEEDS_HELP,
    batch_sizes_arg,
    folder_arg,
    grid_arg,
    int_list,
    logspace_arg,
    lr_list_arg,
    nonnegative_arg,
    positive_arg,
    seeds_arg,
    threads_option,
    workers_arg,
)
from compare.analysis._theory_table import format_number as _fmt
from compare.analysis._theory_table import (
    format_rows,
)


def add_sweep(commands) -> None:
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
    sweep.add_argument("--batch-sizes", type=batch_sizes_arg, metavar="B1,B2,...",
                       default=batch_sizes_arg("2,4,16,64,256,1024,2048"), help="batch sizes")
    lrs = sweep.add_mutually_exclusive_group()
    lrs.add_argument("--lrs", type=lr_list_arg, metavar="V1,V2,...",
                     help="explicit learning rates, > 0, no repeats (used in increasing order)")
    lrs.add_argument("--logspace", type=logspace_arg, metavar="START,STOP,NUM",
                     help="as numpy.logspace; write --logspace=-3,0,32 for a negative START")
    lrs.add_argument("--grid", type=grid_arg, metavar="BASE,RATIO,KMIN,KMAX",
                     help="geometric grid BASE*RATIO**k, extended until optima are interior "
                          "(default 0.001,1.25,0,31)")
    sweep.add_argument("--refine", type=positive_arg(int), default=None, metavar="N",
                       help="once the grid settles, add rates N to a grid step apart around each "
                            "optimum (lrbs run uses 4; needs the default grid or --grid)")
    sweep.add_argument("--steps", type=positive_arg(int), default=100, help="steps of every run")
    sweep.add_argument("--seeds", type=seeds_arg, default=[0], help=SEEDS_HELP + " (default 0)")
    sweep.add_argument("--window", type=positive_arg(int), default=1,
                       help="metric: mean test loss over the last K steps")
    sweep.add_argument("--weight-decay", type=nonnegative_arg, default=None,
                       help="mlp-adam only: Adam's coupled L2 weight decay (default 0.001, the "
                            "question's; the notebook's code used 0.01)")
    sweep.add_argument("--device", default="cpu", help="torch device: cpu, cuda[:N] or mps")
    sweep.add_argument("--out", type=folder_arg, metavar="DIR",
                       help="results directory: written as it goes, locked, resumed on rerun")
    sweep.add_argument("--json", metavar="FILE",
                       help="write the optima and raw metric to this JSON file (strict JSON: "
                            "null where a run diverged)")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    cluster = sweep.add_mutually_exclusive_group()
    cluster.add_argument("--workers", type=workers_arg, metavar="N",
                         help="run the tasks on a local Dask cluster of N worker processes "
                              "(needs the 'dask' extra)")
    cluster.add_argument("--scheduler", metavar="ADDRESS",
                         help="run the tasks on an existing Dask cluster, e.g. "
                              "tcp://10.0.0.5:8786 (its workers need lrbs and the workload "
                              "importable)")
    sweep.add_argument("--seeds-per-task", type=positive_arg(int), metavar="K",
                       help="seeds per task (default: all in one task); fewer gives a cluster "
                            "more tasks to run at once")
    threads_option(sweep)


def _model_or_workload(args) -> str:
    """The shipped model or the workload reference: exactly one must be given."""
    from empirical import MODELS
    if (args.model is None) == (args.workload is None):
        raise ValueError("give a model (" + ", ".join(MODELS) + ") or --workload MODULE:FACTORY"
                         + (", not both" if args.model else ""))
    return args.model or args.workload


GNS_LR = {"linear-sgd": 0.02, "mlp-sgd": 0.2, "mlp-adam": 0.15}
"""``lrbs gns``'s default rate per shipped problem: about its fixed-horizon optimum at B = 64."""


def add_gns(commands) -> None:
    from empirical import MODELS
    from empirical.probes._noise import METHODS
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
    gns.add_argument("--lr", type=positive_arg(float), default=None,
                     help="the run's learning rate (default: about the shipped problem's "
                          "optimum at B = 64: " + ", ".join(f"{k} {v:g}" for k, v in
                                                            GNS_LR.items()) + ")")
    gns.add_argument("--batch-size", type=positive_arg(int), default=64, help="the run's batch size")
    gns.add_argument("--steps", type=positive_arg(int), default=100, help="the run's steps")
    gns.add_argument("--every", type=positive_arg(int), default=None, metavar="K",
                     help="steps between estimates (default steps // 20)")
    gns.add_argument("--method", choices=METHODS, default="two-batch",
                     help="two-batch: minibatch gradients at two sizes; per-example: "
                          "torch.func.vmap over per-example gradients")
    gns.add_argument("--sizes", type=lambda text: tuple(int_list(text, "--sizes", 1)),
                     default=(16, 256), metavar="SMALL,BIG",
                     help="the two batch sizes of the estimator (per-example uses BIG)")
    gns.add_argument("--batches", type=positive_arg(int), default=10, metavar="N",
                     help="independent draws per estimate (their spread is the standard error)")
    gns.add_argument("--seed", type=int, default=0, help="seed of the run and the estimator")
    gns.add_argument("--predict", type=batch_sizes_arg, default=batch_sizes_arg("2,4,16,64,256,1024,2048"),
                     metavar="B1,B2,...", help="batch sizes of the predicted optimal rate")
    gns.add_argument("--device", default="cpu", help="torch device: cpu, cuda[:N] or mps")
    gns.add_argument("--out", type=folder_arg, metavar="DIR",
                     help="write DIR/noise_scale.json and the figure DIR/noise_scale.png/.svg")
    threads_option(gns)


def gns(args) -> None:
    import numpy as np

    import nqm
    from compare import plot_noise_trace, save_figure
    from empirical import SweepSpec, noise_along_run
    from empirical.files import atomic_write_json, strict_json
    _model_or_workload(args)
    if args.workload and args.lr is None:
        raise ValueError("--workload needs --lr (the rate of the run to measure along)")
    if len(args.sizes) != 2 or not args.sizes[0] < args.sizes[1]:
        raise ValueError(f"--sizes must be SMALL,BIG with SMALL < BIG, got {args.sizes}")
    spec = SweepSpec(args.model or args.workload, (args.batch_size,), [1.0], steps=args.steps,
                     seeds=(args.seed,), device=args.device)
    workload = spec.workload()
    if max(args.sizes) > workload.n_train:
        print(f"lrbs gns: note: the batch of {max(args.sizes)} exceeds the {workload.n_train} training "
              "examples; it is drawn with replacement (the estimators stay unbiased for the "
              "data set, but repeat examples and are noisier)", file=sys.stderr)
    lr = args.lr if args.lr is not None else GNS_LR[args.model]
    trace = noise_along_run(workload, lr, args.batch_size, args.steps, every=args.every,
                            method=args.method, sizes=args.sizes, n_batches=args.batches,
                            run_seed=args.seed, seed=args.seed, device=args.device)
    _check_run_converges(trace, lr)
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
        # McCandlish et al.'s rate is plain SGD's; heavy ball with momentum m moves as plain
        # SGD at the effective rate lr / (1 - m), so its own rate is (1 - m) times theirs
        momentum = workload.optimizer.momentum if workload.optimizer.kind == "sgd" else 0.0
        predicted = (1.0 - momentum) * nqm.mccandlish_lr(np.array(args.predict), lr_max=last_lr,
                                                         b_noise=last_b)
        print(f"\npredicted optimal rate lr_max / (1 + B_simple / B), moving averages at step "
              f"{trace.steps[-1]} (lr_max {_fmt(last_lr)}, B_simple {_fmt(last_b)})"
              + ("; Adam's rate is not lr_max, read the shape only"
                 if workload.optimizer.kind != "sgd" else "")
              + (f"; times 1 - momentum = {1 - momentum:g} for SGD with momentum {momentum:g} "
                 "(its effective rate is lr / (1 - momentum))" if momentum else "") + ":")
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


def _interval(bounds) -> str:
    """``[lo, hi]``, or the value and "(zero width)" where there is no spread to show."""
    lo, hi = bounds
    return f"{_fmt(lo)} (zero width)" if lo == hi else f"[{_fmt(lo)}, {_fmt(hi)}]"


def _check_run_converges(trace, lr: float) -> None:
    """A ``ValueError`` when the run a prediction would rest on diverged, went NaN or ended no
    better than it started: its noise scale says nothing about the optimal rate."""
    import numpy as np
    test = np.asarray(trace.test_loss, dtype=float)
    train = np.asarray(trace.train_loss, dtype=float)
    what = ("its loss is not finite" if not (np.isfinite(test).all() and np.isfinite(train).all())
            else "its test loss ended no lower than it began" if test[-1] >= test[0] else None)
    if what is not None:
        raise ValueError(f"the run at lr {lr:g} failed, {what} (test loss {test[0]:.3g} at step "
                         f"{trace.steps[0]} -> {test[-1]:.3g} at step {trace.steps[-1]}): no noise "
                         "scale or rate is predicted from it; choose a smaller --lr")


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


def sweep(args) -> None:
    from compare import analyze, conclusions, summarize, write_sweep_report
    from empirical import LRGrid, SweepSpec, run_sweep
    from empirical.files import atomic_write_json, locked_directory
    _model_or_workload(args)
    json_path = _check_output_file(args.json) if args.json else None
    lrs = args.lrs or args.logspace or args.grid or LRGrid()
    spec = SweepSpec(args.model or args.workload, args.batch_sizes, lrs, steps=args.steps,
                     seeds=tuple(args.seeds), window=args.window, weight_decay=args.weight_decay,
                     device=args.device, refine=args.refine or 0)
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
                 basin=_interval(o.basin), interval=_interval(o.interval), loss=o.best_loss,
                 edge=o.on_edge) for o in optima]
    print(f"{spec.label}: optimum per batch size (metric: mean test loss over the last "
          f"{spec.window} step(s), seeds {', '.join(map(str, spec.seeds))})")
    print(format_rows(rows, {"batch_size": "B", "lr": "lr*", "subgrid": "sub-grid lr*",
                             "basin": "basin (5% excess)", "interval": "sub-grid lr* 95% over seeds",
                             "loss": "best loss", "edge": "on edge"}))
    for cell in result.cells:
        for note in cell.notes:
            print(f"B={cell.batch_size}: {note}")
        if cell.runs_per_call:
            print(f"B={cell.batch_size}: {_runs_per_call(cell, spec)}")
        diverged, collapsed = cell.diverged.mean(), cell.collapsed.all()
        if collapsed:
            print(f"B={cell.batch_size}: every run diverged or ended above its initial loss; "
                  "its optimum is not meaningful")
        elif diverged:
            print(f"B={cell.batch_size}: {100 * diverged:.0f}% of runs diverged")
    failed = [cell.batch_size for cell in result.cells if cell.collapsed.all()]
    if len(spec.seeds) == 1:
        print("one seed: every interval has zero width (--seeds 0-4 gives intervals)")
    if study is None:
        print("one batch size: no scaling rule to fit")
    elif failed:
        print(f"\nno scaling conclusion: every run failed at B = {', '.join(map(str, failed))}, "
              "so there is no optimum to scale there (try smaller rates, or leave those batch "
              "sizes out)")
        study = None                                   # and no page built on it
    else:
        fit = study.horizon
        print("\nlocal exponent between neighbouring batch sizes (95% over seeds):")
        print(format_rows([dict(pair=f"{a:g} -> {b:g}", exponent=e, interval=_interval((lo, hi)),
                                per4=4.0 ** e)
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


def _runs_per_call(cell, spec) -> str:
    """How the generic path cut a cell's runs into ``vmap`` calls, and who chose it."""
    chosen = " or ".join(map(str, cell.runs_per_call))
    how = ("the fastest on the first steps" if isinstance(spec.workload().runs_per_chunk, str)
           else "the workload's runs_per_chunk")
    return f"{chosen} runs per vmap call ({how})"
