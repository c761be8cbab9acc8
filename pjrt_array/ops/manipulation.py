"""Manipulation functions: shapes, axes, joins and splits — all StableHLO data movement."""

from __future__ import annotations

import builtins
import functools
import math
import operator
from typing import Any

import numpy as np

from .. import _dtypes, _views
from .._array import Array
from .._devices import Device
from .._dispatch import run
from .._tracing import refuse_traced
from ._axes import normalize_axes, normalize_axis
from ._builder import Builder, Value
from ._lower import broadcast, broadcast_shapes as _broadcast_shapes, slice_axis
from ._operands import check_array, on_one_device
from ._validate import check_size, count_arg, recall, remember, shape_arg, shape_key

__all__ = ["broadcast_arrays", "broadcast_shapes", "broadcast_to", "concat", "expand_dims", "flip", "moveaxis",
           "permute_dims", "repeat", "reshape", "roll", "squeeze", "stack", "tile", "unstack"]


# -- reshape, axes ---------------------------------------------------------------------------

def _reshape_rule(b: Builder, x: Value, *, shape: tuple[int, ...]) -> Value:
    return b.reshape(x, shape)


def _resolve_shape(shape: Any, size: int) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = [operator.index(d) for d in shape]
    except TypeError:
        raise TypeError(f"shape must be a tuple of ints, got {shape!r}") from None
    unknown = [i for i, d in enumerate(dims) if d == -1]
    if len(unknown) > 1 or any(d < -1 for d in dims):
        raise ValueError(f"invalid shape {tuple(dims)}")
    if unknown:
        known = math.prod(d for d in dims if d != -1)
        if known == 0 or size % known:
            raise ValueError(f"cannot reshape an array of size {size} into shape {tuple(dims)}")
        dims[unknown[0]] = size // known
    if math.prod(dims) != size:
        raise ValueError(f"cannot reshape an array of size {size} into shape {tuple(dims)}")
    return shape_arg(dims)


# (the shape asked for, with its types; the array's shape) -> the shape resolved
_resolved: dict[tuple, tuple[int, ...]] = {}


def reshape(x: Any, /, shape: tuple[int, ...], *, copy: bool | None = None) -> Array:
    """``x`` with a new shape (one dimension may be -1)."""
    x = check_array(x)
    key = (shape_key(shape), x.shape)
    resolved = recall(_resolved, key)
    if resolved is None:
        resolved = _resolve_shape(shape, x.size)
        remember(_resolved, key, resolved, resolved, x.dtype)
    shape = resolved
    if copy is False:
        # Buffers are immutable, so a reshape never needs to copy user-visible data,
        # but a PJRT buffer has one shape: the new array is a new buffer.
        raise ValueError("reshape(copy=False): a new shape needs a new buffer here")
    if shape == x.shape and not copy:
        return x
    return run(_reshape_rule, (("shape", shape),), (x,), x._device)[0]


def _transpose_rule(b: Builder, x: Value, *, perm: tuple[int, ...]) -> Value:
    return b.transpose(x, perm)


def permute_dims(x: Any, /, axes: tuple[int, ...]) -> Array:
    """``x`` with its axes permuted."""
    x = check_array(x)
    perm = tuple(normalize_axis(a, x.ndim, "axes") for a in axes)
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(f"axes {tuple(axes)} is not a permutation of the {x.ndim} axes")
    if perm == tuple(range(x.ndim)):
        return x
    return transposed(x, perm)


def transposed(x: Array, perm: tuple[int, ...]) -> Array:
    """The view of ``x`` with its axes permuted by ``perm`` (checked by the caller, not the identity)."""
    return _views.attach(run(_transpose_rule, (("perm", perm),), (x,), x._device)[0], x, "permute", perm)


