"""The first-sight host tier (pjrt_array._host_tier): a small exact op's first call runs in numpy,
the next one compiles, and both give the same bits (and numpy's values)."""

from __future__ import annotations

import math
import subprocess
import sys
import threading

import numpy as np
import pytest

import pjrt_array as xp
from pjrt_array import _dispatch, _fusion, _host_tier
from pjrt_array.ops._host_reductions import REDUCTION_RULES
from pjrt_array.ops._host_rules import HOST_RULES
from helpers import rules_run_on_host, run_in_threads

pytestmark = pytest.mark.cpu_only

DTYPES = [np.bool_, np.int8, np.int32, np.int64, np.uint8, np.uint64, np.float16, np.float32, np.float64,
          np.complex64, np.complex128]


@pytest.fixture(autouse=True)
def one_sighting():
    """Each key runs once on the host, then compiles: ``check`` compares the two."""
    xp.set_host_tier(True, sightings=1)
    yield
    xp.set_host_tier(True)


def edge_values(dtype, shape=(3, 4)) -> np.ndarray:
    """12 (or ``prod(shape)``) values of ``dtype`` with its edge cases, cycled."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        base = np.array([True, False, False, True, True])
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        base = np.array([info.min, info.max, 0, 1, 7, info.max - 1, 3, 2], dtype)
    else:
        real = np.float64 if dtype.kind == "c" else dtype
        info = np.finfo(real)
        floats = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, info.tiny / 4, -info.tiny / 2, 1.5, -2.5,
                           info.max, info.tiny, 3.0], real)
        base = floats if dtype.kind == "f" else (floats + 1j * np.roll(floats, 5)).astype(dtype)
    n = int(np.prod(shape))
    return np.resize(base, n).reshape(shape).astype(dtype)


def runs() -> int:
    return xp.cache_info()["host_runs"]


def check(op, *inputs, expected=None):
    """``op(*arrays)`` on fresh keys: the first call runs on the host, the second compiles; both
    are bit-identical, and equal to ``expected`` (numpy's values) where given."""
    xp.cache_clear()
    arrays = [xp.asarray(a) for a in inputs]
    before = runs()
    first = op(*arrays)
    assert runs() > before, "the first call did not run on the host"
    misses = xp.cache_info()["misses"]
    second = op(*arrays)
    assert xp.cache_info()["misses"] > misses, "the second call did not compile"
    firsts = first if isinstance(first, tuple) else (first,)
    seconds = second if isinstance(second, tuple) else (second,)
    assert len(firsts) == len(seconds)
    for a, b in zip(firsts, seconds):
        ha, hb = np.asarray(a), np.asarray(b)
        assert (ha.shape, ha.dtype) == (hb.shape, hb.dtype)
        assert ha.tobytes() == hb.tobytes(), (ha, hb)
    if expected is not None:
        wants = expected if isinstance(expected, tuple) else (expected,)
        for a, want in zip(firsts, wants):
            np.testing.assert_array_equal(np.asarray(a), want)
            assert np.asarray(a).dtype == np.asarray(want).dtype
    return firsts


# -- data movement, every dtype ---------------------------------------------------------------------

MOVES = {
    "reshape": (lambda x: xp.reshape(x, (4, 3)), lambda a: a.reshape(4, 3)),
    "reshape flat": (lambda x: xp.reshape(x, (-1,)), lambda a: a.reshape(-1)),
    "expand_dims": (lambda x: xp.expand_dims(x, axis=1), lambda a: np.expand_dims(a, 1)),
    "permute_dims": (lambda x: xp.permute_dims(x, (1, 0)), lambda a: a.T),
    "matrix_transpose": (lambda x: xp.matrix_transpose(x), lambda a: a.T),
    "broadcast_to": (lambda x: xp.broadcast_to(x, (2, 3, 4)), lambda a: np.broadcast_to(a, (2, 3, 4))),
    "broadcast_arrays": (lambda x: xp.broadcast_arrays(x, x[:1]),
                         lambda a: tuple(np.broadcast_arrays(a, a[:1]))),
    "concat": (lambda x: xp.concat([x, x[:1]], axis=0), lambda a: np.concatenate([a, a[:1]], 0)),
    "concat None": (lambda x: xp.concat([x, x], axis=None), lambda a: np.concatenate([a.ravel(), a.ravel()])),
    "stack": (lambda x: xp.stack([x, x], axis=1), lambda a: np.stack([a, a], 1)),
    "unstack": (lambda x: xp.unstack(x, axis=1), lambda a: tuple(np.moveaxis(a, 1, 0))),
    "flip": (lambda x: xp.flip(x), lambda a: np.flip(a)),
    "flip 1": (lambda x: xp.flip(x, axis=1), lambda a: np.flip(a, 1)),
    "roll": (lambda x: xp.roll(x, 5), lambda a: np.roll(a, 5)),
    "roll axes": (lambda x: xp.roll(x, (1, -7), axis=(0, 1)), lambda a: np.roll(a, (1, -7), (0, 1))),
    "tile": (lambda x: xp.tile(x, (2, 1, 2)), lambda a: np.tile(a, (2, 1, 2))),
    "repeat": (lambda x: xp.repeat(x, 2, axis=1), lambda a: np.repeat(a, 2, 1)),
    "repeat flat": (lambda x: xp.repeat(x, 3), lambda a: np.repeat(a, 3)),
    "x[1]": (lambda x: x[1], lambda a: a[1]),
    "x[-1, ::-2]": (lambda x: x[-1, ::-2], lambda a: a[-1, ::-2]),
    "x[:, None, 1:3]": (lambda x: x[:, None, 1:3], lambda a: a[:, None, 1:3]),
    "x[::-1, 3:0:-2]": (lambda x: x[::-1, 3:0:-2], lambda a: a[::-1, 3:0:-2]),
    "x[i0d]": (lambda x: x[xp.asarray(-2)], lambda a: a[-2]),
    "x[idx]": (lambda x: x[xp.asarray([0, 2, -1])], lambda a: a[[0, 2, -1]]),
    "x[:, idx2]": (lambda x: x[:, xp.asarray([[1], [-3]])], lambda a: a[:, [[1], [-3]]]),
    "x[i, j]": (lambda x: x[xp.asarray([2, 0]), xp.asarray([1, 3])], lambda a: a[[2, 0], [1, 3]]),
    "x[mask]": (lambda x: x[xp.asarray([True, False, True])], lambda a: a[[True, False, True]]),
    "take": (lambda x: xp.take(x, xp.asarray([3, -1, 0, 0]), axis=1), lambda a: np.take(a, [3, -1, 0, 0], 1)),
    "take_along_axis": (lambda x: xp.take_along_axis(x, xp.asarray([[0, 3], [1, 1], [-1, 2]]), axis=1),
                        lambda a: np.take_along_axis(a, np.array([[0, 3], [1, 1], [3, 2]]), 1)),
    "where": (lambda x: xp.where(xp.asarray([True, False, True, True]), x, x[::-1]),
              lambda a: np.where([True, False, True, True], a, a[::-1])),
    "tril": (lambda x: xp.tril(x, k=1), lambda a: np.tril(a, 1)),
    "triu": (lambda x: xp.triu(x, k=-1), lambda a: np.triu(a, -1)),
    "full_like": (lambda x: xp.full_like(x, x[0, 0]), lambda a: np.full_like(a, a[0, 0])),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(MOVES))
def test_data_movement_is_bit_identical(name, dtype):
    ours, theirs = MOVES[name]
    a = edge_values(dtype)
    check(ours, a, expected=theirs(a))


@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.bool_], ids=lambda d: np.dtype(d).name)
def test_empty_and_0d(dtype):
    e = np.zeros((0, 3), dtype)
    check(lambda x: xp.reshape(x, (3, 0)), e, expected=e.reshape(3, 0))
    check(lambda x: xp.concat([x, x], axis=0), e, expected=np.concatenate([e, e]))
    check(lambda x: xp.flip(x), e, expected=np.flip(e))
    check(lambda x: xp.sort(x, axis=0), e, expected=np.sort(e, 0))
    check(lambda x: xp.take(x, xp.asarray([], dtype=xp.int64), axis=1), e, expected=np.take(e, [], 1))
    s = edge_values(dtype, ())
    check(lambda x: xp.reshape(x, (1, 1)), s, expected=s.reshape(1, 1))
    check(lambda x: xp.broadcast_to(x, (2, 2)), s, expected=np.broadcast_to(s, (2, 2)))
    check(lambda x: xp.stack([x, x]), s, expected=np.stack([s, s]))
    check(lambda x: x[None], s, expected=s[None])


