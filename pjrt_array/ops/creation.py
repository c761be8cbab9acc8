"""Array creation functions of the Array API.

Values are generated on the device (iota, broadcast) from static shapes and
0-d operands for the numbers, so ``full(shape, v)`` compiles once per shape
and dtype, not once per ``v``.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from .. import _dtypes
from .._array import Array
from .._devices import Device
from .._dispatch import run
from .._sharding import NamedSharding, Placement
from ._builder import Builder, Value
from ._lower import band_mask, broadcast, clamp_diagonal
from ._operands import as_placement, check_array, from_host, scalar_array
from ._validate import check_size, count_arg, recall, remember, shape_arg, shape_key

__all__ = ["arange", "asarray", "empty", "empty_like", "eye", "from_dlpack", "full", "full_like", "linspace",
           "meshgrid", "ones", "ones_like", "tril", "triu", "zeros", "zeros_like"]

_SCALARS = (bool, int, float, complex)
_FLOATING = ("real floating", "complex floating")


def _fill_dtype(value: Any, dtype: Any) -> np.dtype:
    if dtype is not None:
        return _dtypes.as_dtype(dtype)
    if isinstance(value, Array):
        return value.dtype
    if not isinstance(value, _SCALARS):
        raise TypeError(f"fill_value must be a Python scalar, got {type(value).__name__}")
    return _dtypes.default_dtype_of(value)


def _broadcast_rule(b: Builder, v: Value, *, shape: tuple[int, ...]) -> Value:
    return broadcast(b, v, shape)


# (the shape, the fill value and dtype with their types, the device) -> the checked shape and dtype
_checked: dict[tuple, tuple[tuple[int, ...], np.dtype]] = {}


def _check_full(shape: Any, fill_value: Any, dtype: Any, device: Placement) -> tuple[tuple[int, ...], np.dtype]:
    """``full``'s arguments checked: the shape tuple and the dtype."""
    shape = shape_arg(shape)
    dtype = _fill_dtype(fill_value, dtype)
    check_size(shape, dtype, "shape", device)
    if not isinstance(fill_value, Array):
        if isinstance(fill_value, (float, complex)) and _dtypes.is_integer(dtype):
            raise TypeError(f"fill_value {fill_value!r} cannot be represented as {dtype}")
        if isinstance(fill_value, complex) and not _dtypes.is_complex(dtype):
            raise TypeError(f"fill_value {fill_value!r} cannot be represented as {dtype}")
        _dtypes.check_scalar_fits(fill_value, dtype, "fill_value")
    return shape, dtype


def full(shape: Any, fill_value: Any, *, dtype: Any = None, device: Placement | None = None) -> Array:
    """An array of ``shape`` filled with ``fill_value``."""
    device = as_placement(device)
    key = (shape_key(shape), type(fill_value), fill_value, type(dtype), dtype, device)
    checked = recall(_checked, key)
    if checked is None:
        checked = _check_full(shape, fill_value, dtype, device)
        remember(_checked, key, checked, *checked)
    shape, dtype = checked
    value = fill_value if isinstance(fill_value, Array) else scalar_array(fill_value, dtype, device)
    return run(_broadcast_rule, (("shape", shape),), (value,), device)[0]


def zeros(shape: Any, *, dtype: Any = None, device: Placement | None = None) -> Array:
    """An array of zeros (default dtype float64)."""
    return full(shape, 0, dtype=_dtypes.as_dtype(dtype) if dtype is not None else _dtypes.DEFAULT_FLOAT,
                device=device)


def ones(shape: Any, *, dtype: Any = None, device: Placement | None = None) -> Array:
    """An array of ones (default dtype float64)."""
    return full(shape, 1, dtype=_dtypes.as_dtype(dtype) if dtype is not None else _dtypes.DEFAULT_FLOAT,
                device=device)


def empty(shape: Any, *, dtype: Any = None, device: Placement | None = None) -> Array:
    """An uninitialized array; here it is zero-filled (the cheapest defined content)."""
    return zeros(shape, dtype=dtype, device=device)


def _like(x: Any, dtype: Any, device: Any) -> tuple[tuple[int, ...], np.dtype, Placement]:
    x = check_array(x)
    return x.shape, _dtypes.as_dtype(dtype) if dtype is not None else x.dtype, \
        x.device if device is None else as_placement(device)


def full_like(x: Any, /, fill_value: Any, *, dtype: Any = None, device: Placement | None = None) -> Array:
    """An array shaped like ``x`` filled with ``fill_value``."""
    shape, dtype, device = _like(x, dtype, device)
    return full(shape, fill_value, dtype=dtype, device=device)


