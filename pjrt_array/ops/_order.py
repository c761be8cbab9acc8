"""The total order used by sort, argsort, argmax/argmin and searchsorted.

Real values compare as numbers with NaN after everything (numpy's order);
complex values compare lexicographically by (real, imaginary), each part
with NaN last; booleans compare as integers.
"""

from __future__ import annotations

from .. import _dtypes
from ._builder import Builder, Value

__all__ = ["less", "equal", "flag_op"]


def flag_op(b: Builder, op: str, *flags: Value) -> Value:
    """``and``/``or`` of boolean values, or ``not`` of one."""
    if op == "not":
        (f,) = flags
        return b.not_(f)
    out = flags[0]
    for f in flags[1:]:
        out = b.binary(op, out, f)
    return out


def _parts(b: Builder, x: Value) -> list[Value]:
    return [b.real(x), b.imag(x)] if _dtypes.is_complex(x.dtype) else [x]


def _less_real(b: Builder, x: Value, y: Value) -> Value:
    lt = b.compare(x, y, "LT")
    if not _dtypes.is_float(x.dtype):
        return lt
    x_num = b.compare(x, x, "EQ")
    y_nan = b.compare(y, y, "NE")
    return flag_op(b, "or", lt, flag_op(b, "and", x_num, y_nan))


def _equal_real(b: Builder, x: Value, y: Value) -> Value:
    eq = b.compare(x, y, "EQ")
    if not _dtypes.is_float(x.dtype):
        return eq
    both_nan = flag_op(b, "and", b.compare(x, x, "NE"), b.compare(y, y, "NE"))
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
