"""Writable host views: ``np.asarray(x)`` on a CPU device is ``x``'s memory, as in numpy.

A view is handed out only once the work that defines the buffer and every
computation already queued on the device (readers of the buffer among them,
``_inflight.drain``) are done, so a numpy write never races with a program.
While it lives it pins the buffer, which is then never donated: a later
pjrt_array write goes to a copy, and the numpy view keeps the old values.

A view Array's host view is the base's host view indexed the same way, so
numpy writes through it reach the base.  While a base's memory is exposed this
way, its pjrt_array views re-derive on every read (a numpy write cannot bump
the base's version).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import _inflight
from ._host_value import materialize
from ._mutation import lock_of, root
from ._views import spec_of

if TYPE_CHECKING:
    from ._array import Array

__all__ = ["writable_view", "still_exposed"]


def writable_view(x: "Array") -> np.ndarray:
    """A writable zero-copy numpy view of ``x`` (a CPU Array) that aliases its base's memory."""
    base = root(x)
    with lock_of(base):
        materialize(base)  # a host value's writes must reach the buffer later ops read
        buf = base._buffer
        buf.block_until_ready()
        _inflight.drain(base._device)
        host = buf.numpy_view(known_on_host=True, writable=True)
        if host.flags.writeable:
            base._exposed = buf
    if x is base:
        return host
    spec = spec_of(x)
    key = tuple(ax if type(ax) is int else _as_slice(*ax) for ax in spec.axes)
    picked = host[key + (Ellipsis,)]  # the ellipsis keeps a 0-d result an array (a view)
    kept = [a for a, ax in enumerate(spec.axes) if type(ax) is not int]
    walked = [ax for ax in spec.order if ax is not None]
    picked = picked.transpose([kept.index(ax) for ax in walked])
    new_axes = [k for k, ax in enumerate(spec.order) if ax is None]
    picked = np.expand_dims(picked, new_axes) if new_axes else picked
    if picked.shape != spec.shape:  # a new axis sliced empty
        picked = picked[tuple(slice(0, d) for d in spec.shape)]
    return picked


def _as_slice(start: int, step: int, count: int) -> slice:
    if count == 0:
        return slice(0, 0)
    stop = start + step * count
    return slice(start, stop if stop >= 0 else None, step)


def still_exposed(base: "Array") -> bool:
    """Whether numpy may still write ``base``'s memory; clears the mark once nothing can."""
    buf = base._exposed
    if buf is not None and buf is base._buf and buf._handle in buf._client._pins:
        return True
    base._exposed = None
    return False
