"""What every study shares: the context it runs in, the summary it returns, the registry.

A study is a module of :mod:`compare.studies` with one small face (:class:`StudyModule`):
``run(context) -> Summary`` measures, predicts and compares; ``sentences(data)`` says what its
``results.json`` entry shows; ``figures(summary)`` draws it; ``html(results, figure)`` is its
section of the report; its JSON Schema fragment sits beside it as ``<module>.schema.json``.
The report page, ``results.json``, the README's answer, the docs page of each study and
``lrbs run --only`` are loops over :func:`registered` studies, so a new study is a new module
(with its schema fragment, tests and docs page) and nothing else.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from compare.analysis._optima import Study, analyze, sweep_key
from compare.analysis._paths import seed_tuple, spec_directory
from empirical import MODELS, LRGrid, SweepSpec, run_sweep

FULL = dict(batch_sizes=(2, 4, 16, 64, 256, 1024, 2048), seeds=5, n_boot=200, mc_trials=8,
            hessian_batches=5, edge_rounds=6,
            mc_ns=(100, 200, 300, 400, 450, 475, 525, 550, 600, 700, 850, 1000),
            nqm_dim=1000, nqm_batch_sizes=tuple(2**k for k in range(13)))
"""The settings of ``lrbs run``."""
QUICK = dict(batch_sizes=(2, 8, 32, 256, 2048), seeds=2, n_boot=50, mc_trials=2,
             hessian_batches=2, edge_rounds=4,
             mc_ns=(100, 250, 400, 475, 525, 600, 800, 1000),
             nqm_dim=40, nqm_batch_sizes=tuple(4**k for k in range(6)))
"""The settings of ``lrbs run --quick``."""


REFINE = 4
"""The shared sweeps add rates a quarter of a grid step apart around each optimum
(``SweepSpec.refine``): there the sub-grid estimate errs by under 0.1% on the exact
least-squares curves, against up to 1.9% on the 1.25 grid alone."""


ADAM_THEORY_BETAS = (0.9, 0.999)
"""The betas the Adam theories assume (and PyTorch's default): a fourth sweep runs Adam with
them beside the notebook's (0.5, 0.5), which stays as the parity study."""


def sweep_specs(seeds, *, quick: bool = False, device: str = "cpu") -> list[SweepSpec]:
    """The sweeps of the study: the three shared ones (least squares, the MLP with SGD, the
    MLP with the notebook's Adam) and the MLP with Adam at :data:`ADAM_THEORY_BETAS`; geometric
    grid 1e-3 * 1.25^k that extends itself, refined around each optimum (:data:`REFINE`).

    ``seeds`` is a count ``K`` (seeds ``0..K-1``) or a sequence of seeds.
    """
    sizes = (QUICK if quick else FULL)["batch_sizes"]
    common = dict(steps=100, seeds=seed_tuple(seeds), device=device, refine=REFINE)
    return [*(SweepSpec(model, sizes, LRGrid(), **common) for model in MODELS),
            SweepSpec("mlp-adam", sizes, LRGrid(), adam_betas=ADAM_THEORY_BETAS, **common)]


@dataclass
class Context:
    """Where and how the studies of one ``lrbs run`` run, and what they share.

    Attributes
    ----------
    root : Path
        The report's folder (locked while the run lasts).
    specs : list of SweepSpec
        The sweeps (:func:`sweep_specs`); :meth:`sweeps` runs (or resumes) and analyses each
        once, when a study first asks for it.
    settings : dict
        :data:`FULL` or :data:`QUICK`.
    quick : bool
    device : str
    progress : bool
        Stage messages and progress bars on stderr.
    shares_sweeps : bool
        Whether :meth:`sweeps` may run: false in the helper process of
        :func:`compare.report._second_core.second_core`, which runs only the studies whose
        ``USES_SWEEPS`` is false.
    """

    root: Path
    specs: list
    settings: dict
    quick: bool = False
    device: str = "cpu"
    progress: bool = True
    shares_sweeps: bool = True
    sweep_directories: dict = field(default_factory=dict)
    _studies: dict = field(default_factory=dict, repr=False)

    def log(self, message: str) -> None:
        if self.progress:
            print(message, file=sys.stderr, flush=True)

    def sweeps(self, *, adam_theory: bool = False) -> list[Study]:
        """The three shared sweeps (one per model), and with ``adam_theory`` also Adam at
        :data:`ADAM_THEORY_BETAS`: run or resumed under ``root/sweeps/`` and analysed, each once
        per run."""
        if not self.shares_sweeps:
            raise RuntimeError("this study runs beside the sweeps (its USES_SWEEPS is False) "
                               "but asked for them")
        studies = []
        for spec in self.specs:
            if spec.adam_betas is not None and not adam_theory:
                continue
            key = sweep_key(spec.model, spec.adam_betas)
            if key not in self._studies:
                self.log(f"  sweep {key}: {len(spec.batch_sizes)} batch sizes x "
                         f"{len(spec.seeds)} seeds")
                directory = spec_directory(self.root / "sweeps", key, spec.to_dict())
                self.sweep_directories[key] = directory
                result = run_sweep(spec, out=directory, progress=None if self.progress else False)
                self._studies[key] = analyze(result, n_boot=self.settings["n_boot"])
            studies.append(self._studies[key])
        return studies


def has_data_extra(context: Context) -> bool:
    """Whether scikit-learn (the optional ``data`` extra, the digits) is installed; a study
    that needs it logs that it is skipped otherwise and returns ``Summary(None)``, which the
    page reports as not run."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        context.log("  skipped: install the 'data' extra for scikit-learn")
        return False
    return True


@dataclass
class Summary:
    """What a study's ``run`` returns.

    Attributes
    ----------
    data : dict or None
        Its entry of ``results.json`` (under the module's ``KEY``); ``None`` where it could not
        run (a missing optional dependency), said so on the page.
    detail : object
        What its ``figures`` draws from (not saved).
    files : dict
        Figures its ``run`` already wrote elsewhere, name -> extension -> path, for the page.
    """

    data: dict | None
    detail: Any = None
    files: dict = field(default_factory=dict)


class StudyModule(Protocol):
    """The face of a study module (the module itself is the study).

    Three parts are optional: ``answer_html(data) -> str``, the study's part of the page's
    opening answer, and ``readme(data) -> str``, its block of the README's answer (only the
    optimal-lr study has them today); and ``SECONDS``, the time a full run of a study that
    runs beside the sweeps takes, so the second core starts the longest first.
    """

    NAME: str                       # for ``lrbs run --only`` and its docs page
    KEY: str                        # its key in results.json
    TITLE: str
    ORDER: int                      # its place in the report
    USES_SWEEPS: bool               # whether ``run`` calls ``context.sweeps()``
    REFERENCES: tuple

    def run(self, context: Context) -> Summary: ...

    def sentences(self, data: dict) -> list[str]: ...

    def figures(self, summary: Summary) -> dict: ...

    def html(self, results: dict, figure: Callable[[str, str], str]) -> str: ...


def registered() -> list[StudyModule]:
    """Every study module of :mod:`compare.studies` (public modules with a ``run``), in report
    order."""
    package = importlib.import_module("compare.studies")
    modules = [importlib.import_module(f"compare.studies.{info.name}")
               for info in pkgutil.iter_modules(package.__path__) if not info.name.startswith("_")]
    return sorted((m for m in modules if hasattr(m, "run")), key=lambda m: m.ORDER)


def select(names) -> list[StudyModule]:
    """The registered studies named in ``names`` (all when ``None``), in report order; a
    ``ValueError`` naming the choices for an unknown name."""
    studies = registered()
    if names is None:
        return studies
    known = {s.NAME: s for s in studies}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown study {', '.join(map(repr, unknown))}; choose from "
                         f"{', '.join(known)}")
    return [s for s in studies if s.NAME in set(names)]


def schema_fragment(study: StudyModule) -> dict:
    """The study's ``results.json`` schema: ``property`` (its entry) and its ``$defs``."""
    name = study.__name__.rpartition(".")[2]
    return json.loads(resources.files("compare.studies").joinpath(f"{name}.schema.json")
                      .read_text())
