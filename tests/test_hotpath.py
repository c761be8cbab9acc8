"""The per-call caches of the eager hot path never change an answer or skip a check.

Front ends check a kind of call once and keep the result (matmul by operand
types, reductions by dtype/ndim/axis/keepdims, a scalar operand's weak result
type by its Python type, scalar operands by value); these tests make the
cached call second, where a wrong key would show.
"""

from __future__ import annotations

import numpy as np
import pytest

import pjrt_array as xp
from pjrt_array import _devices


def test_signed_zeros_and_nans_are_distinct_cached_scalars():
    x = xp.asarray(np.array([1.0, -2.0, 3.0]))
    for _ in range(2):  # the second round hits the scalar cache
        np.testing.assert_array_equal(np.signbit(np.asarray(x * 0.0)), np.signbit(np.array([1.0, -2.0, 3.0]) * 0.0))
        np.testing.assert_array_equal(np.signbit(np.asarray(x * -0.0)), np.signbit(np.array([1.0, -2.0, 3.0]) * -0.0))
        assert np.isnan(np.asarray(x + float("nan"))).all()
        np.testing.assert_array_equal(np.asarray(x + 2.5), np.array([3.5, 0.5, 5.5]))
        np.testing.assert_array_equal(np.asarray(2.5 - x), np.array([1.5, 4.5, -0.5]))


def test_int_scalar_types_are_cached_by_type_not_value():
    x = xp.asarray(np.array([1, 2, 3], dtype=np.int8))
    assert (x + 1).dtype == np.int8
    assert (x + 1.5).dtype == xp.float64  # a float scalar with an int array: the default float
    assert (x + True).dtype == np.int8
    with pytest.raises(OverflowError, match="x2"):
        x + 1000  # same dtype and scalar type as the cached `x + 1`, but out of range
    with pytest.raises(OverflowError, match="x1"):
        1000 + x


def test_reduction_checks_survive_the_plan_cache():
    v = xp.asarray(np.arange(6.0).reshape(2, 3))
    assert float(xp.sum(v, axis=1)[1]) == 12.0
    assert float(xp.sum(v, axis=1)[1]) == 12.0
    with pytest.raises(TypeError):
        xp.sum(v, axis=1.0)  # equal to the cached int axis, but not an int
    with pytest.raises((ValueError, IndexError)):
        xp.sum(v, axis=2)
    b = xp.asarray(np.array([True, False, True]))
    assert xp.sum(b).dtype == xp.int64 and int(xp.sum(b)) == 2
    u = xp.asarray(np.array([1, 2], dtype=np.uint8))
    assert xp.sum(u).dtype == xp.uint64
    assert xp.sum(u, dtype=xp.float32).dtype == xp.float32
    with pytest.raises(TypeError, match="max"):
        xp.max(xp.asarray(np.array([1 + 1j])))


def test_matmul_checks_survive_the_parameter_cache():
    a = xp.asarray(np.ones((2, 3)))
    b = xp.asarray(np.ones((3, 4)))
    for _ in range(2):
        np.testing.assert_array_equal(np.asarray(a @ b), np.full((2, 4), 3.0))
    with pytest.raises(ValueError, match="do not align"):
        a @ a
    with pytest.raises(ValueError, match="0-d"):
        xp.matmul(a, xp.asarray(1.0))
    with pytest.raises(TypeError, match="x2"):
        xp.matmul(a, [[1.0]])
    with pytest.raises(TypeError, match="numeric"):
        xp.matmul(xp.asarray(np.ones((2, 2), dtype=bool)), xp.asarray(np.ones((2, 2), dtype=bool)))


def test_transpose_property_is_a_view_of_its_base():
    m = xp.asarray(np.arange(6.0).reshape(2, 3))
    t = m.T
    np.testing.assert_array_equal(np.asarray(t), np.arange(6.0).reshape(2, 3).T)
    m[0, 1] = 10.0
    assert float(t[1, 0]) == 10.0
    with pytest.raises(ValueError, match="2-D"):
        xp.asarray(np.ones(3)).T


def test_stack_checks_every_operand():
    v = xp.asarray(np.ones(2))
    with pytest.raises(TypeError, match=r"arrays\[1\]"):
        xp.stack([v, np.ones(2)])
    with pytest.raises(ValueError, match="one shape"):
        xp.stack([v, xp.asarray(np.ones(3))])
    s = xp.stack([v, xp.asarray(np.array([1, 2], dtype=np.int32))])
    assert s.dtype == xp.float64 and s.shape == (2, 2)


def test_separately_made_equal_devices_share_no_cache_slot_yet_compute_alike():
    real = xp.asarray(0.0).device
    twin = _devices.Device(real.pjrt, real.platform)
    assert twin == real and twin.token != real.token
    x = xp.asarray(np.arange(3.0), device=twin)
    np.testing.assert_array_equal(np.asarray(x + x), np.arange(3.0) * 2)
    assert x.device is twin


def test_moments_and_extrema_checks_survive_their_caches():
    a = np.arange(6.0).reshape(2, 3)
    v = xp.asarray(a)
    for _ in range(2):
        np.testing.assert_allclose(np.asarray(xp.var(v, axis=1, correction=1)), np.var(a, axis=1, ddof=1))
        np.testing.assert_allclose(np.asarray(xp.std(v, correction=1.0)), np.std(a, ddof=1.0))
        np.testing.assert_array_equal(np.asarray(xp.max(v, axis=0)), a.max(axis=0))
    with pytest.raises(TypeError, match="correction"):
        xp.var(v, axis=1, correction=True)  # equal to the cached 1, but a bool
    with pytest.raises(TypeError):
        xp.max(v, axis=0.0)
    with pytest.raises(ValueError, match="zero-size"):
        xp.max(xp.asarray(np.ones((2, 0))), axis=1)
    assert xp.max(xp.asarray(np.ones((2, 0))), axis=0).shape == (0,)
