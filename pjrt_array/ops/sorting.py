"""Sorting: ``sort`` and ``argsort`` (stable, NaNs last, complex lexicographic)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._array import Array
from .._dispatch import run
from ._axes import normalize_axis
from ._builder import Builder, Value
from ._operands import check_array
from ._order import less

__all__ = ["argsort", "sort"]

_INDEX = np.dtype("int64")


def sort_values(b: Builder, operands: list[Value], axis: int) -> list[Value]:
    """Stable sort of ``operands`` along ``axis`` by the first one (the others ride along)."""
    return b.sort(operands, axis, lambda r, args: [less(r, args[0], args[1])])


def first_positions(b: Builder, mask: Value) -> Value:
    """The positions where the 1-D boolean ``mask`` holds, ascending, then ``len(mask)`` for the rest."""
    n = mask.shape[0]
    keys = b.select(mask, b.iota((n,), 0, _INDEX), b.constant(n, _INDEX, (n,)))
    return sort_values(b, [keys], 0)[0]


def _sort_rule(b: Builder, x: Value, *, axis: int, descending: bool, indices: bool) -> Value:
    if descending:
        # Stable descending order = reverse of the stable ascending sort of the reversed input.
        x = b.reverse(x, [axis])
    if not indices:
        out = sort_values(b, [x], axis)[0]
        return b.reverse(out, [axis]) if descending else out
    idx = sort_values(b, [x, b.iota(x.shape, axis, _INDEX)], axis)[1]
    if descending:
        idx = b.subtract(b.constant(x.shape[axis] - 1, _INDEX, x.shape), b.reverse(idx, [axis]))
    return idx


def _sort(x: Any, axis: int, descending: bool, stable: bool, indices: bool, name: str) -> Array:
    x = check_array(x)
    if x.ndim == 0:
        raise ValueError(f"{name} needs an array of at least one dimension")
    axis = normalize_axis(axis, x.ndim)
    if not isinstance(descending, bool) or not isinstance(stable, bool):
        raise TypeError(f"{name}: descending and stable must be bool")
    params = (("axis", axis), ("descending", descending), ("indices", indices))
    return run(_sort_rule, params, (x,), x._device)[0]


def sort(x: Any, /, *, axis: int = -1, descending: bool = False, stable: bool = True) -> Array:
    """Sorted copy of ``x`` along ``axis`` (always stable; NaNs last when ascending)."""
    return _sort(x, axis, descending, stable, False, "sort")


def argsort(x: Any, /, *, axis: int = -1, descending: bool = False, stable: bool = True) -> Array:
    """Indices that sort ``x`` along ``axis`` (always stable)."""
    return _sort(x, axis, descending, stable, True, "argsort")
