"""Small eager LAPACK calls run on the host (ops/_lapack_run.py): the same kernels on the same operands
as the custom call, so the same values bit for bit, the same errors at the call; the program still
runs under jit, for operands not yet computed and above the size bound."""

import warnings

import numpy as np
import pytest

import pjrt_array as xp
from pjrt_array import _dispatch
from pjrt_array.ops import _lapack_run
from helpers import every_segment_deferred, random_array, run_in_threads, spd_matrix

pytestmark = pytest.mark.cpu_only

L = xp.linalg
DTYPES = [np.float32, np.float64, np.complex64, np.complex128]


def _tuple(out):
    return tuple(out) if isinstance(out, tuple) else (out,)


def _program(fn, *args):
    """``fn(*args)`` with the host path off: every call runs its program (the custom call)."""
    limit = _lapack_run.HOST_MAX_BYTES
    _lapack_run.set_host_max_bytes(0)
    try:
        return _tuple(fn(*args))
    finally:
        _lapack_run.set_host_max_bytes(limit)


def _on_host(fn, *args):
    """``fn(*args)``, checked to have run no program."""
    before = _dispatch.cache_info()
    out = _tuple(fn(*args))
    after = _dispatch.cache_info()
    assert (after["hits"], after["misses"]) == (before["hits"], before["misses"]), "a program ran"
    return out


def _identical(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert isinstance(g, xp.Array)
        assert (g.shape, g.dtype) == (e.shape, e.dtype)
        assert np.asarray(g).tobytes() == np.asarray(e).tobytes()


SQUARE = {
    "cholesky": lambda x: L.cholesky(x),
    "cholesky_upper": lambda x: L.cholesky(x, upper=True),
    "eigh": L.eigh,
    "eigvalsh": L.eigvalsh,
    "eig": L.eig,
    "eigvals": L.eigvals,
    "inv": L.inv,
    "det": L.det,
    "slogdet": L.slogdet,
}
ANY_SHAPE = {
    "svd": L.svd,
    "svd_reduced": lambda x: L.svd(x, full_matrices=False),
    "svdvals": L.svdvals,
    "qr": L.qr,
    "qr_complete": lambda x: L.qr(x, mode="complete"),
    "pinv": L.pinv,
    "pinv_rtol": lambda x: L.pinv(x, rtol=0.3),
    "matrix_rank": L.matrix_rank,
    "matrix_rank_rtol": lambda x: L.matrix_rank(x, rtol=0.3),
}
NUMPY = {
    "cholesky": np.linalg.cholesky, "cholesky_upper": lambda a: np.linalg.cholesky(a, upper=True),
    "eigh": np.linalg.eigh, "eigvalsh": np.linalg.eigvalsh, "inv": np.linalg.inv, "det": np.linalg.det,
    "slogdet": np.linalg.slogdet, "svd": np.linalg.svd,
    "svd_reduced": lambda a: np.linalg.svd(a, full_matrices=False), "svdvals": np.linalg.svdvals,
    "qr": np.linalg.qr, "qr_complete": lambda a: np.linalg.qr(a, mode="complete"),
    "pinv": np.linalg.pinv, "pinv_rtol": lambda a: np.linalg.pinv(a, rtol=0.3),
    "matrix_rank": np.linalg.matrix_rank, "matrix_rank_rtol": lambda a: np.linalg.matrix_rank(a, rtol=0.3),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(8, 8), (2, 3, 4, 4), (1, 1), (0, 0), (3, 0, 0)])
@pytest.mark.parametrize("name", sorted(SQUARE))
def test_square_calls_on_the_host_are_the_programs_bit_for_bit(name, shape, dtype):
    fn = SQUARE[name]
    a = spd_matrix(shape, dtype) if shape[-1] else np.zeros(shape, dtype)
    x = xp.asarray(a)
    got = _on_host(fn, x)
    _identical(got, _program(fn, x))
    if name in NUMPY:  # numpy is the oracle (eig's vectors are only defined up to a phase)
        expected = _tuple(NUMPY[name](a))
        for g, e in zip(got, expected):
            np.testing.assert_allclose(np.asarray(g), e, rtol=20 * np.finfo(dtype).eps, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 6), (0, 3)])
