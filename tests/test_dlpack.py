"""DLPack export and import on CPU devices (pjrt_array/_dlpack.py): shared memory both ways,
capsule lifetimes, the standard's arguments, and bad input.

The same code serves CUDA devices; tests/test_dlpack_fake_gpu.py drives its
device-specific branch (streams, kDLCUDA) through a fake plugin.
"""

from __future__ import annotations

import ctypes
import gc
import sys

import numpy as np
import pytest

import pjrt_array as xp
from pjrt_array import _dlpack

pytestmark = pytest.mark.cpu_only  # shares host memory with numpy

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
          np.float16, np.float32, np.float64, np.complex64, np.complex128]


def aligned(shape, dtype=np.float32, alignment=64, offset=0) -> np.ndarray:
    """A zero-filled C-contiguous array whose data starts ``offset`` bytes past an ``alignment`` boundary."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    raw = np.zeros(nbytes + alignment + offset, np.uint8)
    start = (-raw.ctypes.data) % alignment + offset
    return raw[start:start + nbytes].view(dtype).reshape(shape)


class Producer:
    """A DLPack producer handing out a capsule it was given (or ``make()``'s), reporting ``device``."""

    def __init__(self, make, device=(1, 0)) -> None:
        self.make, self.device, self.calls = make, device, []

    def __dlpack__(self, **kwargs):
        self.calls.append(kwargs)
        return self.make()

    def __dlpack_device__(self):
        return self.device


def capsule_name(capsule) -> bytes:
    get = ctypes.pythonapi.PyCapsule_GetName
    get.restype, get.argtypes = ctypes.c_char_p, [ctypes.py_object]
    return get(capsule)


def pins(x: xp.Array) -> int:
    """The external references the namespace holds on ``x``'s buffer."""
    return x._buffer.client._pins.get(x._buffer._handle, 0)


# -- export -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_reads_the_buffer_itself(dtype):
    value = (np.arange(12) % 3).astype(dtype).reshape(3, 4)
    x = xp.asarray(value)
    out = np.from_dlpack(x)
    assert out.ctypes.data == x._buffer.unsafe_pointer()
    np.testing.assert_array_equal(out, value)
    assert out.dtype == value.dtype and not out.flags.writeable


@pytest.mark.parametrize("shape", [(), (0,), (2, 0, 3), (5,), (2, 3, 4)])
def test_export_shapes(shape):
    value = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape) - 2.5
    out = np.from_dlpack(xp.asarray(value))
    assert out.shape == shape
    np.testing.assert_array_equal(out, value)


def test_special_values_survive():
    value = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 5e-324])
    out = np.from_dlpack(xp.asarray(value))
    np.testing.assert_array_equal(out, value)
    assert np.signbit(out[3]) and not np.signbit(out[4])


def test_the_buffer_outlives_the_array_while_exported():
    x = xp.arange(1000.0) * 3
    pointer = x._buffer.unsafe_pointer()
    out = np.from_dlpack(x)
    client, handle = x._buffer.client, x._buffer._handle
    del x
    gc.collect()
    assert client._pins.get(handle) == 1  # the destroy waits for numpy
    assert out.ctypes.data == pointer and out[999] == 2997.0
    del out
    gc.collect()
    assert handle not in client._pins


def test_an_unconsumed_capsule_releases_its_reference():
    x = xp.ones(8)
    capsule = x.__dlpack__(max_version=(1, 0))
    assert pins(x) == 1
    del capsule
    gc.collect()
    assert pins(x) == 0


@pytest.mark.parametrize("max_version, name", [(None, b"dltensor"), ((0, 8), b"dltensor"),
                                               ((1, 0), b"dltensor_versioned"), ((1, 3), b"dltensor_versioned"),
                                               ((2, 0), b"dltensor_versioned")])
def test_max_version_picks_the_capsule_kind(max_version, name):
    assert capsule_name(xp.ones(3).__dlpack__(max_version=max_version)) == name


def test_copy_true_exports_another_buffer_flagged_copied():
    x = xp.arange(6.0)
    capsule = x.__dlpack__(max_version=(1, 0), copy=True)
    out = np.from_dlpack(Producer(lambda: capsule))
    assert out.ctypes.data != x._buffer.unsafe_pointer()
    np.testing.assert_array_equal(out, np.arange(6.0))
    address = ctypes.pythonapi.PyCapsule_GetPointer
    address.restype, address.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    fresh = x.__dlpack__(max_version=(1, 0), copy=True)
    flags = _dlpack._DLManagedTensorVersioned.from_address(address(fresh, b"dltensor_versioned")).flags
    assert flags & _dlpack._IS_COPIED and flags & _dlpack._READ_ONLY


def test_copy_false_and_own_device_share():
    x = xp.arange(4)
    out = np.from_dlpack(Producer(lambda: x.__dlpack__(max_version=(1, 0), dl_device=(1, 0), copy=False)))
    assert out.ctypes.data == x._buffer.unsafe_pointer()


