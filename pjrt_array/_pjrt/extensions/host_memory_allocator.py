"""The Host Memory Allocator extension: NUMA-aware host memory from the plugin.

Each allocation comes with its own deleter (function + argument) from the
plugin; :class:`HostMemoryAllocation` calls it exactly once on ``close()``.
"""

from __future__ import annotations

from typing import Any

from .. import _abi
from ._base import Extension, handle_of
from ._chain import ExtensionType
from .host_allocator import HostMemory

__all__ = ["HostMemoryAllocator", "HostMemoryAllocation"]


class HostMemoryAllocation(HostMemory):
    """Host memory from the plugin, released with the deleter it came with."""

    _what = "HostMemoryAllocation"

    def __init__(self, pointer: int, size: int, deleter: Any, deleter_arg: int | None) -> None:
        super().__init__(pointer, size)
        self._deleter = deleter
        self._deleter_arg = deleter_arg

    def _release(self, handle: int) -> None:
        if self._deleter:
            self._deleter(handle, self._deleter_arg)


class HostMemoryAllocator(Extension):
    """``PJRT_HostMemoryAllocator_Extension``."""

    TYPE = ExtensionType.PJRT_Extension_Type_HostMemoryAllocator
    STRUCT = _abi.PJRT_HostMemoryAllocator_Extension
    NAME = "Host Memory Allocator"

    def allocate(self, client: Any, size: int, numa_node: int = -1) -> HostMemoryAllocation:
        """``size`` bytes of host memory, on ``numa_node`` if >= 0 (``PJRT_HostMemoryAllocator_Allocate``)."""
        from ..client import Client
        handle = handle_of(client, Client, "client")
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ValueError(f"size must be a positive int, got {size!r}")
        if isinstance(numa_node, bool) or not isinstance(numa_node, int):
            raise TypeError(f"numa_node must be an int, got {type(numa_node).__name__}")
        a = self._call("allocate", self._args(_abi.PJRT_HostMemoryAllocator_Allocate_Args, client=handle,
                                              size=size, numa_node=numa_node))
        if not a.ptr:
            raise MemoryError(f"the plugin's host memory allocator returned no memory for {size} bytes")
        return HostMemoryAllocation(a.ptr, size, a.deleter, a.deleter_arg)
