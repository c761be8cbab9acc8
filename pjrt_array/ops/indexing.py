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

The result of basic indexing is a view of ``x`` (``_views``).

``x[key] = value`` writes into ``x``'s base (``_mutation``): a basic key is a
region of the base, written by one ``dynamic_update_slice`` (or a strided
scatter) whose cost follows the region; an advanced key scatters into the
value of ``x`` at the flat positions found by indexing an iota of ``x``'s
shape with the same key, and that value is written back.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Sequence

import numpy as np

from .. import _dtypes, _mutation, _traced_views, _views
from .._array import Array
from .._dispatch import run
from .._tracing import refuse_traced
from ._axes import normalize_axis
from ._builder import Builder, Value
from ._lower import broadcast, broadcast_shapes, const_like
from ._operands import check_array, follow, on_one_device, scalar_array

__all__ = ["take", "take_along_axis"]

_INDEX = np.dtype("int64")
_BOOL = np.dtype(bool)


# -- gathers and scatters -------------------------------------------------------------------------

def take_rows(b: Builder, x: Value, idx: Value) -> Value:
    """``x[idx]`` along axis 0 for integer ``idx`` of any shape (clamped to the bounds)."""
    rest = x.shape[1:]
    shape = idx.shape + rest
    if x.shape[0] == 0:  # nothing to gather from; callers reject non-empty indices
        return b.constant(0, x.dtype, shape)
    return b.gather(x, idx, offset_dims=range(idx.ndim, idx.ndim + len(rest)), collapsed_slice_dims=[0],
                    start_index_map=[0], index_vector_dim=idx.ndim, slice_sizes=(1,) + rest)


def _wrap_negative(b: Builder, idx: Value, size: int) -> Value:
    """Negative indices count from the end of an axis of ``size``."""
    idx = b.convert(idx, _INDEX)
    negative = b.compare(idx, const_like(b, 0, idx), "LT")
    return b.select(negative, b.add(idx, const_like(b, size, idx)), idx)


def _linear_index(b: Builder, coords: list[Value], sizes: tuple[int, ...] | list[int]) -> Value:
    """The row-major flat position of ``coords`` (one index array per axis of ``sizes``, one shape)."""
    terms, stride = [], math.prod(sizes)
    for k, size in zip(coords, sizes):
        stride //= size if size else 1
        terms.append(k if stride == 1 else b.multiply(k, const_like(b, stride, k)))
    linear = terms[0]
    for k in terms[1:]:
        linear = b.add(linear, k)
    return linear


def _scatter_rule(b: Builder, x: Value, positions: Value, value: Value) -> Value:
    n = math.prod(x.shape)
    flat = b.reshape(x, (n,))
    k = math.prod(positions.shape)
    pos = b.reshape(positions, (k,))
    upd = b.reshape(broadcast(b, b.convert(value, x.dtype), positions.shape), (k,))
    out = b.scatter(flat, pos, upd, lambda r, a: [a[1]], update_window_dims=(), inserted_window_dims=[0],
                    scatter_dims_to_operand_dims=[0], index_vector_dim=1)
    return b.reshape(out, x.shape)


# -- key normalization --------------------------------------------------------------------------------

def _is_int(k: Any) -> bool:
    return isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_))


