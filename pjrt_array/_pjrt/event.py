"""``PJRT_Event``: completion of asynchronous work, awaitable from Python.

An :class:`Event` owns its ``PJRT_Event*`` and destroys it once (``close()``,
garbage collection, or interpreter exit).  ``on_ready`` callbacks go through
one C trampoline; the Python callable is kept in a registry until it has run,
so nothing is freed while the plugin may still call it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import itertools
import threading
from typing import Callable, Generator, Optional

from . import _abi
from ._api import Api, new_struct
from .errors import ClosedError, PjrtError, error_fields, read_error

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


class Event:
    """A PJRT event. ``wait()`` blocks; ``await event`` and :meth:`future` do not."""

    __slots__ = ("_api", "_handle", "__weakref__")

    def __init__(self, api: Api, handle: int) -> None:
        self._api = api
        self._handle = handle

    @classmethod
    def create(cls, api: Api) -> "Event":
        """A new, unset event (``PJRT_Event_Create``); complete it with :meth:`set`."""
        args = new_struct(_abi.PJRT_Event_Create_Args)
        api.call("PJRT_Event_Create", args)
        return cls(api, args.event)

    @property
    def handle(self) -> int:
        if not self._handle:
            raise ClosedError("this Event has been closed")
        return self._handle

    def set(self, error: PjrtError | None = None) -> None:
        """Complete the event (``PJRT_Event_Set``), with ``error`` or successfully."""
        args = new_struct(_abi.PJRT_Event_Set_Args)
        args.event = self.handle
        message = b""
        if error is not None:
            args.error_code, message = error_fields(error)
            args.error_message = ctypes.cast(ctypes.c_char_p(message), ctypes.c_void_p).value
            args.error_message_size = len(message)
        else:
            args.error_code = int(_abi.PJRT_Error_Code.PJRT_Error_Code_OK)
        self._api.call("PJRT_Event_Set", args)

    def is_ready(self) -> bool:
        """Whether the work has completed (successfully or not) (``PJRT_Event_IsReady``)."""
        args = new_struct(_abi.PJRT_Event_IsReady_Args)
        args.event = self.handle
        self._api.call("PJRT_Event_IsReady", args)
        return bool(args.is_ready)

    def wait(self) -> None:
        """Block until ready (``PJRT_Event_Await``); raise the event's error if any."""
        args = new_struct(_abi.PJRT_Event_Await_Args)
        args.event = self.handle
        self._api.call("PJRT_Event_Await", args)

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
        args = new_struct(_abi.PJRT_Event_OnReady_Args)
        args.event = self.handle  # before registering: a closed event must leave no entry
        key = next(_keys)
        with _pending_lock:
            _pending[key] = (self._api, callback)
        args.callback = _TRAMPOLINE
        args.user_arg = key
        try:
            self._api.call("PJRT_Event_OnReady", args)
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
        return asyncio.wrap_future(self.future()).__await__()

    def close(self) -> None:
        """Destroy the event now (``PJRT_Event_Destroy``); later use raises."""
        handle, self._handle = self._handle, 0
        if handle:
            args = new_struct(_abi.PJRT_Event_Destroy_Args)
            args.event = handle
            self._api.call("PJRT_Event_Destroy", args)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - destructors must not raise
            pass

    def __enter__(self) -> "Event":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if not self._handle else ("ready" if self.is_ready() else "pending")
        return f"<Event {state}>"
