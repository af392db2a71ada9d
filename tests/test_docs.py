"""The docs: every gallery example runs, draws and ends with a conclusion (CI also builds the site)."""

import re
import runpy
from pathlib import Path

import pytest
from matplotlib.figure import Figure

DOCS = Path(__file__).resolve().parents[1] / "docs"
EXAMPLES = sorted((DOCS / "examples").glob("plot_*.py"))


def test_the_gallery_has_the_seventeen_topics():
    assert [p.stem for p in EXAMPLES] == ["plot_adam_annealing", "plot_adam_sde", "plot_adam_surge",
                                          "plot_diagonal_nqm", "plot_double_descent",
                                          "plot_greedy_rate",
                                          "plot_least_squares", "plot_mlp_adam", "plot_mlp_sgd",
                                          "plot_noise_scale", "plot_own_model", "plot_scalar_nqm",
                                          "plot_scaling_framework", "plot_scaling_law",
                                          "plot_stability_edge",
                                          "plot_temperature", "plot_trajectories"]


def test_the_gallery_reading_order_names_every_example():
    """docs/conf.py's ReadingOrder sorts the gallery: an example missing from it fails the
    docs build."""
    import ast
    tree = ast.parse((EXAMPLES[0].parents[1] / "conf.py").read_text())
    order = next(node.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                 and getattr(node.targets[0], "id", None) == "ORDER")
    assert sorted(ast.literal_eval(order)) == sorted(p.name for p in EXAMPLES)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs_draws_and_concludes(path):
    namespace = runpy.run_path(str(path), run_name="__main__")
    assert any(isinstance(v, Figure) for v in namespace.values())
    text = path.read_text()
    assert "# %%" in text and re.search(r"# Conclusion\n# -+\n", text)


@pytest.mark.parametrize("package", ["nqm", "empirical", "compare"])
def test_every_public_object_points_to_its_relatives(package):
    """DESIGN: every public function or class has a numpydoc "See Also" section."""
    import importlib
    import inspect

    module = importlib.import_module(package)
    missing = [name for name in module.__all__
               if (inspect.isfunction(getattr(module, name))
                   or inspect.isclass(getattr(module, name)))
               and "See Also\n--------" not in (inspect.getdoc(getattr(module, name)) or "")]
    assert not missing

