"""Sphinx configuration: a gallery from docs/examples, a page per study (``docs/studies/``, the
numbers of each from ``docs/results.json`` through the study's own ``sentences``), and two
pages generated at build time: the API reference (a page per package, every name of its ``__all__``)
and the sympy derivations of :mod:`nqm.symbolic`."""

from __future__ import annotations

import importlib
import inspect
import json
import re
from pathlib import Path

from matplotlib.figure import Figure

from compare.studies._base import registered
from nqm import symbolic

project = "lrbs"
author = "the lrbs developers"
# math renders offline: sphinx-mathjax-offline (from the package index) copies MathJax into
# _static/ and points mathjax_path at it, so no page loads a script from a CDN
extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "sphinx.ext.mathjax",
              "sphinx-mathjax-offline",
              "sphinx.ext.viewcode", "numpydoc", "sphinx_gallery.gen_gallery", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
numpydoc_show_class_members = False
autosummary_generate = False           # tables only: each name is documented on its package page
# numpydoc validation, warnings as errors in the build: every check except those listed, which
# the docstrings do not follow (an extended summary, Examples, See Also, Returns and every
# dataclass field as a parameter on each name; summaries in the third person and closing quotes
# on the last line are the house style)
numpydoc_validation_checks = {"all", "ES01", "EX01", "SA01", "PR01", "PR07", "RT01", "RT03",
                              "SS03", "SS05", "SS06", "GL02", "GL07"}
numpydoc_validation_exclude = {r"\.symbolic\.m$",            # a sympy function symbol
                               r"^compare\.RULES$", r"^empirical\.MODELS$",
                               r"^nqm\.symbolic\.DERIVATIONS$"}   # data: the type's docstring
autodoc_default_options = {"members": True, "inherited-members": False}
html_theme = "pydata_sphinx_theme"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
html_static_path = ["_static"]
html_css_files = ["wrap.css"]          # the gallery's printed sentences wrap
exclude_patterns = ["_build", "examples", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "studies/_results"]
suppress_warnings = ["config.cache"]


def figure_scraper(block, block_vars, gallery_conf):
    """Collect the :class:`matplotlib.figure.Figure` objects an example cell created.

    The package draws with matplotlib's object API (no pyplot state), so the default scraper
    would see nothing; this one saves every new Figure found in the example's namespace.
    """
    from sphinx_gallery.scrapers import figure_rst
    shown = gallery_conf.setdefault("_lrbs_shown", set())
    paths = []
    for value in list(block_vars["example_globals"].values()):
        if isinstance(value, Figure) and id(value) not in shown:
            shown.add(id(value))
            path = next(block_vars["image_path_iterator"])
            value.savefig(path, dpi=90, bbox_inches="tight")
            paths.append(path)
    return figure_rst(paths, gallery_conf["src_dir"])


class ReadingOrder:
    """The gallery in reading order: the scalar model first, then what builds on it."""

    ORDER = ("plot_scalar_nqm.py", "plot_diagonal_nqm.py", "plot_least_squares.py",
             "plot_mlp_sgd.py", "plot_mlp_adam.py", "plot_own_model.py", "plot_stability_edge.py",
             "plot_noise_scale.py", "plot_trajectories.py", "plot_greedy_rate.py",
             "plot_temperature.py", "plot_adam_surge.py",
             "plot_adam_sde.py", "plot_adam_annealing.py", "plot_scaling_law.py",
             "plot_scaling_framework.py",
             "plot_double_descent.py")

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename: str) -> int:
        return self.ORDER.index(filename)


sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "within_subsection_order": ReadingOrder,
    "capture_repr": (),                  # only what an example prints, no stray object reprs
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "ignore_pattern": r"(__init__|digits_cnn)\.py",   # the user's workload file, shown whole
    "image_scrapers": (figure_scraper,),
    "download_all_examples": False,
    "remove_config_comments": True,
}


def _write_derivations() -> None:
    """Every derivation of :mod:`nqm.symbolic`, evaluated, as ``derivations.rst``."""
    lines = ["Derivations", "===========", "",
             "Each closed form of :mod:`nqm` derived with sympy by :mod:`nqm.symbolic`; this page is",
             "generated at build time by running every derivation and recording its steps",
             "(:func:`nqm.symbolic.steps`), then its result.", ""]
    for derivation in symbolic.DERIVATIONS:
        title = derivation.__name__
        doc = inspect.getdoc(derivation) or ""
        lines += [title, "-" * len(title), "", f":func:`nqm.symbolic.{title}`", "", doc, ""]
        for k, (what, expr) in enumerate(symbolic.steps(derivation), 1):
            lines += [f"**Step {k}**: {what}.", "", ".. math::", "",
                      f"   {symbolic.latex_of(expr)}", ""]
        lines += ["**Result**:", ""]
        for latex in symbolic.as_latex(derivation):
            lines += [".. math::", "", f"   {latex}", ""]
    Path(__file__).with_name("derivations.rst").write_text("\n".join(lines))


