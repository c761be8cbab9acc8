"""Indexing: ``x[key]``, ``x[key] = value``, ``take`` and ``take_along_axis``.

A key is first normalized on the host into a hashable plan:

- basic parts (integers, slices of any step, ``None``, ``...``) become one
  program: a static slice, a ``dynamic_slice`` for the integers (whose values
  are 0-d operands, so ``x[i]`` in a loop compiles once), a reverse for
  negative steps and a reshape;
- integer arrays (broadcast together, numpy's placement rules) and boolean
  masks (turned into integer arrays by ``nonzero``, which reads the count to
  the host) become one gather over the flattened advanced axes.

Integers out of range raise ``IndexError`` on the host.  Integer *array*
entries out of range are clamped, as in XLA (checking them would need a
device-to-host read on every indexing operation).

``x[key] = value`` is a functional update: the flat positions selected by
``key`` are found by indexing an iota of ``x``'s shape with the same key,
and ``value`` is scattered there; the Array is then rebound to the result.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from .. import _dtypes
from .._array import Array
from .._dispatch import run
from ._axes import normalize_axis
from ._builder import Builder, Value, tensor_type
from ._lower import broadcast, broadcast_shapes, constant, convert, i64_array
from ._operands import check_array, same_device, scalar_array
from .manipulation import reshape_value, transpose_value

__all__ = ["take", "take_along_axis"]

_INDEX = np.dtype("int64")
_BOOL = np.dtype(bool)


# -- gathers and scatters -------------------------------------------------------------------------

def take_rows(b: Builder, x: Value, idx: Value) -> Value:
    """``x[idx]`` along axis 0 for integer ``idx`` of any shape (clamped to the bounds)."""
    rest = x.shape[1:]
    shape = idx.shape + rest
    if x.shape[0] == 0:  # nothing to gather from; callers reject non-empty indices
        return constant(b, 0, x.dtype, shape)
    offset = list(range(idx.ndim, idx.ndim + len(rest)))
    return b.op(f'"stablehlo.gather"({x.name}, {idx.name}) {{dimension_numbers = #stablehlo.gather<'
                f"offset_dims = [{', '.join(map(str, offset))}], collapsed_slice_dims = [0], start_index_map = [0], "
                f"index_vector_dim = {idx.ndim}>, slice_sizes = {i64_array((1,) + rest)}, indices_are_sorted = false}} : "
                f"({x.type}, {idx.type}) -> {tensor_type(shape, x.dtype)}", shape, x.dtype)


def _wrap_negative(b: Builder, idx: Value, size: int) -> Value:
    """Negative indices count from the end of an axis of ``size``."""
    idx = convert(b, idx, _INDEX)
    zero = b.op(f"stablehlo.constant dense<0> : {idx.type}", idx.shape, _INDEX)
    n = b.op(f"stablehlo.constant dense<{size}> : {idx.type}", idx.shape, _INDEX)
    neg = b.op(f"stablehlo.compare LT, {idx.name}, {zero.name} : ({idx.type}, {idx.type}) -> "
               f"{tensor_type(idx.shape, _BOOL)}", idx.shape, _BOOL)
    shifted = b.op(f"stablehlo.add {idx.name}, {n.name} : {idx.type}", idx.shape, _INDEX)
    return b.op(f"stablehlo.select {neg.name}, {shifted.name}, {idx.name} : {neg.type}, {idx.type}",
                idx.shape, _INDEX)


def _scatter_rule(b: Builder, x: Value, positions: Value, value: Value) -> Value:
    n = math.prod(x.shape)
    flat = reshape_value(b, x, (n,))
    k = math.prod(positions.shape)
    pos = reshape_value(b, positions, (k,))
    upd = reshape_value(b, broadcast(b, convert(b, value, x.dtype), positions.shape), (k,))
    region = b.region([((), x.dtype), ((), x.dtype)], lambda r, a: [a[1]])
    out = b.op(f'"stablehlo.scatter"({flat.name}, {pos.name}, {upd.name}) {region} {{scatter_dimension_numbers = '
               f"#stablehlo.scatter<inserted_window_dims = [0], scatter_dims_to_operand_dims = [0], "
               f"index_vector_dim = 1>, indices_are_sorted = false, unique_indices = false}} : "
               f"({flat.type}, {pos.type}, {upd.type}) -> {flat.type}", (n,), x.dtype)
    return reshape_value(b, out, x.shape)


# -- key normalization --------------------------------------------------------------------------------

def _is_int(k: Any) -> bool:
    return isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_))


def _as_index_array(k: Any, x: Array) -> Array | np.ndarray | None:
    """Index arrays: device Arrays as they are, host ones as numpy (checked on the host
    later); None for basic parts."""
    if isinstance(k, Array):
        if not (_dtypes.is_integer(k.dtype) or k.dtype == _BOOL):
            raise IndexError(f"arrays used as indices must be of integer or boolean type, not {k.dtype}")
        if k._device != x._device and k._sharding is None and x._sharding is None:
            raise ValueError(f"index array is on {k._device!r}, the indexed array on {x._device!r}")
        return k
    if isinstance(k, (list, np.ndarray, np.bool_, bool)):
        value = np.asarray(k)
        if value.dtype != np.bool_ and not np.issubdtype(value.dtype, np.integer):
            if value.size:
                raise IndexError(f"arrays used as indices must be of integer or boolean type, not {value.dtype}")
            value = value.astype(np.int64)
        return value
    return None


def _is_array(p: Any) -> bool:
    return isinstance(p, (Array, np.ndarray))


def _is_mask(p: Any) -> bool:
    return _is_array(p) and p.dtype == _BOOL


def _expand_key(x: Array, key: Any) -> list[Any]:
    """The key as a list with ``...`` expanded and every entry checked."""
    if not isinstance(key, tuple):
        key = (key,)
    ellipses = sum(1 for k in key if k is Ellipsis)
    if ellipses > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    parts: list[Any] = []
    for k in key:
        if k is None or k is Ellipsis or isinstance(k, slice) or _is_int(k):
            parts.append(operator.index(k) if _is_int(k) else k)
            continue
        if isinstance(k, Array) and k.ndim == 0 and _dtypes.is_integer(k.dtype):
            parts.append(k)  # a 0-d integer array acts like an integer
            continue
        arr = _as_index_array(k, x)
        if arr is None:
            raise IndexError(f"only integers, slices, ellipsis, None and integer or boolean arrays are valid "
                             f"indices, not {type(k).__name__}")
        parts.append(arr)
    consumed = sum(p.ndim if _is_mask(p) else 1 for p in parts if p is not None and p is not Ellipsis)
    if consumed > x.ndim:
        raise IndexError(f"too many indices for an array of dimension {x.ndim}")
    if any(p is Ellipsis for p in parts):
        i = next(i for i, p in enumerate(parts) if p is Ellipsis)
        parts[i:i + 1] = [slice(None)] * (x.ndim - consumed)
    else:
        parts += [slice(None)] * (x.ndim - consumed)
    return parts


# -- basic indexing -------------------------------------------------------------------------------------

def _basic_rule(b: Builder, x: Value, *ints: Value, plan: tuple) -> Value:
    """``plan``: per input axis ("int", size) | ("slice", start, stop, step); plus ("new",) markers."""
    axes = [p for p in plan if p[0] != "new"]
    if ints:
        # Dynamic integer indices: one dynamic_slice of size 1 on those axes.
        starts, it = [], iter(ints)
        for p in axes:
            starts.append(_wrap_negative(b, next(it), p[1]) if p[0] == "int" else
                          b.op(f"stablehlo.constant dense<0> : {tensor_type((), _INDEX)}", (), _INDEX))
        sizes = [1 if p[0] == "int" else d for p, d in zip(axes, x.shape)]
        x = b.op(f"stablehlo.dynamic_slice {x.name}, {', '.join(s.name for s in starts)}, "
                 f"sizes = [{', '.join(map(str, sizes))}] : ({x.type}, {', '.join(s.type for s in starts)}) -> "
                 f"{tensor_type(sizes, x.dtype)}", tuple(sizes), x.dtype)
    start, limit, strides, reverse = [], [], [], []
    for i, (p, d) in enumerate(zip(axes, x.shape)):
        if p[0] == "int":
            start.append(0), limit.append(1), strides.append(1)
            continue
        lo, hi, step = p[1], p[2], p[3]
        if step < 0:
            reverse.append(i)
            # Reverse the axis first, then take the mirrored positive slice.
            lo, hi, step = d - 1 - lo, d - 1 - hi, -step
        start.append(lo), limit.append(max(hi, lo)), strides.append(step)
    if reverse:
        x = b.op(f"stablehlo.reverse {x.name}, dims = [{', '.join(map(str, reverse))}] : {x.type}", x.shape, x.dtype)
    from .manipulation import slice_value
    x = slice_value(b, x, start, limit, strides)
    out_shape, it = [], iter(x.shape)
    for p in plan:
        if p[0] == "new":
            out_shape.append(1)
        elif p[0] == "int":
            next(it)
        else:
            out_shape.append(next(it))
    return reshape_value(b, x, out_shape)


def _slice_entry(p: slice, size: int) -> tuple[str, int, int, int]:
    """``("slice", start, stop, step)`` of ``p`` on an axis of ``size``.  A step of at least the
    length selects one element, so it is capped there (a huge step would not fit the program)."""
    lo, hi, step = p.indices(size)
    step = min(step, max(size, 1)) if step > 0 else max(step, -max(size, 1))
    return ("slice", lo, hi, step)


def _basic_plan(x: Array, parts: list[Any]) -> tuple[tuple, list[Array]]:
    plan, ints, axis = [], [], 0
    for p in parts:
        if p is None:
            plan.append(("new",))
            continue
        size = x.shape[axis]
        if isinstance(p, slice):
            plan.append(_slice_entry(p, size))
        elif isinstance(p, Array):
            plan.append(("int", size))
            ints.append(p)
        else:
            if not -size <= p < size:
                raise IndexError(f"index {p} is out of bounds for axis {axis} with size {size}")
            plan.append(("int", size))
            ints.append(scalar_array(p % size, _INDEX, x._device))
        axis += 1
    return tuple(plan), ints


# -- advanced indexing -----------------------------------------------------------------------------------

def _advanced_rule(b: Builder, x: Value, *idx: Value, axes: tuple[int, ...], front: bool) -> Value:
    """Gather with integer arrays ``idx`` on ``axes`` of ``x`` (other axes already sliced)."""
    shape = broadcast_shapes(*(i.shape for i in idx))
    rest = [a for a in range(x.ndim) if a not in axes]
    moved = transpose_value(b, x, list(axes) + rest)
    adv_sizes = [x.shape[a] for a in axes]
    flat_n = math.prod(adv_sizes)
    moved = reshape_value(b, moved, (flat_n,) + tuple(x.shape[a] for a in rest))
    linear = None
    stride = flat_n
    for i, size in zip(idx, adv_sizes):
        stride //= size if size else 1
        k = broadcast(b, _wrap_negative(b, i, size), shape)
        if stride != 1:
            s = b.op(f"stablehlo.constant dense<{stride}> : {k.type}", shape, _INDEX)
            k = b.op(f"stablehlo.multiply {k.name}, {s.name} : {k.type}", shape, _INDEX)
        linear = k if linear is None else b.op(f"stablehlo.add {linear.name}, {k.name} : {k.type}", shape, _INDEX)
    out = take_rows(b, moved, linear)
    if front:
        return out
    # Adjacent advanced axes: the index dims replace them in place.
    first = axes[0]
    n_idx = len(shape)
    perm = list(range(n_idx, n_idx + first)) + list(range(n_idx)) + list(range(n_idx + first, out.ndim))
    return transpose_value(b, out, perm)


def _getitem_advanced(x: Array, parts: list[Any]) -> Array:
    # Boolean masks become integer arrays (their shape depends on the data).
    expanded: list[Any] = []
    axis = 0
    for p in parts:
        if _is_mask(p) and p.ndim and math.prod(p.shape) == 0 and all(
                k in (d, 0) for k, d in zip(p.shape, x.shape[axis:axis + p.ndim])):
            # An empty mask whose sizes match or are 0 selects nothing from its axes (as numpy).
            expanded.extend([np.zeros(0, np.int64)] * p.ndim)
            axis += p.ndim
            continue
        if _is_mask(p) and p.ndim and tuple(p.shape) != x.shape[axis:axis + p.ndim]:
            raise IndexError(f"boolean index of shape {tuple(p.shape)} does not match the indexed array's "
                             f"axes {axis}..{axis + p.ndim - 1} of shape {x.shape[axis:axis + p.ndim]}")
        axis += 0 if p is None else (p.ndim if _is_mask(p) else 1)
        if _is_mask(p) and p.ndim:
            if isinstance(p, np.ndarray):
                expanded.extend(np.nonzero(p))  # a host mask is resolved on the host
            else:
                from .searching import nonzero
                expanded.extend(nonzero(p))
        else:
            expanded.append(p)
    if any(_is_mask(p) for p in expanded):
        return _getitem_scalar_masks(x, expanded)
    # Basic parts first (keeping every axis), then one gather for the integer arrays.
    basic, adv_axes, arrays, axis, out_axis = [], [], [], 0, 0
    for p in expanded:
        if p is None:
            basic.append(None)
            out_axis += 1
        elif _is_array(p) and p.ndim > 0:
            basic.append(slice(None))
            adv_axes.append(out_axis)
            arrays.append(_device_index(p, x, axis))
            axis += 1
            out_axis += 1
        elif isinstance(p, Array) or isinstance(p, int):
            # an integer next to arrays: it is an advanced index of shape ()
            basic.append(slice(None))
            adv_axes.append(out_axis)
            arrays.append(p if isinstance(p, Array) else scalar_array(_check_int(p, x.shape[axis], axis),
                                                                      _INDEX, x._device))
            axis += 1
            out_axis += 1
        else:
            basic.append(p)
            axis += 1
            out_axis += 1
    sliced = getitem(x, tuple(basic))
    try:
        broadcast_shapes(*(a.shape for a in arrays))
    except ValueError:
        raise IndexError("shape mismatch: indexing arrays could not be broadcast together with shapes "
                         + " ".join(str(a.shape) for a in arrays)) from None
    adjacent = adv_axes == list(range(adv_axes[0], adv_axes[0] + len(adv_axes)))
    params = (("axes", tuple(adv_axes)), ("front", not adjacent))
    return run(_advanced_rule, params, (sliced, *arrays), same_device(x, *arrays))[0]


def _getitem_scalar_masks(x: Array, parts: list[Any]) -> Array:
    """Keys with 0-d booleans: each is a new axis indexed by ``[0]`` (True) or ``[]`` (False).

    The new axes are made first, then indexed in a second step; the other parts go
    to the first step (exact numpy placement when they are basic or integers).
    """
    first_key, new_axes, out_axis = [], [], 0
    for p in parts:
        if _is_mask(p):
            new_axes.append((out_axis, bool(p)))
            first_key.append(None)
            out_axis += 1
        else:
            first_key.append(p)
            out_axis += 0 if isinstance(p, int) else 1
    y = getitem(x, tuple(first_key))
    keep = all(flag for _, flag in new_axes)
    second = [slice(None)] * y.ndim
    for pos, _ in new_axes:
        second[pos] = np.zeros(1 if keep else 0, np.int64)
    return getitem(y, tuple(second))


def _device_index(p: Array | np.ndarray, x: Array, axis: int) -> Array:
    """An integer index array on ``x``'s device; host arrays are bounds-checked first."""
    if isinstance(p, Array):
        return p
    size = x.shape[axis]
    if p.size and (p.min() < -size or p.max() >= size):
        bad = p[(p < -size) | (p >= size)].flat[0]
        raise IndexError(f"index {bad} is out of bounds for axis {axis} with size {size}")
    from .creation import asarray
    return asarray(p.astype(np.int64, copy=False), device=x._device)


