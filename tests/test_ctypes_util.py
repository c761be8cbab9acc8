"""The two typed ctypes helpers of the binding: null-checked addresses and structure field types."""

from __future__ import annotations

import ctypes

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pjrt_array._pjrt import Internal, _abi
from pjrt_array._pjrt._ctypes_util import address, field_types


@given(st.integers(1, 2**64 - 1))
def test_address_passes_a_non_null_pointer_through(value):
    assert address(value, "x") == value


@pytest.mark.parametrize("null", [None, 0])
def test_address_raises_naming_the_pointer_instead_of_reading_address_zero(null):
    with pytest.raises(Internal, match="the KV get args is a null pointer"):
        address(null, "the KV get args")


def test_address_of_a_pointer_ctypes_read_back():
    buffer = ctypes.create_string_buffer(8)
    read_back = ctypes.cast(buffer, ctypes.c_void_p).value
    assert address(read_back, "buffer") == ctypes.addressof(buffer)
    with pytest.raises(Internal):
        address(ctypes.c_void_p().value, "null")


class _Bits(ctypes.Structure):
    _fields_ = [("flag", ctypes.c_uint32, 1), ("rest", ctypes.c_uint32, 31), ("next", ctypes.c_void_p)]


def test_field_types_reads_pairs_and_bit_field_triples_in_order():
    assert field_types(_Bits) == {"flag": ctypes.c_uint32, "rest": ctypes.c_uint32, "next": ctypes.c_void_p}
    assert list(field_types(_Bits)) == ["flag", "rest", "next"]


def test_field_types_of_a_header_struct_gives_a_callable_function_type():
    deleter_type = field_types(_abi.PJRT_Chunk)["deleter"]
    called = []
    deleter = deleter_type(lambda data, arg: called.append((data, arg)))
    deleter(None, 7)
    assert called == [(None, 7)]
