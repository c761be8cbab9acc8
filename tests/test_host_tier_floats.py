"""The first-sight host tier's float cases that are exact for some values only (checked at each
call: sums, products and means of integers within the float's digits, extremes with one kind of
zero, conversions in range, integer promotions within the digits), and the element-wise ones that
move or compare: bit for bit against the compiled program, and declined where they are not exact."""

from __future__ import annotations

import numpy as np
import pytest

import pjrt_array as xp
from test_host_tier import check, edge_values, one_sighting, runs  # noqa: F401  (one_sighting: autouse)

pytestmark = pytest.mark.cpu_only


FLOATS = [np.float16, np.float32, np.float64, np.complex64, np.complex128]


def integer_values(dtype, shape=(3, 4)) -> np.ndarray:
    """Small integer values of ``dtype`` (+0.0 among them), with an imaginary part for complex."""
    a = np.resize(np.array([3.0, -7.0, 0.0, 12.0, -1.0, 5.0, 2.0]), int(np.prod(shape))).reshape(shape)
    return (a + 1j * np.roll(a, 2) if np.dtype(dtype).kind == "c" else a).astype(dtype)


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
def test_float_reductions_where_the_order_cannot_matter(dtype):
    """Sums and products of integer values within the float's digits, extremes of values with one
    kind of zero: the same bits in every order, so on the host."""
    a = integer_values(dtype)
    check(lambda x: xp.sum(x, axis=1), a, expected=np.sum(a, 1))
    check(lambda x: xp.sum(x), a, expected=np.sum(a))
    check(lambda x: xp.sum(x, axis=0, keepdims=True), a, expected=np.sum(a, 0, keepdims=True))
    check(lambda x: xp.sum(x[:, :0], axis=1), a, expected=np.zeros(3, dtype))
    if np.dtype(dtype).kind == "f":
        check(lambda x: xp.prod(x, axis=0), a, expected=np.prod(a, 0))
        check(lambda x: xp.prod(-x, axis=1), a, expected=np.prod(-a, 1))  # signed zeros: the xor of signs
        check(lambda x: xp.max(x, axis=1), a, expected=np.max(a, 1))
        check(lambda x: xp.min(x), a, expected=np.min(a))
        nan = a.copy()
        nan[1, 2] = -np.nan
        got = check(lambda x: xp.max(x, axis=1), nan)[0]
        assert np.isnan(np.asarray(got)[1]) and not np.signbit(np.asarray(got)[1])  # the rule's NaN
        check(lambda x: xp.min(x, axis=0), -np.abs(a))  # -0.0 only: one kind of zero
    if dtype == np.float32:
        check(lambda x: xp.sum(x, dtype=xp.float64), a, expected=np.sum(a, dtype=np.float64))
        check(lambda x: xp.sum(x, dtype=xp.float64), np.arange(12, dtype=np.int32).reshape(3, 4),
              expected=np.float64(66))
    if np.dtype(dtype).kind == "f":  # the mean: the exact sum times the count's reciprocal, as XLA rewrites it
        wide = (np.arange(21.0) * 37 % 101 - 50).reshape(3, 7).astype(dtype)  # sum / n != sum * (1 / n)
        for axis in (None, 0, 1):
            check(lambda x: xp.mean(x, axis=axis), wide)
        check(lambda x: xp.mean(x, axis=1, keepdims=True), wide)
    bools = np.array([[True, False], [False, False]])
    check(lambda x: xp.max(x, axis=1), bools, expected=np.max(bools, 1))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.complex128],
                         ids=lambda d: np.dtype(d).name)
