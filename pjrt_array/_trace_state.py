"""Which trace, if any, is recording operations on this thread.

A tiny module of its own so that the lowest layers (devices, dispatch) can ask
"am I tracing?" without importing the tracer machinery.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["state", "_State", "tracing", "enter", "leave"]


class _State(threading.local):
    #: The innermost active ``_tracing.Trace`` of this thread, or None (eager).
    trace: Any = None
    #: This thread's fusion recorder (``_fusion``); the class attribute is None while fusion is off.
    fusion: Any = None


state = _State()


#: How many traces are active over all threads (``tracing[0]``): while it is 0 no thread traces,
#: and the eager hot path skips reading ``state.trace`` (a thread-local read costs ~0.1 us).
tracing = [0]
_count_lock = threading.Lock()


def enter(trace: Any) -> Any:
    """Make ``trace`` this thread's active trace; returns the one it replaces (for ``leave``)."""
    saved, state.trace = state.trace, trace
    with _count_lock:
        tracing[0] += 1
    return saved


def leave(saved: Any) -> None:
    """Undo the matching ``enter``."""
    state.trace = saved
    with _count_lock:
        tracing[0] -= 1
