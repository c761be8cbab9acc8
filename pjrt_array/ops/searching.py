"""Searching: argmax, argmin, count_nonzero, nonzero, searchsorted, where."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _dtypes
from .._array import Array
from .._dispatch import run, run_elementwise
from ._axes import normalize_axes, normalize_axis
from ._builder import Builder, Value, tensor_type
from ._lower import broadcast, broadcast_shapes, constant, convert, i64_array
from ._operands import binary_operands, check_array, same_device, scalar_array
from ._order import equal, flag_op, less
from ._reduce import reduce
from .sorting import sort_values

__all__ = ["argmax", "argmin", "count_nonzero", "nonzero", "searchsorted", "where"]

_INDEX = np.dtype("int64")
_BOOL = np.dtype(bool)


def _nonzero_mask(b: Builder, x: Value) -> Value:
    if x.dtype == _BOOL:
        return x
    zero = constant(b, 0, x.dtype, x.shape)
    return b.op(f"stablehlo.compare NE, {x.name}, {zero.name} : ({x.type}, {x.type}) -> "
                f"{tensor_type(x.shape, _BOOL)}", x.shape, _BOOL)


def _is_nan(b: Builder, v: Value) -> Value | None:
    if not _dtypes.isdtype(v.dtype, ("real floating", "complex floating")):
        return None
    return b.op(f"stablehlo.compare NE, {v.name}, {v.name} : ({v.type}, {v.type}) -> "
                f"{tensor_type(v.shape, _BOOL)}", v.shape, _BOOL)


def _arg_better(r: Builder, va: Value, vb: Value, largest: bool) -> Value:
    """Whether value ``va`` beats ``vb`` for argmax/argmin; NaN beats everything (as numpy)."""
    if largest:
        return less(r, vb, va)  # the total order puts NaN last, i.e. largest
    nan_a, nan_b = _is_nan(r, va), _is_nan(r, vb)
    lt = less(r, va, vb)
    if nan_a is None:
        return lt
    not_b = flag_op(r, "not", nan_b)
    return flag_op(r, "or", flag_op(r, "and", nan_a, not_b),
                   flag_op(r, "and", flag_op(r, "not", nan_a), not_b, lt))


def _arg_rule(b: Builder, x: Value, *, axis: int | None, keepdims: bool, largest: bool) -> Value:
    kept = (1,) * x.ndim if axis is None else tuple(1 if i == axis else d for i, d in enumerate(x.shape))
    if axis is None:
        flat = (int(np.prod(x.shape)),)
        x = b.op(f"stablehlo.reshape {x.name} : ({x.type}) -> {tensor_type(flat, x.dtype)}", flat, x.dtype)
        axis = 0
    iota = b.op(f"stablehlo.iota dim = {axis} : {tensor_type(x.shape, _INDEX)}", x.shape, _INDEX)
    init_v, init_i = constant(b, 0, x.dtype), constant(b, -1, _INDEX)

    def body(r: Builder, a: list[Value]) -> list[Value]:
        va, ia, vb, ib = a
        neg = constant(r, -1, _INDEX)
        a_unset = r.op(f"stablehlo.compare EQ, {ia.name}, {neg.name} : ({ia.type}, {neg.type}) -> tensor<i1>",
                       (), _BOOL)
        b_unset = r.op(f"stablehlo.compare EQ, {ib.name}, {neg.name} : ({ib.type}, {neg.type}) -> tensor<i1>",
                       (), _BOOL)
        lower = r.op(f"stablehlo.compare LT, {ia.name}, {ib.name} : ({ia.type}, {ib.type}) -> tensor<i1>",
                     (), _BOOL)
        wins = flag_op(r, "or", _arg_better(r, va, vb, largest),
                       flag_op(r, "and", equal(r, va, vb), lower))
        # The initial element (index -1) never wins against a real one.
        pick = flag_op(r, "or", b_unset, flag_op(r, "and", flag_op(r, "not", a_unset), wins))
        v = r.op(f"stablehlo.select {pick.name}, {va.name}, {vb.name} : tensor<i1>, {va.type}", (), va.dtype)
        i = r.op(f"stablehlo.select {pick.name}, {ia.name}, {ib.name} : tensor<i1>, {ia.type}", (), _INDEX)
        return [v, i]

    region = b.region([((), x.dtype), ((), _INDEX), ((), x.dtype), ((), _INDEX)], body)
    shape = tuple(d for i, d in enumerate(x.shape) if i != axis)
    _, idx = b.ops(f'"stablehlo.reduce"({x.name}, {iota.name}, {init_v.name}, {init_i.name}) {region} '
                   f"{{dimensions = {i64_array([axis])}}} : ({x.type}, {iota.type}, {init_v.type}, {init_i.type}) "
                   f"-> ({tensor_type(shape, x.dtype)}, {tensor_type(shape, _INDEX)})",
                   [(shape, x.dtype), (shape, _INDEX)])
    if keepdims:
        idx = b.op(f"stablehlo.reshape {idx.name} : ({idx.type}) -> {tensor_type(kept, _INDEX)}", kept, _INDEX)
    return idx


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
    return reduce(b, convert(b, _nonzero_mask(b, x), _INDEX), axes, "add", keepdims)


def count_nonzero(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Array:
    """Number of nonzero elements along ``axis`` (default integer dtype)."""
    x = check_array(x)
    axes = normalize_axes(axis, x.ndim)
    return run(_count_rule, (("axes", axes), ("keepdims", bool(keepdims))), (x,), x._device)[0]


def _nonzero_rule(b: Builder, x: Value, *, count: int) -> tuple[Value, ...]:
    n = int(np.prod(x.shape))
    flat_mask = _nonzero_mask(b, b.op(f"stablehlo.reshape {x.name} : ({x.type}) -> "
                                      f"{tensor_type((n,), x.dtype)}", (n,), x.dtype))
    iota = b.op(f"stablehlo.iota dim = 0 : {tensor_type((n,), _INDEX)}", (n,), _INDEX)
    big = constant(b, n, _INDEX, (n,))
    keys = b.op(f"stablehlo.select {flat_mask.name}, {iota.name}, {big.name} : "
                f"{tensor_type((n,), _BOOL)}, {iota.type}", (n,), _INDEX)
    ordered = sort_values(b, [keys], 0)[0]
    first = b.op(f'"stablehlo.slice"({ordered.name}) {{start_indices = array<i64: 0>, '
                 f"limit_indices = array<i64: {count}>, strides = array<i64: 1>}} : "
                 f"({ordered.type}) -> {tensor_type((count,), _INDEX)}", (count,), _INDEX)
    outs, stride = [], n
    for d in x.shape:
        stride //= d if d else 1
        s = constant(b, stride, _INDEX, (count,))
        q = b.op(f"stablehlo.divide {first.name}, {s.name} : {first.type}", (count,), _INDEX)
        m = constant(b, d, _INDEX, (count,))
        outs.append(b.op(f"stablehlo.remainder {q.name}, {m.name} : {first.type}", (count,), _INDEX))
    return tuple(outs)


def nonzero(x: Any, /) -> tuple[Array, ...]:
    """Indices of the nonzero elements, one index array per dimension (row-major order)."""
    x = check_array(x)
    if x.ndim == 0:
        raise ValueError("nonzero needs an array of at least one dimension")
    count = int(count_nonzero(x))  # the output shape depends on the data
    if x.size == 0:
        from .creation import zeros
        return tuple(zeros((0,), dtype=_INDEX, device=x._device) for _ in range(x.ndim))
    return tuple(run(_nonzero_rule, (("count", count),), (x,), x._device))


def _searchsorted_rule(b: Builder, sorted_: Value, v: Value, *, side: str, dtype: np.dtype) -> Value:
    sorted_, v = convert(b, sorted_, dtype), convert(b, v, dtype)
    n = sorted_.shape[0]
    shape = v.shape + (n,)
    xs = b.op(f"stablehlo.broadcast_in_dim {sorted_.name}, dims = [{len(shape) - 1}] : "
              f"({sorted_.type}) -> {tensor_type(shape, dtype)}", shape, dtype)
    vs = b.op(f"stablehlo.broadcast_in_dim {v.name}, dims = [{', '.join(map(str, range(v.ndim)))}] : "
              f"({v.type}) -> {tensor_type(shape, dtype)}", shape, dtype)
    # left: count elements before v; right: count elements not after v.
    before = less(b, xs, vs) if side == "left" else flag_op(b, "not", less(b, vs, xs))
    return reduce(b, convert(b, before, _INDEX), (len(shape) - 1,), "add")


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
    device = same_device(x1, x2)
    dtype = _dtypes.promote_types(x1.dtype, x2.dtype)
    return run(_searchsorted_rule, (("side", side), ("dtype", dtype)), (x1, x2), device)[0]


def _where_rule(b: Builder, c: Value, x: Value, y: Value, *, dtype: np.dtype) -> Value:
    shape = broadcast_shapes(c.shape, x.shape, y.shape)
    c = broadcast(b, c, shape)
    x = broadcast(b, convert(b, x, dtype), shape)
    y = broadcast(b, convert(b, y, dtype), shape)
    return b.op(f"stablehlo.select {c.name}, {x.name}, {y.name} : {c.type}, {x.type}", shape, dtype)


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
    a, c, dtype = binary_operands(x1, x2)
    device = same_device(condition, a, c)
    return run_elementwise(_where_rule, (("dtype", dtype),), (condition, a, c), device)
