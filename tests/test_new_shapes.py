"""A never-seen shape is cheap: element-wise programs are compiled per element count on CPU."""

from __future__ import annotations

import numpy as np
import pytest

import pjrt_array as xp

SHAPES = [(3, 20), (20, 3), (6, 10), (2, 5, 6), (60,), (1, 60)]


def _compiles() -> int:
    return xp.cache_info()["compiles"] + xp.cache_info()["disk_hits"]


@pytest.mark.parametrize("op", [lambda m, a: m.sin(a) * 2.5 - a, lambda m, a: m.where(a > 0.5, a, -a),
                                lambda m, a: m.astype(m.exp(a), m.float32)])
def test_one_program_per_element_count_and_numpy_values(op):
    rng = np.random.default_rng(0)
    arrays = [rng.random(shape) for shape in SHAPES]
    xp.set_host_tier(False)  # what is counted here is compiles (``where`` would first run on the host)
    try:
        op(xp, xp.asarray(arrays[0]))  # compiles the 60-element programs
        before = _compiles()
        for a in arrays[1:]:
            got = op(xp, xp.asarray(a))
            expected = op(np, a)
            assert got.shape == a.shape
            np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6)
        assert _compiles() == before
    finally:
        xp.set_host_tier(True)


def test_flat_results_feed_shape_aware_operations():
    a = np.arange(24.0).reshape(2, 3, 4)
    x = xp.asarray(a) + 1.0
    np.testing.assert_array_equal(np.asarray(xp.sum(x, axis=1)), np.sum(a + 1.0, axis=1))
    np.testing.assert_array_equal(np.asarray(xp.permute_dims(x, (2, 0, 1))), np.transpose(a + 1.0, (2, 0, 1)))
    np.testing.assert_array_equal(np.asarray(x[1, :, ::2]), (a + 1.0)[1, :, ::2])
    np.testing.assert_array_equal(np.from_dlpack(x), a + 1.0)
    y = xp.reshape(x, (4, 6)) * 2
    np.testing.assert_array_equal(np.asarray(y), (a + 1.0).reshape(4, 6) * 2)


def test_broadcasting_operands_keep_their_shapes():
    a, b = np.ones((3, 1)), np.arange(4.0)
    np.testing.assert_array_equal(np.asarray(xp.asarray(a) + xp.asarray(b)), a + b)
    c = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(np.asarray(xp.asarray(c) * xp.asarray(c.T.copy()).mT), c * c)


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min"])
def test_reductions_over_every_axis_are_one_program_per_element_count(name):
    rng = np.random.default_rng(1)
    arrays = [rng.random(shape) + 0.5 for shape in SHAPES]
    getattr(xp, name)(xp.asarray(arrays[0]))
    before = _compiles()
    for a in arrays[1:]:
        got = getattr(xp, name)(xp.asarray(a))
        assert got.shape == ()
        np.testing.assert_allclose(float(got), getattr(np, name)(a), rtol=1e-12)
    assert _compiles() == before
    a = arrays[3]
    np.testing.assert_allclose(np.asarray(getattr(xp, name)(xp.asarray(a), keepdims=True)),
                               getattr(np, name)(a, keepdims=True), rtol=1e-12)
