"""Element-wise functions of the Array API: validation, promotion, lowering rules.

Binary functions promote their operands (Python scalars are weak), and the
rule converts and broadcasts inside the program, so a mixed-dtype or
broadcasting call is still one executable and one dispatch.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import _dtypes
from .._array import Array
from .._dispatch import run
from ._builder import Builder, Value, tensor_type
from ._lower import broadcast, broadcast_shapes, convert
from ._operands import binary_operands, check_array

__all__ = ["add", "subtract", "multiply", "divide", "negative", "positive", "sin", "equal", "not_equal",
           "less", "less_equal", "greater", "greater_equal"]

# -- rule factories ------------------------------------------------------------------------


def _unary_rule(op: str) -> Callable[..., Value]:
    def rule(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
        x = convert(b, x, dtype)
        return b.op(f"stablehlo.{op} {x.name} : {x.type}", x.shape, dtype)
    rule.__name__ = f"unary_{op}"
    return rule


def _binary_rule(op: str) -> Callable[..., Value]:
    def rule(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
        shape = broadcast_shapes(x.shape, y.shape)
        x = broadcast(b, convert(b, x, dtype), shape)
        y = broadcast(b, convert(b, y, dtype), shape)
        return b.op(f"stablehlo.{op} {x.name}, {y.name} : {tensor_type(shape, dtype)}", shape, dtype)
    rule.__name__ = f"binary_{op}"
    return rule


def _compare_rule(direction: str) -> Callable[..., Value]:
    def rule(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
        shape = broadcast_shapes(x.shape, y.shape)
        x = broadcast(b, convert(b, x, dtype), shape)
        y = broadcast(b, convert(b, y, dtype), shape)
        return b.op(f"stablehlo.compare {direction}, {x.name}, {y.name} : "
                    f"({x.type}, {y.type}) -> {tensor_type(shape, np.dtype(bool))}", shape, np.dtype(bool))
    rule.__name__ = f"compare_{direction}"
    return rule


# -- dispatch helpers ----------------------------------------------------------------------

def _unary(rule: Callable[..., Value], x: Any, kinds: str, name: str) -> Array:
    x = check_array(x)
    if not _dtypes.isdtype(x.dtype, kinds):
        raise TypeError(f"{name}: unsupported dtype {x.dtype} (expected {kinds})")
    return run(rule, (("dtype", x.dtype),), (x,), x._device)[0]


def _binary(rule: Callable[..., Value], x1: Any, x2: Any, kinds: str, name: str) -> Array:
    a, b, dtype = binary_operands(x1, x2)
    if not _dtypes.isdtype(dtype, kinds):
        raise TypeError(f"{name}: unsupported dtype {dtype} (expected {kinds})")
    return run(rule, (("dtype", dtype),), (a, b), a._device)[0]


_ADD, _SUB, _MUL, _DIV = (_binary_rule(o) for o in ("add", "subtract", "multiply", "divide"))
_NEG, _SIN = _unary_rule("negate"), _unary_rule("sine")
_EQ, _NE, _LT, _LE, _GT, _GE = (_compare_rule(d) for d in ("EQ", "NE", "LT", "LE", "GT", "GE"))


def add(x1: Any, x2: Any, /) -> Array:
    """Element-wise sum ``x1 + x2``."""
    return _binary(_ADD, x1, x2, "numeric", "add")


def subtract(x1: Any, x2: Any, /) -> Array:
    """Element-wise difference ``x1 - x2``."""
    return _binary(_SUB, x1, x2, "numeric", "subtract")


def multiply(x1: Any, x2: Any, /) -> Array:
    """Element-wise product ``x1 * x2``."""
    return _binary(_MUL, x1, x2, "numeric", "multiply")


def divide(x1: Any, x2: Any, /) -> Array:
    """Element-wise true division ``x1 / x2`` (integers divide as the default float)."""
    a, b, dtype = binary_operands(x1, x2)
    if not _dtypes.isdtype(dtype, ("real floating", "complex floating")):
        dtype = _dtypes.DEFAULT_FLOAT
    return run(_DIV, (("dtype", dtype),), (a, b), a._device)[0]


def negative(x: Any, /) -> Array:
    """Element-wise ``-x``."""
    return _unary(_NEG, x, "numeric", "negative")


def positive(x: Any, /) -> Array:
    """Element-wise ``+x`` (the array itself)."""
    x = check_array(x)
    if not _dtypes.isdtype(x.dtype, "numeric"):
        raise TypeError(f"positive: unsupported dtype {x.dtype}")
    return x


def sin(x: Any, /) -> Array:
    """Element-wise sine."""
    return _unary(_SIN, x, ("real floating", "complex floating"), "sin")


def _compare(rule: Callable[..., Value], x1: Any, x2: Any) -> Array:
    a, b, dtype = binary_operands(x1, x2)
    return run(rule, (("dtype", dtype),), (a, b), a._device)[0]


def equal(x1: Any, x2: Any, /) -> Array:
    """Element-wise ``x1 == x2``."""
    return _compare(_EQ, x1, x2)


def not_equal(x1: Any, x2: Any, /) -> Array:
    """Element-wise ``x1 != x2``."""
    return _compare(_NE, x1, x2)


def less(x1: Any, x2: Any, /) -> Array:
    """Element-wise ``x1 < x2``."""
    return _compare(_LT, x1, x2)


def less_equal(x1: Any, x2: Any, /) -> Array:
    """Element-wise ``x1 <= x2``."""
    return _compare(_LE, x1, x2)


def greater(x1: Any, x2: Any, /) -> Array:
    """Element-wise ``x1 > x2``."""
    return _compare(_GT, x1, x2)


def greater_equal(x1: Any, x2: Any, /) -> Array:
    """Element-wise ``x1 >= x2``."""
    return _compare(_GE, x1, x2)
