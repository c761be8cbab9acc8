"""A base for PJRT objects with one owner: destroyed once, never after their client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._api import new_struct
from .errors import ClosedError

if TYPE_CHECKING:
    from .client import Client


class Owned:
    """Owns one handle; ``_destroy_fn``/``_destroy_args``/``_destroy_field`` say how to free it."""

    _destroy_fn: str = ""
    _destroy_args: type = object
    _destroy_field: str = ""
    __slots__ = ("_client", "_handle", "__weakref__")

    def __init__(self, client: "Client", handle: int) -> None:
        self._client = client
        self._handle = handle

    @property
    def handle(self) -> int:
        if not self._handle:
            raise ClosedError(f"this {type(self).__name__} has been closed")
        return self._client._live(self._handle)

    def _call(self, fn: str, args_type: type, field: str, **fields: Any) -> Any:
        args = new_struct(args_type)
        setattr(args, field, self.handle)
        for k, v in fields.items():
            setattr(args, k, v)
        self._client.api.call(fn, args)
        return args

    def close(self) -> None:
        """Destroy the object now; later use raises :class:`ClosedError`."""
        handle, self._handle = self._handle, 0
        if handle and not self._client._closed:
            args = new_struct(self._destroy_args)
            setattr(args, self._destroy_field, handle)
            self._client.api.call(self._destroy_fn, args)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - destructors must not raise
            pass

    def __enter__(self) -> "Owned":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
