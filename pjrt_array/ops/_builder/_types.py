"""Values, MLIR type spelling, literals and dtype classes for the builder."""

from __future__ import annotations

import functools
import math
from typing import Sequence

import ml_dtypes
import numpy as np

__all__ = ["Value", "Aval", "LoweringError", "element_type", "tensor_type", "literal", "kind_of", "dims_text",
           "i64_text", "REAL_OF", "COMPLEX_OF"]

Aval = tuple[tuple[int, ...], np.dtype]

_ELEMENT_BY_NAME = {
    "bool": "i1", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
    "uint8": "ui8", "uint16": "ui16", "uint32": "ui32", "uint64": "ui64",
    "float16": "f16", "bfloat16": "bf16", "float32": "f32", "float64": "f64",
    "complex64": "complex<f32>", "complex128": "complex<f64>",
}

# One letter per dtype class: b(ool), i(signed), u(nsigned), f(loat), c(omplex).
_KIND_BY_NAME = {
    "bool": "b", "int8": "i", "int16": "i", "int32": "i", "int64": "i",
    "uint8": "u", "uint16": "u", "uint32": "u", "uint64": "u",
    "float16": "f", "bfloat16": "f", "float32": "f", "float64": "f", "complex64": "c", "complex128": "c",
}


# Keyed by dtype objects: numpy computes ``dtype.name`` anew on every access, which is slow.
_DTYPES = {name: np.dtype(ml_dtypes.bfloat16) if name == "bfloat16" else np.dtype(name) for name in _KIND_BY_NAME}
_ELEMENT = {_DTYPES[n]: t for n, t in _ELEMENT_BY_NAME.items()}
_KIND = {_DTYPES[n]: k for n, k in _KIND_BY_NAME.items()}
REAL_OF = {_DTYPES["complex64"]: _DTYPES["float32"], _DTYPES["complex128"]: _DTYPES["float64"]}
COMPLEX_OF = {real: c for c, real in REAL_OF.items()}


class LoweringError(TypeError):
    """A malformed StableHLO op, caught while a rule is lowered (the message names the rule)."""


def kind_of(dtype: np.dtype) -> str:
    """``b``, ``i``, ``u``, ``f`` or ``c`` (bfloat16 is ``f``); ``?`` for anything unsupported."""
    return _KIND.get(dtype, "?")


def element_type(dtype: np.dtype) -> str:
    """The MLIR element type of a dtype, e.g. ``f32``."""
    return _ELEMENT[dtype]


def tensor_type(shape: Sequence[int], dtype: np.dtype) -> str:
    """``tensor<2x3xf32>`` for shape (2, 3) and float32."""
    return _tensor_type(tuple(shape), dtype)


@functools.lru_cache(maxsize=4096)
def _tensor_type(shape: tuple[int, ...], dtype: np.dtype) -> str:
    return "tensor<" + "".join(f"{d}x" for d in shape) + _ELEMENT[dtype] + ">"


class Value:
    """An SSA value in a program being built: name, shape and dtype."""

    __slots__ = ("name", "shape", "dtype")

    def __init__(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.name = name
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)

    @property
    def type(self) -> str:
        return tensor_type(self.shape, self.dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def aval(self) -> Aval:
        return self.shape, self.dtype

    def __repr__(self) -> str:
        return f"Value({self.name}: {self.type})"


def _scalar_literal(value: object, dtype: np.dtype) -> str:
    kind = kind_of(dtype)
    if kind == "b":
        return "true" if value else "false"
    if kind == "c":
        c, part = complex(value), REAL_OF[dtype]  # type: ignore[call-overload]
        return f"({_scalar_literal(c.real, part)}, {_scalar_literal(c.imag, part)})"
    if kind == "f":
        with np.errstate(over="ignore"):  # rounded to the dtype as an upload would (1e300 -> inf in float32)
            f = float(np.asarray(float(value)).astype(dtype))  # type: ignore[arg-type]
        if not math.isfinite(f):
            # Non-finite floats are written as their bit pattern.
            bits = np.array(f, dtype=dtype).view(f"u{dtype.itemsize}")
            return f"0x{int(bits):0{dtype.itemsize * 2}X}"
        text = repr(f)
        # MLIR float literals need a '.' before an exponent: 5e-324 -> 5.0e-324.
        return text.replace("e", ".0e") if "." not in text and "e" in text else text
    return str(int(value))  # type: ignore[call-overload]


def literal(value: object, dtype: np.dtype) -> str:
    """The ``dense<...>`` body for a scalar (splat) or a numpy array of ``dtype``."""
    if isinstance(value, np.ndarray) and value.ndim:
        def nested(a: np.ndarray) -> str:
            if a.ndim == 1:
                return "[" + ", ".join(_scalar_literal(v, dtype) for v in a.tolist()) + "]"
            return "[" + ", ".join(nested(s) for s in a) + "]"
        return nested(value)
    if isinstance(value, np.ndarray):
        value = value.item()
    return _scalar_literal(value, dtype)


def dims_text(dims: Sequence[int]) -> str:
    """``[0, 2]`` (the pretty-printed dimension list form)."""
    return "[" + ", ".join(str(int(d)) for d in dims) + "]"


def i64_text(values: Sequence[int]) -> str:
    """``array<i64: 1, 2>`` (the attribute form of generic ops)."""
    return "array<i64" + (": " + ", ".join(str(int(v)) for v in values) if len(values) else "") + ">"
