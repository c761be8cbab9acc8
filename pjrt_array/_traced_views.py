"""Views and writes inside a trace: functional updates of the base.

Eagerly a view writes a region of its base's buffer (``_mutation``).  A traced
program has no buffers, only values, and indices may themselves be traced
(``x[i] = v`` in a loop body), so the region is not known in Python.  Here a
traced view instead knows the *positions* of its elements in its base
(flat indices, computed in the program from the chain of keys and
permutations that made it): a write through it is one scatter into the base,
which is then rebound to the new value, and a view whose base was written
since it was derived is gathered from the base again before its next use.
The same version counter as eagerly tells when (``_views``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, cast

if TYPE_CHECKING:
    from ._array import Array
    from ._tracing import Tracer

__all__ = ["refresh", "setitem", "inplace", "refuse_captured_write"]


def _root(x: "Array") -> "Tracer":
    """The base of a traced Array (a tracer too: a traced view never has a concrete base)."""
    return cast("Tracer", x if x._base is None else x._base)


def _positions(x: "Array") -> "Array":
    """Flat positions in its base of ``x``'s elements (shape ``x.shape``), in the program."""
    from .ops.creation import arange
    from .ops.indexing import getitem
    from .ops.manipulation import permute_dims, reshape
    base = _root(x)
    if x._base is None:
        return reshape(arange(base.size, device=base._device), base.shape)
    parent, kind, data = x._view
    if kind == "permute":
        return permute_dims(_positions(parent), data)
    return getitem(_positions(parent), data if kind == "key" else tuple(data))


def refresh(x: "Tracer") -> None:
    """Re-derive a traced view from its base if the base was written since."""
    base = x._base
    if base is None or x._version == base._version:
        return
    from .ops.indexing import getitem
    from .ops.manipulation import reshape
    fresh = getitem(reshape(base, (base.size,)), _positions(x))
    x._rebind(fresh)
    x._version = base._version


def _write(x: "Tracer", positions: "Array", value: "Array") -> None:
    """Scatter ``value`` into ``x``'s base at ``positions``; the base becomes the new value."""
    from ._dispatch import run
    from .ops.indexing import _scatter_rule
    base = _root(x)
    if positions.size == 0:
        return
    new = run(_scatter_rule, (), (base, positions, value), base._device)[0]
    base._rebind(new)
    base._version += 1
    if x is not base:  # the view now shows the written values
        refresh(x)


def setitem(x: "Array", key: Any, value: "Array") -> None:
    """``x[key] = value`` for a traced ``x``."""
    x = cast("Tracer", x)
    from .ops.indexing import _check_broadcast, getitem
    positions = getitem(_positions(x), key)
    _check_broadcast(value.shape, positions.shape)
    _write(x, positions, value)


def inplace(x: "Array", fname: str, fn: Callable[[Any, Any], "Array"], other: Any,
            checked: Callable[[str, "Array", "Array"], "Array"]) -> None:
    """``x <op>= other`` for a traced ``x``."""
    x = cast("Tracer", x)
    result = checked(fname, x, fn(x, other))
    if x._base is None:
        x._rebind(result)
        x._version += 1
        return
    _write(x, _positions(x), result)


def refuse_captured_write(x: "Array") -> None:
    """A write, inside a trace, to a concrete Array the traced function captured: refused
    (a compiled program cannot change an Array of the caller's)."""
    from ._trace_state import state
    trace = state.trace
    if trace is not None and not _root(x)._traced:
        raise TypeError(
            f"{trace.name!r} writes into an array it did not create (captured from outside the traced "
            "function); pass it as an argument and return the updated array instead")
