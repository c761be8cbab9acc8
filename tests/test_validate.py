"""Sizes, counts and indices that the plugins cannot take are Python exceptions naming the argument.

Each case here aborted the process or gave an opaque parser error before the
validation in ``pjrt_array/ops/_validate.py``; the random search over such
inputs (in a child process) is ``test_fuzz.py::test_extreme_inputs_never_crash``.
"""

from __future__ import annotations

import numpy as np
import pytest

import pjrt_array as xp
from pjrt_array.ops import _validate

TOO_BIG = [
    (lambda: xp.zeros((2**40, 2**40)), "shape"),
    (lambda: xp.zeros((2**33, 2**33, 0)), "shape"),  # numpy refuses it too: non-zero dims overflow
    (lambda: xp.ones((2**63,)), "shape"),
    (lambda: xp.full((2**64, 2), 1.0), "shape"),
    (lambda: xp.arange(0, 1e18, 1e-3), "arange(start=0, stop=1e+18, step=0.001)"),
    (lambda: xp.arange(-2**63, 2**63 - 1), "arange"),
    (lambda: xp.linspace(0, 1, 2**63), "num"),
    (lambda: xp.eye(2**31), "eye"),
    (lambda: xp.reshape(xp.zeros(0), (2**40, 2**40, 0)), "reshape"),
    (lambda: xp.broadcast_to(xp.zeros(1), (2**40, 2**40)), "shape"),
    (lambda: xp.tile(xp.zeros(3), (2**62,)), "repetitions"),
    (lambda: xp.repeat(xp.zeros(3), 2**62), "repeats"),
    (lambda: xp.repeat(xp.zeros(3), xp.asarray([2**62, 2**62, 2**62])), "repeats"),
    (lambda: xp.fft.fft(xp.zeros(4), n=2**62), "n"),
    (lambda: xp.fft.fftn(xp.zeros((4, 4)), s=(2**40, 2**40)), "s"),
    (lambda: xp.fft.fftfreq(2**62), "n"),
]


@pytest.mark.parametrize("call, name", TOO_BIG, ids=[name for _, name in TOO_BIG])
def test_sizes_beyond_int64_are_value_errors_naming_the_argument(call, name):
    with pytest.raises(ValueError, match="too big") as info:
        call()
    assert name.split("(")[0] in str(info.value)


@pytest.mark.parametrize("call", [lambda: xp.zeros(2**40), lambda: xp.ones((2**20, 2**20), dtype=xp.int8),
                                  lambda: xp.fft.fft(xp.zeros(4), n=2**40), lambda: xp.linspace(0, 1, 2**40),
                                  lambda: xp.sum(xp.zeros((2**58, 0)), axis=1),
                                  lambda: xp.ones((2**31 - 1, 0, 4, 1))])  # empty, yet aborted XLA:CPU
def test_sizes_beyond_the_device_are_memory_errors(call):
    with pytest.raises(MemoryError, match="can hold"):
        call()


def test_memory_limit_variable_lowers_the_bound(monkeypatch):
    monkeypatch.setenv("PJRT_ARRAY_MEMORY_LIMIT", str(100 << 20))
    with pytest.raises(MemoryError, match="shape"):
        xp.zeros(20 << 20)  # 160 MB of float64
    with pytest.raises(MemoryError, match="obj"):
        xp.asarray(np.zeros(20 << 20, dtype=np.int8).reshape(-1, 1).repeat(8, axis=1))
    assert xp.zeros(1 << 20).shape == (1 << 20,)  # small requests never ask


def test_counts_and_shapes_are_checked_as_integers():
    with pytest.raises(TypeError, match="num"):
        xp.linspace(0, 1, 2.5)
    with pytest.raises(ValueError, match="n_rows"):
        xp.eye(-1)
    with pytest.raises(ValueError, match="repeats"):
        xp.repeat(xp.zeros(2), -1)
    with pytest.raises(ValueError, match="negative"):
        xp.tile(xp.zeros(2), (-1,))
    with pytest.raises(ValueError, match="length"):
        xp.arange(0.0, float("nan"))
    with pytest.raises(TypeError, match="dtype"):
        xp.arange(3, dtype=xp.bool)


@pytest.mark.parametrize("key", [slice(None, None, 2**63), slice(None, None, -2**63),
                                 slice(-2**70, 2**70, 2**70), slice(2**63, None)])
def test_huge_slice_bounds_and_steps_select_like_numpy(key):
    a = np.arange(5.0)
    np.testing.assert_array_equal(np.asarray(xp.asarray(a)[key]), a[key])


def test_program_backstop_reads_every_tensor_type():
    text = "%0 = stablehlo.iota dim = 0 : tensor<4611686018427387904x2xf32>\n%1 = foo : tensor<3xi1>"
    with pytest.raises(ValueError, match="too big"):
        _validate.check_program(text, [], [((3,), np.dtype(bool))], xp.asarray(0).device, "op")
    _validate.check_program("tensor<0x4611686018427387904xi8> tensor<complex<f64>>", [], [], xp.asarray(0).device,
                            "op")


def test_memory_errors_carry_the_device_and_its_statistics():
    with pytest.raises(MemoryError) as info:
        xp.zeros((2**45,), dtype=xp.uint8)
    assert info.value.device == xp.__array_namespace_info__().default_device()
    assert isinstance(info.value.memory_stats, dict)


AXIS_OUT_OF_RANGE = [
    (lambda m: m.sum(m.ones((2, 3)), axis=2)),
    (lambda m: m.argmax(m.ones((2, 3)), axis=-3)),
    (lambda m: m.expand_dims(m.ones((2, 3)), axis=4)),
    (lambda m: m.flip(m.ones((2, 3)), axis=5)),
    (lambda m: m.moveaxis(m.ones((2, 3)), 3, 0)),
    (lambda m: m.moveaxis(m.ones((2, 3)), 0, -4)),
]


@pytest.mark.parametrize("call", AXIS_OUT_OF_RANGE)
def test_axis_out_of_range_says_what_numpy_says(call):
    # SciPy's own tests match numpy's wording ("source: axis 3 is out of bounds for array of ...").
    with pytest.raises(np.exceptions.AxisError) as expected:
        call(np)
    with pytest.raises(xp.ops._axes.AxisError) as got:
        call(xp)
    assert str(got.value) == str(expected.value)
    assert isinstance(got.value, (ValueError, IndexError))
