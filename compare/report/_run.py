"""The main job: every sweep, the theory and the fits, written as results.json, figures and a page."""

from __future__ import annotations

import base64
import datetime
import html
import json
import platform
import subprocess
import sys
import time
from importlib import resources
from importlib.metadata import version
from pathlib import Path

import numpy as np

from compare import _figures as figures
from compare._answer import (
    ANSWER_COLUMNS,
    QUICK_MARK,
    answer_rows,
    conclusions,
    diagonal_conclusion,
)
from compare._double_descent import simulate_risk
from compare._edges import EdgeStudy, edge_conclusions, edge_study
from compare._fits import COMPARED, ScalingFit, fit_rule
from compare._gns import noise_scale_study, summarize_noise_scale
from compare._paths import spec_directory
from compare._rules import RULES
from compare._study import FLAT_POINTS, Study, analyze
from compare._theory_table import diagonal_curves
from empirical import (
    MODELS,
    LRGrid,
    SweepSpec,
    atomic_write_bytes,
    atomic_write_json,
    locked_directory,
    run_sweep,
    strict_json,
)

FULL = dict(batch_sizes=(2, 4, 16, 64, 256, 1024, 2048), seeds=5, n_boot=200, mc_trials=8,
            hessian_batches=5, edge_rounds=6,
            mc_ns=(100, 200, 300, 400, 450, 475, 525, 550, 600, 700, 850, 1000),
            nqm_dim=1000, nqm_batch_sizes=tuple(2**k for k in range(13)))
QUICK = dict(batch_sizes=(2, 8, 32, 256, 2048), seeds=2, n_boot=50, mc_trials=2,
             hessian_batches=2, edge_rounds=4,
             mc_ns=(100, 250, 400, 475, 525, 600, 800, 1000),
             nqm_dim=40, nqm_batch_sizes=tuple(4**k for k in range(6)))


def _log(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


def seed_tuple(seeds) -> tuple[int, ...]:
    """Run seeds from a count ``K`` (seeds ``0..K-1``) or an explicit sequence of seeds."""
    if isinstance(seeds, bool) or not isinstance(seeds, int | tuple | list | range):
        raise ValueError(f"seeds must be a count or a list of seeds, got {seeds!r}")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"seeds must be a positive count, got {seeds!r}")
        return tuple(range(seeds))
    if not seeds:
        raise ValueError("seeds must not be empty")
    return tuple(seeds)


def sweep_specs(seeds, *, quick: bool = False, device: str = "cpu") -> list[SweepSpec]:
    """The three sweeps of the study: geometric grid 1e-3 * 1.25^k that extends itself.

    ``seeds`` is a count ``K`` (seeds ``0..K-1``) or a sequence of seeds.
    """
    sizes = (QUICK if quick else FULL)["batch_sizes"]
    return [SweepSpec(model, sizes, LRGrid(), steps=100, seeds=seed_tuple(seeds), device=device)
            for model in MODELS]


def _fit_json(fit: ScalingFit | None, label: str) -> dict | None:
    if fit is None:
        return None
    b = [int(round(v)) for v in fit.batch_sizes]
    return dict(
        batch_sizes=b, lr=fit.lr, exponent=fit.exponent,
        exponent_interval=list(fit.exponent_interval),
        local_exponents=[dict(batch_sizes=[b[i], b[i + 1]], exponent=e, interval=list(iv))
                         for i, (e, iv) in enumerate(zip(fit.local_exponents,
                                                         fit.local_intervals, strict=True))],
        growth=fit.growth, growth_interval=list(fit.growth_interval),
        rules={name: dict(formula=RULES[name].formula, params=fit.rules[name].params,
                          meanings=list(RULES[name].meanings),
                          intervals={k: list(v) for k, v in fit.rules[name].intervals.items()},
                          score=fit.rules[name].aicc, chi2=fit.rules[name].chi2)
               for name in COMPARED},
        score_name="AICc (lower is better)", preferred=fit.preferred, tied=list(fit.tied),
        verdict=fit.verdict(label))


def summarize_edges(edge: EdgeStudy) -> dict:
    """The machine-readable stability-edge section of one study (``results.json``'s
    ``stability_edge[model]``).

    Per batch size: the measured edge with its 95% interval over seeds and each seed's edge,
    the minibatch Hessian's largest eigenvalue at initialization and at the trained point
    (mean over minibatches, 95% interval), every predicted edge and whether it lies inside
    the measured interval; the rules fitted to the edge; the optimum's exponent beside it;
    and the sentences of :func:`edge_conclusions`.

    See Also
    --------
    edge_study : The numbers.
    results_schema : ``$defs/stability_edge`` describes the result.
    """
    rows = []
    for i, e in enumerate(edge.edges):
        rows.append(dict(
            batch_size=e.batch_size, edge=e.edge, interval=list(e.interval),
            seed_edges=list(e.seed_edges),
            hessian_init=edge.hessian_init[i, 0], hessian_init_interval=list(
                edge.hessian_init[i, 1:]),
            hessian_trained=edge.hessian_trained[i, 0], hessian_trained_interval=list(
                edge.hessian_trained[i, 1:]),
            predicted={k: v[i] for k, v in edge.predicted.items()},
            predicted_inside={k: _inside(v[i], e.interval) for k, v in edge.predicted.items()}))
    return dict(label=edge.label, optimizer=edge.optimizer, rounds=edge.edges[0].rounds,
                definition="the smallest learning rate whose run diverges or ends with a test "
                           "loss no better than its initial one, bisected between grid rates",
                edges=rows, fit=_fit_json(edge.fit, f"{edge.label}, stability edge"),
                optimum_exponent=edge.optimum.exponent,
                optimum_exponent_interval=list(edge.optimum.exponent_interval),
                notes=list(edge.notes), conclusions=edge_conclusions(edge))


