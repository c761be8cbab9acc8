"""Buffers: host round trips of every dtype, facts, copies, host-buffer semantics, zero-copy views."""

from __future__ import annotations

import gc

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pjrt_array import _pjrt as P
from pjrt_array._pjrt import dtypes as D

from binding_support import client, new_client, plugin_info, _shared_clients  # noqa: F401

ALL_DTYPES = sorted({D.to_numpy_dtype(t) for t in D.BufferType if t.name[len("PJRT_Buffer_Type_"):]
                     not in ("INVALID", "TOKEN")}, key=str)
COMMON = [np.dtype(t) for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
                                np.uint64, np.float16, np.float32, np.float64, ml_dtypes.bfloat16, np.complex64,
                                np.complex128)]


def known(client, dtype) -> bool:
    return client.api.minor >= D.INTRODUCED_IN.get(D.from_numpy_dtype(dtype), 0)


def edge_values(dtype: np.dtype) -> np.ndarray:
    """A small array of ``dtype`` with its edge values (nan, inf, -0.0, min, max where they exist)."""
    if dtype == np.bool_:
        return np.array([True, False, True])
    if dtype.kind == "c":
        return np.array([complex(np.nan, -0.0), complex(np.inf, 1.5), -2.5 + 0j], dtype=dtype)
    try:
        info = ml_dtypes.iinfo(dtype)  # numpy and ml_dtypes integers (int4, uint2, ...)
    except ValueError:
        pass
    else:
        return np.array([info.min, 0, 1, info.max], dtype=dtype)
    finfo = ml_dtypes.finfo(dtype)
    values = np.array([0.0, -0.0, 1.0, float(finfo.max), float(finfo.min), np.nan, np.inf, -np.inf])
    converted = values.astype(dtype).astype(np.float64)
    # Keep the specials this format can hold (some float8/float4 types have no inf or nan).
    return values[(converted == values) | (np.isnan(values) & np.isnan(converted))].astype(dtype)


def same_bits(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()


# -- round trips -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_round_trip_of_every_dtype_the_plugin_knows(client, dtype):
    if not known(client, dtype):
        with pytest.raises(TypeError, match=rf"array: dtype {dtype} .*needs PJRT API 0\.\d+; this plugin implements"):
            client.buffer_from_numpy(np.zeros(3, dtype))
        return
    host = edge_values(dtype)
    buf = client.buffer_from_numpy(host)
    assert buf.dtype == dtype and buf.shape == host.shape
    assert buf.element_type == D.from_numpy_dtype(dtype)
    same_bits(buf.to_numpy(), host)


def test_version_gated_dtypes_per_plugin(client):
    minor = client.api.minor
    for dtype in (ml_dtypes.int1, ml_dtypes.uint1):
        assert known(client, dtype) == (minor >= 94)
    assert not known(client, ml_dtypes.float6_e2m3fn) or minor >= 114


@pytest.mark.parametrize("dtype", COMMON, ids=str)
@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (1,), (2, 3, 4)], ids=str)
def test_round_trip_shapes(client, dtype, shape):
    host = (np.arange(int(np.prod(shape))) % 7).reshape(shape).astype(dtype)
    buf = client.buffer_from_numpy(host)
    assert buf.shape == buf.dimensions == shape
    assert buf.unpadded_dimensions == shape
    out = buf.to_numpy()
    same_bits(out, host)
    assert out.flags.owndata and out.flags.writeable


# hypothesis cannot draw bfloat16 (kind "V"); the edge-value test covers it.
@given(hnp.arrays(st.sampled_from([d for d in COMMON if d.kind != "V"]), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)))
def test_round_trip_random(client, host):
    same_bits(client.buffer_from_numpy(host).to_numpy(), host)


