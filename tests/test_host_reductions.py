"""Reductions on the host tier (pjrt_array.ops._host_reductions): float sums, means, variances,
products, dot products, norms and max/min in XLA:CPU's order, bit for bit with the compiled
programs."""

from __future__ import annotations

import numpy as np
import pytest

import pjrt_array as xp
from pjrt_array.ops._host_reductions import REDUCTION_RULES
from helpers import rules_run_on_host
from test_host_tier import check, one_sighting  # noqa: F401  (the fixture: one host run per key)

pytestmark = pytest.mark.cpu_only


# Reduced counts around XLA:CPU's windows of 32 (one window, two, more than 32 windows: two levels),
# reductions over leading, trailing and several axes, and over every axis (the flat program).
_SUM_CASES = [((5,), None), ((33,), 0), ((1025,), None), ((3, 70, 5), (0, 1)), ((10, 11, 12), 1),
              ((40, 9), 0), ((2, 3, 4, 5), (1, 3)), ((7, 1, 30), 1), ((), None), ((0, 4), 0), ((33, 40), None)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_float_sums_in_the_devices_order(dtype):
    """Float sums, products, means and variances fold in XLA:CPU's order (windows of 32 in a
    tree): cancellation-heavy data of wide magnitudes, -0.0, inf and NaN, bit for bit."""
    rng = np.random.default_rng(7)
    for shape, axis in _SUM_CASES:
        count = int(np.prod([shape[i] for i in (range(len(shape)) if axis is None else np.atleast_1d(axis))]))
        for kind in range(3):
            a = (rng.standard_normal(shape) * 10.0 ** rng.uniform(-6, 6, shape)).astype(dtype)
            if kind == 1:
                a = np.where(rng.random(shape) < 0.3, -0.0, rng.integers(-2, 3, shape)).astype(dtype)
            check(lambda x: xp.sum(x, axis=axis), a)
            if kind == 2 and a.size:
                a.flat[rng.integers(a.size)] = np.inf
                check(lambda x: xp.sum(x, axis=axis), a)
                a.flat[rng.integers(a.size)] = np.nan
                check(lambda x: xp.sum(x, axis=axis), a)
            elif count:  # (no elements, NaN, inf: the moments compile)
                check(lambda x: xp.mean(x, axis=axis, keepdims=True), a)
                check(lambda x: xp.var(x, axis=axis, correction=1), a)
                check(lambda x: xp.std(x, axis=axis), a)
            if kind == 1:  # (products of wide magnitudes under- or overflow: they compile)
                check(lambda x: xp.prod(x, axis=axis), a)
    a = rng.standard_normal((4, 6)).astype(np.float32)
    check(lambda x: xp.sum(x, axis=1, dtype=xp.float64), a, expected=np.sum(a.astype(np.float64), 1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_dot_products_and_norms(dtype):
    rng = np.random.default_rng(11)
    for shape, axis in (((3, 40), -1), ((70, 2), 0), ((5,), 0)):
        a, b = [(rng.standard_normal(shape) * 10.0 ** rng.uniform(-4, 4, shape)).astype(dtype) for _ in "ab"]
        check(lambda x, y: xp.linalg.vecdot(x, y, axis=axis), a, b)
        if a.ndim == 2:  # broadcast across the kept axis
            check(lambda x, y: xp.linalg.vecdot(x, y[:1] if axis == -1 else y[:, :1], axis=axis), a, b)
        for order in (1, 2):
            check(lambda x: xp.linalg.vector_norm(x, axis=axis, ord=order), a)
        check(lambda x: xp.linalg.vector_norm(x, keepdims=True), a)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_float_max_and_min(dtype):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((6, 40)).astype(dtype)
    a[1, 3], a[4, 0], a[4, 9], a[5, 7] = np.nan, -np.nan, np.inf, -np.inf
    for axis in (None, 0, 1, (0, 1)):
        with np.errstate(invalid="ignore"):
            check(lambda x: xp.max(x, axis=axis), a, expected=np.max(a, axis))
            check(lambda x: xp.min(x, axis=axis, keepdims=True), a, expected=np.min(a, axis, keepdims=True))


def test_float_sums_that_decline_compile():
    """Subnormal partial sums (flushed on the device), float16 sums of non-integers, sizes staged
    differently and float max/min over both zeros compile; integer-valued sums of float16 or of
    staged sizes, which every order gives alike, run on the host."""
    xp.cache_clear()
    tiny = np.finfo(np.float64).tiny
    for x in (np.array([tiny * 1.5, -tiny, 1.0]), np.full(4, 0.1, np.float16), np.full(1 << 14, 0.1)):
        np.testing.assert_allclose(np.asarray(xp.sum(xp.asarray(x))), np.sum(x, dtype=x.dtype), rtol=1e-3)
    assert np.asarray(xp.max(xp.asarray(np.array([1.0, 0.0, -0.0])))) == 1.0  # zeros: compiled
    assert xp.cache_info()["host_runs"] == 0 and xp.cache_info()["host_declined"] == 4
    for x in (np.ones(5, np.float16), np.ones((1 << 14) + 8)):  # (new keys)
        assert np.asarray(xp.sum(xp.asarray(x))) == x.size
    assert xp.cache_info()["host_runs"] == 2


def test_every_reduction_rule_is_exercised():
    with rules_run_on_host() as seen:
        test_float_sums_in_the_devices_order(np.float64)
        test_dot_products_and_norms(np.float32)
        test_small_float_matmul_sums_its_products_in_the_devices_order(np.float64)
        test_cumulative_sums_and_products_in_the_rules_steps(np.float64)
    assert seen & set(REDUCTION_RULES) == set(REDUCTION_RULES)


# matmul of small real floats sums its products as vecdot does: row and column vectors, a batch
# that broadcasts, a contracted axis of one, of 32 (one window) and of 70 (windows of 32), none.
_MATMUL_CASES = [((150, 4), (4, 3)), ((4,), (4, 3)), ((5, 4), (4,)), ((7,), (7,)), ((3, 1, 4, 5), (2, 5, 6)),
                 ((9, 1), (1, 8)), ((16, 32), (32, 8)), ((40, 70), (70, 1)), ((0, 3), (3, 2)), ((3, 0), (0, 2))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_small_float_matmul_sums_its_products_in_the_devices_order(dtype):
    """A small real-float ``matmul`` on a CPU runs on the host at its first sightings, bit for bit
    with its compiled program, on data of wide magnitudes with -0.0, inf and NaN."""
    rng = np.random.default_rng(13)
    for s1, s2 in _MATMUL_CASES:
        a, b = [(rng.standard_normal(s) * 10.0 ** rng.uniform(-4, 4, s)).astype(dtype) for s in (s1, s2)]
        check(lambda x, y: x @ y, a, b)
        if a.size > 2:
            a.flat[0], a.flat[1] = -0.0, np.inf
            b.flat[-1] = np.nan
            check(lambda x, y: x @ y, a, b)
        np.testing.assert_allclose(np.asarray(xp.asarray(a) @ xp.asarray(b)), a @ b,
                                   rtol=1e-5 if dtype == np.float32 else 1e-13, atol=0)


@pytest.mark.parametrize("s1, s2, dtype", [((64, 65), (65, 1), np.float64), ((8, 8), (8, 8), np.complex128),
                                           ((8, 8), (8, 8), np.int64)])
def test_larger_complex_and_integer_matmul_keep_the_dot(s1, s2, dtype):
    """Beyond 4,096 products, or of complex or integer operands, ``matmul`` is a ``dot_general``:
    compiled at its first sighting, numpy's values; so is a small one in ``jit``."""
    rng = np.random.default_rng(17)
    a, b = [rng.integers(-9, 9, s).astype(dtype) for s in (s1, s2)]
    xp.cache_clear()
    x, y = xp.asarray(a), xp.asarray(b)
    out = x @ y
    assert xp.cache_info()["host_runs"] == 0 and xp.cache_info()["compiles"] + xp.cache_info()["disk_hits"] == 1
    np.testing.assert_array_equal(np.asarray(out), a @ b)
    small = xp.asarray(np.eye(3))
    assert "stablehlo.dot_general" in xp.jit(lambda u, v: u @ v).lower(small, small).as_text()


_SCAN_CASES = [((1,), 0), ((2,), 0), ((7,), 0), ((100,), 0), ((5, 33), 1), ((40, 3), 0), ((3, 1, 4), 1), ((0, 3), 0)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128, np.int8, np.uint32, np.bool_],
                         ids=lambda d: np.dtype(d).name)
def test_cumulative_sums_and_products_in_the_rules_steps(dtype):
    """Cumulative sums and products on the host: integers in any order (wrapping), float32/float64
    and complex sums by the rule's own log-step combines, bit for bit, with -0.0, inf, NaN and a
    subnormal (read as zero on the device, kept by a single element's conversion)."""
    rng = np.random.default_rng(19)
    kind = np.dtype(dtype).kind
    for shape, axis in _SCAN_CASES:
        if kind == "b":
            a = rng.random(shape) < 0.5
        elif kind in "iu":
            a = rng.integers(0, 120, shape).astype(dtype)  # (int8 sums wrap)
        else:
            a = (rng.standard_normal(shape) * 10.0 ** rng.uniform(-5, 5, shape)).astype(dtype)
            if a.size > 4:
                a.flat[0], a.flat[2] = -0.0, np.inf if a.size > 50 else np.nan
                a.flat[3] = np.finfo(dtype).tiny / 4
            elif a.size:
                a.flat[0] = np.finfo(dtype).tiny / 4
        with np.errstate(all="ignore"):
            check(lambda x: xp.cumulative_sum(x, axis=axis), a)
            check(lambda x: xp.cumulative_sum(x, axis=axis, include_initial=True), a)
            if kind != "c":  # (complex products compile)
                check(lambda x: xp.cumulative_prod(x, axis=axis), a)
    if kind == "f":  # accumulated in a wider float, from integers it holds
        check(lambda x: xp.cumulative_sum(x, dtype=xp.float64), rng.standard_normal(9).astype(np.float32))
        check(lambda x: xp.cumulative_sum(x, dtype=xp.float32), np.arange(-5, 6, dtype=np.int16))