def _theory_exponent(batch_sizes, lr) -> float:
    return fit_rule("power", batch_sizes, lr).params["exponent"]


def _inside(value: float, interval) -> bool:
    return bool(interval[0] <= value <= interval[1])


def summarize(study: Study, *, quick: bool = False) -> dict:
    """The machine-readable summary of one study (``results.json``'s ``studies[model]``).

    Parameters
    ----------
    study : Study
    quick : bool, default False
        A ``--quick`` run: every verdict and conclusion is marked provisional.

    Returns
    -------
    dict
        The spec, the optima under both criteria with their intervals, every rule's fit, the
        local exponents, the exact theory through the same estimators (least squares) and the
        ``conclusions``: the sentences of :func:`conclusions`. Its schema is
        :func:`results_schema`'s ``$defs/study``.

    See Also
    --------
    conclusions : The sentences, from this summary.
    run_report : Writes one per study into ``results.json``.
    """
    optima = []
    th = study.theory
    for i, (o, flat) in enumerate(zip(study.optima, study.flat, strict=True)):
        row = dict(batch_size=o.batch_size, lr=o.lr, subgrid_lr=o.subgrid_lr,
                   interval=list(o.interval), basin=list(o.basin), flat=flat, on_edge=o.on_edge,
                   best_loss=o.best_loss, robust_lr=o.robust_lr, seed_lrs=o.seed_lrs)
        if th is not None:
            row.update(theory_lr=th.finite_lr[i], theory_online_lr=th.online_lr[i],
                       theory_same_estimator=th.horizon_same_estimator[i],
                       theory_inside_interval=_inside(th.horizon_same_estimator[i], o.interval))
        optima.append(row)
    target_rows = []
    for i, b in enumerate(study.batch_sizes):
        row = dict(batch_size=int(b), lr=study.target_lr[i], steps=study.target_steps[i],
                   interval=list(study.target_interval[i]),
                   steps_interval=list(study.target_steps_interval[i]))
        if th is not None:
            row.update(theory_same_estimator=th.target_same_estimator[i],
                       theory_steps_same_estimator=th.target_steps_same_estimator[i],
                       theory_inside_interval=_inside(th.target_same_estimator[i],
                                                      study.target_interval[i]))
        target_rows.append(row)
    target = dict(target_loss=study.target_loss, optima=target_rows)
    if study.target is not None:
        target.update(_fit_json(study.target, f"{study.label}, steps to target"))
    out = dict(label=study.label, spec=study.result.spec.to_dict(), criterion=(
        f"mean test loss over the last {study.result.spec.window} step(s), seed-mean, "
        f"{study.result.spec.steps} steps"), optima=optima,
        **_fit_json(study.horizon, study.label), steps_to_target=target, notes=study.notes)
    if th is not None:
        out["theory"] = dict(
            horizon_exponent=_theory_exponent(study.batch_sizes, th.finite_lr),
            target_exponent=_theory_exponent(study.batch_sizes, th.target_lr),
            target_lr=th.target_lr, target_steps=th.target_steps,
            critical_batch_size=th.critical_batch_size,
            horizon_inside=sum(o["theory_inside_interval"] for o in optima),
            target_inside=sum(o["theory_inside_interval"] for o in target_rows))
    if quick:
        out["verdict"] = QUICK_MARK + out["verdict"]
        if "verdict" in target:
            target["verdict"] = QUICK_MARK + target["verdict"]
    out["conclusions"] = conclusions(strict_json(out), quick=quick)
    return out


def run_report(out="lrbs-report", *, seeds: int | None = None, quick: bool = False,
               device: str = "cpu", progress: bool = True) -> dict:
    """Run the whole study and write ``out/index.html``, ``out/results.json``, ``out/figures/``.

    The sweeps are stored under ``out/sweeps/`` as they finish (one directory per spec), so an
    interrupted run resumes where it stopped.

    Parameters
    ----------
    out : path-like, default "lrbs-report"
        Locked against other writers while the study runs.
    seeds : int or sequence of int, optional
        Run seeds of every sweep: a count ``K`` (seeds ``0..K-1``) or the seeds themselves;
        5 by default, 2 with ``quick``.
    quick : bool, default False
        Fewer batch sizes, bootstrap resamples and Monte Carlo draws, a smaller NQM.
    device : str, default "cpu"
    progress : bool, default True
        Stage messages and progress bars on stderr.

    Returns
    -------
    dict
        What ``results.json`` holds.

    See Also
    --------
    summarize : Each study's entry of results.json.
    results_schema : The schema of results.json.
    conclusions : The sentences at the top of the page.
    """
    settings = QUICK if quick else FULL
    specs = sweep_specs(settings["seeds"] if seeds is None else seeds, quick=quick, device=device)
    for spec in specs:
        spec.check_memory()
    with locked_directory(out) as root:
        return _write_report(root, specs, settings, quick, device, progress)


