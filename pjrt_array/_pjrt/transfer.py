"""Asynchronous host-to-device transfers: ``PJRT_AsyncHostToDeviceTransferManager`` and
``PJRT_CopyToDeviceStream`` (the stream a recv callback fills during execution)."""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from . import _abi
from ._api import new_struct
from ._ctypes_util import field_types
from ._handles import c_bytes_address
from ._owned import Owned, invoke
from ._shapes import RowMajorLayout, dims_array, shape_and_type
from .buffer import Buffer
from .device import Device
from .dtypes import from_numpy_dtype
from .errors import ClosedError, PjrtError, error_fields
from .event import Event
from .named_values import NamedValueArray

if TYPE_CHECKING:
    from .client import Client
    from .memory import Memory

__all__ = ["AsyncHostToDeviceTransferManager", "CopyToDeviceStream"]


class AsyncHostToDeviceTransferManager(Owned):
    """Device buffers allocated first and filled from the host later, piece by piece.

    Made by :meth:`Client.create_buffers_for_async_host_to_device`.
    """

    _field = "transfer_manager"
    _what = "AsyncHostToDeviceTransferManager"
    __slots__ = ("_specs", "_keep", "_done", "_retrieved")

    def __init__(self, client: "Client", handle: int, specs: list[tuple[tuple[int, ...], np.dtype]]) -> None:
        super().__init__(client, handle)
        self._specs = specs
        self._keep: list[Any] = []  # host data the plugin may read until its transfer is done
        self._done: set[int] = set()  # buffers whose last transfer or error was given
        self._retrieved: set[int] = set()  # a second retrieval hands out a null buffer (a crash on use)

    def _index(self, index: int) -> int:
        """Check ``index`` before the plugin reads its tables with it (it does not check)."""
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"buffer index must be an int, got {index!r}")
        if not 0 <= index < len(self._specs):
            raise IndexError(f"buffer index {index} out of range for {len(self._specs)} buffers")
        return int(index)

    def _open_index(self, index: int) -> int:
        """Check ``index``; the plugins abort on a second completion of one buffer."""
        index = self._index(index)
        if index in self._done:
            raise ValueError(f"buffer {index} was already completed")
        return index

    @classmethod
    def create(cls, client: "Client", specs: Sequence[tuple[Sequence[int], Any]], memory: "Memory"
               ) -> "AsyncHostToDeviceTransferManager":
        """(``PJRT_Client_CreateBuffersForAsyncHostToDevice``) one buffer per ``(shape, dtype)``."""
        if not specs:
            raise ValueError("specs must list at least one (shape, dtype)")
        fields = [shape_and_type(shape, dtype, client.api.minor) for shape, dtype in specs]
        array = (_abi.PJRT_ShapeSpec * len(fields))()
        for spec, (dims_c, dims, btype) in zip(array, fields):
            spec.dims, spec.num_dims, spec.element_type = ctypes.addressof(dims_c), len(dims), btype
        args = new_struct(_abi.PJRT_Client_CreateBuffersForAsyncHostToDevice_Args)
        args.client = client.handle
        args.shape_specs, args.num_shape_specs = ctypes.addressof(array), len(fields)
        args.memory = client._own_memory(memory).handle
        client.api.call("PJRT_Client_CreateBuffersForAsyncHostToDevice", args)
        return cls(client, args.transfer_manager,
                   [(dims, np.dtype(dtype)) for (_, dims, _), (_, dtype) in zip(fields, specs)])

    def _release(self, handle: int) -> None:
        """``PJRT_AsyncHostToDeviceTransferManager_Destroy``; retrieved buffers stay."""
        invoke(self._client.api, "PJRT_AsyncHostToDeviceTransferManager_Destroy",
               _abi.PJRT_AsyncHostToDeviceTransferManager_Destroy_Args, transfer_manager=handle)

    def transfer_data(self, index: int, data: np.ndarray, offset: int = 0, is_last: bool = True) -> Event:
        """Copy raw bytes of ``data`` into buffer ``index`` at byte ``offset``
        (``PJRT_AsyncHostToDeviceTransferManager_TransferData``); the event completes when done.

        The bytes must lie within the buffer.  A transfer the plugin fails leaves the
        buffer closed to further transfers (the plugins count it as made).
        """
        data = np.ascontiguousarray(data)
        index = self._open_index(index)
        size = self.buffer_size(index)
        if not 0 <= offset <= size - data.nbytes:  # the plugins' own refusal leaves them inconsistent
            raise ValueError(f"{data.nbytes} bytes at offset {offset} do not fit buffer {index} of {size} bytes")
        self._keep.append(data)
        try:
            a = self._call("PJRT_AsyncHostToDeviceTransferManager_TransferData",
                                   _abi.PJRT_AsyncHostToDeviceTransferManager_TransferData_Args,
                                   buffer_index=index, data=data.ctypes.data, offset=offset,
                                   transfer_size=data.nbytes, is_last_transfer=is_last)
        except PjrtError:
            self._done.add(index)
            raise
        if is_last:
            self._done.add(index)
        return Event(self._client.api, a.done_with_h2d_transfer)

    def transfer_literal(self, index: int, data: np.ndarray) -> Event:
        """Copy a whole array of the buffer's shape and dtype into buffer ``index``
        (``PJRT_AsyncHostToDeviceTransferManager_TransferLiteral``)."""
        data = np.ascontiguousarray(data)
        index = self._open_index(index)
        shape, dtype = self._specs[index]
        if data.shape != shape or data.dtype != dtype:  # the plugin would reinterpret the bytes
            raise ValueError(f"data is {data.dtype}{list(data.shape)}, buffer {index} is {dtype}{list(shape)}")
        dims, _ = dims_array(data.shape, "data.shape")
        layout = RowMajorLayout(data.ndim)  # the plugins abort on a literal without a layout
        self._keep += [data, dims, layout]
        a = self._call("PJRT_AsyncHostToDeviceTransferManager_TransferLiteral",
                               _abi.PJRT_AsyncHostToDeviceTransferManager_TransferLiteral_Args,
                               buffer_index=index, data=data.ctypes.data, shape_dims=ctypes.addressof(dims),
                               shape_num_dims=data.ndim, shape_element_type=from_numpy_dtype(data.dtype, "data"),
                               shape_layout=layout.address)
        self._done.add(index)
        return Event(self._client.api, a.done_with_h2d_transfer)

    def retrieve_buffer(self, index: int) -> Buffer:
        """The device buffer ``index``, once per index (``PJRT_AsyncHostToDeviceTransferManager_RetrieveBuffer``)."""
        index = self._index(index)
        if index in self._retrieved:
            raise ValueError(f"buffer {index} was already retrieved")
        a = self._call("PJRT_AsyncHostToDeviceTransferManager_RetrieveBuffer",
                               _abi.PJRT_AsyncHostToDeviceTransferManager_RetrieveBuffer_Args, buffer_index=index)
        self._retrieved.add(index)
        shape, dtype = self._specs[index]
        return Buffer(self._client, a.buffer_out, dtype, shape)

    @property
    def device(self) -> Device:
        """(``PJRT_AsyncHostToDeviceTransferManager_Device``)."""
        a = self._call("PJRT_AsyncHostToDeviceTransferManager_Device",
                               _abi.PJRT_AsyncHostToDeviceTransferManager_Device_Args)
        return Device(self._client, a.device_out)

    @property
    def buffer_count(self) -> int:
        """(``PJRT_AsyncHostToDeviceTransferManager_BufferCount``)."""
        return int(self._call("PJRT_AsyncHostToDeviceTransferManager_BufferCount",
                                      _abi.PJRT_AsyncHostToDeviceTransferManager_BufferCount_Args).buffer_count)

    def buffer_size(self, index: int) -> int:
        """On-device bytes of buffer ``index`` (``PJRT_AsyncHostToDeviceTransferManager_BufferSize``)."""
        return int(self._call("PJRT_AsyncHostToDeviceTransferManager_BufferSize",
                                      _abi.PJRT_AsyncHostToDeviceTransferManager_BufferSize_Args,
                                      buffer_index=self._index(index)).buffer_size)

    def set_buffer_error(self, index: int, error: "PjrtError") -> None:
        """Fail buffer ``index`` (``PJRT_AsyncHostToDeviceTransferManager_SetBufferError``)."""
        code, message = error_fields(error)
        index = self._open_index(index)
        self._keep.append(message)
        self._call("PJRT_AsyncHostToDeviceTransferManager_SetBufferError",
                           _abi.PJRT_AsyncHostToDeviceTransferManager_SetBufferError_Args, buffer_index=index,
                           error_code=code, error_message=c_bytes_address(message),
                           error_message_size=len(message))
        self._done.add(index)

    def add_metadata(self, metadata: Mapping[str, str]) -> None:
        """Attach string key/value metadata (``PJRT_AsyncHostToDeviceTransferManager_AddMetadata``)."""
        for key, value in metadata.items():
            if not isinstance(value, str):  # the plugins abort on other value types
                raise TypeError(f"metadata[{key!r}] must be a str, got {type(value).__name__}")
        values = NamedValueArray(metadata)
        self._call("PJRT_AsyncHostToDeviceTransferManager_AddMetadata",
                           _abi.PJRT_AsyncHostToDeviceTransferManager_AddMetadata_Args,
                           transfer_metadata=values.address, num_metadata=values.count)