def _as_index_array(k: Any, x: Array) -> Array | np.ndarray | None:
    """Index arrays: device Arrays as they are, host ones as numpy (checked on the host
    later); None for basic parts."""
    if isinstance(k, Array):
        if not (_dtypes.is_integer(k.dtype) or k.dtype == _BOOL):
            raise IndexError(f"arrays used as indices must be of integer or boolean type, not {k.dtype}")
        if (k._device != x._device and k._device.committed and x._device.committed
                and k._sharding is None and x._sharding is None):
            raise ValueError(f"the index array and the indexed array are on different devices ({k._device!r} "
                             f"and {x._device!r}); move one with to_device() first")
        return k  # (an uncommitted one joins the gather's device: ``on_one_device``)
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
    """``plan``: per input axis ("int", size) (a runtime index, one of ``ints``) | ("at", i) (a
    known index) | ("slice", start, stop, step); plus ("new",) markers."""
    axes = [p for p in plan if p[0] != "new"]
    if ints:
        # Dynamic integer indices: one dynamic_slice of size 1 on those axes.
        it, zero = iter(ints), b.constant(0, _INDEX)
        starts = [_wrap_negative(b, next(it), p[1]) if p[0] == "int" else zero for p in axes]
        sizes = [1 if p[0] == "int" else d for p, d in zip(axes, x.shape)]
        x = b.dynamic_slice(x, starts, sizes)
    bounds: list[tuple[int, int, int]] = []  # (start, limit, stride) per axis
    reverse = []
    for i, (p, d) in enumerate(zip(axes, x.shape)):
        if p[0] == "int":
            bounds.append((0, 1, 1))
            continue
        if p[0] == "at":
            bounds.append((p[1], p[1] + 1, 1))
            continue
        lo, hi, step = p[1], p[2], p[3]
        if step < 0:
            reverse.append(i)
            # Reverse the axis first, then take the mirrored positive slice.
            lo, hi, step = d - 1 - lo, d - 1 - hi, -step
        bounds.append((lo, max(hi, lo), step))
    x = b.reverse(x, reverse)
    x = b.slice(x, [s for s, _, _ in bounds], [lim for _, lim, _ in bounds], [st for _, _, st in bounds])
    return b.reshape(x, basic_result_shape(plan, x.shape))


def basic_result_shape(plan: tuple, sliced: Sequence[int]) -> list[int]:
    """The shape of a basic index's result from the shape ``sliced`` of its slice of the operand:
    integer positions drop their axis, ``None`` adds one (shared with the host tier's version)."""
    out: list[int] = []
    sizes = iter(sliced)
    for p in plan:
        if p[0] == "new":
            out.append(1)
        elif p[0] in ("int", "at"):
            next(sizes)
        else:
            out.append(next(sizes))
    return out


def _known_ints(plan: tuple, at: dict[int, int]) -> tuple:
    """``plan`` with the integer index of each axis in ``at`` (axis -> position) made static."""
    out, axis = [], 0
    for p in plan:
        if p[0] != "new":
            if axis in at:
                p = ("at", at[axis])
            axis += 1
        out.append(p)
    return tuple(out)


def _slice_entry(p: slice, size: int) -> tuple[str, int, int, int]:
    """``("slice", start, stop, step)`` of ``p`` on an axis of ``size``.  A step of at least the
    length selects one element, so it is capped there (a huge step would not fit the program)."""
    lo, hi, step = p.indices(size)
    step = min(step, max(size, 1)) if step > 0 else max(step, -max(size, 1))
    return ("slice", lo, hi, step)


def _plan_of(x: Array, parts: list[Any]) -> tuple[tuple, list[tuple[int, Any]]]:
    """The static plan of basic ``parts``, and (its axis, the part) for each integer part."""
    plan: list[tuple] = []
    ints: list[tuple[int, Any]] = []
    axis = 0
    for p in parts:
        if p is None:
            plan.append(("new",))
            continue
        size = x.shape[axis]
        if isinstance(p, slice):
            plan.append(_slice_entry(p, size))
        else:
            plan.append(("int", size))
            ints.append((axis, p))
        axis += 1
    return tuple(plan), ints


def _basic_plan(x: Array, parts: list[Any]) -> tuple[tuple, list[Array]]:
    plan, ints = _plan_of(x, parts)
    return plan, [p if isinstance(p, Array) else
                  scalar_array(_check_int(p, x.shape[a], a) % x.shape[a], _INDEX, x._device) for a, p in ints]


# -- advanced indexing -----------------------------------------------------------------------------------