def test_bfloat16_round_trips_through_our_own_importer():
    x = xp.asarray([1.5, -2.0, 3.25], dtype=xp.bfloat16)
    y = xp.from_dlpack(Producer(lambda: x.__dlpack__(max_version=(1, 0))))
    assert y.dtype == xp.bfloat16 and y._buffer.unsafe_pointer() == x._buffer.unsafe_pointer()
    np.testing.assert_array_equal(np.asarray(y).astype(np.float32), [1.5, -2.0, 3.25])


@pytest.mark.parametrize("kwargs, error, match", [
    ({"dl_device": (2, 0)}, BufferError, "only to itself or to the host"),
    ({"dl_device": "cpu"}, TypeError, "dl_device"),
    ({"stream": 1}, ValueError, "stream must be None for a CPU array"),
    ({"stream": "s"}, TypeError, "stream must be None or an int"),
    ({"max_version": "1.0"}, TypeError, "max_version"),
    ({"copy": "yes"}, TypeError, "copy must be"),
])
def test_bad_export_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        xp.ones(2).__dlpack__(**kwargs)


def test_a_dtype_dlpack_cannot_describe_is_a_buffer_error():
    import ml_dtypes
    with pytest.raises(BufferError, match="float8"):
        _dlpack._dl_code(np.dtype(ml_dtypes.float8_e4m3fn))


@pytest.mark.parametrize("kind, stream, expected", [
    (2, None, 1), (2, 1, 1), (2, 2, 2), (2, -1, -1), (2, 0xABC, 0xABC),
    (10, None, None), (10, 0, None), (10, -1, -1), (10, 0xABC, 0xABC),
])
def test_stream_rules_per_device_type(kind, stream, expected):
    assert _dlpack._check_stream(kind, stream) == expected


@pytest.mark.parametrize("kind, stream", [(2, 0), (10, 1), (10, 2)])
def test_streams_the_standard_forbids(kind, stream):
    with pytest.raises(ValueError, match=f"stream={stream}"):
        _dlpack._check_stream(kind, stream)


# -- import -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_import_shares_aligned_host_memory(dtype):
    host = aligned((3, 4), dtype)
    host[...] = (np.arange(12) % 2).astype(dtype).reshape(3, 4)
    x = xp.from_dlpack(host)
    assert x._buffer.unsafe_pointer() == host.ctypes.data
    assert x.dtype == host.dtype and x.shape == (3, 4)
    np.testing.assert_array_equal(np.asarray(x), host)


def test_imported_memory_is_the_producers():
    host = aligned((4,), np.float64)
    x = xp.from_dlpack(host)
    host[2] = 7.0  # a write by the producer is seen: nothing was copied
    assert float(xp.sum(x)) == 7.0


def test_the_producers_tensor_lives_until_the_view_is_deleted():
    host = aligned((256,), np.float32)
    before = sys.getrefcount(host)
    x = xp.from_dlpack(host)
    assert sys.getrefcount(host) == before + 1  # numpy's tensor holds it
    del x
    gc.collect()
    assert sys.getrefcount(host) == before


@pytest.mark.parametrize("shape", [(), (0,), (3, 0), (1, 1, 5)])
def test_import_shapes(shape):
    host = aligned(shape, np.int32)
    host[...] = np.arange(host.size).reshape(shape)
    x = xp.from_dlpack(host)
    assert x.shape == shape
    np.testing.assert_array_equal(np.asarray(x), host)


def test_unaligned_or_strided_memory_is_copied_unless_copy_false():
    unaligned = aligned((8,), np.float32, offset=4)
    unaligned[...] = np.arange(8)
    strided = np.arange(20.0)[::2]
    for host in (unaligned, strided):
        x = xp.from_dlpack(host)
        assert x._buffer.unsafe_pointer() != host.ctypes.data
        np.testing.assert_array_equal(np.asarray(x), host)
        with pytest.raises(BufferError, match="copy=False"):
            xp.from_dlpack(host, copy=False)


def test_copy_true_imports_a_copy():
    host = aligned((5,), np.float64)
    x = xp.from_dlpack(host, copy=True)
    assert x._buffer.unsafe_pointer() != host.ctypes.data
    host[0] = 1.0
    assert float(x[0]) == 0.0


def test_an_old_producer_without_keywords_is_still_read():
    host = aligned((3,), np.int64)
    host[...] = [4, 5, 6]

    class Old:
        def __dlpack__(self, stream=None):
            return host.__dlpack__()

        def __dlpack_device__(self):
            return (1, 0)

    x = xp.from_dlpack(Old())
    assert x._buffer.unsafe_pointer() == host.ctypes.data
    assert np.asarray(x).tolist() == [4, 5, 6]


