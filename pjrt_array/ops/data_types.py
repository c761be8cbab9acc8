"""Data type functions that run on the device: ``astype``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _dtypes
from .._array import Array
from .._devices import Device
from .._dispatch import run, run_elementwise
from ._builder import Builder, Value
from ._lower import const_like, truth
from ._operands import check_array

__all__ = ["astype"]


def _astype_rule(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    if dtype == np.bool_:
        return truth(b, x)
    if _dtypes.is_complex(x.dtype) and not _dtypes.is_complex(dtype):
        x = b.real(x)  # complex -> real keeps the real part, as numpy does
    return b.convert(x, dtype)


def _copy_rule(b: Builder, x: Value) -> Value:
    # An explicit copy must produce a new buffer; an identity program would alias.
    zero = const_like(b, 0, x)
    return b.or_(x, zero) if x.dtype == np.bool_ else b.add(x, zero)


def astype(x: Any, dtype: Any, /, *, copy: bool = True, device: Device | None = None) -> Array:
    """``x`` converted to ``dtype`` (a new array unless ``copy=False`` and nothing changes)."""
    x = check_array(x)
    dtype = _dtypes.as_dtype(dtype)
    if device is not None and device != x._device:
        return astype(x.to_device(device), dtype, copy=False)
    if dtype == x.dtype:
        if not copy:
            return x
        return run_elementwise(_copy_rule, (), (x,), x._device)
    return run_elementwise(_astype_rule, (("dtype", dtype),), (x,), x._device)
