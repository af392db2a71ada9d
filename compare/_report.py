"""The main job: every sweep, the theory and the fits, written as results.json, figures and a page."""

from __future__ import annotations

import base64
import datetime
import html
import json
import platform
import sys
from importlib import resources
from importlib.metadata import version
from pathlib import Path

import numpy as np

import nqm
from compare import _figures as figures
from compare._double_descent import simulate_risk
from compare._fits import COMPARED, ScalingFit, fit_rule
from compare._paths import spec_directory
from compare._rules import RULES
from compare._study import FLAT_POINTS, Study, analyze
from compare._theory_table import DIAGONAL_VARIANTS
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
            mc_ns=(100, 200, 300, 400, 450, 475, 525, 550, 600, 700, 850, 1000),
            nqm_dim=100, nqm_batch_sizes=tuple(2**k for k in range(13)))
QUICK = dict(batch_sizes=(2, 8, 32, 256, 2048), seeds=2, n_boot=50, mc_trials=2,
             mc_ns=(100, 250, 400, 475, 525, 600, 800, 1000),
             nqm_dim=40, nqm_batch_sizes=tuple(4**k for k in range(6)))
DIAGONAL_TARGET = 0.1


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


def diagonal_curves(dim: int, batch_sizes, target: float = DIAGONAL_TARGET) -> dict:
    """Optimal steps to ``target`` of :class:`nqm.DiagonalNQM` per batch size, three optimizers."""
    model = nqm.DiagonalNQM.zhang2019(dim=dim)
    b = np.asarray(batch_sizes, dtype=float)
    curves = {}
    for name, kwargs in DIAGONAL_VARIANTS.items():
        best = model.optimal_steps_to_target(b, target, **kwargs)
        curves[name] = dict(lr=np.atleast_1d(best.lr), steps=np.ceil(np.atleast_1d(best.steps)),
                            critical_batch_size=model.critical_batch_size(target, **kwargs))
    return dict(dim=dim, target=target, batch_sizes=b, curves=curves)


def _fit_json(fit: ScalingFit | None, label: str) -> dict | None:
    if fit is None:
        return None
    return dict(exponent=fit.exponent, exponent_interval=list(fit.exponent_interval),
                rules={name: dict(formula=RULES[name].formula, params=fit.rules[name].params,
                                  intervals={k: list(v) for k, v in fit.rules[name].intervals.items()},
                                  score=fit.rules[name].aicc, chi2=fit.rules[name].chi2,
                                  compared=name in COMPARED)
                       for name in ("power", *COMPARED)},
                score_name="AICc (lower is better)", preferred=fit.preferred,
                verdict=fit.verdict(label))


def _theory_exponent(batch_sizes, lr) -> float:
    return fit_rule("power", batch_sizes, lr).params["exponent"]


QUICK_MARK = "provisional (--quick run): "
"""Prefix of every verdict of a ``--quick`` run: fewer batch sizes, seeds and resamples than
the full study, whose verdicts it can contradict."""


def _provisional(study: dict) -> dict:
    """Mark every verdict of a study provisional (a ``--quick`` run)."""
    study["verdict"] = QUICK_MARK + study["verdict"]
    if "verdict" in study["steps_to_target"]:
        study["steps_to_target"]["verdict"] = QUICK_MARK + study["steps_to_target"]["verdict"]
    return study


