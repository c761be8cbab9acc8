"""Array creation functions of the Array API (host data in, device arrays out)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _dtypes
from .._array import Array
from .._devices import Device, as_device
from ._operands import from_host

__all__ = ["asarray"]


def _host_value(obj: Any, dtype: np.dtype | None) -> np.ndarray:
    """``obj`` as a numpy array with the namespace's dtype rules (TypeError if unsupported)."""
    if hasattr(obj, "__dlpack__") and not isinstance(obj, np.ndarray):
        value = np.from_dlpack(obj)
    else:
        try:
            value = np.asarray(obj)
        except OverflowError:
            raise OverflowError(f"obj: Python integer {obj!r} does not fit any supported integer dtype") from None
    if value.dtype == object or value.dtype.kind in "USVMmO":
        raise TypeError(f"obj: cannot make an array from {type(obj).__name__} (numpy infers dtype {value.dtype})")
    if dtype is not None:
        if _dtypes.is_integer(dtype) and value.dtype.kind == "i" and value.size:
            info = np.iinfo(dtype)
            if value.min() < info.min or value.max() > info.max:
                raise OverflowError(f"obj: values out of range for {dtype}")
        value = value.astype(dtype, copy=False)
    else:
        _dtypes.as_dtype(value.dtype, "obj")
    return value


def asarray(obj: Any, /, *, dtype: Any = None, device: Device | None = None, copy: bool | None = None) -> Array:
    """Convert ``obj`` (array, numpy array, scalar, nested sequence, buffer, DLPack producer)."""
    if dtype is not None:
        dtype = _dtypes.as_dtype(dtype)
    if copy not in (None, True, False):
        raise TypeError(f"copy must be True, False or None, got {copy!r}")
    if isinstance(obj, Array):
        target = obj._device if device is None else as_device(device)
        same = target == obj._device and (dtype is None or dtype == obj.dtype)
        if same and not copy:
            return obj
        if copy is False:
            raise ValueError("asarray(copy=False): the conversion needs a copy (other dtype or device)")
        from .data_types import astype
        out = astype(obj, dtype if dtype is not None else obj.dtype, copy=True)
        return out.to_device(target) if target != out._device else out
    target = as_device(device)
    if copy is False:
        raise ValueError("asarray(copy=False): host data is always copied to the device")
    return from_host(_host_value(obj, dtype), target)
