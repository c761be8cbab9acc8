"""Turning function arguments into Array operands: scalars, devices, promotion.

Python scalars are weakly typed (``x + 1`` keeps ``x.dtype``).  They become
0-d device arrays that are cached per (value, dtype, device), so ``x * 2.0``
in a loop neither compiles a new program per value nor uploads the scalar
again.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _dtypes
from .._array import Array
from .._devices import Device, as_device
from .._pjrt import ResourceExhausted
from .._trace_state import state as _trace_state, tracing as _tracing
from .._sharding import NamedSharding, Placement, place
from ._validate import check_size

__all__ = ["scalar_array", "from_host", "binary_operands", "check_array", "on_one_device", "follow", "as_placement"]

_SCALARS = (bool, int, float, complex)
# XLA:CPU aliases host memory only at this alignment (measured on both CPU
# plugins); numpy's own allocations are usually 16-byte aligned.
_ZERO_COPY_ALIGNMENT = 64
_scalar_cache: dict[tuple, Array] = {}
_SCALAR_CACHE_SIZE = 512


def from_host(value: np.ndarray, device: "Placement", *, share: bool = False, must_share: bool = False) -> Array:
    """Upload a numpy array to ``device``.

    With ``share`` on a CPU device the buffer aliases ``value``'s memory (PJRT
    zero-copy semantics; ``value`` is kept alive by the buffer) where the plugin
    allows it.  ``must_share`` raises ValueError when the plugin copied anyway.
    """
    if isinstance(device, NamedSharding):
        if must_share:
            raise ValueError("copy=False: placing host data on several devices always copies")
        return place(value, device)
    share = ((share or must_share) and device.platform == "cpu" and value.flags.c_contiguous
             and value.ctypes.data % _ZERO_COPY_ALIGNMENT == 0)
    if must_share and not share:
        raise ValueError("copy=False: sharing host memory needs a C-contiguous array on a CPU device, "
                         f"{_ZERO_COPY_ALIGNMENT}-byte aligned (this one is at offset "
                         f"{value.ctypes.data % _ZERO_COPY_ALIGNMENT}); use copy=None to copy")
    if not share:
        check_size(value.shape, value.dtype, "obj", device)  # the copy must fit the device
    try:
        buffer = device.client.buffer_from_numpy(value, device.pjrt, semantics="zero_copy" if share else "copy")
    except ResourceExhausted as exc:
        raise device.out_of_memory(exc) from None
    if must_share and value.size and buffer.unsafe_pointer() != value.ctypes.data:
        buffer.close()
        raise ValueError("copy=False: the plugin needed a copy (e.g. for alignment)")
    return Array._from_buffer(buffer, (tuple(value.shape), value.dtype), device)


def _scalar_key(value: Any) -> Any:
    # 0.0 == -0.0 and NaN != NaN: zeros and NaNs are keyed by their bits; other floats key themselves.
    if type(value) is float:
        return value if value and value == value else value.hex()
    if isinstance(value, float):
        return value.hex()
    if isinstance(value, complex):
        return (value.real.hex(), value.imag.hex())
    return value


def scalar_array(value: Any, dtype: np.dtype, device: "Placement") -> Array:
    """A cached 0-d array holding the Python scalar ``value`` as ``dtype`` (on the mesh's first
    device when ``device`` is a NamedSharding: programs replicate it).

    While tracing it is a literal constant of the traced program instead.
    """
    trace = _trace_state.trace if _tracing[0] else None
    if trace is not None:
        if isinstance(value, float) and math.isinf(value) and _dtypes.is_integer(dtype):
            raise OverflowError(f"cannot convert {value} to {dtype}")
        return trace.constant(value, dtype)
    one: Device = device if type(device) is Device else \
        device.mesh.device_list[0] if isinstance(device, NamedSharding) else device
    kind = type(value)
    # (_scalar_key inline for the common cases: ints and ordinary floats key themselves)
    key = (kind, value if kind is int or (kind is float and value and value == value) else _scalar_key(value),
           dtype, one.token)
    cached = _scalar_cache.get(key)
    if cached is None:
        if len(_scalar_cache) >= _SCALAR_CACHE_SIZE:
            _scalar_cache.clear()
        if isinstance(value, float) and math.isinf(value) and _dtypes.is_integer(dtype):
            raise OverflowError(f"cannot convert {value} to {dtype}")
        host = np.asarray(value, dtype=dtype)
        cached = _scalar_cache[key] = from_host(host, one)
        if one.platform == "cpu":  # its host value (read-only, a copy): ops on host values read it
            host.setflags(write=False)
            cached._host = host
    return cached


def as_placement(device: Any, argname: str = "device") -> Placement:
    """A ``device=`` argument of a creation function: a Device (None: the default) or a
    NamedSharding (the new array is sharded that way)."""
    return device if isinstance(device, NamedSharding) else as_device(device, argname)


def check_array(x: Any, argname: str = "x") -> Array:
    """``x`` itself if it is an Array; TypeError naming ``argname`` otherwise."""
    if not isinstance(x, Array):
        raise TypeError(f"{argname} must be a pjrt_array Array, got {type(x).__name__}")
    return x


def on_one_device(*arrays: Array) -> tuple[Device, tuple[Array, ...]]:
    """The device an op on ``arrays`` runs on, and the arrays moved there.

    Arrays made without ``device=`` are uncommitted (on the default device's twin,
    ``Device.uncommitted``): when the others are on one other device, they are copied
    there, as JAX does.  The result is committed when any operand is.  Two committed
    devices that differ are a ValueError naming both.
    """
    device = arrays[0]._device
    for a in arrays:
        if a._device is not device or a._sharding is not None:
            break
    else:
        return device, arrays
    if any(a._sharding is not None for a in arrays):
        from .._spmd import common_device
        return common_device(arrays), arrays
    target = next((a._device for a in arrays if a._device.committed), device)
    for a in arrays:
        if a._device != target and a._device.committed:
            _different(target, a._device)
    return target, tuple(a if a._device == target else _move(a, target) for a in arrays)


def follow(x: Array, device: Device, argname: str) -> Array:
    """``x`` on ``device``, where the op's other operand stays (an array written into, an
    indexed array): an uncommitted ``x`` is moved there, a committed one must be there."""
    if x._device == device or x._sharding is not None:
        return x
    if x._device.committed:
        raise ValueError(f"{argname} is on {x._device!r}, the array it joins on {device!r}; "
                         "move one with to_device() first")
    return _move(x, device)


def _move(x: Array, device: Device) -> Array:
    if x._device.committed or not device.committed:  # (both uncommitted: the default device changed)
        _different(device, x._device)
    return x.to_device(device)


def _different(d1: Device, d2: Device) -> None:
    raise ValueError(f"arrays are on different devices ({d1!r} and {d2!r}); move one with to_device() first")


def _as_array(x: Any, argname: str, device: Device | None) -> Array | None:
    """Arrays pass through; numpy values are uploaded; Python scalars give None."""
    if isinstance(x, Array):
        return x
    if isinstance(x, (np.ndarray, np.generic)):
        value = np.asarray(x)
        _dtypes.as_dtype(value.dtype, argname)
        return from_host(value, as_device(device))
    if isinstance(x, _SCALARS):
        return None
    raise TypeError(f"{argname} must be an array or a Python scalar, got {type(x).__name__}")


# (array dtype, Python scalar type) -> the dtype of ``array op scalar`` (the scalar weakly typed)
_weak_results: dict[tuple[np.dtype, type], np.dtype] = {}


def _weak_result(dtype: np.dtype, scalar: Any, argname: str) -> np.dtype:
    """``_dtypes.result_type(dtype, scalar)`` for an int or float ``scalar``, cached by its type;
    an int must fit an integer result (OverflowError naming ``argname``)."""
    kind = type(scalar)
    found = _weak_results.get((dtype, kind))
    if found is None:
        found = _weak_results[dtype, kind] = _dtypes.result_type(dtype, scalar)
    if kind is int and found.kind in "iu":
        _dtypes.check_scalar_fits(scalar, found, argname)
    return found


# (Python int or float, its type, array dtype, device token) -> (its cached 0-d Array, the result
# dtype): the operand of ``x * 0.5`` in one look-up (zeros and NaNs of floats are left out: they
# key by their bits in scalar_array).  An int is cached with its value, so its range was checked.
_scalar_operands: dict[tuple, tuple[Array, np.dtype]] = {}


def _scalar_operand(value: int | float, x: Array, argname: str) -> tuple[Array, np.dtype]:
    """The Python int or float ``value`` as the operand of a binary function with Array ``x``."""
    kind = type(value)
    key = (value, kind, x._aval[1], x._device.token)
    found = _scalar_operands.get(key)
    if found is None or _tracing[0]:
        dtype = _weak_result(x._aval[1], value, argname)
        found = (scalar_array(value, dtype, x._device), dtype)
        if (kind is int or (value and value == value)) and not _tracing[0] and x._sharding is None:
            if len(_scalar_operands) >= _SCALAR_CACHE_SIZE:
                _scalar_operands.clear()
            _scalar_operands[key] = found
    return found


def binary_operands(x1: Any, x2: Any) -> tuple[Array, Array, np.dtype, Device]:
    """Both operands as Arrays on one device, the promoted result dtype, and the device the op
    runs on (committed when either operand is: ``on_one_device``)."""
    t1, t2 = type(x1), type(x2)
    if t1 is Array:  # the common cases, kept short
        if t2 is Array:
            device = x1._device
            if device is not x2._device:
                device, (x1, x2) = on_one_device(x1, x2)
            d1, d2 = x1._aval[1], x2._aval[1]
            return x1, x2, d1 if d1 is d2 else _dtypes.promote_types(d1, d2), device
        if t2 is float or t2 is int:
            s, dtype = _scalar_operand(x2, x1, "x2")
            return x1, s, dtype, x1._device
    elif t2 is Array and (t1 is float or t1 is int):
        s, dtype = _scalar_operand(x1, x2, "x1")
        return s, x2, dtype, x2._device
    if getattr(x1, "_weak", None) or getattr(x2, "_weak", None):  # a traced Python scalar
        from .._tracing import weak_operands
        a, b, dtype = weak_operands(x1, x2)
        return a, b, dtype, a._device
    a1 = _as_array(x1, "x1", x2._device if isinstance(x2, Array) else None)
    a2 = _as_array(x2, "x2", a1._device if a1 is not None else None)
    if a1 is None:
        if a2 is None:
            raise TypeError("at least one of x1 and x2 must be an array")
        dtype = _dtypes.result_type(a2.dtype, x1)
        _dtypes.check_scalar_fits(x1, dtype, "x1")
        return scalar_array(x1, dtype, a2._device), a2, dtype, a2._device
    if a2 is None:
        dtype = _dtypes.result_type(a1.dtype, x2)
        _dtypes.check_scalar_fits(x2, dtype, "x2")
        return a1, scalar_array(x2, dtype, a1._device), dtype, a1._device
    device, (a1, a2) = on_one_device(a1, a2)
    return a1, a2, _dtypes.promote_types(a1.dtype, a2.dtype), device
