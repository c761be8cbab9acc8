"""linalg through the LAPACK custom calls of CPU devices (ops/_lapack.py).

numpy.linalg is the oracle and also the kernel, so values match numpy's on
every dtype and batch shape; what these tests guard is the plumbing (shapes
and dtypes of every result, empty and 1x1 matrices, batching), accuracy,
numpy's errors and non-finite behaviour, the platform choice, and concurrency.
"""

import threading
import warnings

import numpy as np
import pytest

import pjrt_array as xp
from pjrt_array._devices import all_devices
from pjrt_array._pjrt import PjrtError
from pjrt_array._pjrt.extensions import FFI
from pjrt_array.ops import _lapack
from pjrt_array.ops._ffi_registry import OncePerPlugin
from pjrt_array.ops._builder import build_module
from helpers import random_array as _random, run_in_threads

# The kernels serve CPU devices: with a GPU as the default device there is nothing to test here.
pytestmark = pytest.mark.cpu_only

DTYPES = [np.float32, np.float64, np.complex64, np.complex128]
SQUARE = [(0, 0), (1, 1), (3, 3), (2, 4, 4), (0, 3, 3), (2, 0, 0), (2, 1, 3, 3)]
RECTANGULAR = [(5, 3), (3, 5), (0, 3), (3, 0), (2, 4, 2), (1, 1)]
L = xp.linalg


def _spd(shape, dtype, seed=0):
    a = _random(shape, dtype, seed)
    n = shape[-1]
    return (a @ np.conj(np.swapaxes(a, -1, -2)) + n * np.eye(n)).astype(dtype)


def _eps(dtype):
    return float(np.finfo(np.dtype(dtype)).eps)


def _same(got, expected, eig=False):
    """pjrt_array result(s) equal numpy's in shape, dtype and value (to a few eps)."""
    got = got if isinstance(got, tuple) else (got,)
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        g, e = np.asarray(g), np.asarray(e)
        if eig and e.dtype.kind == "f":
            e = e.astype(np.result_type(e.dtype, np.complex64))  # numpy's eig is real where it can be
        assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, g.dtype, e.shape, e.dtype)
        scale = max(1.0, float(np.abs(e).max(initial=0)))
        np.testing.assert_allclose(g, e, rtol=0, atol=8 * _eps(g.dtype if g.dtype.kind in "fc" else "f8") * scale)


@pytest.fixture(autouse=True)
def lapack_on():
    _lapack.set_enabled(True)
    yield


def test_cpu_devices_choose_lapack_and_programs_call_it():
    x = xp.asarray(np.eye(2))
    for dtype in DTYPES:
        assert _lapack.serves(x.device, np.dtype(dtype))
    assert not _lapack.serves(x.device, np.dtype(np.float16))  # numpy.linalg has no half precision
    text, _ = build_module(_lapack.eigh_rule, {"vectors": True}, [((3, 3), np.dtype("float64"))])
    assert "stablehlo.custom_call @pjrt_array_lapack_eigh(%arg0)" in text and "api_version = 4" in text
    _lapack.set_enabled(False)
    assert not _lapack.serves(x.device, np.dtype(np.float64))
    _lapack.set_enabled(True)
    assert _lapack.serves(x.device, np.dtype(np.float64))


def test_a_plugin_without_ffi_keeps_the_pure_lowering(monkeypatch):
    client = xp.asarray(0.0).device.client

    class Plugin:
        path = "/nowhere/without-ffi.so"

    class Client:
        plugin = Plugin()

    assert _lapack._registered(client) is True  # registered before the FFI goes away below
    monkeypatch.setattr(FFI, "of", classmethod(lambda cls, source: None))
    assert _lapack._registered(Client()) is False
    assert _lapack._registered(client) is True  # already registered: not asked again


@pytest.mark.parametrize("error", [PjrtError("refused"), LookupError("no kernels")])
def test_kernels_are_registered_once_per_plugin(error):
    client = xp.asarray(0.0).device.client
    calls = []

    def register(ffi):
        calls.append(ffi)
        raise error

    refused = OncePerPlugin(register)
    assert refused(client) is False and refused(client) is False
    assert len(calls) == 1  # the answer is kept: never asked twice
    accepted = OncePerPlugin(calls.append)
    assert accepted(client) is True and accepted(client) is True and len(calls) == 2


@pytest.mark.parametrize("plugin", [p.path for p in xp.plugins() if p.platform == "cpu"])
def test_every_cpu_plugin_runs_the_kernels(plugin):
    device = all_devices(plugin)[0]
    a = _spd((2, 3, 3), np.float64, 1)
    assert _lapack.serves(device, np.dtype(np.float64))
    _same(L.eigh(xp.asarray(a, device=device)), tuple(np.linalg.eigh(a)))
    _same(L.eigvals(xp.asarray(a, device=device)), np.linalg.eigvals(a).astype(np.complex128))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SQUARE)
