"""all, any and diff against numpy."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pjrt_array as xp
from helpers import arrays, assert_equal, shapes


@given(data=st.data(), keepdims=st.booleans())
def test_all_any(data, keepdims):
    a = data.draw(arrays(st.sampled_from([np.bool_, np.int8, np.float64]), max_side=3,
                         elements=None))
    axis = data.draw(st.none() | (st.integers(-a.ndim, a.ndim - 1) if a.ndim else st.none()))
    x = xp.asarray(a)
    assert_equal(xp.all(x, axis=axis, keepdims=keepdims), np.all(a, axis=axis, keepdims=keepdims))
    assert_equal(xp.any(x, axis=axis, keepdims=keepdims), np.any(a, axis=axis, keepdims=keepdims))


def test_all_any_special_values():
    assert bool(xp.all(xp.zeros((0,)))) is True
    assert bool(xp.any(xp.zeros((0,)))) is False
    assert bool(xp.all(xp.asarray([np.nan, -0.0]))) is False  # -0.0 is false, NaN is true
    assert bool(xp.any(xp.asarray([np.nan]))) is True


@given(data=st.data(), n=st.integers(0, 3))
def test_diff(data, n):
    a = data.draw(arrays(st.sampled_from([np.float64, np.int32, np.bool_]), shapes(min_dims=1, max_side=5),
                         elements=None))
    axis = data.draw(st.integers(-a.ndim, a.ndim - 1))
    with np.errstate(all="ignore"):
        expected = np.diff(a, n=n, axis=axis)
    assert_equal(xp.diff(xp.asarray(a), axis=axis, n=n), expected)


def test_diff_prepend_append_and_errors():
    a = np.array([[1, 4, 9], [2, 2, 2]])
    pre, app = np.array([[0], [1]]), np.array([[16], [3]])
    assert_equal(xp.diff(xp.asarray(a), prepend=xp.asarray(pre), append=xp.asarray(app)),
                 np.diff(a, prepend=pre, append=app))
    with pytest.raises(ValueError):
        xp.diff(xp.asarray(a), prepend=xp.asarray([1, 2, 3]))
    with pytest.raises(ValueError):
        xp.diff(xp.asarray(1))
    with pytest.raises(ValueError):
        xp.diff(xp.asarray(a), n=-1)
