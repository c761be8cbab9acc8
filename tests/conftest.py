"""Shared test settings: hypothesis profiles sized for a 2-core machine."""

import os
import tempfile

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
