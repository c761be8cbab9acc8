"""Bounded work in flight: how far Python may run ahead of a device.

Dispatch is asynchronous, so a loop can queue many computations, and every
queued computation holds its output memory before it runs.  Each dispatch
records its first output here; once a device's queued outputs exceed
``max_bytes`` bytes or ``max_computations`` computations, the next dispatch
waits for the oldest quarter of them to finish.  Peak memory then follows the program's live
data plus at most this bound, not how far Python got ahead.

Defaults: 64 MiB and 256 computations per device (``PJRT_ARRAY_INFLIGHT_BYTES``,
``PJRT_ARRAY_INFLIGHT_COMPUTATIONS``, or :func:`set_inflight_limit`).

A small output is remembered by its buffer (cheap); an output of at least
:data:`BY_EVENT_BYTES` by its ready event and a weak reference, so that the
queue never keeps a large buffer alive after the program dropped it: holding
them made a loop of 32 MB temporaries peak one to two buffers higher than its
live data.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from typing import Any

__all__ = ["set_inflight_limit", "inflight_limit", "note", "holds", "forget", "drain"]

#: Outputs this large are tracked by their ready event (an extra plugin call, negligible
#: next to computing them), not by holding their buffer.
BY_EVENT_BYTES = 1 << 20
_max_bytes = int(os.environ.get("PJRT_ARRAY_INFLIGHT_BYTES", 64 << 20))
_max_count = int(os.environ.get("PJRT_ARRAY_INFLIGHT_COMPUTATIONS", 256))


class _Tracked:
    """A large output: its ready event, and a weak reference that tells its buffer from a later
    one at the same address."""
    __slots__ = ("event", "ref")

    def __init__(self, buffer: Any) -> None:
        self.event = buffer.ready_event()
        self.ref = weakref.ref(buffer)

    def block_until_ready(self) -> None:
        with self.event as event:
            event.wait()


class _Queue:
    __slots__ = ("entries", "nbytes", "lock")

    def __init__(self) -> None:
        # id(buffer) -> (the buffer or its _Tracked, bytes)
        self.entries: "OrderedDict[int, tuple[Any, int]]" = OrderedDict()
        self.nbytes = 0
        self.lock = threading.Lock()


_queues: dict[int, _Queue] = {}  # Device.token (an int: hashed in C) -> its queue


def set_inflight_limit(max_bytes: int | None = None, max_computations: int | None = None) -> None:
    """Bound the work queued per device (bytes of outputs, number of computations)."""
    global _max_bytes, _max_count
    for name, value in (("max_bytes", max_bytes), ("max_computations", max_computations)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if max_bytes is not None:
        _max_bytes = max_bytes
    if max_computations is not None:
        _max_count = max_computations


def inflight_limit() -> dict[str, int]:
    """The current bound: ``{"max_bytes": ..., "max_computations": ...}``."""
    return {"max_bytes": _max_bytes, "max_computations": _max_count}


def _queue(device: Any) -> _Queue:
    q = _queues.get(device.token)
    if q is None:
        q = _queues.setdefault(device.token, _Queue())
    return q


def note(device: Any, buffer: Any, nbytes: int) -> None:
    """Record a dispatched computation by one of its outputs; wait while over the bound."""
    q = _queues.get(device.token) or _queue(device)
    held = _Tracked(buffer) if nbytes >= BY_EVENT_BYTES else buffer
    lock = q.lock
    lock.acquire()  # (acquire/release: cheaper than `with` on the hot path)
    try:
        entries = q.entries
        stale = entries.pop(id(buffer), None)  # a dropped large buffer's, at the same address
        if stale is not None:
            q.nbytes -= stale[1]
        entries[id(buffer)] = (held, nbytes)
        q.nbytes += nbytes
        over = q.nbytes > _max_bytes or len(entries) > _max_count
    finally:
        lock.release()
    if over:
        _wait_oldest(q, _max_bytes, _max_count)


def _take_oldest(q: _Queue, max_bytes: int, max_count: int) -> list[Any]:
    """Take the oldest computations' outputs (buffers or _Tracked) off the queue until it is
    within the bound."""
    taken = []
    with q.lock:
        while q.entries and (q.nbytes > max_bytes or len(q.entries) > max_count):
            _, (buffer, nbytes) = q.entries.popitem(last=False)
            q.nbytes -= nbytes
            taken.append(buffer)
    return taken


def _wait(buffers: list[Any]) -> None:
    for buffer in buffers:
        try:
            buffer.block_until_ready()
        except Exception:  # noqa: BLE001 - its error surfaces where the value is read
            pass


def _wait_oldest(q: _Queue, max_bytes: int, max_count: int) -> None:
    """Bring the queue within the bound (a quarter below it in computations) and wait for the
    newest computation taken.

    One wait per quarter of the count bound, not one per small dispatch: a wait costs a
    plugin event (~15 us), which paid on every dispatch more than doubled the cost of a small
    op.  On a device that runs its computations in order (as the queue assumes) the older
    ones taken are then done too.
    """
    _wait(_take_oldest(q, max_bytes, max_count - max_count // 4)[-1:])


def holds(device: Any, buffer: Any) -> int:
    """1 if the queue holds a reference to ``buffer`` (owners discount it), else 0."""
    q = _queues.get(device.token)
    entry = q.entries.get(id(buffer)) if q is not None else None
    return 1 if entry is not None and entry[0] is buffer else 0


def _is(held: Any, buffer: Any) -> bool:
    return held is buffer or (type(held) is _Tracked and held.ref() is buffer)


def forget(device: Any, buffer: Any) -> int:
    """Drop ``buffer`` (donated: the computation that took it is tracked instead); returns the
    bytes it counted, which move to that computation."""
    q = _queues.get(device.token)
    if q is None:
        return 0
    with q.lock:
        entry = q.entries.get(id(buffer))
        if entry is None or not _is(entry[0], buffer):
            return 0
        del q.entries[id(buffer)]
        q.nbytes -= entry[1]
        return entry[1]


def drain(device: Any) -> None:
    """Wait for everything queued on ``device`` (before handing out writable host memory)."""
    q = _queues.get(device.token)
    if q is not None:
        _wait(_take_oldest(q, -1, 0))