@pytest.mark.parametrize("make", [
    lambda a: a[:, ::2], lambda a: a.T, lambda a: a[::-1], lambda a: np.asfortranarray(a),
    lambda a: a.view([("x", a.dtype)])["x"],
], ids=["strided", "transposed", "reversed", "fortran", "field-view"])
def test_non_contiguous_input(client, make):
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    host = make(base)
    same_bits(client.buffer_from_numpy(host).to_numpy(), np.ascontiguousarray(host))


def test_scalars_and_lists_are_converted(client):
    same_bits(client.buffer_from_numpy(np.float32(2.5)).to_numpy(), np.array(2.5, np.float32))
    same_bits(client.buffer_from_numpy([[1, 2], [3, 4]]).to_numpy(), np.array([[1, 2], [3, 4]]))


@pytest.mark.parametrize("bad", [np.array([object()]), np.array(["a", "b"]), np.array([b"x"]),
                                 np.array(["2020-01-01"], dtype="datetime64[D]"), np.zeros(2, "V4")],
                         ids=["object", "str", "bytes", "datetime", "void"])
def test_unsupported_dtype_is_a_type_error(client, bad):
    with pytest.raises(TypeError, match="array: unsupported dtype"):
        client.buffer_from_numpy(bad)


def test_dtype_mapping_both_ways():
    for t in D.BufferType:
        if t in (D.BufferType.PJRT_Buffer_Type_INVALID, D.BufferType.PJRT_Buffer_Type_TOKEN):
            with pytest.raises(TypeError, match="has no numpy dtype"):
                D.to_numpy_dtype(t)
        else:
            assert D.from_numpy_dtype(D.to_numpy_dtype(t)) == t
    with pytest.raises(TypeError, match="x: unsupported dtype"):
        D.from_numpy_dtype("not a dtype", "x")


# -- host buffer semantics -----------------------------------------------------------------------

@pytest.mark.parametrize("semantics", sorted(P.buffer.HOST_BUFFER_SEMANTICS))
def test_host_buffer_semantics(client, semantics):
    host = np.arange(64, dtype=np.float32)
    expected = host.copy()
    buf = client.buffer_from_numpy(host, semantics=semantics)
    if semantics == "copy":
        host[:] = -1  # the upload copied during the call
    del host
    gc.collect()
    same_bits(buf.to_numpy(), expected)


def test_bad_semantics_is_a_value_error(client):
    with pytest.raises(ValueError, match="semantics must be one of"):
        client.buffer_from_numpy(np.zeros(2), semantics="borrow")


# -- placement and copies --------------------------------------------------------------------------

def test_upload_to_each_device_and_memory(new_client):
    c = new_client(cpu_device_count=2)
    host = np.arange(6, dtype=np.int32)
    for d in c.devices():
        buf = c.buffer_from_numpy(host, d)
        assert buf.device == d and buf.memory == d.default_memory()
        same_bits(buf.to_numpy(), host)
        for m in d.memories():
            on_m = c.buffer_from_numpy(host, memory=m)
            assert on_m.memory == m
            same_bits(on_m.to_numpy(), host)


def test_copy_to_device_and_memory(new_client):
    c = new_client(cpu_device_count=2)
    host = np.arange(5, dtype=np.complex64) * (1 - 2j)
    src = c.buffer_from_numpy(host)
    d1 = c.devices()[1]
    moved = src.copy_to_device(d1)
    assert moved.device == d1
    same_bits(moved.to_numpy(), host)
    for m in c.devices()[0].memories():
        copied = src.copy_to_memory(m)
        assert copied.memory == m
        same_bits(copied.to_numpy(), host)


def test_placement_on_another_clients_device_is_refused(client, new_client):
    other = new_client()
    buf = client.buffer_from_numpy(np.zeros(2))
    with pytest.raises(ValueError, match="another client"):
        client.buffer_from_numpy(np.zeros(2), other.devices()[0])
    with pytest.raises(ValueError, match="another client"):
        client.buffer_from_numpy(np.zeros(2), memory=other.addressable_memories()[0])
    with pytest.raises(ValueError, match="another client"):
        buf.copy_to_device(other.devices()[0])
    with pytest.raises(ValueError, match="another client"):
        buf.copy_to_memory(other.addressable_memories()[0])