def test_square_functions_match_numpy(dtype, shape):
    s = _spd(shape, dtype)
    a = _random(shape, dtype, 1) + 3 * np.eye(shape[-1], dtype=dtype)
    x, y = xp.asarray(s), xp.asarray(a)
    _same(L.cholesky(x), np.linalg.cholesky(s))
    _same(L.cholesky(x, upper=True), np.linalg.cholesky(s, upper=True))
    _same(L.eigh(x), tuple(np.linalg.eigh(s)))
    _same(L.eigvalsh(x), np.linalg.eigvalsh(s))
    _same(L.eig(y), tuple(np.linalg.eig(a)), eig=True)
    _same(L.eigvals(y), np.linalg.eigvals(a), eig=True)
    _same(L.inv(y), np.linalg.inv(a))
    _same(L.det(y), np.linalg.det(a))
    _same(L.slogdet(y), tuple(np.linalg.slogdet(a)))
    b = _random(shape[:-1] + (2,), dtype, 2)
    _same(L.solve(y, xp.asarray(b)), np.linalg.solve(a, b))
    v = _random(shape[-1:], dtype, 3)
    _same(L.solve(y, xp.asarray(v)), np.linalg.solve(a, v))
    _same(L.matrix_power(y, -3), np.linalg.matrix_power(a, -3))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", RECTANGULAR + [(0, 0), (2, 0, 0)])
def test_rectangular_functions_match_numpy(dtype, shape):
    a = _random(shape, dtype, 4)
    x = xp.asarray(a)
    for full in (True, False):
        _same(L.svd(x, full_matrices=full), tuple(np.linalg.svd(a, full_matrices=full)))
    _same(L.svdvals(x), np.linalg.svdvals(a))
    for mode in ("reduced", "complete"):
        _same(L.qr(x, mode=mode), tuple(np.linalg.qr(a, mode=mode)))
    _same(L.pinv(x), np.linalg.pinv(a, rtol=None))
    _same(L.pinv(x, rtol=0.5), np.linalg.pinv(a, rtol=0.5))
    _same(L.matrix_rank(x), np.linalg.matrix_rank(a))
    _same(L.matrix_rank(x, rtol=0.5), np.linalg.matrix_rank(a, rtol=0.5))
    rtol = np.linspace(0.1, 0.9, shape[0]) if len(shape) == 3 else np.float64(0.3)
    _same(L.matrix_rank(x, rtol=xp.asarray(rtol)), np.linalg.matrix_rank(a, rtol=rtol))


def test_mixed_dtypes_and_broadcast_batches_in_solve():
    a = _random((2, 1, 3, 3), np.float32, 5) + 3 * np.eye(3, dtype=np.float32)
    b = _random((4, 3, 2), np.complex128, 6)
    _same(L.solve(xp.asarray(a), xp.asarray(b)), np.linalg.solve(a, b))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 7, 40])
def test_accuracy_within_ten_eps_n(dtype, n):
    """Reconstruction and orthogonality as good as numpy's: within 10·eps·n relative to |a|."""
    a = _random((2, n, n), dtype, 7)
    s = _spd((2, n, n), dtype, 8)
    tol = 10 * _eps(dtype) * n
    norm = np.abs(a).max()
    eye = np.eye(n)

    def close(got, expected, scale):
        assert np.abs(got - expected).max() <= tol * scale, np.abs(got - expected).max() / scale

    def adj(m):
        return np.conj(np.swapaxes(m, -1, -2))

    u, sv, vh = (np.asarray(t) for t in L.svd(xp.asarray(a)))
    close((u * sv[..., None, :]) @ vh, a, norm * n)
    close(adj(u) @ u, eye, 1)
    close(vh @ adj(vh), eye, 1)
    q, r = (np.asarray(t) for t in L.qr(xp.asarray(a)))
    close(q @ r, a, norm * n)
    close(adj(q) @ q, eye, 1)
    w, v = (np.asarray(t) for t in L.eigh(xp.asarray(s)))
    close((v * w[..., None, :]) @ adj(v), s, np.abs(s).max() * n)
    close(adj(v) @ v, eye, 1)
    c = np.asarray(L.cholesky(xp.asarray(s)))
    close(c @ adj(c), s, np.abs(s).max() * n)
    well = a + 2 * n * np.eye(n, dtype=dtype)
    close(np.asarray(L.inv(xp.asarray(well))) @ well, eye, n)