def _advanced_rule(b: Builder, x: Value, *idx: Value, axes: tuple[int, ...], front: bool) -> Value:
    """Gather with integer arrays ``idx`` on ``axes`` of ``x`` (other axes already sliced)."""
    shape = broadcast_shapes(*(i.shape for i in idx))
    rest = [a for a in range(x.ndim) if a not in axes]
    moved = b.transpose(x, list(axes) + rest)
    adv_sizes = [x.shape[a] for a in axes]
    flat_n = math.prod(adv_sizes)
    moved = b.reshape(moved, (flat_n,) + tuple(x.shape[a] for a in rest))
    coords = [broadcast(b, _wrap_negative(b, i, size), shape) for i, size in zip(idx, adv_sizes)]
    out = take_rows(b, moved, _linear_index(b, coords, adv_sizes))
    if front:
        return out
    # Adjacent advanced axes: the index dims replace them in place.
    first = axes[0]
    n_idx = len(shape)
    perm = list(range(n_idx, n_idx + first)) + list(range(n_idx)) + list(range(n_idx + first, out.ndim))
    return b.transpose(out, perm)


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
            if isinstance(p, Array):
                refuse_traced("boolean-mask indexing", "the number of selected elements depends on the mask "
                              "(use where(mask, x, fill) to keep the shape)", x, p)
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
    basic: list[Any] = []
    adv_axes, arrays, axis, out_axis = [], [], 0, 0
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
    device, operands = on_one_device(sliced, *arrays)
    return run(_advanced_rule, params, operands, device)[0]


def _getitem_scalar_masks(x: Array, parts: list[Any]) -> Array:
    """Keys with 0-d booleans: each is a new axis indexed by ``[0]`` (True) or ``[]`` (False).

    The new axes are made first, then indexed in a second step; the other parts go
    to the first step (exact numpy placement when they are basic or integers).
    """
    first_key: list[Any] = []
    new_axes, out_axis = [], 0
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
    second: list[Any] = [slice(None)] * y.ndim
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
    form: list[Any] = []
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
        plan, int_parts = _plan_of(x, _expand_key(x, key))
        ints = [a for a, _ in int_parts]
        whole = len(plan) == x.ndim and all(p[0] == "slice" and p[1:] == (0, d, 1) for p, d in zip(plan, x.shape))
        # Which entries of the key are the ints, and the axis (and its size) each indexes.
        positions = [i for i, f in enumerate(form) if type(f) is int]
        entry = (plan, tuple((i, a, x.shape[a]) for i, a in zip(positions, ints)), whole)
        if len(_plans) >= _PLANS_SIZE:
            _plans.clear()
        _plans[cache_key] = entry
    return entry


_INT_FORM = (0,)


# shape -> (the parameters of ``x[i]`` for an int ``i``, the size of axis 0): filled by the first
# successful ``x[i]`` on an Array of that shape, so a later one skips the key's analysis.
_int_keys: dict[tuple[int, ...], tuple[tuple, int]] = {}


def getitem(x: Array, key: Any) -> Array:
    """``x[key]`` (bound to ``Array.__getitem__``)."""
    if type(key) is int:
        found = _int_keys.get(x._aval[0])
        if found is not None and not x._traced:
            params, size = found
            if -size <= key < size:
                out = run(_basic_rule, params, (x, scalar_array(key % size, _INDEX, x._device)), x._device)[0]
                return _views.attach(out, x, "key", key)
    form = _INT_FORM if type(key) is int else _key_form(key)
    if form is not None and form.count(Ellipsis) <= 1:
        plan, positions, whole = _cached_plan(x, key, form)
        if whole:
            return x
        keys = key if type(key) is tuple else (key,)
        for i, axis, size in positions:
            k = keys[i]
            if not -size <= k < size:
                raise IndexError(f"index {k} is out of bounds for axis {axis} with size {size}")
        if x._traced:
            # Inside a trace the ints are part of the program anyway: static slices, which XLA
            # compiles to plain copies (runtime indices keep eager programs shared across ints).
            plan = _known_ints(plan, {axis: keys[i] % size for i, axis, size in positions})
            ints = []
        else:
            ints = [scalar_array(keys[i] % size, _INDEX, x._device) for i, _, size in positions]
            if form is _INT_FORM:
                if len(_int_keys) >= _PLANS_SIZE:
                    _int_keys.clear()
                _int_keys[x._aval[0]] = ((("plan", plan),), positions[0][2])
        out = run(_basic_rule, (("plan", plan),), (x, *ints), x._device)[0]
        return _views.attach(out, x, "key", key)  # the key is expanded only if the view is written
    parts = _expand_key(x, key)
    if _is_advanced(parts):
        return _getitem_advanced(x, parts)
    plan, ints = _basic_plan(x, parts)
    if all(p[0] == "slice" and p[1:] == (0, d, 1) for p, d in zip(plan, x.shape)) and len(plan) == x.ndim:
        return x
    out = run(_basic_rule, (("plan", plan),), (x, *ints), x._device)[0]
    return _views.attach(out, x, "index", parts)


