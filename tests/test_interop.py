"""numpy and DLPack interop: zero-copy reads and writes on the CPU device, lifetimes, copy rules."""

import gc

import numpy as np
import pytest

import pjrt_array as xp

pytestmark = pytest.mark.cpu_only  # shares host memory with numpy


def _aligned(n, dtype=np.float32, alignment=64):
    raw = np.empty(n * np.dtype(dtype).itemsize + alignment, np.uint8)
    offset = (-raw.ctypes.data) % alignment
    return raw[offset:offset + n * np.dtype(dtype).itemsize].view(dtype)


def test_host_read_is_a_read_only_view_that_keeps_the_buffer_alive():
    x = xp.asarray(np.arange(6.0).reshape(2, 3))
    view = np.asarray(x)
    assert not view.flags.writeable
    assert view.ctypes.data == x._buffer.unsafe_pointer()  # no copy
    del x
    gc.collect()
    np.testing.assert_array_equal(view, np.arange(6.0).reshape(2, 3))
    with pytest.raises(ValueError):
        view[0, 0] = 1.0


def test_array_protocol_dtype_and_copy():
    x = xp.asarray([1.0, 2.0])
    assert np.asarray(x, dtype=np.float32).dtype == np.float32
    copied = np.array(x, copy=True)
    assert copied.flags.writeable and copied.ctypes.data != x._buffer.unsafe_pointer()


def test_aligned_numpy_arrays_are_shared_with_copy_false():
    a = _aligned(1024)
    a[:] = np.arange(1024)
    x = xp.asarray(a, copy=False)
    assert x._buffer.unsafe_pointer() == a.ctypes.data
    del a
    gc.collect()
    assert float(xp.sum(x)) == float(np.arange(1024).sum())  # the buffer kept the memory alive


def test_read_only_arrays_are_shared_by_default_and_writable_ones_copied():
    a = _aligned(256)
    a[:] = 1
    copied = xp.asarray(a)
    assert copied._buffer.unsafe_pointer() != a.ctypes.data
    a.flags.writeable = False
    shared = xp.asarray(a)
    assert shared._buffer.unsafe_pointer() == a.ctypes.data


def test_copy_false_refuses_what_it_cannot_share():
    with pytest.raises(ValueError):
        xp.asarray([1.0, 2.0], copy=False)
    misaligned = np.arange(9.0)[1:]
    with pytest.raises(ValueError):
        xp.asarray(misaligned, copy=False)
    copy_true = xp.asarray(_aligned(8), copy=True)
    assert copy_true.shape == (8,)


def test_dlpack_both_directions():
    a = np.arange(12, dtype=np.int32).reshape(3, 4)
    x = xp.from_dlpack(a)
    np.testing.assert_array_equal(np.asarray(x), a)
    back = np.from_dlpack(x)
    np.testing.assert_array_equal(back, a)
    assert x.__dlpack_device__() == (1, 0)
    capsule = x.__dlpack__(max_version=(1, 0))
    assert capsule is not None
    legacy = np.from_dlpack(xp.asarray([1.0, 2.0]))  # a consumer without read-only support gets a copy
    np.testing.assert_array_equal(legacy, [1.0, 2.0])
    with pytest.raises(BufferError):
        x.__dlpack__(dl_device=(2, 0))
    with pytest.raises(TypeError):
        xp.from_dlpack(object())


def test_from_dlpack_of_an_aligned_array_shares_memory():
    a = _aligned(64, np.float64)
    a[:] = 3.0
    x = xp.from_dlpack(a)
    assert x._buffer.unsafe_pointer() == a.ctypes.data
    y = xp.from_dlpack(a, copy=True)
    assert y._buffer.unsafe_pointer() != a.ctypes.data
