"""Utility functions: ``all``, ``any``, ``diff``."""

from __future__ import annotations

import builtins
import operator
from typing import Any

import numpy as np

from .. import _dtypes
from .._array import Array
from .._dispatch import run
from ._axes import normalize_axes, normalize_axis
from ._builder import Builder, Value
from ._lower import slice_axis, truth
from ._operands import check_array, on_one_device
from ._reduce import reduce

__all__ = ["all", "any", "diff"]

_BOOL = np.dtype(bool)


def _truth_rule(b: Builder, x: Value, *, axes: tuple[int, ...], op: str, keepdims: bool) -> Value:
    return reduce(b, truth(b, x), axes, op, keepdims)


def _truth(x: Any, axis: Any, keepdims: bool, op: str) -> Array:
    x = check_array(x)
    axes = normalize_axes(axis, x.ndim)
    return run(_truth_rule, (("axes", axes), ("op", op), ("keepdims", bool(keepdims))), (x,), x._device)[0]


def all(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Array:
    """Whether every element along ``axis`` is true (nonzero); True for empty input."""
    return _truth(x, axis, keepdims, "and")


def any(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Array:
    """Whether some element along ``axis`` is true (nonzero); False for empty input."""
    return _truth(x, axis, keepdims, "or")


def _diff_rule(b: Builder, *parts: Value, axis: int, n: int) -> Value:
    x = b.concatenate(parts, axis)
    for _ in range(n):
        length = x.shape[axis]
        if length == 0:
            break
        hi, lo = slice_axis(b, x, axis, 1, length), slice_axis(b, x, axis, 0, length - 1)
        x = b.xor(hi, lo) if x.dtype == _BOOL else b.subtract(hi, lo)  # bool differences are "not equal"
    return x


def diff(x: Any, /, *, axis: int = -1, n: int = 1, prepend: Any = None, append: Any = None) -> Array:
    """The ``n``-th discrete difference along ``axis``, after adding ``prepend``/``append``."""
    x = check_array(x)
    if x.ndim == 0:
        raise ValueError("diff needs an array of at least one dimension")
    axis = normalize_axis(axis, x.ndim)
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    if prepend is None and append is None:  # the common call: no parts to check or convert
        device = x._device if x._sharding is None else on_one_device(x)[0]
        return run(_diff_rule, (("axis", axis), ("n", n)), (x,), device)[0]
    parts = [x]
    for name, extra in (("prepend", prepend), ("append", append)):
        if extra is None:
            continue
        extra = check_array(extra, name)
        if extra.ndim != x.ndim or builtins.any(e != s for i, (e, s) in enumerate(zip(extra.shape, x.shape)) if i != axis):
            raise ValueError(f"{name} must have the shape of x except along axis {axis}, got {extra.shape}")
        if _dtypes.promote_types(extra.dtype, x.dtype) != x.dtype:
            raise TypeError(f"{name} dtype {extra.dtype} does not match x dtype {x.dtype}")
        parts.insert(0 if name == "prepend" else len(parts), extra)
    from .data_types import astype
    parts = [p if p.dtype == x.dtype else astype(p, x.dtype) for p in parts]
    device, operands = on_one_device(*parts)
    return run(_diff_rule, (("axis", axis), ("n", n)), operands, device)[0]