API_PACKAGES = ("nqm", "empirical", "compare", "empirical.files")
"""The packages the API reference documents, a page each."""


def _api_entry(package: str, name: str, obj) -> list[str]:
    """The autodoc directive of one public name."""
    if inspect.ismodule(obj):
        return [f".. automodule:: {obj.__name__}", "   :members:", ""]
    if inspect.isclass(obj):
        # methods a class takes from its package's own mixins (DiagonalNQM's) are its own
        root = package.split(".")[0]
        mixins = [c.__name__ for c in obj.__mro__[1:] if c.__module__.startswith(root)]
        return [f".. autoclass:: {package}.{name}", "   :members:",
                *(["   :inherited-members:"] if mixins else []), ""]
    if callable(obj):
        return [f".. autofunction:: {package}.{name}", ""]
    return [f".. autodata:: {package}.{name}", "   :annotation:", ""]


def _write_api() -> None:
    """A page per package (``api/NAME.rst``): a summary table of every name in its ``__all__``
    (the first line of each docstring), then each in full; so the reference cannot fall
    behind the code."""
    out = Path(__file__).with_name("api")
    out.mkdir(exist_ok=True)
    index = ["API reference", "=============", "",
             "Every public name of each package, from its docstring: a summary table first, then "
             "each name in full.", "", ".. toctree::", "   :maxdepth: 1", ""]
    for package in API_PACKAGES:
        module = importlib.import_module(package)
        index.append(f"   {package}")
        title = f"``{package}``"
        lines = [title, "=" * len(title), "", f".. automodule:: {package}", "   :no-members:", "",
                 ".. autosummary::", "   :nosignatures:", ""]
        lines += [f"   {name}" for name in module.__all__] + [""]       # in the automodule
        for name in module.__all__:
            lines += _api_entry(package, name, getattr(module, name))
        (out / f"{package}.rst").write_text("\n".join(lines))
    (out / "index.rst").write_text("\n".join(index) + "\n")


def _markdown_escape(text: str) -> str:
    """``text`` as literal Markdown: its emphasis, code and table characters escaped."""
    return re.sub(r"([*_`|<>\\[\]])", r"\\\1", text)


def _write_study_results() -> None:
    """Each study's sentences of the stored full run, as ``studies/_results/NAME.md`` (included
    by the study's page), from the study's own ``sentences``: one loop over the studies."""
    results = json.loads(Path(__file__).with_name("results.json").read_text())
    out = Path(__file__).parent / "studies" / "_results"
    out.mkdir(exist_ok=True)
    for study in registered():
        data = results.get(study.KEY)
        lines = [f"From the full `lrbs run` of {results['created'][:10]} (`docs/results.json`, "
                 f"{results['provenance']['run_seconds']:.0f} s):", ""]
        sentences = study.sentences(data) if data is not None else []
        lines += ["- " + _markdown_escape(line) for line in sentences] or [
            "(this study is not in that run)"]
        (out / f"{study.NAME}.md").write_text("\n".join(lines) + "\n")


def _write_full_scaling_results() -> None:
    """The sentences of the stored ``lrbs scaling-law --full`` run, as
    ``studies/_results/NAME-full.md`` for each study besides the law that it holds (the nuisance
    and muP studies on their full grids), from the study's own ``sentences``."""
    full = json.loads(Path(__file__).with_name("scaling_law_full.json").read_text())
    out = Path(__file__).parent / "studies" / "_results"
    for study in registered():
        if study.KEY == "scaling_law" or full.get(study.KEY) is None:
            continue
        lines = [f"From `lrbs scaling-law --full` of {full['created'][:10]} "
                 "(`docs/scaling_law_full.json`):", ""]
        lines += ["- " + _markdown_escape(line) for line in study.sentences(full[study.KEY])]
        (out / f"{study.NAME}-full.md").write_text("\n".join(lines) + "\n")


_write_derivations()
_write_api()
_write_study_results()
_write_full_scaling_results()
