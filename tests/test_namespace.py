"""Every name of the Array API 2025.12 namespace, its linalg and fft extensions, is present."""

import pytest

import pjrt_array as xp
from pjrt_array import _array

MAIN = """
e inf nan newaxis pi
bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 float32 float64 complex64 complex128
arange asarray empty empty_like eye from_dlpack full full_like linspace meshgrid ones ones_like tril triu
zeros zeros_like
astype can_cast finfo iinfo isdtype result_type
abs acos acosh add asin asinh atan atan2 atanh bitwise_and bitwise_left_shift bitwise_invert bitwise_or
bitwise_right_shift bitwise_xor ceil clip conj copysign cos cosh divide equal exp expm1 floor floor_divide
greater greater_equal hypot imag isfinite isinf isnan less less_equal log log1p log2 log10 logaddexp
logical_and logical_not logical_or logical_xor maximum minimum multiply negative nextafter not_equal positive
pow real reciprocal remainder round sign signbit sin sinh square sqrt subtract tan tanh trunc
take take_along_axis
matmul matrix_transpose tensordot vecdot
broadcast_arrays broadcast_shapes broadcast_to concat expand_dims flip moveaxis permute_dims repeat reshape
roll squeeze stack tile unstack
argmax argmin count_nonzero nonzero searchsorted where
argsort sort
isin unique_all unique_counts unique_inverse unique_values
cumulative_prod cumulative_sum max mean min prod std sum var
all any diff
__array_namespace_info__ __array_api_version__
""".split()

LINALG = """cholesky cross det diagonal eig eigh eigvals eigvalsh inv matmul matrix_norm matrix_power matrix_rank
matrix_transpose outer pinv qr slogdet solve svd svdvals tensordot trace vecdot vector_norm""".split()

FFT = "fft ifft fftn ifftn rfft irfft rfftn irfftn hfft ihfft fftfreq rfftfreq fftshift ifftshift".split()


@pytest.mark.parametrize("name", MAIN)
def test_main_namespace(name):
    assert hasattr(xp, name) and name in xp.__all__


@pytest.mark.parametrize("name", LINALG)
def test_linalg_namespace(name):
    assert callable(getattr(xp.linalg, name)) and name in xp.linalg.__all__


@pytest.mark.parametrize("name", FFT)
def test_fft_namespace(name):
    assert callable(getattr(xp.fft, name)) and name in xp.fft.__all__


def test_version_and_operator_binding():
    assert xp.__array_api_version__ == "2025.12"
    assert xp.ones(2).__array_namespace__() is xp
    assert xp.ones(2).__array_namespace__(api_version="2024.12") is xp
    with pytest.raises(ValueError):
        xp.ones(2).__array_namespace__(api_version="1999.01")
    assert _array.OPERATOR_FUNCTIONS <= set(_array._FUNCS)  # every operator reached its function


def test_public_functions_have_docstrings():
    for module, names in ((xp, MAIN), (xp.linalg, LINALG), (xp.fft, FFT)):
        for name in names:
            obj = getattr(module, name)
            if callable(obj) and not isinstance(obj, type):  # functions (dtypes and constants are data)
                assert obj.__doc__, f"{module.__name__}.{name} has no docstring"
