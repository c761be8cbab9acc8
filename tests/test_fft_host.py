"""Small eager FFTs on CPU run numpy.fft on the host (ops/_fft_host.py): numpy's values bit for bit,
the compiled path's result types, no program; the program still runs under jit and above the size
bound, and the results serve device ops."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pjrt_array as xp
from pjrt_array import _dispatch
from pjrt_array.ops import _fft_host
from helpers import every_segment_deferred

pytestmark = pytest.mark.cpu_only

NORMS = ["backward", "ortho", "forward"]
REAL = [np.float32, np.float64]
COMPLEX = [np.complex64, np.complex128]
ONE_AXIS = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"]
N_DIM = ["fftn", "ifftn", "rfftn", "irfftn"]
REAL_INPUT = {"rfft", "ihfft", "rfftn"}  # (the others take real and complex input)


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


def _program(call):
    """``call()`` with the host path off: the compiled program runs."""
    limit = _fft_host.HOST_MAX_BYTES
    _fft_host.set_host_max_bytes(0)
    try:
        return call()
    finally:
        _fft_host.set_host_max_bytes(limit)


def _on_host(call):
    """``call()``, checked to have run no program."""
    before = _dispatch.cache_info()
    out = call()
    after = _dispatch.cache_info()
    assert (after["hits"], after["misses"]) == (before["hits"], before["misses"]), "a program ran"
    return out


def _identical(got, expected):
    assert isinstance(got, xp.Array)
    assert (got.shape, got.dtype) == (expected.shape, expected.dtype)
    assert np.asarray(got).tobytes() == np.ascontiguousarray(expected).tobytes()


def _transformed_axes(a, kwargs):
    axes, s = kwargs.get("axes"), kwargs.get("s")
    return len(axes) if axes is not None else len(s) if s is not None else a.ndim


def _check(name, a, **kwargs):
    """``xp.fft.<name>`` on the host path: numpy's bits, the program's result type (checked where
    ``norm`` is the default: it changes no type, and each check compiles).  A transform over
    several axes runs the program: numpy's values to rounding."""
    x = xp.asarray(a)
    expected = getattr(np.fft, name)(a, **kwargs)
    if name in N_DIM and _transformed_axes(a, kwargs) > 1:
        before = _dispatch.cache_info()
        got = getattr(xp.fft, name)(x, **kwargs)
        after = _dispatch.cache_info()
        assert after["hits"] + after["misses"] > before["hits"] + before["misses"], "no program ran"
        assert (got.shape, got.dtype) == (expected.shape, expected.dtype)
        tol = 1e-4 if got.dtype in (xp.float32, xp.complex64) else 1e-12
        np.testing.assert_allclose(np.asarray(got), expected, rtol=tol, atol=tol * np.abs(expected).max(initial=1))
        return got
    got = _on_host(lambda: getattr(xp.fft, name)(x, **kwargs))
    _identical(got, expected)
    if kwargs.get("norm", "backward") == "backward":
        compiled = _program(lambda: getattr(xp.fft, name)(x, **kwargs))
        assert (compiled.shape, compiled.dtype) == (got.shape, got.dtype)
    return got


def _inputs(name):
    return REAL if name in REAL_INPUT else REAL + COMPLEX


@pytest.mark.parametrize("name", ONE_AXIS)
@pytest.mark.parametrize("norm", NORMS)
def test_one_axis_every_dtype(name, norm):
    for dtype in _inputs(name):
        for n in (None, 3, 8, 13):  # default, shorter and longer than the axis (6 or 5)
            for axis in (0, -1):
                _check(name, _data((6, 5), dtype), n=n, axis=axis, norm=norm)


@pytest.mark.filterwarnings("ignore:`axes` should not be `None`:DeprecationWarning")  # (numpy's, on s without axes)
@pytest.mark.parametrize("name", N_DIM)
@pytest.mark.parametrize("s,axes", [(None, None), ((3, 7), (-2, -1)), (None, (0,)), ((4, 3), (1, 0)),
                                    ((-1, 4), None), ((3,), (-1,)), (None, (0, 2))])
def test_n_dimensional(name, s, axes):
    for dtype in _inputs(name):
        for norm in NORMS:
            _check(name, _data((4, 5, 6), dtype, 1), s=s, axes=axes, norm=norm)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 100), length=st.integers(2, 40), n=st.none() | st.integers(2, 50),
       name=st.sampled_from(ONE_AXIS), norm=st.sampled_from(NORMS), dtype=st.sampled_from(REAL + COMPLEX))
def test_one_axis_random_lengths(seed, length, n, name, norm, dtype):
    if name in REAL_INPUT and np.dtype(dtype).kind == "c":
        dtype = np.float64
    _check(name, _data((2, length), dtype, seed), n=n, norm=norm)


