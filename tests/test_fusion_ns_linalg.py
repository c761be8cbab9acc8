import pytest

from fusion_namespace import reuse

# linalg's LAPACK calls always run eagerly (their errors must reach the call), so this rerun
# adds little to the default run's fusion coverage: run with -m slow.
pytestmark = pytest.mark.slow

globals().update(reuse("test_linalg"))
