"""Temporary elision beyond binary operators: unary functions (``exp(a + b)``) and unary
operators (``-(a + b)``) give a temporary's buffer to the result; nothing a user still holds (a
variable, a list item, a view, numpy memory) is ever taken.  numpy is the oracle for values; buffer reuse is seen as the result's device address."""

from __future__ import annotations

import numpy as np
import pytest

import pjrt_array as xp
from pjrt_array import _donation
from pjrt_array._host_value import HostValue, materialize
from helpers import assert_equal

pytestmark = pytest.mark.skipif(not _donation.ELIDES, reason="elision is off on this interpreter")

N = 70_000  # float64: 560 kB, above the elision threshold and the host tier's largest bucket (65,536)
ADDRESSES: list[int] = []


def _address(x: xp.Array) -> int:
    return x._buffer.unsafe_pointer()


def _temporary(values: np.ndarray) -> xp.Array:
    """``values`` as an Array on a computed device buffer that only the caller's expression holds
    once this returns (its address is recorded).  (A host run's result is a host value, which is
    never given away and whose upload would come only when the address is asked for.)"""
    t = xp.asarray(values) + 0
    materialize(t)
    ADDRESSES.append(_address(t))
    return t


def _values(dtype: str, n: int = N) -> np.ndarray:
    rng = np.random.default_rng(0)
    if dtype.startswith("complex"):
        return (rng.uniform(0.1, 2, n) + 1j * rng.uniform(-1, 1, n)).astype(dtype)
    if dtype.startswith("int"):
        return rng.integers(-1000, 1000, n).astype(dtype)
    v = rng.uniform(0.1, 2, n).astype(dtype)
    v[:4] = [np.inf, -0.0, np.nan, 1e-300 if dtype == "float64" else 1e-30]
    return v


@pytest.mark.parametrize("name, dtype", [("exp", "float64"), ("sqrt", "float32"), ("negative", "int64"),
                                         ("sin", "complex128"), ("log1p", "float64"), ("square", "int32")])
def test_a_unary_function_of_a_temporary_takes_its_buffer(name: str, dtype: str) -> None:
    values = _values(dtype, N if np.dtype(dtype).itemsize == 8 else 2 * N)
    fn = getattr(xp, name)
    with np.errstate(all="ignore"):
        expected = getattr(np, name)(values)
    result = fn(_temporary(values))
    assert _address(result) == ADDRESSES[-1]
    exact = np.dtype(dtype).kind in "iu"
    assert_equal(result, expected, rtol=0 if exact else 10 * np.finfo(values.dtype).eps)


def test_unary_operators_on_temporaries_take_their_buffers() -> None:
    values = _values("float64")
    result = -_temporary(values)
    assert _address(result) == ADDRESSES[-1]
    assert_equal(result, -values)
    ints = _values("int64")
    result = ~_temporary(ints)
    assert _address(result) == ADDRESSES[-1]
    assert_equal(result, ~ints)


def test_results_of_another_dtype_get_a_new_buffer() -> None:
    floats, ints = _values("float64"), _values("int64")
    assert_equal(xp.isnan(_temporary(floats)), np.isnan(floats))
    assert_equal(xp.exp(_temporary(ints) * 0), np.ones(N))  # int64 in, float64 out
    assert_equal(xp.abs(_temporary(_values("complex128"))), np.abs(_values("complex128")), rtol=1e-15)


def test_named_operands_are_never_taken() -> None:
    values = _values("float64")
    t = xp.asarray(values) + 0
    before = _address(t)
    result = xp.exp(t)
    assert _address(result) != before
    assert_equal(t, values)
    held = [xp.asarray(values) + 0]
    assert_equal(-held[0], -values)
    assert_equal(xp.sqrt(held[0]), np.sqrt(values), rtol=1e-15)
    assert_equal(held[0], values)
    mapped = list(map(xp.exp, [xp.asarray(values) + 0]))  # a C caller: its references are not seen
    assert_equal(mapped[0], np.exp(values), rtol=1e-14)


def test_views_and_their_bases_are_never_clobbered() -> None:
    base_values = _values("float64", 2 * N).reshape(200, -1)
    base = xp.asarray(base_values) + 0
    view = base[::2]
    assert_equal(xp.exp(view), np.exp(base_values[::2]), rtol=1e-14)
    assert_equal(-view, -base_values[::2])
    assert_equal(view, base_values[::2])
    assert_equal(xp.exp(base[1::2]), np.exp(base_values[1::2]), rtol=1e-14)  # a temporary view: its own buffer
    assert_equal(-base.T, -base_values.T)
    assert_equal(base, base_values)


def test_a_temporary_whose_memory_numpy_holds_is_not_taken() -> None:
    values = _values("float64")
    seen = []

    def exposed() -> xp.Array:
        t = xp.asarray(values) + 0
        seen.append(np.asarray(t))  # a zero-copy host view pins the buffer
        return t

    result = xp.exp(exposed())
    assert_equal(result, np.exp(values), rtol=1e-14)
    np.testing.assert_array_equal(seen[0], values + 0)


def test_small_temporaries_are_not_elided() -> None:
    values = np.linspace(0, 1, 100)
    result = xp.exp(_temporary(values))
    # a host value (a host tier's or bucket program's result) never came from a donating program;
    # its upload, made only when asked for, may reuse the dead temporary's memory
    assert type(result._buf) is HostValue or _address(result) != ADDRESSES[-1]
    assert_equal(result, np.exp(values), rtol=1e-14)


def _matrices(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.standard_normal((n, n)), rng.standard_normal((n, n))


def test_matmul_and_imatmul_keep_every_holder_intact() -> None:
    """matmul never takes a buffer (XLA:CPU would compute the product into scratch memory and
    copy it, saving nothing), so temporaries, @= and shared buffers all give numpy's values."""
    a_np, b_np = _matrices()
    b = xp.asarray(b_np)
    np.testing.assert_allclose(np.asarray(_temporary(a_np) @ b), a_np @ b_np, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np.asarray(b @ _temporary(a_np)), b_np @ a_np, rtol=1e-10, atol=1e-10)
    assert_equal(b, b_np)
    x = xp.asarray(a_np) + 0
    host = np.asarray(x)  # numpy holds x's memory: it keeps the old values
    x @= b
    np.testing.assert_allclose(np.asarray(x), a_np @ b_np, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(host, a_np)
    z = xp.asarray(a_np) + 0
    z @= z
    np.testing.assert_allclose(np.asarray(z), a_np @ a_np, rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match="shape"):
        z @= xp.ones((200, 3))
    with pytest.raises(TypeError, match="dtype"):
        z @= xp.ones((200, 200), dtype=xp.complex128)
