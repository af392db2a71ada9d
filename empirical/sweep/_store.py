"""Results on disk: atomic writes, checksummed arrays, strict JSON and one writer per folder.

Every file is written to a unique temporary name in its folder and renamed over the target,
so a reader sees the old file or the new one, never part of one, and two writers never share
a temporary name. Array files (``.npz``, never pickle) are listed in their folder's JSON index
with a SHA-256 checksum, verified on load. A running sweep or study holds an exclusive lock on
its output folder (``.lock``, ``fcntl.flock``: released by the kernel when the process dies).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import json
import math
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from empirical._core.arguments import checked, kind
from empirical._core.arguments import path as path_check

LOCK = ".lock"


class DamagedFileError(ValueError):
    """A results file that is missing, truncated, changed or of the wrong shape.

    See Also
    --------
    strict_json : The JSON lrbs writes.
    atomic_write_bytes : How it writes files.
    """


def _umask() -> int:
    """This process's umask, read without changing it where the system says it (Linux)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)          # elsewhere: set and restore at once
    os.umask(mask)
    return mask


@checked(path=path_check, data=kind(bytes, bytearray, memoryview))
def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a unique temporary file and an atomic rename.

    The file gets the permissions an ordinary new file gets under the process's umask
    (``0o666 & ~umask``: 0644 under the usual 022), not the temporary file's private 0600, so
    that a colleague or a web server can read a report.

    See Also
    --------
    atomic_write_json : The same for JSON.
    locked_directory : One writer per folder.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o666 & ~_umask())
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def strict_json(value):
    """``value`` with numpy types made plain and every non-finite float made ``None``.

    JSON has no ``NaN`` or ``Infinity``: every other parser rejects them. Files that can hold a
    diverged run say so in a field beside the numbers.

    See Also
    --------
    atomic_write_json : Writes what it returns.
    """
    if isinstance(value, dict):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return strict_json(value.tolist())
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value


@checked(path=path_check)
def atomic_write_json(path, value) -> None:
    """Strict JSON (:func:`strict_json`), written atomically.

    See Also
    --------
    atomic_write_bytes : The bytes it writes.
    strict_json : What it converts first.
    """
    text = json.dumps(strict_json(value), indent=1, allow_nan=False)
    atomic_write_bytes(path, text.encode())


def read_json(path) -> dict:
    """A JSON index, or :class:`DamagedFileError` naming the file."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise DamagedFileError(f"{str(path)!r} cannot be read: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DamagedFileError(f"{str(path)!r} is not valid JSON ({exc})") from None


def save_arrays(path, **arrays) -> str:
    """Write ``arrays`` as an ``.npz`` atomically; return its SHA-256 for the index."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    data = buffer.getvalue()
    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def load_arrays(path, checksum: str | None, names) -> dict:
    """The arrays ``names`` of an ``.npz`` written by :func:`save_arrays`, verified.

    Raises
    ------
    DamagedFileError
        The file is missing or unreadable, its checksum differs from the index's, or it is
        not an ``.npz`` holding ``names``. The message names the file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DamagedFileError(f"{str(path)!r} cannot be read: {exc.strerror}") from None
    if checksum is not None and hashlib.sha256(data).hexdigest() != checksum:
        raise DamagedFileError(f"{str(path)!r} does not match the checksum in its index "
                               "(truncated, or changed since it was written)")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {name: npz[name] for name in names}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise DamagedFileError(f"{str(path)!r} is not a results file of lrbs "
                               f"({type(exc).__name__})") from None


@contextlib.contextmanager
def locked_directory(directory):
    """Hold the output folder ``directory`` (created if needed) for this process.

    Once the lock is held, temporary files a killed writer left behind are removed; a folder
    this call created and left empty is removed again on the way out.

    Yields
    ------
    pathlib.Path
        The folder, held until the ``with`` block ends.

    Raises
    ------
    ValueError
        Another process holds it; the message gives that process's id.

    See Also
    --------
    atomic_write_bytes : How files inside are written.
    """
    directory = Path(directory)
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / LOCK, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            fh.seek(0)
            owner = fh.read().strip()
            raise ValueError(f"{str(directory)!r} is in use by another lrbs process"
                             f"{f' (pid {owner})' if owner else ''}; wait for it to finish "
                             "or choose another output directory") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        for stale in directory.glob(".*.tmp"):         # left by a writer that was killed
            stale.unlink(missing_ok=True)
        try:
            yield directory
        finally:
            fh.seek(0)
            fh.truncate()
            if created and [p.name for p in directory.iterdir()] == [LOCK]:
                (directory / LOCK).unlink()           # refused before writing: leave nothing
                directory.rmdir()
            fcntl.flock(fh, fcntl.LOCK_UN)
