"""Views: what basic indexing and transposes return, tied to the Array they came from.

A view keeps a buffer of its own, computed like any slice, so a view that is
never written costs what a slice costs.  Three slots tie it to its base:

- ``_base``: the root Array (a view of a view points at the root);
- ``_view``: where it sits in the base, first as ``(parent, kind, data)``
  (cheap to record: kind "key" (a raw basic key), "index" (an expanded one) or
  "permute"), turned into a :class:`Spec` the first time a write or a
  re-derivation needs it;
- ``_version``: the base's write counter when the buffer was derived.

Every write to a base bumps its ``_version``; a view whose ``_version`` is
behind re-derives its buffer from the base on its next read
(:func:`current_buffer`).  A write through a view is a write of a region of
the base (:func:`region_params` and :func:`region_rule`, used by
``_mutation``).  Because a view never shares its base's buffer, a base can be
written in place (donated) whatever views it has.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ._array import Array
    from ._pjrt import Buffer
    from .ops._builder import Builder, Value

__all__ = ["Marker", "BUSY", "Spec", "attach", "spec_of", "current_buffer", "region_params", "region_rule"]

_INDEX = np.dtype("int64")


class Marker:
    """A stand-in for a buffer that must not be used; any use raises ``RuntimeError``."""

    __slots__ = ("_why",)

    def __init__(self, why: str) -> None:
        self._why = why

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(self._why)

    def __repr__(self) -> str:
        return f"<{self._why}>"


#: A base's ``_buf`` while a writer replaces it: readers wait for the writer's lock.
BUSY = Marker("this array's buffer is being replaced by a write")
#: The ``_buf`` of an Array whose buffer went to another computation (donation).
DONATED = Marker("this array's buffer was donated to another computation and can no longer be read")


class Spec:
    """Where a view sits in its base.

    ``axes``: per base axis, an int (a fixed position) or ``(start, step, count)``;
    ``order``: per view axis, the base axis it walks, or None for a new axis;
    ``shape``: the view's shape (a new axis has length 1, or 0 once sliced empty).
    """

    __slots__ = ("axes", "order", "shape")

    def __init__(self, axes: tuple, order: tuple, shape: tuple[int, ...]) -> None:
        self.axes = axes
        self.order = order
        self.shape = shape

    @classmethod
    def whole(cls, shape: tuple[int, ...]) -> "Spec":
        return cls(tuple((0, 1, d) for d in shape), tuple(range(len(shape))), tuple(shape))

    def index(self, parts: list[Any]) -> "Spec":
        """The spec of ``view[parts]`` (parts: expanded basic key; ints in range, 0-d Arrays allowed)."""
        axes = list(self.axes)
        order: list[int | None] = []
        shape: list[int] = []
        walk = iter(enumerate(zip(self.order, self.shape)))
        for p in parts:
            if p is None:
                order.append(None)
                shape.append(1)
                continue
            k, (ax, size) = next(walk)
            if isinstance(p, slice):
                lo, hi, step = p.indices(size)
                count = len(range(lo, hi, step))
                if ax is not None:
                    start, old_step, _ = axes[ax]
                    axes[ax] = (start + lo * old_step, old_step * step, count)
                order.append(ax)
                shape.append(count)
                continue
            if type(p) is int and not -size <= p < size:
                raise IndexError(f"index {p} is out of bounds for axis {k} with size {size}")
            i = _position(p, size)
            if ax is not None:
                start, old_step, _ = axes[ax]
                axes[ax] = start + i * old_step
        return Spec(tuple(axes), tuple(order), tuple(shape))

    def permute(self, perm: tuple[int, ...]) -> "Spec":
        return Spec(self.axes, tuple(self.order[p] for p in perm), tuple(self.shape[p] for p in perm))


def _position(p: Any, size: int) -> int:
    """An integer index as a position; a 0-d device index is read (clamped as dynamic_slice does)."""
    i = int(p)
    if i < 0:
        i += size
    return min(max(i, 0), size - 1)


def attach(view: "Array", parent: "Array", kind: str, data: Any) -> "Array":
    """Make ``view`` (fresh from a slice or transpose of ``parent``, which read the parent's
    current buffer) a view of ``parent``'s base."""
    if view._traced and not parent._traced:
        return view  # read inside a trace from a captured Array: a value of the program, no view
    base = parent if parent._base is None else parent._base
    view._base = base
    view._view = (parent, kind, data)
    view._version = base._version
    return view


def spec_of(x: "Array") -> Spec:
    """Where ``x`` sits in its base (the whole base for a base)."""
    if x._base is None:
        return Spec.whole(x.shape)
    v = x._view
    if type(v) is Spec:
        return v
    parent, kind, data = v
    if kind == "key":  # a raw basic key, recorded by getitem's fast path
        from .ops.indexing import _expand_key
        kind, data = "index", _expand_key(parent, data)
    spec = spec_of(parent).index(data) if kind == "index" else spec_of(parent).permute(data)
    x._view = spec
    return spec


# -- reading a view from its base ----------------------------------------------------------------

