"""Asynchronous host-to-device transfers: ``PJRT_AsyncHostToDeviceTransferManager`` and
``PJRT_CopyToDeviceStream`` (the stream a recv callback fills during execution)."""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from . import _abi
from ._api import new_struct, struct_size
from ._owned import Owned
from .buffer import Buffer
from .device import Device
from .dtypes import from_numpy_dtype
from .event import Event
from .named_values import NamedValueArray

if TYPE_CHECKING:
    from .client import Client
    from .errors import PjrtError
    from .memory import Memory

__all__ = ["AsyncHostToDeviceTransferManager", "CopyToDeviceStream"]


class row_major_layout:  # noqa: N801 - a small holder used like a function
    """A ``PJRT_Buffer_MemoryLayout`` for dense row-major data of ``ndim`` dimensions (kept alive here)."""

    def __init__(self, ndim: int) -> None:
        self.minor_to_major = (ctypes.c_int64 * max(ndim, 1))(*range(ndim - 1, -1, -1))
        self.struct = new_struct(_abi.PJRT_Buffer_MemoryLayout)
        self.struct.type = _abi.PJRT_Buffer_MemoryLayout_Type.PJRT_Buffer_MemoryLayout_Type_Tiled
        self.struct.tiled.struct_size = struct_size(_abi.PJRT_Buffer_MemoryLayout_Tiled)
        self.struct.tiled.minor_to_major = ctypes.addressof(self.minor_to_major)
        self.struct.tiled.minor_to_major_size = ndim


