"""The fft extension against numpy.fft."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pjrt_array as xp
from helpers import assert_equal

NORMS = ["backward", "ortho", "forward"]


def _data(shape, complex_, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if complex_:
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(np.result_type(dtype, np.complex64) if complex_ else dtype)


@given(seed=st.integers(0, 20), length=st.integers(1, 9), n=st.none() | st.integers(1, 10),
       axis=st.sampled_from([0, -1]), norm=st.sampled_from(NORMS))
def test_one_dimensional(seed, length, n, axis, norm):
    c = _data((3, length), True, seed)
    r = _data((3, length), False, seed)
    for fn, arg in (("fft", c), ("ifft", c), ("rfft", r), ("ihfft", r)):
        expected = getattr(np.fft, fn)(arg, n=n, axis=axis, norm=norm)
        assert_equal(getattr(xp.fft, fn)(xp.asarray(arg), n=n, axis=axis, norm=norm), expected,
                     rtol=1e-9, atol=1e-9)
    if c.shape[axis] > 1 or n:
        for fn in ("irfft", "hfft"):
            expected = getattr(np.fft, fn)(c, n=n, axis=axis, norm=norm)
            assert_equal(getattr(xp.fft, fn)(xp.asarray(c), n=n, axis=axis, norm=norm), expected,
                         rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("s,axes", [(None, None), ((2, 5), (-2, -1)), (None, (0,)), ((4, 3), (1, 0)), ((3,), (-1,))])
def test_n_dimensional(norm, s, axes):
    c = _data((3, 4, 6), True, 1)
    r = _data((3, 4, 6), False, 2)
    for fn, arg in (("fftn", c), ("ifftn", c), ("rfftn", r), ("irfftn", c)):
        expected = getattr(np.fft, fn)(arg, s=s, axes=axes, norm=norm)
        assert_equal(getattr(xp.fft, fn)(xp.asarray(arg), s=s, axes=axes, norm=norm), expected,
                     rtol=1e-9, atol=1e-9)


def test_single_precision_stays_single():
    x = xp.asarray(np.ones(8, np.float32))
    assert xp.fft.fft(x).dtype == xp.complex64
    assert xp.fft.rfft(x).dtype == xp.complex64
    assert xp.fft.irfft(xp.fft.rfft(x)).dtype == xp.float32


@given(n=st.integers(1, 12), d=st.sampled_from([1.0, 0.1, 2.5]))
def test_frequencies(n, d):
    assert_equal(xp.fft.fftfreq(n, d=d), np.fft.fftfreq(n, d=d), rtol=1e-12)
    assert_equal(xp.fft.rfftfreq(n, d=d), np.fft.rfftfreq(n, d=d), rtol=1e-12)
    assert xp.fft.fftfreq(n, dtype=xp.float32).dtype == xp.float32


@given(shape=st.lists(st.integers(0, 5), min_size=1, max_size=3), axes=st.sampled_from([None, 0, (0,), -1]))
def test_shifts(shape, axes):
    a = np.arange(int(np.prod(shape))).reshape(shape)
    assert_equal(xp.fft.fftshift(xp.asarray(a), axes=axes), np.fft.fftshift(a, axes=axes))
    assert_equal(xp.fft.ifftshift(xp.asarray(a), axes=axes), np.fft.ifftshift(a, axes=axes))


def test_bad_input():
    with pytest.raises(TypeError):
        xp.fft.fft(xp.asarray([1, 2]))
    with pytest.raises(TypeError):
        xp.fft.rfft(xp.asarray([1j]))
    with pytest.raises(ValueError):
        xp.fft.fft(xp.ones(4), norm="none")
    with pytest.raises(ValueError):
        xp.fft.fft(xp.ones(4), n=0)
    with pytest.raises(ValueError):
        xp.fft.fftn(xp.ones((2, 2)), s=(2,), axes=(0, 1))
    with pytest.raises((ValueError, IndexError)):
        xp.fft.fft(xp.ones(4), axis=1)
    with pytest.raises(ValueError):
        xp.fft.fftfreq(0)
