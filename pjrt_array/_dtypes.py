"""Data types of the namespace and the type promotion rules of the Array API.

Dtypes are plain numpy dtype objects (``xp.float32 == numpy.dtype("float32")``);
bfloat16 comes from ml_dtypes.  Promotion follows the standard's table, plus
numpy's rules across kinds (the standard leaves them to the library):
bool + numeric -> numeric; integer + floating or complex -> the smallest
dtype of that kind that holds both exactly (``int64 + float32 -> float64``,
``int8 + float16 -> float16``, ``int32 + complex64 -> complex128``).
"""

from __future__ import annotations

import builtins
from typing import Any

import ml_dtypes
import numpy as np

__all__ = [
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "bfloat16",
    "float32", "float64", "complex64", "complex128", "SUPPORTED_DTYPES", "REQUIRED_DTYPES",
    "DEFAULT_FLOAT", "DEFAULT_INT", "DEFAULT_COMPLEX", "DEFAULT_INDEX", "as_dtype", "default_dtype_of", "promote_types",
    "result_type", "cast_scalar", "can_cast", "finfo", "iinfo", "isdtype", "check_scalar_fits", "is_integer", "is_float",
    "is_complex", "is_bool", "real_dtype", "complex_dtype_for",
]

bool = np.dtype("bool")
int8, int16, int32, int64 = (np.dtype(f"int{n}") for n in (8, 16, 32, 64))
uint8, uint16, uint32, uint64 = (np.dtype(f"uint{n}") for n in (8, 16, 32, 64))
float16, float32, float64 = np.dtype("float16"), np.dtype("float32"), np.dtype("float64")
bfloat16 = np.dtype(ml_dtypes.bfloat16)
complex64, complex128 = np.dtype("complex64"), np.dtype("complex128")

REQUIRED_DTYPES = (bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32, float64,
                   complex64, complex128)
SUPPORTED_DTYPES = REQUIRED_DTYPES + (float16, bfloat16)
DEFAULT_FLOAT, DEFAULT_INT, DEFAULT_COMPLEX, DEFAULT_INDEX = float64, int64, complex128, int64

_SIGNED = (int8, int16, int32, int64)
_UNSIGNED = (uint8, uint16, uint32, uint64)
_FLOATS = (float16, bfloat16, float32, float64)
_COMPLEX = (complex64, complex128)
_SUPPORTED = frozenset(SUPPORTED_DTYPES)


def is_bool(dtype: np.dtype) -> builtins.bool:
    return dtype == bool


def is_integer(dtype: np.dtype) -> builtins.bool:
    return dtype in _SIGNED or dtype in _UNSIGNED


def is_float(dtype: np.dtype) -> builtins.bool:
    return dtype in _FLOATS


def is_complex(dtype: np.dtype) -> builtins.bool:
    return dtype in _COMPLEX


_REAL_OF_COMPLEX: dict[np.dtype, np.dtype] = {complex64: float32, complex128: float64}


def real_dtype(dtype: np.dtype) -> np.dtype:
    """float32 for complex64, float64 for complex128, the dtype itself otherwise."""
    return _REAL_OF_COMPLEX.get(dtype, dtype)


def complex_dtype_for(dtype: np.dtype) -> np.dtype:
    """complex128 for float64, complex64 for the smaller floats."""
    return complex128 if dtype == float64 else complex64


_PY_TYPES = {builtins.bool: bool, int: int64, float: float64, complex: complex128}


def default_dtype_of(scalar: Any) -> np.dtype:
    """The dtype a lone Python scalar gets: bool, int64, float64 or complex128."""
    return _PY_TYPES[type(scalar)]


def as_dtype(obj: Any, argname: str = "dtype") -> np.dtype:
    """Normalize a dtype argument; TypeError naming ``argname`` for anything unsupported."""
    if isinstance(obj, np.dtype) and obj in _SUPPORTED:
        return obj
    if obj in _PY_TYPES:
        return _PY_TYPES[obj]
    try:
        dtype = np.dtype(obj) if obj is not None else None
    except TypeError:
        dtype = None
    if dtype is None or dtype not in _SUPPORTED:
        raise TypeError(f"{argname}: unsupported data type {obj!r}; supported are "
                        + ", ".join(d.name for d in SUPPORTED_DTYPES))
    return dtype


