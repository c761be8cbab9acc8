"""``PJRT_Memory``: a memory space of a client (borrowed handle)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _abi
from ._handles import handles, text
from ._owned import Handle

if TYPE_CHECKING:
    from .device import Device

__all__ = ["Memory"]


class Memory(Handle):
    """A memory space (``PJRT_Memory*``); unusable once its client closes."""

    __slots__ = ()
    _field = "memory"
    _what = "Memory"

    @property
    def id(self) -> int:
        """The memory's id (``PJRT_Memory_Id``)."""
        return int(self._call("PJRT_Memory_Id", _abi.PJRT_Memory_Id_Args).id)

    @property
    def kind(self) -> str:
        """The memory kind, e.g. ``"device"`` (``PJRT_Memory_Kind``)."""
        a = self._call("PJRT_Memory_Kind", _abi.PJRT_Memory_Kind_Args)
        return text(a.kind, a.kind_size)

    @property
    def kind_id(self) -> int:
        """The memory kind as a platform-specific number (``PJRT_Memory_Kind_Id``)."""
        return int(self._call("PJRT_Memory_Kind_Id", _abi.PJRT_Memory_Kind_Id_Args).kind_id)

    @property
    def debug_string(self) -> str:
        """A verbose description (``PJRT_Memory_DebugString``)."""
        a = self._call("PJRT_Memory_DebugString", _abi.PJRT_Memory_DebugString_Args)
        return text(a.debug_string, a.debug_string_size)

    def to_string(self) -> str:
        """A short description (``PJRT_Memory_ToString``)."""
        a = self._call("PJRT_Memory_ToString", _abi.PJRT_Memory_ToString_Args)
        return text(a.to_string, a.to_string_size)

    def addressable_by_devices(self) -> list["Device"]:
        """The devices that can address this memory (``PJRT_Memory_AddressableByDevices``)."""
        from .device import Device
        a = self._call("PJRT_Memory_AddressableByDevices", _abi.PJRT_Memory_AddressableByDevices_Args)
        return [Device(self._client, h) for h in handles(a.devices, a.num_devices)]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Memory) and other._handle == self._handle and other._client is self._client

    def __hash__(self) -> int:
        return hash((id(self._client), self._handle))

    def __repr__(self) -> str:
        return f"<pjrt Memory {self.kind} id={self.id}>"