def results_schema() -> dict:
    """The JSON Schema (draft 2020-12) of ``results.json``, every field described.

    See Also
    --------
    run_report : Writes the results.json it describes.
    summarize : Each study's entry.

    Examples
    --------
    >>> from compare import results_schema
    >>> results_schema()["title"]
    'results.json of lrbs run'
    """
    return json.loads(resources.files("compare").joinpath("schemas/results.schema.json")
                      .read_text())


def _relative(paths: dict, root: Path) -> dict:
    """Figure paths (name -> extension -> path) relative to the report's folder."""
    return {name: {ext: str(p.relative_to(root)) for ext, p in ps.items()}
            for name, ps in paths.items()}


def _write_report(root: Path, specs: list[SweepSpec], settings: dict, quick: bool, device: str,
                  progress: bool) -> dict:
    fig_dir = root / "figures"
    started = time.perf_counter()
    studies, sweep_dirs = [], {}
    for k, spec in enumerate(specs, 1):
        _log(progress, f"[{k}/8] sweep {spec.model}: {len(spec.batch_sizes)} batch sizes x "
                       f"{len(spec.seeds)} seeds")
        sweep_dirs[spec.model] = spec_directory(root / "sweeps", spec.model, spec.to_dict())
        result = run_sweep(spec, out=sweep_dirs[spec.model], progress=None if progress else False)
        studies.append(analyze(result, n_boot=settings["n_boot"]))
    _log(progress, "[4/8] stability edges: bisection and batch Hessians")
    edges = [edge_study(s, n_boot=settings["n_boot"], n_batches=settings["hessian_batches"],
                        rounds=settings["edge_rounds"]) for s in studies]
    _log(progress, "[5/8] noise scale: one run per study, critical batch sizes per target")
    noise = [noise_scale_study(s, n_boot=settings["n_boot"]) for s in studies]
    _log(progress, "[6/8] theory: diagonal NQM and double descent")
    diagonal = diagonal_curves(settings["nqm_dim"], settings["nqm_batch_sizes"])
    sim = simulate_risk(500, settings["mc_ns"], (0.0, 0.04), trials=settings["mc_trials"])
    scaling = _scaling_section(root, quick, progress)
    _log(progress, "[8/8] figures and report")
    drawn = {}
    for s in studies:
        drawn[f"loss_vs_lr_{s.model}"] = figures.plot_loss_vs_lr(s)
        drawn[f"optimal_lr_{s.model}"] = figures.plot_optima(s)
    drawn["steps_to_target"] = figures.plot_steps_to_target(studies, diagonal)
    drawn["stability_edge"] = figures.plot_stability_edges(edges)
    drawn["critical_batch"] = figures.plot_critical_batch(noise)
    for g in noise:
        drawn[f"noise_scale_{g.model}"] = figures.plot_noise_trace(g.trace, floor=g.floor)
    drawn["double_descent"] = figures.plot_double_descent(sim)
    paths = {name: figures.save_figure(fig, fig_dir, name) for name, fig in drawn.items()}

    results = dict(
        lrbs_version=version("lrbs"), created=datetime.datetime.now(datetime.UTC).isoformat(
            timespec="seconds"),
        settings=dict(seeds=list(specs[0].seeds), quick=quick, device=device,
                      n_boot=settings["n_boot"]),
        versions=_versions(),
        provenance=dict(git_commit=_git_commit(), run_seconds=time.perf_counter() - started),
        studies={s.model: dict(summarize(s, quick=quick), sweep_directory=str(
            sweep_dirs[s.model].relative_to(root))) for s in studies},
        stability_edge={e.model: summarize_edges(e) for e in edges},
        noise_scale={g.model: summarize_noise_scale(g) for g in noise},
        diagonal_nqm=diagonal,
        double_descent=dict(d=sim.d, n=sim.ns, noise_vars=list(sim.noise_vars),
                            ridgeless_median=np.median(sim.ridgeless, axis=-1),
                            ridge_mean=np.mean(sim.ridge, axis=-1), trials=sim.ridgeless.shape[-1]),
        figures=_relative(paths, root),
        scaling_law=(dict({k: v for k, v in scaling.items() if k != "_paths"},
                          figures=_relative(scaling["_paths"], root)) if scaling else None))
    results = strict_json(results)
    atomic_write_json(root / "results.json", results)
    if scaling:
        paths.update({f"scaling/{k}": v for k, v in scaling["_paths"].items()})
    atomic_write_bytes(root / "index.html", render_html(results, studies, paths).encode())
    return results


SCALING_SEEDS = 3
"""Seeds of the scaling-law section of ``lrbs run`` (1 with ``--quick``)."""