class CopyToDeviceStream(Owned):
    """The stream a recv handler gets during execution; it is destroyed when the handler returns."""

    _field = "stream"
    _what = "CopyToDeviceStream"
    __slots__ = ()

    @property
    def handle(self) -> int:
        if not self._handle:
            raise ClosedError("this CopyToDeviceStream has been closed (a recv handler's stream lives until "
                              "the handler returns)")
        return super().handle

    def _release(self, handle: int) -> None:
        """``PJRT_CopyToDeviceStream_Destroy``."""
        invoke(self._client.api, "PJRT_CopyToDeviceStream_Destroy", _abi.PJRT_CopyToDeviceStream_Destroy_Args,
               stream=handle)

    def add_chunk(self, data: bytes) -> Event:
        """Send bytes to the device (``PJRT_CopyToDeviceStream_AddChunk``); the plugin owns the chunk."""
        payload = ctypes.create_string_buffer(bytes(data), len(data))
        chunk = _abi.PJRT_Chunk()
        chunk.data, chunk.size = ctypes.addressof(payload), len(data)
        _CHUNKS[ctypes.addressof(payload)] = payload  # freed by the plugin through _release_chunk
        chunk.deleter = _RELEASE_CHUNK
        a = self._call("PJRT_CopyToDeviceStream_AddChunk", _abi.PJRT_CopyToDeviceStream_AddChunk_Args,
                              chunk=ctypes.addressof(chunk))
        return Event(self._client.api, a.transfer_complete)

    @property
    def total_bytes(self) -> int:
        """(``PJRT_CopyToDeviceStream_TotalBytes``)."""
        return int(self._call("PJRT_CopyToDeviceStream_TotalBytes",
                                     _abi.PJRT_CopyToDeviceStream_TotalBytes_Args).total_bytes)

    @property
    def granule_size(self) -> int:
        """(``PJRT_CopyToDeviceStream_GranuleSize``)."""
        return int(self._call("PJRT_CopyToDeviceStream_GranuleSize",
                                     _abi.PJRT_CopyToDeviceStream_GranuleSize_Args).granule_size_in_bytes)

    @property
    def current_bytes(self) -> int:
        """(``PJRT_CopyToDeviceStream_CurrentBytes``)."""
        return int(self._call("PJRT_CopyToDeviceStream_CurrentBytes",
                                     _abi.PJRT_CopyToDeviceStream_CurrentBytes_Args).current_bytes)


_CHUNKS: dict[int, Any] = {}


def _release_chunk(data: int | None, _arg: int | None) -> None:
    _CHUNKS.pop(data or 0, None)


_RELEASE_CHUNK = field_types(_abi.PJRT_Chunk)["deleter"](_release_chunk)