def zeros_like(x: Any, /, *, dtype: Any = None, device: Placement | None = None) -> Array:
    """Zeros shaped like ``x``."""
    shape, dtype, device = _like(x, dtype, device)
    return full(shape, 0, dtype=dtype, device=device)


def ones_like(x: Any, /, *, dtype: Any = None, device: Placement | None = None) -> Array:
    """Ones shaped like ``x``."""
    shape, dtype, device = _like(x, dtype, device)
    return full(shape, 1, dtype=dtype, device=device)


def empty_like(x: Any, /, *, dtype: Any = None, device: Placement | None = None) -> Array:
    """An uninitialized array shaped like ``x`` (zero-filled here)."""
    return zeros_like(x, dtype=dtype, device=device)


def _arange_rule(b: Builder, start: Value, step: Value, *, n: int, dtype: np.dtype) -> Value:
    compute = np.dtype("float64") if _dtypes.is_float(dtype) and dtype != np.float64 else dtype
    i = b.iota((n,), 0, compute)
    step = broadcast(b, b.convert(step, compute), (n,))
    start = broadcast(b, b.convert(start, compute), (n,))
    return b.convert(b.add(b.multiply(i, step), start), dtype)


def _bound(name: str, v: Any) -> int | float:
    """An ``arange`` bound as a Python number: numpy scalars and 0-D real Arrays (a host read: the
    length depends on the value) count as numbers, as in numpy (SciPy passes counts as 0-D arrays)."""
    if isinstance(v, Array) and v.ndim == 0 and (_dtypes.is_integer(v.dtype) or _dtypes.is_float(v.dtype)):
        return int(v) if _dtypes.is_integer(v.dtype) else float(v)
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        shape = f" of shape {v.shape}" if isinstance(v, Array) else ""
        raise TypeError(f"{name} must be an int or float (or a 0-D real array), got {type(v).__name__}{shape}")
    return v


def arange(start: Any, /, stop: Any = None, step: Any = 1, *, dtype: Any = None,
           device: Placement | None = None) -> Array:
    """Evenly spaced values in ``[start, stop)`` (numpy's length rule)."""
    if stop is None:
        start, stop = 0, start
    start, stop, step = _bound("start", start), _bound("stop", stop), _bound("step", step)
    if step == 0:
        raise ValueError("step must not be zero")
    if dtype is None:
        dtype = _dtypes.DEFAULT_FLOAT if any(isinstance(v, float) for v in (start, stop, step)) \
            else _dtypes.DEFAULT_INT
    dtype = _dtypes.as_dtype(dtype)
    if not _dtypes.isdtype(dtype, "numeric"):
        raise TypeError(f"arange: dtype must be numeric, got {dtype}")
    length = (stop - start) / step
    if not math.isfinite(length):
        raise ValueError(f"arange: cannot compute the length from start={start}, stop={stop}, step={step}")
    n = max(0, math.ceil(length))
    device = as_placement(device)
    check_size((n,), dtype, f"arange(start={start}, stop={stop}, step={step})", device)
    compute = np.dtype("float64") if _dtypes.is_float(dtype) else dtype
    _dtypes.check_scalar_fits(start, compute, "start")
    _dtypes.check_scalar_fits(step, compute, "step")
    args = (scalar_array(start, compute, device), scalar_array(step, compute, device))
    return run(_arange_rule, (("n", n), ("dtype", dtype)), args, device)[0]


def _linspace_rule(b: Builder, start: Value, stop: Value, *, num: int, endpoint: bool) -> Value:
    dtype, shape = start.dtype, (num,)
    div = (num - 1) if endpoint else num
    i = b.convert(b.iota(shape, 0, _dtypes.real_dtype(dtype)), dtype)
    lo, hi = broadcast(b, start, shape), broadcast(b, stop, shape)
    span = b.subtract(hi, lo)
    step = b.divide(span, b.constant(div, dtype, shape)) if div > 0 else span
    out = b.add(b.multiply(i, step), lo)
    if endpoint and num > 1:
        # The last sample is exactly ``stop``, as in numpy.
        index = np.dtype("int64")
        is_last = b.compare(b.iota(shape, 0, index), b.constant(num - 1, index, shape), "EQ")
        out = b.select(is_last, hi, out)
    return out


