"""Buffer calls on hot paths: a copy from host memory and a readiness query, without per-call structs.

``Buffer.from_numpy`` and ``Buffer.ready_event`` check their arguments and build
a new args struct (and an ``Event`` object) per call: several microseconds of
Python, more than the plugin's own work for a small array (about 2 us for a
copy in, the buffer's destroy and the copy-done event's destroy).  These two
keep one set of args structs per thread, made once, and take arguments their
callers have already checked (a C-contiguous numpy array of a PJRT dtype; a
buffer of an open client).
"""

from __future__ import annotations

import ctypes
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _abi
from ._api import new_struct
from .buffer import HOST_BUFFER_SEMANTICS, Buffer
from .dtypes import from_numpy_dtype

if TYPE_CHECKING:
    from .client import Client

__all__ = ["copy_from_host", "is_ready"]

_MAX_RANK = 16
_types: dict[np.dtype, int] = {}
_address_of = ctypes.addressof
_char_at = ctypes.c_char.from_buffer


class _Structs(threading.local):
    """This thread's argument structs and their addresses (each call fills and reads them before
    returning, so threads never share one)."""

    def __init__(self) -> None:
        self.upload = new_struct(_abi.PJRT_Client_BufferFromHostBuffer_Args)
        self.upload.host_buffer_semantics = HOST_BUFFER_SEMANTICS["copy"]
        self.dims = (ctypes.c_int64 * _MAX_RANK)()
        self.upload.dims = _address_of(self.dims)
        self.ready = new_struct(_abi.PJRT_Buffer_ReadyEvent_Args)
        self.is_ready = new_struct(_abi.PJRT_Event_IsReady_Args)
        self.destroy = new_struct(_abi.PJRT_Event_Destroy_Args)
        self.addresses = tuple(_address_of(s) for s in (self.upload, self.ready, self.is_ready, self.destroy))


_structs = _Structs()


def _buffer_type(dtype: np.dtype) -> int:
    found = _types.get(dtype)
    if found is None:
        found = _types[dtype] = int(from_numpy_dtype(dtype, "array"))
    return found


def _address(array: np.ndarray) -> int:
    """The address of a writable array's data (``array.ctypes.data`` costs three times as much)."""
    if array.nbytes and array.flags.writeable:
        return _address_of(_char_at(array))
    return array.ctypes.data


def copy_from_host(client: "Client", array: np.ndarray, device_handle: int) -> Buffer:
    """A new buffer on the device ``device_handle`` holding a copy of ``array`` (C-contiguous, of a
    PJRT dtype that is not sub-byte, rank at most 16: the caller's checks); the copy is made
    during the call."""
    shape = array.shape
    rank = len(shape)
    if rank > _MAX_RANK:
        raise ValueError(f"copy_from_host takes arrays of rank at most {_MAX_RANK}, got {rank}")
    s = _structs
    args = s.upload
    if rank:
        s.dims[:rank] = shape
    args.client = client.handle
    args.device = device_handle
    args.type = _buffer_type(array.dtype)
    args.num_dims = rank
    args.data = _address(array)
    api = client.api
    upload, _, _, destroy = s.addresses
    api.check(api.raw("PJRT_Client_BufferFromHostBuffer")(upload))
    buffer = Buffer(client, args.buffer, array.dtype, shape)
    event = args.done_with_host_buffer
    if event:  # the copy is done: nothing to wait for
        args.done_with_host_buffer = None
        s.destroy.event = event
        api.raw("PJRT_Event_Destroy")(destroy)
    return buffer


def is_ready(buffer: Buffer) -> bool:
    """Whether ``buffer``'s data is computed, or its computation failed (it does not wait)."""
    s = _structs
    api: Any = buffer._client.api
    _, ready, is_ready_, destroy = s.addresses
    s.ready.buffer = buffer.handle
    api.check(api.raw("PJRT_Buffer_ReadyEvent")(ready))
    event = s.ready.event
    try:
        s.is_ready.event = event
        api.check(api.raw("PJRT_Event_IsReady")(is_ready_))
        return bool(s.is_ready.is_ready)
    finally:
        s.destroy.event = event
        api.raw("PJRT_Event_Destroy")(destroy)
