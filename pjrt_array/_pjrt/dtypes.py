"""``PJRT_Buffer_Type`` <-> numpy / ml_dtypes dtypes, both ways, for every type.

Sub-byte types (int1/2/4, uint1/2/4, float4_e2m1fn) are one element per byte
in numpy (ml_dtypes) and on the host side of a PJRT transfer; the plugin packs
them in device memory (both CPU plugins: 9 int4 values take 5 device bytes),
so device bytes of these types are never viewed as numpy elements.  ``TOKEN``
has no host representation.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
from numpy.typing import DTypeLike

from . import _abi

__all__ = ["BufferType", "to_numpy_dtype", "from_numpy_dtype", "require_known", "SUB_BYTE_BITS", "INTRODUCED_IN"]

BufferType = _abi.PJRT_Buffer_Type
_B = BufferType

_PAIRS: tuple[tuple[BufferType, DTypeLike], ...] = (
    (_B.PJRT_Buffer_Type_PRED, np.bool_),
    (_B.PJRT_Buffer_Type_S8, np.int8), (_B.PJRT_Buffer_Type_S16, np.int16),
    (_B.PJRT_Buffer_Type_S32, np.int32), (_B.PJRT_Buffer_Type_S64, np.int64),
    (_B.PJRT_Buffer_Type_U8, np.uint8), (_B.PJRT_Buffer_Type_U16, np.uint16),
    (_B.PJRT_Buffer_Type_U32, np.uint32), (_B.PJRT_Buffer_Type_U64, np.uint64),
    (_B.PJRT_Buffer_Type_F16, np.float16), (_B.PJRT_Buffer_Type_F32, np.float32),
    (_B.PJRT_Buffer_Type_F64, np.float64), (_B.PJRT_Buffer_Type_BF16, ml_dtypes.bfloat16),
    (_B.PJRT_Buffer_Type_C64, np.complex64), (_B.PJRT_Buffer_Type_C128, np.complex128),
    (_B.PJRT_Buffer_Type_F8E5M2, ml_dtypes.float8_e5m2),
    (_B.PJRT_Buffer_Type_F8E4M3FN, ml_dtypes.float8_e4m3fn),
    (_B.PJRT_Buffer_Type_F8E4M3B11FNUZ, ml_dtypes.float8_e4m3b11fnuz),
    (_B.PJRT_Buffer_Type_F8E5M2FNUZ, ml_dtypes.float8_e5m2fnuz),
    (_B.PJRT_Buffer_Type_F8E4M3FNUZ, ml_dtypes.float8_e4m3fnuz),
    (_B.PJRT_Buffer_Type_S4, ml_dtypes.int4), (_B.PJRT_Buffer_Type_U4, ml_dtypes.uint4),
    (_B.PJRT_Buffer_Type_S2, ml_dtypes.int2), (_B.PJRT_Buffer_Type_U2, ml_dtypes.uint2),
    (_B.PJRT_Buffer_Type_S1, ml_dtypes.int1), (_B.PJRT_Buffer_Type_U1, ml_dtypes.uint1),
    (_B.PJRT_Buffer_Type_F8E4M3, ml_dtypes.float8_e4m3),
    (_B.PJRT_Buffer_Type_F8E3M4, ml_dtypes.float8_e3m4),
    (_B.PJRT_Buffer_Type_F8E8M0FNU, ml_dtypes.float8_e8m0fnu),
    (_B.PJRT_Buffer_Type_F4E2M1FN, ml_dtypes.float4_e2m1fn),
    (_B.PJRT_Buffer_Type_F6E2M3FN, ml_dtypes.float6_e2m3fn),
    (_B.PJRT_Buffer_Type_F6E3M2FN, ml_dtypes.float6_e3m2fn),
)

_TO_NUMPY: dict[int, np.dtype] = {int(t): np.dtype(d) for t, d in _PAIRS}
_FROM_NUMPY: dict[np.dtype, BufferType] = {np.dtype(d): t for t, d in _PAIRS}

#: Bits per element of the packed sub-byte types.
SUB_BYTE_BITS: dict[BufferType, int] = {
    _B.PJRT_Buffer_Type_S1: 1, _B.PJRT_Buffer_Type_U1: 1,
    _B.PJRT_Buffer_Type_S2: 2, _B.PJRT_Buffer_Type_U2: 2,
    _B.PJRT_Buffer_Type_S4: 4, _B.PJRT_Buffer_Type_U4: 4,
    _B.PJRT_Buffer_Type_F4E2M1FN: 4,
}

#: The PJRT API minor version whose enum added each newer buffer type (the
#: changelog's "Added types ..." entries).  A plugin older than that does not
#: know the value and may crash on it, so the binding refuses it first.  S2/U2
#: have no changelog entry; they precede F8E4M3 in the enum, so 0.55 is safe.
INTRODUCED_IN: dict[BufferType, int] = {
    _B.PJRT_Buffer_Type_TOKEN: 50,
    _B.PJRT_Buffer_Type_S2: 55, _B.PJRT_Buffer_Type_U2: 55,
    _B.PJRT_Buffer_Type_F8E4M3: 55, _B.PJRT_Buffer_Type_F8E3M4: 55,
    _B.PJRT_Buffer_Type_F8E8M0FNU: 63, _B.PJRT_Buffer_Type_F4E2M1FN: 63,
    _B.PJRT_Buffer_Type_S1: 94, _B.PJRT_Buffer_Type_U1: 94,
    _B.PJRT_Buffer_Type_F6E2M3FN: 114, _B.PJRT_Buffer_Type_F6E3M2FN: 114,
}


def require_known(buffer_type: BufferType, api_minor: int, argname: str = "dtype") -> None:
    """TypeError naming ``argname`` if a plugin of API ``0.api_minor`` predates ``buffer_type``."""
    since = INTRODUCED_IN.get(buffer_type, 0)
    if api_minor < since:
        raise TypeError(f"{argname}: dtype {_TO_NUMPY[int(buffer_type)]} ({buffer_type.name}) needs PJRT API "
                        f"0.{since}; this plugin implements 0.{api_minor}")


def to_numpy_dtype(buffer_type: int) -> np.dtype:
    """The numpy dtype of a ``PJRT_Buffer_Type``; TypeError for INVALID/TOKEN."""
    try:
        return _TO_NUMPY[buffer_type]
    except KeyError:
        name = BufferType(buffer_type).name if buffer_type in BufferType._value2member_map_ else buffer_type
        raise TypeError(f"PJRT buffer type {name} has no numpy dtype") from None


def from_numpy_dtype(dtype: DTypeLike, argname: str = "dtype") -> BufferType:
    """The ``PJRT_Buffer_Type`` of a numpy dtype; TypeError naming ``argname`` if none."""
    try:
        return _FROM_NUMPY[np.dtype(dtype)]
    except (KeyError, TypeError):
        raise TypeError(f"{argname}: unsupported dtype {dtype!r} (PJRT has no such buffer type)") from None
