"""Searching: argmax, argmin, count_nonzero, nonzero, searchsorted, where."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _dtypes
from .._array import Array
from .._dispatch import run, run_elementwise
from .._tracing import refuse_traced
from ._axes import normalize_axes, normalize_axis
from ._builder import Builder, Value
from ._lower import broadcast, broadcast_shapes, is_nan, slice_axis, truth
from ._operands import binary_operands, check_array, on_one_device, scalar_array
from ._order import equal, flag_op, less
from ._reduce import reduce
from .indexing import take_rows
from .sorting import first_positions

__all__ = ["argmax", "argmin", "count_nonzero", "nonzero", "searchsorted", "where"]

_INDEX = np.dtype("int64")
_BOOL = np.dtype(bool)


def _arg_better(r: Builder, va: Value, vb: Value, largest: bool) -> Value:
    """Whether value ``va`` beats ``vb`` for argmax/argmin; NaN beats everything (as numpy)."""
    if largest:
        return less(r, vb, va)  # the total order puts NaN last, i.e. largest
    lt = less(r, va, vb)
    if not _dtypes.isdtype(va.dtype, ("real floating", "complex floating")):
        return lt
    nan_a, nan_b = is_nan(r, va), is_nan(r, vb)
    not_b = flag_op(r, "not", nan_b)
    return flag_op(r, "or", flag_op(r, "and", nan_a, not_b),
                   flag_op(r, "and", flag_op(r, "not", nan_a), not_b, lt))


def _arg_rule(b: Builder, x: Value, *, axis: int | None, keepdims: bool, largest: bool) -> Value:
    kept = (1,) * x.ndim if axis is None else tuple(1 if i == axis else d for i, d in enumerate(x.shape))
    if axis is None:
        x = b.reshape(x, (int(np.prod(x.shape)),))
        axis = 0
    iota = b.iota(x.shape, axis, _INDEX)
    init_v, init_i = b.constant(0, x.dtype), b.constant(-1, _INDEX)

    def body(r: Builder, a: list[Value]) -> list[Value]:
        va, ia, vb, ib = a
        neg = r.constant(-1, _INDEX)
        a_unset, b_unset = r.compare(ia, neg, "EQ"), r.compare(ib, neg, "EQ")
        wins = flag_op(r, "or", _arg_better(r, va, vb, largest),
                       flag_op(r, "and", equal(r, va, vb), r.compare(ia, ib, "LT")))
        # The initial element (index -1) never wins against a real one.
        pick = flag_op(r, "or", b_unset, flag_op(r, "and", flag_op(r, "not", a_unset), wins))
        return [r.select(pick, va, vb), r.select(pick, ia, ib)]

    _, idx = b.reduce([x, iota], [init_v, init_i], [axis], body)
    return b.reshape(idx, kept) if keepdims else idx


def _arg(x: Any, axis: Any, keepdims: bool, largest: bool, name: str) -> Array:
    x = check_array(x)
    if not _dtypes.isdtype(x.dtype, ("bool", "integral", "real floating")):
        raise TypeError(f"{name}: unsupported dtype {x.dtype}")
    if axis is not None:
        axis = normalize_axis(axis, x.ndim)
    if x.size == 0 or (axis is not None and x.shape[axis] == 0):
        raise ValueError(f"{name} of an empty sequence")
    params = (("axis", axis), ("keepdims", bool(keepdims)), ("largest", largest))
    return run(_arg_rule, params, (x,), x._device)[0]


def argmax(x: Any, /, *, axis: int | None = None, keepdims: bool = False) -> Array:
    """Index of the first maximum along ``axis`` (flattened when None)."""
    return _arg(x, axis, keepdims, True, "argmax")


def argmin(x: Any, /, *, axis: int | None = None, keepdims: bool = False) -> Array:
    """Index of the first minimum along ``axis`` (flattened when None)."""
    return _arg(x, axis, keepdims, False, "argmin")


def _count_rule(b: Builder, x: Value, *, axes: tuple[int, ...], keepdims: bool) -> Value:
    return reduce(b, b.convert(truth(b, x), _INDEX), axes, "add", keepdims)


def count_nonzero(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Array:
    """Number of nonzero elements along ``axis`` (default integer dtype)."""
    x = check_array(x)
    axes = normalize_axes(axis, x.ndim)
    return run(_count_rule, (("axes", axes), ("keepdims", bool(keepdims))), (x,), x._device)[0]


def _nonzero_rule(b: Builder, x: Value, *, count: int) -> tuple[Value, ...]:
    n = int(np.prod(x.shape))
    first = slice_axis(b, first_positions(b, truth(b, b.reshape(x, (n,)))), 0, 0, count)
    outs, stride = [], n
    for d in x.shape:
        stride //= d if d else 1
        q = b.divide(first, b.constant(stride, _INDEX, (count,)))
        outs.append(b.remainder(q, b.constant(d, _INDEX, (count,))))
    return tuple(outs)


def nonzero(x: Any, /) -> tuple[Array, ...]:
    """Indices of the nonzero elements, one index array per dimension (row-major order)."""
    x = check_array(x)
    if x.ndim == 0:
        raise ValueError("nonzero needs an array of at least one dimension")
    refuse_traced("nonzero", "the number of indices depends on the values", x)
    count = int(count_nonzero(x))  # the output shape depends on the data
    if x.size == 0:
        from .creation import zeros
        return tuple(zeros((0,), dtype=_INDEX, device=x._device) for _ in range(x.ndim))
    return tuple(run(_nonzero_rule, (("count", count),), (x,), x._device))


def _searchsorted_rule(b: Builder, sorted_: Value, v: Value, *, side: str, dtype: np.dtype) -> Value:
    """Bisection, vectorized over ``v``: ceil(log2(n + 1)) unrolled steps of a gather and a compare
    (comparing every ``v`` with every element was O(n m): 5 s for 10^4 into 3 * 10^4)."""
    sorted_, v = b.convert(sorted_, dtype), b.convert(v, dtype)
    n = sorted_.shape[0]
    lo = b.constant(0, _INDEX, v.shape)
    hi = b.constant(n, _INDEX, v.shape)
    if n == 0:
        return lo
    one, last = b.constant(1, _INDEX, v.shape), b.constant(n - 1, _INDEX, v.shape)
    for _ in range(n.bit_length()):  # each step halves hi - lo (at most n) until it is 0
        mid = b.shift_right_logical(b.add(lo, hi), one)
        x = take_rows(b, sorted_, b.minimum(mid, last))  # mid == n only once lo == hi == n
        # left: the answer is after mid while sorted[mid] < v; right: while sorted[mid] <= v
        after = less(b, x, v) if side == "left" else flag_op(b, "not", less(b, v, x))
        active = b.compare(lo, hi, "LT")
        lo = b.select(flag_op(b, "and", active, after), b.add(mid, one), lo)
        hi = b.select(flag_op(b, "and", active, flag_op(b, "not", after)), mid, hi)
    return lo


def searchsorted(x1: Any, x2: Any, /, *, side: str = "left", sorter: Any = None) -> Array:
    """Insertion indices of ``x2`` into the sorted 1-D ``x1`` (NaNs sort last)."""
    x1 = check_array(x1, "x1")
    if x1.ndim != 1:
        raise ValueError(f"x1 must be 1-D, got shape {x1.shape}")
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    if sorter is not None:
        from .indexing import take
        x1 = take(x1, check_array(sorter, "sorter"))
    if isinstance(x2, (int, float, complex)) and not isinstance(x2, bool):
        x2 = scalar_array(x2, _dtypes.result_type(x1.dtype, x2), x1._device)
    x2 = check_array(x2, "x2")
    device, (x1, x2) = on_one_device(x1, x2)
    dtype = _dtypes.promote_types(x1.dtype, x2.dtype)
    return run(_searchsorted_rule, (("side", side), ("dtype", dtype)), (x1, x2), device)[0]


def _where_rule(b: Builder, c: Value, x: Value, y: Value, *, dtype: np.dtype) -> Value:
    shape = broadcast_shapes(c.shape, x.shape, y.shape)
    c = broadcast(b, c, shape)
    return b.select(c, broadcast(b, b.convert(x, dtype), shape), broadcast(b, b.convert(y, dtype), shape))


def where(condition: Any, x1: Any, x2: Any, /) -> Array:
    """Elements of ``x1`` where ``condition`` is true, else of ``x2`` (scalars allowed)."""
    condition = check_array(condition, "condition")
    if condition.dtype != _BOOL:
        raise TypeError(f"condition must be a boolean array, got {condition.dtype}")
    if not isinstance(x1, Array) and not isinstance(x2, Array):
        # Two scalars: the first takes its Python type's default dtype.
        if not isinstance(x1, (bool, int, float, complex)):
            raise TypeError(f"x1 must be an array or a Python scalar, got {type(x1).__name__}")
        x1 = scalar_array(x1, _dtypes.default_dtype_of(x1), condition._device)
    a, c, dtype, _ = binary_operands(x1, x2)
    device, (condition, a, c) = on_one_device(condition, a, c)
    return run_elementwise(_where_rule, (("dtype", dtype),), (condition, a, c), device)
