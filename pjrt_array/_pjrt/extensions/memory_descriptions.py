"""The Memory Descriptions extension: the memory kinds a device description supports.

Unlike ``PJRT_Device_AddressableMemories`` this needs no client-side memory
objects, so it also serves ahead-of-time compilation against a topology.
The descriptions are owned by the device description (hence by its client).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import _abi
from .._handles import handles, text
from ._base import Extension
from ._chain import ExtensionType

__all__ = ["MemoryDescription", "MemoryDescriptions"]

# ``default_memory_index`` is a size_t holding -1 when there is no default.
_NO_DEFAULT = (1 << 64) - 1


@dataclass(frozen=True)
class MemoryDescription:
    """A memory kind a device can use: its platform-specific name and numeric id."""

    kind: str
    kind_id: int
    is_default: bool


class MemoryDescriptions(Extension):
    """``PJRT_MemoryDescriptions_Extension``."""

    TYPE = ExtensionType.PJRT_Extension_Type_MemoryDescriptions
    STRUCT = _abi.PJRT_MemoryDescriptions_Extension
    NAME = "Memory Descriptions"

    def _kind(self, description: int) -> tuple[str, int]:
        """``PJRT_MemoryDescription_Kind`` of one borrowed description."""
        a = self._call("PJRT_MemoryDescription_Kind",
                       self._args(_abi.PJRT_MemoryDescription_Kind_Args, memory_description=description))
        return text(a.kind, a.kind_size), int(a.kind_id)

    def memory_descriptions(self, device: Any) -> list[MemoryDescription]:
        """Every memory kind of a device or device description, in the plugin's order
        (``PJRT_DeviceDescription_MemoryDescriptions``, then :meth:`_kind` of each)."""
        from ..device import Device, DeviceDescription
        if isinstance(device, Device):
            device = device.description
        if not isinstance(device, DeviceDescription):
            raise TypeError(f"device must be a Device or DeviceDescription, got {type(device).__name__}")
        a = self._call("PJRT_DeviceDescription_MemoryDescriptions",
                       self._args(_abi.PJRT_DeviceDescription_MemoryDescriptions_Args,
                                  device_description=device._client._live(device._handle)))
        found = handles(a.memory_descriptions, a.num_memory_descriptions)
        default = a.default_memory_index
        return [MemoryDescription(*self._kind(h), is_default=(i == default and default != _NO_DEFAULT))
                for i, h in enumerate(found)]