def _is_advanced(parts: list[Any]) -> bool:
    return any(_is_array(p) and (p.ndim > 0 or p.dtype == _BOOL) for p in parts)


def setitem(x: Array, key: Any, value: Any) -> None:
    """``x[key] = value``, written into ``x`` (and so into its base; bound to ``Array.__setitem__``)."""
    value = _value_operand(x, value)
    if x._traced:
        _traced_views.setitem(x, key, value)
        return
    _traced_views.refuse_captured_write(x)
    parts = _expand_key(x, key)
    if _is_advanced(parts):
        _setitem_advanced(x, key, value)
        return
    spec = _views.spec_of(x).index(parts)
    _check_broadcast(value.shape, spec.shape)
    if math.prod(spec.shape) == 0:
        return
    _mutation.write_region(x, spec, value)


def _value_operand(x: Array, value: Any) -> Array:
    """The value of ``x[key] = value`` as an Array on ``x``'s device (Python scalars checked)."""
    if isinstance(value, (bool, int, float, complex)):
        value = scalar_array(_dtypes.cast_scalar(value, x.dtype, "value"), x.dtype, x._device)
    elif isinstance(value, np.ndarray):
        from .creation import asarray
        value = asarray(value, device=x._device)
    return follow(check_array(value, "value"), x._device, "value")


def _check_broadcast(value_shape: tuple[int, ...], target: tuple[int, ...]) -> None:
    try:
        if broadcast_shapes(value_shape, target) != target:
            raise ValueError
    except ValueError:
        raise ValueError(f"could not broadcast a value of shape {value_shape} to the indexed shape "
                         f"{target}") from None


def _setitem_advanced(x: Array, key: Any, value: Array) -> None:
    """``x[key] = value`` for a key with index arrays: a scatter into ``x``'s value."""
    from .creation import arange
    # x is written in place: committed index arrays elsewhere cannot join it (``follow``).
    positions = follow(getitem(reshape(arange(x.size, device=x._device), x.shape), key), x._device, "key")
    _check_broadcast(value.shape, positions.shape)
    if positions.size == 0:
        return
    base = _mutation.root(x)
    value = _mutation.readable(value, base)
    with _mutation.lock_of(base):
        if x is not base:
            new = run(_scatter_rule, (), (x, positions, value), x._device)[0]
            _mutation.write_region(x, _views.spec_of(x), new)
            return
        _mutation.write(base, lambda current, donate: run(
            _scatter_rule, (), (current, positions, value), x._device, donate=(0,) if donate else ())[0])


def reshape(x: Array, shape: tuple[int, ...]) -> Array:
    from .manipulation import reshape as _reshape
    return _reshape(x, shape)


# -- take ---------------------------------------------------------------------------------------------------

def _take_rule(b: Builder, x: Value, idx: Value, *, axis: int) -> Value:
    moved = b.transpose(x, [axis] + [a for a in range(x.ndim) if a != axis])
    out = take_rows(b, moved, _wrap_negative(b, idx, x.shape[axis]))
    perm = list(range(idx.ndim, idx.ndim + axis)) + list(range(idx.ndim)) + list(range(idx.ndim + axis, out.ndim))
    return b.transpose(out, perm)


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
    device, operands = on_one_device(x, indices)
    return run(_take_rule, (("axis", axis),), operands, device)[0]


def take_along_rule(b: Builder, x: Value, idx: Value, *, axis: int) -> Value:
    shape = tuple(idx.shape[a] if a == axis else broadcast_shapes((x.shape[a],), (idx.shape[a],))[0]
                  for a in range(x.ndim))
    idx_full = broadcast(b, _wrap_negative(b, idx, x.shape[axis]), shape)
    coords = [idx_full if a == axis else b.iota(shape, a, _INDEX) for a in range(x.ndim)]
    flat = b.reshape(x, (math.prod(x.shape),))
    return take_rows(b, flat, _linear_index(b, coords, x.shape))


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
    device, operands = on_one_device(x, indices)
    return run(take_along_rule, (("axis", axis),), operands, device)[0]
