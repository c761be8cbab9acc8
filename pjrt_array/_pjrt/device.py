"""``PJRT_Device`` and ``PJRT_DeviceDescription``: borrowed handles of a client."""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING

from . import _abi
from ._ctypes_util import field_types
from ._handles import c_bytes_address, handles, text
from ._owned import Handle, Owned, invoke
from .errors import error_fields
from .named_values import NamedValue, read_named_values

if TYPE_CHECKING:
    from .client import Client
    from .errors import PjrtError
    from .memory import Memory

__all__ = ["Device", "DeviceDescription", "AsyncTrackingEvent"]


class DeviceDescription(Handle):
    """Static facts about a device (``PJRT_DeviceDescription_*``); borrowed from its client."""

    __slots__ = ()
    _field = "device_description"
    _what = "DeviceDescription"

    @property
    def id(self) -> int:
        """Globally unique device id (``PJRT_DeviceDescription_Id``)."""
        return int(self._call("PJRT_DeviceDescription_Id", _abi.PJRT_DeviceDescription_Id_Args).id)

    @property
    def process_index(self) -> int:
        """Index of the process this device belongs to (``PJRT_DeviceDescription_ProcessIndex``)."""
        return int(self._call("PJRT_DeviceDescription_ProcessIndex",
                             _abi.PJRT_DeviceDescription_ProcessIndex_Args).process_index)

    @property
    def kind(self) -> str:
        """Device kind, e.g. ``"cpu"`` (``PJRT_DeviceDescription_Kind``)."""
        a = self._call("PJRT_DeviceDescription_Kind", _abi.PJRT_DeviceDescription_Kind_Args)
        return text(a.device_kind, a.device_kind_size)

    @property
    def debug_string(self) -> str:
        """A verbose description (``PJRT_DeviceDescription_DebugString``)."""
        a = self._call("PJRT_DeviceDescription_DebugString", _abi.PJRT_DeviceDescription_DebugString_Args)
        return text(a.debug_string, a.debug_string_size)

    @property
    def to_string(self) -> str:
        """A short description (``PJRT_DeviceDescription_ToString``)."""
        a = self._call("PJRT_DeviceDescription_ToString", _abi.PJRT_DeviceDescription_ToString_Args)
        return text(a.to_string, a.to_string_size)

    @property
    def attributes(self) -> dict[str, NamedValue]:
        """Vendor attributes of the device (``PJRT_DeviceDescription_Attributes``)."""
        a = self._call("PJRT_DeviceDescription_Attributes", _abi.PJRT_DeviceDescription_Attributes_Args)
        return read_named_values(a.attributes, a.num_attributes)

    def __str__(self) -> str:
        return self.to_string