def _scaling_section(root: Path, quick: bool, progress: bool) -> dict | None:
    """The digits scaling-law study, when the optional ``data`` extra (scikit-learn) is there."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        _log(progress, "[7/8] scaling law: skipped (install the 'data' extra for scikit-learn)")
        return None
    from compare._scaling_report import run_scaling_law
    seeds = 1 if quick else SCALING_SEEDS
    _log(progress, f"[7/8] scaling law on digits: {seeds} seed(s)")
    return run_scaling_law(root / "scaling", seeds=seeds, quick=quick, progress=progress)


def _git_commit() -> str | None:
    """The commit of the lrbs checkout that ran, ``+dirty`` with local changes; ``None`` when
    lrbs is not installed from a git checkout (or git is missing)."""
    source = Path(__file__).resolve().parent.parent
    try:
        def git(*args):
            return subprocess.run(["git", *args], cwd=source, capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()
        commit = git("rev-parse", "HEAD")
        return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no")
                         else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _versions() -> dict:
    import matplotlib
    import scipy
    import torch
    return dict(python=platform.python_version(), numpy=np.__version__, scipy=scipy.__version__,
                torch=torch.__version__, matplotlib=matplotlib.__version__,
                platform=platform.platform())


CSS = """body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}table{border-collapse:collapse;margin:.8em 0;font-size:.9em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f3f3f3}
td:first-child{text-align:left}img{max-width:100%}figure{margin:1em 0}
figcaption{font-size:.9em;color:#444}.flat{background:#fff4d6}code{background:#f3f3f3;padding:0 .2em}
.answer li{margin:.35em 0}.quick{background:#fde2e1;padding:.5em 1em;border-left:4px solid #c00}
nav ol{columns:2}"""

SETUP = (
    ("Least squares, SGD", "linear-sgd",
     "The homework's linear regression: y = X W* + sigma eps with D = 16 inputs and outputs, "
     "sigma = 5 (so the test-loss floor is 25), 10,000 training and 1,000 test points, "
     "plain minibatch SGD on the mean squared error for 100 steps from a random "
     "initialization. The exact finite-sample theory (nqm.FiniteSampleLeastSquaresSGD) "
     "predicts every curve."),
    ("MLP, SGD", "mlp-sgd",
     "The homework's teacher network y = relu(X W1) W2 + sigma eps (D = 4, sigma = 2, floor 4) "
     "learned by a two-layer ReLU student of width 4 with plain minibatch SGD, 100 steps."),
    ("MLP, Adam (warmup + cosine)", "mlp-adam",
     "The same teacher and student, trained with Adam (L2 weight decay 0.001) under 10 steps "
     "of linear warmup and a cosine decay to zero at step 100."),
)

REFERENCES = (
    "D. Granziol, S. Zohren, S. Roberts, Learning rates as a function of batch size: a random "
    "matrix theory approach to neural network training, JMLR 23 (2022), arXiv:2006.09092 "
    "(the largest stable rate: linear for SGD, square root for Adam).",
    "I. M. Johnstone, On the distribution of the largest eigenvalue in principal components "
    "analysis, Ann. Statist. 29 (2001) (the finite-size edge of a Wishart matrix).",
    "P. Goyal et al., Accurate, large minibatch SGD: training ImageNet in 1 hour, "
    "arXiv:1706.02677 (linear scaling).",
    "A. Krizhevsky, One weird trick for parallelizing convolutional neural networks, "
    "arXiv:1404.5997; S. Malladi et al., On the SDEs and scaling rules for adaptive gradient "
    "algorithms, NeurIPS 2022 (square-root scaling).",
    "S. McCandlish, J. Kaplan, D. Amodei, An empirical model of large-batch training, "
    "arXiv:1812.06162 (saturating rule, critical batch size, the gradient noise scale and its "
    "estimators).",
    "J. Kaplan et al., Scaling laws for neural language models, arXiv:2001.08361 (the critical "
    "batch size as a power of the loss).",
    "G. Zhang et al., Which algorithmic choices matter at which batch sizes? Insights from a "
    "noisy quadratic model, NeurIPS 2019, arXiv:1907.04164 (the NQM, logarithmic fixed-horizon "
    "optimum).",
    "S. Li et al., Surge phenomenon in optimal learning rate and batch size scaling, "
    "NeurIPS 2024, arXiv:2405.14578 (Adam's surge).",
    "T. Hastie, A. Montanari, S. Rosset, R. Tibshirani, Surprises in high-dimensional ridgeless "
    "least squares interpolation, Ann. Statist. 2022 (double descent, ridge).",
    "J. Hoffmann et al., Training compute-optimal large language models, arXiv:2203.15556 "
    "(the scaling-law fit).",
    "K. P. Burnham, D. R. Anderson, Model Selection and Multimodel Inference, 2002 (AICc, "
    "differences under 2).",
)


def _img(path: Path, caption: str, svg: str | None = None) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    link = f' (<a href="{html.escape(svg)}">SVG</a>)' if svg else ""
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f'<figcaption>{html.escape(caption)}{link}</figcaption></figure>')


def _num(v, digits: int = 3) -> str:
    if v is None:
        return "&ndash;"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    return f"{v:.{digits}g}"


def _interval(iv, digits: int = 3) -> str:
    return f"[{_num(iv[0], digits)}, {_num(iv[1], digits)}]"


def _table(headers, rows) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class _Figures:
    """Numbers the page's figures in order of appearance, each with its SVG linked."""

    def __init__(self, paths: dict, root_paths: dict):
        self.paths, self.root_paths, self.count = paths, root_paths, 0

    def __call__(self, name: str, caption: str) -> str:
        self.count += 1
        svg = self.root_paths.get(name, {}).get("svg")
        return _img(self.paths[name]["png"], f"Figure {self.count}. {caption}", svg)


def _scaling_html(scaling: dict | None, figure) -> str:
    if scaling is None:
        return ("<h2 id='scaling-law'>Scaling law on digits</h2><p>Not run: install the <code>data</code> extra "
                "(scikit-learn) for this section.</p>")
    rows = [[r["width"], r["depth"], r["n_params"], _num(r["lr"]), _num(r["on_edge"]),
             _num(r["test_loss"], 4), _num(r["test_loss_sd"], 2), _num(r["test_accuracy"], 4)]
            for r in scaling["shapes"]]
    return "".join([
        "<h2 id='scaling-law'>Scaling law on digits</h2>",
        f"<p>Every shape's learning rate tuned over a geometric grid ({len(scaling['spec']['seeds'])}"
        " seed(s); Adam, early stopping on the validation loss); the loss is the test "
        "cross-entropy of the best validation checkpoint at the tuned rate.</p>",
        "<ul class='answer'>" + "".join(f"<li>{html.escape(line)}</li>"
                                        for line in scaling["conclusions"]) + "</ul>",
        figure("scaling/scaling_law", "Test loss against parameter count with the fitted law, "
                                      "its band and the extrapolation check."),
        figure("scaling/lr_vs_width", "Tuned learning rate against width."),
        _table(["width", "depth", "parameters", "tuned lr", "edge", "test loss", "sd over seeds",
                "test accuracy"], rows)])


def _rules_table(fit: dict) -> str:
    best = min((r["score"] for r in fit["rules"].values() if r["score"] is not None),
               default=None)                   # None: too few batch sizes for AICc
    rows = []
    for name, r in sorted(fit["rules"].items(), key=lambda kv: (kv[1]["score"] is None,
                                                                kv[1]["score"] or 0)):
        params = "<br>".join(f"{k} = {_num(v)} {_interval(r['intervals'][k])}: {html.escape(m)}"
                             for (k, v), m in zip(r["params"].items(), r["meanings"], strict=True))
        delta = None if r["score"] is None or best is None else r["score"] - best
        rows.append([name + (" (tied)" if name in fit["tied"] and len(fit["tied"]) > 1 else ""),
                     html.escape(r["formula"]), params, _num(delta, 2)])
    return _table(["rule", "formula", "parameters [95% interval]: meaning",
                   "&Delta;AICc (under 2: tie)"], rows)


def _local_table(fit: dict) -> str:
    rows = [[f"{e['batch_sizes'][0]} &rarr; {e['batch_sizes'][1]}", _num(e["exponent"], 2),
             _interval(e["interval"], 2), _num(4.0 ** e["exponent"], 3)]
            for e in fit["local_exponents"]]
    return _table(["batch sizes", "local exponent", "95% interval", "lr multiplier per 4x B"],
                  rows)


def _study_html(s: Study, st: dict, figure) -> str:
    parts = [f"<h2 id='{s.key}'>{html.escape(s.label)}</h2>",
             f"<p>Fixed-horizon criterion: {html.escape(st['criterion'])}. Steps-to-target "
             f"criterion: the fewest steps for the seed-mean test loss to reach "
             f"{_num(st['steps_to_target']['target_loss'])}.</p>",
             figure(f"loss_vs_lr_{s.key}", f"{s.label}: test loss against learning rate."),
             figure(f"optimal_lr_{s.key}",
                    f"{s.label}: optimal learning rate against batch size, both criteria.")]
    theory = s.theory is not None
    headers = ["B", "lr* (grid)", "lr* (sub-grid)", "95% interval", "basin (5% of excess)",
               "flat", "on edge", "best loss"]
    if theory:
        headers += ["theory, same estimator", "inside interval", "theory, continuous argmin"]
    rows = []
    for o in st["optima"]:
        row = [o["batch_size"], _num(o["lr"]), _num(o["subgrid_lr"]), _interval(o["interval"]),
               _interval(o["basin"]), _num(o["flat"]), _num(o["on_edge"]), _num(o["best_loss"], 4)]
        if theory:
            row += [_num(o["theory_same_estimator"]), _num(o["theory_inside_interval"]),
                    _num(o["theory_lr"])]
        rows.append(row)
    parts += ["<h3>Fixed horizon: optima</h3>", _table(headers, rows)]
    flat = [o["batch_size"] for o in st["optima"] if o["flat"]]
    if flat:
        parts.append(f"<p class='flat'>Flat basin at B = {', '.join(map(str, flat))}: at least "
                     f"{FLAT_POINTS} grid rates lie within 5% of the best excess loss, so the "
                     "argmin within it is close to arbitrary; read the interval, not the "
                     "argmin.</p>")
    parts += ["<h3>Fixed horizon: local exponents and rules</h3>", _local_table(st),
              _rules_table(st)]
    tgt = st["steps_to_target"]
    headers = ["B", "lr*", "95% interval", "steps", "95% interval"]
    if theory:
        headers += ["theory lr*, same estimator", "theory steps", "inside interval"]
    rows = []
    for o in tgt["optima"]:
        row = [o["batch_size"], _num(o["lr"]), _interval(o["interval"]), _num(o["steps"]),
               _interval(o["steps_interval"])]
        if theory:
            row += [_num(o["theory_same_estimator"]), _num(o["theory_steps_same_estimator"]),
                    _num(o["theory_inside_interval"])]
        rows.append(row)
    parts += ["<h3>Steps to target: optima</h3>", _table(headers, rows)]
    if "rules" in tgt:
        parts += ["<h3>Steps to target: local exponents and rules</h3>", _local_table(tgt),
                  _rules_table(tgt)]
    parts += [f"<p>Note: {html.escape(note)}</p>" for note in st["notes"]]
    return "".join(parts)


def write_sweep_report(study: Study, directory, *, seconds: float | None = None) -> Path:
    """One sweep's page: ``DIR/index.html``, ``DIR/summary.json`` and ``DIR/figures/``.

    What ``lrbs sweep --out DIR`` writes beside the sweep's files for a shipped problem or
    any workload: the answer (table and computed sentences), the loss-against-rate and
    optimum-against-batch-size figures, the optima with their intervals under both criteria,
    the local exponents and every rule's fit, and the provenance.

    Parameters
    ----------
    study : Study
        :func:`analyze` of the sweep.
    directory : path-like
        Written into (the sweep's own directory is the natural place).
    seconds : float, optional
        The sweep's run time, for the provenance table.

    Returns
    -------
    Path
        The page.

    See Also
    --------
    analyze : The study it shows.
    run_report : The whole study's page.
    """
    root = Path(directory)
    drawn = {f"loss_vs_lr_{study.key}": figures.plot_loss_vs_lr(study),
             f"optimal_lr_{study.key}": figures.plot_optima(study)}
    paths = {name: figures.save_figure(fig, root / "figures", name) for name, fig in drawn.items()}
    spec = study.result.spec
    summary = strict_json(dict(
        summarize(study), lrbs_version=version("lrbs"),
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        versions=_versions(), figures=_relative(paths, root),
        provenance=dict(git_commit=_git_commit(), run_seconds=seconds)))
    atomic_write_json(root / "summary.json", summary)
    figure = _Figures(paths, summary["figures"])
    setup = (f"{len(spec.batch_sizes)} batch sizes, {len(spec.seeds)} seed(s) "
             f"({', '.join(map(str, spec.seeds))}), {spec.steps} steps per run, on {spec.device}")
    if spec.is_workload:
        config = spec.workload().optimizer
        setup += (f"; workload <code>{html.escape(spec.model)}</code>, optimizer "
                  f"{html.escape(repr(config))}")
    rows = [["git commit", html.escape(str(summary["provenance"]["git_commit"]))],
            ["sweep time", "&ndash;" if seconds is None else f"{seconds:.0f} s"],
            *([k, html.escape(v)] for k, v in summary["versions"].items())]
    page = "\n".join([
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>lrbs sweep: "
        f"{html.escape(study.label)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(study.label)}: how should the learning rate scale with the batch "
        "size?</h1>",
        "<h2 id='answer'>The answer</h2><p>Computed from the tables below. Intervals are 95% "
        "over run seeds (bootstrap, Student's quantile for fitted quantities).</p>",
        _table(ANSWER_COLUMNS, [[html.escape(c) for c in row]
                                for row in answer_rows({study.key: summary})]),
        "<ul class='answer'>" + "".join(f"<li>{html.escape(line)}</li>"
                                        for line in summary["conclusions"]) + "</ul>",
        f"<h2 id='setup'>Setup</h2><p>{setup}. Every learning rate of a batch size trains as "
        "one vectorized program with the same initialization and minibatches per seed; the "
        "optimum is the sub-grid vertex of the seed-mean metric, measured above the floor "
        f"{_num(spec.noise_floor())}.</p>",
        _study_html(study, summary, figure),
        "<h2 id='files'>Files</h2><ul><li><a href='summary.json'>summary.json</a></li>"
        "<li><a href='sweep.json'>sweep.json</a> (the raw curves' index)</li>" + "".join(
            f"<li><a href='{html.escape(p['svg'])}'>{html.escape(n)} (SVG)</a></li>"
            for n, p in summary["figures"].items()) + "</ul>",
        "<h2 id='provenance'>Provenance</h2>" + _table(["", ""], rows) + "</body></html>"])
    atomic_write_bytes(root / "index.html", page.encode())
    return root / "index.html"


def _edge_html(edges: dict, figure) -> str:
    first = next(iter(edges.values()))
    parts = ["<h2 id='stability-edge'>The stability edge: linear for SGD, square root for "
             "Adam?</h2>",
             "<p>Granziol et al. (2022) derive the <em>largest stable</em> learning rate from "
             "the extremal eigenvalues of the minibatch Hessian: linear in the batch size for "
             "SGD, square root for Adam. Their claim is about the edge, not the optimum. The "
             f"edge here is {html.escape(first['definition'])} ({first['rounds']} rounds; the "
             "grid's rates doubled beyond its top where no grid rate failed), with a 95% "
             "interval over seeds (Student's t on the log edges). The minibatch Hessian's "
             "largest eigenvalue comes from Lanczos on Hessian-vector products at the first "
             "seed's initialization and at the point its run at the optimal rate reaches (mean "
             "over minibatches, 95% interval); gradient descent on one minibatch is stable "
             "below 2 / &lambda;<sub>max</sub>. The exponents carry the optima's intervals "
             "(bootstrap over seeds, Student's quantile).</p>",
             figure("stability_edge", "The stability edge against batch size, measured (95% "
                                      "intervals over seeds) and predicted, with the "
                                      "fixed-horizon optimum for comparison.")]
    for st in edges.values():
        names = list(st["edges"][0]["predicted"])
        parts.append(f"<h3>{html.escape(st['label'])}</h3><ul class='answer'>" + "".join(
            f"<li>{html.escape(line)}</li>" for line in st["conclusions"]) + "</ul>")
        rows = [[r["batch_size"], f"{_num(r['edge'])} {_interval(r['interval'])}",
                 f"{_num(r['hessian_init'])} {_interval(r['hessian_init_interval'])}",
                 f"{_num(r['hessian_trained'])} {_interval(r['hessian_trained_interval'])}",
                 *(f"{_num(r['predicted'][k])} ({'inside' if r['predicted_inside'][k] else 'outside'})"
                   for k in names)] for r in st["edges"]]
        parts.append(_table(["B", "edge [95%]", "&lambda;<sub>max</sub>(H<sub>B</sub>), init",
                             "&lambda;<sub>max</sub>(H<sub>B</sub>), trained",
                             *(html.escape(k) for k in names)], rows))
        if st["fit"] is not None:
            parts += [_local_table(st["fit"]), _rules_table(st["fit"])]
        parts += [f"<p>Note: {html.escape(note)}</p>" for note in st["notes"]]
    return "".join(parts)


def _noise_html(noise: dict, figure) -> str:
    first = next(iter(noise.values()))["run"]
    parts = ["<h2 id='noise-scale'>Predicted before the sweep: the gradient noise scale and the "
             "critical batch size</h2>",
             "<p>McCandlish et al. (2018) predict from a few gradient evaluations what a sweep "
             "measures: the optimal rate &eta;<sub>max</sub> / (1 + B<sub>noise</sub>/B) and a "
             "critical batch size B<sub>crit</sub> &asymp; B<sub>noise</sub>. Here the sweep "
             "measures B<sub>crit</sub>: for each target test loss, the fewest steps at each "
             "batch size over the grid's rates (seed-mean curves; 95% percentile intervals over "
             "bootstrap resamples of the seeds) fitted by S = S<sub>min</sub>(1 + "
             "B<sub>crit</sub>/B), intervals from refitting the resamples (Student's quantile). "
             "One extra run per study, at the batch size nearest 64 and its measured optimal "
             "rate, estimates the noise scale along the way "
             f"({html.escape(first['method'])} estimator, B<sub>simple</sub> = "
             "tr&Sigma; / |G|<sup>2</sup> as B<sub>noise</sub>, 95% intervals from the "
             "estimates' standard errors) and &eta;<sub>max</sub> = |G|<sup>2</sup> / "
             "G<sup>T</sup>HG from one Hessian-vector product on the whole training set (exact "
             "for it). Its B<sub>simple</sub> where its test loss reaches each target stands "
             "beside the measured B<sub>crit</sub>; its values at the last step give the "
             "predicted rate, checked against the fixed-horizon optima's 95% intervals.</p>",
             figure("critical_batch", "Top: fewest steps to each target with the fitted "
                                      "hyperbolas. Middle: the measured critical batch size and "
                                      "the noise scale at the same loss. Bottom: the predicted "
                                      "rate against the measured optima.")]
    for model, st in noise.items():
        run = st["run"]
        parts.append(f"<h3>{html.escape(st['label'])}</h3><ul class='answer'>" + "".join(
            f"<li>{html.escape(line)}</li>" for line in st["conclusions"]) + "</ul>")
        parts.append(_table(
            ["target test loss", "B<sub>crit</sub> [95%]", "S<sub>min</sub> [95%]",
             "E<sub>min</sub> [95%]", "B<sub>simple</sub> at that loss [95%]",
             "exact B<sub>noise</sub> (least squares)"],
            [[_num(t["target_loss"]), f"{_num(t['b_crit'])} {_interval(t['b_crit_interval'])}",
              f"{_num(t['s_min'])} {_interval(t['s_min_interval'])}",
              f"{_num(t['e_min'])} {_interval(t['e_min_interval'])}",
              f"{_num(t['b_simple_at_loss'])} {_interval(t['b_simple_at_loss_interval'])}",
              _num(t["exact_b_noise"])] for t in st["critical_batch"]]))
        pred = st["prediction"]
        parts.append(_table(
            ["B", "predicted rate", "range along the run", "measured optimum [95%]", "inside"],
            [[b, _num(p), _interval(band), f"{_num(m)} {_interval(iv)}",
              ("yes" if inside else "no") if counted else "anchor"]
             for b, p, band, m, iv, inside, counted in zip(
                 st["batch_sizes"], pred["lr"], pred["band"], pred["measured_lr"],
                 pred["measured_interval"], pred["inside"], pred["counted"], strict=True)]))
        parts.append(figure(f"noise_scale_{model}",
                            f"The noise-scale run: lr {run['lr']:.3g}, B = {run['batch_size']}, "
                            f"{run['steps'][-1]} steps, estimates {run['seconds']:.2g} s."))
        parts += [f"<p>Note: {html.escape(note)}</p>" for note in st["notes"]]
    return "".join(parts)


def _provenance(results: dict) -> str:
    settings, versions, prov = results["settings"], results["versions"], results["provenance"]
    rows = [["git commit", html.escape(str(prov["git_commit"]))],
            ["run time", f"{prov['run_seconds']:.0f} s"],
            ["seeds", ", ".join(map(str, settings["seeds"]))],
            ["bootstrap resamples", settings["n_boot"]],
            ["quick run", _num(settings["quick"])], ["device", html.escape(settings["device"])]]
    rows += [[k, html.escape(v)] for k, v in versions.items()]
    return "<h2 id='provenance'>Provenance</h2>" + _table(["", ""], rows)


def render_html(results: dict, studies: list[Study], paths: dict) -> str:
    """One self-contained page (figures embedded as PNG data) from ``results.json``'s content.

    The answer comes first, one list of computed sentences per study; then the setup, each
    study's figures and tables, the theory, the files and the provenance.
    """
    figure = _Figures(paths, {**results["figures"], **{
        f"scaling/{k}": v for k, v in ((results.get("scaling_law") or {}).get("figures") or {})
        .items()}})
    quick = results["settings"]["quick"]
    toc = [("answer", "The answer"), ("setup", "Setup"),
           *((s.model, s.label) for s in studies), ("stability-edge", "The stability edge"),
           ("noise-scale", "Predicted before the sweep: the noise scale"),
           ("criterion", "The criterion decides"),
           ("double-descent", "Double descent and ridge"), ("scaling-law", "Scaling law on digits"),
           ("files", "Files"), ("references", "References"), ("provenance", "Provenance")]
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>lrbs report"
             f"</title><style>{CSS}</style></head><body>",
             "<h1>How should the learning rate scale with the batch size?</h1>"]
    if quick:
        parts.append("<p class='quick'>A <code>--quick</code> run: fewer batch sizes, seeds and "
                     "resamples than the full study. Every sentence below is provisional; the "
                     "full <code>lrbs run</code> can contradict it.</p>")
    parts.append("<h2 id='answer'>The answer</h2><p>Per study and criterion, computed from the "
                 "tables below. Intervals are 95% over run seeds (bootstrap, Student's "
                 "quantile for fitted quantities); the exact theory has no interval.</p>")
    parts.append(_table(ANSWER_COLUMNS, [[html.escape(c) for c in row]
                                         for row in answer_rows(results["studies"])]))
    for s in studies:
        st = results["studies"][s.model]
        parts.append(f"<h3>{html.escape(s.label)}</h3><ul class='answer'>" + "".join(
            f"<li>{html.escape(line)}</li>" for line in st["conclusions"]) + "</ul>")
    parts.append("<nav><h2>Contents</h2><ol>" + "".join(
        f"<li><a href='#{a}'>{html.escape(t)}</a></li>" for a, t in toc) + "</ol></nav>")
    parts.append("<h2 id='setup'>Setup</h2><p>Each sweep trains every learning rate of a "
                 "geometric grid (1.25x apart, extended until the optimum is interior) at each "
                 "batch size, with the same seeds at every batch size. An optimum is the "
                 "sub-grid vertex (a quadratic in log lr around the argmin) of the seed-mean "
                 "metric; rules are fitted in log space weighted by the optima's spread over "
                 "seeds and compared by AICc.</p><ul>" + "".join(
                     f"<li><a href='#{m}'>{html.escape(label)}</a>: {html.escape(text)}</li>"
                     for label, m, text in SETUP if m in results["studies"]) + "</ul>")
    for s in studies:
        parts.append(_study_html(s, results["studies"][s.model], figure))
    parts.append(_edge_html(results["stability_edge"], figure))
    parts.append(_noise_html(results["noise_scale"], figure))
    parts.append("<h2 id='criterion'>The criterion decides the exponent</h2>")
    rows = []
    for st in results["studies"].values():
        tgt, th = st["steps_to_target"], st.get("theory", {})
        rows.append([st["label"], f"{_num(st['exponent'], 2)} {_interval(st['exponent_interval'], 2)}",
                     f"{_num(tgt.get('exponent'), 2)} "
                     f"{_interval(tgt['exponent_interval'], 2) if 'exponent' in tgt else ''}",
                     _num(th.get("horizon_exponent"), 2), _num(th.get("target_exponent"), 2)])
    parts.append(_table(["study", "measured, fixed horizon", "measured, steps to target",
                         "exact theory, fixed horizon", "exact theory, steps to target"], rows))
    parts.append(figure("steps_to_target", "Fewest steps to the target against batch size: "
                        "measured (95% intervals over seeds), the exact least-squares theory "
                        "and, right, Zhang et al.'s figure on the diagonal noisy quadratic "
                        "model: momentum and the moving average each tuned jointly with the "
                        "rate, preconditioning by H^-p, and their lower bound."))
    diag = results["diagonal_nqm"]
    parts.append(_table(["diagonal NQM optimizer", "critical batch size", "steps at B = "
                         f"{_num(diag['batch_sizes'][0])}", f"steps at B = "
                         f"{_num(diag['batch_sizes'][-1])}"],
                        [[k, _num(v["critical_batch_size"]), _num(v["steps"][0]),
                          _num(v["steps"][-1])] for k, v in diag["curves"].items()]
                        + [["lower bound (Zhang et al.)", "", _num(diag["lower_bound"][0]),
                            _num(diag["lower_bound"][-1])]]))
    parts.append(f"<p>{html.escape(diagonal_conclusion(diag))}</p>")
    parts.append("<h2 id='double-descent'>Double descent and ridge</h2>")
    parts.append(figure("double_descent", "Ridgeless and ridge risk: formulas and Monte Carlo."))
    parts.append(_scaling_html(results.get("scaling_law"), figure))
    files = [("results.json", "results.json"), *(
        (f"{name} (SVG)", p["svg"]) for name, p in results["figures"].items()), *(
        (f"raw sweep, {st['label']}", st["sweep_directory"]) for st in results["studies"].values()
        if "sweep_directory" in st)]
    parts.append("<h2 id='files'>Files</h2><p>Relative to this page; <code>results.json</code> "
                 "is described by <code>compare.results_schema()</code>.</p><ul>" + "".join(
                     f"<li><a href='{html.escape(p)}'>{html.escape(t)}</a></li>"
                     for t, p in files) + "</ul>")
    parts.append("<h2 id='references'>References</h2><ol>" + "".join(
        f"<li>{html.escape(r)}</li>" for r in REFERENCES) + "</ol>")
    parts.append(_provenance(results) + "</body></html>")
    return "\n".join(parts)
