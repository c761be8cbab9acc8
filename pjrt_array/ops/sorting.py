"""Sorting: ``sort`` and ``argsort`` (stable, NaNs last, complex lexicographic)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._array import Array
from .._dispatch import run
from ._axes import normalize_axis
from ._builder import Builder, Value, tensor_type
from ._lower import constant
from ._operands import check_array
from ._order import less

__all__ = ["argsort", "sort"]

_INDEX = np.dtype("int64")


def _reverse(b: Builder, x: Value, axis: int) -> Value:
    return b.op(f"stablehlo.reverse {x.name}, dims = [{axis}] : {x.type}", x.shape, x.dtype)


def sort_values(b: Builder, operands: list[Value], axis: int) -> list[Value]:
    """Stable sort of ``operands`` along ``axis`` by the first one (the others ride along)."""
    params = [((), v.dtype) for v in operands for _ in (0, 1)]

    def comparator(r: Builder, args: list[Value]) -> list[Value]:
        return [less(r, args[0], args[1])]

    region = b.region(params, comparator)
    types = ", ".join(v.type for v in operands)
    results = b.ops(f'"stablehlo.sort"({", ".join(v.name for v in operands)}) {region} '
                    f"{{dimension = {axis} : i64, is_stable = true}} : ({types}) -> ({types})",
                    [(v.shape, v.dtype) for v in operands])
    return results


def _sort_rule(b: Builder, x: Value, *, axis: int, descending: bool, indices: bool) -> Value:
    if descending:
        # Stable descending order = reverse of the stable ascending sort of the reversed input.
        x = _reverse(b, x, axis)
    if not indices:
        out = sort_values(b, [x], axis)[0]
        return _reverse(b, out, axis) if descending else out
    iota = b.op(f"stablehlo.iota dim = {axis} : {tensor_type(x.shape, _INDEX)}", x.shape, _INDEX)
    idx = sort_values(b, [x, iota], axis)[1]
    if descending:
        idx = _reverse(b, idx, axis)
        last = constant(b, x.shape[axis] - 1, _INDEX, x.shape)
        idx = b.op(f"stablehlo.subtract {last.name}, {idx.name} : {idx.type}", x.shape, _INDEX)
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