def test_float_reductions_that_depend_on_the_order_compile(dtype):
    """Non-integers, sums beyond the digits, -0.0 in a sum, both zeros or a subnormal in an extreme:
    the device's order may round or pick differently from numpy's.  float16 and complex ones
    compile, and so do the extremes; float32/float64 sums, products, means and variances run on the
    host in the device's order (``_host_reductions``), bit for bit with the compiled program."""
    digits = {np.float16: 11, np.float32: 24}.get(dtype, 53)
    big = integer_values(dtype)
    big[0, 0] = 2.0 ** digits
    ordered = [(lambda x: xp.sum(x), integer_values(dtype) + 0.5),
               (lambda x: xp.sum(x), big),
               (lambda x: xp.sum(x), np.array([-0.0, 1.0], dtype)),
               (lambda x: xp.sum(x), np.array([np.inf, 1.0], dtype))]
    declined = []
    if np.dtype(dtype).kind == "f":
        tiny = np.finfo(dtype).tiny
        ordered += [(lambda x: xp.prod(x), big), (lambda x: xp.var(x), integer_values(dtype)),
                    (lambda x: xp.mean(x), integer_values(dtype) + 0.5)]
        declined += [(lambda x: xp.max(x), np.array([-0.0, 0.0, -1.0], dtype)),
                     (lambda x: xp.min(x), np.array([tiny / 2, 1.0], dtype))]
    else:
        declined += [(lambda x: xp.prod(x), integer_values(dtype)), (lambda x: xp.mean(x), integer_values(dtype))]
    if np.dtype(dtype) not in (np.float32, np.float64):
        declined, ordered = declined + ordered, []
    for op, a in declined:
        xp.cache_clear()
        op(xp.asarray(a))
        info = xp.cache_info()
        assert info["host_runs"] == 0 and info["host_declined"] == 1, a
    for op, a in ordered:
        xp.cache_clear()
        host = np.asarray(op(xp.asarray(a)))
        assert xp.cache_info()["host_runs"] == 1, a
        xp.set_host_tier(False)
        try:
            compiled = np.asarray(op(xp.asarray(a)))
        finally:
            xp.set_host_tier(True)
        assert host.tobytes() == compiled.tobytes(), a


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_float_sign_conversions_and_truth(dtype):
    """``sign`` without NaN, float -> float / int / bool conversions, ``any``/``all`` of floats:
    subnormals read as zeros, as on the device."""
    a = edge_values(dtype)
    finite = np.where(np.isnan(a), np.asarray(7.0, dtype), a)
    check(lambda x: xp.sign(x), finite)
    for to in (np.float16, np.float32, np.float64):
        if {np.dtype(dtype).itemsize, np.dtype(to).itemsize} != {2, 8}:
            check(lambda x: xp.astype(x, to), a)
    check(lambda x: xp.astype(x, xp.bool), a)
    check(lambda x: xp.any(x, axis=1), a)
    check(lambda x: xp.all(x, axis=0), a)
    small = np.array([[-3.75, -0.0, 0.5], [2.0, 120.9, -128.0]], dtype)
    for to in (np.int8, np.uint8, np.int32, np.int64, np.uint64):
        if np.dtype(to).kind == "i" or (small >= 0).all():
            check(lambda x: xp.astype(x, to), small, expected=small.astype(to))
    check(lambda x: xp.astype(x, xp.uint8), np.abs(small), expected=np.abs(small).astype(np.uint8))
    for out_of_range in (np.array([np.nan, 1.0], dtype), np.array([300.0], dtype)):
        xp.cache_clear()
        xp.astype(xp.asarray(out_of_range), xp.int8)  # the device saturates: compiled
        assert xp.cache_info()["host_runs"] == 0 and xp.cache_info()["host_declined"] == 1


def test_integer_promotions_to_float_check_the_values():
    """int64 -> float64 is exact for values up to 2**53 (on the host), not beyond (compiled)."""
    i = np.array([[-(2 ** 53), 5, 0], [2 ** 53, -1, 7]], np.int64)
    f = np.array([0.5, -2.0, np.inf])
    with np.errstate(invalid="ignore"):
        check(lambda p, q: p * q, i, f, expected=i * f)
    check(lambda p, q: xp.maximum(p, q), i, f, expected=np.maximum(i, f))
    check(lambda p: xp.astype(p, xp.float64), i, expected=i.astype(np.float64))
    xp.cache_clear()
    xp.asarray(np.array([2 ** 53 + 1], np.int64)) + xp.asarray([0.5])
    assert xp.cache_info()["host_runs"] == 0 and xp.cache_info()["host_declined"] == 1


