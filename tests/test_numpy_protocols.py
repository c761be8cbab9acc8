"""numpy functions on Arrays: ufuncs compute on the host value, numpy's operators defer to ours."""

from __future__ import annotations

import operator

import numpy as np
import pytest

import pjrt_array as xp

VALUES = np.array([1.5, -2.0, 0.0, np.nan, np.inf, -0.0])


@pytest.mark.parametrize("ufunc", [np.abs, np.sqrt, np.exp, np.isnan, np.sign, np.negative, np.floor])
def test_numpy_ufuncs_return_what_numpy_returns(ufunc):
    with np.errstate(all="ignore"):
        got, expected = ufunc(xp.asarray(VALUES)), ufunc(VALUES)
    assert type(got) is np.ndarray
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == expected.dtype


def test_numpy_reductions_and_binary_ufunc_calls_give_numpy_values():
    x = xp.asarray([1.0, 2.0, 4.0])
    assert type(np.add(np.ones(3), x)) is np.ndarray  # an explicit ufunc call is numpy's
    assert np.sum(x) == 7.0 and np.mean(x) == 7.0 / 3
    np.testing.assert_array_equal(np.maximum.accumulate(x), [1.0, 2.0, 4.0])


@pytest.mark.parametrize("op", [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
                                operator.mod, operator.pow, operator.eq, operator.ne, operator.lt, operator.ge])
@pytest.mark.parametrize("left", [np.array([3.0, 4.0]), np.float64(3.0), np.float32(2.0), np.int64(3)])
def test_numpy_operators_defer_to_the_arrays_reflected_operators(op, left):
    right = np.array([2.0, 0.5])
    got = op(left, xp.asarray(right))
    assert isinstance(got, xp.Array)
    expected = op(left, right)
    np.testing.assert_allclose(np.asarray(got), expected)
    assert got.dtype == expected.dtype


def test_integer_operators_with_numpy_values_keep_integer_results():
    got = np.array([6, 7]) & xp.asarray([3, 5])
    assert isinstance(got, xp.Array) and got.dtype == xp.int64
    np.testing.assert_array_equal(np.asarray(got), [2, 5])


def test_scipy_special_functions_take_arrays():
    special = pytest.importorskip("scipy.special")
    x = xp.asarray([0.25, 0.5, 2.0])
    np.testing.assert_allclose(special.erf(x), special.erf(np.asarray(x)))
    np.testing.assert_allclose(special.xlogy(x, x), special.xlogy(np.asarray(x), np.asarray(x)))


@pytest.mark.parametrize("dtype", [np.int64, np.int8, np.uint8, np.bool_, np.float32])
@pytest.mark.parametrize("value", [1.9, -1.9, 0.5, 100.7, True, 3])
def test_setitem_casts_python_scalars_as_numpy(dtype, value):
    expected = np.zeros(3, dtype)
    a = xp.zeros(3, dtype=dtype)
    try:
        expected[1] = value
    except OverflowError:
        with pytest.raises(OverflowError):
            a[1] = value
        return
    a[1] = value
    np.testing.assert_array_equal(np.asarray(a), expected)


@pytest.mark.parametrize("value, error", [(float("nan"), ValueError), (float("inf"), OverflowError),
                                          (1e30, OverflowError), (1 + 2j, TypeError)])
def test_setitem_refusals_say_cast(value, error):
    a = xp.zeros(3, dtype=xp.int64)
    with pytest.raises(error, match="cast|out of bounds"):
        a[0] = value
    np.testing.assert_array_equal(np.asarray(a), [0, 0, 0])


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.complex64])
@pytest.mark.parametrize("other_dtype", [np.int32, np.int64, np.uint8, np.bool_])
def test_inplace_with_an_integer_operand_keeps_the_floating_dtype_as_numpy(dtype, other_dtype):
    a, b = np.arange(1, 4).astype(dtype), np.array([1, 0, 1]).astype(other_dtype)
    x = xp.asarray(a)
    x += xp.asarray(b)
    x *= b  # a numpy operand too
    a += b
    a *= b
    assert x.dtype == a.dtype
    np.testing.assert_array_equal(np.asarray(x), a)
