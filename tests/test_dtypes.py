"""Data types, promotion and the data type functions."""

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pjrt_array as xp
from pjrt_array import _dtypes

SIGNED = [xp.int8, xp.int16, xp.int32, xp.int64]
UNSIGNED = [xp.uint8, xp.uint16, xp.uint32, xp.uint64]
FLOATS = [xp.float32, xp.float64]
COMPLEX = [xp.complex64, xp.complex128]

# The standard's table, written out: (a, b) -> result for the pairs it defines.
SPEC = {
    (xp.int8, xp.uint8): xp.int16, (xp.int8, xp.uint16): xp.int32, (xp.int8, xp.uint32): xp.int64,
    (xp.int16, xp.uint8): xp.int16, (xp.int16, xp.uint16): xp.int32, (xp.int16, xp.uint32): xp.int64,
    (xp.int32, xp.uint8): xp.int32, (xp.int32, xp.uint16): xp.int32, (xp.int32, xp.uint32): xp.int64,
    (xp.int64, xp.uint8): xp.int64, (xp.int64, xp.uint16): xp.int64, (xp.int64, xp.uint32): xp.int64,
    (xp.float32, xp.complex64): xp.complex64, (xp.float64, xp.complex64): xp.complex128,
    (xp.float32, xp.complex128): xp.complex128, (xp.float64, xp.complex128): xp.complex128,
}
for _family in (SIGNED, UNSIGNED, FLOATS, COMPLEX):
    for _i, _a in enumerate(_family):
        for _b in _family[_i:]:
            SPEC[_a, _b] = _b


def test_dtypes_are_numpy_dtypes():
    assert xp.float32 == np.dtype("float32") and xp.bool == np.dtype(bool)
    assert xp.bfloat16 == np.dtype(ml_dtypes.bfloat16)


@pytest.mark.parametrize("pair", sorted(SPEC, key=str))
def test_promotion_table_is_the_standards_and_symmetric(pair):
    a, b = pair
    assert xp.result_type(a, b) == SPEC[pair]
    assert xp.result_type(b, a) == SPEC[pair]


def test_mixed_kind_rules_and_refusals():
    assert xp.result_type(xp.bool, xp.int8) == xp.int8
    assert xp.result_type(xp.int8, xp.bfloat16) == xp.bfloat16  # as ml_dtypes
    assert xp.result_type(xp.int16, xp.bfloat16) == xp.float32
    assert xp.result_type(xp.float16, xp.bfloat16) == xp.float32
    with pytest.raises(TypeError):
        xp.result_type(xp.uint64, xp.int8)
    # Scalars alone have no dtype: ValueError, as array-api-strict and jax.numpy raise (SciPy's
    # signal._logspace catches ValueError for "all Python scalars").
    for args in [(1, 2.0), (), (-2, 1, 10.0)]:
        with pytest.raises(ValueError, match="at least one array or dtype"):
            xp.result_type(*args)


@pytest.mark.parametrize("i", SIGNED + UNSIGNED)
@pytest.mark.parametrize("f", [xp.float16, xp.float32, xp.float64, xp.complex64, xp.complex128])
def test_integer_with_floating_promotes_as_numpy(i, f):
    expected = np.promote_types(i, f)
    assert xp.result_type(i, f) == expected and xp.result_type(f, i) == expected
    a, b = xp.asarray(np.arange(3, dtype=i)), xp.asarray(np.ones(3, dtype=f))
    for got in (a + b, b * a, xp.maximum(a, b) if f.kind == "f" else a - b):
        assert got.dtype == expected


@given(dtype=st.sampled_from(SIGNED + UNSIGNED + FLOATS + COMPLEX))
def test_weak_scalars_keep_the_array_dtype(dtype):
    assert xp.result_type(dtype, 1) == dtype
    if _dtypes.is_float(dtype) or _dtypes.is_complex(dtype):
        assert xp.result_type(dtype, 1.5) == dtype
    if _dtypes.is_complex(dtype):
        assert xp.result_type(dtype, 1j) == dtype
    assert xp.result_type(xp.bool, True) == xp.bool
    assert xp.result_type(xp.int8, 2.5) == xp.float64
    assert xp.result_type(xp.float32, 1j) == xp.complex64