def _check_int(i: int, size: int, axis: int) -> int:
    if not -size <= i < size:
        raise IndexError(f"index {i} is out of bounds for axis {axis} with size {size}")
    return i


# Basic keys (Python ints, slices of ints, None, ...) by (shape, key form): the plan, and the key
# positions of the integers with their axis sizes (their values are operands, checked per call).
_plans: dict[tuple, tuple[tuple, tuple[tuple[int, int, int], ...], bool]] = {}
_PLANS_SIZE = 1024
_SLICE_PART = (int, type(None))


def _key_form(key: Any) -> tuple | None:
    """A hashable form of a basic key in which every int is ``0``; None for any other key."""
    form = []
    for k in key if type(key) is tuple else (key,):
        kind = type(k)
        if kind is int:
            form.append(0)
        elif kind is slice and type(k.start) in _SLICE_PART and type(k.stop) in _SLICE_PART \
                and type(k.step) in _SLICE_PART:
            form.append((k.start, k.stop, k.step))
        elif k is None or k is Ellipsis:
            form.append(k)
        else:
            return None
    return tuple(form)


def _cached_plan(x: Array, key: Any, form: tuple) -> tuple[tuple, tuple[tuple[int, int, int], ...], bool]:
    cache_key = (x.shape, form)
    entry = _plans.get(cache_key)
    if entry is None:
        parts = _expand_key(x, key)
        plan, axis, ints = [], 0, []
        for p in parts:
            if p is None:
                plan.append(("new",))
                continue
            size = x.shape[axis]
            if isinstance(p, slice):
                plan.append(_slice_entry(p, size))
            else:
                plan.append(("int", size))
                ints.append(axis)
            axis += 1
        whole = len(plan) == x.ndim and all(p[0] == "slice" and p[1:] == (0, d, 1) for p, d in zip(plan, x.shape))
        # Which entries of the key are the ints, and the axis (and its size) each indexes.
        positions = [i for i, f in enumerate(form) if type(f) is int]
        entry = (tuple(plan), tuple((i, a, x.shape[a]) for i, a in zip(positions, ints)), whole)
        if len(_plans) >= _PLANS_SIZE:
            _plans.clear()
        _plans[cache_key] = entry
    return entry