def _build_table() -> dict[tuple[np.dtype, np.dtype], np.dtype]:
    table: dict[tuple[np.dtype, np.dtype], np.dtype] = {}

    def ladder(chain: tuple[np.dtype, ...]) -> None:
        for i, a in enumerate(chain):
            for b in chain[i:]:
                table[a, b] = table[b, a] = b

    for chain in (_SIGNED, _UNSIGNED, (float32, float64), (float16, float32, float64),
                  (bfloat16, float32, float64), _COMPLEX):
        ladder(chain)
    table[float16, bfloat16] = table[bfloat16, float16] = float32
    for u, bits in zip(_UNSIGNED[:3], (8, 16, 32)):
        for s in _SIGNED:
            wider = next(x for x in _SIGNED if x.itemsize * 8 > bits)
            table[u, s] = table[s, u] = max(s, wider, key=lambda d: d.itemsize)
    for f in _FLOATS:
        for c in _COMPLEX:
            table[f, c] = table[c, f] = complex128 if (f == float64 or c == complex128) else complex64
    numeric = _SIGNED + _UNSIGNED + _FLOATS + _COMPLEX
    table[bool, bool] = bool
    for d in numeric:
        table[bool, d] = table[d, bool] = d
    # Integer with floating or complex: numpy's answer, the smallest floating dtype
    # of that kind holding every value of the integer exactly (int64 + float32 -> float64).
    for i in _SIGNED + _UNSIGNED:
        exact = float16 if i.itemsize == 1 else float32 if i.itemsize == 2 else float64
        for f in _FLOATS + _COMPLEX:
            table[i, f] = table[f, i] = f if f == bfloat16 and i.itemsize == 1 else table[exact, f]
    return table


_PROMOTE = _build_table()


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """The promoted dtype of ``a`` and ``b``; TypeError where no promotion is defined."""
    try:
        return _PROMOTE[a, b]
    except KeyError:
        raise TypeError(f"no type promotion is defined between {a} and {b}") from None


def _scalar_result(dtype: np.dtype, scalar: Any) -> np.dtype:
    """The dtype of ``array(dtype) op scalar`` with the scalar weakly typed."""
    if isinstance(scalar, builtins.bool):
        return dtype
    if isinstance(scalar, int):
        return DEFAULT_INT if dtype == bool else dtype
    if isinstance(scalar, float):
        return dtype if dtype in _FLOATS or dtype in _COMPLEX else DEFAULT_FLOAT
    if isinstance(scalar, complex):
        if dtype in _COMPLEX:
            return dtype
        return complex64 if dtype in (float16, bfloat16, float32) else DEFAULT_COMPLEX
    raise TypeError(f"unsupported scalar {scalar!r}")


def result_type(*arrays_and_dtypes: Any) -> np.dtype:
    """The dtype of an operation on the arguments (dtypes, arrays, Python scalars)."""
    dtypes, scalars = [], []
    for x in arrays_and_dtypes:
        if isinstance(x, (builtins.bool, int, float, complex)):
            scalars.append(x)
        elif hasattr(x, "dtype") and not isinstance(x, type):
            dtypes.append(as_dtype(x.dtype))
        else:
            dtypes.append(as_dtype(x))
    if not dtypes:  # a ValueError, as array-api-strict's and jax.numpy's (SciPy catches it)
        raise ValueError("result_type needs at least one array or dtype")
    out = dtypes[0]
    for d in dtypes[1:]:
        out = promote_types(out, d)
    for s in scalars:
        out = _scalar_result(out, s)
    return out


def check_scalar_fits(scalar: Any, dtype: np.dtype, argname: str) -> None:
    """OverflowError (as numpy raises it) when an int scalar does not fit an integer dtype."""
    if isinstance(scalar, int) and not isinstance(scalar, builtins.bool) and is_integer(dtype):
        info = np.iinfo(dtype)
        if not info.min <= scalar <= info.max:
            raise OverflowError(f"{argname}: Python integer {scalar} out of bounds for {dtype}")


