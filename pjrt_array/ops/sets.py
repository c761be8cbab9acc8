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
from ._builder import Builder, Value
from ._lower import broadcast, is_nan, slice_axis
from ._operands import binary_operands, check_array
from ._order import equal, flag_op
from ._reduce import reduce, scan
from .indexing import take_rows
from .sorting import first_positions, sort_values

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


def _runs(b: Builder, x: Value) -> tuple[Value, Value, Value]:
    """Sorted flat values, their original positions, and the first-of-run mask."""
    n = x.shape[0]
    values, perm = sort_values(b, [x, b.iota((n,), 0, _INDEX)], 0)
    if n == 0:
        return values, perm, b.constant(True, _BOOL, (0,))
    differs = flag_op(b, "not", equal(b, slice_axis(b, values, 0, 1, n), slice_axis(b, values, 0, 0, n - 1)))
    if _dtypes.isdtype(x.dtype, ("real floating", "complex floating")):
        differs = flag_op(b, "or", differs, slice_axis(b, is_nan(b, values), 0, 1, n))
    return values, perm, b.concatenate([b.constant(True, _BOOL, (1,)), differs], 0)


def _flat(b: Builder, x: Value) -> Value:
    return b.reshape(x, (int(np.prod(x.shape)),))


def _count_rule(b: Builder, x: Value) -> Value:
    _, _, first = _runs(b, _flat(b, x))
    return reduce(b, b.convert(first, _INDEX), (0,), "add")


def _unique_rule(b: Builder, x: Value, *, k: int) -> tuple[Value, ...]:
    flat = _flat(b, x)
    n = flat.shape[0]
    values, perm, first = _runs(b, flat)
    starts_all = first_positions(b, first)
    starts = slice_axis(b, starts_all, 0, 0, k)
    uniq = take_rows(b, values, starts)
    first_index = take_rows(b, perm, starts)
    ends_all = b.concatenate([slice_axis(b, starts_all, 0, 1, n), b.constant(n, _INDEX, (1,))], 0)
    counts = b.subtract(slice_axis(b, ends_all, 0, 0, k), starts)
    # Inverse: the run number of each sorted element, scattered back by sorting on the permutation.
    run_no = b.subtract(scan(b, b.convert(first, _INDEX), 0, "add"), b.constant(1, _INDEX, (n,)))
    inverse = sort_values(b, [perm, run_no], 0)[1]
    return uniq, first_index, b.reshape(inverse, x.shape), counts


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
    x, t = b.convert(x, dtype), b.convert(_flat(b, t), dtype)
    shape = x.shape + t.shape
    hits = b.compare(b.broadcast_in_dim(x, shape, range(x.ndim)), broadcast(b, t, shape), "EQ")
    found = reduce(b, hits, (len(shape) - 1,), "or")
    return flag_op(b, "not", found) if invert else found


def isin(x1: Any, x2: Any, /, *, invert: bool = False) -> Array:
    """Whether each element of ``x1`` occurs in ``x2`` (NaN occurs nowhere)."""
    a, t, dtype, device = binary_operands(x1, x2)
    if not isinstance(invert, bool):
        raise TypeError(f"invert must be a bool, got {invert!r}")
    return run(_isin_rule, (("dtype", dtype), ("invert", invert)), (a, t), device)[0]
