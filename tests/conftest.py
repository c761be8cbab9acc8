"""Shared test settings: hypothesis profiles sized for a 2-core machine, and the GPU switch.

``PJRT_ARRAY_PLATFORM=gpu`` makes the namespace's default device a GPU (see
pjrt_array/_devices.py), so the namespace tests run there; tests marked
``gpu`` run only then, tests marked ``cpu_only`` (zero-copy host memory) only
without it.  CI sets nothing: it never needs a GPU.
"""

import os
import tempfile

import pytest
from hypothesis import HealthCheck, settings

# The test run gets its own executable cache instead of the user's (set before
# pjrt_array is imported anywhere).
os.environ.setdefault("PJRT_ARRAY_CACHE_DIR", tempfile.mkdtemp(prefix="pjrt_array-test-cache-"))

# Every new shape compiles a program (tens of ms), so examples are few by
# default; HYPOTHESIS_PROFILE=thorough runs more.
settings.register_profile("default", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


GPU_SELECTED = os.environ.get("PJRT_ARRAY_PLATFORM", "").lower() == "gpu"


def pytest_collection_modifyitems(config, items):
    skip_gpu = pytest.mark.skip(reason="needs a GPU plugin selected with PJRT_ARRAY_PLATFORM=gpu")
    skip_cpu = pytest.mark.skip(reason="host-memory test: the default device is a GPU")
    for item in items:
        if item.get_closest_marker("gpu") and not GPU_SELECTED:
            item.add_marker(skip_gpu)
        if item.get_closest_marker("cpu_only") and GPU_SELECTED:
            item.add_marker(skip_cpu)