def _normal_edges(dtype) -> np.ndarray:
    """The edge values without subnormals, with a few ordinary ones (exact multiples, halves)."""
    a = edge_values(dtype, (12,))
    a = a[~((np.abs(a) < np.finfo(dtype).tiny) & (a != 0))]
    return np.concatenate([a, np.array([7.0, -7.0, 0.5, -0.75, 2.5, 1e-30, 3e20], dtype)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_float_floor_divide_and_remainder(dtype):
    """The rule's fmod, IEEE steps and selects, op for op: every pair of normal edge values (NaN,
    infinities, signed zeros, the largest value) and random ones of wide magnitudes; a subnormal
    operand declines (compiled)."""
    a = _normal_edges(dtype)
    x, y = np.repeat(a, a.size).reshape(a.size, -1), np.tile(a, a.size).reshape(a.size, -1)
    rng = np.random.default_rng(5)
    wide = [(rng.standard_normal(300) * np.exp(rng.uniform(-30, 30, 300))).astype(dtype) for _ in range(2)]
    ints = [rng.integers(-9, 9, 300).astype(dtype) * s for s in (1.0, 0.1)]
    with np.errstate(all="ignore"):
        for fn in (xp.floor_divide, xp.remainder):
            check(fn, x, y)
            check(fn, *wide)
            check(fn, *ints)
            check(lambda p, fn=fn: fn(p, 0.3), wide[0])
        check(xp.remainder, ints[0], np.where(ints[1] == 0, 1, ints[1]),
              expected=np.remainder(ints[0], np.where(ints[1] == 0, 1, ints[1])))
    tiny = np.finfo(dtype).tiny
    for values in (edge_values(dtype, (12,)), np.array([1.0, tiny * 1.5], dtype)):
        xp.cache_clear()  # a subnormal operand (edge values), a subnormal remainder (the second)
        xp.remainder(xp.asarray(values), xp.asarray(np.full(values.shape, tiny, dtype)))
        assert xp.cache_info()["host_runs"] == 0 and xp.cache_info()["host_declined"] == 1


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.complex128, np.int32],
                         ids=lambda d: np.dtype(d).name)
def test_rounding_copysign_and_square(dtype):
    """``floor``/``ceil``/``trunc``/``round``: exact, subnormals read as zeros of their sign
    (``floor(-tiny)`` is -0.0 on the device, -1.0 in numpy); ``copysign`` without subnormal
    magnitudes; ``square`` as ``multiply`` (complex: compiled); ``x ** 2`` is numpy's ``square``."""
    a = edge_values(dtype)
    kind = np.dtype(dtype).kind
    rounders = [xp.round] + ([xp.floor, xp.ceil, xp.trunc] if kind != "c" else [])
    for fn in rounders:
        check(fn, a)
    halves = (np.arange(-10, 10) / 2).astype(dtype)
    check(xp.round, halves, expected=np.round(halves))
    if kind == "f":
        check(lambda p: xp.floor(p) + xp.ceil(p), halves, expected=np.floor(halves) + np.ceil(halves))
    if kind == "c":
        xp.cache_clear()
        xp.square(xp.asarray(a))
        assert xp.cache_info()["host_runs"] == 0  # a complex product: compiled
    else:
        with np.errstate(all="ignore"):
            check(xp.square, a)
            check(lambda p: p ** 2, halves, expected=halves * halves)
            assert np.asarray(xp.asarray(a) ** 2).tobytes() == np.asarray(xp.square(xp.asarray(a))).tobytes()
    if np.dtype(dtype) in (np.float32, np.float64):
        normal = _normal_edges(dtype)
        x, y = np.repeat(normal, normal.size), np.tile(a.reshape(-1)[:6], normal.size)[:normal.size ** 2]
        check(xp.copysign, x, np.resize(y, x.shape), expected=np.copysign(x, np.resize(y, x.shape)))
        xp.cache_clear()
        xp.copysign(xp.asarray(a), xp.asarray(a))  # a subnormal magnitude: compiled
        assert xp.cache_info()["host_runs"] == 0 and xp.cache_info()["host_declined"] == 1


@pytest.mark.parametrize("dtype", ["int8", "int64", "uint16", "float32", "float64"])
@pytest.mark.parametrize("exponent", [2, 2.0])
def test_power_of_two_keeps_numpy_promotion(dtype, exponent):
    """``x ** 2`` is ``square(x)`` only where the result type is ``x``'s: an integer array to the
    float 2.0 is a float array, as in numpy."""
    a = np.arange(-3, 4).astype(dtype) if dtype[0] != "u" else np.arange(7).astype(dtype)
    got = xp.asarray(a) ** exponent
    expected = a ** exponent
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(np.asarray(got), expected)
