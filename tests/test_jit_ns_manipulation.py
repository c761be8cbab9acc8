from jit_namespace import reuse

globals().update(reuse("test_manipulation"))
