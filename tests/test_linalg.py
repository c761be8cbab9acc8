"""The linalg extension against numpy.linalg on well-conditioned and singular input.

Every test runs twice: with the LAPACK kernels CPU devices use by default, and
with the pure StableHLO lowering every other platform uses.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pjrt_array as xp
from helpers import assert_equal
from pjrt_array.ops import _lapack

DTYPES = [np.float32, np.float64, np.complex64, np.complex128]


@pytest.fixture(autouse=True, scope="module", params=["lapack", "pure"])
def lowering(request):
    _lapack.set_enabled(request.param == "lapack")
    yield request.param
    _lapack.set_enabled(True)


def _tol(dtype):
    return 2e-4 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-9


def _random(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


def _spd(shape, dtype, seed):
    a = _random(shape, dtype, seed)
    n = shape[-1]
    return (a @ np.conj(np.swapaxes(a, -1, -2)) + n * np.eye(n)).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (1, 1)])
def test_cholesky_eigh_solve_inv_det(dtype, shape):
    s = _spd(shape, dtype, 0)
    x = xp.asarray(s)
    tol = _tol(dtype)
    assert_equal(xp.linalg.cholesky(x), np.linalg.cholesky(s), rtol=tol, atol=tol)
    upper = np.asarray(xp.linalg.cholesky(x, upper=True))
    np.testing.assert_allclose(np.conj(np.swapaxes(upper, -1, -2)) @ upper, s, rtol=tol, atol=tol * 10)
    w, v = xp.linalg.eigh(x)
    np.testing.assert_allclose(np.asarray(w), np.linalg.eigvalsh(s), rtol=tol, atol=tol * 10)
    v = np.asarray(v)
    np.testing.assert_allclose(v @ (np.asarray(w)[..., None] * np.conj(np.swapaxes(v, -1, -2))), s,
                               rtol=tol * 10, atol=tol * 10)
    assert_equal(xp.linalg.eigvalsh(x), np.linalg.eigvalsh(s), rtol=tol, atol=tol * 10)
    a = _random(shape, dtype, 1) + 3 * np.eye(shape[-1], dtype=dtype)
    b = _random(shape[:-1] + (2,), dtype, 2)
    assert_equal(xp.linalg.solve(xp.asarray(a), xp.asarray(b)), np.linalg.solve(a, b), rtol=tol * 10, atol=tol * 10)
    assert_equal(xp.linalg.inv(xp.asarray(a)), np.linalg.inv(a), rtol=tol * 10, atol=tol * 10)
    assert_equal(xp.linalg.det(xp.asarray(a)), np.linalg.det(a), rtol=tol * 10, atol=tol * 10)
    sign, logabs = xp.linalg.slogdet(xp.asarray(a))
    esign, elog = np.linalg.slogdet(a)
    assert_equal(sign, esign, rtol=tol * 10, atol=tol * 10)
    assert_equal(logabs, elog, rtol=tol * 10, atol=tol * 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4), (1, 3)])
@pytest.mark.parametrize("full", [True, False])
def test_svd_qr(dtype, shape, full):
    a = _random(shape, dtype, 3)
    x = xp.asarray(a)
    tol = _tol(dtype) * 10
    u, s, vh = (np.asarray(t) for t in xp.linalg.svd(x, full_matrices=full))
    eu, es, evh = np.linalg.svd(a, full_matrices=full)
    assert u.shape == eu.shape and s.shape == es.shape and vh.shape == evh.shape
    np.testing.assert_allclose(s, es, rtol=tol, atol=tol)
    k = min(shape[-2:])
    np.testing.assert_allclose((u[..., :k] * s[..., None, :]) @ vh[..., :k, :], a, rtol=tol, atol=tol)
    eye_u = np.eye(u.shape[-1])
    np.testing.assert_allclose(np.conj(np.swapaxes(u, -1, -2)) @ u, np.broadcast_to(eye_u, u.shape[:-2] + eye_u.shape),
                               atol=tol)
    assert_equal(xp.linalg.svdvals(x), es, rtol=tol, atol=tol)
    mode = "complete" if full else "reduced"
    q, r = (np.asarray(t) for t in xp.linalg.qr(x, mode=mode))
    eq, er = np.linalg.qr(a, mode=mode)
    assert q.shape == eq.shape and r.shape == er.shape
    np.testing.assert_allclose(q @ r, a, rtol=tol, atol=tol)
    np.testing.assert_allclose(r, np.triu(r))


def test_singular_and_rank_deficient_inputs_are_sane():
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    x = xp.asarray(a)
    assert int(xp.linalg.matrix_rank(x)) == 1
    assert abs(float(xp.linalg.det(x))) < 1e-12
    sign, logabs = xp.linalg.slogdet(xp.zeros((3, 3)))
    assert float(sign) == 0.0 and float(logabs) == -math.inf
    u, s, vh = (np.asarray(t) for t in xp.linalg.svd(x))
    assert not np.isnan(u).any() and not np.isnan(vh).any()
    np.testing.assert_allclose(s, [5.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(u @ u.T, np.eye(2), atol=1e-12)
    assert_equal(xp.linalg.pinv(x), np.linalg.pinv(a), rtol=1e-9, atol=1e-12)
    assert int(xp.linalg.matrix_rank(xp.zeros((2, 3)))) == 0
    big = np.diag([1.0, 1e-20, 1.0])
    assert int(xp.linalg.matrix_rank(xp.asarray(big))) == np.linalg.matrix_rank(big)


@given(seed=st.integers(0, 100), m=st.integers(1, 4), n=st.integers(1, 4), rtol=st.sampled_from([None, 0.1]))
def test_pinv_matrix_rank(seed, m, n, rtol):
    a = _random((m, n), np.float64, seed)
    expected = np.linalg.pinv(a) if rtol is None else np.linalg.pinv(a, rcond=rtol)
    assert_equal(xp.linalg.pinv(xp.asarray(a), rtol=rtol), expected, rtol=1e-8, atol=1e-10)
    assert int(xp.linalg.matrix_rank(xp.asarray(a), rtol=rtol)) == np.linalg.matrix_rank(
        a, tol=None if rtol is None else rtol * np.linalg.svd(a, compute_uv=False).max())


@pytest.mark.parametrize("n", [-3, -1, 0, 1, 2, 5])
def test_matrix_power(n):
    a = _random((2, 3, 3), np.float64, 4) + 3 * np.eye(3)
    assert_equal(xp.linalg.matrix_power(xp.asarray(a), n), np.linalg.matrix_power(a, n), rtol=1e-8, atol=1e-8)
    ints = np.arange(4).reshape(2, 2)
    assert_equal(xp.linalg.matrix_power(xp.asarray(ints), 3), np.linalg.matrix_power(ints, 3))


@pytest.mark.parametrize("ord", ["fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf])
@pytest.mark.parametrize("keepdims", [False, True])
def test_matrix_norm(ord, keepdims):
    a = _random((2, 3, 4), np.float64, 5)
    expected = np.linalg.norm(a, ord=ord, axis=(-2, -1), keepdims=keepdims)
    assert_equal(xp.linalg.matrix_norm(xp.asarray(a), ord=ord, keepdims=keepdims), expected, rtol=1e-9, atol=1e-9)


@given(seed=st.integers(0, 50), ord=st.sampled_from([2, 1, 0, math.inf, -math.inf, 3, 0.5, -1]),
       axis=st.sampled_from([None, 0, -1, (0, 1)]), keepdims=st.booleans())
def test_vector_norm(seed, ord, axis, keepdims):
    a = _random((3, 4), np.complex128 if seed % 3 == 0 else np.float64, seed)
    if axis is None or isinstance(axis, tuple):
        expected = np.linalg.norm(a.ravel(), ord=ord)
        if keepdims:
            expected = np.reshape(expected, (1, 1))
    else:
        expected = np.linalg.norm(a, ord=ord, axis=axis, keepdims=keepdims)
    with np.errstate(divide="ignore"):
        assert_equal(xp.linalg.vector_norm(xp.asarray(a), axis=axis, keepdims=keepdims, ord=ord), expected,
                     rtol=1e-9, atol=1e-12)


@given(offset=st.integers(-4, 4), rows=st.integers(0, 4), cols=st.integers(0, 4))
def test_diagonal_trace(offset, rows, cols):
    a = np.arange(2 * rows * cols, dtype=np.int32).reshape(2, rows, cols)
    assert_equal(xp.linalg.diagonal(xp.asarray(a), offset=offset), np.diagonal(a, offset=offset, axis1=-2, axis2=-1))
    assert_equal(xp.linalg.trace(xp.asarray(a), offset=offset), np.trace(a, offset=offset, axis1=-2, axis2=-1))


def test_cross_outer():
    a = _random((4, 3), np.float64, 6)
    b = _random((3,), np.float64, 7)
    assert_equal(xp.linalg.cross(xp.asarray(a), xp.asarray(b)), np.cross(a, b), rtol=1e-12)
    # XLA may contract a*b - c*d into a fused multiply-add, so "exact" zeros are ~1e-16.
    assert_equal(xp.linalg.cross(xp.asarray(a.T), xp.asarray(a.T), axis=0), np.cross(a.T, a.T, axis=0), atol=1e-15)
    assert_equal(xp.linalg.outer(xp.asarray([1, 2]), xp.asarray([3, 4, 5])), np.outer([1, 2], [3, 4, 5]))


def test_bad_input():
    with pytest.raises(ValueError):
        xp.linalg.inv(xp.ones((2, 3)))
    with pytest.raises(ValueError):
        xp.linalg.det(xp.ones(3))
    with pytest.raises(TypeError):
        xp.linalg.cholesky(xp.asarray([[1, 0], [0, 1]]))
    with pytest.raises(ValueError):
        xp.linalg.solve(xp.ones((3, 3)), xp.ones(2))
    with pytest.raises(ValueError):
        xp.linalg.qr(xp.ones((2, 2)), mode="r")
    with pytest.raises(ValueError):
        xp.linalg.cross(xp.ones(2), xp.ones(2))
    with pytest.raises(ValueError):
        xp.linalg.matrix_norm(xp.ones((2, 2)), ord=3)
    with pytest.raises(ValueError):
        xp.linalg.outer(xp.ones((2, 2)), xp.ones(2))