class Device(Handle):
    """A device of a client (a borrowed ``PJRT_Device*``; unusable once the client closes)."""

    __slots__ = ("_id",)
    _field = "device"
    _what = "Device"

    def __init__(self, client: "Client", handle: int) -> None:
        super().__init__(client, handle)
        self._id: int | None = None

    @property
    def description(self) -> DeviceDescription:
        """The device's static facts (``PJRT_Device_GetDescription``)."""
        a = self._call("PJRT_Device_GetDescription", _abi.PJRT_Device_GetDescription_Args)
        return DeviceDescription(self._client, a.device_description)

    @property
    def id(self) -> int:
        if self._id is None:
            self._id = self.description.id
        return self._id

    @property
    def process_index(self) -> int:
        return self.description.process_index

    @property
    def kind(self) -> str:
        return self.description.kind

    @property
    def debug_string(self) -> str:
        return self.description.debug_string

    @property
    def attributes(self) -> dict[str, NamedValue]:
        return self.description.attributes

    @property
    def is_addressable(self) -> bool:
        """Whether this process can use the device (``PJRT_Device_IsAddressable``)."""
        return bool(self._call("PJRT_Device_IsAddressable", _abi.PJRT_Device_IsAddressable_Args).is_addressable)

    @property
    def local_hardware_id(self) -> int:
        """The device's id within its process (``PJRT_Device_LocalHardwareId``)."""
        return int(self._call("PJRT_Device_LocalHardwareId",
                              _abi.PJRT_Device_LocalHardwareId_Args).local_hardware_id)

    def memories(self) -> list["Memory"]:
        """Memories this device can address (``PJRT_Device_AddressableMemories``)."""
        from .memory import Memory
        a = self._call("PJRT_Device_AddressableMemories", _abi.PJRT_Device_AddressableMemories_Args)
        return [Memory(self._client, h) for h in handles(a.memories, a.num_memories)]

    def default_memory(self) -> "Memory":
        """The memory buffers go to by default (``PJRT_Device_DefaultMemory``)."""
        from .memory import Memory
        return Memory(self._client, self._call("PJRT_Device_DefaultMemory",
                                               _abi.PJRT_Device_DefaultMemory_Args).memory)

    def memory_stats(self) -> dict[str, int]:
        """``PJRT_Device_MemoryStats``: the statistics the plugin reports (set fields only)."""
        a = self._call("PJRT_Device_MemoryStats", _abi.PJRT_Device_MemoryStats_Args)
        out = {"bytes_in_use": int(a.bytes_in_use)}
        for name in field_types(_abi.PJRT_Device_MemoryStats_Args):
            if name.endswith("_is_set") and getattr(a, name):
                field = name[: -len("_is_set")]
                out[field] = int(getattr(a, field))
        return out

    def clear_memory_stats(self) -> None:
        """Reset peak statistics (``PJRT_Device_ClearMemoryStats``)."""
        self._call("PJRT_Device_ClearMemoryStats", _abi.PJRT_Device_ClearMemoryStats_Args)

    def get_attributes(self) -> dict[str, NamedValue]:
        """Runtime attributes of the device (``PJRT_Device_GetAttributes``)."""
        a = self._call("PJRT_Device_GetAttributes", _abi.PJRT_Device_GetAttributes_Args)
        try:
            return read_named_values(a.attributes, a.num_attributes)
        finally:
            if a.attributes_deleter:
                ctypes.CFUNCTYPE(None, ctypes.c_void_p)(a.attributes_deleter)(a.device_attributes)

    def poison_execution(self, launch_id: int, error: "PjrtError") -> bool:
        """Make the running execution ``launch_id`` fail with ``error`` (``PJRT_Device_PoisonExecution``).

        Returns whether an execution was poisoned.
        """
        code, message = error_fields(error)
        if isinstance(launch_id, bool) or not isinstance(launch_id, int) or not -2**31 <= launch_id < 2**31:
            raise ValueError(f"launch_id must be an int32, got {launch_id!r}")  # ctypes would wrap it silently
        a = self._call("PJRT_Device_PoisonExecution", _abi.PJRT_Device_PoisonExecution_Args, launch_id=launch_id,
                       error_code=code, error_message=c_bytes_address(message), error_message_size=len(message))
        return bool(a.poisoned)

    def create_async_tracking_event(self, description: str) -> "AsyncTrackingEvent":
        """An event for profiling tools (``PJRT_Device_CreateAsyncTrackingEvent``)."""
        text_ = description.encode()
        a = self._call("PJRT_Device_CreateAsyncTrackingEvent", _abi.PJRT_Device_CreateAsyncTrackingEvent_Args,
                       description=c_bytes_address(text_), description_size=len(text_))
        return AsyncTrackingEvent(self._client, a.event)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Device) and other._handle == self._handle and other._client is self._client

    def __hash__(self) -> int:
        return hash((id(self._client), self._handle))

    def __str__(self) -> str:
        return self.description.to_string

    def __repr__(self) -> str:
        return f"<pjrt Device {self.kind}:{self.id}>"


class AsyncTrackingEvent(Owned):
    """A device's tracking event, destroyed once (``PJRT_AsyncTrackingEvent_Destroy``)."""

    __slots__ = ()
    _field = "event"
    _what = "AsyncTrackingEvent"

    def _release(self, handle: int) -> None:
        """``PJRT_AsyncTrackingEvent_Destroy``."""
        invoke(self._client.api, "PJRT_AsyncTrackingEvent_Destroy", _abi.PJRT_AsyncTrackingEvent_Destroy_Args,
               event=handle)