def test_the_producer_is_asked_for_dlpack_1_on_no_stream():
    host = aligned((2,), np.float32)
    producer = Producer(lambda: host.__dlpack__(max_version=(1, 0)))
    xp.from_dlpack(producer, copy=False)
    assert producer.calls == [{"stream": None, "max_version": (1, 0), "copy": False}]


def test_import_to_another_device_copies():
    devices = xp.__array_namespace_info__().devices()
    if len(devices) < 2:
        pytest.skip("one device")
    host = aligned((3,), np.float32)
    x = xp.from_dlpack(host, device=devices[1])
    assert x.device == devices[1]
    with pytest.raises(BufferError, match="copy=False"):
        xp.from_dlpack(host, device=devices[1], copy=False)


def test_our_own_capsule_round_trips_without_a_copy():
    x = xp.reshape(xp.arange(12, dtype=xp.int16), (3, 4))
    y = xp.from_dlpack(Producer(lambda: x.__dlpack__(max_version=(1, 0))))
    assert y._buffer.unsafe_pointer() == x._buffer.unsafe_pointer()
    np.testing.assert_array_equal(np.asarray(y), np.arange(12).reshape(3, 4))
    assert pins(x) == 1  # the view holds our export
    del y
    gc.collect()
    assert pins(x) == 0


@pytest.mark.parametrize("producer, match", [
    (Producer(lambda: "not a capsule"), "unconsumed DLPack capsule"),
    (Producer(lambda: np.ones(2).__dlpack__(), device=(7, 0)), "DLPack device type 7"),
    (Producer(lambda: np.ones(2).__dlpack__(), device="cpu"), "__dlpack_device__"),
    (Producer(lambda: np.ones(2).__dlpack__(), device=(2, 0)), "gpu"),
])
def test_bad_producers_raise_buffer_error(monkeypatch, producer, match):
    monkeypatch.delenv("PJRT_ARRAY_PLUGIN", raising=False)
    with pytest.raises(BufferError, match=match):
        xp.from_dlpack(producer)


def test_a_consumed_capsule_is_refused():
    capsule = np.ones(2).__dlpack__()
    np.from_dlpack(Producer(lambda: capsule))
    with pytest.raises(BufferError, match="unconsumed"):
        xp.from_dlpack(Producer(lambda: capsule))


def test_from_dlpack_refuses_non_producers_and_bad_copy():
    with pytest.raises(TypeError, match="DLPack"):
        xp.from_dlpack([1, 2])
    with pytest.raises(TypeError, match="copy must be"):
        xp.from_dlpack(np.ones(2), copy="no")


def pseudo_gpu_array(value) -> xp.Array:
    """An array whose device calls itself CUDA (its memory is a CPU plugin's): the non-host paths."""
    from pjrt_array import _devices
    real = xp.__array_namespace_info__().default_device()
    return xp.asarray(value, device=_devices.Device(real.pjrt, "cuda"))


def test_a_device_array_reaches_numpy_as_a_host_copy():
    x = pseudo_gpu_array(np.arange(5.0))
    assert x.__dlpack_device__()[0] == 2
    with pytest.raises(RuntimeError, match="Unsupported device"):
        np.from_dlpack(x)  # numpy refuses our kDLCUDA capsule: the exception survives its destructor
    gc.collect()
    assert pins(x) == 0
    out = np.from_dlpack(x, device="cpu")  # numpy asks for dl_device=(1, 0)
    assert out.ctypes.data != x._buffer.unsafe_pointer()
    np.testing.assert_array_equal(out, np.arange(5.0))
    with pytest.raises(BufferError, match="copy=False"):
        x.__dlpack__(dl_device=(1, 0), copy=False)
    with pytest.raises(ValueError, match="stream must be None for a CPU array"):
        x.__dlpack__(dl_device=(1, 0), stream=1)


def test_host_memory_without_a_cpu_plugin_is_copied_to_the_default_device(monkeypatch):
    def no_cpu_plugin(kind, ordinal):
        raise BufferError("no cpu plugin is usable")

    monkeypatch.setattr(_dlpack, "_device_for", no_cpu_plugin)
    host = aligned((4,), np.float32)
    x = xp.from_dlpack(host)
    assert x._buffer.unsafe_pointer() != host.ctypes.data
    np.testing.assert_array_equal(np.asarray(x), host)
    with pytest.raises(BufferError, match="no cpu plugin"):
        xp.from_dlpack(host, copy=False)


def test_sharded_arrays_are_refused_and_imports_can_be_placed():
    devices = xp.__array_namespace_info__().devices()
    if len(devices) < 2:
        pytest.skip("one device")
    sharding = xp.NamedSharding(xp.make_mesh((2,), ("x",), devices=devices[:2]), ("x",))
    with pytest.raises(BufferError, match="sharded"):
        xp.asarray(np.arange(4.0), device=sharding).__dlpack__()
    placed = xp.from_dlpack(aligned((8,), np.float64), device=sharding)
    assert placed.sharding == sharding
    np.testing.assert_array_equal(np.asarray(placed), np.zeros(8))
