"""Where stored runs live: one directory per spec, so runs of different settings never collide."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from empirical._core.arguments import SEEDS

MAX_SEEDS = 10_000
"""The most run seeds a study may ask for."""


def spec_directory(root, name: str, spec: dict) -> Path:
    """``root/name-<digest>``, the digest a hash of the spec's JSON (stable across sessions).

    A rerun with the same spec finds and resumes its directory; a different spec (another
    seed count, ``--quick``) gets its own instead of being refused by the one on disk.
    """
    digest = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]
    return Path(root) / f"{name}-{digest}"


def digits_folder(root, spec) -> Path:
    """Where a digits study keeps the runs of ``spec`` (an :class:`empirical.ScalingSpec`):
    ``root/runs/digits-<digest>``, resumable."""
    return spec_directory(Path(root) / "runs", "digits", spec.to_dict())


def seed_tuple(seeds) -> tuple[int, ...]:
    """Run seeds from a count ``K`` (seeds ``0..K-1``) or an explicit sequence of seeds."""
    if isinstance(seeds, bool) or not isinstance(seeds, int | tuple | list | range):
        raise ValueError(f"seeds must be a count or a list of seeds, got {seeds!r}")
    if isinstance(seeds, int):
        if not 1 <= seeds <= MAX_SEEDS:
            raise ValueError(f"seeds must be a count from 1 to {MAX_SEEDS}, got {seeds!r}")
        return tuple(range(seeds))
    SEEDS("seeds", seeds)
    if len(seeds) > MAX_SEEDS:
        raise ValueError(f"seeds must hold at most {MAX_SEEDS} seeds, got {len(seeds)}")
    return tuple(seeds)
