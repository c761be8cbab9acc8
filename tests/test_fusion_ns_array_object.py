from fusion_namespace import reuse

globals().update(reuse("test_array_object"))
