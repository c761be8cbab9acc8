"""The pure StableHLO SVD (one-sided Jacobi, ops/_svd_jacobi.py) against LAPACK on ill-conditioned input.

The goal: backward error, orthogonality of U and V and the relative error of the
singular values within 10x of numpy.linalg.svd's (LAPACK's) on matrices of
condition ~1e6, for every floating dtype, batched and rectangular.  LAPACK's
error is floored at eps so that a lucky LAPACK result does not make the ratio
meaningless.
"""

import numpy as np
import pytest

import pjrt_array as xp
from pjrt_array.ops import _lapack
from svd_cases import FAMILIES, errors, exact_singular_values, relative_sv_error

DTYPES = [np.float32, np.float64, np.complex64, np.complex128]
RATIO = 10


@pytest.fixture(autouse=True, scope="module")
def pure_lowering():
    _lapack.set_enabled(False)
    yield
    _lapack.set_enabled(True)


def _svd(a, full=True):
    return tuple(np.asarray(t) for t in xp.linalg.svd(xp.asarray(a), full_matrices=full))


def _assert_like_lapack(a, u, s, vh):
    """Our errors within RATIO of LAPACK's on every measure (per matrix of a batch)."""
    eps = float(np.finfo(a.real.dtype).eps)
    for i in np.ndindex(a.shape[:-2]):
        ours, ref = errors(a[i], u[i], s[i], vh[i]), errors(a[i], *np.linalg.svd(a[i]))
        exact = exact_singular_values(a[i])
        ours["sv_rel"] = relative_sv_error(s[i], exact)
        ref["sv_rel"] = relative_sv_error(np.linalg.svd(a[i], compute_uv=False), exact)
        for key, value in ours.items():
            assert value <= RATIO * max(ref[key], eps), (i, key, value, ref[key])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_ill_conditioned_square(family, dtype):
    a = FAMILIES[family](20, 20, dtype)
    _assert_like_lapack(a, *_svd(a))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(30, 20), (20, 30)])
@pytest.mark.parametrize("family", ["graded", "row_graded", "column_graded"])
def test_ill_conditioned_rectangular(family, shape, dtype):
    a = FAMILIES[family](*shape, dtype)
    _assert_like_lapack(a, *_svd(a))


@pytest.mark.parametrize("dtype", [np.float64, np.complex64])
def test_batched_odd_sizes(dtype):
    # 9x5 and 5x9 matrices: an odd column count puts a padding row into the rotations.
    for shape in [(9, 5), (5, 9)]:
        a = np.stack([FAMILIES[f](*shape, dtype, seed=i) for i, f in enumerate(sorted(FAMILIES)) if f != "vandermonde7"])
        a = a.reshape((2, 2) + shape)
        u, s, vh = _svd(a)
        assert u.shape == (2, 2, shape[0], shape[0]) and vh.shape == (2, 2, shape[1], shape[1])
        _assert_like_lapack(a, u, s, vh)
        np.testing.assert_allclose(np.asarray(xp.linalg.svdvals(xp.asarray(a))), s, rtol=1e-5 if dtype == np.complex64 else 1e-12)


@pytest.mark.parametrize("full", [True, False])
@pytest.mark.parametrize("shape", [(6, 1), (1, 6), (8, 3), (3, 8), (4, 4)])
def test_full_and_reduced_shapes(shape, full):
    a = FAMILIES["geometric"](*shape, np.complex128)
    u, s, vh = _svd(a, full)
    eu, es, evh = np.linalg.svd(a, full_matrices=full)
    assert (u.shape, s.shape, vh.shape) == (eu.shape, es.shape, evh.shape)
    assert u.dtype == a.dtype and vh.dtype == a.dtype and s.dtype == np.float64
    np.testing.assert_allclose(s, es, rtol=1e-12, atol=1e-15)
    e = errors(a, u, s, vh)
    assert max(e.values()) < 1e-13, e
    assert np.all(s[:-1] >= s[1:])


@pytest.mark.parametrize("dtype", DTYPES)
def test_repeated_and_zero_singular_values(dtype):
    eps = float(np.finfo(dtype).eps)
    rng = np.random.default_rng(5)
    q = np.linalg.qr(rng.standard_normal((6, 6)))[0]
    low_rank = (rng.standard_normal((7, 2)) @ rng.standard_normal((2, 5))).astype(dtype)
    for a in [np.eye(5, dtype=dtype), q.astype(dtype), low_rank, np.zeros((4, 3), dtype)]:
        u, s, vh = _svd(a)
        e = errors(a, u, s, vh)
        assert e["orth_u"] < 50 * eps and e["orth_v"] < 50 * eps, e
        np.testing.assert_allclose(s, np.linalg.svd(a, compute_uv=False), rtol=20 * eps, atol=20 * eps * max(1, s.max()))
        assert np.isfinite(u).all() and np.isfinite(vh).all()


def test_rank_deficient_via_pinv_and_rank():
    a = np.outer([1.0, 2, 3, 4], [1.0, -1, 2]) + np.outer([0.0, 1, 0, 1], [1.0, 1, 1])
    assert int(xp.linalg.matrix_rank(xp.asarray(a))) == 2
    np.testing.assert_allclose(np.asarray(xp.linalg.pinv(xp.asarray(a))), np.linalg.pinv(a), atol=1e-13)
    np.testing.assert_allclose(float(xp.linalg.matrix_norm(xp.asarray(a), ord=2)), np.linalg.norm(a, 2), rtol=1e-14)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_gives_nan(bad):
    # No exception (numpy's LAPACK raises LinAlgError): the singular values are NaN.
    a = np.array([[1.0, 2.0, 0.5], [bad, 1.0, 3.0]])
    u, s, vh = _svd(a)
    assert u.shape == (2, 2) and s.shape == (2,) and vh.shape == (3, 3)
    assert np.isnan(s).all()
    assert np.isnan(np.asarray(xp.linalg.svdvals(xp.asarray(a)))).all()


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 0), (2, 0, 4), (2, 4, 0)])
@pytest.mark.parametrize("full", [True, False])
def test_empty(shape, full):
    a = np.zeros(shape)
    u, s, vh = _svd(a, full)
    eu, es, evh = np.linalg.svd(a, full_matrices=full)
    np.testing.assert_array_equal(u, eu)
    np.testing.assert_array_equal(s, es)
    np.testing.assert_array_equal(vh, evh)
    assert np.asarray(xp.linalg.svdvals(xp.asarray(a))).shape == es.shape


def test_one_by_one_and_bad_input():
    u, s, vh = _svd(np.array([[-2.5]]))
    assert s.tolist() == [2.5] and (u * s * vh).tolist() == [[-2.5]]
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        xp.linalg.svd(xp.asarray(1.0))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        xp.linalg.svdvals(xp.asarray([1.0, 2.0]))
    with pytest.raises(TypeError, match="floating-point"):
        xp.linalg.svd(xp.asarray([[1, 2], [3, 4]]))


def test_half_precision_is_computed_in_double():
    a = np.array([[3.0, 1.0], [1.0, 2.0], [0.5, 0.25]], dtype=np.float16)
    u, s, vh = _svd(a)
    assert u.dtype == s.dtype == vh.dtype == np.float16
    np.testing.assert_array_equal(s, np.linalg.svd(a.astype(np.float64), compute_uv=False).astype(np.float16))