def test_out_of_range_scalars_raise():
    with pytest.raises(OverflowError):
        _dtypes.check_scalar_fits(300, xp.uint8, "x2")
    with pytest.raises(OverflowError):
        xp.asarray([1], dtype=xp.int8) + 200


@given(a=st.sampled_from(SIGNED + UNSIGNED + FLOATS + COMPLEX + [xp.bool]),
       b=st.sampled_from(SIGNED + UNSIGNED + FLOATS + COMPLEX + [xp.bool]))
def test_can_cast_follows_promotion(a, b):
    try:
        promoted = xp.result_type(a, b)
    except TypeError:
        promoted = None
    assert xp.can_cast(a, b) == (promoted == b)
    assert xp.can_cast(xp.asarray(np.zeros(1, a)), b) == (promoted == b)


def test_can_cast_examples():
    assert xp.can_cast(xp.uint8, xp.float64)
    assert xp.can_cast(xp.int8, xp.int64)
    assert not xp.can_cast(xp.float64, xp.int64)
    assert not xp.can_cast(xp.complex64, xp.float64)
    assert not xp.can_cast(xp.int64, xp.uint8)


@pytest.mark.parametrize("dtype", FLOATS + COMPLEX + [xp.float16, xp.bfloat16])
def test_finfo(dtype):
    info = xp.finfo(dtype)
    real = np.dtype(dtype) if dtype not in COMPLEX else np.dtype(dtype).type(0).real.dtype
    ref = ml_dtypes.finfo(real) if dtype == xp.bfloat16 else np.finfo(real)
    assert (info.bits, info.eps, info.max, info.min) == (ref.bits, float(ref.eps), float(ref.max), float(ref.min))
    assert info.smallest_normal == float(ref.smallest_normal) and info.dtype == real
    assert xp.finfo(xp.asarray(np.zeros(1, dtype))).bits == ref.bits
    with pytest.raises(TypeError):
        xp.finfo(xp.int32)


@pytest.mark.parametrize("dtype", SIGNED + UNSIGNED)
def test_iinfo(dtype):
    info, ref = xp.iinfo(dtype), np.iinfo(dtype)
    assert (info.bits, info.max, info.min, info.dtype) == (ref.bits, int(ref.max), int(ref.min), dtype)
    with pytest.raises(TypeError):
        xp.iinfo(xp.float32)


def test_isdtype_kinds():
    assert xp.isdtype(xp.int8, "signed integer") and not xp.isdtype(xp.uint8, "signed integer")
    assert xp.isdtype(xp.uint8, "integral") and xp.isdtype(xp.bool, "bool")
    assert xp.isdtype(xp.float16, "real floating") and xp.isdtype(xp.complex64, "complex floating")
    assert xp.isdtype(xp.complex64, "numeric") and not xp.isdtype(xp.bool, "numeric")
    assert xp.isdtype(xp.float32, ("integral", "real floating"))
    assert xp.isdtype(xp.float32, xp.float32) and not xp.isdtype(xp.float32, xp.float64)
    with pytest.raises(ValueError):
        xp.isdtype(xp.float32, "floating")
    with pytest.raises(TypeError):
        xp.isdtype("float32", "numeric")


def test_as_dtype_names_the_argument():
    assert _dtypes.as_dtype(float) == xp.float64 and _dtypes.as_dtype("int8") == xp.int8
    with pytest.raises(TypeError, match="dtype"):
        xp.zeros(3, dtype=object)
    with pytest.raises(TypeError, match="dtype"):
        xp.ones(3, dtype="float128")


def test_namespace_info():
    info = xp.__array_namespace_info__()
    assert info.capabilities()["boolean indexing"] and info.capabilities()["data-dependent shapes"]
    # a tuple, as the 2025.12 standard says; SciPy's tests (written for 2024.12's list) write devices() + [None]
    devices = info.devices()
    assert isinstance(devices, tuple) and info.default_device() in devices
    assert devices + [None] == [*devices, None] and devices + (None,) == (*devices, None)
    assert info.default_dtypes()["real floating"] == xp.float64
    assert set(info.dtypes(kind="integral").values()) == set(SIGNED + UNSIGNED)
    with pytest.raises(ValueError):
        info.dtypes(kind="nope")