@pytest.mark.parametrize("name", sorted(ANY_SHAPE))
def test_rectangular_calls_on_the_host_are_the_programs_bit_for_bit(name, shape, dtype):
    fn = ANY_SHAPE[name]
    if 0 in shape and name.startswith(("matrix_rank", "pinv")):
        pytest.skip("numpy's rank and pinv of an empty matrix: covered by tests/test_lapack.py")
    a = random_array(shape, dtype, 1)
    x = xp.asarray(a)
    got = _on_host(fn, x)
    _identical(got, _program(fn, x))
    expected = _tuple(NUMPY[name](a))
    if name.startswith("svd") and name != "svdvals" or name.startswith("qr"):
        return  # the factors' signs are LAPACK's choice: the bit-for-bit check above covers them
    for g, e in zip(got, expected):
        np.testing.assert_allclose(np.asarray(g), e, rtol=100 * np.finfo(dtype).eps, atol=1e-5)


@pytest.mark.parametrize("a_dtype, b_dtype", [(np.float64, np.float64), (np.float32, np.float64),
                                              (np.float32, np.complex64), (np.complex128, np.float32)])
@pytest.mark.parametrize("b_shape", [(4,), (4, 2), (2, 3, 4, 2)])
def test_solve_converts_its_operands_as_the_program_does(a_dtype, b_dtype, b_shape):
    a = spd_matrix((3, 4, 4), a_dtype)
    b = random_array(b_shape, b_dtype, 2)
    if len(b_shape) == 4:
        a = a[None]
    x, y = xp.asarray(a), xp.asarray(b)
    got = _on_host(L.solve, x, y)
    _identical(got, _program(L.solve, x, y))
    np.testing.assert_allclose(np.asarray(got[0]), np.linalg.solve(a, b), rtol=1e-4)


def test_a_tolerance_array_is_an_operand_as_in_the_program():
    a = random_array((3, 5, 4), np.float32, 3)
    rtol = xp.asarray(np.array([0.1, 0.5, 0.9]))
    for fn, oracle in ((L.matrix_rank, np.linalg.matrix_rank), (L.pinv, np.linalg.pinv)):
        got = _on_host(lambda x: fn(x, rtol=rtol), xp.asarray(a))
        _identical(got, _program(lambda x: fn(x, rtol=rtol), xp.asarray(a)))
        np.testing.assert_allclose(np.asarray(got[0]), oracle(a, rtol=np.asarray(rtol)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_input_gives_the_programs_values_or_error(value):
    a = np.eye(4)
    a[1, 2] = value
    x = xp.asarray(a)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the host path warns no more than the program does
        for fn in (*SQUARE.values(), *ANY_SHAPE.values()):
            try:
                expected = _program(fn, x)
            except np.linalg.LinAlgError as exc:
                with pytest.raises(np.linalg.LinAlgError, match=str(exc)):
                    fn(x)
                continue
            _identical(_on_host(fn, x), expected)


@pytest.mark.parametrize("fn, a, message", [
    (L.inv, np.zeros((3, 3)), "Singular matrix"),
    (lambda x: L.solve(x, xp.ones(3)), np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 1.0]]),
     "Singular matrix"),
    (L.cholesky, -np.eye(3), "Matrix is not positive definite"),
    (L.eigvals, np.diag([1.0, np.nan, 2.0]), "Array must not contain infs or NaNs"),
    (L.svdvals, np.diag([1.0, np.nan, 2.0]), "SVD did not converge"),
])
def test_errors_raise_at_the_call(fn, a, message):
    with pytest.raises(np.linalg.LinAlgError, match=message):
        fn(xp.asarray(a))
    batch = np.stack([np.eye(3), a])  # one bad matrix in a batch fails the call
    with pytest.raises(np.linalg.LinAlgError, match=message):
        fn(xp.asarray(batch))


