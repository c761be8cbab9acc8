"""``PJRT_Event``: completion of asynchronous work, awaitable from Python.

An :class:`Event` owns its ``PJRT_Event*`` and destroys it once (``close()``,
garbage collection, or interpreter exit).  ``on_ready`` callbacks go through
one C trampoline; the Python callable is kept in a registry until it has run,
so nothing is freed while the plugin may still call it.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import itertools
import threading
from typing import Any, Callable, Generator, Optional

from . import _abi
from ._api import Api, new_struct
from ._handles import c_bytes_address
from ._owned import Owned, invoke
from .errors import PjrtError, error_fields, read_error

__all__ = ["Event"]

OnReady = Callable[[Optional[PjrtError]], None]

_pending: dict[int, tuple[Api, OnReady]] = {}
_keys = itertools.count(1)
_pending_lock = threading.Lock()


def _trampoline(error: int | None, user_arg: int | None) -> None:
    # Runs on a plugin thread (or inside PJRT_Event_OnReady).  An exception
    # raised here never reaches the plugin: ctypes reports it through
    # sys.unraisablehook ("Exception ignored on calling ctypes callback
    # function") and returns to C.
    with _pending_lock:
        api, callback = _pending.pop(user_arg or 0)
    callback(read_error(api, error) if error else None)


_TRAMPOLINE = _abi.PJRT_Event_OnReadyCallback(_trampoline)


class Event(Owned):
    """A PJRT event. ``wait()`` blocks; ``await event`` and :meth:`future` do not.

    Events belong to no client (their owner is the plugin's ``Api``), so
    their destroy is guarded by the binding's lock for such handles.
    """

    __slots__ = ("_api",)
    _field = "event"
    _what = "Event"

    def __init__(self, api: Api, handle: int) -> None:
        super().__init__(None, handle)
        self._api = api

    @classmethod
    def create(cls, api: Api) -> "Event":
        """A new, unset event (``PJRT_Event_Create``); complete it with :meth:`set`."""
        return cls(api, invoke(api, "PJRT_Event_Create", _abi.PJRT_Event_Create_Args).event)

    def _call(self, fn: str, args_type: type, **fields: Any) -> Any:
        return invoke(self._api, fn, args_type, event=self.handle, **fields)

    def set(self, error: PjrtError | None = None) -> None:
        """Complete the event (``PJRT_Event_Set``), with ``error`` or successfully."""
        if error is None:
            self._call("PJRT_Event_Set", _abi.PJRT_Event_Set_Args,
                       error_code=int(_abi.PJRT_Error_Code.PJRT_Error_Code_OK))
            return
        code, message = error_fields(error)
        self._call("PJRT_Event_Set", _abi.PJRT_Event_Set_Args, error_code=code,
                   error_message=c_bytes_address(message), error_message_size=len(message))

    def is_ready(self) -> bool:
        """Whether the work has completed (successfully or not) (``PJRT_Event_IsReady``)."""
        return bool(self._call("PJRT_Event_IsReady", _abi.PJRT_Event_IsReady_Args).is_ready)

    def wait(self) -> None:
        """Block until ready (``PJRT_Event_Await``); raise the event's error if any."""
        self._call("PJRT_Event_Await", _abi.PJRT_Event_Await_Args)

    def error(self) -> PjrtError | None:
        """The event's error (``PJRT_Event_Error``), or None; the event must be ready."""
        if not self.is_ready():
            raise ValueError("Event.error() needs a ready event; call wait() first")
        args = new_struct(_abi.PJRT_Event_Error_Args)
        args.event = self.handle
        err = self._api.raw("PJRT_Event_Error")(ctypes.addressof(args))
        return read_error(self._api, err) if err else None

    def on_ready(self, callback: OnReady) -> None:
        """Run ``callback(error_or_None)`` once ready, possibly on a plugin thread (``PJRT_Event_OnReady``).

        Exceptions raised by ``callback`` are reported through
        ``sys.unraisablehook``; they never reach the plugin.
        """
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        handle = self.handle  # before registering: a closed event must leave no entry
        key = next(_keys)
        with _pending_lock:
            _pending[key] = (self._api, callback)
        try:
            invoke(self._api, "PJRT_Event_OnReady", _abi.PJRT_Event_OnReady_Args, event=handle,
                   callback=_TRAMPOLINE, user_arg=key)
        except BaseException:
            with _pending_lock:
                _pending.pop(key, None)
            raise

    def future(self) -> concurrent.futures.Future:
        """A ``concurrent.futures.Future`` completed (with the error, if any) when ready."""
        fut: concurrent.futures.Future = concurrent.futures.Future()

        def done(exc: PjrtError | None) -> None:
            if exc is None:
                fut.set_result(None)
            else:
                fut.set_exception(exc)

        self.on_ready(done)
        return fut

    def __await__(self) -> Generator:
        import asyncio  # here, not at the top: importing it costs every process 6 MB resident
        return asyncio.wrap_future(self.future()).__await__()

    def _release(self, handle: int) -> None:
        """``PJRT_Event_Destroy``."""
        invoke(self._api, "PJRT_Event_Destroy", _abi.PJRT_Event_Destroy_Args, event=handle)

    def __repr__(self) -> str:
        state = "closed" if not self._handle else ("ready" if self.is_ready() else "pending")
        return f"<Event {state}>"