@functools.lru_cache(maxsize=256)
def _move_order(ndim: int, src: tuple, dst: tuple) -> tuple[int, ...]:
    """The permutation that moves axes ``src`` to ``dst`` (cached: the same moves recur)."""
    if len(src) != len(dst):
        raise ValueError("source and destination must have the same number of axes")
    src = tuple(normalize_axis(a, ndim, "source") for a in src)
    dst = tuple(normalize_axis(a, ndim, "destination") for a in dst)
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError("repeated axes in source or destination")
    order = [a for a in range(ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return tuple(order)


def moveaxis(x: Any, source: Any, destination: Any, /) -> Array:
    """Move axes ``source`` to positions ``destination``."""
    x = check_array(x)
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    order = _move_order(x.ndim, src, dst)
    if order == tuple(range(x.ndim)):
        return x
    # a view, as permute_dims and as in numpy: SciPy's ndimage writes its results into
    # moveaxis(output, ...) and expects `output` to change
    return _views.attach(run(_transpose_rule, (("perm", order),), (x,), x._device)[0], x, "permute", order)


def expand_dims(x: Any, /, axis: Any = 0) -> Array:
    """Insert size-one axes at ``axis`` (an int or tuple, counted in the result)."""
    x = check_array(x)
    axes = (axis,) if not isinstance(axis, tuple) else axis
    ndim = x.ndim + len(axes)
    positions = tuple(normalize_axis(a, ndim) for a in axes)
    if len(set(positions)) != len(positions):
        raise ValueError(f"repeated axes in {axis}")
    shape = list(x.shape)
    for p in sorted(positions):
        shape.insert(p, 1)
    return reshape(x, tuple(shape))


def squeeze(x: Any, /, axis: Any) -> Array:
    """Remove size-one axes ``axis``."""
    x = check_array(x)
    axes = normalize_axes(axis, x.ndim)
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f"cannot squeeze axis {a} of size {x.shape[a]}")
    return reshape(x, tuple(d for i, d in enumerate(x.shape) if i not in axes))


# -- broadcasting ------------------------------------------------------------------------------

def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The shape that ``shapes`` broadcast to (ValueError if incompatible)."""
    return _broadcast_shapes(*(tuple(operator.index(d) for d in s) for s in shapes))


def _broadcast_rule(b: Builder, x: Value, *, shape: tuple[int, ...]) -> Value:
    return broadcast(b, x, shape)


# (the shape asked for, with its types; the array's shape, dtype and device) -> the shape checked
_broadcasts: dict[tuple, tuple[int, ...]] = {}


def broadcast_to(x: Any, /, shape: tuple[int, ...]) -> Array:
    """``x`` broadcast to ``shape``."""
    x = check_array(x)
    key = (shape_key(shape), x.shape, x.dtype, x._device)
    checked = recall(_broadcasts, key)
    if checked is None:
        checked = shape_arg(shape)
        check_size(checked, x.dtype, "shape", x._device)
        if len(checked) < x.ndim or _broadcast_shapes(x.shape, checked) != checked:
            raise ValueError(f"cannot broadcast shape {x.shape} to {checked}")
        remember(_broadcasts, key, checked, checked, x.dtype)
    shape = checked
    if shape == x.shape:
        return x
    return run(_broadcast_rule, (("shape", shape),), (x,), x._device)[0]


def _broadcast_all_rule(b: Builder, *xs: Value, shape: tuple[int, ...]) -> tuple[Value, ...]:
    return tuple(broadcast(b, x, shape) for x in xs)


def broadcast_arrays(*arrays: Array) -> tuple[Array, ...]:
    """The arrays broadcast against each other (those that change shape, in one program)."""
    xs = [check_array(a, f"arrays[{i}]") for i, a in enumerate(arrays)]
    shape = _broadcast_shapes(*(a.shape for a in xs))
    if not xs:
        return ()
    device, moved = on_one_device(*xs)
    xs = list(moved)
    todo = [a for a in xs if a.shape != shape]
    if not todo:
        return tuple(xs)
    out = iter(run(_broadcast_all_rule, (("shape", shape),), todo, device))
    return tuple(next(out) if a.shape != shape else a for a in xs)


# -- joins and splits -----------------------------------------------------------------------------

def _concat_rule(b: Builder, *parts: Value, axis: int, dtype: np.dtype, flat: bool) -> Value:
    values = [b.convert(p, dtype) for p in parts]
    if flat:
        values = [b.reshape(p, (math.prod(p.shape),)) for p in values]
    return b.concatenate(values, axis)


def _joined(arrays: Any, name: str) -> tuple[list[Array], np.dtype, Device]:
    if not isinstance(arrays, (list, tuple)) or not arrays:
        raise ValueError(f"{name} needs a non-empty sequence of arrays")
    xs = list(arrays)
    for i, a in enumerate(xs):
        if type(a) is not Array:
            check_array(a, f"arrays[{i}]")
    first = xs[0]
    dtype, device = first._aval[1], first._device
    mixed = first._sharding is not None
    for a in xs:
        d = a._aval[1]
        if d is not dtype:
            dtype = _dtypes.promote_types(dtype, d)
        mixed = mixed or a._device is not device or a._sharding is not None
    if mixed:  # uncommitted arrays move; committed ones on two devices raise (``on_one_device``)
        device, moved = on_one_device(*xs)
        xs = list(moved)
    return xs, dtype, device


def concat(arrays: Any, /, *, axis: int | None = 0) -> Array:
    """Join arrays along an existing axis (flattened first when ``axis`` is None)."""
    xs, dtype, device = _joined(arrays, "concat")
    if axis is None:
        return run(_concat_rule, (("axis", 0), ("dtype", dtype), ("flat", True)), xs, device)[0]
    if xs[0].ndim == 0:
        raise ValueError("concat needs arrays of at least one dimension (or axis=None)")
    a = normalize_axis(axis, xs[0].ndim)
    for x in xs[1:]:
        if x.ndim != xs[0].ndim or any(p != q for i, (p, q) in enumerate(zip(x.shape, xs[0].shape)) if i != a):
            raise ValueError(f"concat: shapes {xs[0].shape} and {x.shape} differ outside axis {a}")
    return run(_concat_rule, (("axis", a), ("dtype", dtype), ("flat", False)), xs, device)[0]


def _stack_rule(b: Builder, *parts: Value, axis: int, dtype: np.dtype) -> Value:
    shape = parts[0].shape[:axis] + (1,) + parts[0].shape[axis:]
    return b.concatenate([b.reshape(b.convert(p, dtype), shape) for p in parts], axis)


# (axis, ndim, dtype) -> stack's checked parameters (an int axis checked once per kind of call)
_stack_params: dict[tuple, tuple] = {}


def stack(arrays: Any, /, *, axis: int = 0) -> Array:
    """Join arrays of one shape along a new axis (one program)."""
    xs, dtype, device = _joined(arrays, "stack")
    shape = xs[0]._aval[0]
    for x in xs:
        if x._aval[0] != shape:
            raise ValueError(f"stack needs arrays of one shape, got {shape} and {x.shape}")
    key = (axis, len(shape), dtype) if type(axis) is int else None
    params = _stack_params.get(key) if key is not None else None
    if params is None:
        params = (("axis", normalize_axis(axis, len(shape) + 1)), ("dtype", dtype))
        if key is not None:
            if len(_stack_params) >= 1024:
                _stack_params.clear()
            _stack_params[key] = params
    return run(_stack_rule, params, xs, device)[0]


def _unstack_rule(b: Builder, x: Value, *, axis: int) -> tuple[Value, ...]:
    outs = []
    shape = x.shape[:axis] + x.shape[axis + 1:]
    for i in range(x.shape[axis]):
        outs.append(b.reshape(slice_axis(b, x, axis, i, i + 1), shape))
    return tuple(outs)


def unstack(x: Any, /, *, axis: int = 0) -> tuple[Array, ...]:
    """Split ``x`` along ``axis`` into a tuple of arrays."""
    x = check_array(x)
    if x.ndim == 0:
        raise ValueError("unstack needs an array of at least one dimension")
    a = normalize_axis(axis, x.ndim)
    if x.shape[a] == 0:
        return ()
    return tuple(run(_unstack_rule, (("axis", a),), (x,), x._device))


# -- reordering and repetition ------------------------------------------------------------------

def _flip_rule(b: Builder, x: Value, *, axes: tuple[int, ...]) -> Value:
    return b.reverse(x, axes)


def flip(x: Any, /, *, axis: Any = None) -> Array:
    """Reverse the order of elements along ``axis`` (all axes when None)."""
    x = check_array(x)
    axes = normalize_axes(axis, x.ndim)
    if not axes:
        return x
    return run(_flip_rule, (("axes", axes),), (x,), x._device)[0]


def _roll_rule(b: Builder, x: Value, *, shifts: tuple[tuple[int, int], ...], flat: bool) -> Value:
    shape = x.shape
    if flat:
        x = b.reshape(x, (math.prod(shape),))
    for axis, k in shifts:
        n = x.shape[axis]
        k = k % n if n else 0
        if not k:
            continue
        x = b.concatenate([slice_axis(b, x, axis, n - k, n), slice_axis(b, x, axis, 0, n - k)], axis)
    return b.reshape(x, shape)


def roll(x: Any, /, shift: Any, *, axis: Any = None) -> Array:
    """Shift elements along ``axis`` cyclically (over the flattened array when None)."""
    x = check_array(x)
    shifts: tuple[Any, ...] = (shift,) if isinstance(shift, int) else tuple(shift)
    if axis is None:
        if len(shifts) != 1:
            raise ValueError("roll with axis=None takes a single shift")
        return run(_roll_rule, (("shifts", ((0, operator.index(shifts[0])),)), ("flat", True)), (x,), x._device)[0]
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if len(shifts) == 1 and len(axes) > 1:
        shifts = shifts * len(axes)
    if len(shifts) != len(axes):
        raise ValueError("shift and axis must have the same length")
    pairs = tuple((normalize_axis(a, x.ndim), operator.index(s)) for a, s in zip(axes, shifts))
    return run(_roll_rule, (("shifts", pairs), ("flat", False)), (x,), x._device)[0]


def _tile_rule(b: Builder, x: Value, *, reps: tuple[int, ...]) -> Value:
    ndim = builtins.max(len(reps), x.ndim)
    reps = (1,) * (ndim - len(reps)) + reps
    x = b.reshape(x, (1,) * (ndim - x.ndim) + x.shape)
    # Broadcast to (r0, d0, r1, d1, ...) then merge each pair.
    inter = tuple(v for r, d in zip(reps, x.shape) for v in (r, d))
    dims = [2 * i + 1 for i in range(ndim)]
    return b.reshape(b.broadcast_in_dim(x, inter, dims), tuple(r * d for r, d in zip(reps, x.shape)))


def tile(x: Any, repetitions: tuple[int, ...], /) -> Array:
    """Repeat ``x`` as a whole along each axis."""
    x = check_array(x)
    reps = shape_arg(repetitions, "repetitions")
    padded = (1,) * (x.ndim - len(reps)) + reps
    full = (1,) * (len(reps) - x.ndim) + x.shape
    check_size(tuple(r * d for r, d in zip(padded, full)), x.dtype, "repetitions", x._device)
    return run(_tile_rule, (("reps", reps),), (x,), x._device)[0]


def _repeat_rule(b: Builder, x: Value, *, axis: int | None, count: int) -> Value:
    if axis is None:
        x = b.reshape(x, (math.prod(x.shape),))
        axis = 0
    # Each element repeated ``count`` times: broadcast a new axis after ``axis`` and merge.
    inter = x.shape[:axis + 1] + (count,) + x.shape[axis + 1:]
    dims = [i if i <= axis else i + 1 for i in range(x.ndim)]
    out = x.shape[:axis] + (x.shape[axis] * count,) + x.shape[axis + 1:]
    return b.reshape(b.broadcast_in_dim(x, inter, dims), out)


def repeat(x: Any, repeats: Any, /, *, axis: int | None = None) -> Array:
    """Repeat each element ``repeats`` times (an int, or one count per element along ``axis``)."""
    x = check_array(x)
    if axis is not None:
        axis = normalize_axis(axis, x.ndim)
    if isinstance(repeats, Array):
        if not _dtypes.is_integer(repeats.dtype):
            raise TypeError(f"repeats must be an integer array, got {repeats.dtype}")
        if repeats.ndim == 0:
            repeats = int(repeats)
        else:
            return _repeat_array(x, repeats, axis)
    count = count_arg(repeats, "repeats")
    check_size((count, *(x.shape if axis is not None else (x.size,))), x.dtype, "repeats", x._device)
    return run(_repeat_rule, (("axis", axis), ("count", count)), (x,), x._device)[0]


def _repeat_array(x: Array, repeats: Array, axis: int | None) -> Array:
    """Per-element repeats: the output length depends on the data, so the counts are read to the host,
    and the source position of every output element is worked out there: one gather on the device
    (one program to compile for a new shape, where a cumsum/searchsorted pipeline took four)."""
    refuse_traced("repeat with an array of repeats", "the output length depends on the repeat counts",
                  x, repeats)
    from .creation import asarray
    from .indexing import take
    n = x.size if axis is None else x.shape[axis]
    if repeats.ndim != 1 or repeats.shape[0] not in (1, n):
        raise ValueError(f"repeats of shape {repeats.shape} does not match {n} elements")
    if repeats.shape[0] == 1:
        return repeat(x, int(repeats[0]), axis=axis)
    counts = np.asarray(repeats).tolist()
    if builtins.min(counts, default=0) < 0:
        raise ValueError("repeats must be non-negative")
    length = builtins.sum(counts)  # Python ints: a total beyond int64 is refused, not wrapped
    check_size((length, *(() if axis is None else x.shape[:axis] + x.shape[axis + 1:])), x.dtype, "repeats",
               x._device)
    index = asarray(np.repeat(np.arange(n, dtype=np.int64), counts), device=x._device)
    if axis is None:
        return take(reshape(x, (x.size,)), index, axis=0)
    return take(x, index, axis=axis)
