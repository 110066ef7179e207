"""Shared test setup: hypothesis profiles and backend helpers.

HYPOTHESIS_PROFILE=dev (default, more examples) or ci (fewer, no deadline).
"""
import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile("ci", max_examples=20, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(autouse=True)
def _fresh_backend_resolution():
    """Each test re-reads MINIH2REC_* so monkeypatched environments take effect."""
    from minih2rec import _backend
    _backend.reset()
    yield
    _backend.reset()
