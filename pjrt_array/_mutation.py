"""Writes into Arrays: ``__setitem__`` and in-place operators, through views too.

Every write is a write to a base Array (a view writes its region of its
base), done under the base's lock: a read-modify-write from one thread never
interleaves with another's, so concurrent writes to disjoint regions all land.
While a writer swaps the base's buffer, the base's ``_buf`` is
``_views.BUSY``; a reader in another thread then waits for the lock instead
of taking a buffer that is about to be donated.

A write donates the base's buffer to the program that computes the new value
(input/output aliasing: the update costs what the region costs) when that
buffer has no other holder (``_donation.sole_owner``); otherwise it computes
into a new buffer, so no other holder ever sees the write.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from . import _donation, _traced_views, _views
from ._host_value import materialize

if TYPE_CHECKING:
    from ._array import Array

__all__ = ["lock_of", "inplace", "write", "write_region"]

_guard = threading.Lock()
_INDEX = np.dtype("int64")


def lock_of(base: "Array") -> threading.RLock:
    """The base's write lock (made on first use: most Arrays are never written)."""
    lock = base._lock
    if lock is None:
        with _guard:
            lock = base._lock
            if lock is None:
                lock = base._lock = threading.RLock()
    return lock


def root(x: "Array") -> "Array":
    return x if x._base is None else x._base


def readable(value: Any, base: "Array") -> Any:
    """``value`` made safe to read while ``base`` is written: a stale view is re-derived now,
    and the base itself is replaced by another Array on its buffer (which then is not donated)."""
    from ._array import Array
    if not isinstance(value, Array):
        return value
    if value is base:
        return _alias(base, base._buffer)
    value._buffer
    return value


def _alias(base: "Array", buf: Any) -> "Array":
    """Another Array on ``buf`` with ``base``'s shape, dtype, device and sharding."""
    from ._array import Array
    alias = Array._from_buffer(buf, base._aval, base._device)
    alias._sharding = base._sharding
    return alias


def write(base: "Array", compute: Callable[["Array", bool], "Array"]) -> None:
    """Replace ``base``'s value by ``compute(current, donate)``.

    ``current`` is an Array on the base's buffer; ``donate`` says whether the
    computation may take that buffer (nothing else holds it).  The result must
    have the base's shape and dtype.
    """
    with lock_of(base):
        materialize(base)  # a host value's upload, which the write may then take (donation)
        buf = base._buffer
        base._host = None  # our own cached host view must not count as another holder
        if base._exposed is not None:
            from ._host_views import still_exposed
            still_exposed(base)  # drops the mark (and its reference) once numpy let go
        base._buf = _views.BUSY
        current = _alias(base, buf)
        del buf
        try:
            result = compute(current, _donation.sole_owner(current))
        except BaseException:
            base._buf = current._buf
            raise
        base._buf, base._sharding = result._buffer, result._sharding
        base._version += 1


def write_region(x: "Array", spec: "_views.Spec", value: "Array") -> None:
    """Write ``value`` (broadcastable to ``spec.shape``) into the region ``spec`` of ``x``'s base."""
    if 0 in spec.shape:  # an empty region: nothing to write (and no program to build)
        return
    from ._dispatch import run
    from .ops._operands import scalar_array
    base = root(x)
    params, starts = _views.region_params(spec, base.shape)
    offsets = [scalar_array(s, _INDEX, base._device) for s in starts]  # cached: no upload per write
    with lock_of(base):
        value = readable(value, base)

        def compute(current: "Array", donate: bool) -> "Array":
            return run(_views.region_rule, params, (current, value, *offsets), base._device,
                       donate=(0,) if donate else ())[0]
        write(base, compute)


def _checked(fname: str, x: "Array", result: "Array") -> "Array":
    if result.dtype != x.dtype:
        raise TypeError(f"in-place {fname} would change the dtype of the left operand "
                        f"from {x.dtype} to {result.dtype}")
    if result.shape != x.shape:
        raise ValueError(f"in-place {fname} would change the shape of the left operand "
                         f"from {x.shape} to {result.shape}")
    return result


def inplace(x: "Array", fname: str, fn: Callable[[Any, Any], "Array"], other: Any) -> None:
    """``x <op>= other``: ``x``'s elements become ``fn(x, other)`` (same shape and dtype)."""
    if x._traced:
        _traced_views.inplace(x, fname, fn, other, _checked)
        return
    _traced_views.refuse_captured_write(x)
    base = root(x)
    with lock_of(base):
        if x is not base:
            write_region(x, _views.spec_of(x), _checked(fname, x, fn(x, other)))
            return
        other = readable(other, base)
        donating = _donation.donating_form(fname)

        def compute(current: "Array", donate: bool) -> "Array":
            if donate and donating is not None:
                return _checked(fname, x, donating(current, other, 0))
            return _checked(fname, x, fn(current, other))
        write(base, compute)