def getitem(x: Array, key: Any) -> Array:
    """``x[key]`` (bound to ``Array.__getitem__``)."""
    form = _key_form(key)
    if form is not None and form.count(Ellipsis) <= 1:
        plan, positions, whole = _cached_plan(x, key, form)
        if whole:
            return x
        keys = key if type(key) is tuple else (key,)
        ints = []
        for i, axis, size in positions:
            k = keys[i]
            if not -size <= k < size:
                raise IndexError(f"index {k} is out of bounds for axis {axis} with size {size}")
            ints.append(scalar_array(k % size, _INDEX, x._device))
        return run(_basic_rule, (("plan", plan),), (x, *ints), x._device)[0]
    parts = _expand_key(x, key)
    if any(_is_array(p) and (p.ndim > 0 or p.dtype == _BOOL) for p in parts):
        return _getitem_advanced(x, parts)
    plan, ints = _basic_plan(x, parts)
    if all(p[0] == "slice" and p[1:] == (0, d, 1) for p, d in zip(plan, x.shape)) and len(plan) == x.ndim:
        return x
    return run(_basic_rule, (("plan", plan),), (x, *ints), x._device)[0]


def setitem(x: Array, key: Any, value: Any) -> Array:
    """The array ``x`` with ``x[key] = value`` applied (bound to ``Array.__setitem__``)."""
    from .creation import arange
    if isinstance(value, (bool, int, float, complex)):
        value = scalar_array(_dtypes.cast_scalar(value, x.dtype, "value"), x.dtype, x._device)
    elif isinstance(value, np.ndarray):
        from .creation import asarray
        value = asarray(value, device=x._device)
    value = check_array(value, "value")
    same_device(x, value)
    positions = getitem(reshape(arange(x.size, device=x._device), x.shape), key)
    try:
        broadcast_shapes(value.shape, positions.shape)
        if broadcast_shapes(value.shape, positions.shape) != positions.shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"could not broadcast a value of shape {value.shape} to the indexed shape "
                         f"{positions.shape}") from None
    if positions.size == 0:
        return x
    return run(_scatter_rule, (), (x, positions, value), x._device)[0]


