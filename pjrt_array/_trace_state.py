"""Which trace, if any, is recording operations on this thread.

A tiny module of its own so that the lowest layers (devices, dispatch) can ask
"am I tracing?" without importing the tracer machinery.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["state"]


class _State(threading.local):
    #: The innermost active ``_tracing.Trace`` of this thread, or None (eager).
    trace: Any = None


state = _State()
