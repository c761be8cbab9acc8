"""The Host Allocator extension: host memory from the plugin's allocator.

Memory a device transfers from fastest (pinned, aligned).  An allocation is
a :class:`HostAllocation` that owns the memory (freed by ``close()`` with the
extension's ``free``) and exposes it as a writable numpy ``uint8`` array.
The allocation refuses to be freed while a view of it is alive.
"""

from __future__ import annotations

import ctypes
import weakref
from typing import Any

import numpy as np

from .. import _abi
from ._base import Extension, Owned, handle_of
from ._chain import ExtensionType

__all__ = ["HostAllocator", "HostAllocation", "HostMemory"]


class HostMemory(Owned):
    """Host memory a plugin allocated: ``size`` bytes, viewable as numpy, freed once.

    ``close()`` refuses (ValueError) while a numpy view of the memory is
    alive; a view keeps the allocation alive, so garbage collection frees
    the memory only after the last view is gone.
    """

    def __init__(self, pointer: int, size: int, client: Any = None) -> None:
        super().__init__(client, pointer)
        self.size = size
        self._views: list[weakref.ref] = []

    @property
    def address(self) -> int:
        """UNSAFE: the address of the memory."""
        return self.handle

    def array(self) -> np.ndarray:
        """A writable ``uint8`` view of the memory; it keeps the allocation alive."""
        buf = (ctypes.c_uint8 * self.size).from_address(self.handle)
        buf._owner = self  # type: ignore[attr-defined]  # numpy keeps buf, buf keeps us
        self._views = [r for r in self._views if r() is not None] + [weakref.ref(buf)]
        return np.frombuffer(memoryview(buf), dtype=np.uint8)

    def close(self) -> None:
        if self._handle and any(r() is not None for r in self._views):
            raise ValueError(f"this {self._what} still has live numpy views; drop them before close()")
        super().close()


class HostAllocation(HostMemory):
    """Host memory from the Host Allocator extension (freed with its ``free``)."""

    _what = "HostAllocation"

    def __init__(self, extension: "HostAllocator", client: Any, pointer: int, size: int) -> None:
        super().__init__(pointer, size, client)
        self._ext = extension

    def _release(self, handle: int) -> None:
        """``PJRT_HostAllocator_Free``."""
        self._ext._call("free", self._ext._args(_abi.PJRT_HostAllocator_Free_Args, client=self._client.handle,
                                                ptr=handle))


class HostAllocator(Extension):
    """``PJRT_HostAllocator_Extension``."""

    TYPE = ExtensionType.PJRT_Extension_Type_HostAllocator
    STRUCT = _abi.PJRT_HostAllocator_Extension
    NAME = "Host Allocator"

    def preferred_alignment(self, client: Any) -> int:
        """The alignment the allocator prefers (``PJRT_HostAllocator_GetPreferredAlignment``)."""
        from ..client import Client
        a = self._call("get_preferred_alignment", self._args(
            _abi.PJRT_HostAllocator_GetPreferredAlignment_Args, client=handle_of(client, Client, "client")))
        return int(a.preferred_alignment)

    def allocate(self, client: Any, size: int, alignment: int | None = None) -> HostAllocation:
        """``size`` bytes of host memory (``PJRT_HostAllocator_Allocate``); alignment defaults to the preferred one."""
        from ..client import Client
        handle = handle_of(client, Client, "client")
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ValueError(f"size must be a positive int, got {size!r}")
        if alignment is None:
            alignment = self.preferred_alignment(client)
        if isinstance(alignment, bool) or not isinstance(alignment, int) or alignment <= 0 \
                or alignment & (alignment - 1):
            raise ValueError(f"alignment must be a positive power of two, got {alignment!r}")
        a = self._call("allocate", self._args(_abi.PJRT_HostAllocator_Allocate_Args, client=handle, size=size,
                                              alignment=alignment))
        if not a.ptr:
            raise MemoryError(f"the plugin's host allocator returned no memory for {size} bytes")
        return HostAllocation(self, client, a.ptr, size)