def test_out_of_range_device_indices_clamp_as_compiled():
    a = np.arange(12.0).reshape(3, 4)
    check(lambda x: x[xp.asarray(7)], a, expected=a[2])
    check(lambda x: x[xp.asarray([5, -9, 1])], a)
    check(lambda x: x[xp.asarray([5, -9]), xp.asarray([9, 1])], a)
    check(lambda x: xp.take(x, xp.asarray([10, -10]), axis=1), a, expected=a[:, [3, 0]])
    check(lambda x: xp.take_along_axis(x, xp.asarray([[10], [-10], [2]]), axis=1), a)
    check(lambda x: x[xp.asarray(np.uint64(2 ** 64 - 1))], a)


# -- fills, casts, integer arithmetic, orders -------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_fills(dtype):
    for v in edge_values(dtype, (5,)):
        check(lambda: xp.full((2, 3), v.item(), dtype=dtype), expected=np.full((2, 3), v, dtype))
    check(lambda: xp.eye(3, 4, k=1, dtype=dtype), expected=np.eye(3, 4, 1, dtype=dtype))
    check(lambda: xp.zeros((2, 5), dtype=dtype), expected=np.zeros((2, 5), dtype))
    v = edge_values(dtype, (3,))
    check(lambda x, y: xp.meshgrid(x, y), v, v[:2], expected=tuple(np.meshgrid(v, v[:2])))


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32, np.int64, np.uint64, np.float32, np.float64],
                         ids=lambda d: np.dtype(d).name)
def test_arange(dtype):
    """Integers wrap (an iota past uint8's range too); floats: i * step + start in float64, each
    step rounded and flushed as on the device, then rounded to float32."""
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        cases = [(0, 300, 1), (info.max - 5, info.max, 1), (20, 7, -3) if info.min else (20, 7, 3), (0, 0, 1)]
    else:
        tiny = np.finfo(dtype).tiny
        cases = [(0.0, 1.0, 0.1), (-3.7, 2.2, 0.37), (1e300 if dtype == np.float64 else 3e38, -1e300, -2e299),
                 (0.0, tiny * 3, tiny / 2), (-0.0, 1.0, 0.5), (1.0, 1.0, 1.0), (np.pi, -np.e, -1 / 3)]
    for start, stop, step in cases:
        want = np.arange(start, stop, step, dtype=dtype) if dtype.kind in "iu" and step == 1 else None
        check(lambda: xp.arange(start, stop, step, dtype=dtype), expected=want)
    check(lambda: xp.arange(0, 1000, 1, dtype=xp.float32), expected=np.arange(1000, dtype=np.float32))


@pytest.mark.parametrize("pair", [(np.int64, np.int8), (np.int8, np.uint64), (np.uint32, np.int16),
                                  (np.int32, np.bool_), (np.bool_, np.float32), (np.bool_, np.complex128)],
                         ids=str)
