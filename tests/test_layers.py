"""The shape of the house: no import circle anywhere, layers that import downward only, small files.

Every ``import`` and ``from ... import`` of the three packages counts, at module level or inside
a function (a lazy import is still a dependency). See ``DESIGN.md``, "Layout".
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nqm", "empirical", "compare")
LAYERS = {
    "empirical": ("_core", "problems", "train", "sweep", "probes", "scaling"),
    "compare": ("fit", "style", "analysis", "studies", "report"),
}
"""Each package's subfolders, lowest first: a module may import from its own subfolder and the
ones before it; the package's top-level modules (its front, the command line) sit above all."""
MAX_LINES = 500


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> dict[str, Path]:
    return {_module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def _imports(name: str, path: Path, modules) -> set[str]:
    """The modules of the three packages (and the outside packages) that ``name`` imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return found


def import_graph(sources: dict[str, Path] | None = None) -> dict[str, set[str]]:
    """Module -> the modules of the three packages it imports, and the outside top-level
    packages prefixed with ``"external:"``."""
    sources = _sources() if sources is None else sources
    graph = {}
    for name, path in sources.items():
        edges = set()
        for target in _imports(name, path, sources):
            if target.split(".")[0] in PACKAGES:
                while target not in sources:          # a name inside a module: the module
                    target = target.rpartition(".")[0]
                if target != name:
                    edges.add(target)
            else:
                edges.add("external:" + target.split(".")[0])
        graph[name] = edges
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _layer(name: str) -> str | None:
    """The subfolder a module lives in (its own name for a subfolder's ``__init__``); ``None``
    for the package's front and its top-level modules."""
    package, *rest = name.split(".")
    if package not in LAYERS or not rest or (len(rest) == 1 and rest[0] not in LAYERS[package]):
        return None
    return rest[0]


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import that goes up a layer: from a subfolder to a later one, or to the package's
    own top level; and every subfolder that is not a known layer."""
    problems = []
    for name, edges in graph.items():
        package, layer = name.split(".")[0], _layer(name)
        if layer is None:
            continue                                  # the package front or a top-level module
        layers = LAYERS[package]
        if layer not in layers:
            problems.append(f"{name}: subfolder {layer!r} is not a layer of {package}")
            continue
        for target in sorted(edges):
            if target.split(".")[0] != package:
                continue
            above = _layer(target)
            if above is None:
                problems.append(f"{name} imports {target}, above every layer")
            elif above in layers and layers.index(above) > layers.index(layer):
                problems.append(f"{name} ({layer}) imports {target} ({above}), a layer up")
    return problems


def test_no_import_circle_anywhere():
    assert circles(import_graph()) == []


def test_layers_import_downward_only():
    assert upward_imports(import_graph()) == []


def test_packages_depend_one_way():
    """``nqm`` <- ``compare`` -> ``empirical``: nqm needs no torch, empirical never asks compare."""
    for name, edges in import_graph().items():
        if name.startswith("nqm"):
            assert not {"external:torch", *(e for e in edges if e.split(".")[0] in
                                            ("empirical", "compare"))} & edges, name
        if name.startswith("empirical"):
            assert not [e for e in edges if e.startswith("compare")], name


def test_no_file_holds_two_ideas():
    long = {name: n for name, path in _sources().items()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}, f"past {MAX_LINES} lines: {long}"


@pytest.mark.parametrize("edges,expected", [
    ({"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}}, [["a.x", "a.y", "a.z"]]),
    ({"a.x": {"a.y"}, "a.y": set()}, []),
])
def test_circles_are_found(edges, expected):
    assert circles(edges) == expected


def test_an_upward_import_is_found():
    graph = {"compare.fit._fits": {"compare.studies._base"}, "compare.report._run":
             {"compare.fit._fits"}, "empirical.train._mlp": {"empirical"},
             "empirical.attic._old": set(), "compare.fit": {"compare.style._figures"}}
    assert upward_imports(graph) == [
        "compare.fit._fits (fit) imports compare.studies._base (studies), a layer up",
        "empirical.train._mlp imports empirical, above every layer",
        "empirical.attic._old: subfolder 'attic' is not a layer of empirical",
        "compare.fit (fit) imports compare.style._figures (style), a layer up"]