@pytest.mark.parametrize("fn, arg, message", [
    (L.inv, np.zeros((3, 3)), "Singular matrix"),
    (lambda x: L.solve(x, xp.ones(3)), np.zeros((3, 3)), "Singular matrix"),
    (L.cholesky, -np.eye(3), "Matrix is not positive definite"),
    (L.eig, np.diag([1.0, np.nan, 2.0]), "Array must not contain infs or NaNs"),
    (L.eigvals, np.diag([1.0, np.inf, 2.0]), "Array must not contain infs or NaNs"),
    (L.svd, np.diag([1.0, np.nan, 2.0]), "SVD did not converge"),
    (L.matrix_rank, np.diag([1.0, np.nan, 2.0]), "SVD did not converge"),
    (L.pinv, np.diag([1.0, np.nan, 2.0]), "SVD did not converge"),
])
@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_numpy_linalg_errors_are_raised(fn, arg, message, jit):
    # Inside a jitted program the kernel fails the whole execution: the same LinAlgError.
    f = xp.jit(fn) if jit else fn
    with pytest.raises(np.linalg.LinAlgError, match=message):
        np.asarray(f(xp.asarray(arg))[0])
    # The error left nothing broken behind: the same kernel serves the next call.
    assert np.isfinite(np.asarray(L.inv(xp.asarray(np.eye(3))))).all()
    if jit:  # and the same executable runs a good input
        out = f(xp.asarray(np.eye(3) * 2.0))
        assert all(np.isfinite(np.asarray(t)).all() for t in (out if isinstance(out, tuple) else (out,)))


def test_linalg_error_inside_a_jitted_loop():
    @xp.jit
    def repeated_solve(a, b):
        return xp.fori_loop(0, 3, lambda i, x: L.solve(a, x) + 1.0, b)
    good = np.eye(3) * 2.0
    np.testing.assert_allclose(np.asarray(repeated_solve(xp.asarray(good), xp.ones(3))), np.full(3, 1.875))
    with pytest.raises(np.linalg.LinAlgError, match="Singular matrix"):
        repeated_solve(xp.asarray(np.zeros((3, 3))), xp.ones(3))


def test_non_finite_input_gives_what_numpy_gives_without_warnings():
    nan = np.eye(3)
    nan[1, 1] = np.nan
    inf = np.eye(3)
    inf[0, 1] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for a in (nan, inf):
            x = xp.asarray(a)
            with np.errstate(all="ignore"):
                _same(L.det(x), np.linalg.det(a))
                _same(L.slogdet(x), tuple(np.linalg.slogdet(a)))
                _same(L.inv(x), np.linalg.inv(a))
                _same(L.eigh(x), tuple(np.linalg.eigh(a)))
                _same(L.qr(x), tuple(np.linalg.qr(a)))
        _same(L.svdvals(xp.asarray(inf)), np.linalg.svdvals(inf))


def test_delayed_errors_surface_at_the_host_read():
    """A kernel error that comes after the call returned (the execution waited on an input
    still being computed) is raised at the read, as the ValueError LinAlgError also is."""
    big = xp.ones((600, 600))
    for _ in range(5):
        zeros = (big @ big) * 0.0  # usually still computing when inv is dispatched
        try:
            out = L.inv(zeros[:3, :3])
        except np.linalg.LinAlgError:
            continue  # the plugin ran it at once: the error came at the call
        with pytest.raises(ValueError, match="LinAlgError: Singular matrix"):
            np.asarray(out)
        with pytest.raises(PjrtError, match="LinAlgError: Singular matrix"):
            np.asarray(out + 1)  # and in whatever was computed from it
        return


def test_eight_threads_get_their_own_results():
    mats = [_spd((3, 16, 16), np.float64, seed) for seed in range(8)]
    expected = [(np.linalg.eigvalsh(m), np.linalg.inv(m), np.linalg.svdvals(m)) for m in mats]
    barrier = threading.Barrier(8)

    def work(i):
        x = xp.asarray(mats[i])
        barrier.wait()
        for _ in range(20):
            got = (L.eigvalsh(x), L.inv(x), L.svdvals(x))
            for g, e in zip(got, expected[i]):
                np.testing.assert_allclose(np.asarray(g), e, rtol=1e-10, atol=1e-12)
    run_in_threads(work)


def test_half_precision_keeps_the_pure_lowering():
    a = np.array([[4.0, 1.0], [1.0, 3.0]], np.float16)
    w = np.asarray(L.eigvalsh(xp.asarray(a)))
    assert w.dtype == np.float16
    np.testing.assert_allclose(w, np.linalg.eigvalsh(a.astype(np.float64)), rtol=1e-2)


def test_sharded_batches_run_the_kernels_on_every_device():
    mesh = xp.make_mesh((2,), ("x",))
    a = _spd((4, 5, 5), np.float64, 9)
    x = xp.asarray(a, device=xp.NamedSharding(mesh, ("x", None, None)))
    _same(L.eigh(x), tuple(np.linalg.eigh(a)))
    _same(L.inv(x), np.linalg.inv(a))
    _same(L.svdvals(x), np.linalg.svdvals(a))
