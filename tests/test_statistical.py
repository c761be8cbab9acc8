"""Statistical functions against numpy."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pjrt_array as xp
from helpers import arrays, assert_equal, shapes


def _axis(data, ndim):
    return data.draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1) if ndim else st.none(),
                               st.lists(st.integers(0, ndim - 1), unique=True).map(tuple) if ndim else st.none()))


@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]), keepdims=st.booleans())
def test_sum_prod_mean_float(data, dtype, keepdims):
    a = data.draw(arrays(dtype, max_side=3, allow_nan=False, elements=st.floats(-10, 10, width=32)))
    axis = _axis(data, a.ndim)
    x = xp.asarray(a)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert_equal(xp.sum(x, axis=axis, keepdims=keepdims), np.sum(a, axis=axis, keepdims=keepdims), rtol=tol, atol=tol)
    assert_equal(xp.prod(x, axis=axis, keepdims=keepdims), np.prod(a, axis=axis, keepdims=keepdims), rtol=tol, atol=tol)
    with np.errstate(all="ignore"):
        expected = np.mean(a, axis=axis, keepdims=keepdims)
    assert_equal(xp.mean(x, axis=axis, keepdims=keepdims), expected, rtol=tol, atol=tol)


@given(a=arrays(st.sampled_from([np.int8, np.int32, np.uint8, np.uint32, np.int64, np.bool_]), max_side=4))
def test_sum_integer_accumulator_dtype(a):
    # Small integers accumulate in the default integer dtype, as numpy does (with its wraparound).
    assert_equal(xp.sum(xp.asarray(a)), np.sum(a))
    assert_equal(xp.prod(xp.asarray(a)), np.prod(a))


def test_sum_dtype_argument_and_overflow():
    a = np.array([100, 100], dtype=np.int8)
    assert_equal(xp.sum(xp.asarray(a), dtype=xp.int8), np.sum(a, dtype=np.int8))
    big = np.array([2**62, 2**62], dtype=np.int64)
    assert_equal(xp.sum(xp.asarray(big)), np.sum(big))  # wraps around like numpy


@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64, np.int16, np.uint8]))
def test_max_min(data, dtype):
    a = data.draw(arrays(dtype, min_side=1, max_side=4))
    axis = _axis(data, a.ndim)
    x = xp.asarray(a)
    assert_equal(xp.max(x, axis=axis), np.max(a, axis=axis))
    assert_equal(xp.min(x, axis=axis, keepdims=True), np.min(a, axis=axis, keepdims=True))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, axis", [((37,), None), ((64, 100), 1), ((64, 100), 0), ((3, 17, 9), 1)])
@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_max_min_nan_at_every_lane(dtype, shape, axis, jit):
    # XLA:CPU's own max/min reductions keep or drop a NaN depending on its position
    # (vector lane, row): every position of the first lanes and the tail must give NaN.
    rng = np.random.default_rng(0)
    n = int(np.prod(shape))
    for pos in [*range(10), n // 2, n - 1]:
        for fill in (None, np.inf, -np.inf):
            a = rng.standard_normal(n).astype(dtype)
            if fill is not None:
                a[:] = fill
            a[pos] = np.nan
            a = a.reshape(shape)
            for ours, theirs in ((xp.max, np.max), (xp.min, np.min)):
                f = (xp.jit(ours, static_argnames="axis") if jit else ours)
                assert_equal(f(xp.asarray(a), axis=axis), theirs(a, axis=axis))


def test_max_propagates_nan_and_empty_raises():
    x = xp.asarray([1.0, np.nan, 3.0])
    assert np.isnan(float(xp.max(x))) and np.isnan(float(xp.min(x)))
    with pytest.raises(ValueError):
        xp.max(xp.zeros((0,)))
    with pytest.raises(ValueError):
        xp.min(xp.zeros((2, 0)), axis=1)


@given(data=st.data(), correction=st.sampled_from([0, 1, 0.5]))
def test_var_std(data, correction):
    a = data.draw(arrays(np.float64, min_side=1, max_side=4, allow_nan=False,
                         elements=st.floats(-100, 100)))
    axis = _axis(data, a.ndim)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy warns where dof <= 0
        ev = np.var(a, axis=axis, ddof=correction)
        es = np.std(a, axis=axis, ddof=correction)
    assert_equal(xp.var(xp.asarray(a), axis=axis, correction=correction), ev, rtol=1e-9, atol=1e-9)
    assert_equal(xp.std(xp.asarray(a), axis=axis, correction=correction), es, rtol=1e-9, atol=1e-9)


def test_var_complex_and_empty_mean():
    c = np.array([1 + 1j, 2 - 1j, 0.5j])
    assert_equal(xp.var(xp.asarray(c)), np.var(c), rtol=1e-12)
    assert np.isnan(float(xp.mean(xp.zeros((0,)))))
    with pytest.raises(TypeError):
        xp.mean(xp.asarray([1, 2]))


@given(data=st.data(), dtype=st.sampled_from([np.float64, np.int32, np.uint8, np.bool_]),
       include_initial=st.booleans())
def test_cumulative_sum_prod(data, dtype, include_initial):
    a = data.draw(arrays(dtype, shapes(min_dims=1, max_dims=2, max_side=9), allow_nan=False,
                         elements=st.floats(-5, 5) if dtype == np.float64 else None))
    axis = data.draw(st.integers(-a.ndim, a.ndim - 1))
    x = xp.asarray(a)
    for fn, npfn, ident in ((xp.cumulative_sum, np.cumsum, 0), (xp.cumulative_prod, np.cumprod, 1)):
        expected = npfn(a, axis=axis, dtype=np.sum(a[:0]).dtype if dtype != np.float64 else None)
        if include_initial:
            pad = [(0, 0)] * a.ndim
            pad[axis] = (1, 0)
            expected = np.pad(expected, pad, constant_values=ident)
        assert_equal(fn(x, axis=axis, include_initial=include_initial), expected, rtol=1e-12, atol=1e-12)


def test_bad_input():
    x = xp.ones((2, 3))
    with pytest.raises((ValueError, IndexError)):
        xp.sum(x, axis=2)
    with pytest.raises(ValueError):
        xp.sum(x, axis=(0, 0))
    with pytest.raises(TypeError):
        xp.sum(np.ones(3))
    with pytest.raises(ValueError):
        xp.cumulative_sum(x)  # axis is required for 2-D input
    with pytest.raises(TypeError):
        xp.var(x, correction="1")


@pytest.mark.parametrize("shape, axis", [((16384,), None), ((4, 4104), -1), ((2, 3, 4096), (1, 2)),
                                         ((300, 100), 1), ((16411,), None), ((6000, 3), 0), ((1024, 32), 1)])
@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_large_reductions_in_two_stages(shape, axis, jit):
    # Many trailing elements reduce in groups first (ops/_reduce._staged_reduce); a prime count
    # or leading axes reduce in one go.  Values: numpy's, NaN wherever it is.
    rng = np.random.default_rng(1)
    a = rng.standard_normal(shape)
    a.flat[rng.integers(0, a.size)] = np.nan if jit else a.flat[0]
    for ours, theirs, rtol in ((xp.sum, np.sum, 1e-12), (xp.mean, np.mean, 1e-12), (xp.max, np.max, 1e-15),
                               (xp.min, np.min, 1e-15)):  # 1e-15: exp may differ by an ulp
        f = xp.jit(lambda x, fn=ours: fn(xp.exp(x) - 1.0, axis=axis)) if jit else \
            (lambda x, fn=ours: fn(xp.exp(x) - 1.0, axis=axis))
        assert_equal(f(xp.asarray(a)), theirs(np.exp(a) - 1.0, axis=axis), rtol=rtol)
    text = xp.jit(lambda x: xp.sum(x, axis=axis)).lower(xp.asarray(a)).as_text()
    staged = shape[-1] not in (16411, 32) and axis != 0  # a prime count, a short row, a leading axis
    assert ("optimization_barrier" in text) == staged
