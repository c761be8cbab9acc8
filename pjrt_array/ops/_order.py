"""The total order used by sort, argsort, argmax/argmin and searchsorted.

Real values compare as numbers with NaN after everything (numpy's order);
complex values compare lexicographically by (real, imaginary), each part
with NaN last; booleans compare as integers.
"""

from __future__ import annotations

import numpy as np

from .. import _dtypes
from ._builder import Builder, Value, tensor_type

__all__ = ["less", "equal", "flag_op"]

_BOOL = np.dtype(bool)


def _cmp(b: Builder, direction: str, x: Value, y: Value) -> Value:
    ctype = "UNSIGNED" if x.dtype == _BOOL or x.dtype.kind == "u" else (
        "SIGNED" if x.dtype.kind == "i" else "FLOAT")
    return b.op(f"stablehlo.compare {direction}, {x.name}, {y.name}, {ctype} : ({x.type}, {y.type}) -> "
                f"{tensor_type(x.shape, _BOOL)}", x.shape, _BOOL)


def flag_op(b: Builder, op: str, *flags: Value) -> Value:
    """``and``/``or`` of boolean values, or ``not`` of one."""
    if op == "not":
        (f,) = flags
        return b.op(f"stablehlo.not {f.name} : {f.type}", f.shape, _BOOL)
    out = flags[0]
    for f in flags[1:]:
        out = b.op(f"stablehlo.{op} {out.name}, {f.name} : {f.type}", f.shape, _BOOL)
    return out


def _parts(b: Builder, x: Value) -> list[Value]:
    if not _dtypes.is_complex(x.dtype):
        return [x]
    real = _dtypes.real_dtype(x.dtype)
    rtype = tensor_type(x.shape, real)
    return [b.op(f"stablehlo.{p} {x.name} : ({x.type}) -> {rtype}", x.shape, real) for p in ("real", "imag")]


def _less_real(b: Builder, x: Value, y: Value) -> Value:
    lt = _cmp(b, "LT", x, y)
    if not _dtypes.is_float(x.dtype):
        return lt
    x_num = _cmp(b, "EQ", x, x)
    y_nan = _cmp(b, "NE", y, y)
    return flag_op(b, "or", lt, flag_op(b, "and", x_num, y_nan))


def _equal_real(b: Builder, x: Value, y: Value) -> Value:
    eq = _cmp(b, "EQ", x, y)
    if not _dtypes.is_float(x.dtype):
        return eq
    both_nan = flag_op(b, "and", _cmp(b, "NE", x, x), _cmp(b, "NE", y, y))
    return flag_op(b, "or", eq, both_nan)


def less(b: Builder, x: Value, y: Value) -> Value:
    """``x`` before ``y`` in the total order."""
    xs, ys = _parts(b, x), _parts(b, y)
    if len(xs) == 1:
        return _less_real(b, x, y)
    re_lt = _less_real(b, xs[0], ys[0])
    re_eq = _equal_real(b, xs[0], ys[0])
    return flag_op(b, "or", re_lt, flag_op(b, "and", re_eq, _less_real(b, xs[1], ys[1])))


def equal(b: Builder, x: Value, y: Value) -> Value:
    """``x`` and ``y`` at the same place in the total order (NaN equals NaN)."""
    xs, ys = _parts(b, x), _parts(b, y)
    return flag_op(b, "and", *[_equal_real(b, p, q) for p, q in zip(xs, ys)])