@pytest.mark.parametrize("name", ONE_AXIS + N_DIM)
def test_edge_values(name):
    values = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1.0, 1e300, -2.5])
    for dtype in _inputs(name):
        a = np.empty(len(values), dtype)
        with np.errstate(over="ignore"):  # (1e300 is inf in single precision)
            a.real = values
            if a.dtype.kind == "c":
                a.imag = values[::-1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            _check(name, a)
    _check(name, np.full(4, -0.0))  # (the signs of zero results are numpy's)


@pytest.mark.parametrize("name", ["fft", "ifft", "rfft", "ihfft", "fftn", "rfftn"])
def test_half_precision_computes_as_single(name):
    """float16 (numpy computes it in float32) and bfloat16 (numpy refuses it) give complex64, as the
    program does; the values are numpy's on the float32 input."""
    import ml_dtypes
    a = _data((3, 8), np.float32, 2)
    for dtype in (np.float16, ml_dtypes.bfloat16):
        narrow = a.astype(dtype)
        one_axis = {"axes": (1,)} if name in N_DIM else {}
        got = _on_host(lambda: getattr(xp.fft, name)(xp.asarray(narrow), **one_axis))
        _identical(got, getattr(np.fft, name)(narrow.astype(np.float32), **one_axis))


def test_empty_and_untransformed():
    # an empty batch transforms like any other
    _check("fft", np.zeros((0, 4), np.complex128))
    _check("rfft", np.zeros((3, 0), np.float32), axis=0)
    # length 0 (numpy refuses it, the program returns an empty array): the program, as before
    out = xp.fft.fft(xp.asarray(np.zeros(0)))
    assert (out.shape, out.dtype) == ((0,), xp.complex128)
    assert xp.fft.irfft(xp.asarray(np.zeros(1, np.complex128))).shape == (0,)
    # no axes: a copy of the input, never the input's memory
    x = xp.asarray(np.arange(6.0).reshape(2, 3))
    y = _check("fftn", np.asarray(x), axes=())
    assert not np.may_share_memory(np.asarray(y), np.asarray(x))


@pytest.mark.parametrize("call,error", [
    (lambda x: xp.fft.fft(x, n=0), ValueError),
    (lambda x: xp.fft.fft(x, norm="bogus"), ValueError),
    (lambda x: xp.fft.rfft(xp.astype(x, xp.complex128)), TypeError),
    (lambda x: xp.fft.fft(xp.astype(x, xp.int64)), TypeError),
    (lambda x: xp.fft.fft(x[0, 0]), ValueError),
    (lambda x: xp.fft.fft(x, axis=2), ValueError),
    (lambda x: xp.fft.fftn(x, axes=(0, 0)), ValueError),
    (lambda x: xp.fft.fftn(x, s=(3,), axes=(0, 1)), ValueError),
    (lambda x: xp.fft.ihfft(x, norm="bogus"), ValueError),
    (lambda x: xp.fft.irfftn(x, axes=()), IndexError),  # (as before the host path)
])
def test_bad_input_errors_unchanged(call, error):
    x = xp.asarray(_data((3, 4), np.float64))
    with pytest.raises(error) as host:
        call(x)
    with pytest.raises(error) as program:
        _program(lambda: call(x))
    assert str(host.value) == str(program.value)


def test_results_serve_device_ops():
    a = _data((4, 6), np.complex128, 3)
    y = xp.fft.fft(xp.asarray(a))
    z = y * 2 + 1  # an op on the device reads the uploaded result
    np.testing.assert_array_equal(np.asarray(z), np.fft.fft(a) * 2 + 1)
    back = xp.fft.ifft(y)  # the next transform reads the host value directly
    _identical(back, np.fft.ifft(np.fft.fft(a)))
    y[0, 0] = 5.0  # a write replaces the host value
    expected = np.fft.fft(a)
    expected[0, 0] = 5.0
    np.testing.assert_array_equal(np.asarray(y), expected)


def test_large_operands_and_jit_run_the_program():
    a = _data(64, np.float64)
    limit = _fft_host.HOST_MAX_BYTES
    _fft_host.set_host_max_bytes(64 * 8 + 33 * 16 - 1)  # the operand fits, the operand and result do not
    try:
        before = _dispatch.cache_info()
        out = xp.fft.rfft(xp.asarray(a))
        after = _dispatch.cache_info()
    finally:
        _fft_host.set_host_max_bytes(limit)
    assert after["hits"] + after["misses"] > before["hits"] + before["misses"]
    assert type(out._buf).__name__ == "Buffer"
    np.testing.assert_allclose(np.asarray(out), np.fft.rfft(a), rtol=1e-12, atol=1e-12)
    _check("rfft", a)  # (at the bound: the host)

    f = xp.jit(lambda x: xp.fft.fft(x) * 2)
    assert "stablehlo.fft" in f.lower(xp.asarray(a)).as_text()
    np.testing.assert_allclose(np.asarray(f(xp.asarray(a))), np.fft.fft(a) * 2, rtol=1e-12, atol=1e-12)


def test_deferred_operands_under_fusion():
    a = _data((5, 8), np.float64, 4)
    with every_segment_deferred():
        x = xp.asarray(a)
        y = x * 2.0 + 1.0  # deferred: the host path computes it first
        out = xp.fft.rfft(y, axis=0)
        again = out * 3.0
        _identical(out, np.fft.rfft(a * 2.0 + 1.0, axis=0))
        np.testing.assert_array_equal(np.asarray(again), np.fft.rfft(a * 2.0 + 1.0, axis=0) * 3.0)


def test_views_read_their_current_value():
    base = xp.asarray(_data((4, 6), np.float64, 5))
    view = base[1:3]
    _identical(xp.fft.fft(view), np.fft.fft(np.asarray(base)[1:3]))
    base[1, 0] = 7.0
    _identical(xp.fft.fft(view), np.fft.fft(np.asarray(base)[1:3]))
