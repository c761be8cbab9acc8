"""Sorting, searching and set functions against numpy."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pjrt_array as xp
from helpers import arrays, assert_equal, shapes

SORTABLE = st.sampled_from([np.float32, np.float64, np.int8, np.int64, np.uint16, np.bool_])


@given(data=st.data(), dtype=SORTABLE)
def test_sort_argsort_match_numpy_stable(data, dtype):
    a = data.draw(arrays(dtype, shapes(min_dims=1, max_dims=3, max_side=5),
                         elements=st.sampled_from([0.0, -0.0, 1.0, np.nan, np.inf, -2.0])
                         if np.dtype(dtype).kind == "f" else None))
    axis = data.draw(st.integers(-a.ndim, a.ndim - 1))
    x = xp.asarray(a)
    assert_equal(xp.sort(x, axis=axis), np.sort(a, axis=axis, kind="stable"))
    assert_equal(xp.argsort(x, axis=axis), np.argsort(a, axis=axis, kind="stable"))


@given(a=arrays(np.float64, shapes(min_dims=1, max_dims=1, max_side=8),
                elements=st.sampled_from([1.0, 2.0, np.nan, -1.0])))
def test_descending_is_stable_reverse(a):
    # Descending = reverse of the stable ascending sort of the reversed input.
    expected_idx = np.flip(len(a) - 1 - np.argsort(np.flip(a), kind="stable"))
    assert_equal(xp.argsort(xp.asarray(a), descending=True), expected_idx)
    assert_equal(xp.sort(xp.asarray(a), descending=True), a[expected_idx])


def test_sort_complex_lexicographic():
    c = np.array([1 + 2j, 1 + 1j, -3 + 9j, np.nan + 0j, 0 + np.nan * 1j])
    assert_equal(xp.sort(xp.asarray(c)), np.sort(c))


@given(data=st.data(), dtype=st.sampled_from([np.float64, np.int32, np.bool_]), keepdims=st.booleans())
def test_argmax_argmin(data, dtype, keepdims):
    a = data.draw(arrays(dtype, min_side=1, max_side=4,
                         elements=st.sampled_from([1.0, np.nan, -1.0, 3.0]) if dtype == np.float64 else None))
    axis = data.draw(st.none() | st.integers(-a.ndim, a.ndim - 1) if a.ndim else st.none())
    x = xp.asarray(a)
    assert_equal(xp.argmax(x, axis=axis, keepdims=keepdims), np.argmax(a, axis=axis, keepdims=keepdims))
    assert_equal(xp.argmin(x, axis=axis, keepdims=keepdims), np.argmin(a, axis=axis, keepdims=keepdims))


@given(a=arrays(st.sampled_from([np.float64, np.int16, np.bool_]), shapes(min_dims=1, max_side=4),
                elements=None))
def test_nonzero_count_nonzero(a):
    x = xp.asarray(a)
    got = xp.nonzero(x)
    for g, e in zip(got, np.nonzero(a)):
        assert_equal(g, e.astype(np.int64))
    assert_equal(xp.count_nonzero(x), np.int64(np.count_nonzero(a)))
    assert_equal(xp.count_nonzero(x, axis=0, keepdims=True),
                 np.count_nonzero(a, axis=0, keepdims=True).astype(np.int64))


@given(data=st.data(), side=st.sampled_from(["left", "right"]))
def test_searchsorted(data, side):
    pool = st.sampled_from([0.0, 1.0, 2.5, np.nan, -1.0])
    s = np.sort(data.draw(arrays(np.float64, shapes(min_dims=1, max_dims=1, max_side=6), elements=pool)))
    v = data.draw(arrays(np.float64, shapes(max_dims=2, max_side=3), elements=pool))
    assert_equal(xp.searchsorted(xp.asarray(s), xp.asarray(v), side=side), np.searchsorted(s, v, side=side))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 8, 9, 1000, 10001])
@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.complex128])
def test_searchsorted_bisection_at_every_size(n, dtype):
    # a bisection of ceil(log2(n + 1)) steps: sizes at and around powers of two, ties, NaN and inf
    # (sorted last, as numpy), and values before, between, equal to and after the elements
    rng = np.random.default_rng(n)
    if dtype == np.int32:
        s, v = np.sort(rng.integers(0, 5, n)).astype(dtype), rng.integers(-1, 7, 40).astype(dtype)
    else:
        s = np.sort(np.concatenate([rng.integers(0, 4, n - n // 4) / 2, np.full(n // 8, np.inf),
                                    np.full(n // 4 - n // 8, np.nan)]))
        v = np.concatenate([rng.integers(-1, 5, 30) / 2, [np.nan, np.inf, -np.inf, 0.25]])
        if dtype == np.complex128:
            s = np.sort(s + 1j * rng.integers(0, 2, n)).astype(dtype)
            v = (v + 1j * rng.integers(0, 2, v.size)).astype(dtype)
    for side in ("left", "right"):
        assert_equal(xp.searchsorted(xp.asarray(s), xp.asarray(v), side=side), np.searchsorted(s, v, side=side))
        assert_equal(xp.searchsorted(xp.asarray(s), xp.asarray(v[3]), side=side),
                     np.asarray(np.searchsorted(s, v[3], side=side)))


def test_searchsorted_sorter_and_errors():
    s = np.array([3, 1, 2])
    sorter = np.argsort(s)
    assert_equal(xp.searchsorted(xp.asarray(s), xp.asarray([2, 0]), sorter=xp.asarray(sorter)),
                 np.searchsorted(s, [2, 0], sorter=sorter))
    with pytest.raises(ValueError):
        xp.searchsorted(xp.ones((2, 2)), xp.ones(2))
    with pytest.raises(ValueError):
        xp.searchsorted(xp.ones(2), xp.ones(2), side="middle")


@given(data=st.data())
def test_where_broadcasts_and_promotes(data):
    c = data.draw(arrays(np.bool_, max_side=3))
    a = data.draw(arrays(np.float32, shapes(max_side=3, max_dims=1)))
    scalar = data.draw(st.integers(-5, 5))
    try:
        expected = np.where(c, a, np.float32(scalar))
    except ValueError:
        with pytest.raises(ValueError):
            xp.where(xp.asarray(c), xp.asarray(a), scalar)
        return
    assert_equal(xp.where(xp.asarray(c), xp.asarray(a), scalar), expected)


def test_where_errors():
    with pytest.raises(TypeError):
        xp.where(xp.asarray([1, 0]), 1, 2)  # the condition must be boolean


@given(a=arrays(st.sampled_from([np.float64, np.int8, np.bool_]), max_side=4,
                elements=None))
def test_unique_family(a):
    x = xp.asarray(a)
    values, index, inverse, counts = np.unique(a, return_index=True, return_inverse=True, return_counts=True,
                                               equal_nan=False)
    r = xp.unique_all(x)
    assert_equal(r.values, values)
    assert_equal(r.indices, index.astype(np.int64))
    assert_equal(r.inverse_indices, inverse.reshape(a.shape).astype(np.int64))
    assert_equal(r.counts, counts.astype(np.int64))
    assert_equal(xp.unique_values(x), values)
    assert_equal(xp.unique_counts(x).counts, counts.astype(np.int64))
    assert_equal(xp.unique_inverse(x).inverse_indices, inverse.reshape(a.shape).astype(np.int64))


def test_unique_nans_are_distinct():
    r = xp.unique_counts(xp.asarray([np.nan, 1.0, np.nan]))
    assert np.asarray(r.values).shape == (3,)
    assert_equal(r.counts, np.array([1, 1, 1]))


@given(data=st.data(), invert=st.booleans())
def test_isin(data, invert):
    pool = st.sampled_from([0.0, 1.0, np.nan, -2.0])
    a = data.draw(arrays(np.float64, max_side=3, elements=pool))
    t = data.draw(arrays(np.float64, max_side=3, elements=pool))
    assert_equal(xp.isin(xp.asarray(a), xp.asarray(t), invert=invert), np.isin(a, t, invert=invert))


def test_bad_axis_and_types():
    with pytest.raises((ValueError, IndexError)):
        xp.sort(xp.ones(3), axis=1)
    with pytest.raises(ValueError):
        xp.sort(xp.asarray(1.0))
    with pytest.raises(ValueError):
        xp.argmax(xp.zeros((0,)))
    with pytest.raises(TypeError):
        xp.argmax(xp.asarray([1j]))
    with pytest.raises(ValueError):
        xp.nonzero(xp.asarray(1))
