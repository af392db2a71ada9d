"""Results on disk, as the sweeps keep them: files replaced atomically, strict JSON, and a
folder locked while a run writes to it.

Infrastructure that ``lrbs``'s report and your own scripts can share with the sweeps, kept out
of :mod:`empirical`'s learning-rate API: ``from empirical.files import atomic_write_json``.
"""

from empirical.sweep._store import atomic_write_bytes, atomic_write_json, locked_directory, strict_json

__all__ = [
    "atomic_write_bytes",
    "atomic_write_json",
    "locked_directory",
    "strict_json",
]
