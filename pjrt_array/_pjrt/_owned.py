"""The one ownership model of the binding: wrappers of plugin handles.

:class:`Handle` wraps a handle and calls the plugin with it (one call helper
for every wrapper).  :class:`Owned` adds ownership: the handle is destroyed
exactly once, by ``close()``, ``__del__`` or the close of its client,
whichever comes first.  The decision *and* the destroy call happen under
the client's lock (a module lock for objects without a client), so a
``close()`` racing another ``close()`` or ``Client.close()`` on other
threads can neither destroy twice nor destroy after the client is gone.
The lock is re-entrant because ``__del__`` may run, through the garbage
collector, on a thread that already holds it.
"""

from __future__ import annotations

import abc
import threading
from typing import TYPE_CHECKING, Any, ClassVar

from ._api import Api, new_struct
from .errors import ClosedError

if TYPE_CHECKING:
    from .client import Client

__all__ = ["Handle", "Owned", "invoke"]

# Guards the handles of objects that belong to no client (events, extension objects).
_UNOWNED_LOCK = threading.RLock()


def invoke(api: Api, fn: str, args_type: type, **fields: Any) -> Any:
    """Call ``fn`` with a new ``args_type`` struct holding ``fields``; returns the struct (outputs filled)."""
    args = new_struct(args_type)
    for name, value in fields.items():
        setattr(args, name, value)
    api.call(fn, args)
    return args


class Handle:
    """A plugin handle of a client (borrowed unless a subclass owns it).

    ``_field`` names the args-struct field that takes the handle, e.g.
    ``"buffer"``; ``_what`` names the object in messages.
    """

    __slots__ = ("_client", "_handle")
    _field: ClassVar[str] = ""
    _what: ClassVar[str] = "object"
    _client: "Client"  # None only for handles of no client (events, extension objects)

    def __init__(self, client: "Client | None", handle: int) -> None:
        self._client = client  # type: ignore[assignment]
        self._handle = int(handle or 0)

    @property
    def handle(self) -> int:
        """The raw handle; raises :class:`ClosedError` once closed or once the client closed."""
        if not self._handle:
            raise ClosedError(f"this {self._what} has been closed")
        if self._client is not None:
            return self._client._live(self._handle)
        return self._handle

    @property
    def client(self) -> "Client":
        return self._client

    def _call(self, fn: str, args_type: type, **fields: Any) -> Any:
        """Call ``fn`` with this handle in ``_field`` and ``fields``; returns the filled struct."""
        return invoke(self._client.api, fn, args_type, **{self._field: self.handle}, **fields)


class Owned(Handle, metaclass=abc.ABCMeta):
    """A handle with one owner: :meth:`_release` destroys it, exactly once.

    Subclasses implement :meth:`_release` (a class without it cannot be instantiated).  A handle of a client that already
    closed is not released: the client took everything of its own down with it.
    """

    __slots__ = ("__weakref__",)

    @abc.abstractmethod
    def _release(self, handle: int) -> None:
        """Destroy the plugin object ``handle`` (called once, under the client's lock)."""

    def close(self) -> None:
        """Release the plugin object now; later use raises :class:`ClosedError`."""
        client = self._client
        lock = _UNOWNED_LOCK if client is None else client._lock
        lock.acquire()  # not `with`: this runs for every temporary, and acquire/release is cheaper
        try:
            handle, self._handle = self._handle, 0
            if handle and (client is None or not client._closed):
                self._release(handle)
        finally:
            lock.release()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - destructors must not raise
            pass

    def __enter__(self: Any) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