def test_jit_still_emits_the_custom_call(monkeypatch):
    def refuse(*args):
        raise AssertionError("a traced call ran on the host")
    monkeypatch.setattr(_lapack_run, "_on_host", refuse)
    a = spd_matrix((4, 4), np.float64)
    f = xp.jit(lambda x: L.inv(x) @ x)
    np.testing.assert_allclose(np.asarray(f(xp.asarray(a))), np.eye(4), atol=1e-12)
    assert "pjrt_array_lapack_inv" in f.lower(xp.asarray(a)).as_text()


def test_an_operand_still_being_computed_is_waited_for_not_sent_to_the_program(monkeypatch):
    """Which kernel serves a call must not depend on timing: the host's and the program's round
    differently (``inv`` of the same matrix differs in the last bits)."""
    a = spd_matrix((4, 4), np.float64)
    expected = L.inv(xp.asarray(a) + 0.0)
    monkeypatch.setattr(_lapack_run, "is_ready", lambda api, handle: False)
    x = xp.asarray(a) + 0.0  # a result with no host view yet, reported as still being computed
    before = _dispatch.cache_info()["hits"] + _dispatch.cache_info()["misses"]
    out = L.inv(x)
    assert _dispatch.cache_info()["hits"] + _dispatch.cache_info()["misses"] == before  # no program
    np.testing.assert_array_equal(np.array(out, copy=True), np.array(expected, copy=True))


def test_calls_above_the_bound_run_the_program():
    a = spd_matrix((8, 8), np.float64)
    x = xp.asarray(a)
    limit = _lapack_run.HOST_MAX_BYTES
    _lapack_run.set_host_max_bytes(8 * 8 * 8)  # the operand fits, the operand and result do not
    try:
        before = _dispatch.cache_info()["misses"] + _dispatch.cache_info()["hits"]
        out = L.inv(x)
        assert _dispatch.cache_info()["misses"] + _dispatch.cache_info()["hits"] == before + 1
    finally:
        _lapack_run.set_host_max_bytes(limit)
    _identical((out,), _on_host(L.inv, x))


def _programs_run():
    info = _dispatch.cache_info()
    return info["misses"] + info["hits"]


def test_a_remembered_call_gives_way_where_the_full_path_decides_otherwise():
    """A one-matrix call served on the host is remembered under the front end's key and runs
    straight to its kernel next time (``_lapack_run.run_cached``); whatever the full path would
    decide differently still decides: the size bound, LAPACK turned off, a sharded operand of
    the same aval, a trace, a view whose base was written."""
    from pjrt_array.ops import _lapack
    a = spd_matrix((4, 4), np.float64)
    x = xp.asarray(a)
    expected = _on_host(L.det, x)  # first call: remembered
    _identical(_on_host(L.det, x), expected)  # the remembered call: no program either
    limit = _lapack_run.HOST_MAX_BYTES
    _lapack_run.set_host_max_bytes(0)
    try:
        before = _programs_run()
        L.det(x)
        assert _programs_run() == before + 1
    finally:
        _lapack_run.set_host_max_bytes(limit)
    _lapack.set_enabled(False)
    try:
        before = _programs_run()
        np.testing.assert_allclose(float(L.det(x)), np.linalg.det(a), rtol=1e-12)  # the pure lowering
        assert _programs_run() == before + 1
    finally:
        _lapack.set_enabled(True)
    _identical(_on_host(L.det, x), expected)
    mesh = xp.make_mesh((2,), ("x",))
    sharded = xp.asarray(np.stack([a, a]), device=xp.NamedSharding(mesh, ("x", None, None)))
    xp.linalg.det(xp.asarray(np.stack([a, a])))  # the unsharded twin's call is remembered
    np.testing.assert_allclose(np.asarray(L.det(sharded)), np.linalg.det(np.stack([a, a])), rtol=1e-12)
    assert "pjrt_array_lapack_det" in xp.jit(L.det).lower(x).as_text()
    base = xp.asarray(np.stack([a, 2 * a]))
    view = base[1]
    first = float(L.det(view))
    base[1] = xp.asarray(a)
    assert float(L.det(view)) == pytest.approx(first / 16)