def reshape(x: Array, shape: tuple[int, ...]) -> Array:
    from .manipulation import reshape as _reshape
    return _reshape(x, shape)


# -- take ---------------------------------------------------------------------------------------------------

def _take_rule(b: Builder, x: Value, idx: Value, *, axis: int) -> Value:
    moved = transpose_value(b, x, [axis] + [a for a in range(x.ndim) if a != axis])
    out = take_rows(b, moved, _wrap_negative(b, idx, x.shape[axis]))
    perm = list(range(idx.ndim, idx.ndim + axis)) + list(range(idx.ndim)) + list(range(idx.ndim + axis, out.ndim))
    return transpose_value(b, out, perm)


def take(x: Any, indices: Any, /, *, axis: int | None = None) -> Array:
    """Elements of ``x`` at integer ``indices`` along ``axis`` (required unless ``x`` is 1-D)."""
    x = check_array(x)
    indices = check_array(indices, "indices")
    if not _dtypes.is_integer(indices.dtype):
        raise TypeError(f"indices must be an integer array, got {indices.dtype}")
    if axis is None:
        if x.ndim != 1:
            raise ValueError("take needs axis= for arrays of more than one dimension")
        axis = 0
    axis = normalize_axis(axis, x.ndim)
    if x.shape[axis] == 0 and indices.size:
        raise IndexError("cannot take from an empty axis")
    return run(_take_rule, (("axis", axis),), (x, indices), same_device(x, indices))[0]


