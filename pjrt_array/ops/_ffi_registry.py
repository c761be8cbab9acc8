"""Registering FFI kernels with a plugin once: its FFI registry is process-wide, so once per plugin path."""

from __future__ import annotations

import threading
from typing import Any, Callable

from .._pjrt import PjrtError

__all__ = ["OncePerPlugin"]


class OncePerPlugin:
    """``registered(client)``: whether ``register(ffi)`` put its kernels into ``client``'s plugin.

    ``register`` runs at most once per plugin, under a lock; a plugin without the
    FFI extension, or one that refuses a handler (``PjrtError``), cannot host the
    kernels, and the answer is then False for good (the pure lowering serves it).
    """

    def __init__(self, register: Callable[[Any], None]) -> None:
        self._register = register
        self._done: dict[str, bool] = {}  # plugin path -> its registry has the kernels
        self._lock = threading.Lock()

    def __call__(self, client: Any) -> bool:
        path = client.plugin.path
        done = self._done.get(path)
        if done is None:
            with self._lock:
                done = self._done.get(path)
                if done is None:
                    done = self._done[path] = self._try(client)
        return done

    def _try(self, client: Any) -> bool:
        from .._pjrt.extensions import FFI
        ffi = FFI.of(client)
        if ffi is None:
            return False
        try:
            self._register(ffi)
        except (PjrtError, LookupError):
            return False
        return True
