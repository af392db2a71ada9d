"""Hypothesis strategies and profiles, in one place (as xarray's ``properties/``)."""

from __future__ import annotations

import math
import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

settings.register_profile("ci", max_examples=30, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=200, deadline=None)


def load_profile() -> None:
    """Use ``$HYPOTHESIS_PROFILE`` (``ci`` by default: fixed examples, a few minutes on 2 cores)."""
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def log_uniform(low: float, high: float) -> st.SearchStrategy[float]:
    """Floats spread evenly in ``log`` between ``low`` and ``high``."""
    return st.floats(math.log(low), math.log(high)).map(math.exp)


curvatures = log_uniform(1e-2, 1e2)
noise_vars = log_uniform(1e-3, 1e2)
batch_sizes = st.integers(1, 4096)
fractions = st.floats(0.01, 0.99)            # of a stability bound
steps = st.integers(0, 500)
gammas = log_uniform(0.05, 20.0)
lams = log_uniform(1e-3, 1e2)
