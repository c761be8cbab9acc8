"""Lowering helpers shared by the rules, written in builder ops: one home for each.

numpy-style broadcasting, splat constants shaped like a value, the truth
value and NaN test of a value, the complex conjugate, slices along one axis
and the band (triangle/diagonal) mask of the last two axes.
"""

from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np

from ._builder import Builder, Value

__all__ = ["broadcast_shapes", "broadcast", "clamp_diagonal", "const_like", "truth", "is_nan", "conj",
           "slice_axis", "band_mask"]

_BOOL = np.dtype(bool)
_INDEX = np.dtype("int64")


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """The broadcast of ``shapes`` (numpy rules); ValueError if incompatible."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(-ndim, 0):
        size = 1
        for s in shapes:
            d = s[i] if -i <= len(s) else 1
            if d != 1:
                if size not in (1, d):
                    raise ValueError(f"shapes {' and '.join(str(tuple(s)) for s in shapes)} cannot be broadcast together")
                size = d
        out.append(size)
    return tuple(out)


def clamp_diagonal(k: Any, rows: int, cols: int) -> int:
    """Diagonal offset ``k`` limited to [-rows - 1, cols + 1]: beyond that every diagonal lies
    outside the matrix (and a huge Python int would not fit the program's int64 constant)."""
    return max(-rows - 1, min(cols + 1, operator.index(k)))


def broadcast(b: Builder, v: Value, shape: Sequence[int]) -> Value:
    """``v`` broadcast to ``shape`` with numpy's rules (trailing axes aligned, size-1 axes stretched)."""
    shape = tuple(shape)
    return b.broadcast_in_dim(v, shape, range(len(shape) - v.ndim, len(shape)))


def const_like(b: Builder, value: object, like: Value) -> Value:
    """``value`` splat to the shape and dtype of ``like``."""
    return b.constant(value, like.dtype, like.shape)


def truth(b: Builder, x: Value) -> Value:
    """``x != 0`` as booleans (``x`` itself when boolean)."""
    return x if x.dtype == _BOOL else b.compare(x, const_like(b, 0, x), "NE")


def is_nan(b: Builder, x: Value) -> Value:
    """``x != x``: true at NaN (any part NaN for complex)."""
    return b.compare(x, x, "NE")


def conj(b: Builder, x: Value) -> Value:
    """Complex conjugate (``x`` itself for real dtypes)."""
    if x.dtype.kind != "c":
        return x
    return b.complex(b.real(x), b.negate(b.imag(x)))


def slice_axis(b: Builder, x: Value, axis: int, start: int, stop: int) -> Value:
    """``x[..., start:stop, ...]`` along ``axis``."""
    starts, limits = [0] * x.ndim, list(x.shape)
    starts[axis], limits[axis] = start, stop
    return b.slice(x, starts, limits)


def band_mask(b: Builder, shape: Sequence[int], lo: int | None, hi: int | None) -> Value:
    """True where ``lo <= col - row <= hi`` on the last two axes of ``shape`` (None: unbounded)."""
    shape = tuple(shape)
    rows, cols = b.iota(shape, len(shape) - 2, _INDEX), b.iota(shape, len(shape) - 1, _INDEX)
    diff = b.subtract(cols, rows)
    tests = [b.compare(diff, b.constant(bound, _INDEX, shape), direction)
             for bound, direction in ((lo, "GE"), (hi, "LE")) if bound is not None]
    if not tests:
        return b.constant(True, _BOOL, shape)
    return tests[0] if len(tests) == 1 else b.and_(*tests)