def _take_along_rule(b: Builder, x: Value, idx: Value, *, axis: int) -> Value:
    shape = tuple(idx.shape[a] if a == axis else broadcast_shapes((x.shape[a],), (idx.shape[a],))[0]
                  for a in range(x.ndim))
    idx_full = broadcast(b, _wrap_negative(b, idx, x.shape[axis]), shape)
    linear, stride = None, math.prod(x.shape)
    for a, size in enumerate(x.shape):
        stride //= size if size else 1
        if a == axis:
            k = idx_full
        else:
            k = b.op(f"stablehlo.iota dim = {a} : {tensor_type(shape, _INDEX)}", shape, _INDEX)
        if stride != 1:
            s = b.op(f"stablehlo.constant dense<{stride}> : {k.type}", shape, _INDEX)
            k = b.op(f"stablehlo.multiply {k.name}, {s.name} : {k.type}", shape, _INDEX)
        linear = k if linear is None else b.op(f"stablehlo.add {linear.name}, {k.name} : {k.type}", shape, _INDEX)
    flat = reshape_value(b, x, (math.prod(x.shape),))
    return take_rows(b, flat, linear)


def take_along_axis(x: Any, indices: Any, /, *, axis: int = -1) -> Array:
    """Elements of ``x`` picked along ``axis`` by ``indices`` (same rank, broadcast elsewhere)."""
    x = check_array(x)
    indices = check_array(indices, "indices")
    if not _dtypes.is_integer(indices.dtype):
        raise TypeError(f"indices must be an integer array, got {indices.dtype}")
    if indices.ndim != x.ndim:
        raise ValueError(f"indices must have the rank of x ({x.ndim}), got {indices.ndim}")
    axis = normalize_axis(axis, x.ndim)
    for a in range(x.ndim):
        if a != axis:
            broadcast_shapes((x.shape[a],), (indices.shape[a],))
    return run(_take_along_rule, (("axis", axis),), (x, indices), same_device(x, indices))[0]
