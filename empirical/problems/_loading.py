"""A user's workload from a reference: loaded, tried once as the sweep will run it, fingerprinted.

Everything that can go wrong in a user's file (no such file, a syntax error, a factory that
raises, exits or returns the wrong thing, data that are not tensors or hold nan, a loss that
is not a scalar or fails under ``torch.func.vmap``) becomes one :class:`WorkloadError` line
that names the reference and what is wrong, before any run starts.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path

import torch
from torch.func import grad, vmap

from empirical._core.arguments import checked, kind
from empirical._core.checks import is_workload_reference
from empirical.problems._workload import Workload


class WorkloadError(ValueError):
    """A workload that cannot be swept: the message names its reference and what is wrong.

    See Also
    --------
    load_workload : Raises it.
    check_workload : Raises it.
    """


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def load_workload(reference: str) -> Workload:
    """The workload a reference names: ``"package.module:factory"`` or ``"path/file.py:factory"``.

    ``factory`` is called without arguments and must return a :class:`Workload`. A module is
    imported with the current directory on the import path (as ``python -m`` would); a file
    is loaded directly, with its own folder on the import path (so that it can import a
    module beside it). The workload is then tried once as a sweep runs it
    (:func:`check_workload`). Each reference is loaded once per process.

    Raises
    ------
    WorkloadError
        A ``ValueError`` whose one-line message names the reference and what is wrong: it is
        malformed, its file or module or factory cannot be found or raises, or the workload
        fails :func:`check_workload`.

    See Also
    --------
    Workload : What the factory returns.
    SweepSpec : Takes the reference as its ``model``.
    """
    if not isinstance(reference, str):
        raise TypeError(f"reference must be a str 'package.module:factory' or "
                        f"'file.py:factory', got {type(reference).__name__} {reference!r:.60}")
    return _load_workload(reference)


@functools.cache
def _load_workload(reference: str) -> Workload:
    if not is_workload_reference(reference):
        raise WorkloadError(f"a workload reference is 'package.module:factory' or "
                            f"'file.py:factory' (the factory after the last colon), got "
                            f"{reference!r}")
    where, _, attr = reference.rpartition(":")
    if where.endswith(".py"):
        module = _from_file(reference, Path(where))
    else:
        if "" not in sys.path and str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))
        try:
            module = importlib.import_module(where)
        except Exception as exc:          # noqa: BLE001 - any failure of the user's module
            raise WorkloadError(f"workload {reference!r}: cannot import {where!r} "
                                f"({_first_line(exc)})") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise WorkloadError(f"workload {reference!r}: {where!r} has no callable {attr!r}; "
                            "the reference is 'file.py:factory' with factory() returning an "
                            "empirical.Workload")
    try:
        workload = factory()
    except SystemExit as exc:
        raise WorkloadError(f"workload {reference!r}: {attr}() called sys.exit({exc.code!r}) "
                            "instead of returning a Workload") from None
    except Exception as exc:              # noqa: BLE001 - the user's factory, whatever it raises
        raise WorkloadError(f"workload {reference!r}: {attr}() raised "
                            f"{_first_line(exc)}") from None
    if not isinstance(workload, Workload):
        raise WorkloadError(f"workload {reference!r}: {attr}() returned "
                            f"{type(workload).__name__}, not an empirical.Workload (wrap a "
                            "module with Workload.from_module)")
    check_workload(workload, reference)
    return workload


def _from_file(reference: str, path: Path):
    if not path.is_file():
        raise WorkloadError(f"workload {reference!r}: no file {str(path)!r} (a relative path "
                            f"is read from {str(Path.cwd())!r})")
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)            # the file's own imports of its neighbours
    spec = importlib.util.spec_from_file_location(f"_lrbs_workload_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SystemExit as exc:
        raise WorkloadError(f"workload {reference!r}: loading {path.name} called "
                            f"sys.exit({exc.code!r})") from None
    except Exception as exc:              # noqa: BLE001 - a syntax error, a failing import, ...
        raise WorkloadError(f"workload {reference!r}: loading {path.name} raised "
                            f"{_first_line(exc)}") from None
    return module


@checked(workload=kind(Workload), where=kind(str))
def check_workload(workload: Workload, where: str) -> None:
    """Try a workload once as a sweep runs it; a :class:`WorkloadError` naming ``where`` if not.

    Checks that the data are finite, that ``init(0)`` gives floating-point tensors, that the
    loss and the metric of those parameters on two examples are finite scalar tensors, and
    that the loss's gradient works under ``torch.func.vmap`` over a stack of runs.

    See Also
    --------
    load_workload : Calls it on every workload it loads.
    """
    prefix = f"workload {where!r}"
    for attr in ("train", "test"):
        for i, t in enumerate(getattr(workload, attr)):
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                raise WorkloadError(f"{prefix}: {attr}[{i}] holds nan or inf")
    try:
        params = workload.parameters(0)
    except Exception as exc:              # noqa: BLE001 - the user's init
        raise WorkloadError(f"{prefix}: init(0) failed: {_first_line(exc)}") from None
    few = (tuple(t[:2] for t in workload.train), tuple(t[:2] for t in workload.test))
    for label, function, batch in (("loss", workload.loss, few[0]),
                                   ("metric", workload.measure, few[1])):
        try:
            value = function(params, batch)
        except Exception as exc:          # noqa: BLE001 - the user's loss
            raise WorkloadError(f"{prefix}: {label}(params, batch) raised "
                                f"{_first_line(exc)}") from None
        if not isinstance(value, torch.Tensor) or value.ndim != 0:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise WorkloadError(f"{prefix}: {label}(params, batch) must return a scalar tensor "
                                f"(the mean over the batch), got {shape}")
        if not bool(torch.isfinite(value)):
            raise WorkloadError(f"{prefix}: {label} at the initial parameters is "
                                f"{float(value)}, not finite")
    stacked = {k: v[None] for k, v in params.items()}
    try:
        vmap(grad(workload.loss), in_dims=(0, None))(stacked, few[0])
    except Exception as exc:              # noqa: BLE001 - the user's loss under vmap
        raise WorkloadError(f"{prefix}: the loss's gradient fails under torch.func.vmap (the "
                            f"sweep runs every rate at once): {_first_line(exc)}; no .item(), "
                            "no data-dependent Python control flow, no in-place updates") from None


def workload_fingerprint(workload: Workload, reference: str) -> str:
    """SHA-256 of what a sweep's numbers depend on: the workload file's (or module's) source,
    the data, the initial parameters of seed 0 and the optimizer.

    A sweep records it, so that an edited workload is never resumed from old results and the
    processes of a distributed sweep can be checked to train the same workload.
    """
    digest = hashlib.sha256()
    where = reference.rpartition(":")[0]
    source = Path(where) if where.endswith(".py") else None
    if source is None:
        module = sys.modules.get(where)
        file = getattr(module, "__file__", None)
        source = Path(file) if file else None
    if source is not None and source.is_file():
        digest.update(source.read_bytes())
    for t in (*workload.train, *workload.test, *workload.parameters(0).values()):
        t = t.detach().cpu().contiguous()
        digest.update(str((t.dtype, tuple(t.shape))).encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    digest.update(repr(workload.optimizer).encode())
    return digest.hexdigest()
