"""Sphinx configuration: API reference from the docstrings, a gallery from docs/examples, and a
page of the sympy derivations generated from :mod:`nqm.symbolic` at build time."""

from __future__ import annotations

import inspect
from pathlib import Path

from matplotlib.figure import Figure

from nqm import symbolic

project = "lrbs"
author = "the lrbs developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.mathjax", "sphinx.ext.viewcode", "numpydoc",
              "sphinx_gallery.gen_gallery"]
numpydoc_show_class_members = False
numpydoc_validation_checks: set = set()
autodoc_default_options = {"members": True, "inherited-members": False}
html_theme = "alabaster"
exclude_patterns = ["_build", "examples", "auto_examples/*.ipynb", "auto_examples/*.py"]
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


sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "image_scrapers": (figure_scraper,),
    "download_all_examples": False,
    "remove_config_comments": True,
}


def _write_derivations() -> None:
    lines = ["Derivations", "===========", "",
             "Each closed form of :mod:`nqm` derived with sympy by :mod:`nqm.symbolic`; this page is",
             "generated at build time by evaluating every derivation.", ""]
    for derivation in symbolic.DERIVATIONS:
        title = derivation.__name__
        doc = inspect.getdoc(derivation) or ""
        lines += [title, "-" * len(title), "", f":func:`nqm.symbolic.{title}`", "", doc, ""]
        for latex in symbolic.as_latex(derivation):
            lines += [".. math::", "", f"   {latex}", ""]
    Path(__file__).with_name("derivations.rst").write_text("\n".join(lines))


_write_derivations()
