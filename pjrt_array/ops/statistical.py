"""Statistical functions: sum, prod, max, min, mean, var, std, cumulative_sum/prod."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from .. import _dtypes
from .._array import Array
from .._dispatch import flat_aval, run
from ._axes import normalize_axes, normalize_axis
from ._builder import Builder, Value
from ._lower import broadcast
from ._operands import check_array
from ._reduce import identity, reduce, scan

__all__ = ["cumulative_prod", "cumulative_sum", "max", "mean", "min", "prod", "std", "sum", "var"]

_FLOATING = ("real floating", "complex floating")


_DEFAULT_ACCUMULATOR: dict[np.dtype, np.dtype] = {}  # input dtype -> its accumulator (no dtype= given)


def _accumulator_dtype(x: Array, dtype: Any, name: str) -> np.dtype:
    """The result dtype of sum/prod-like reductions (the standard's rules)."""
    if dtype is None:
        found = _DEFAULT_ACCUMULATOR.get(x._aval[1])
        if found is None:
            found = _DEFAULT_ACCUMULATOR[x._aval[1]] = _default_accumulator(x._aval[1])
        return found
    dtype = _dtypes.as_dtype(dtype)
    if not _dtypes.isdtype(dtype, "numeric"):
        raise TypeError(f"{name}: dtype must be numeric, got {dtype}")
    return dtype


def _default_accumulator(dtype: np.dtype) -> np.dtype:
    if _dtypes.is_bool(dtype) or dtype in (_dtypes.int8, _dtypes.int16, _dtypes.int32):
        return _dtypes.DEFAULT_INT
    if dtype in (_dtypes.uint8, _dtypes.uint16, _dtypes.uint32):
        return _dtypes.uint64
    return dtype


def _reduce_rule(b: Builder, x: Value, *, axes: tuple[int, ...] | None, op: str, dtype: np.dtype,
                 keepdims: bool) -> Value:
    """``axes`` None: every axis of ``x`` (the same program then serves any shape of a count)."""
    every = tuple(range(x.ndim)) if axes is None else axes
    return reduce(b, b.convert(x, dtype), every, op, keepdims)


# (op, name, kinds, input dtype, ndim, axis, keepdims, dtype) -> the checked parameters (see _plan)
_plans: dict[tuple, tuple[bool, tuple, tuple]] = {}


def _plan(x: Array, axis: Any, keepdims: bool, op: str, dtype: np.dtype | None, name: str,
          kinds: Any) -> tuple[bool, tuple, tuple]:
    """Whether the reduction is over every axis (and may run on the flat element count), its
    parameters for that flat program and its parameters otherwise."""
    if not _dtypes.isdtype(x.dtype, kinds):
        raise TypeError(f"{name}: unsupported dtype {x.dtype}")
    axes = normalize_axes(axis, x.ndim)
    out = dtype or x.dtype
    return (len(axes) == x.ndim and not keepdims, (("axes", None), ("op", op), ("dtype", out), ("keepdims", False)),
            (("axes", axes), ("op", op), ("dtype", out), ("keepdims", bool(keepdims))))


def _reduction(x: Any, axis: Any, keepdims: bool, op: str, dtype: np.dtype | None, name: str,
               kinds: Any = ("bool", "numeric")) -> Array:
    x = check_array(x)
    # Checked once per kind of call; an axis that is not None or an int (a tuple, which may
    # hold floats that compare equal to ints) is checked at every call.
    key = (op, name, kinds, x._aval[1], len(x._aval[0]), axis, keepdims, dtype) \
        if axis is None or type(axis) is int else None
    plan = _plans.get(key) if key is not None else None
    if plan is None:
        plan = _plan(x, axis, keepdims, op, dtype, name, kinds)
        if key is not None:
            if len(_plans) >= 1024:
                _plans.clear()
            _plans[key] = plan
    every, flat_params, params = plan
    flat = flat_aval(x) if every else None
    if flat is not None:  # a reduction over every axis is one program per element count
        return run(_reduce_rule, flat_params, (x,), x._device, avals=(flat,))[0]
    return run(_reduce_rule, params, (x,), x._device)[0]


def sum(x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Array:
    """Sum over ``axis`` (None: all axes); small integers accumulate in the default integer dtype."""
    x = check_array(x)
    return _reduction(x, axis, keepdims, "add", _accumulator_dtype(x, dtype, "sum"), "sum")


def prod(x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Array:
    """Product over ``axis`` (None: all axes)."""
    x = check_array(x)
    return _reduction(x, axis, keepdims, "multiply", _accumulator_dtype(x, dtype, "prod"), "prod")


def _extremum(x: Any, axis: Any, keepdims: bool, op: str, name: str) -> Array:
    x = check_array(x)
    shape = x._aval[0]
    if 0 in shape and any(shape[a] == 0 for a in normalize_axes(axis, len(shape))):
        raise ValueError(f"{name}: zero-size reduction has no identity")
    return _reduction(x, axis, keepdims, op, None, name, ("bool", "integral", "real floating"))


def max(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Array:
    """Maximum over ``axis``; NaN propagates. Empty reductions raise ValueError."""
    return _extremum(x, axis, keepdims, "maximum", "max")


def min(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Array:
    """Minimum over ``axis``; NaN propagates. Empty reductions raise ValueError."""
    return _extremum(x, axis, keepdims, "minimum", "min")


def _moments_rule(b: Builder, x: Value, *, axes: tuple[int, ...], keepdims: bool, correction: float | None,
                  root: bool) -> Value:
    """Mean (``correction is None``) or variance/std of ``x`` over ``axes``."""
    count = 1
    for a in axes:
        count *= x.shape[a]
    total = reduce(b, x, axes, "add", keepdims=True)
    mean = b.divide(total, b.constant(count, x.dtype, total.shape))
    if correction is None:
        out = mean
    else:
        centered = b.subtract(x, broadcast(b, mean, x.shape))
        mag = b.abs(centered) if _dtypes.is_complex(x.dtype) else centered
        ss = reduce(b, b.multiply(mag, mag), axes, "add", keepdims=True)
        out = b.divide(ss, b.constant(builtins.max(count - correction, 0), mag.dtype, ss.shape))
        if root:
            out = b.sqrt(out)
    if not keepdims:
        out = b.reshape(out, tuple(d for i, d in enumerate(x.shape) if i not in axes))
    return out


def _moments_params(x: Array, axis: Any, keepdims: bool, correction: Any, root: bool, name: str) -> tuple:
    if not _dtypes.isdtype(x.dtype, _FLOATING):
        raise TypeError(f"{name}: needs a floating-point array, got {x.dtype}")
    if correction is not None and (not isinstance(correction, (int, float)) or isinstance(correction, bool)):
        raise TypeError(f"{name}: correction must be an int or float, got {correction!r}")
    axes = normalize_axes(axis, x.ndim)
    return (("axes", axes), ("keepdims", bool(keepdims)),
            ("correction", None if correction is None else float(correction)), ("root", root))


# (name, dtype, ndim, axis, keepdims, correction's type and value) -> checked parameters
_moment_params: dict[tuple, tuple] = {}


def _moments(x: Any, axis: Any, keepdims: bool, correction: Any, root: bool, name: str) -> Array:
    x = check_array(x)
    # Cached for None/int axes and a None/int/float correction (types in the key: 1 == 1.0 == True).
    key = (name, x._aval[1], len(x._aval[0]), axis, keepdims, type(correction), correction) \
        if (axis is None or type(axis) is int) and type(correction) in _CORRECTIONS else None
    params = _moment_params.get(key) if key is not None else None
    if params is None:
        params = _moments_params(x, axis, keepdims, correction, root, name)
        if key is not None:
            if len(_moment_params) >= 1024:
                _moment_params.clear()
            _moment_params[key] = params
    return run(_moments_rule, params, (x,), x._device)[0]


_CORRECTIONS = (type(None), int, float)


def mean(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Array:
    """Arithmetic mean over ``axis`` (NaN for empty reductions)."""
    return _moments(x, axis, keepdims, None, False, "mean")


def var(x: Any, /, *, axis: Any = None, correction: float = 0.0, keepdims: bool = False) -> Array:
    """Variance over ``axis`` with ``correction`` degrees of freedom removed."""
    if correction is None:
        raise TypeError("var: correction must be a number")
    return _moments(x, axis, keepdims, correction, False, "var")


def std(x: Any, /, *, axis: Any = None, correction: float = 0.0, keepdims: bool = False) -> Array:
    """Standard deviation over ``axis`` with ``correction`` degrees of freedom removed."""
    if correction is None:
        raise TypeError("std: correction must be a number")
    return _moments(x, axis, keepdims, correction, True, "std")


def _cumulative_rule(b: Builder, x: Value, *, axis: int, op: str, dtype: np.dtype, include_initial: bool) -> Value:
    out = scan(b, b.convert(x, dtype), axis, op)
    if include_initial:
        low = [0] * x.ndim
        low[axis] = 1
        out = b.pad(out, b.constant(identity(op, dtype), dtype), low, [0] * x.ndim)
    return out


def _cumulative(x: Any, axis: Any, dtype: Any, include_initial: bool, op: str, name: str) -> Array:
    x = check_array(x)
    if axis is None:
        if x.ndim > 1:
            raise ValueError(f"{name}: axis is required for arrays of more than one dimension")
        axis = 0
    if x.ndim == 0:
        raise ValueError(f"{name}: needs an array of at least one dimension")
    axis = normalize_axis(axis, x.ndim)
    out_dtype = _accumulator_dtype(x, dtype, name)
    params = (("axis", axis), ("op", op), ("dtype", out_dtype), ("include_initial", bool(include_initial)))
    return run(_cumulative_rule, params, (x,), x._device)[0]


def cumulative_sum(x: Any, /, *, axis: int | None = None, dtype: Any = None,
                   include_initial: bool = False) -> Array:
    """Running sums along ``axis`` (optionally starting with the initial zero)."""
    return _cumulative(x, axis, dtype, include_initial, "add", "cumulative_sum")


def cumulative_prod(x: Any, /, *, axis: int | None = None, dtype: Any = None,
                    include_initial: bool = False) -> Array:
    """Running products along ``axis`` (optionally starting with the initial one)."""
    return _cumulative(x, axis, dtype, include_initial, "multiply", "cumulative_prod")