def cast_scalar(scalar: Any, dtype: np.dtype, argname: str) -> Any:
    """``scalar`` cast to ``dtype``'s kind as numpy does when storing it (``a[i] = 1.9`` stores 1
    into an integer array); TypeError for complex into a real dtype, ValueError/OverflowError where
    the value has no integer (NaN, infinities, out of range)."""
    if isinstance(scalar, complex) and not is_complex(dtype):
        raise TypeError(f"{argname}: cannot cast complex {scalar!r} to {dtype}")
    if isinstance(scalar, float) and dtype == bool:
        return builtins.bool(scalar)
    if isinstance(scalar, float) and is_integer(dtype):
        if scalar != scalar:
            raise ValueError(f"{argname}: cannot cast NaN to {dtype}")
        if scalar in (float("inf"), float("-inf")):
            raise OverflowError(f"{argname}: cannot cast {scalar} to {dtype}")
        scalar = int(scalar)
    check_scalar_fits(scalar, dtype, argname)
    return scalar


def can_cast(from_: Any, to: Any, /) -> builtins.bool:
    """Whether ``from_`` casts to ``to`` without leaving the promotion lattice (``promote(from_, to) == to``)."""
    src = as_dtype(from_.dtype if hasattr(from_, "dtype") and not isinstance(from_, np.dtype) else from_, "from_")
    dst = as_dtype(to, "to")
    return _PROMOTE.get((src, dst)) == dst


class _FInfo:
    __slots__ = ("bits", "eps", "max", "min", "smallest_normal", "dtype")
    bits: int
    eps: float
    max: float
    min: float
    smallest_normal: float
    dtype: np.dtype

    def __repr__(self) -> str:
        return f"finfo(dtype={self.dtype}, bits={self.bits}, eps={self.eps}, max={self.max})"


class _IInfo:
    __slots__ = ("bits", "max", "min", "dtype")
    bits: int
    max: int
    min: int
    dtype: np.dtype

    def __repr__(self) -> str:
        return f"iinfo(dtype={self.dtype}, bits={self.bits}, min={self.min}, max={self.max})"


def _dtype_of(type: Any) -> np.dtype:
    return as_dtype(type.dtype if hasattr(type, "dtype") and not isinstance(type, np.dtype) else type, "type")


def finfo(type: Any, /) -> _FInfo:
    """Machine limits of a floating dtype (for complex: of its real component)."""
    dtype = real_dtype(_dtype_of(type))
    if not is_float(dtype):
        raise TypeError(f"finfo needs a floating-point dtype, got {dtype}")
    src = ml_dtypes.finfo(dtype) if dtype == bfloat16 else np.finfo(dtype)
    out = _FInfo()
    out.bits, out.eps, out.max, out.min = int(src.bits), float(src.eps), float(src.max), float(src.min)
    out.smallest_normal, out.dtype = float(src.smallest_normal), dtype
    return out


def iinfo(type: Any, /) -> _IInfo:
    """Machine limits of an integer dtype."""
    dtype = _dtype_of(type)
    if not is_integer(dtype):
        raise TypeError(f"iinfo needs an integer dtype, got {dtype}")
    src = np.iinfo(dtype)
    out = _IInfo()
    out.bits, out.max, out.min, out.dtype = int(src.bits), int(src.max), int(src.min), dtype
    return out


_KIND_TESTS = {
    "bool": is_bool,
    "signed integer": lambda d: d in _SIGNED,
    "unsigned integer": lambda d: d in _UNSIGNED,
    "integral": is_integer,
    "real floating": is_float,
    "complex floating": is_complex,
    "numeric": lambda d: d != bool,
}


_isdtype_cache: dict[tuple[np.dtype, Any], builtins.bool] = {}


def isdtype(dtype: Any, kind: Any) -> builtins.bool:
    """Whether ``dtype`` is of ``kind`` (a dtype, a kind name, or a tuple of those)."""
    try:
        return _isdtype_cache[dtype, kind]  # every operation asks this; answer from memory
    except (KeyError, TypeError):
        pass
    result = _isdtype(dtype, kind)
    if len(_isdtype_cache) < 4096:
        _isdtype_cache[dtype, kind] = result
    return result


def _isdtype(dtype: Any, kind: Any) -> builtins.bool:
    if not isinstance(dtype, np.dtype):
        raise TypeError(f"dtype must be a dtype, got {type(dtype).__name__}")
    if isinstance(kind, tuple):
        return any(_isdtype(dtype, k) for k in kind)
    if isinstance(kind, str):
        test = _KIND_TESTS.get(kind)
        if test is None:
            raise ValueError(f"unknown dtype kind {kind!r}; expected one of {sorted(_KIND_TESTS)}")
        return test(dtype)
    if isinstance(kind, np.dtype):
        return dtype == kind
    raise TypeError(f"kind must be a dtype, a kind name or a tuple of those, got {kind!r}")
