"""Shapes as the C API takes them: a checked ``int64_t`` dims array and a dense row-major layout.

The XLA plugins abort the whole process (instead of returning an error) on a
negative dimension, so every shape a wrapper hands to a plugin is checked here.
"""

from __future__ import annotations

import ctypes
import operator
from typing import Any, Sequence

import numpy as np

from . import _abi
from ._api import new_struct, struct_size
from .dtypes import from_numpy_dtype, require_known

_INT64_MAX = 2**63 - 1


def dims_array(shape: Sequence[int], argname: str) -> tuple[Any, tuple[int, ...]]:
    """``(int64_t array, dims)`` for ``shape``; TypeError/ValueError naming ``argname`` when invalid."""
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"{argname} must be a sequence of ints, got {shape!r}") from None
    if any(d < 0 or d > _INT64_MAX for d in dims):
        raise ValueError(f"{argname} must have dimensions in [0, 2**63), got {dims}")
    return (ctypes.c_int64 * max(len(dims), 1))(*dims), dims


def shape_and_type(shape: Sequence[int], dtype: Any, api_minor: int) -> tuple[Any, tuple[int, ...], int]:
    """The checked dims array, the dims and the ``PJRT_Buffer_Type`` (one the plugin of
    ``api_minor`` knows) of ``shape``/``dtype``; TypeError/ValueError naming the argument."""
    array, dims = dims_array(shape, "shape")
    try:
        np_dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype: not a dtype: {dtype!r}") from None
    btype = from_numpy_dtype(np_dtype, "dtype")
    require_known(btype, api_minor, "dtype")
    return array, dims, int(btype)


class RowMajorLayout:
    """A ``PJRT_Buffer_MemoryLayout`` for dense row-major data of ``ndim`` dimensions.

    ``address`` is valid while this object lives.
    """

    def __init__(self, ndim: int) -> None:
        self.minor_to_major = (ctypes.c_int64 * max(ndim, 1))(*range(ndim - 1, -1, -1))
        self.struct = new_struct(_abi.PJRT_Buffer_MemoryLayout)
        self.struct.type = _abi.PJRT_Buffer_MemoryLayout_Type.PJRT_Buffer_MemoryLayout_Type_Tiled
        self.struct.tiled.struct_size = struct_size(_abi.PJRT_Buffer_MemoryLayout_Tiled)
        self.struct.tiled.minor_to_major = ctypes.addressof(self.minor_to_major)
        self.struct.tiled.minor_to_major_size = ndim

    @property
    def address(self) -> int:
        return ctypes.addressof(self.struct)
