"""The fast paths of eager loops keep every answer and every check (branch eagerloop).

Each fast path keeps what a kind of call decided -- ``x[i]``'s plan per shape,
a Python float operand's cached 0-d Array and result dtype per (value, array
dtype, device), ``stack``'s parameters per (axis, ndim, dtype), the operators'
list of small avals, the fusion recorder's liveness by reference count -- so
these tests call one site repeatedly with the shapes, dtypes and values
changing under it, with fusion off and with every segment deferred, and
compare with numpy's answers.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import pjrt_array as xp
from pjrt_array import _donation, _fusion, _trace_state


@pytest.fixture(params=["eager", "deferred"])
def mode(request):
    """Fusion off (every op executes at its call), or on with every segment deferred."""
    was = xp.fusion_enabled()
    previous = _fusion.configure(hot=0 if request.param == "deferred" else 2)
    xp.set_fusion(request.param == "deferred")
    yield request.param
    _fusion.wait_for_compiles()
    xp.set_fusion(was)
    _fusion.configure(hot=previous[0], bound=previous[1], saved=previous[2])


def at(v, i):
    return v[i]  # one call site for every shape, dtype and index below


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_])
def test_int_index_follows_shape_and_dtype_changes_at_one_site(mode, dtype):
    rng = np.random.default_rng(1)
    for shape in [(5,), (3,), (4, 2), (2, 3, 2), (3,), (1,)]:
        host = (rng.standard_normal(shape) * 10).astype(dtype)
        v = xp.asarray(host)
        for i in range(-shape[0], shape[0]):
            got = at(v, i)
            assert got.shape == host[i].shape and got.dtype == host.dtype
            np.testing.assert_array_equal(np.asarray(got), host[i])
        for bad in (shape[0], -shape[0] - 1, 10**6):  # the cached plan must not skip the bounds check
            with pytest.raises(IndexError, match="out of bounds"):
                at(v, bad)


def test_int_index_of_a_zero_d_array_still_raises(mode):
    with pytest.raises(IndexError):
        at(xp.asarray(3.0), 0)


def test_int_index_is_still_a_view(mode):
    base = xp.asarray(np.arange(6.0).reshape(3, 2))
    row = at(base, 1)
    row[0] = -1.0  # a write through the view reaches the base
    assert float(base[1, 0]) == -1.0
    base[1, 1] = 7.0  # and a write to the base reaches the view
    np.testing.assert_array_equal(np.asarray(row), [-1.0, 7.0])


def scale(x, s):
    return x * s, s - x  # one call site each, for every dtype and value below


@pytest.mark.parametrize("value", [0.5, 3.0, 0.0, -0.0, float("nan"), float("inf"), 1e300])
def test_float_operands_follow_the_array_dtype_at_one_site(mode, value):
    for dtype in [np.float64, np.float32, np.int32, np.uint8, np.complex64, np.float32, np.bool_]:
        host = np.array([1, 0, 2]).astype(dtype)
        with np.errstate(all="ignore"):
            want = (host * value, value - host if dtype is not np.bool_ else value - host.astype(float))
        got = scale(xp.asarray(host), value)
        for g, w in zip(got, want):
            assert g.dtype == w.dtype, (dtype, value)
            np.testing.assert_array_equal(np.asarray(g), w)
            np.testing.assert_array_equal(np.signbit(np.asarray(g).real), np.signbit(w.real))


def test_int_and_float_operands_of_equal_value_stay_apart_at_one_site(mode):
    for dtype in [np.int8, np.uint8, np.float32, np.int8]:
        host = np.array([1, 2, 3], dtype=dtype)
        x = xp.asarray(host)
        for value in (1, 1.0, 2, 2.0, True, 0, -1 if dtype != np.uint8 else 5):
            got, rgot = scale(x, value)
            want, rwant = host * value, value - host
            assert (got.dtype, rgot.dtype) == (want.dtype, rwant.dtype), (dtype, value)
            np.testing.assert_array_equal(np.asarray(got), want)
            np.testing.assert_array_equal(np.asarray(rgot), rwant)
    x = xp.asarray(np.array([1, 2], dtype=np.int8))
    scale(x, 100)
    with pytest.raises(OverflowError, match="x2"):
        scale(x, 1000)  # out of int8's range: checked for every new value
    with pytest.raises(OverflowError, match="x2"):
        scale(x, 1000)  # and again: a refused value is never cached


def test_float_operands_on_two_devices_stay_apart(mode):
    devices = xp.__array_namespace_info__().devices()
    if len(devices) < 2:
        pytest.skip("one device")
    for device in devices[:2]:
        x = xp.asarray(np.array([1.0, 2.0]), device=device)
        y = x * 0.25
        assert y.device == device
        np.testing.assert_array_equal(np.asarray(y), [0.25, 0.5])


def test_float_operand_is_a_constant_inside_jit():
    @xp.jit
    def f(x):
        return x * 0.5 + 0.5 * x

    x = xp.asarray(np.array([2.0, 4.0], dtype=np.float32))
    xp.asarray(np.ones(2, dtype=np.float32)) * 0.5  # fills the eager cache for the same key first
    assert f(x).dtype == np.float32
    np.testing.assert_array_equal(np.asarray(f(x)), [2.0, 4.0])


def stacked(parts, axis):
    return xp.stack(parts, axis=axis)


def test_stack_follows_axis_dtype_and_shape_changes_at_one_site(mode):
    a32 = np.arange(6, dtype=np.int32).reshape(2, 3)
    f32 = np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3)
    for parts in ([a32, a32], [a32, f32], [f32, f32], [a32[0], f32[0], a32[1]]):
        for axis in range(-parts[0].ndim - 1, parts[0].ndim + 1):
            got = stacked([xp.asarray(p) for p in parts], axis)
            want = np.stack(parts, axis=axis)
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(np.asarray(got), want)
        with pytest.raises((ValueError, IndexError)):
            stacked([xp.asarray(p) for p in parts], parts[0].ndim + 1)
    with pytest.raises(ValueError, match="one shape"):
        stacked([xp.asarray(a32), xp.asarray(a32[0])], 0)
    with pytest.raises(TypeError, match=r"arrays\[1\]"):
        stacked([xp.asarray(a32), a32], 0)


def test_stack_of_zero_d_values(mode):
    y = xp.asarray(np.array([1.0, 2.0, 3.0]))
    got = stacked([y[2] - y[0], y[1], 2.0 * y[0]], 0)
    np.testing.assert_array_equal(np.asarray(got), [2.0, 2.0, 2.0])


def add(a, b):
    return a + b


def test_one_d_operands_still_check_their_shapes(mode):
    one, three, four = (xp.asarray(np.arange(n, dtype=np.float64)) for n in (1, 3, 4))
    np.testing.assert_array_equal(np.asarray(add(one, three)), np.arange(1.0) + np.arange(3.0))
    np.testing.assert_array_equal(np.asarray(add(three, three)), 2 * np.arange(3.0))
    with pytest.raises(ValueError):
        add(three, four)
    np.testing.assert_allclose(np.asarray(xp.exp(three)), np.exp(np.arange(3.0)), rtol=1e-15)


def _temporary(values: np.ndarray, addresses: list[int]) -> xp.Array:
    t = xp.asarray(values) + 0.0
    addresses.append(t._buffer.unsafe_pointer())
    return t


@pytest.mark.skipif(not _donation.ELIDES, reason="elision is off on this interpreter")
def test_small_operands_skip_the_elision_check_but_large_temporaries_still_donate():
    was = xp.fusion_enabled()
    xp.set_fusion(False)
    try:
        small = xp.asarray(np.ones(4))
        for _ in range(3):
            np.testing.assert_array_equal(np.asarray((small + 1.0) * 2.0), np.full(4, 4.0))
        assert small._aval in _donation.SMALL_AVALS
        addresses: list[int] = []
        big = np.ones(1 << 16)  # 512 KiB: above numpy's elision threshold
        out = _temporary(big, addresses) * 2.0
        assert out._buffer.unsafe_pointer() == addresses[-1]  # the temporary's buffer became the result
        np.testing.assert_array_equal(np.asarray(out), np.full(1 << 16, 2.0))
        named = xp.asarray(big) + 0.0
        kept = named._buffer.unsafe_pointer()
        out = named * 2.0
        assert named._buffer.unsafe_pointer() == kept != out._buffer.unsafe_pointer()
        np.testing.assert_array_equal(np.asarray(named), big)
    finally:
        xp.set_fusion(was)


# -- fusion: liveness by reference count ------------------------------------------------------------

class Holder:
    __slots__ = ("value",)


def test_values_held_anywhere_are_computed_and_dropped_ones_are_not():
    was = xp.fusion_enabled()
    previous = _fusion.configure(hot=0)
    xp.set_fusion(True)
    try:
        x = xp.asarray(np.array([1.0, 2.0]))
        kept_list = [x * 2.0]
        kept_dict = {"v": x + 1.0}
        holder = Holder()
        holder.value = x - 1.0
        view_base = x * 10.0
        row = view_base[1]  # a view keeps its base's value alive
        del view_base
        x * 100.0  # dropped at once: never computed
        before = xp.cache_info()["fused_deferred_ops"]
        np.testing.assert_array_equal(np.asarray(kept_list[0]), [2.0, 4.0])
        assert xp.cache_info()["fused_deferred_ops"] > before  # the segment was deferred and flushed
        np.testing.assert_array_equal(np.asarray(kept_dict["v"]), [2.0, 3.0])
        np.testing.assert_array_equal(np.asarray(holder.value), [0.0, 1.0])
        assert float(row) == 20.0
    finally:
        _fusion.wait_for_compiles()
        xp.set_fusion(was)
        _fusion.configure(hot=previous[0], bound=previous[1], saved=previous[2])


def test_dead_reference_count_is_calibrated():
    pending = _fusion._new_pending(_fusion._Pending)
    outs = [pending]
    assert _fusion._live(outs) == [0]  # `pending` (this frame) holds it
    del pending
    assert _fusion._live(outs) == []


# -- the trace counter: eager code skips the thread-local trace read only while nobody traces ------

def test_trace_counter_returns_to_zero_after_a_failed_trace():
    @xp.jit
    def bad(x):
        return x + xp.ones(3)  # (2,) + (3,): a shape error inside the trace

    with pytest.raises(ValueError):
        bad(xp.asarray(np.ones(2)))
    assert _trace_state.tracing[0] == 0


def test_eager_ops_in_one_thread_while_another_traces():
    started, release = threading.Event(), threading.Event()
    results = {}

    @xp.jit
    def slow(x):
        started.set()
        release.wait(10)
        return x * 2.0

    def trace():
        results["jit"] = np.asarray(slow(xp.asarray(np.array([1.0, 2.0]))))

    t = threading.Thread(target=trace)
    t.start()
    assert started.wait(10)
    assert _trace_state.tracing[0] == 1  # another thread traces: this one must still run eagerly
    y = xp.asarray(np.array([3.0, 4.0])) * 0.5
    assert not y._traced
    np.testing.assert_array_equal(np.asarray(y), [1.5, 2.0])
    release.set()
    t.join()
    np.testing.assert_array_equal(results["jit"], [2.0, 4.0])
    assert _trace_state.tracing[0] == 0


def test_a_flush_reads_only_the_parameters_of_recorded_ops():
    """Another thread may flush a segment while its owner adds a parameter for an op it has not
    recorded yet (the owner works its wiring out before taking the segment's lock): the flush
    must run the graph with the recorded ops' parameters only."""
    was = xp.fusion_enabled()
    previous = _fusion.configure(hot=0, saved=0)
    xp.set_fusion(True)
    try:
        x = xp.asarray(np.array([1.0, 2.0, 3.0]))
        y = xp.asarray(np.array([4.0, 5.0, 6.0]))

        def body():
            return (x * y + x) * 2.0

        for _ in range(4):  # the graph recurs and compiles
            np.asarray(body())
            _fusion.wait_for_compiles()
        hits = xp.cache_info()["fused_hits"]
        out = body()
        seg = out._buffer.seg
        stray = xp.asarray(np.array([9.0]))._buffer
        seg.params.append(stray)  # an unrecorded op's parameter, its aval not appended yet
        np.testing.assert_array_equal(np.asarray(out), [10.0, 24.0, 42.0])
        assert xp.cache_info()["fused_hits"] == hits + 1
    finally:
        _fusion.wait_for_compiles()
        xp.set_fusion(was)
        _fusion.configure(hot=previous[0], bound=previous[1], saved=previous[2])


# -- remembered argument checks (creation, reshape, broadcast_to) -----------------------------------

def zeros_at(shape, **kw):
    return xp.zeros(shape, **kw)  # one call site: the check of each shape is remembered


@pytest.mark.parametrize("bad", [(3.0,), 3.0, (3, None), [3.5], np.float64(3.0)])
def test_remembered_shape_checks_still_refuse_equal_values_of_other_types(mode, bad):
    assert zeros_at((3,)).shape == (3,) and zeros_at(3).shape == (3,)
    with pytest.raises(TypeError, match="shape"):
        zeros_at(bad)
    assert zeros_at([3]).shape == (3,)  # unhashable: checked every call, still accepted


def test_remembered_fill_checks_follow_value_type_and_dtype(mode):
    assert np.asarray(xp.full(2, 3, dtype=xp.int8)).tolist() == [3, 3]
    with pytest.raises(OverflowError, match="fill_value"):
        xp.full(2, 300, dtype=xp.int8)
    assert np.asarray(xp.full(2, 1, dtype=xp.float32)).dtype == np.float32
    with pytest.raises(TypeError, match="fill_value"):
        xp.full(2, 1.0, dtype=xp.int8)  # 1.0 == 1: the type keeps the checks apart
    assert xp.full(2, True).dtype == xp.bool and xp.full(2, 1).dtype == xp.int64
    for value in (0.0, -0.0, 0.0, float("nan"), -0.0):
        np.testing.assert_array_equal(np.asarray(xp.full((2,), value)), np.full((2,), value))
        assert np.signbit(np.asarray(xp.full((2,), value))).tolist() == np.signbit(np.full(2, value)).tolist()


def test_remembered_reshape_and_broadcast_checks_follow_the_operand(mode):
    a, b = xp.reshape(xp.arange(6), (-1, 2)), xp.reshape(xp.arange(8), (-1, 2))
    assert a.shape == (3, 2) and b.shape == (4, 2)  # -1 resolved per operand size
    with pytest.raises(ValueError, match="cannot reshape"):
        xp.reshape(xp.arange(7), (-1, 2))
    with pytest.raises(TypeError, match="shape"):
        xp.reshape(xp.arange(6), (-1, 2.0))
    assert xp.broadcast_to(xp.ones(2), (3, 2)).shape == (3, 2)
    with pytest.raises(ValueError, match="broadcast"):
        xp.broadcast_to(xp.ones(3), (3, 2))
    with pytest.raises(TypeError, match="shape"):
        xp.broadcast_to(xp.ones(2), (3.0, 2))
    np.testing.assert_array_equal(np.asarray(xp.broadcast_to(xp.asarray([1, 2]), (2, 2))), [[1, 2], [1, 2]])


def test_big_arrays_are_checked_every_call(mode):
    """A big array's size check asks the system for free memory, which changes: never remembered."""
    from pjrt_array.ops import creation
    big = (2**24 + 1,)  # float32: just over the 64 MiB below which checks are remembered
    assert xp.zeros(big, dtype=xp.float32).shape == big
    assert xp.zeros((4,), dtype=xp.float32).shape == (4,)
    shapes = [key[0][0] for key in creation._checked]
    assert (4,) in shapes and big not in shapes
