"""Results of small eager LAPACK calls stay on the host until a device use needs them
(pjrt_array/_host_value.py): every way of reading or writing such an Array gives what an Array on
an uploaded buffer gives, and the upload happens once, only when something needs the buffer."""

import numpy as np
import pytest

import pjrt_array as xp
from pjrt_array import _donation
from pjrt_array._host_value import HostValue
from pjrt_array._pjrt import Buffer
from helpers import every_segment_deferred, run_in_threads, spd_matrix

pytestmark = pytest.mark.cpu_only

L = xp.linalg


def _lazy(x: xp.Array) -> bool:
    """Whether ``x``'s value is still on the host only."""
    return type(x._buf) is HostValue and x._buf.buffer is None


def _inv(seed: int = 0, shape=(4, 4)):
    a = spd_matrix(shape, np.float64, seed)
    return a, L.inv(xp.asarray(a))


def test_every_host_path_result_starts_on_the_host_and_host_reads_do_not_upload():
    a = spd_matrix((5, 5), np.float64)
    x = xp.asarray(a)
    results = [L.det(x), L.inv(x), L.cholesky(x), *L.eigh(x), *L.svd(x), *L.qr(x), *L.slogdet(x),
               L.svdvals(x), L.eigvalsh(x), *L.eig(x), L.matrix_rank(x), L.pinv(x), L.solve(x, x)]
    assert all(_lazy(r) for r in results)
    assert not any(r._host.flags.writeable for r in results)  # numpy writes go through materialize
    d = results[0]
    assert float(d) == np.linalg.det(a)
    assert repr(d).startswith("Array(") and str(results[1]) == str(np.linalg.inv(a))
    np.testing.assert_array_equal(np.array(results[1], copy=True), np.linalg.inv(a))
    assert results[1].block_until_ready() is results[1]
    assert L.det(results[1]) is not None  # another host-path call reads the host value
    assert all(_lazy(r) for r in results)


def test_a_device_use_uploads_once_and_sees_the_host_values():
    a, y = _inv()
    inv = np.linalg.inv(a)
    uploaded = xp.asarray(inv)
    uploads = set()
    for _ in range(4):  # first sightings run on the host (_host_tier) without an upload, later ones compile
        np.testing.assert_array_equal(np.asarray(y + 1.0), inv + 1.0)
        # (a matmul's rounding is the plugin's, not numpy's: the same program on an uploaded copy)
        np.testing.assert_array_equal(np.asarray(y @ y), np.asarray(uploaded @ uploaded))
        # (a copy: np.asarray(y) would be a writable view of y's memory, which uploads it for good)
        np.testing.assert_array_equal(np.array(y[1:, 0], copy=True), inv[1:, 0])
        np.testing.assert_array_equal(np.array(y.mT, copy=True), inv.T)
        uploads.add(y._buf.buffer)
    np.testing.assert_array_equal(np.asarray(xp.jit(lambda u: u - 1.0)(y)), inv - 1.0)  # a program reads it
    np.testing.assert_array_equal(np.array(y.to_device(y.device), copy=True), inv)
    uploads.add(y._buf.buffer)
    assert type(y._buf) is HostValue and type(y._buf.buffer) is Buffer
    assert len(uploads - {None}) == 1  # one upload, reused
    np.testing.assert_array_equal(y._numpy(), inv)


def test_a_writable_host_view_writes_the_value_every_later_read_sees():
    a, y = _inv()
    host = np.asarray(y)  # numpy's writes are y's values, as for any Array on a CPU device
    assert host.flags.writeable and type(y._buf) is Buffer
    host[0, 0] = 7.0
    expected = np.linalg.inv(a)
    expected[0, 0] = 7.0
    np.testing.assert_array_equal(np.asarray(y + 0.0), expected)  # a program reads the buffer
    assert float(y[0, 0]) == 7.0
    assert float(L.det(y)) == np.linalg.det(expected)  # the host path reads the same memory
    np.testing.assert_array_equal(y._numpy(), expected)


def test_a_view_of_a_host_value_writes_through_to_it():
    a, y = _inv()
    row = y[1]
    np.asarray(row)[2] = -3.0  # a writable view of a view writes the base
    expected = np.linalg.inv(a)
    expected[1, 2] = -3.0
    np.testing.assert_array_equal(np.asarray(y), expected)
    np.testing.assert_array_equal(np.asarray(row), expected[1])
    _, w = _inv(2)
    column = w[:, 3]
    column[1] = 9.0  # a pjrt_array write through a view writes the base
    assert float(w[1, 3]) == 9.0 and float(column[1]) == 9.0
    assert float(L.det(w)) == np.linalg.det(np.asarray(w))


def test_dlpack_exports_the_buffer_consumers_may_write():
    a, y = _inv()
    out = np.from_dlpack(y)
    assert type(y._buf) is Buffer and y._host is None
    np.testing.assert_array_equal(out, np.linalg.inv(a))
    if out.flags.writeable:
        out[0, 0] = 5.0
        assert float(y[0, 0]) == 5.0
    z = xp.from_dlpack(L.inv(xp.asarray(a)))
    np.testing.assert_array_equal(np.asarray(z), np.linalg.inv(a))


