"""The cuSOLVER lowering (ops/_cusolver.py), checked on the CPU against numpy.

The CPU has no cuSOLVER, so the four kernels are stood in for by host FFI
handlers registered under the same target names that do what the CUDA kernels
do by their contract: column-major matrices in and out, LAPACK's 1-based
pivots from getrf, 0-based pivots into the permutation kernel.  Everything of
ours around them (layouts, attributes, pivots to permutation, the triangular
solves, the parity, NaN on failure) then runs for real; tests/test_gpu.py runs
the same functions on the real kernels where a GPU is present.
"""

import warnings

import numpy as np
import pytest
import scipy.linalg

import pjrt_array as xp
from pjrt_array._pjrt.extensions import FFI
from pjrt_array.ops import _cusolver, _lapack

from helpers import assert_equal, random_array as _random

pytestmark = pytest.mark.cpu_only  # the stand-ins are host handlers

DTYPES = [np.float32, np.float64, np.complex64, np.complex128]


def _matrix(view: np.ndarray) -> np.ndarray:
    """The matrices a column-major buffer holds, given its row-major numpy view."""
    *batch, r, c = view.shape
    return view.reshape(*batch, c, r).swapaxes(-1, -2)


def _syevd(inputs, outputs):
    (a,), (v, w, info) = inputs, outputs
    w[...], _matrix(v)[...] = np.linalg.eigh(_matrix(a), UPLO="L")
    info[...] = 0


def _gesvdj(inputs, outputs):
    (a,), (out, s, u, v, info) = inputs, outputs
    full = u.shape[-1] == a.shape[-2] and v.shape[-1] == a.shape[-1]  # else gesvdj's economy mode
    u_, s[...], vh = np.linalg.svd(_matrix(a), full_matrices=full)
    _matrix(out)[...] = _matrix(a)
    _matrix(u)[...] = u_
    _matrix(v)[...] = np.conj(vh.swapaxes(-1, -2))
    info[...] = 0


def _getrf(inputs, outputs):
    (a,), (lu, ipiv, info) = inputs, outputs
    n = a.shape[-1]
    packed_all, pivots_all = _matrix(lu).reshape(-1, n, n), ipiv.reshape(-1, n)
    for i, m in enumerate(_matrix(a).reshape(-1, n, n)):
        with warnings.catch_warnings():  # scipy warns of exactly singular factors; getrf only sets info
            warnings.simplefilter("ignore")
            packed_all[i], pivots = scipy.linalg.lu_factor(m, check_finite=False)
        pivots_all[i] = pivots + 1  # LAPACK's 1-based row swaps
    info[...] = 0


def _pivots_to_permutation(inputs, outputs):
    (pivots,), (perm,) = inputs, outputs
    n = perm.shape[-1]
    for i, swaps in enumerate(pivots.reshape(-1, n)):
        order = np.arange(n)
        for row, other in enumerate(swaps):
            order[[row, other]] = order[[other, row]]
        perm.reshape(-1, n)[i] = order


def _geqrf(inputs, outputs):
    (a,), (out, tau) = inputs, outputs
    m, n = a.shape[-2:]
    packed_all, taus_all = _matrix(out).reshape(-1, m, n), tau.reshape(-1, min(m, n))
    for i, matrix in enumerate(_matrix(a).reshape(-1, m, n)):
        (packed_all[i], taus_all[i]), _ = scipy.linalg.qr(matrix, mode="raw")


def _orgqr(inputs, outputs):
    (a, tau), (out,) = inputs, outputs
    m, n = a.shape[-2:]
    q_all = _matrix(out).reshape(-1, m, n)
    for i, (packed, taus) in enumerate(zip(_matrix(a).reshape(-1, m, n), tau.reshape(-1, tau.shape[-1]))):
        orgqr = scipy.linalg.get_lapack_funcs("orgqr" if packed.dtype.kind == "f" else "ungqr", (packed,))
        q_all[i], _, info = orgqr(packed, taus)
        assert info == 0


KERNELS = {"cusolver_geqrf_ffi": _geqrf, "cusolver_orgqr_ffi": _orgqr, "cusolver_syevd_ffi": _syevd, "cusolver_gesvdj_ffi": _gesvdj, "cusolver_getrf_ffi": _getrf,
           "cu_lu_pivots_to_permutation": _pivots_to_permutation}
_registered = []


@pytest.fixture
def cusolver(monkeypatch):
    """The CPU device served by the stand-in kernels (LAPACK off)."""
    device = xp.__array_namespace_info__().default_device()
    if not _registered:
        ffi = FFI.of(device.client)
        if ffi is None:
            pytest.skip("the CPU plugin has no FFI extension")
        for name, kernel in KERNELS.items():
            ffi.register_python_handler(name, kernel, in_place=True)
        _registered.append(True)
    monkeypatch.setattr(_lapack, "serves", lambda device, dtype: False)
    monkeypatch.setattr(_cusolver, "serves", lambda device, dtype: np.dtype(dtype) in _cusolver._DTYPES)
    _lapack.choices.clear()  # the linalg front ends' choices, made from the real ``serves``
    yield
    _lapack.choices.clear()  # ... and from the stand-in: later tests choose afresh


def _tol(dtype):
    return 1e-4 if np.dtype(dtype).itemsize <= 8 and np.dtype(dtype) != np.float64 else 1e-10


def _hermitian(shape, dtype):
    a = _random(shape, dtype)
    return ((a + np.conj(a.swapaxes(-1, -2))) / 2).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 5), (3, 4, 4), (1, 1)])
