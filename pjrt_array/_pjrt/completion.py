"""Callbacks a plugin hands out for the caller to complete exactly once.

``PJRT_Buffer_CopyRawToHostFuture`` and ``PJRT_Buffer_DonateWithControlDependency``
return a ``void (*)(Args*)`` function with its ``callback_data``: the plugin's
waiters (the copy's event, the donated buffer) hang until it is called, and a
second call would touch freed plugin state.  :class:`Completion` calls it at
most once, and with a CANCELLED error if it is dropped uncalled.
"""

from __future__ import annotations

import ctypes
import threading
from typing import TYPE_CHECKING, Any

from ._api import new_struct
from .errors import Cancelled, PjrtError, error_fields

if TYPE_CHECKING:
    from .client import Client

__all__ = ["Completion"]

_VOID_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class Completion:
    """The plugin's ``function(args)`` for one ``callback_data``; call it as ``completion(error=None)``."""

    __slots__ = ("_client", "_args_type", "_function", "_data", "_what", "_called", "_lock")

    def __init__(self, client: "Client", args_type: type, function: int, data: int, what: str) -> None:
        self._client = client
        self._args_type = args_type
        self._function = function
        self._data = data
        self._what = what
        self._called = False
        self._lock = threading.Lock()

    @property
    def called(self) -> bool:
        return self._called

    def __call__(self, error: PjrtError | None = None, **fields: Any) -> None:
        """Complete, successfully (with ``fields`` set in the args) or with ``error``."""
        code, message = error_fields(error) if error is not None else (0, b"")
        with self._lock:
            if self._called:
                raise ValueError(f"{self._what} was already completed")
            self._client._live(0)  # raises once the client (and the plugin's state) is gone
            self._called = True
        args = new_struct(self._args_type)
        args.callback_data = self._data
        if error is not None:
            args.error_code = code
            args.error_message = ctypes.cast(ctypes.c_char_p(message), ctypes.c_void_p).value
            args.error_message_size = len(message)
        else:
            for name, value in fields.items():
                setattr(args, name, value)
        _VOID_FN(self._function)(ctypes.addressof(args))

    def __del__(self) -> None:
        if self._called or self._client._closed:
            return
        try:
            self(Cancelled(f"{self._what} was dropped without being completed"))
        except Exception:  # noqa: BLE001 - destructors must not raise
            pass
