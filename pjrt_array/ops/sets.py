"""Set functions: unique_all, unique_counts, unique_inverse, unique_values, isin.

The unique values are found on the device: a stable sort, a mask of the
first element of each run of equal values (every NaN counts as distinct, as
the standard asks), and a compaction.  The number of unique values decides the
output shape, so it is read back to the host between the two programs.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .. import _dtypes
from .._array import Array
from .._dispatch import run
from .._tracing import refuse_traced
from ._builder import Builder, Value, tensor_type
from ._lower import broadcast, constant, convert, i64_array
from ._operands import binary_operands, check_array
from ._order import equal, flag_op
from ._reduce import reduce, scan
from .sorting import sort_values

__all__ = ["isin", "unique_all", "unique_counts", "unique_inverse", "unique_values"]

_INDEX = np.dtype("int64")
_BOOL = np.dtype(bool)


class UniqueAllResult(NamedTuple):
    values: Array
    indices: Array
    inverse_indices: Array
    counts: Array


class UniqueCountsResult(NamedTuple):
    values: Array
    counts: Array


class UniqueInverseResult(NamedTuple):
    values: Array
    inverse_indices: Array


def _slice1(b: Builder, x: Value, start: int, stop: int) -> Value:
    return b.op(f'"stablehlo.slice"({x.name}) {{start_indices = {i64_array([start])}, '
                f"limit_indices = {i64_array([stop])}, strides = {i64_array([1])}}} : "
                f"({x.type}) -> {tensor_type((stop - start,), x.dtype)}", (stop - start,), x.dtype)


def _gather(b: Builder, x: Value, idx: Value) -> Value:
    """``x[idx]`` for 1-D ``x`` and 1-D int64 ``idx``."""
    shape = idx.shape
    return b.op(f'"stablehlo.gather"({x.name}, {idx.name}) {{dimension_numbers = #stablehlo.gather<'
                f"collapsed_slice_dims = [0], start_index_map = [0], index_vector_dim = 1>, "
                f"slice_sizes = {i64_array([1])}, indices_are_sorted = false}} : "
                f"({x.type}, {idx.type}) -> {tensor_type(shape, x.dtype)}", shape, x.dtype)


def _runs(b: Builder, x: Value) -> tuple[Value, Value, Value]:
    """Sorted flat values, their original positions, and the first-of-run mask."""
    n = x.shape[0]
    iota = b.op(f"stablehlo.iota dim = 0 : {tensor_type((n,), _INDEX)}", (n,), _INDEX)
    values, perm = sort_values(b, [x, iota], 0)
    if n == 0:
        return values, perm, b.op(f"stablehlo.constant dense<true> : {tensor_type((0,), _BOOL)}", (0,), _BOOL)
    head = b.op(f"stablehlo.constant dense<true> : {tensor_type((1,), _BOOL)}", (1,), _BOOL)
    differs = flag_op(b, "not", equal(b, _slice1(b, values, 1, n), _slice1(b, values, 0, n - 1)))
    if _dtypes.isdtype(x.dtype, ("real floating", "complex floating")):
        nan = b.op(f"stablehlo.compare NE, {values.name}, {values.name} : ({values.type}, {values.type}) -> "
                   f"{tensor_type((n,), _BOOL)}", (n,), _BOOL)
        differs = flag_op(b, "or", differs, _slice1(b, nan, 1, n))
    first = b.op(f"stablehlo.concatenate {head.name}, {differs.name}, dim = 0 : "
                 f"({head.type}, {differs.type}) -> {tensor_type((n,), _BOOL)}", (n,), _BOOL)
    return values, perm, first


def _flat(b: Builder, x: Value) -> Value:
    n = int(np.prod(x.shape))
    return b.op(f"stablehlo.reshape {x.name} : ({x.type}) -> {tensor_type((n,), x.dtype)}", (n,), x.dtype)


def _count_rule(b: Builder, x: Value) -> Value:
    _, _, first = _runs(b, _flat(b, x))
    return reduce(b, convert(b, first, _INDEX), (0,), "add")


def _unique_rule(b: Builder, x: Value, *, k: int) -> tuple[Value, ...]:
    shape = x.shape
    flat = _flat(b, x)
    n = flat.shape[0]
    values, perm, first = _runs(b, flat)
    iota = b.op(f"stablehlo.iota dim = 0 : {tensor_type((n,), _INDEX)}", (n,), _INDEX)
    big = constant(b, n, _INDEX, (n,))
    keys = b.op(f"stablehlo.select {first.name}, {iota.name}, {big.name} : {first.type}, {iota.type}",
                (n,), _INDEX)
    starts_all = sort_values(b, [keys], 0)[0]
    starts = _slice1(b, starts_all, 0, k)
    uniq = _gather(b, values, starts)
    first_index = _gather(b, perm, starts)
    ends_all = b.op(f"stablehlo.concatenate {_slice1(b, starts_all, 1, n).name}, {constant(b, n, _INDEX, (1,)).name}, "
                    f"dim = 0 : ({tensor_type((n - 1,), _INDEX)}, {tensor_type((1,), _INDEX)}) -> "
                    f"{tensor_type((n,), _INDEX)}", (n,), _INDEX)
    ends = _slice1(b, ends_all, 0, k)
    counts = b.op(f"stablehlo.subtract {ends.name}, {starts.name} : {ends.type}", (k,), _INDEX)
    # Inverse: the run number of each sorted element, scattered back by sorting on the permutation.
    run_no = scan(b, convert(b, first, _INDEX), 0, "add")
    one = constant(b, 1, _INDEX, (n,))
    run_no = b.op(f"stablehlo.subtract {run_no.name}, {one.name} : {run_no.type}", (n,), _INDEX)
    inverse = sort_values(b, [perm, run_no], 0)[1]
    inverse = b.op(f"stablehlo.reshape {inverse.name} : ({inverse.type}) -> {tensor_type(shape, _INDEX)}",
                   shape, _INDEX)
    return uniq, first_index, inverse, counts


def _unique(x: Any) -> tuple[Array, Array, Array, Array]:
    x = check_array(x)
    refuse_traced("unique_*", "the number of unique values depends on the data", x)
    if x.size == 0:
        from .creation import zeros
        empty_idx = zeros((0,), dtype=_INDEX, device=x._device)
        return (zeros((0,), dtype=x.dtype, device=x._device), empty_idx,
                zeros(x.shape, dtype=_INDEX, device=x._device), empty_idx)
    k = int(run(_count_rule, (), (x,), x._device)[0])  # the output shape depends on the data
    return tuple(run(_unique_rule, (("k", k),), (x,), x._device))  # type: ignore[return-value]


def unique_values(x: Any, /) -> Array:
    """The distinct elements of ``x``, sorted (each NaN is distinct)."""
    return _unique(x)[0]


def unique_counts(x: Any, /) -> UniqueCountsResult:
    """Distinct elements and how often each occurs."""
    values, _, _, counts = _unique(x)
    return UniqueCountsResult(values, counts)


def unique_inverse(x: Any, /) -> UniqueInverseResult:
    """Distinct elements and, for each element of ``x``, the index of its value."""
    values, _, inverse, _ = _unique(x)
    return UniqueInverseResult(values, inverse)


def unique_all(x: Any, /) -> UniqueAllResult:
    """Distinct elements, first-occurrence indices, inverse indices and counts."""
    return UniqueAllResult(*_unique(x))


def _isin_rule(b: Builder, x: Value, t: Value, *, dtype: np.dtype, invert: bool) -> Value:
    x, t = convert(b, x, dtype), convert(b, _flat(b, t), dtype)
    shape = x.shape + t.shape
    xs = b.op(f"stablehlo.broadcast_in_dim {x.name}, dims = [{', '.join(map(str, range(x.ndim)))}] : "
              f"({x.type}) -> {tensor_type(shape, dtype)}", shape, dtype)
    ts = broadcast(b, t, shape)
    hits = b.op(f"stablehlo.compare EQ, {xs.name}, {ts.name} : ({xs.type}, {ts.type}) -> "
                f"{tensor_type(shape, _BOOL)}", shape, _BOOL)
    found = reduce(b, hits, (len(shape) - 1,), "or")
    return flag_op(b, "not", found) if invert else found


def isin(x1: Any, x2: Any, /, *, invert: bool = False) -> Array:
    """Whether each element of ``x1`` occurs in ``x2`` (NaN occurs nowhere)."""
    a, t, dtype = binary_operands(x1, x2)
    if not isinstance(invert, bool):
        raise TypeError(f"invert must be a bool, got {invert!r}")
    return run(_isin_rule, (("dtype", dtype), ("invert", invert)), (a, t), a._device)[0]