def study_json(study: Study) -> dict:
    """The machine-readable summary of one study (``results.json``'s ``studies[model]``)."""
    ratio = study.result.spec.lrs.ratio if isinstance(study.result.spec.lrs, LRGrid) else None
    optima = []
    for i, (o, flat) in enumerate(zip(study.optima, study.flat, strict=True)):
        row = dict(batch_size=o.batch_size, lr=o.lr, subgrid_lr=o.subgrid_lr,
                   interval=list(o.interval), basin=list(o.basin), flat=flat, on_edge=o.on_edge,
                   best_loss=o.best_loss, robust_lr=o.robust_lr, seed_lrs=o.seed_lrs)
        if study.theory is not None:
            predicted = study.theory.finite_lr[i]
            row.update(theory_lr=predicted, theory_online_lr=study.theory.online_lr[i],
                       measured_over_predicted=o.subgrid_lr / predicted,
                       within_one_grid_step=(bool(abs(np.log(o.subgrid_lr / predicted))
                                                  <= np.log(ratio)) if ratio else None))
        optima.append(row)
    target = dict(target_loss=study.target_loss,
                  optima=[dict(batch_size=int(b), lr=lr, steps=s) for b, lr, s in
                          zip(study.batch_sizes, study.target_lr, study.target_steps, strict=True)])
    if study.target is not None:
        target.update(_fit_json(study.target, f"{study.label}, steps to target"))
    out = dict(label=study.label, spec=study.result.spec.to_dict(), criterion=(
        f"mean test loss over the last {study.result.spec.window} step(s), seed-mean, "
        f"{study.result.spec.steps} steps"), optima=optima,
        **_fit_json(study.horizon, study.label), steps_to_target=target, notes=study.notes)
    if study.theory is not None:
        th = study.theory
        out["theory"] = dict(
            horizon_exponent=_theory_exponent(study.batch_sizes, th.finite_lr),
            target_exponent=_theory_exponent(study.batch_sizes, th.target_lr),
            target_lr=th.target_lr, target_steps=th.target_steps,
            critical_batch_size=th.critical_batch_size)
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
    """
    settings = QUICK if quick else FULL
    specs = sweep_specs(settings["seeds"] if seeds is None else seeds, quick=quick, device=device)
    for spec in specs:
        spec.check_memory()
    with locked_directory(out) as root:
        return _write_report(root, specs, settings, quick, device, progress)


def results_schema() -> dict:
    """The JSON Schema (draft 2020-12) of ``results.json``, every field described.

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
    studies = []
    for k, spec in enumerate(specs, 1):
        _log(progress, f"[{k}/6] sweep {spec.model}: {len(spec.batch_sizes)} batch sizes x "
                       f"{len(spec.seeds)} seeds")
        result = run_sweep(spec, out=spec_directory(root / "sweeps", spec.model, spec.to_dict()),
                           progress=None if progress else False)
        studies.append(analyze(result, n_boot=settings["n_boot"]))
    _log(progress, "[4/6] theory: diagonal NQM and double descent")
    diagonal = diagonal_curves(settings["nqm_dim"], settings["nqm_batch_sizes"])
    sim = simulate_risk(500, settings["mc_ns"], (0.0, 0.04), trials=settings["mc_trials"])
    scaling = _scaling_section(root, quick, progress)
    _log(progress, "[6/6] figures and report")
    drawn = {}
    for s in studies:
        drawn[f"loss_vs_lr_{s.model}"] = figures.plot_loss_vs_lr(s)
        drawn[f"optimal_lr_{s.model}"] = figures.plot_optima(s)
    drawn["steps_to_target"] = figures.plot_steps_to_target(studies, diagonal)
    drawn["double_descent"] = figures.plot_double_descent(sim)
    paths = {name: figures.save_figure(fig, fig_dir, name) for name, fig in drawn.items()}

    results = dict(
        lrbs_version=version("lrbs"), created=datetime.datetime.now(datetime.UTC).isoformat(
            timespec="seconds"),
        settings=dict(seeds=list(specs[0].seeds), quick=quick, device=device),
        versions=_versions(),
        studies={s.model: _provisional(study_json(s)) if quick else study_json(s)
                 for s in studies},
        diagonal_nqm=dict(dim=diagonal["dim"], target=diagonal["target"],
                          batch_sizes=diagonal["batch_sizes"],
                          curves=diagonal["curves"]),
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
        _log(progress, "[5/6] scaling law: skipped (install the 'data' extra for scikit-learn)")
        return None
    from compare._scaling_report import run_scaling_law
    seeds = 1 if quick else SCALING_SEEDS
    _log(progress, f"[5/6] scaling law on digits: {seeds} seed(s)")
    return run_scaling_law(root / "scaling", seeds=seeds, quick=quick, progress=progress)


def _versions() -> dict:
    import matplotlib
    import scipy
    import torch
    return dict(python=platform.python_version(), numpy=np.__version__, scipy=scipy.__version__,
                torch=torch.__version__, matplotlib=matplotlib.__version__,
                platform=platform.platform())


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return (f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
            f'<figcaption>{html.escape(alt)}</figcaption></figure>')


def _num(v, digits: int = 3) -> str:
    if v is None:
        return "&ndash;"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    return f"{v:.{digits}g}"


def _table(headers, rows) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


CSS = """body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;
color:#222}table{border-collapse:collapse;margin:.8em 0;font-size:.9em}td,th{border:1px solid #ccc;
padding:.25em .6em;text-align:right}th{background:#f3f3f3}img{max-width:100%}figure{margin:1em 0}
figcaption{font-size:.85em;color:#555}.flat{background:#fff4d6}code{background:#f3f3f3;padding:0 .2em}
.verdict{font-weight:600}"""


def _scaling_html(scaling: dict | None, paths: dict) -> str:
    if scaling is None:
        return ("<h2>Scaling law on digits</h2><p>Not run: install the <code>data</code> extra "
                "(scikit-learn) for this section.</p>")
    from compare._scaling_report import format_law
    rows = [[r["width"], r["depth"], r["n_params"], _num(r["lr"]), _num(r["on_edge"]),
             _num(r["test_loss"], 4), _num(r["test_loss_sd"], 2), _num(r["test_accuracy"], 4)]
            for r in scaling["shapes"]]
    return "".join([
        "<h2>Scaling law on digits</h2>",
        f"<p>Every shape's learning rate tuned over a geometric grid ({len(scaling['spec']['seeds'])}"
        " seed(s); Adam, early stopping on the validation loss); the loss is the test "
        "cross-entropy of the best validation checkpoint at the tuned rate.</p>",
        "<pre>" + html.escape(format_law(scaling)) + "</pre>",
        _img(paths["scaling/scaling_law"]["png"], "Loss against parameter count with the fitted "
                                                  "law, its band and the extrapolation check"),
        _img(paths["scaling/lr_vs_width"]["png"], "Tuned learning rate against width"),
        _table(["width", "depth", "parameters", "tuned lr", "edge", "test loss", "sd over seeds",
                "test accuracy"], rows)])


def render_html(results: dict, studies: list[Study], paths: dict) -> str:
    """One self-contained page (figures embedded as PNG data) from ``results.json``'s content."""
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>lrbs report"
             f"</title><style>{CSS}</style></head><body>",
             "<h1>How should the learning rate scale with the batch size?</h1>",
             f"<p>lrbs {results['lrbs_version']}, {results['created']}; seeds "
             f"{', '.join(str(s) for s in results['settings']['seeds'])}"
             f"{' (quick run)' if results['settings']['quick'] else ''}. Every optimum is the "
             "sub-grid minimum of the seed-mean metric; intervals are 95% bootstrap intervals "
             "over seeds; rules are fitted in log space weighted by that spread, compared by "
             "AICc (lower is better).</p>", "<h2>Verdicts</h2>"]
    rows = []
    for st in results["studies"].values():
        tgt = st["steps_to_target"]
        rows.append([st["label"], "fixed horizon", _num(st["exponent"], 2),
                     f"[{_num(st['exponent_interval'][0], 2)}, {_num(st['exponent_interval'][1], 2)}]",
                     st["preferred"], html.escape(st["verdict"])])
        if "exponent" in tgt:
            rows.append([st["label"], "steps to target", _num(tgt["exponent"], 2),
                         f"[{_num(tgt['exponent_interval'][0], 2)}, "
                         f"{_num(tgt['exponent_interval'][1], 2)}]", tgt["preferred"],
                         html.escape(tgt["verdict"])])
    parts.append(_table(["study", "criterion", "exponent", "95% interval", "best rule", "verdict"],
                        rows))
    for s in studies:
        st = results["studies"][s.model]
        parts.append(f"<h2>{html.escape(s.label)}</h2><p class='verdict'>{html.escape(st['verdict'])}"
                     f"</p><p>Criterion: {html.escape(st['criterion'])}.</p>")
        parts.append(_img(paths[f"loss_vs_lr_{s.model}"]["png"],
                          f"Figure 1 ({s.label}): test loss against learning rate"))
        parts.append(_img(paths[f"optimal_lr_{s.model}"]["png"],
                          f"Figure 2 ({s.label}): optimal learning rate against batch size"))
        theory = s.theory is not None
        headers = ["B", "lr* (grid)", "lr* (sub-grid)", "95% interval", "basin (5% of excess)",
                   "flat", "edge", "best loss"]
        if theory:
            headers += ["theory lr*", "measured / predicted", "within one grid step"]
        rows = []
        for o in st["optima"]:
            row = [o["batch_size"], _num(o["lr"]), _num(o["subgrid_lr"]),
                   f"[{_num(o['interval'][0])}, {_num(o['interval'][1])}]",
                   f"[{_num(o['basin'][0])}, {_num(o['basin'][1])}]", _num(o["flat"]),
                   _num(o["on_edge"]), _num(o["best_loss"], 4)]
            if theory:
                row += [_num(o["theory_lr"]), _num(o["measured_over_predicted"]),
                        _num(o["within_one_grid_step"])]
            rows.append(row)
        parts.append(_table(headers, rows))
        flat = [o["batch_size"] for o in st["optima"] if o["flat"]]
        if flat:
            parts.append(f"<p class='flat'>Flat basin at B = {', '.join(map(str, flat))}: at least "
                         f"{FLAT_POINTS} grid rates lie within 5% of the best excess loss, so the "
                         "argmin within it is close to arbitrary; read the interval, not the "
                         "argmin.</p>")
        rules = [[name, html.escape(r["formula"]),
                  ", ".join(f"{k} = {_num(v)} [{_num(r['intervals'][k][0])}, "
                            f"{_num(r['intervals'][k][1])}]" for k, v in r["params"].items()),
                  _num(r["score"], 4)] for name, r in st["rules"].items() if r["compared"]]
        parts.append("<h3>Rules, fixed horizon</h3>" + _table(["rule", "formula", "parameters",
                                                              "AICc"], rules))
        for note in st["notes"]:
            parts.append(f"<p>Note: {html.escape(note)}</p>")
    parts.append("<h2>The criterion decides the exponent</h2>")
    rows = []
    for st in results["studies"].values():
        tgt = st["steps_to_target"]
        th = st.get("theory", {})
        rows.append([st["label"], _num(st["exponent"], 2), _num(tgt.get("exponent"), 2),
                     _num(th.get("horizon_exponent"), 2), _num(th.get("target_exponent"), 2)])
    parts.append(_table(["study", "measured, fixed horizon", "measured, steps to target",
                         "exact theory, fixed horizon", "exact theory, steps to target"], rows))
    parts.append("<p>With a fixed step budget the optimum trades the noise floor against "
                 "progress and grows only slowly with B; to reach a target loss in the fewest "
                 "steps the optimum grows about linearly with B until the curvature (stability) "
                 "limit caps it. The exact least-squares theory predicts both.</p>")
    parts.append(_img(paths["steps_to_target"]["png"],
                      "Figure 3: steps to target against batch size, measured and theory"))
    diag = results["diagonal_nqm"]
    parts.append(_table(["diagonal NQM optimizer", "critical batch size"],
                        [[k, _num(v["critical_batch_size"])] for k, v in diag["curves"].items()]))
    parts.append("<h2>Double descent and ridge</h2>")
    parts.append(_img(paths["double_descent"]["png"],
                      "Figure 4: ridgeless and ridge risk, formulas and Monte Carlo"))
    parts.append(_scaling_html(results.get("scaling_law"), paths))
    parts.append("<h2>Provenance</h2><pre>" + html.escape(json.dumps(
        dict(settings=results["settings"], versions=results["versions"],
             specs={m: st["spec"] for m, st in results["studies"].items()}), indent=1))
                 + "</pre></body></html>")
    return "\n".join(parts)