def test_eigh(cusolver, dtype, shape):
    a = _hermitian(shape, dtype)
    w, v = xp.linalg.eigh(xp.asarray(a))
    tol = _tol(dtype)
    np.testing.assert_allclose(np.asarray(w), np.linalg.eigvalsh(a), rtol=tol, atol=tol)
    w, v = np.asarray(w), np.asarray(v)
    np.testing.assert_allclose(v @ (w[..., None] * np.conj(v.swapaxes(-1, -2))), a, rtol=tol * 10, atol=tol * 10)
    np.testing.assert_allclose(np.asarray(xp.linalg.eigvalsh(xp.asarray(a))), np.linalg.eigvalsh(a), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (2, 5, 5), (40, 35), (35, 40)])
@pytest.mark.parametrize("full", [True, False])
def test_svd(cusolver, dtype, shape, full):
    a = _random(shape, dtype)
    u, s, vh = (np.asarray(t) for t in xp.linalg.svd(xp.asarray(a), full_matrices=full))
    nu, ns, nvh = np.linalg.svd(a, full_matrices=full)
    assert (u.shape, s.shape, vh.shape) == (nu.shape, ns.shape, nvh.shape)
    tol = _tol(dtype)
    np.testing.assert_allclose(s, ns, rtol=tol, atol=tol)
    k = s.shape[-1]
    np.testing.assert_allclose((u[..., :k] * s[..., None, :]) @ vh[..., :k, :], a, rtol=tol * 10, atol=tol * 10)
    np.testing.assert_allclose(np.asarray(xp.linalg.svdvals(xp.asarray(a))), ns, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (2, 5, 5), (1, 1)])
@pytest.mark.parametrize("mode", ["reduced", "complete"])
def test_qr(cusolver, dtype, shape, mode):
    a = _random(shape, dtype)
    q, r = (np.asarray(t) for t in xp.linalg.qr(xp.asarray(a), mode=mode))
    nq, nr = np.linalg.qr(a, mode=mode)
    assert (q.shape, r.shape) == (nq.shape, nr.shape)
    tol = _tol(dtype)
    np.testing.assert_allclose(q, nq, rtol=tol * 10, atol=tol * 10)  # the same Householder conventions as LAPACK
    np.testing.assert_allclose(r, nr, rtol=tol * 10, atol=tol * 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", [((4, 4), (4, 2)), ((4, 4), (4,)), ((3, 5, 5), (5, 1)), ((1, 1), (1, 1))])
def test_solve_inv_det_slogdet(cusolver, dtype, shapes):
    a_shape, b_shape = shapes
    a = (_random(a_shape, dtype) + 3 * np.eye(a_shape[-1])).astype(dtype)
    rhs = _random(b_shape, dtype, seed=1)
    x, y = xp.asarray(a), xp.asarray(rhs)
    tol = _tol(dtype)
    assert_equal(xp.linalg.solve(x, y), np.linalg.solve(a, rhs), rtol=tol, atol=tol)
    assert_equal(xp.linalg.inv(x), np.linalg.inv(a), rtol=tol, atol=tol)
    assert_equal(xp.linalg.det(x), np.linalg.det(a), rtol=tol, atol=tol)
    sign, logabs = xp.linalg.slogdet(x)
    want_sign, want_log = np.linalg.slogdet(a)
    assert_equal(sign, want_sign, rtol=tol, atol=tol)
    assert_equal(logabs, want_log, rtol=tol, atol=tol)


def test_the_pivots_decide_the_sign_of_det(cusolver):
    # Rows that must be swapped (a zero leading entry): getrf pivots, and det's parity follows them.
    a = np.array([[0.0, 2.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 3.0]])
    assert_equal(xp.linalg.det(xp.asarray(a)), np.linalg.det(a), rtol=1e-12, atol=1e-12)
    assert_equal(xp.linalg.solve(xp.asarray(a), xp.asarray(np.eye(3))), np.linalg.inv(a), rtol=1e-12, atol=1e-12)


def test_singular_matrices(cusolver):
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    assert float(xp.linalg.det(xp.asarray(a))) == 0.0
    sign, logabs = xp.linalg.slogdet(xp.asarray(a))
    assert float(sign) == 0.0 and float(logabs) == -np.inf
    assert not np.all(np.isfinite(np.asarray(xp.linalg.inv(xp.asarray(a)))))


def test_the_program_asks_for_column_major_matrices_and_typed_attributes(cusolver):
    text = xp.jit(xp.linalg.eigh).lower(xp.asarray(np.eye(3))).as_text()
    call = next(line for line in text.splitlines() if "cusolver_syevd_ffi" in line)
    assert "algorithm = 0 : ui8" in call and "lower = true" in call and "api_version = 4" in call
    assert "operand_layouts = [dense<[0, 1]>" in call


def test_empty_matrices_take_the_pure_rules(cusolver):
    w, v = xp.linalg.eigh(xp.zeros((0, 0)))
    assert w.shape == (0,) and v.shape == (0, 0)
    assert xp.linalg.svdvals(xp.zeros((3, 0))).shape == (0,)


def test_kernel_addresses_need_matching_plugin_wheels(monkeypatch):
    import importlib.metadata
    versions = {"jax-cuda13-plugin": "0.1", "jax-cuda13-pjrt": "0.2"}

    def version(name):
        if name in versions:
            return versions[name]
        raise importlib.metadata.PackageNotFoundError(name)
    monkeypatch.setattr(importlib.metadata, "version", version)
    assert _cusolver.kernel_addresses() is None  # releases differ: their FFI ABI may too


def test_capsule_address():
    import ctypes
    new = ctypes.pythonapi.PyCapsule_New
    new.restype, new.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    assert _cusolver._capsule_address(new(0x1234, b"xla._CUSTOM_CALL_TARGET", None)) == 0x1234