def test_writes_and_views_are_read_as_they_are_now():
    a = spd_matrix((2, 3, 3), np.float64)
    x = xp.asarray(a)
    first = x[1]  # a view of the batch
    assert np.isclose(float(_on_host(L.det, first)[0]), np.linalg.det(a[1]))
    x[1] = 2 * np.eye(3)  # written after the view's host value was cached
    assert float(L.det(first)) == pytest.approx(8.0)
    assert float(L.det(x[1])) == pytest.approx(8.0)
    np.testing.assert_allclose(np.asarray(L.det(x)), [np.linalg.det(a[0]), 8.0])
    y = xp.asarray(np.eye(3))
    L.inv(y)  # caches y's host view
    y += 1.0  # an in-place write: a new value, which the next call reads
    np.testing.assert_allclose(np.asarray(L.inv(y)), np.linalg.inv(np.eye(3) + 1.0))
    host = np.asarray(y)  # a writable numpy view: numpy's writes are y's values
    host[0, 0] = 5.0
    np.testing.assert_allclose(float(L.det(y)), np.linalg.det(host))
    t = x[0].mT  # a transposed view
    np.testing.assert_allclose(np.asarray(L.inv(t)), np.linalg.inv(a[0].T))


def test_deferred_operands_are_computed_and_errors_reach_the_call():
    with every_segment_deferred():
        a = spd_matrix((3, 3), np.float64)
        x = xp.asarray(a)
        for _ in range(3):
            y = x * 2.0  # deferred
            np.testing.assert_allclose(float(L.det(y)), np.linalg.det(2 * a))
            z = x * 0.0
            with pytest.raises(np.linalg.LinAlgError, match="Singular matrix"):
                L.inv(z)


def test_eight_threads_get_their_own_results():
    mats = [spd_matrix((2, 5, 5), np.float64, seed) for seed in range(8)]
    arrays = [xp.asarray(m) for m in mats]

    def work(i):
        for _ in range(30):
            w, v = L.eigh(arrays[i])
            np.testing.assert_array_equal(np.asarray(w), np.linalg.eigh(mats[i])[0])
            np.testing.assert_allclose(np.asarray(L.inv(arrays[i])), np.linalg.inv(mats[i]), rtol=1e-12)
            with pytest.raises(np.linalg.LinAlgError):
                L.cholesky(-arrays[i])

    run_in_threads(work)


def test_an_operand_whose_computation_failed_raises_its_error_at_the_call():
    from pjrt_array._pjrt.errors import InvalidArgument
    device = xp.asarray(0.0).device
    client = device.client
    if not client.api.has("PJRT_Client_CreateErrorBuffer"):
        pytest.skip("the plugin cannot make error buffers (PJRT API < 0.82)")
    buffer = client.create_error_buffer(InvalidArgument("the producer failed"), (3, 3), np.float64,
                                        device.pjrt.default_memory())
    failed = xp.Array._from_buffer(buffer, ((3, 3), np.dtype(np.float64)), device)
    with pytest.raises(ValueError, match="the producer failed"):
        L.det(failed)
    # a producer's LAPACK failure is numpy's LinAlgError, on a call of a kind served before too
    L.inv(xp.asarray(np.eye(3)))
    for fn in (L.inv, L.det):
        buffer = client.create_error_buffer(InvalidArgument("LinAlgError: Singular matrix"), (3, 3), np.float64,
                                            device.pjrt.default_memory())
        failed = xp.Array._from_buffer(buffer, ((3, 3), np.dtype(np.float64)), device)
        with pytest.raises(np.linalg.LinAlgError, match="^Singular matrix$"):
            fn(failed)


def test_a_call_above_the_bound_reads_nothing_on_the_host():
    x = xp.asarray(spd_matrix((6, 6), np.float64))  # a device buffer, no host view yet
    limit = _lapack_run.HOST_MAX_BYTES
    _lapack_run.set_host_max_bytes(1)
    try:
        L.inv(x)
    finally:
        _lapack_run.set_host_max_bytes(limit)
    assert x._host is None  # not pinned by a host view the call did not use
