"""The Array object: attributes, conversions, printing, devices, asynchrony."""

import math

import numpy as np
import pytest

import pjrt_array as xp


def test_attributes():
    x = xp.asarray(np.zeros((2, 3, 4), np.float32))
    assert (x.shape, x.ndim, x.size, x.dtype) == ((2, 3, 4), 3, 24, xp.float32)
    assert x.mT.shape == (2, 4, 3)
    assert xp.asarray(1.0).shape == () and xp.asarray(1.0).size == 1
    assert xp.zeros((0, 3)).size == 0


def test_python_scalar_conversions():
    assert bool(xp.asarray(True)) is True and bool(xp.asarray(0.0)) is False
    assert int(xp.asarray(7)) == 7 and float(xp.asarray(2.5)) == 2.5
    assert complex(xp.asarray(1 + 2j)) == 1 + 2j
    assert [10, 20, 30][xp.asarray(1)] == 20  # __index__
    assert math.isnan(float(xp.asarray(math.nan)))
    with pytest.raises(TypeError):
        bool(xp.ones(2))
    with pytest.raises(TypeError):
        [1][xp.asarray(0.0)]
    with pytest.raises(TypeError):
        float(xp.asarray(1j))
    with pytest.raises((ValueError, OverflowError)):
        int(xp.asarray(math.inf))


def test_repr_str_len_iter_hash():
    x = xp.asarray(np.array([[1.5, 2.0], [3.0, 4.0]], np.float32))
    assert repr(x).startswith("Array([[1.5, 2. ],") and "dtype=float32" in repr(x)
    assert str(x) == str(np.array([[1.5, 2.0], [3.0, 4.0]], np.float32))
    assert len(x) == 2
    assert [np.asarray(r).tolist() for r in x] == [[1.5, 2.0], [3.0, 4.0]]
    with pytest.raises(TypeError):
        hash(x)
    with pytest.raises(TypeError):
        len(xp.asarray(1))
    with pytest.raises(TypeError):
        xp.Array()


@pytest.mark.cpu_only  # the CPU plugins have several devices; one GPU has one
def test_devices_follow_arrays_and_mixing_them_raises():
    devices = xp.__array_namespace_info__().devices()
    d0, d1 = devices[0], devices[1]
    assert repr(d1) == "Device(cpu:1)" and d1 == devices[1] and hash(d1) == hash(devices[1]) and d0 != d1
    x = xp.ones(3, device=d1)
    assert x.device == d1
    assert (x + 1).device == d1 and xp.sum(x).device == d1
    for make in (lambda: xp.arange(3, device=d1), lambda: xp.eye(2, device=d1),
                 lambda: xp.linspace(0, 1, 3, device=d1), lambda: xp.full((2,), 4, device=d1),
                 lambda: xp.asarray([1, 2], device=d1), lambda: xp.zeros_like(x), lambda: xp.empty(2, device=d1)):
        assert make().device == d1
    y = x.to_device(d0)
    assert y.device == d0 and np.asarray(y).tolist() == [1.0, 1.0, 1.0]
    assert x.to_device(d1) is x
    with pytest.raises(ValueError):
        x + y
    with pytest.raises(TypeError):
        xp.ones(2, device="cpu")


def test_work_is_asynchronous_and_waits_only_for_host_values():
    x = xp.asarray(np.random.default_rng(0).random((256, 256)))
    y = x @ x  # returns before the product is computed
    assert y.shape == (256, 256)
    assert y.block_until_ready() is y
    np.testing.assert_allclose(np.asarray(y), np.asarray(x) @ np.asarray(x), rtol=1e-10)
