"""Every ``PJRT_Buffer_Type``: typed both ways, host round trips, and what the device makes of the bytes.

A round trip alone cannot tell whether a plugin reads the host bytes the way
numpy wrote them (two wrongs make a right), so each type the plugin accepts
is also converted to float64/complex128 *on the device* and compared with
numpy's conversion.  Sub-byte types (int1/2/4, uint1/2/4, float4_e2m1fn) go
to the plugin one element per byte, as ml_dtypes stores them; the plugin
packs them in device memory.  Types newer than a plugin's API are refused by
the binding before the call.
"""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest

from pjrt_array._pjrt import dtypes as D

from binding_support import _shared_clients, client, compiled, plugin_info  # noqa: F401

B = D.BufferType
NO_HOST_TYPE = {B.PJRT_Buffer_Type_INVALID, B.PJRT_Buffer_Type_TOKEN}
TYPED = [t for t in B if t not in NO_HOST_TYPE]
# StableHLO element type of each buffer type; S1/U1 have none (i1 is PRED).
MLIR = {
    "PRED": "i1", "S8": "i8", "S16": "i16", "S32": "i32", "S64": "i64", "U8": "ui8", "U16": "ui16",
    "U32": "ui32", "U64": "ui64", "F16": "f16", "F32": "f32", "F64": "f64", "BF16": "bf16",
    "C64": "complex<f32>", "C128": "complex<f64>", "F8E5M2": "f8E5M2", "F8E4M3FN": "f8E4M3FN",
    "F8E4M3B11FNUZ": "f8E4M3B11FNUZ", "F8E5M2FNUZ": "f8E5M2FNUZ", "F8E4M3FNUZ": "f8E4M3FNUZ", "S4": "i4",
    "U4": "ui4", "S2": "i2", "U2": "ui2", "F8E4M3": "f8E4M3", "F8E3M4": "f8E3M4", "F8E8M0FNU": "f8E8M0FNU",
    "F4E2M1FN": "f4E2M1FN", "F6E2M3FN": "f6E2M3FN", "F6E3M2FN": "f6E3M2FN",
}
#: Types each installed plugin refuses, by API minor version (the rest it accepts).
REFUSED = {81: {"S1", "U1", "F6E2M3FN", "F6E3M2FN"}, 106: {"F6E2M3FN", "F6E3M2FN"}}


def short(t: B) -> str:
    return t.name[len("PJRT_Buffer_Type_"):]


def accepts(client, t: B) -> bool:
    return client.api.minor >= D.INTRODUCED_IN.get(t, 0)


def sample(dtype: np.dtype, n: int = 24) -> np.ndarray:
    """``n`` values of ``dtype``: every value of a small integer type, edge and ordinary values otherwise."""
    if dtype == np.bool_:
        return np.arange(n) % 3 == 0
    if dtype.kind == "c":
        return (np.linspace(-3, 3, n) + 1j * np.linspace(2, -2, n)).astype(dtype)
    try:
        info = ml_dtypes.iinfo(dtype)
    except ValueError:
        finfo = ml_dtypes.finfo(dtype)
        edges = np.array([0.0, -0.0, float(finfo.max), float(finfo.min), float(finfo.tiny), 1.0, -1.5,
                          np.nan, np.inf, -np.inf])
        back = edges.astype(dtype).astype(np.float64)
        # Keep the specials the format has (some float8/float4 formats have no inf, nan or -0.0).
        edges = edges[(back == edges) | (np.isnan(edges) & np.isnan(back))]
        return np.concatenate([edges, np.linspace(-8.0, 8.0, n - len(edges))]).astype(dtype)
    lo, hi = int(info.min), int(info.max)
    if hi - lo < n:
        return np.resize(np.arange(lo, hi + 1), n).astype(dtype)
    edges = np.array([lo, lo + 1, 0, 1, hi - 1, hi], dtype=dtype)  # exact, even for uint64
    middle = np.linspace(max(lo, -1000), min(hi, 1000), n - len(edges)).astype(np.int64).astype(dtype)
    return np.concatenate([edges, middle])


# -- typed both ways -----------------------------------------------------------------------------

def test_every_buffer_type_maps_to_its_own_dtype_and_back():
    seen = set()
    for t in TYPED:
        dtype = D.to_numpy_dtype(t)
        assert D.from_numpy_dtype(dtype) == t, short(t)
        seen.add(dtype)
    assert len(seen) == len(TYPED)  # no two buffer types share a dtype


def test_fnuz_float8_types_are_not_confused():
    assert D.to_numpy_dtype(B.PJRT_Buffer_Type_F8E5M2FNUZ) == np.dtype(ml_dtypes.float8_e5m2fnuz)
    assert D.from_numpy_dtype(ml_dtypes.float8_e5m2fnuz) == B.PJRT_Buffer_Type_F8E5M2FNUZ
    assert D.to_numpy_dtype(B.PJRT_Buffer_Type_F8E4M3FNUZ) == np.dtype(ml_dtypes.float8_e4m3fnuz)
    assert D.from_numpy_dtype(ml_dtypes.float8_e4m3fnuz) == B.PJRT_Buffer_Type_F8E4M3FNUZ


