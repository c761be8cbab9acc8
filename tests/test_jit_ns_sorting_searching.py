import pytest

from jit_namespace import reuse

# Minutes under jit (a compile per function and shape): run with -m slow.
pytestmark = pytest.mark.slow

globals().update(reuse("test_sorting_searching"))
