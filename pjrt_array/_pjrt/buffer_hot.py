"""Buffer calls on hot paths, without per-call args structs: a copy in from host memory, a readiness
query, and what a host view of a buffer needs (wait, address, external reference).

The general entry points (``Buffer.from_numpy``, ``Buffer.ready_event``,
``Buffer.unsafe_pointer``...) check their arguments and build a new args
struct (and ``Event`` objects) per call: several microseconds of Python each,
more than the plugin's own work on a small array.  These keep one set of
args structs per thread, made once, and take arguments their callers have
already checked (live handles; a C-contiguous numpy array of a PJRT dtype).
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

import numpy as np

from . import _abi
from ._api import Api, new_struct
from .dtypes import from_numpy_dtype

__all__ = ["COPY", "MAX_RANK", "copy_from_host", "is_ready", "wait_ready", "unsafe_pointer", "increase_external_references",
           "decrease_external_references"]

#: ``PJRT_HostBufferSemantics`` of a copy made during the call.
COPY = _abi.PJRT_HostBufferSemantics.PJRT_HostBufferSemantics_kImmutableOnlyDuringCall
#: The largest rank ``copy_from_host`` takes (its dims array is made once per thread).
MAX_RANK = 16
_types: dict[np.dtype, int] = {}
_address_of = ctypes.addressof
_char_at = ctypes.c_char.from_buffer


class _Structs(threading.local):
    """This thread's args structs and their addresses (each call fills and reads them before
    returning, so threads never share one)."""

    def __init__(self) -> None:
        self.upload = new_struct(_abi.PJRT_Client_BufferFromHostBuffer_Args)
        self.upload.host_buffer_semantics = COPY
        self.dims = (ctypes.c_int64 * MAX_RANK)()
        self.upload.dims = _address_of(self.dims)
        self.ready = new_struct(_abi.PJRT_Buffer_ReadyEvent_Args)
        self.is_ready = new_struct(_abi.PJRT_Event_IsReady_Args)
        self.wait = new_struct(_abi.PJRT_Event_Await_Args)
        self.error = new_struct(_abi.PJRT_Event_Error_Args)
        self.destroy = new_struct(_abi.PJRT_Event_Destroy_Args)
        self.pointer = new_struct(_abi.PJRT_Buffer_UnsafePointer_Args)
        self.reference = new_struct(_abi.PJRT_Buffer_IncreaseExternalReferenceCount_Args)
        self.unreference = new_struct(_abi.PJRT_Buffer_DecreaseExternalReferenceCount_Args)
        self.at = {name: _address_of(getattr(self, name))
                   for name in ("upload", "ready", "is_ready", "wait", "error", "destroy", "pointer",
                                "reference", "unreference")}


_structs = _Structs()


def _buffer_type(dtype: np.dtype) -> int:
    found = _types.get(dtype)
    if found is None:
        found = _types[dtype] = int(from_numpy_dtype(dtype, "array"))
    return found


def _address(array: np.ndarray) -> int:
    """The address of an array's data (``array.ctypes.data`` costs three times as much, but also
    serves read-only and empty arrays and dtypes without a buffer format, such as bfloat16)."""
    if array.nbytes and array.flags.writeable:
        try:
            return _address_of(_char_at(array))  # type: ignore[arg-type]  # ndarray has the buffer protocol
        except (ValueError, TypeError):
            pass
    return int(array.ctypes.data)


def copy_from_host(api: Api, client_handle: int, array: np.ndarray, device_handle: int) -> int:
    """The handle of a new buffer on the device ``device_handle`` holding a copy of ``array``
    (C-contiguous, of a PJRT dtype that is not sub-byte: the caller's checks); the copy is made
    during the call.  The caller owns the handle (wrap it in a ``Buffer``)."""
    shape = array.shape
    rank = len(shape)
    if rank > MAX_RANK:
        raise ValueError(f"copy_from_host takes arrays of rank at most {MAX_RANK}, got {rank}")
    s = _structs
    args = s.upload
    if rank:
        s.dims[:rank] = list(shape)
    args.client = client_handle
    args.device = device_handle
    args.type = _buffer_type(array.dtype)
    args.num_dims = rank
    args.data = _address(array)
    api.check(api.raw("PJRT_Client_BufferFromHostBuffer")(s.at["upload"]))
    event = args.done_with_host_buffer
    if event:  # the copy is done: nothing to wait for
        args.done_with_host_buffer = None
        _destroy_event(api, event, s)
    return int(args.buffer)


def _destroy_event(api: Api, event: int, s: _Structs) -> None:
    s.destroy.event = event
    api.raw("PJRT_Event_Destroy")(s.at["destroy"])


def _ready_event(api: Api, buffer_handle: int, s: _Structs) -> int:
    s.ready.buffer = buffer_handle
    api.check(api.raw("PJRT_Buffer_ReadyEvent")(s.at["ready"]))
    return int(s.ready.event)


def is_ready(api: Api, buffer_handle: int) -> bool:
    """Whether the buffer's data is computed, without waiting; raises its computation's error if
    that failed.  (A buffer's first ready event costs the plugin a few microseconds: where this
    says True, read it without waiting again, e.g. ``Buffer.numpy_view(ready=True)``.)"""
    s = _structs
    event = _ready_event(api, buffer_handle, s)
    try:
        s.is_ready.event = event
        api.check(api.raw("PJRT_Event_IsReady")(s.at["is_ready"]))
        if not s.is_ready.is_ready:
            return False
        s.error.event = event
        api.check(api.raw("PJRT_Event_Error")(s.at["error"]))
        return True
    finally:
        _destroy_event(api, event, s)


def wait_ready(api: Api, buffer_handle: int) -> None:
    """Wait for the buffer's data; raise its computation's error, if any."""
    s = _structs
    event = _ready_event(api, buffer_handle, s)
    try:
        s.wait.event = event
        api.check(api.raw("PJRT_Event_Await")(s.at["wait"]))
    finally:
        _destroy_event(api, event, s)


def unsafe_pointer(api: Api, buffer_handle: int) -> int:
    """The buffer's device address (valid while an external reference is held)."""
    s = _structs
    s.pointer.buffer = buffer_handle
    api.check(api.raw("PJRT_Buffer_UnsafePointer")(s.at["pointer"]))
    return int(s.pointer.buffer_pointer)


def increase_external_references(api: Api, buffer_handle: int) -> None:
    """``PJRT_Buffer_IncreaseExternalReferenceCount`` (the caller counts and releases it)."""
    s: Any = _structs
    s.reference.buffer = buffer_handle
    api.check(api.raw("PJRT_Buffer_IncreaseExternalReferenceCount")(s.at["reference"]))


def decrease_external_references(api: Api, buffer_handle: int) -> None:
    """``PJRT_Buffer_DecreaseExternalReferenceCount`` (of a reference taken above).  A destructor may
    run this inside another call of this module on the same thread: it uses a struct of its own."""
    s: Any = _structs
    s.unreference.buffer = buffer_handle
    api.check(api.raw("PJRT_Buffer_DecreaseExternalReferenceCount")(s.at["unreference"]))
