"""Iteration over Arrays and the scalar work it leads to (``Array.__iter__``, ``_host_tier.on_host_values``):
a 1-D CPU Array's elements are host values read once, ops on them run their exact host rules, and
every result equals numpy's (and the device programs') bit for bit."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import pjrt_array as xp
from pjrt_array import _fusion
from pjrt_array._host_value import HostValue

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
          np.float16, np.float32, np.float64, np.complex64, np.complex128]
EDGES = [0.0, -0.0, 1.5, -2.25, np.inf, -np.inf, np.nan, 3.0, 1e-3, -7.0]


@pytest.fixture(params=[False, True], ids=["fusion-off", "fusion-on"], autouse=True)
def fusion(request):
    was = xp.fusion_enabled()
    xp.set_fusion(request.param)
    yield request.param
    _fusion.wait_for_compiles()
    xp.set_fusion(was)


def values(dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return np.array([True, False, True, True, False])
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.array([0, 1, info.max, info.min, 7, info.max - 1], dtype)
    if dtype.kind == "c":
        out = np.zeros(len(EDGES), dtype)
        out.real, out.imag = EDGES, np.roll(EDGES, 3)
        return out
    return np.array(EDGES, dtype)


def same_bits(actual: xp.Array, expected) -> None:
    expected = np.asarray(expected)
    got = np.asarray(actual)
    assert got.dtype == expected.dtype and got.shape == expected.shape, (got.dtype, got.shape, expected.dtype)
    assert got.tobytes() == expected.tobytes(), (got, expected)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_elements_equal_numpy_bit_for_bit(dtype):
    a = values(dtype)
    x = xp.asarray(a)
    elements = list(x)
    assert len(elements) == a.size
    assert all(type(e._buf) is HostValue for e in elements)  # read once on the host, no device getitem
    for e, expected in zip(elements, a):
        assert isinstance(e, xp.Array) and e.shape == () and e.dtype == a.dtype and e.device == x.device
        same_bits(e, expected)


def test_elements_of_a_strided_view_and_of_a_pending_value():
    a = np.arange(24.0).reshape(4, 6)
    m = xp.asarray(a)
    for e, expected in zip(m[:, 1], a[:, 1]):
        same_bits(e, expected)
    for e, expected in zip(m[1, ::-2], a[1, ::-2]):
        same_bits(e, expected)
    y = xp.asarray(np.linspace(-1, 1, 9)) * 3.0 + 1.0  # maybe deferred by fusion
    for e, expected in zip(y, np.linspace(-1, 1, 9) * 3.0 + 1.0):
        same_bits(e, expected)


def test_zero_d_and_empty():
    with pytest.raises(TypeError, match="0-d"):
        iter(xp.asarray(1.0))
    assert list(xp.asarray(np.zeros(0))) == []
    assert list(xp.asarray(np.zeros((0, 3)))) == []
    assert [r.shape for r in xp.asarray(np.zeros((2, 0)))] == [(0,), (0,)]


def test_rows_of_a_matrix_are_views():
    a = np.arange(12.0).reshape(3, 4)
    m = xp.asarray(a)
    rows = list(m)
    assert [np.asarray(r).tolist() for r in rows] == a.tolist()
    for row in m:
        row[0] = -1.0  # numpy's rows are views: writes reach the matrix
    a[:, 0] = -1.0
    same_bits(m, a)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int8, np.uint16],
                         ids=lambda d: np.dtype(d).name)
def test_builtins_equal_numpy(dtype):
    rng = np.random.default_rng(0)
    a = (rng.random(40) * 100).astype(dtype)
    x = xp.asarray(a)
    same_bits(max(x), max(a))
    same_bits(min(x), min(a))
    with np.errstate(over="ignore"):  # (int8's sum wraps on both sides)
        same_bits(sum(x), sum(a))
    assert [float(v) for v in sorted(x)] == [float(v) for v in sorted(a)]
    assert [float(v) for v in list(x)] == a.astype(np.float64).tolist()


def test_max_min_with_nan_follow_the_comparisons():
    a = np.array([1.0, np.nan, 3.0, -0.0, 0.0, 2.0])
    x = xp.asarray(a)
    same_bits(max(x), max(a))
    same_bits(min(x), min(a))
    same_bits(max(x[2:]), max(a[2:]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.int32, np.uint8, np.bool_],
                         ids=lambda d: np.dtype(d).name)
def test_ops_on_elements_equal_device_programs(dtype):
    """Each op on two elements (host rules) gives the bits of the same op on the whole arrays (programs)."""
    a, b = values(dtype), np.roll(values(dtype), 2)
    if np.dtype(dtype).kind == "f":  # subnormals and values near them: flushed as on the device
        tiny = np.finfo(dtype).tiny
        a[:3] = [tiny / 4, -tiny / 2, tiny]
        b[:3] = [tiny, tiny / 4, -tiny * 1.5]
    x, y = xp.asarray(a), xp.asarray(b)
    kind = np.dtype(dtype).kind
    names = ["equal", "not_equal"] + (["less", "greater_equal"] if kind != "c" else [])
    if kind != "b":
        names += ["add", "subtract", "multiply"] + (["maximum"] if kind != "c" else [])
    if kind in "fc":
        names += ["divide", "exp"]
    for name in names:
        fn = getattr(xp, name)
        whole = fn(x) if name == "exp" else fn(x, y)
        for i, (e, f) in enumerate(zip(x, y)):
            got = fn(e) if name == "exp" else fn(e, f)
            assert got.dtype == whole.dtype and got.shape == ()
            same_bits(got, np.asarray(whole)[i])
    before = xp.cache_info()["host_value_runs"]
    e, f = next(iter(x)), next(iter(y))
    result = (e == f)
    assert xp.cache_info()["host_value_runs"] == before + 1  # ran on the host values
    assert type(result._buf) is HostValue
    assert bool(result) == bool(a[0] == b[0])


def test_chains_stay_on_the_host_and_feed_device_ops():
    a = np.linspace(0.5, 3.0, 6)
    x = xp.asarray(a)
    total = None
    for e in x:
        v = e * e + e - 1.0
        total = v if total is None else total + v
    expected = None
    for e in a:
        v = e * e + e - 1.0
        expected = v if expected is None else expected + v
    assert type(total._buf) is HostValue
    assert float(total) == expected  # a host read: no upload
    assert type(total._buf) is HostValue
    same_bits(total, np.float64(expected))
    # host values in device ops: uploaded when needed
    same_bits(xp.sin(total), np.asarray(xp.sin(xp.asarray(expected))))
    same_bits(xp.stack(list(x)), a)
    same_bits(total + x, expected + a)
    same_bits(x[xp.argmax(x)], a[-1])
    assert float(total) == expected and int(next(iter(xp.asarray([7])))) == 7
    assert complex(next(iter(xp.asarray([1 + 2j])))) == 1 + 2j


def test_writes_during_iteration_are_seen_by_later_elements():
    a = np.arange(10.0)
    x = xp.asarray(a)
    seen = []
    for i, e in enumerate(x):
        seen.append(float(e))
        if i == 1:
            x[5] = 100.0  # a pjrt_array write (a new buffer)
        if i == 3:
            x += 1.0  # in place
        if i == 6:
            np.asarray(x)[8] = -3.0  # through a writable host view (the same memory)
    assert seen == [0.0, 1.0, 2.0, 3.0, 5.0, 101.0, 7.0, 8.0, -3.0, 10.0]
    y = xp.asarray(a)
    elements = iter(y)
    first = next(elements)
    y[0] = 42.0
    assert float(first) == 0.0  # an element is a value, as numpy's scalars are
    first[...] = 9.0
    assert float(y[0]) == 42.0 and float(first) == 9.0


def test_elements_of_a_view_see_writes_to_its_base():
    base = xp.asarray(np.arange(8.0))
    view = base[::2]
    out = []
    for i, e in enumerate(view):
        out.append(float(e))
        if i == 0:
            base[4] = -1.0
    assert out == [0.0, 2.0, -1.0, 6.0]


def test_threads_iterate_one_array():
    a = np.random.default_rng(1).random(300)
    x = xp.asarray(a)
    results, errors = [None] * 8, []

    def work(k):
        try:
            results[k] = (float(max(x)), float(min(x)), float(sum(x)), [float(v) for v in x])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    expected = (float(max(a)), float(min(a)), float(sum(a)), a.tolist())
    assert all(r == expected for r in results)


def test_jit_iterates_tracers_as_before():
    f = xp.jit(lambda v: xp.stack([e * 2.0 for e in v]))
    same_bits(f(xp.asarray([1.0, 2.0, 3.0])), np.array([2.0, 4.0, 6.0]))
    g = xp.jit(lambda v: max(v))
    with pytest.raises(Exception):
        g(xp.asarray([1.0, 2.0]))  # a traced comparison has no truth value, as before


def test_host_tier_off_runs_programs():
    xp.set_host_tier(False)
    try:
        x = xp.asarray([1.0, 2.0])
        before = xp.cache_info()["host_value_runs"]
        e, f = x
        same_bits(e + f, np.float64(3.0))
        assert xp.cache_info()["host_value_runs"] == before
    finally:
        xp.set_host_tier(True)