def _linspace_bound(value: Any, name: str) -> tuple[Any, np.dtype | None]:
    """A start/stop as given (a Python number or a 0-D Array, whose value is not read: it is an
    operand of the program), with its dtype when it is an Array."""
    if isinstance(value, Array):
        if value.ndim != 0:
            raise ValueError(f"{name} must be a number or a 0-D array, got an array of shape {value.shape}")
        return value, value.dtype
    if not isinstance(value, (int, float, complex)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a real or complex number, got {type(value).__name__}")
    return value, None


def _linspace_operand(value: Any, dtype: np.dtype, device: Placement) -> Array:
    if isinstance(value, Array):
        from .data_types import astype
        return astype(value, dtype)
    return scalar_array(value, dtype, device)


def linspace(start: Any, stop: Any, /, num: int, *, dtype: Any = None, device: Placement | None = None,
             endpoint: bool = True) -> Array:
    """``num`` evenly spaced samples from ``start`` to ``stop`` (numbers or 0-D arrays).

    An integer ``dtype`` gives numpy's answer: the samples computed in float64,
    rounded towards minus infinity."""
    (start, start_dtype), (stop, stop_dtype) = _linspace_bound(start, "start"), _linspace_bound(stop, "stop")
    num = count_arg(num, "num")
    is_complex = any(isinstance(v, complex) or d is not None and _dtypes.is_complex(d)
                     for v, d in ((start, start_dtype), (stop, stop_dtype)))
    if dtype is None:
        given = [d for d in (start_dtype, stop_dtype) if d is not None]  # numpy promotes 0-D bounds
        dtype = functools.reduce(_dtypes.promote_types, given) if given else _dtypes.DEFAULT_FLOAT
        if not _dtypes.isdtype(dtype, _FLOATING):
            dtype = _dtypes.DEFAULT_FLOAT
        if is_complex and not _dtypes.is_complex(dtype):
            dtype = _dtypes.complex_dtype_for(dtype)
    dtype = _dtypes.as_dtype(dtype)
    if not _dtypes.isdtype(dtype, ("integral",) + _FLOATING):
        raise TypeError(f"linspace needs a numeric dtype, got {dtype}")
    if is_complex and not _dtypes.is_complex(dtype):
        raise TypeError(f"complex start/stop need a complex dtype, got {dtype}")
    device = as_placement(device)
    check_size((num,), dtype, "num", device)
    compute = dtype if _dtypes.isdtype(dtype, _FLOATING) else _dtypes.DEFAULT_FLOAT
    args = (_linspace_operand(start, compute, device), _linspace_operand(stop, compute, device))
    out = run(_linspace_rule, (("num", num), ("endpoint", bool(endpoint))), args, device)[0]
    if compute == dtype:
        return out
    from .data_types import astype
    from .elementwise import floor
    return astype(floor(out), dtype)


def _eye_rule(b: Builder, *, n: int, m: int, k: int, dtype: np.dtype) -> Value:
    return _band(b, None, (n, m), k, k, dtype)


def _band(b: Builder, x: Value | None, shape: tuple[int, ...], lo: int | None, hi: int | None,
          dtype: np.dtype) -> Value:
    """Keep elements with ``lo <= col - row <= hi`` of ``x`` (or ones), zero elsewhere."""
    value = x if x is not None else b.constant(1, dtype, shape)
    return b.select(band_mask(b, shape, lo, hi), value, b.constant(0, dtype, shape))


def eye(n_rows: int, n_cols: int | None = None, /, *, k: int = 0, dtype: Any = None,
        device: Placement | None = None) -> Array:
    """A 2-D array with ones on the ``k``-th diagonal."""
    n = count_arg(n_rows, "n_rows")
    m = n if n_cols is None else count_arg(n_cols, "n_cols")
    dtype = _dtypes.as_dtype(dtype) if dtype is not None else _dtypes.DEFAULT_FLOAT
    placement = as_placement(device)
    check_size((n, m), dtype, "eye(n_rows, n_cols)", placement)
    return run(_eye_rule, (("n", n), ("m", m), ("k", clamp_diagonal(k, n, m)), ("dtype", dtype)), (), placement)[0]



def _tri_rule(b: Builder, x: Value, *, lo: int | None, hi: int | None) -> Value:
    return _band(b, x, x.shape, lo, hi, x.dtype)


def tril(x: Any, /, *, k: int = 0) -> Array:
    """The lower triangle (on and below the ``k``-th diagonal) of the last two axes."""
    x = check_array(x)
    if x.ndim < 2:
        raise ValueError(f"tril needs an array of at least 2 dimensions, got {x.ndim}")
    return run(_tri_rule, (("lo", None), ("hi", clamp_diagonal(k, *x.shape[-2:]))), (x,), x._device)[0]


def triu(x: Any, /, *, k: int = 0) -> Array:
    """The upper triangle (on and above the ``k``-th diagonal) of the last two axes."""
    x = check_array(x)
    if x.ndim < 2:
        raise ValueError(f"triu needs an array of at least 2 dimensions, got {x.ndim}")
    return run(_tri_rule, (("lo", clamp_diagonal(k, *x.shape[-2:])), ("hi", None)), (x,), x._device)[0]


def _meshgrid_rule(b: Builder, *xs: Value, indexing: str) -> tuple[Value, ...]:
    sizes = [x.shape[0] for x in xs]
    if indexing == "xy" and len(xs) >= 2:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    shape = tuple(sizes)
    outs = []
    for i, x in enumerate(xs):
        dim = {0: 1, 1: 0}.get(i, i) if indexing == "xy" and len(xs) >= 2 else i
        outs.append(b.broadcast_in_dim(x, shape, [dim]))
    return tuple(outs)


def meshgrid(*arrays: Any, indexing: str = "xy") -> tuple[Array, ...]:
    """Coordinate matrices from 1-D coordinate vectors."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"indexing must be 'xy' or 'ij', got {indexing!r}")
    if not arrays:
        return ()
    xs = [check_array(a, f"arrays[{i}]") for i, a in enumerate(arrays)]
    for i, a in enumerate(xs):
        if a.ndim != 1:
            raise ValueError(f"arrays[{i}] must be 1-D, got shape {a.shape}")
        if a.dtype != xs[0].dtype:
            raise ValueError("meshgrid needs arrays of one dtype")
    from ._operands import on_one_device
    device, moved = on_one_device(*xs)
    return tuple(run(_meshgrid_rule, (("indexing", indexing),), moved, device))


def _host_value(obj: Any, dtype: np.dtype | None) -> np.ndarray:
    """``obj`` as a numpy array with the namespace's dtype rules (TypeError if unsupported)."""
    if hasattr(obj, "__dlpack__") and not isinstance(obj, np.ndarray):
        value = np.from_dlpack(obj)
    elif isinstance(obj, (list, tuple)) and dtype is not None and _dtypes.is_integer(dtype):
        # Python ints straight to the integer dtype: inferred first, [2**63 + 1, 5] would be float64
        # and lose its low bits.  numpy refuses ints out of the dtype's range.
        try:
            value = np.asarray(obj, dtype=dtype)
        except OverflowError:
            raise OverflowError(f"obj: values out of range for {dtype}") from None
        except (TypeError, ValueError):  # NaN, strings...: inferred below, and refused or cast there
            value = np.asarray(obj)
    else:
        value = np.asarray(obj)
    if value.dtype == object:
        try:
            np.asarray(obj, dtype=np.int64)  # Python ints beyond int64 give object arrays
        except OverflowError:
            raise OverflowError("obj: a Python integer does not fit any supported integer dtype") from None
        except (TypeError, ValueError):
            pass
    if value.dtype == object:
        raise TypeError(f"obj: cannot make an array from {type(obj).__name__} (numpy infers dtype object)")
    _dtypes.as_dtype(value.dtype, "obj")  # strings, datetimes, ... are refused here
    if dtype is not None:
        if _dtypes.is_integer(dtype) and value.dtype.kind == "i" and value.size:
            info = np.iinfo(dtype)
            if value.min() < info.min or value.max() > info.max:
                raise OverflowError(f"obj: values out of range for {dtype}")
        value = value.astype(dtype, copy=False)
    return value


def from_dlpack(x: Any, /, *, device: Placement | None = None, copy: bool | None = None) -> Array:
    """An array from a DLPack producer (an object with ``__dlpack__``), sharing its memory where it can."""
    if isinstance(x, Array):
        return asarray(x, device=device, copy=copy)
    from .._dlpack import from_dlpack as import_tensor
    if isinstance(device, NamedSharding):  # imported where the producer has it, then placed
        return import_tensor(x, copy=copy).to_device(device)
    return import_tensor(x, device=device, copy=copy)


def asarray(obj: Any, /, *, dtype: Any = None, device: Placement | None = None, copy: bool | None = None) -> Array:
    """Convert ``obj`` (array, numpy array, scalar, nested sequence, buffer, DLPack producer)."""
    if dtype is not None:
        dtype = _dtypes.as_dtype(dtype)
    if copy not in (None, True, False):
        raise TypeError(f"copy must be True, False or None, got {copy!r}")
    if isinstance(obj, Array):
        target = obj.device if device is None else as_placement(device)
        same = target == obj.device and (dtype is None or dtype == obj.dtype)
        if same and not copy:
            return obj
        if copy is False:
            raise ValueError("asarray(copy=False): the conversion needs a copy (other dtype or device)")
        from .data_types import astype
        out = astype(obj, dtype if dtype is not None else obj.dtype, copy=True)
        return out.to_device(target) if target != out.device else out
    target = as_placement(device)
    value = _host_value(obj, dtype)
    if copy is False and not isinstance(obj, np.ndarray) and not hasattr(obj, "__dlpack__") \
            and not isinstance(obj, memoryview):
        raise ValueError("asarray(copy=False): Python objects always need a copy")
    # Read-only host data cannot change under us, so it is shared rather than copied.
    return from_host(value, target, share=copy is None and not value.flags.writeable, must_share=copy is False)
