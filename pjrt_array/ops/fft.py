"""The ``fft`` extension: discrete Fourier transforms with ``stablehlo.fft``.

Each transform runs along one axis at a time (moved last, transformed, moved
back), so any number of axes works on every backend.  XLA's inverse
transforms already divide by ``n``; ``norm`` rescales from there.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from .. import _dtypes
from .._array import Array
from .._devices import Device, as_device
from .._dispatch import run
from . import _fft_host
from ._axes import normalize_axis
from ._builder import Builder, Value
from ._lower import broadcast, conj, const_like, slice_axis
from ._operands import check_array
from ._validate import check_size, count_arg
from .manipulation import roll

__all__ = ["fft", "ifft", "fftn", "ifftn", "rfft", "irfft", "rfftn", "irfftn", "hfft", "ihfft", "fftfreq",
           "rfftfreq", "fftshift", "ifftshift"]

_NORMS = ("backward", "ortho", "forward")


def _resize(b: Builder, x: Value, axis: int, size: int) -> Value:
    """Truncate or zero-pad ``x`` to ``size`` along ``axis``."""
    have = x.shape[axis]
    if have >= size:
        return slice_axis(b, x, axis, 0, size)
    high = [0] * x.ndim
    high[axis] = size - have
    return b.pad(x, b.constant(0, x.dtype), [0] * x.ndim, high)


def _swap_last(b: Builder, x: Value, axis: int) -> Value:
    perm = list(range(x.ndim))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    return b.transpose(x, perm)


def _scale(b: Builder, x: Value, factor: float) -> Value:
    return x if factor == 1.0 else b.multiply(x, const_like(b, factor, x))


def _transform(b: Builder, x: Value, axis: int, kind: str, n: int, norm: str) -> Value:
    """One 1-D transform of kind FFT/IFFT/RFFT/IRFFT with length ``n`` along ``axis``."""
    complex_t = _dtypes.complex_dtype_for(_dtypes.real_dtype(x.dtype))
    if kind == "RFFT":
        x = _resize(b, x, axis, n)
    elif kind == "IRFFT":
        x = _resize(b, b.convert(x, complex_t), axis, n // 2 + 1)
    else:
        x = _resize(b, b.convert(x, complex_t), axis, n)
    y = b.fft(_swap_last(b, x, axis), kind, [n])
    inverse = kind in ("IFFT", "IRFFT")
    factor = {"backward": 1.0, "ortho": math.sqrt(n) if inverse else 1 / math.sqrt(n) if n else 1.0,
              "forward": float(n) if inverse else 1 / n if n else 1.0}[norm]
    return _swap_last(b, _scale(b, y, factor), axis)


def _fft_rule(b: Builder, x: Value, *, steps: tuple[tuple[int, str, int], ...], norm: str,
              conj_in: bool, conj_out: bool) -> Value:
    if conj_in:
        x = conj(b, b.convert(x, _dtypes.complex_dtype_for(_dtypes.real_dtype(x.dtype))))
    for axis, kind, n in steps:
        x = _transform(b, x, axis, kind, n, norm)
    return conj(b, x) if conj_out else x


def _check_norm(norm: str) -> None:
    if norm not in _NORMS:
        raise ValueError(f"norm must be one of {_NORMS}, got {norm!r}")


def _check_input(x: Any, real: bool, name: str) -> Array:
    x = check_array(x)
    kinds = "real floating" if real else ("real floating", "complex floating")
    if not _dtypes.isdtype(x.dtype, kinds):
        raise TypeError(f"{name} needs a {'real ' if real else ''}floating-point array, got {x.dtype}")
    if x.ndim == 0:
        raise ValueError(f"{name} needs an array of at least one dimension")
    return x


def _length(n: Any, default: int, name: str) -> int:
    if n is None:
        return default
    return count_arg(n, f"{name}: n", minimum=1)


def _result_aval(x: Array, steps: list[tuple[int, str, int]]) -> tuple[tuple[int, ...], np.dtype]:
    """The compiled path's result type: each axis at its length (half plus one after RFFT), complex
    but after IRFFT (and the input's dtype where nothing is transformed)."""
    shape = list(x.shape)
    dtype = x.dtype
    for axis, kind, n in steps:
        shape[axis] = n // 2 + 1 if kind == "RFFT" else n
        real = _dtypes.real_dtype(dtype)
        dtype = real if kind == "IRFFT" else _dtypes.complex_dtype_for(real)
    return tuple(shape), np.dtype(dtype)


# numpy.fft's function for each one-axis step of the program (its hfft and ihfft are irfft and rfft
# with the conjugations and swapped norm the program's steps carry, computed the same way)
_NUMPY_STEP: dict[str, Callable[..., np.ndarray]] = {"FFT": np.fft.fft, "IFFT": np.fft.ifft, "RFFT": np.fft.rfft, "IRFFT": np.fft.irfft}


def _numpy_call(steps: list[tuple[int, str, int]], norm: str, conj_in: bool,
                conj_out: bool) -> Callable[[np.ndarray], np.ndarray]:
    """The transform ``steps`` (one axis, or none: a copy) by numpy.fft, for ``_fft_host``."""
    if not steps:
        return np.copy
    (axis, kind, n), = steps
    function = _NUMPY_STEP[kind]

    def call(a: np.ndarray) -> np.ndarray:
        out = function(np.conjugate(a) if conj_in else a, n=n, axis=axis, norm=norm)
        return np.conjugate(out) if conj_out else out
    return call


def _run_fft(x: Array, steps: list[tuple[int, str, int]], norm: str, conj_in: bool = False,
             conj_out: bool = False) -> Array:
    """The transform ``steps`` of ``x`` (one axis on a small CPU operand: numpy.fft, ``_fft_host``)."""
    _check_norm(norm)
    shape = list(x.shape)
    for axis, _, n in steps:  # the transform works on length n along each axis
        shape[axis] = n
    check_size(shape, _dtypes.complex_dtype_for(_dtypes.real_dtype(x.dtype)), "n (or s)", x._device)
    # One transformed axis at most: numpy's n-dimensional functions loop over the axes in Python
    # (a 2x4 fftn costs 10 us in numpy, twice its fft), so several axes keep the program (cached,
    # 8-9 us against jax.numpy's 10-11).  A length 0 numpy refuses, the program takes.
    if len(steps) <= 1 and all(n for _, _, n in steps):
        out = _fft_host.run(x, _result_aval(x, steps), _numpy_call(steps, norm, conj_in, conj_out))
        if out is not None:
            return out
    params = (("steps", tuple(steps)), ("norm", norm), ("conj_in", conj_in), ("conj_out", conj_out))
    sharding = x._sharding
    if sharding is not None and all(sharding.spec[axis] is None for axis, _, _ in steps):
        # XLA's partitioner would hand the transform back replicated; ask for the input's blocks.
        return run(_fft_rule, params, (x,), sharding)[0]
    return run(_fft_rule, params, (x,), x._device)[0]


def fft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Array:
    """One-dimensional discrete Fourier transform."""
    x = _check_input(x, False, "fft")
    a = normalize_axis(axis, x.ndim)
    return _run_fft(x, [(a, "FFT", _length(n, x.shape[a], "fft"))], norm)


def ifft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Array:
    """One-dimensional inverse discrete Fourier transform."""
    x = _check_input(x, False, "ifft")
    a = normalize_axis(axis, x.ndim)
    return _run_fft(x, [(a, "IFFT", _length(n, x.shape[a], "ifft"))], norm)


def _axes_and_sizes(x: Array, s: Any, axes: Any, name: str) -> list[tuple[int, int]]:
    if axes is None:
        axes = tuple(range(x.ndim)) if s is None else tuple(range(x.ndim - len(s), x.ndim))
    axes = tuple(normalize_axis(a, x.ndim, "axes") for a in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}: axes must be unique, got {axes}")
    s = tuple(x.shape[a] for a in axes) if s is None else tuple(s)
    if len(s) != len(axes):
        raise ValueError(f"{name}: s and axes must have the same length")
    s = tuple(x.shape[a] if v == -1 else count_arg(v, f"{name}: s", minimum=1) for v, a in zip(s, axes))
    return list(zip(axes, s))


def fftn(x: Any, /, *, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
         norm: str = "backward") -> Array:
    """N-dimensional discrete Fourier transform over ``axes``."""
    x = _check_input(x, False, "fftn")
    return _run_fft(x, [(a, "FFT", n) for a, n in _axes_and_sizes(x, s, axes, "fftn")], norm)


def ifftn(x: Any, /, *, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str = "backward") -> Array:
    """N-dimensional inverse discrete Fourier transform over ``axes``."""
    x = _check_input(x, False, "ifftn")
    return _run_fft(x, [(a, "IFFT", n) for a, n in _axes_and_sizes(x, s, axes, "ifftn")], norm)


def rfft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Array:
    """Discrete Fourier transform of real input (``n // 2 + 1`` outputs)."""
    x = _check_input(x, True, "rfft")
    a = normalize_axis(axis, x.ndim)
    return _run_fft(x, [(a, "RFFT", _length(n, x.shape[a], "rfft"))], norm)


def irfft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Array:
    """Inverse of ``rfft``: real output of length ``n`` (default ``2 * (m - 1)``)."""
    x = _check_input(x, False, "irfft")
    a = normalize_axis(axis, x.ndim)
    return _run_fft(x, [(a, "IRFFT", _length(n, 2 * (x.shape[a] - 1), "irfft"))], norm)


def rfftn(x: Any, /, *, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str = "backward") -> Array:
    """N-dimensional transform of real input (the last axis is halved)."""
    x = _check_input(x, True, "rfftn")
    pairs = _axes_and_sizes(x, s, axes, "rfftn")
    last_axis, last_n = pairs[-1]
    return _run_fft(x, [(last_axis, "RFFT", last_n)] + [(a, "FFT", n) for a, n in pairs[:-1]], norm)


def irfftn(x: Any, /, *, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
           norm: str = "backward") -> Array:
    """Inverse of ``rfftn``."""
    x = _check_input(x, False, "irfftn")
    if s is None:
        axes_ = tuple(range(x.ndim)) if axes is None else axes
        s = [x.shape[normalize_axis(a, x.ndim, "axes")] for a in axes_]
        s[-1] = 2 * (s[-1] - 1)
    pairs = _axes_and_sizes(x, s, axes, "irfftn")
    last_axis, last_n = pairs[-1]
    return _run_fft(x, [(a, "IFFT", n) for a, n in pairs[:-1]] + [(last_axis, "IRFFT", last_n)], norm)


_SWAPPED = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def hfft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Array:
    """Transform of a Hermitian-symmetric signal (real output)."""
    x = _check_input(x, False, "hfft")
    _check_norm(norm)
    a = normalize_axis(axis, x.ndim)
    length = _length(n, 2 * (x.shape[a] - 1), "hfft")
    return _run_fft(x, [(a, "IRFFT", length)], _SWAPPED[norm], conj_in=True)


def ihfft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Array:
    """Inverse of ``hfft`` (real input, Hermitian output half)."""
    x = _check_input(x, True, "ihfft")
    _check_norm(norm)
    a = normalize_axis(axis, x.ndim)
    return _run_fft(x, [(a, "RFFT", _length(n, x.shape[a], "ihfft"))], _SWAPPED[norm], conj_out=True)


def _freq_rule(b: Builder, d: Value, *, n: int, rfft: bool) -> Value:
    dtype = d.dtype
    count = n // 2 + 1 if rfft else n
    index = np.dtype("int64")
    i = b.iota((count,), 0, index)
    if not rfft:
        # [0, 1, ..., (n-1)//2, -(n//2), ..., -1]
        over = b.compare(i, b.constant((n - 1) // 2, index, (count,)), "GT")
        i = b.select(over, b.subtract(i, b.constant(n, index, (count,))), i)
    spacing = broadcast(b, d, (count,))
    return b.divide(b.convert(i, dtype), b.multiply(b.constant(n, dtype, (count,)), spacing))


def _freq(n: int, d: float, dtype: Any, device: Device | None, rfft: bool) -> Array:
    n = count_arg(n, "n", minimum=1)
    if not isinstance(d, (int, float)) or isinstance(d, bool):
        raise TypeError(f"d must be a number, got {d!r}")
    dtype = _dtypes.as_dtype(dtype) if dtype is not None else _dtypes.DEFAULT_FLOAT
    if not _dtypes.is_float(dtype):
        raise TypeError(f"dtype must be a real floating-point dtype, got {dtype}")
    from ._operands import scalar_array
    device = as_device(device)
    check_size((n,), dtype, "n", device)
    return run(_freq_rule, (("n", n), ("rfft", rfft)), (scalar_array(float(d), dtype, device),), device)[0]


def fftfreq(n: int, /, *, d: float = 1.0, dtype: Any = None, device: Device | None = None) -> Array:
    """Sample frequencies of ``fft`` for ``n`` points spaced ``d`` apart."""
    return _freq(n, d, dtype, device, False)


def rfftfreq(n: int, /, *, d: float = 1.0, dtype: Any = None, device: Device | None = None) -> Array:
    """Sample frequencies of ``rfft`` (non-negative only)."""
    return _freq(n, d, dtype, device, True)


def _shift(x: Any, axes: Any, inverse: bool) -> Array:
    x = check_array(x)
    if axes is None:
        axes = tuple(range(x.ndim))
    elif isinstance(axes, int):
        axes = (axes,)
    axes = tuple(normalize_axis(a, x.ndim, "axes") for a in axes)
    return roll(x, tuple(-(x.shape[a] // 2) if inverse else x.shape[a] // 2 for a in axes), axis=axes)


def fftshift(x: Any, /, *, axes: Any = None) -> Array:
    """Move the zero-frequency component to the center."""
    return _shift(x, axes, False)


def ifftshift(x: Any, /, *, axes: Any = None) -> Array:
    """Inverse of ``fftshift``."""
    return _shift(x, axes, True)
