"""Views inside a traced function: writes through them update the base, as they do eagerly."""

import numpy as np
import pytest

import pjrt_array as xp


def _run_both(fn, a):
    """``fn`` on numpy (the oracle), eagerly on pjrt_array and jitted; all three results."""
    expected = fn(np.array(a))
    eager = fn(xp.asarray(a))
    jitted = xp.jit(fn)(xp.asarray(a))
    return expected, eager, jitted


def _write_through_row(a):
    v = a[0]
    v[1] = 5.0
    return a


def _write_through_transpose(a):
    t = a.T
    t[0, 1] = 7.0
    return a


def _inplace_through_slice(a):
    v = a[1:, ::2]
    v += 1.0
    return a


def _view_of_view(a):
    v = a[::-1][0]
    v[...] = -1.0
    return a


def _stale_view_rederived(a):
    v = a[0]
    a[0, 0] = 9.0
    return v * 1.0


def _overlapping_views(a):
    left, right = a[:, :2], a[:, 1:]
    left += 1.0
    right *= 2.0
    return a


@pytest.mark.parametrize("fn", [_write_through_row, _write_through_transpose, _inplace_through_slice,
                                _view_of_view, _stale_view_rederived, _overlapping_views])
def test_view_writes_match_numpy_eagerly_and_jitted(fn):
    a = np.arange(12.0).reshape(3, 4)
    expected, eager, jitted = _run_both(fn, a)
    np.testing.assert_array_equal(np.asarray(eager), expected)
    np.testing.assert_array_equal(np.asarray(jitted), expected)


def test_traced_index_write_in_a_loop_compiles_once():
    def fill(a):
        def body(i, acc):
            acc[i] = i * 2.0
            return acc
        return xp.fori_loop(0, a.shape[0], body, a)

    out = xp.jit(fill)(xp.zeros(5))
    np.testing.assert_array_equal(np.asarray(out), np.arange(5) * 2.0)


def test_writing_a_captured_array_is_refused():
    captured = xp.zeros(3)

    @xp.jit
    def f(x):
        captured[0] = 1.0
        return x

    with pytest.raises(TypeError, match="captured"):
        f(xp.ones(3))
    np.testing.assert_array_equal(np.asarray(captured), np.zeros(3))
