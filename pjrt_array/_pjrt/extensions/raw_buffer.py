"""The RawBuffer extension: raw byte access to a buffer's device memory.

``RawBufferExtension.alias(buffer)`` gives a :class:`RawBuffer` that aliases
the buffer's memory (owned, destroyed by ``close()``; it keeps the Python
buffer object alive, and is unusable once the client closes).  Copies move
bytes between host and device at a byte offset, ignoring element types and
layouts; they wait for their completion event, so host memory is never left
in use by the plugin after a call returns.
"""

from __future__ import annotations

import ctypes
from typing import Any

from .. import _abi
from ..event import Event
from ._base import Extension, Owned, handle_of
from ._chain import ExtensionType

__all__ = ["RawBufferExtension", "RawBuffer"]


class RawBufferExtension(Extension):
    """``PJRT_RawBuffer_Extension``."""

    TYPE = ExtensionType.PJRT_Extension_Type_RawBuffer
    STRUCT = _abi.PJRT_RawBuffer_Extension
    NAME = "RawBuffer"

    def alias(self, buffer: Any) -> "RawBuffer":
        """A raw buffer aliasing ``buffer``'s memory (``PJRT_RawBuffer_CreateRawAliasOfBuffer``)."""
        from ..buffer import Buffer
        a = self._call("PJRT_RawBuffer_CreateRawAliasOfBuffer", self._args(
            _abi.PJRT_RawBuffer_CreateRawAliasOfBuffer_Args, buffer=handle_of(buffer, Buffer, "buffer")))
        return RawBuffer(self, a.raw_buffer, buffer)


class RawBuffer(Owned):
    """A ``PJRT_RawBuffer*`` aliasing a buffer's device memory."""

    _what = "RawBuffer"

    def __init__(self, extension: RawBufferExtension, handle: int, buffer: Any) -> None:
        super().__init__(buffer.client, handle)
        self._ext = extension
        self._buffer = buffer

    def _release(self, handle: int) -> None:
        """``PJRT_RawBuffer_Destroy``."""
        self._ext._call("PJRT_RawBuffer_Destroy", self._ext._args(_abi.PJRT_RawBuffer_Destroy_Args, buffer=handle))

    def _get(self, slot: str, args_type: type) -> Any:
        return self._ext._call(slot, self._ext._args(args_type, buffer=self.handle))

    @property
    def on_device_size_in_bytes(self) -> int:
        """Bytes of device storage (``PJRT_RawBuffer_GetOnDeviceSizeInBytes``)."""
        return int(self._get("PJRT_RawBuffer_GetOnDeviceSizeInBytes",
                             _abi.PJRT_RawBuffer_GetOnDeviceSizeInBytes_Args).on_device_size_in_bytes)

    @property
    def memory(self) -> Any:
        """The memory space holding the bytes (``PJRT_RawBuffer_GetMemorySpace``)."""
        from ..memory import Memory
        return Memory(self._buffer.client,
                      self._get("PJRT_RawBuffer_GetMemorySpace", _abi.PJRT_RawBuffer_GetMemorySpace_Args).memory_space)

    @property
    def host_pointer(self) -> int:
        """UNSAFE: the host address of the bytes, 0 if not host-visible (``PJRT_RawBuffer_GetHostPointer``)."""
        return int(self._get("PJRT_RawBuffer_GetHostPointer",
                             _abi.PJRT_RawBuffer_GetHostPointer_Args).host_pointer or 0)

    def _range(self, offset: int, size: int) -> None:
        total = self.on_device_size_in_bytes
        for name, value in (("offset", offset), ("size", size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")
        if offset + size > total:
            raise IndexError(f"bytes [{offset}, {offset + size}) are outside the raw buffer of {total} bytes")

    def _copy(self, slot: str, args_type: type, field: str, address: int, offset: int, size: int) -> None:
        a = self._ext._call(slot, self._ext._args(args_type, buffer=self.handle, offset=offset,
                                                  transfer_size=size, **{field: address}))
        if a.event:
            with Event(self._ext.api, a.event) as event:
                event.wait()

    def read(self, offset: int = 0, size: int | None = None) -> bytes:
        """Copy ``size`` bytes at ``offset`` to the host (``PJRT_RawBuffer_CopyRawDeviceToHost``)."""
        if size is None:
            size = self.on_device_size_in_bytes - offset
        self._range(offset, size)
        out = ctypes.create_string_buffer(max(size, 1))
        self._copy("PJRT_RawBuffer_CopyRawDeviceToHost", _abi.PJRT_RawBuffer_CopyRawDeviceToHost_Args, "dst",
                   ctypes.addressof(out), offset, size)
        return out.raw[:size]

    def write(self, data: bytes, offset: int = 0) -> None:
        """Copy ``data`` into the device bytes at ``offset`` (``PJRT_RawBuffer_CopyRawHostToDevice``)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes-like, got {type(data).__name__}")
        src = bytes(data)
        self._range(offset, len(src))
        keep = ctypes.create_string_buffer(src, max(len(src), 1))
        self._copy("PJRT_RawBuffer_CopyRawHostToDevice", _abi.PJRT_RawBuffer_CopyRawHostToDevice_Args, "src",
                   ctypes.addressof(keep), offset, len(src))