def test_exact_casts(pair):
    src, dst = pair
    a = edge_values(src)
    check(lambda x: xp.astype(x, dst), a, expected=a.astype(dst))
    b = edge_values(np.int16)
    check(lambda x, y: xp.concat([x, y], axis=1), b, edge_values(np.int64), expected=np.concatenate(
        [b.astype(np.int64), edge_values(np.int64)], 1))


@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int64, np.bool_], ids=lambda d: np.dtype(d).name)
def test_integer_reductions(dtype):
    a = edge_values(dtype)
    with np.errstate(over="ignore"):
        check(lambda x: xp.sum(x, axis=1), a, expected=np.sum(a, 1))
        check(lambda x: xp.prod(x, axis=0, keepdims=True), a, expected=np.prod(a, 0, keepdims=True))
    check(lambda x: xp.any(x, axis=1), a, expected=np.any(a, 1))
    check(lambda x: xp.count_nonzero(x, axis=0, keepdims=True), a,
          expected=np.count_nonzero(a, axis=0, keepdims=True).astype(np.int64))
    check(lambda x: xp.nonzero(x), a, expected=tuple(i.astype(np.int64) for i in np.nonzero(a)))
    check(lambda x: xp.all(x), a, expected=np.all(a))
    if dtype != np.bool_:
        check(lambda x: xp.max(x, axis=0), a, expected=np.max(a, 0))
        check(lambda x: xp.min(x), a, expected=np.min(a))
        check(lambda x: xp.sum(x), a)


@pytest.mark.parametrize("pair", [(np.float64, np.float32), (np.float32, np.float64), (np.int64, np.float64),
                                  (np.int64, np.float32), (np.uint64, np.float64), (np.int8, np.float32),
                                  (np.float64, np.int32), (np.float32, np.int64), (np.float64, np.uint8),
                                  (np.float64, np.bool_), (np.complex128, np.bool_), (np.float16, np.bool_)], ids=str)
def test_conversions(pair):
    """Conversions to and from floats: IEEE rounding on both sides, subnormals flushed; float to
    integer where every value truncates into range."""
    src, dst = pair
    rng = np.random.default_rng(3)
    if np.dtype(src).kind in "iu" or dst == np.bool_:
        a = edge_values(src)
    elif np.dtype(dst).kind in "iu":
        info = np.iinfo(dst)
        a = np.concatenate([rng.uniform(float(info.min), float(info.max), 9), [-0.0, 0.99, -0.99]]).astype(src)
    else:
        a = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1.5, -2.5, 3.4028235e38, 3.4028236e38, 1e39,
                      np.finfo(np.float32).tiny * 3, 1 / 3], src)
    with np.errstate(all="ignore"):
        # (subnormals: zero and false on the device, unlike numpy)
        check(lambda x: xp.astype(x, dst), a, expected=None if dst in (np.float32, np.bool_) else a.astype(dst))


def test_sqrt():
    for dtype in (np.float32, np.float64):
        a = np.abs(np.random.default_rng(1).standard_normal(12) * 1e3).astype(dtype)
        with np.errstate(invalid="ignore"):
            check(xp.sqrt, edge_values(dtype))
            check(xp.sqrt, a, expected=np.sqrt(a))


@pytest.mark.parametrize("dtype", [np.int8, np.uint64, np.float16, np.float32, np.float64, np.bool_],
                         ids=lambda d: np.dtype(d).name)
def test_clip_and_diff(dtype):
    a = edge_values(dtype)
    if dtype != np.bool_:
        lo, hi = edge_values(dtype, (4,)), a[1]
        with np.errstate(invalid="ignore"):
            check(lambda x, m: xp.clip(x, min=m), a, lo)
            check(lambda x, m, n: xp.clip(x, min=m, max=n), a, lo, np.roll(hi, 1))
        check(lambda x: xp.clip(x, max=3), a)
    with np.errstate(all="ignore"):
        check(lambda x: xp.diff(x, axis=0), a)
        check(lambda x, y: xp.diff(x, n=2, prepend=y), a, a[:, :1])


def test_conversions_that_decline_compile():
    """Narrowing of a value just below float32's smallest normal that rounds up to it, NaN or
    out-of-range values to integers, uint64 to float32."""
    xp.cache_clear()
    tiny = float(np.finfo(np.float32).tiny)
    xp.astype(xp.asarray(np.array([tiny * (1 - 2.0 ** -30), 1.0])), xp.float32)
    xp.astype(xp.asarray(np.array([np.nan, 1.0])), xp.int32)
    xp.astype(xp.asarray(np.array([300.0])), xp.uint8)
    xp.astype(xp.asarray(np.array([2**64 - 1], np.uint64)), xp.float32)
    assert xp.cache_info()["host_runs"] == 0 and xp.cache_info()["host_declined"] == 4


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_orders_compare_subnormals_as_the_device_does(dtype):
    a = edge_values(dtype)
    check(lambda x: xp.sort(x, axis=1), a)
    check(lambda x: xp.sort(x, axis=0, descending=True), a)
    check(lambda x: xp.argsort(x, axis=1), a)
    check(lambda x: xp.argsort(x, axis=1, descending=True), a)
    check(lambda x: xp.count_nonzero(x, axis=1), a)  # a subnormal is zero on the device
    check(lambda x: xp.nonzero(x), a)
    if np.dtype(dtype).kind != "c":
        check(lambda x: xp.argmax(x, axis=1), a)
        check(lambda x: xp.argmin(x, keepdims=True), a)
    if np.dtype(dtype).kind in "biu" or dtype == np.float16:  # no subnormals flushed: numpy's order
        np.testing.assert_array_equal(np.asarray(xp.sort(xp.asarray(a), axis=1)), np.sort(a, 1))
        np.testing.assert_array_equal(np.asarray(xp.argmax(xp.asarray(a), axis=1)), np.argmax(a, 1))


