"""Manipulation functions and the top-level linear algebra functions against numpy."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pjrt_array as xp
from helpers import arrays, assert_equal, shapes


@given(a=arrays(np.int32, shapes(max_dims=4, max_side=4)), data=st.data())
def test_reshape_permute_flip_roll(a, data):
    x = xp.asarray(a)
    assert_equal(xp.reshape(x, (-1,)), a.reshape(-1))
    assert_equal(xp.reshape(x, a.shape[::-1]), a.reshape(a.shape[::-1]))
    perm = tuple(data.draw(st.permutations(range(a.ndim))))
    assert_equal(xp.permute_dims(x, perm), np.transpose(a, perm))
    axis = data.draw(st.none() | (st.integers(-a.ndim, a.ndim - 1) if a.ndim else st.none()))
    assert_equal(xp.flip(x, axis=axis), np.flip(a, axis=axis))
    shift = data.draw(st.integers(-7, 7))
    assert_equal(xp.roll(x, shift, axis=axis), np.roll(a, shift, axis=axis))
    if a.ndim:
        src, dst = data.draw(st.integers(-a.ndim, a.ndim - 1)), data.draw(st.integers(-a.ndim, a.ndim - 1))
        assert_equal(xp.moveaxis(x, src, dst), np.moveaxis(a, src, dst))


@given(a=arrays(np.float32, shapes(max_dims=3, max_side=3)), data=st.data())
def test_expand_squeeze_broadcast(a, data):
    x = xp.asarray(a)
    axis = data.draw(st.integers(-a.ndim - 1, a.ndim))
    assert_equal(xp.expand_dims(x, axis=axis), np.expand_dims(a, axis))
    ones = tuple(i for i, d in enumerate(a.shape) if d == 1)
    assert_equal(xp.squeeze(x, axis=ones), np.squeeze(a, axis=ones))
    target = data.draw(st.tuples(st.integers(1, 3)).map(lambda t: t + a.shape))
    assert_equal(xp.broadcast_to(x, target), np.broadcast_to(a, target))
    assert xp.broadcast_shapes(a.shape, (2,) + (1,) * a.ndim) == np.broadcast_shapes(a.shape, (2,) + (1,) * a.ndim)


@given(data=st.data(), n=st.integers(1, 3))
def test_concat_stack_unstack(data, n):
    shape = data.draw(shapes(min_dims=1, max_dims=3, max_side=3))
    parts = [data.draw(arrays(st.sampled_from([np.int8, np.int16, np.float32]), shape)) for _ in range(n)]
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    xs = [xp.asarray(p) for p in parts]
    assert_equal(xp.concat(xs, axis=axis), np.concatenate(parts, axis=axis))
    assert_equal(xp.concat(xs, axis=None), np.concatenate([p.ravel() for p in parts]))
    saxis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    assert_equal(xp.stack(xs, axis=saxis), np.stack(parts, axis=saxis))
    for got, expected in zip(xp.unstack(xs[0], axis=axis), np.moveaxis(parts[0], axis, 0)):
        assert_equal(got, expected)


@given(a=arrays(np.int16, shapes(max_dims=3, max_side=3)), data=st.data())
def test_tile_repeat(a, data):
    x = xp.asarray(a)
    reps = tuple(data.draw(st.lists(st.integers(0, 3), max_size=4)))
    assert_equal(xp.tile(x, reps), np.tile(a, reps))
    count = data.draw(st.integers(0, 3))
    axis = data.draw(st.none() | (st.integers(-a.ndim, a.ndim - 1) if a.ndim else st.none()))
    assert_equal(xp.repeat(x, count, axis=axis), np.repeat(a, count, axis=axis))
    if axis is not None:
        counts = np.asarray(data.draw(st.lists(st.integers(0, 3), min_size=a.shape[axis], max_size=a.shape[axis])),
                            dtype=np.int64)
        assert_equal(xp.repeat(x, xp.asarray(counts), axis=axis), np.repeat(a, counts, axis=axis))


def test_manipulation_errors():
    x = xp.ones((2, 3))
    with pytest.raises(ValueError):
        xp.reshape(x, (4, 2))
    with pytest.raises(ValueError):
        xp.concat([x, xp.ones((3, 3))], axis=1)
    with pytest.raises(ValueError):
        xp.stack([x, xp.ones((3, 2))])
    with pytest.raises((ValueError, IndexError)):
        xp.flip(x, axis=2)
    with pytest.raises(ValueError):
        xp.squeeze(x, axis=0)
    with pytest.raises(ValueError):
        xp.broadcast_to(x, (3, 3))
    with pytest.raises(ValueError):
        xp.permute_dims(x, (0, 0))
    with pytest.raises(ValueError):
        xp.repeat(x, -1)


@given(data=st.data(), dtype=st.sampled_from([np.float64, np.int32, np.complex64]))
def test_matmul_tensordot_vecdot(data, dtype):
    m, k, n = (data.draw(st.integers(1, 4)) for _ in range(3))
    batch = data.draw(st.sampled_from([(), (2,), (1, 3)]))
    elements = st.integers(-5, 5)
    a = data.draw(arrays(dtype, batch + (m, k), elements=elements))
    b = data.draw(arrays(dtype, (k, n), elements=elements))
    v = data.draw(arrays(dtype, (k,), elements=elements))
    tol = 1e-5 if dtype == np.complex64 else 1e-12
    assert_equal(xp.asarray(a) @ xp.asarray(b), a @ b, rtol=tol, atol=tol)
    assert_equal(xp.matmul(xp.asarray(a), xp.asarray(v)), a @ v, rtol=tol, atol=tol)
    assert_equal(xp.matmul(xp.asarray(v), xp.asarray(b)), v @ b, rtol=tol, atol=tol)
    assert_equal(xp.matrix_transpose(xp.asarray(a)), np.swapaxes(a, -1, -2))
    assert_equal(xp.tensordot(xp.asarray(a), xp.asarray(b), axes=1), np.tensordot(a, b, axes=1), rtol=tol, atol=tol)
    assert_equal(xp.vecdot(xp.asarray(a), xp.asarray(v)), np.sum(np.conj(a) * v, axis=-1, dtype=a.dtype), rtol=tol, atol=tol)
    assert_equal(xp.linalg.matmul(xp.asarray(b.T), xp.asarray(v)), b.T @ v, rtol=tol, atol=tol)


def test_linear_algebra_errors():
    with pytest.raises(ValueError):
        xp.matmul(xp.ones((2, 3)), xp.ones((2, 3)))
    with pytest.raises(ValueError):
        xp.matmul(xp.ones(()), xp.ones(3))
    with pytest.raises(TypeError):
        xp.matmul(xp.asarray([True]), xp.asarray([True]))
    with pytest.raises(ValueError):
        xp.tensordot(xp.ones((2, 3)), xp.ones((2, 3)), axes=1)
    with pytest.raises(ValueError):
        xp.vecdot(xp.ones(3), xp.ones(4))


def test_transpose_properties_and_iteration():
    a = np.arange(6).reshape(2, 3)
    x = xp.asarray(a)
    assert_equal(x.T, a.T)
    assert_equal(x.mT, a.T)
    assert [np.asarray(r).tolist() for r in x] == a.tolist()
    with pytest.raises(ValueError):
        xp.ones((2, 2, 2)).T