# -- facts ---------------------------------------------------------------------------------------

def test_buffer_facts(client):
    host = np.ones((3, 5), np.float64)
    buf = client.buffer_from_numpy(host)
    assert buf.is_on_cpu
    assert buf.on_device_size_in_bytes == host.nbytes
    assert buf.dynamic_dimension_indices == ()
    assert buf.device == client.devices()[0]
    assert buf.client is client
    assert repr(buf) == "<pjrt Buffer float64[3, 5]>"
    assert buf.block_until_ready() is buf
    with buf.ready_event() as event:
        event.wait()
        assert event.is_ready() and event.error() is None


def test_wrapping_a_raw_handle_reads_dtype_and_shape_from_the_plugin(client):
    src = client.buffer_from_numpy(np.arange(6, dtype=np.uint16).reshape(2, 3))
    raw = src.copy_to_device(client.devices()[0])
    handle, raw._handle = raw._handle, 0  # hand the ownership over
    client._buffers.discard(handle)
    wrapped = P.Buffer(client, handle)
    assert wrapped.dtype == np.uint16 and wrapped.shape == (2, 3)
    same_bits(wrapped.to_numpy(), src.to_numpy())


def test_delete_frees_data_but_keeps_the_handle(client):
    buf = client.buffer_from_numpy(np.arange(4.0))
    assert not buf.is_deleted
    buf.delete()
    assert buf.is_deleted
    with pytest.raises(P.PjrtError, match="deleted"):
        buf.to_numpy()
    buf.close()


# -- zero-copy views ---------------------------------------------------------------------------------

def test_numpy_view_aliases_the_buffer(client):
    host = np.arange(12, dtype=np.int64).reshape(3, 4)
    buf = client.buffer_from_numpy(host)
    view = buf.numpy_view()
    same_bits(view, host)
    assert not view.flags.writeable
    assert view.ctypes.data == buf.unsafe_pointer()
    empty = client.buffer_from_numpy(np.zeros((0, 2), np.float32)).numpy_view()
    assert empty.shape == (0, 2)


def test_numpy_view_keeps_the_buffer_alive_after_the_buffer_is_dropped(client):
    host = np.arange(1 << 14, dtype=np.float32)
    view = client.buffer_from_numpy(host).numpy_view()[::2]
    gc.collect()
    churn = [client.buffer_from_numpy(np.full(1 << 14, 7, np.float32)) for _ in range(8)]
    same_bits(view, host[::2])
    del churn


def test_numpy_view_survives_buffer_close_and_client_close(new_client):
    c = new_client()
    host = np.arange(1 << 14, dtype=np.float32)
    buf = c.buffer_from_numpy(host)
    view = buf.numpy_view()
    buf.close()
    with pytest.raises(P.ClosedError):
        buf.to_numpy()
    churn = [c.buffer_from_numpy(np.full(1 << 14, 7, np.float32)) for _ in range(8)]
    same_bits(view, host)
    second = c.buffer_from_numpy(host).numpy_view()
    c.close()
    same_bits(view, host)
    same_bits(second, host)
    del view, second, churn
    gc.collect()
    assert not c._pins and not c._doomed


def test_numpy_view_of_a_zero_copy_upload_keeps_the_host_array(client):
    view = client.buffer_from_numpy(np.arange(256, dtype=np.float64), semantics="zero_copy").numpy_view()
    gc.collect()
    same_bits(view, np.arange(256, dtype=np.float64))


def test_external_reference_counts(client):
    buf = client.buffer_from_numpy(np.arange(3.0))
    buf.increase_external_reference_count()
    buf.decrease_external_reference_count()
    assert buf.unsafe_pointer() != 0