@pytest.mark.parametrize("t", sorted(NO_HOST_TYPE), ids=short)
def test_types_without_host_data(t):
    with pytest.raises(TypeError, match=f"PJRT buffer type {t.name} has no numpy dtype"):
        D.to_numpy_dtype(t)
    with pytest.raises(TypeError, match="PJRT buffer type 999 has no numpy dtype"):
        D.to_numpy_dtype(999)


def test_sub_byte_widths():
    assert {short(t): bits for t, bits in D.SUB_BYTE_BITS.items()} == {
        "S1": 1, "U1": 1, "S2": 2, "U2": 2, "S4": 4, "U4": 4, "F4E2M1FN": 4}
    for t, bits in D.SUB_BYTE_BITS.items():
        assert D.to_numpy_dtype(t).itemsize == 1  # one element per byte on the host


# -- host round trips, device semantics ----------------------------------------------------------

def test_refused_types_per_plugin(client):
    assert client.api.minor in REFUSED, "a new plugin version: record what it refuses"
    assert {short(t) for t in TYPED if not accepts(client, t)} == REFUSED[client.api.minor]


@pytest.mark.parametrize("t", TYPED, ids=short)
def test_host_round_trip(client, t):
    dtype = D.to_numpy_dtype(t)
    host = sample(dtype).reshape(2, 3, 4)
    if not accepts(client, t):
        with pytest.raises(TypeError, match=rf"needs PJRT API 0\.{D.INTRODUCED_IN[t]}; this plugin implements "
                                            rf"0\.{client.api.minor}"):
            client.buffer_from_numpy(host)
        return
    buf = client.buffer_from_numpy(host)
    assert buf.element_type == t and buf.dtype == dtype and buf.shape == (2, 3, 4)
    out = buf.to_numpy()
    assert out.dtype == dtype and out.tobytes() == host.tobytes()
    assert buf.numpy_view().tobytes() == host.tobytes()


@pytest.mark.parametrize("t", [t for t in TYPED if short(t) in MLIR], ids=short)
def test_device_reads_the_host_bytes_as_numpy_wrote_them(client, t):
    if not accepts(client, t):
        return  # refused: test_host_round_trip checks the refusal
    dtype = D.to_numpy_dtype(t)
    host = sample(dtype)
    wide = np.complex128 if dtype.kind == "c" else np.float64
    to = "complex<f64>" if dtype.kind == "c" else "f64"
    elem = MLIR[short(t)]
    exe = compiled(client, f"""func.func @main(%a: tensor<{host.size}x{elem}>) -> tensor<{host.size}x{to}> {{
  %0 = stablehlo.convert %a : (tensor<{host.size}x{elem}>) -> tensor<{host.size}x{to}>
  return %0 : tensor<{host.size}x{to}>
}}""")
    out = exe.execute([client.buffer_from_numpy(host)])[0].to_numpy()
    np.testing.assert_array_equal(out, host.astype(wide))


@pytest.mark.parametrize("t", sorted(D.SUB_BYTE_BITS), ids=short)
def test_sub_byte_types_are_packed_on_the_device(client, t):
    if not accepts(client, t):
        return
    dtype = D.to_numpy_dtype(t)
    host = sample(dtype, 37)
    buf = client.buffer_from_numpy(host)
    assert buf.on_device_size_in_bytes == math.ceil(37 * D.SUB_BYTE_BITS[t] / 8)
    view = buf.numpy_view()  # a copy: packed device bytes cannot be viewed as one-per-byte elements
    assert view.tobytes() == host.tobytes() and not view.flags.writeable


@pytest.mark.parametrize("t", [t for t in D.SUB_BYTE_BITS if short(t) in MLIR], ids=short)
def test_sub_byte_results_come_back_unpacked(client, t):
    """A sub-byte array made on the device (``a + a``) reads back one element per byte."""
    if not accepts(client, t):
        return
    dtype = D.to_numpy_dtype(t)
    host = sample(dtype, 16)
    elem = MLIR[short(t)]
    exe = compiled(client, f"""func.func @main(%a: tensor<16x{elem}>) -> tensor<16x{elem}> {{
  %0 = stablehlo.add %a, %a : tensor<16x{elem}>
  return %0 : tensor<16x{elem}>
}}""")
    out = exe.execute([client.buffer_from_numpy(host)])[0].to_numpy()
    assert out.dtype == dtype
    if t == B.PJRT_Buffer_Type_F4E2M1FN:
        np.testing.assert_array_equal(out, (host.astype(np.float32) * 2).astype(dtype))
    else:  # integers wrap modulo 2**bits
        bits = D.SUB_BYTE_BITS[t]
        wide = host.astype(np.int64) * 2
        lo = int(ml_dtypes.iinfo(dtype).min)
        np.testing.assert_array_equal(out.astype(np.int64), (wide - lo) % (1 << bits) + lo)