BINARY = ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "add", "subtract", "multiply",
          "divide", "floor_divide", "remainder", "bitwise_and", "bitwise_or", "bitwise_xor", "maximum", "minimum", "logical_and", "logical_or",
          "logical_xor"]
UNARY = ["isnan", "isinf", "isfinite", "abs", "negative", "bitwise_invert", "logical_not", "real", "imag", "conj",
         "sign", "signbit"]


def _applies(name, dtype) -> bool:
    kind = np.dtype(dtype).kind
    if name.startswith("bitwise"):
        return kind in "biu"
    if name in ("less", "less_equal", "greater", "greater_equal"):
        return kind != "c"
    if name in ("maximum", "minimum", "floor_divide", "remainder"):
        return kind in "iuf"
    if name in ("add", "subtract", "multiply", "abs", "negative", "isnan", "isinf", "isfinite", "real", "imag",
                "conj", "sign"):
        return kind != "b"
    if name == "signbit":
        return kind in "iuf"
    return True


def _on_host(name, dtype) -> bool:
    """Whether the host tier takes the case (else it compiles: not exact on the host)."""
    dtype = np.dtype(dtype)
    if name in ("floor_divide", "remainder"):
        return dtype.kind in "iu"
    if name == "sign":
        return dtype.kind in "iu"  # the float edge values hold a NaN, complex: compiled
    if name in ("multiply", "divide", "abs") and dtype.kind == "c":
        return False
    if name == "divide" and dtype.kind in "iu":
        return dtype.itemsize < 8  # to float64: exact up to 32-bit integers
    return True


def _check_or_compiled(name, dtype, op, *inputs):
    if _on_host(name, dtype):
        try:
            check(op, *inputs)
        except AssertionError as exc:
            raise AssertionError(f"{name} on {np.dtype(dtype)}") from exc
        return
    xp.cache_clear()
    arrays = [xp.asarray(v) for v in inputs]
    with np.errstate(all="ignore"):
        first = np.asarray(op(*arrays))
        info = xp.cache_info()
        assert info["host_runs"] == 0 and info["misses"] + info["host_bucketed"] >= 1, name
        if info["host_bucketed"]:  # in its bucket program (tests/test_host_buckets.py): the key's own bits
            assert np.asarray(op(*arrays)).tobytes() == first.tobytes(), name


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_elementwise_is_bit_identical(dtype):
    """Every pair of edge values (float subnormals included: the host emulates the device's
    denormal handling); numpy's values where no subnormal is involved."""
    a = edge_values(dtype, (12,))
    x, y = np.repeat(a, 12).reshape(12, 12), np.tile(a, 12).reshape(12, 12)
    for name in BINARY:
        if _applies(name, dtype):
            _check_or_compiled(name, dtype, lambda p, q, fn=getattr(xp, name): fn(p, q), x, y)
    for name in UNARY:
        if _applies(name, dtype):
            _check_or_compiled(name, dtype, lambda p, fn=getattr(xp, name): fn(p), a)
    normal = a[~((np.abs(a) < np.finfo(a.dtype).tiny) & (a != 0))] if a.dtype.kind in "fc" else a
    with np.errstate(all="ignore"):
        check(lambda p: p == p[::-1], normal, expected=normal == normal[::-1])
        if a.dtype.kind in "iuf":
            check(lambda p: p < p[::-1], normal, expected=normal < normal[::-1])
            check(lambda p: p + p[::-1], normal, expected=normal + normal[::-1])


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint64],
                         ids=lambda d: np.dtype(d).name)