def _base_plan(spec: Spec, base_shape: tuple[int, ...]) -> tuple[tuple, list[int], list[int]]:
    """The basic-indexing plan on the base, its integer positions, and the base axes left."""
    plan: list[tuple] = []
    ints: list[int] = []
    kept: list[int] = []
    for a, (ax, d) in enumerate(zip(spec.axes, base_shape)):
        if type(ax) is int:
            plan.append(("int", d))
            ints.append(ax)
            continue
        start, step, count = ax
        if count == 0:
            plan.append(("slice", 0, 0, 1))
        else:
            last = start + step * (count - 1)
            plan.append(("slice", start, last + (1 if step > 0 else -1), step))
        kept.append(a)
    return tuple(plan), ints, kept


def _derive_rule(b: "Builder", x: "Value", *ints: "Value", plan: tuple, perm: tuple, shape: tuple) -> "Value":
    from .ops.indexing import _basic_rule
    y = _basic_rule(b, x, *ints, plan=plan)
    return b.reshape(b.transpose(y, perm), shape)


def _derive(x: "Array", base: "Array") -> "Array":
    from ._dispatch import run
    from .ops._operands import scalar_array
    from .ops.creation import zeros
    spec = spec_of(x)
    if math.prod(spec.shape) == 0:
        return zeros(spec.shape, dtype=x.dtype, device=x._device)
    plan, ints, kept = _base_plan(spec, base.shape)
    walked = [ax for ax in spec.order if ax is not None]
    perm = tuple(kept.index(ax) for ax in walked)
    operands = [scalar_array(i, _INDEX, x._device) for i in ints]
    params = (("plan", plan), ("perm", perm), ("shape", spec.shape))
    return run(_derive_rule, params, (base, *operands), x._device)[0]


def current_buffer(x: "Array") -> "Buffer":
    """``x``'s buffer once current: a stale view re-derives it; a base being written waits."""
    from ._mutation import lock_of
    base = x._base
    if base is None:
        with lock_of(x):
            buf = x._buf
        if buf is BUSY:
            raise RuntimeError("an array was read by the thread that is replacing its buffer")
        return buf
    from ._host_views import still_exposed
    with lock_of(base):
        if still_exposed(base):
            base._version += 1  # numpy may have written the base's memory since the last read
        version = base._version
        if x._version != version:
            fresh = _derive(x, base)
            x._buf, x._sharding, x._host, x._version = fresh._buf, fresh._sharding, None, version
        return x._buf


# -- writing a region of a base --------------------------------------------------------------------

def region_params(spec: Spec, base_shape: tuple[int, ...]) -> tuple[tuple, list[int]]:
    """Static parameters of :func:`region_rule` for ``spec`` and the region's start per base axis.

    The region is a box in the base: per axis a start, a count (1 for a fixed
    position) and a positive stride; a negative step reverses the value instead.
    """
    walked = [ax for ax in spec.order if ax is not None]
    inverse = tuple(sorted(range(len(walked)), key=lambda k: walked[k]))
    box: list[int] = []
    starts: list[int] = []
    strides: list[int] = []
    reverse: list[int] = []
    for a, ax in enumerate(spec.axes):
        if type(ax) is int:
            box.append(1)
            starts.append(ax)
            strides.append(1)
            continue
        start, step, count = ax
        if step < 0:
            reverse.append(a)
            start, step = start + step * (count - 1), -step
        box.append(count)
        starts.append(start)
        strides.append(step if count > 1 else 1)
    walked_shape = tuple(d for d, ax in zip(spec.shape, spec.order) if ax is not None)
    params = (("shape", spec.shape), ("walked", walked_shape), ("perm", inverse), ("box", tuple(box)), ("strides", tuple(strides)),
              ("reverse", tuple(reverse)))
    return params, starts


def region_rule(b: "Builder", x: "Value", value: "Value", *starts: "Value", shape: tuple, walked: tuple,
                perm: tuple, box: tuple, strides: tuple, reverse: tuple) -> "Value":
    """``x`` with ``value`` (broadcast to a view's ``shape``) written into the view's region,
    which starts at ``starts`` (0-d int64 operands, one per axis of ``x``)."""
    from .ops._lower import broadcast
    v = b.reshape(broadcast(b, b.convert(value, x.dtype), shape), walked)
    if x.ndim == 0:
        return v
    v = b.reverse(b.reshape(b.transpose(v, perm), box), reverse)
    if all(s == 1 for s in strides):
        return b.dynamic_update_slice(x, v, starts)
    return _strided_scatter(b, x, v, list(starts), strides)


def _strided_scatter(b: "Builder", x: "Value", v: "Value", starts: list["Value"], strides: tuple) -> "Value":
    """Scatter ``v`` (the box) into ``x`` at ``start + i * stride`` per axis, element by element."""
    from .ops._lower import const_like
    column = v.shape + (1,)
    columns = []
    for a in range(x.ndim):
        k = b.iota(column, a, _INDEX)
        if strides[a] != 1:
            k = b.multiply(k, const_like(b, strides[a], k))
        columns.append(b.add(k, b.broadcast_in_dim(starts[a], column, [])))
    dims = range(x.ndim)
    return b.scatter(x, b.concatenate(columns, v.ndim), v, lambda r, a: [a[1]], update_window_dims=(),
                     inserted_window_dims=dims, scatter_dims_to_operand_dims=dims, index_vector_dim=v.ndim,
                     indices_are_sorted=True, unique_indices=True)