class AsyncHostToDeviceTransferManager(Owned):
    """Device buffers allocated first and filled from the host later, piece by piece.

    Made by :meth:`Client.create_buffers_for_async_host_to_device`.
    """

    _destroy_fn = "PJRT_AsyncHostToDeviceTransferManager_Destroy"
    _destroy_args = _abi.PJRT_AsyncHostToDeviceTransferManager_Destroy_Args
    _destroy_field = "transfer_manager"
    __slots__ = ("_specs", "_keep", "_done")

    def __init__(self, client: "Client", handle: int, specs: list[tuple[tuple[int, ...], np.dtype]]) -> None:
        super().__init__(client, handle)
        self._specs = specs
        self._keep: list[Any] = []  # host data the plugin may read until its transfer is done
        self._done: set[int] = set()  # buffers whose last transfer or error was given

    def _open_index(self, index: int) -> None:
        """Check ``index``; the plugins abort on a second completion of one buffer."""
        if not 0 <= index < len(self._specs):
            raise IndexError(f"buffer index {index} out of range for {len(self._specs)} buffers")
        if index in self._done:
            raise ValueError(f"buffer {index} was already completed")

    @classmethod
    def create(cls, client: "Client", specs: Sequence[tuple[Sequence[int], Any]], memory: "Memory"
               ) -> "AsyncHostToDeviceTransferManager":
        """(``PJRT_Client_CreateBuffersForAsyncHostToDevice``) one buffer per ``(shape, dtype)``."""
        norm = [(tuple(int(d) for d in shape), np.dtype(dtype)) for shape, dtype in specs]
        dims = [(ctypes.c_int64 * max(len(s), 1))(*s) for s, _ in norm]
        array = (_abi.PJRT_ShapeSpec * max(len(norm), 1))()
        for spec, d, (shape, dtype) in zip(array, dims, norm):
            spec.dims, spec.num_dims = ctypes.addressof(d), len(shape)
            spec.element_type = from_numpy_dtype(dtype, "specs")
        args = new_struct(_abi.PJRT_Client_CreateBuffersForAsyncHostToDevice_Args)
        args.client = client.handle
        args.shape_specs, args.num_shape_specs = ctypes.addressof(array), len(norm)
        args.memory = memory.handle
        client.api.call("PJRT_Client_CreateBuffersForAsyncHostToDevice", args)
        return cls(client, args.transfer_manager, norm)

    def close(self) -> None:
        """Destroy the manager (``PJRT_AsyncHostToDeviceTransferManager_Destroy``); retrieved buffers stay."""
        super().close()

    def _manager_call(self, fn: str, args_type: type, **fields: Any) -> Any:
        return self._call(fn, args_type, "transfer_manager", **fields)

    def transfer_data(self, index: int, data: np.ndarray, offset: int = 0, is_last: bool = True) -> Event:
        """Copy raw bytes of ``data`` into buffer ``index`` at byte ``offset``
        (``PJRT_AsyncHostToDeviceTransferManager_TransferData``); the event completes when done."""
        data = np.ascontiguousarray(data)
        self._open_index(index)
        self._keep.append(data)
        a = self._manager_call("PJRT_AsyncHostToDeviceTransferManager_TransferData",
                               _abi.PJRT_AsyncHostToDeviceTransferManager_TransferData_Args,
                               buffer_index=index, data=data.ctypes.data, offset=offset,
                               transfer_size=data.nbytes, is_last_transfer=is_last)
        if is_last:
            self._done.add(index)
        return Event(self._client.api, a.done_with_h2d_transfer)

    def transfer_literal(self, index: int, data: np.ndarray) -> Event:
        """Copy a whole array into buffer ``index`` (``PJRT_AsyncHostToDeviceTransferManager_TransferLiteral``)."""
        data = np.ascontiguousarray(data)
        self._open_index(index)
        dims = (ctypes.c_int64 * max(data.ndim, 1))(*data.shape)
        layout = row_major_layout(data.ndim)  # the plugins abort on a literal without a layout
        self._keep += [data, dims, layout]  # type: ignore[list-item]
        a = self._manager_call("PJRT_AsyncHostToDeviceTransferManager_TransferLiteral",
                               _abi.PJRT_AsyncHostToDeviceTransferManager_TransferLiteral_Args,
                               buffer_index=index, data=data.ctypes.data, shape_dims=ctypes.addressof(dims),
                               shape_num_dims=data.ndim, shape_element_type=from_numpy_dtype(data.dtype, "data"),
                               shape_layout=ctypes.addressof(layout.struct))
        self._done.add(index)
        return Event(self._client.api, a.done_with_h2d_transfer)

    def retrieve_buffer(self, index: int) -> Buffer:
        """The device buffer ``index`` (``PJRT_AsyncHostToDeviceTransferManager_RetrieveBuffer``)."""
        a = self._manager_call("PJRT_AsyncHostToDeviceTransferManager_RetrieveBuffer",
                               _abi.PJRT_AsyncHostToDeviceTransferManager_RetrieveBuffer_Args, buffer_index=index)
        shape, dtype = self._specs[index]
        return Buffer(self._client, a.buffer_out, dtype, shape)

    @property
    def device(self) -> Device:
        """(``PJRT_AsyncHostToDeviceTransferManager_Device``)."""
        a = self._manager_call("PJRT_AsyncHostToDeviceTransferManager_Device",
                               _abi.PJRT_AsyncHostToDeviceTransferManager_Device_Args)
        return Device(self._client, a.device_out)

    @property
    def buffer_count(self) -> int:
        """(``PJRT_AsyncHostToDeviceTransferManager_BufferCount``)."""
        return int(self._manager_call("PJRT_AsyncHostToDeviceTransferManager_BufferCount",
                                      _abi.PJRT_AsyncHostToDeviceTransferManager_BufferCount_Args).buffer_count)

    def buffer_size(self, index: int) -> int:
        """On-device bytes of buffer ``index`` (``PJRT_AsyncHostToDeviceTransferManager_BufferSize``)."""
        return int(self._manager_call("PJRT_AsyncHostToDeviceTransferManager_BufferSize",
                                      _abi.PJRT_AsyncHostToDeviceTransferManager_BufferSize_Args,
                                      buffer_index=index).buffer_size)

    def set_buffer_error(self, index: int, error: "PjrtError") -> None:
        """Fail buffer ``index`` (``PJRT_AsyncHostToDeviceTransferManager_SetBufferError``)."""
        self._open_index(index)
        message = error.message.encode()
        self._keep.append(message)
        self._manager_call("PJRT_AsyncHostToDeviceTransferManager_SetBufferError",
                           _abi.PJRT_AsyncHostToDeviceTransferManager_SetBufferError_Args, buffer_index=index,
                           error_code=int(error.code), error_message=ctypes.cast(message, ctypes.c_void_p).value,
                           error_message_size=len(message))
        self._done.add(index)

    def add_metadata(self, metadata: Mapping[str, str]) -> None:
        """Attach string key/value metadata (``PJRT_AsyncHostToDeviceTransferManager_AddMetadata``)."""
        for key, value in metadata.items():
            if not isinstance(value, str):  # the plugins abort on other value types
                raise TypeError(f"metadata[{key!r}] must be a str, got {type(value).__name__}")
        values = NamedValueArray(metadata)
        self._manager_call("PJRT_AsyncHostToDeviceTransferManager_AddMetadata",
                           _abi.PJRT_AsyncHostToDeviceTransferManager_AddMetadata_Args,
                           transfer_metadata=values.address, num_metadata=values.count)