def test_integer_division_signs_zero_divisors_and_overflow(dtype):
    """Floored as numpy floors; 0 for a zero divisor; MIN // -1 wraps to MIN with remainder 0."""
    info = np.iinfo(dtype)
    a = np.array([info.min, info.min + 1, -7, -1, 0, 1, 7, info.max], dtype) if info.min else \
        np.array([0, 1, 2, 7, info.max - 1, info.max], dtype)
    x, y = np.repeat(a, a.size).reshape(a.size, -1), np.tile(a, a.size).reshape(a.size, -1)
    with np.errstate(all="ignore"):
        check(lambda p, q: xp.floor_divide(p, q), x, y, expected=np.floor_divide(x, y))
        check(lambda p, q: xp.remainder(p, q), x, y, expected=np.remainder(x, y))
        check(lambda p: p // 3, a)
        check(lambda p: p % 5, a)


def test_mixed_kinds_and_scalars():
    a = edge_values(np.float64, (12,))
    i = np.arange(-6, 6, dtype=np.int32)
    check(lambda p, q: p * q, a, i)   # int32 -> float64 holds every int32: exact
    check(lambda p: p * 2.5, a)
    check(lambda p: p / 3, a)
    check(lambda p: p > 0.5, a, expected=a > 0.5)
    with pytest.raises(AssertionError, match="did not run on the host"):
        check(lambda p, q: p + q, a, np.arange(12, dtype=np.int64) + 2 ** 60)  # int64 -> float64 rounds: compiled


def test_every_host_rule_is_exercised():
    with rules_run_on_host() as seen:
        for name in MOVES:
            check(MOVES[name][0], edge_values(np.float32))
        test_fills(np.int32)
        test_arange(np.float32)
        test_exact_casts((np.int64, np.int8))
        check(lambda x: xp.astype(x, x.dtype), edge_values(np.int8))
        test_copies(np.float32)
        test_integer_reductions(np.int32)
        test_sqrt()
        test_clip_and_diff(np.float64)
        test_diagonals_as_their_program_computes_them(np.float32)
        from test_host_tier_floats import (test_float_floor_divide_and_remainder,
                                           test_float_reductions_where_the_order_cannot_matter,
                                           test_float_sign_conversions_and_truth, test_rounding_copysign_and_square)
        test_float_reductions_where_the_order_cannot_matter(np.float32)
        test_float_sign_conversions_and_truth(np.float32)
        test_float_floor_divide_and_remainder(np.float64)
        test_rounding_copysign_and_square(np.float64)
        test_orders_compare_subnormals_as_the_device_does(np.float64)
        test_elementwise_is_bit_identical(np.int32)
        test_elementwise_is_bit_identical(np.float64)
        check(lambda p: xp.logical_not(p), edge_values(np.bool_))
        test_a_stale_view_rederives_exactly()
        test_searchsorted(np.float32)
        test_unique(np.float64)
        test_writes_are_bit_identical(np.int16)
    # (the reductions' own test: test_host_reductions.py)
    expected = set(HOST_RULES) - set(REDUCTION_RULES)
    assert seen - set(REDUCTION_RULES) == expected, {getattr(r, "__name__", r) for r in expected - seen}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_searchsorted(dtype):
    """The bisection step for step: sorted keys (NaN last, subnormals as the device compares
    them), an unsorted one (whatever the bisection finds), empty keys, a 0-d value."""
    v = edge_values(dtype, (12,))
    keys = np.sort(v)
    for side in ("left", "right"):
        normal = keys.dtype.kind in "biu" or keys.dtype == np.float16
        check(lambda k, q: xp.searchsorted(k, q, side=side), keys, v,
              expected=np.searchsorted(keys, v, side=side).astype(np.int64) if normal else None)
        check(lambda k, q: xp.searchsorted(k, q, side=side), v[::-1], v)
        check(lambda k, q: xp.searchsorted(k, q, side=side), keys[:0], v)
        check(lambda k, q: xp.searchsorted(k, q, side=side), keys[:5], v[3])
    if np.dtype(dtype).kind in "iu":
        small = np.int8 if np.dtype(dtype).kind == "i" else np.uint8
        check(lambda k, q: xp.searchsorted(k, q), keys, v.astype(small))  # mixed: exact promotion


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_unique(dtype):
    """Runs of equal values as the device finds them (NaNs apart, a subnormal equal to zero, the
    first of a run by position); empty and 0-d."""
    a = edge_values(dtype, (4, 6))
    a[3] = a[0]  # repeats
    check(lambda x: xp.unique_all(x), a)
    check(lambda x: xp.unique_values(x), a[:, 1])
    check(lambda x: xp.unique_counts(x), edge_values(dtype, ()))
    if np.dtype(dtype).kind in "biu":
        u = np.unique_all(a)
        check(lambda x: xp.unique_all(x), a, expected=(u.values, u.indices.astype(np.int64),
                                                        u.inverse_indices.astype(np.int64),
                                                        u.counts.astype(np.int64)))


# -- writes: run on the host without donating ---------------------------------------------------------

def check_write(write, target, *values, expected=None):
    """``write(x, *values)`` on a fresh ``x`` holding ``target`` (its buffer its own, so the write
    may donate it): the first time on the host, the second compiled, bit-identical (and numpy's
    ``expected`` where given)."""
    results = []
    for first in (True, False):
        if first:
            xp.cache_clear()
        x = xp.asarray(target, copy=True)
        operands = [xp.asarray(v) for v in values]
        before, misses = runs(), xp.cache_info()["misses"]
        write(x, *operands)
        if first:
            assert runs() > before and xp.cache_info()["misses"] == misses, "the write compiled"
        else:
            assert xp.cache_info()["misses"] > misses, "the second write did not compile"
        results.append(np.asarray(x))
    host, compiled = results
    assert (host.shape, host.dtype) == (compiled.shape, compiled.dtype) == (target.shape, target.dtype)
    assert host.tobytes() == compiled.tobytes(), (host, compiled)
    if expected is not None:
        np.testing.assert_array_equal(host, expected)


def _setitem(key):
    def write(x, v):
        x[key] = v
    return write


def _view_setitem(view_key, key):
    def write(x, v):
        view = x[view_key]
        view[key] = v
    return write


def _iadd(x, v):
    x += v


def _numpy_write(target, key, value):
    out = target.copy()
    out[key] = value
    return out


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_writes_are_bit_identical(dtype):
    """Region writes (contiguous, strided, reversed, through views, by a device index), scatters
    (repeated positions keep the last value, masks), 0-d targets and in-place operators."""
    a = edge_values(dtype, (4, 6))
    v = edge_values(dtype, (12,))[::-1].copy()
    cases = [
        ((1,), v[:6]),
        ((slice(None), slice(None, None, -2)), v[:3]),
        ((slice(1, 4, 2), slice(1, 5)), v[:4].reshape(1, 4)),
        ((Ellipsis,), v[5]),
        (([2, 0, 2], slice(None)), v.reshape(2, 6)[[1, 0, 0]]),
        ((a != a[0, 0],), v[2]),
    ]
    for key, value in cases:
        check_write(_setitem(key if len(key) > 1 else key[0]), a, value,
                    expected=_numpy_write(a, key, value))
    check_write(lambda x, i, w: x.__setitem__(i, w), a, np.array([1, 3, 1]), v[:3].reshape(3, 1),
                expected=_numpy_write(a, [1, 3, 1], v[:3].reshape(3, 1)))
    check_write(lambda x, i, w: x.__setitem__((i, 2), w), a, np.int64(-1), v[0])
    view_key = (slice(1, None), slice(None, None, -1))
    check_write(_view_setitem(view_key, (0, slice(1, 4))), a, v[:3],
                expected=_numpy_write(a, (1, slice(4, 1, -1)), v[:3]))
    check_write(_view_setitem(view_key, ([0, 2, 0], 1)), a, v[:3])
    s = edge_values(dtype, ())
    check_write(_setitem(...), s, v[1], expected=v[1])
    if np.dtype(dtype).kind in "iu":
        with np.errstate(over="ignore"):
            check_write(_iadd, a, v[:6], expected=a + v[:6])
        check_write(_setitem((0,)), a, v[:6].astype(np.int8) if dtype == np.int64 else v[:6])  # exact cast
    if dtype == np.float64:
        check_write(_iadd, a, v[:6])  # flushed as on the device


def test_write_casts_that_round_compile():
    a = edge_values(np.float32, (3, 4))
    x = xp.asarray(a, copy=True)
    xp.cache_clear()
    x[0] = xp.asarray(edge_values(np.float64, (4,)))  # float64 -> float32 rounds and flushes on the device
    assert xp.cache_info()["host_runs"] == 0 and xp.cache_info()["host_declined"] == 1


def _write_story() -> list[np.ndarray]:
    """Writes through views, a base written under a stale view, a host view written and read,
    in-place operators on a view and on the base: every state seen."""
    seen = []
    x = xp.asarray(np.arange(24, dtype=np.int32).reshape(4, 6), copy=True)
    view = x[1:, ::2]
    view[0] = xp.asarray([-1, -2, -3], dtype=xp.int32)  # a view's write reaches its base
    seen += [np.asarray(x).copy(), np.asarray(view).copy()]
    x[2] = 100  # the view goes stale and re-derives
    seen += [np.asarray(view).copy()]
    view += 5
    seen += [np.asarray(x).copy()]
    host = np.asarray(x)  # a writable host view: the next write must not donate its buffer
    host[0, 0] = 77
    x[3, xp.asarray([0, 5, 0])] = xp.asarray([9, 8, 7], dtype=xp.int32)
    seen += [np.asarray(x).copy(), host.copy()]
    x *= 2
    seen += [np.asarray(x).copy(), np.asarray(view).copy()]
    return seen


def test_views_and_host_views_see_writes_as_compiled():
    """The same story with the tier off (every write compiled, donating where it may) and on
    (the writes on the host, donating nothing): every state equal."""
    xp.set_host_tier(False)
    xp.cache_clear()
    compiled = _write_story()
    xp.set_host_tier(True)
    xp.cache_clear()
    hosted = _write_story()
    assert runs() >= 5
    assert [key[-1] for key in _host_tier._seen if key[-1] == (0,)], "no donating write ran on the host"
    for c, h in zip(compiled, hosted, strict=True):
        np.testing.assert_array_equal(h, c)
    np.testing.assert_array_equal(hosted[0][1], [-1, 7, -2, 9, -3, 11])


def test_donating_writes_keep_their_buffer_and_key():
    """A donating write on the host writes into the target's own memory, as the donating program
    does (after a queued program that reads it); its key is that program's, which the call after
    the host runs compiles."""
    xp.set_host_tier(True, sightings=2)
    xp.cache_clear()
    x = xp.asarray(np.zeros(5), copy=True)
    address = x._buffer.unsafe_pointer()
    for k in range(3):
        reader = xp.matmul(x, xp.ones(5))  # compiled, queued: reads the old value
        x[1] = float(k)
        assert float(reader) == float(k - 1 if k else 0)
        assert x._buffer.unsafe_pointer() == address
    assert xp.cache_info()["host_runs"] >= 2
    assert any(entry.aliased for entry in _dispatch._entries.values())
    np.testing.assert_array_equal(np.asarray(x), [0, 2, 0, 0, 0])
    host = np.asarray(x)  # a host view pins the memory: the next write goes to a new buffer
    x[0] = 5.0
    assert host[0] == 0.0 and float(x[0]) == 5.0 and x._buffer.unsafe_pointer() != address


# -- what declines, views, counts, switch, threads, fusion --------------------------------------------

def test_float_casts_compile():
    xp.cache_clear()
    x = xp.asarray(edge_values(np.float32))
    declined = xp.cache_info()["host_declined"]
    y = xp.concat([x, xp.asarray(edge_values(np.float64))])  # float32 -> float64 flushes subnormals
    assert xp.cache_info()["host_declined"] == declined + 1 and xp.cache_info()["host_runs"] == 0
    assert edge_values(np.float32)[1, 1] != 0 and np.asarray(y)[1, 1] == 0.0  # the compiled value


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_copies(dtype):
    """``x + 0`` on the device is simplified to ``x``: -0.0 and subnormals kept."""
    check(lambda x: xp.astype(x, x.dtype, copy=True), edge_values(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.int16, np.bool_], ids=lambda d: np.dtype(d).name)
def test_diagonals_as_their_program_computes_them(dtype):
    """``linalg.diagonal`` sums the band across, so a float comes out as ``x + 0``: -0.0 and
    subnormals as +0.0 on the host as compiled; other values are numpy's."""
    for shape in ((3, 4), (2, 5, 3), (4, 40)):
        a = edge_values(dtype, shape)
        for offset in (-4, -1, 0, 2, 40):
            check(lambda x: xp.linalg.diagonal(x, offset=offset), a)
        b = np.arange(math.prod(shape)).reshape(shape).astype(dtype)
        check(lambda x: xp.linalg.diagonal(x, offset=1), b, expected=np.diagonal(b, 1, -2, -1).copy())


def test_operands_beyond_the_bound_compile(monkeypatch):
    monkeypatch.setattr(_host_tier, "_max_bytes", 1 << 20)
    xp.cache_clear()
    x = xp.zeros((1024, 257))  # over 1 MiB of float64: compiled, also at its first sighting
    assert xp.cache_info()["host_runs"] == 0
    y = xp.reshape(x, (-1,))
    assert xp.cache_info()["host_runs"] == 0 and y.shape == (1024 * 257,)


def test_a_large_key_runs_once_on_the_host_then_compiles():
    """8 MiB and more of operands and results: one host run (a suite's call on a large array of
    its own costs no compile at full optimization), then the key's program."""
    a = np.linspace(-1.0, 1.0, 1 << 20)  # 8 MiB of float64, 16 MiB with the result
    x = xp.asarray(a)
    xp.cache_clear()
    def counts():
        info = xp.cache_info()
        return info["host_runs"], info["compiles"] + info["disk_hits"]

    first = xp.negative(x)
    assert counts() == (1, 0)
    second = xp.negative(x)
    assert counts() == (1, 1)
    np.testing.assert_array_equal(np.asarray(first), -a)
    np.testing.assert_array_equal(np.asarray(second), -a)


def test_a_stale_view_rederives_exactly():
    a = edge_values(np.float64, (4, 5))
    xp.cache_clear()
    x = xp.asarray(a)
    v = xp.permute_dims(x[1:, ::-2], (1, 0))
    x[2, 0] = 9.0
    a = a.copy()
    a[2, 0] = 9.0
    before = runs()
    got = np.asarray(v)
    assert runs() > before  # the re-derivation ran on the host
    np.testing.assert_array_equal(got, a[1:, ::-2].T)
    v[0, 0] = -1.0  # a write through a host-made view reaches the base
    a[1, 4] = -1.0
    np.testing.assert_array_equal(np.asarray(x), a)


def test_result_owns_its_memory():
    xp.cache_clear()
    a = np.arange(6.0)
    x = xp.asarray(a)
    y = xp.reshape(x, (2, 3))  # numpy's reshape is a view of x's memory; the result must not be
    np.asarray(x)[0] = 100.0
    assert np.asarray(y)[0, 0] == 0.0 and np.asarray(x)[0] == 100.0
    np.asarray(y)[1, 1] = -5.0
    assert np.asarray(x)[4] == 4.0


def test_cache_info_counts_and_clear():
    xp.cache_clear()
    info = xp.cache_info()
    assert info["host_runs"] == 0 and info["host_declined"] == 0
    x = xp.asarray(np.arange(7))
    xp.flip(x)
    assert xp.cache_info()["host_runs"] == 1 and xp.cache_info()["compiles"] + xp.cache_info()["disk_hits"] == 0
    xp.flip(x)
    assert xp.cache_info()["host_runs"] == 1 and xp.cache_info()["misses"] == 1
    xp.cache_clear()
    assert xp.cache_info()["host_runs"] == 0
    xp.flip(x)
    assert xp.cache_info()["host_runs"] == 1


def test_sightings():
    xp.cache_clear()
    xp.set_host_tier(True, sightings=3)
    x = xp.asarray(np.arange(10))
    for i in range(5):
        np.testing.assert_array_equal(np.asarray(xp.roll(x, 2)), np.roll(np.arange(10), 2))
        assert xp.cache_info()["host_runs"] == min(i + 1, 3)
        assert xp.cache_info()["misses"] == (1 if i >= 3 else 0)
    xp.cache_clear()
    xp.set_host_tier(True)
    xp.flip(x)  # a key first seen under the default limit...
    xp.set_host_tier(True, sightings=1)  # ...counts afresh under the new one
    xp.flip(x)
    xp.flip(x)
    assert xp.cache_info()["host_runs"] == 2 and xp.cache_info()["misses"] == 1
    with pytest.raises(ValueError, match="sightings"):
        xp.set_host_tier(True, sightings=0)


def test_larger_operands_get_fewer_host_runs(monkeypatch):
    """256 host runs per key of up to 32 KiB of operands and results, proportionally fewer beyond."""
    monkeypatch.setattr(_host_tier, "_COMPILE_SECONDS", float("inf"))  # (counts only, however slow the machine)
    xp.set_host_tier(True)
    for n, allowed in ((64, 256), (8192, 64)):  # float64: 1 KiB, 128 KiB in and out
        xp.cache_clear()
        x = xp.zeros(n)
        before, misses = runs(), xp.cache_info()["misses"]
        for _ in range(allowed + 2):
            xp.flip(x)
        assert runs() - before == allowed and xp.cache_info()["misses"] == misses + 1


def test_flat_keys_take_each_calls_shape():
    """Element-wise programs are keyed by the element count: one key serves many shapes."""
    xp.cache_clear()
    xp.set_host_tier(True, sightings=4)
    for shape in [(2, 3), (3, 2), (6, 1), (1, 2, 3), (3, 2)]:
        a = np.arange(6, dtype=np.int32).reshape(shape)
        x = xp.asarray(a)
        got = xp.astype(x, xp.int8)
        assert got.shape == shape
        np.testing.assert_array_equal(np.asarray(got), a.astype(np.int8))
        np.testing.assert_array_equal(np.asarray(xp.where(x > 2, x, -x)), np.where(a > 2, a, -a))
    assert xp.cache_info()["host_runs"] >= 8


def test_switch_off():
    xp.cache_clear()
    assert xp.host_tier_enabled()
    xp.set_host_tier(False)
    try:
        y = xp.flip(xp.asarray(np.arange(9)))
        assert xp.cache_info()["host_runs"] == 0 and xp.cache_info()["misses"] == 1
        np.testing.assert_array_equal(np.asarray(y), np.arange(9)[::-1])
    finally:
        xp.set_host_tier(True)
    code = "import pjrt_array as xp; xp.flip(xp.asarray([1, 2])); print(xp.host_tier_enabled(), xp.cache_info()['host_runs'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "PJRT_ARRAY_HOST_TIER": "0"})
    assert out.stdout.split() == ["False", "0"]


def test_threads():
    xp.cache_clear()
    barrier = threading.Barrier(8)

    def work(k):
        barrier.wait()
        for n in range(1, 13):
            a = np.arange(n * (k % 3 + 1), dtype=np.int32)
            x = xp.asarray(a)
            np.testing.assert_array_equal(np.asarray(xp.flip(xp.reshape(x, (k % 3 + 1, n)), axis=1)),
                                          np.flip(a.reshape(k % 3 + 1, n), 1))
            np.testing.assert_array_equal(np.asarray(x[1:]), a[1:])

    run_in_threads(work)
    assert xp.cache_info()["host_runs"] > 0


def test_a_key_whose_host_runs_took_a_compiles_time_compiles(monkeypatch):
    """Renting stops at the price: once a key's host runs took as long as a compile
    (``_COMPILE_SECONDS``), its next call compiles, whatever its count allows."""
    xp.set_host_tier(True)
    x = xp.asarray(np.arange(10.0))
    for price, host_runs in ((float("inf"), 5), (0.0, 1)):
        monkeypatch.setattr(_host_tier, "_COMPILE_SECONDS", price)
        xp.cache_clear()
        for _ in range(5):
            np.testing.assert_array_equal(np.asarray(xp.flip(x)), np.arange(10.0)[::-1])
        assert runs() == host_runs and xp.cache_info()["misses"] == (5 - host_runs > 0)


def test_fusion_segments_hold_compiled_ops_only(monkeypatch):
    """A loop whose first iterations run on the host (the default sightings) still becomes hot and
    fuses once its ops compile, and its values stay numpy's; a new key inside a deferred segment
    ends it (the segment is computed) and runs on the host: signatures hold compiled entries only."""
    monkeypatch.setattr(_host_tier, "_COMPILE_SECONDS", float("inf"))  # (counts only, however slow the machine)
    xp.cache_clear()
    xp.set_host_tier(True)
    previous = _fusion.configure(hot=2, saved=0)
    was = xp.fusion_enabled()
    xp.set_fusion(True)
    try:
        a = np.arange(12.0).reshape(3, 4)
        x = xp.asarray(a)
        for i in range(_host_tier._SIGHTINGS + 6):
            y = xp.reshape(xp.flip(x, axis=1), (4, 3)) * 2.0 + 1.0
            np.testing.assert_array_equal(np.asarray(y), np.flip(a, 1).reshape(4, 3) * 2.0 + 1.0)
            _fusion.wait_for_compiles()
        assert xp.cache_info()["host_runs"] >= 2 * _host_tier._SIGHTINGS
        assert xp.cache_info()["fused_deferred_ops"] > 0
        runs_before = runs()
        for n in range(5, 8):  # deferred segments meeting new keys
            z = xp.reshape(xp.flip(x, axis=1), (4, 3)) * 2.0 + 1.0
            w = xp.reshape(xp.asarray(np.arange(float(n))), (n, 1))
            np.testing.assert_array_equal(np.asarray(z), np.flip(a, 1).reshape(4, 3) * 2.0 + 1.0)
            np.testing.assert_array_equal(np.asarray(w), np.arange(float(n)).reshape(n, 1))
        assert runs() == runs_before + 3  # w's reshape met an open deferred segment: ended it, on the host
        assert all(type(e) is _dispatch._Entry for signature in _fusion._counts for e in signature)
    finally:
        _fusion.configure(hot=previous[0], bound=previous[1], saved=previous[2])
        xp.set_fusion(was)


def test_fusion_deferring_every_segment_takes_new_ops():
    xp.cache_clear()
    previous = _fusion.configure(hot=0)
    was = xp.fusion_enabled()
    xp.set_fusion(True)
    try:
        x = xp.asarray(np.arange(6.0))
        y = xp.flip(x) * 2.0
        np.testing.assert_array_equal(np.asarray(y), np.arange(6.0)[::-1] * 2.0)
        assert xp.cache_info()["host_runs"] == 0 and xp.cache_info()["fused_deferred_ops"] >= 2
    finally:
        _fusion.wait_for_compiles()
        xp.set_fusion(was)
        _fusion.configure(hot=previous[0], bound=previous[1], saved=previous[2])


def test_results_of_any_rank():
    # The lean upload takes at most 16 dimensions; a host result beyond that takes the general one.
    xp.cache_clear()
    before = runs()
    a = np.arange(2.0).reshape((2,) + (1,) * 19)
    got = xp.reshape(xp.asarray(np.arange(2.0)), a.shape)
    assert runs() > before
    np.testing.assert_array_equal(np.asarray(got), a)


def test_results_are_host_values_that_ops_compile_on_as_before():
    """A host run's results stay on the host until a device op needs them (a chain of host runs
    uploads nothing), but are not *lasting* host values: ops on them take the usual path, not the
    every-call host path of an iteration's elements, which kept a loop's scalars off the device
    and out of its fused graphs."""
    from pjrt_array._host_value import HostValue
    xp.cache_clear()
    a = xp.asarray(np.arange(17.0))
    before = runs()
    doubled = a * 2.0
    total = xp.sum(doubled)
    assert runs() == before + 2
    assert type(doubled._buf) is HostValue and doubled._buf.buffer is None  # not uploaded
    np.testing.assert_array_equal(doubled._host, np.arange(17.0) * 2.0)
    assert type(total._buf) is HostValue and not total._buf.lasting and float(total) == 272.0
    values_before = xp.cache_info()["host_value_runs"]
    assert float(total * 0.5) == 136.0 and float(doubled[3] + total) == 278.0
    assert xp.cache_info()["host_value_runs"] == values_before  # the usual path
    assert type(total._buf) is HostValue and total._buf.buffer is None  # still not uploaded
    np.testing.assert_allclose(np.asarray(xp.exp(doubled)), np.exp(np.arange(17.0) * 2.0), rtol=1e-15)