def test_writes_replace_the_value_and_may_take_the_upload():
    a, y = _inv()
    y[0] = 1.0
    y += 2.0
    expected = np.linalg.inv(a)
    expected[0] = 1.0
    expected += 2.0
    np.testing.assert_array_equal(np.asarray(y), expected)
    assert y._host is None or np.array_equal(y._host, expected)
    _, w = _inv(1)
    assert not _donation.sole_owner(w)  # the host value is never given away...
    w[...] = 0.0
    assert type(w._buf) is Buffer  # ...the write made it an Array like any other
    np.testing.assert_array_equal(np.asarray(w), np.zeros((4, 4)))


def test_failed_write_leaves_the_value_readable():
    a, y = _inv()
    with pytest.raises((ValueError, IndexError)):
        y[0] = xp.ones(3)  # a shape that does not broadcast
    np.testing.assert_array_equal(np.asarray(y), np.linalg.inv(a))


def test_jit_reads_host_values_by_their_upload():
    a, y = _inv()
    f = xp.jit(lambda u: u * 2.0)
    g = xp.jit(lambda u, v: u @ v)
    for _ in range(2):  # the first call traces; the second takes the cached call
        _, y = _inv()
        np.testing.assert_array_equal(np.asarray(f(y)), 2.0 * np.linalg.inv(a))
        _, y2 = _inv()
        uploaded = xp.asarray(np.linalg.inv(a))
        np.testing.assert_array_equal(np.asarray(g(y, y2)), np.asarray(g(uploaded, uploaded)))
    assert f.cache_info()["traces"] == 1
    _, w = _inv()
    h = xp.jit(lambda u: u + w)  # a closure's host value is a parameter like any other
    np.testing.assert_array_equal(np.asarray(h(y)), 2 * np.linalg.inv(a))


def test_jit_donation_of_a_host_value():
    a, y = _inv()
    f = xp.jit(lambda u: u + 1.0, donate_argnums=0)
    out = f(y)
    np.testing.assert_array_equal(np.asarray(out), np.linalg.inv(a) + 1.0)
    with pytest.raises(RuntimeError, match="donated"):
        y + 1.0


def test_traced_calls_never_make_host_values():
    a = spd_matrix((4, 4), np.float64)
    f = xp.jit(lambda u: L.inv(u) + 0.0)
    out = f(xp.asarray(a))
    assert type(out._buf) is Buffer
    np.testing.assert_allclose(np.asarray(out), np.linalg.inv(a), rtol=1e-12)


def test_automatic_fusion_reads_host_values():
    with every_segment_deferred():
        a = spd_matrix((4, 4), np.float64)
        for _ in range(4):
            y = L.inv(xp.asarray(a))
            z = (y * 2.0 + 1.0) @ y
            np.testing.assert_allclose(np.asarray(z), (2 * np.linalg.inv(a) + 1) @ np.linalg.inv(a), rtol=1e-12)
            assert float(L.det(y)) == pytest.approx(1 / np.linalg.det(a))


def test_eight_threads_share_one_host_value():
    a, y = _inv(shape=(6, 6))
    expected = np.linalg.inv(a)
    uploads = []

    def work(i):
        for _ in range(20):
            np.testing.assert_array_equal(np.asarray(y + float(i)), expected + i)
            np.testing.assert_array_equal(y._numpy(), expected)
            uploads.append(y._buf.buffer)
            _, mine = _inv(i, (6, 6))
            np.testing.assert_array_equal(np.asarray(mine * 1.0), np.linalg.inv(spd_matrix((6, 6), np.float64, i)))

    xp.set_host_tier(True, sightings=4)  # the ops on ``y`` soon compile: their executes upload it, once
    try:
        run_in_threads(work)
    finally:
        xp.set_host_tier(True)
    assert len({id(b) for b in uploads if b is not None}) == 1


def test_sharded_operations_read_host_values():
    if len(xp.__array_namespace_info__().devices()) < 4:
        pytest.skip("needs a plugin with 4 devices")
    s = xp.NamedSharding(xp.make_mesh((4,), ("x",)), ("x", None))
    a, y = _inv()
    placed = xp.asarray(y, device=s)
    np.testing.assert_array_equal(np.asarray(placed), np.linalg.inv(a))
    _, y = _inv()
    total = placed + y  # an SPMD program with an unsharded host value in it
    np.testing.assert_array_equal(np.asarray(total), 2 * np.linalg.inv(a))


def test_results_the_host_path_does_not_serve_are_buffers():
    from pjrt_array.ops import _lapack_run
    limit = _lapack_run.HOST_MAX_BYTES
    _lapack_run.set_host_max_bytes(0)
    try:
        _, y = _inv()
    finally:
        _lapack_run.set_host_max_bytes(limit)
    assert type(y._buf) is Buffer
