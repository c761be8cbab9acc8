"""Which trace, if any, is recording operations on this thread.

A tiny module of its own so that the lowest layers (devices, dispatch) can ask
"am I tracing?" without importing the tracer machinery.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["state", "_State", "tracing", "count_trace"]


class _State(threading.local):
    #: The innermost active ``_tracing.Trace`` of this thread, or None (eager).
    trace: Any = None
    #: This thread's fusion recorder (``_fusion``); the class attribute is None while fusion is off.
    fusion: Any = None


state = _State()

#: How many traces are active on all threads together.  While it is 0, ``state.trace`` is None
#: on every thread: hot paths read it first (a list item costs a fraction of a thread-local
#: attribute).  A thread counts its own trace before activating it and after leaving it, so
#: its own reads never see 0 while it is tracing.
tracing = [0]
_count_lock = threading.Lock()


def count_trace(delta: int) -> None:
    """Add ``delta`` (1 or -1) to ``tracing``."""
    with _count_lock:
        tracing[0] += delta
