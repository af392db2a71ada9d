"""A user's workload file broken in every way the audits found: one line, exit status 2.

Each file below is written into a scratch folder and swept with ``lrbs sweep --workload
FILE:factory``. The command must end with exit status 2 and one ``lrbs sweep: error:`` line
that names the file, the factory and what is wrong, without a traceback and without leaving a
result behind.
"""

from __future__ import annotations

import textwrap

import pytest

from compare.cli import main

HEADER = """
import sys
import numpy as np
import torch
from empirical import Workload

g = torch.Generator().manual_seed(0)
x = torch.randn(64, 3, generator=g)
y = x @ torch.ones(3, 1)


def init(seed):
    return {"w": torch.zeros(3, 1)}


def mse(params, batch):
    inputs, targets = batch
    return torch.mean((inputs @ params["w"] - targets) ** 2)
"""

BROKEN = {
    # name: (the factory's body, what the message must say)
    "module instead of workload": ("return torch.nn.Linear(3, 1)", "returned Linear"),
    "integer parameters": ("""return Workload("w", lambda s: {"w": torch.zeros(3, 1, dtype=torch.long)},
                        mse, (x, y), (x, y))""", "floating-point"),
    "numpy data": ("return Workload('w', init, mse, (x.numpy(), y.numpy()), (x, y))",
                   "got ndarray"),
    "item in the loss": ("""return Workload("w", init,
                        lambda p, b: torch.tensor(mse(p, b).item()), (x, y), (x, y))""",
                         "vmap"),
    "float labels for cross-entropy": ("""return Workload("w", init,
        lambda p, b: torch.nn.functional.cross_entropy(b[0] @ p["w"].expand(3, 4), b[1][:, 0]),
        (x, y), (x, y))""", "loss(params, batch) raised"),
    "loss per example": ("""return Workload("w", init,
        lambda p, b: (b[0] @ p["w"] - b[1]) ** 2, (x, y), (x, y))""", "scalar tensor"),
    "exits": ("sys.exit(0)", "sys.exit(0)"),
    "raises": ("raise RuntimeError('no GPU here')", "raised RuntimeError: no GPU here"),
    "needs an argument": ("return None", "raised TypeError"),
    "mismatched features": ("return Workload('w', init, mse, (torch.randn(64, 5), y), (x, y))",
                            "raised RuntimeError"),
    "nan data": ("return Workload('w', init, mse, (x * float('nan'), y), (x, y))",
                 "train[0] holds nan"),
    "nan loss": ("""return Workload("w", init,
        lambda p, b: mse(p, b) * float("nan"), (x, y), (x, y))""", "not finite"),
}


def _write(tmp_path, name: str, body: str) -> str:
    factory = "def factory(n):" if name == "needs an argument" else "def factory():"
    text = HEADER + "\n\n" + factory + "\n" + textwrap.indent(textwrap.dedent(body), "    ")
    (tmp_path / "broken.py").write_text(text + "\n")
    return "broken.py:factory"


def _sweep(reference: str, capsys) -> tuple[int, list[str]]:
    try:
        status = main(["sweep", "--workload", reference, "--batch-sizes", "4,8", "--lrs",
                       "0.01,0.1", "--steps", "5", "--quiet", "--out", "result"])
    except SystemExit as exc:
        status = exc.code
    return status, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_workload_is_one_line(name, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    reference = _write(tmp_path, name, BROKEN[name][0])
    status, err = _sweep(reference, capsys)
    assert status == 2, err
    assert len(err) == 1 and err[0].startswith("lrbs sweep: error: workload "), err
    assert "broken.py:factory" in err[0] and BROKEN[name][1] in err[0], err[0]
    assert not (tmp_path / "result").exists()


@pytest.mark.parametrize("body,reference,named", [
    ("x = 1", "broken.py:missing", "'file.py:factory'"),
    ("x = 1", "broken.py", "'file.py:factory'"),
    ("def factory(:\n    pass", "broken.py:factory", "SyntaxError"),
    ("x = 1", "elsewhere.py:factory", "no file"),
])
def test_broken_reference_is_one_line(body, reference, named, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.py").write_text(body + "\n")
    status, err = _sweep(reference, capsys)
    assert status == 2 and len(err) == 1 and named in err[0], err


def test_a_file_imports_its_neighbour(tmp_path, monkeypatch, capsys):
    """The file's folder is importable, whatever the current directory."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "helper_for_lrbs_test.py").write_text(HEADER + "\nDATA = (x, y)\n")
    (folder / "wl.py").write_text(
        "from helper_for_lrbs_test import DATA, init, mse\nfrom empirical import Workload\n\n"
        "def factory():\n    return Workload('w', init, mse, DATA, DATA)\n")
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "--workload", "mine/wl.py:factory", "--batch-sizes", "4",
                 "--lrs", "0.01,0.1", "--steps", "5", "--quiet"]) == 0


def test_an_edited_workload_is_not_resumed(tmp_path, monkeypatch, capsys):
    """Sweep into a folder, change the data in the file, sweep again: refused, not reused."""
    monkeypatch.chdir(tmp_path)
    body = "return Workload('w', init, mse, (x, y), (x, y))"
    reference = _write(tmp_path, "fine", body)
    argv = ["sweep", "--workload", reference, "--batch-sizes", "4", "--lrs", "0.01,0.1",
            "--steps", "5", "--quiet", "--out", "result"]
    assert main(argv) == 0
    capsys.readouterr()
    (tmp_path / "broken.py").write_text((tmp_path / "broken.py").read_text().replace(
        "x @ torch.ones(3, 1)", "x @ torch.ones(3, 1) + 1.0"))
    from empirical.problems import _loading
    from empirical.sweep import _spec
    _loading._load_workload.cache_clear()           # a new process would load the new file
    _spec._fingerprint.cache_clear()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "fingerprint" in err and err.count("\n") == 1, err
