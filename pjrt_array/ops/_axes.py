"""Normalizing ``axis`` arguments (negative axes, tuples, None)."""

from __future__ import annotations

import operator
from typing import Any

__all__ = ["normalize_axis", "normalize_axes", "AxisError"]


class AxisError(ValueError, IndexError):
    """An axis out of range (a ValueError and an IndexError, like numpy's AxisError)."""


def normalize_axis(axis: Any, ndim: int, argname: str = "axis") -> int:
    """``axis`` as a non-negative int below ``ndim``."""
    try:
        a = operator.index(axis)
    except TypeError:
        raise TypeError(f"{argname} must be an int, got {type(axis).__name__}") from None
    if not -ndim <= a < ndim:
        # numpy's AxisError text, word for word (callers such as SciPy match on it); an argument
        # other than ``axis`` is named first, as numpy does ("source: axis 3 is out of ...").
        prefix = "" if argname == "axis" else f"{argname}: "
        raise AxisError(f"{prefix}axis {a} is out of bounds for array of dimension {ndim}")
    return a % ndim if ndim else a


def normalize_axes(axis: Any, ndim: int, argname: str = "axis") -> tuple[int, ...]:
    """``axis`` (None, int or tuple of ints) as a sorted tuple of distinct non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, tuple):
        axes = tuple(normalize_axis(a, ndim, argname) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"{argname} contains repeated axes: {axis}")
        return tuple(sorted(axes))
    return (normalize_axis(axis, ndim, argname),)