class CopyToDeviceStream:
    """The stream a recv callback gets during execution (borrowed; the callback may destroy it)."""

    def __init__(self, client: "Client", handle: int) -> None:
        self._client = client
        self._handle = handle

    def _stream_call(self, fn: str, args_type: type, **fields: Any) -> Any:
        args = new_struct(args_type)
        args.stream = self._client._live(self._handle)
        for k, v in fields.items():
            setattr(args, k, v)
        self._client.api.call(fn, args)
        return args

    def add_chunk(self, data: bytes) -> Event:
        """Send bytes to the device (``PJRT_CopyToDeviceStream_AddChunk``); the plugin owns the chunk."""
        payload = ctypes.create_string_buffer(bytes(data), len(data))
        chunk = _abi.PJRT_Chunk()
        chunk.data, chunk.size = ctypes.addressof(payload), len(data)
        _CHUNKS[ctypes.addressof(payload)] = payload  # freed by the plugin through _release_chunk
        chunk.deleter = _RELEASE_CHUNK
        a = self._stream_call("PJRT_CopyToDeviceStream_AddChunk", _abi.PJRT_CopyToDeviceStream_AddChunk_Args,
                              chunk=ctypes.addressof(chunk))
        return Event(self._client.api, a.transfer_complete)

    @property
    def total_bytes(self) -> int:
        """(``PJRT_CopyToDeviceStream_TotalBytes``)."""
        return int(self._stream_call("PJRT_CopyToDeviceStream_TotalBytes",
                                     _abi.PJRT_CopyToDeviceStream_TotalBytes_Args).total_bytes)

    @property
    def granule_size(self) -> int:
        """(``PJRT_CopyToDeviceStream_GranuleSize``)."""
        return int(self._stream_call("PJRT_CopyToDeviceStream_GranuleSize",
                                     _abi.PJRT_CopyToDeviceStream_GranuleSize_Args).granule_size_in_bytes)

    @property
    def current_bytes(self) -> int:
        """(``PJRT_CopyToDeviceStream_CurrentBytes``)."""
        return int(self._stream_call("PJRT_CopyToDeviceStream_CurrentBytes",
                                     _abi.PJRT_CopyToDeviceStream_CurrentBytes_Args).current_bytes)

    def close(self) -> None:
        """(``PJRT_CopyToDeviceStream_Destroy``)."""
        handle, self._handle = self._handle, 0
        if handle and not self._client._closed:
            args = new_struct(_abi.PJRT_CopyToDeviceStream_Destroy_Args)
            args.stream = handle
            self._client.api.call("PJRT_CopyToDeviceStream_Destroy", args)


_CHUNKS: dict[int, Any] = {}


def _release_chunk(data: int | None, _arg: int | None) -> None:
    _CHUNKS.pop(data or 0, None)


_RELEASE_CHUNK = _abi.PJRT_Chunk._fields_[2][1](_release_chunk)
