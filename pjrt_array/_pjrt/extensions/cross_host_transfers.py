"""The Cross-Host Transfers extension: device-to-device copies between hosts.

GPU plugins.  Two APIs, both wrapped:

* keyed (newer): the receiver calls :meth:`CrossHostTransfers.receive_buffers`
  and the sender :meth:`CrossHostTransfers.send_buffers` with matching
  ``(global device id, transfer key)`` pairs;
* descriptor-based (older): the receiver calls
  :meth:`CrossHostTransfers.make_receive_buffers`, whose ``notifier`` gets one
  serialized descriptor per buffer; those bytes travel to the sender by any
  means, and the sender calls :meth:`CrossHostTransfers.copy_to_remote_device`.

Errors handed to our callbacks belong to the plugin (it deletes them after
the call), so they are read, never destroyed.  The descriptor holders of
``copy_to_remote_device`` are freed by the plugin (with ``delete`` in older
versions, through ``descriptor_destructor`` in newer ones), so they are
allocated with the C allocator, which both ways release.

``xla::GlobalDeviceId`` and ``xla::CrossHostTransferKey`` are 64-bit integers.
"""

from __future__ import annotations

import ctypes
from typing import Any, Callable, Optional, Sequence

import numpy as np

from .. import _abi
from .._api import Api, new_struct
from .._ctypes_util import address
from ..dtypes import from_numpy_dtype
from ..errors import PjrtError, error_class
from ..event import Event
from ._base import Extension, handle_of
from ._callbacks import Registry
from ._chain import ExtensionType

__all__ = ["CrossHostTransfers", "ShapeSpec"]

ShapeSpec = tuple[Any, Sequence[int]]  # (dtype, dims)
RecvNotifier = Callable[[Optional[PjrtError], list[bytes], Optional[Callable[..., None]]], None]
SendDone = Callable[[Optional[PjrtError], bool], None]

_libc = ctypes.CDLL(None)
_libc.malloc.restype = ctypes.c_void_p
_libc.malloc.argtypes = [ctypes.c_size_t]
_libc.free.argtypes = [ctypes.c_void_p]
_registry: Registry[tuple[Api, Callable[..., None]]] = Registry()


def _peek_error(api: Api, err: int | None) -> PjrtError | None:
    """The exception for a plugin-owned ``PJRT_Error*`` (None for OK), leaving it alive."""
    if not err:
        return None
    code_args = new_struct(_abi.PJRT_Error_GetCode_Args)
    code_args.error = err
    nested = api.raw("PJRT_Error_GetCode")(ctypes.addressof(code_args))
    if nested:
        api.destroy_error(nested)
        code = _abi.PJRT_Error_Code.PJRT_Error_Code_UNKNOWN
    else:
        code = code_args.code
    if code == _abi.PJRT_Error_Code.PJRT_Error_Code_OK:
        return None
    msg = new_struct(_abi.PJRT_Error_Message_Args)
    msg.error = err
    api.raw("PJRT_Error_Message")(ctypes.addressof(msg))
    message = ctypes.string_at(msg.message, msg.message_size).decode("utf-8", "replace") if msg.message else ""
    return error_class(code)(message, code)


def _on_canceled(error: int | None, user_arg: int | None) -> None:
    # An exception escaping a ctypes callback is reported by ctypes through
    # sys.unraisablehook; the plugin just sees the callback return.
    api, callback = _registry.get(user_arg)
    _registry.drop(user_arg)
    callback(_peek_error(api, error))


_ON_CANCELED = _abi.PJRT_Transfers_CrossHostOnCanceledCallback(_on_canceled)


def _canceller(api: Api, notifier: Any, user_arg: int | None) -> Callable[..., None]:
    """A Python function that cancels one pending send through the plugin's ``cancel_notifier``."""
    def cancel(descriptor: bytes, reason: PjrtError, on_canceled: Callable[[Optional[PjrtError]], None]) -> None:
        """Cancel the send of ``descriptor`` because of ``reason``; ``on_canceled(error)`` follows."""
        message = reason.message.encode()
        holder = ctypes.c_int8()
        key = _registry.add(holder, (api, on_canceled))
        notifier(bytes(descriptor), len(descriptor), int(reason.code), message, len(message), _ON_CANCELED, key,
                 user_arg)
    return cancel


def _on_receive(error: int | None, descriptors: int | None, sizes: int | None, count: int, user_arg: int | None,
                cancel_notifier: Any, cancel_user_arg: int | None) -> None:
    # An exception escaping a ctypes callback is reported by ctypes through
    # sys.unraisablehook; the plugin just sees the callback return.
    api, callback = _registry.get(user_arg)
    _registry.drop(user_arg)
    found: list[bytes] = []
    if count and descriptors and sizes:
        ptrs = (ctypes.c_void_p * count).from_address(descriptors)
        lens = (ctypes.c_size_t * count).from_address(sizes)
        found = [ctypes.string_at(p, n) for p, n in zip(ptrs, lens)]
    cancel = _canceller(api, cancel_notifier, cancel_user_arg) if cancel_notifier else None
    callback(_peek_error(api, error), found, cancel)


def _on_sent(error: int | None, sends_were_enqueued: bool, user_arg: int | None) -> None:
    # An exception escaping a ctypes callback is reported by ctypes through
    # sys.unraisablehook; the plugin just sees the callback return.
    api, callback = _registry.get(user_arg)
    _registry.drop(user_arg)
    callback(_peek_error(api, error), bool(sends_were_enqueued))


def _free_descriptor(data: int | None, size: int | None) -> None:
    _libc.free(data)
    _libc.free(size)


_ON_RECEIVE = _abi.PJRT_Transfers_CrossHostRecvNotifier(_on_receive)
_ON_SENT = _abi.PJRT_Transfers_CrossHostRemoteSendCallback(_on_sent)
_FREE_DESCRIPTOR = _abi.PJRT_Transfers_DescriptorDestructor(_free_descriptor)


class _Shapes:
    """The shape arrays of a receive call (element types, ranks, dims); keeps them alive."""

    def __init__(self, shapes: Sequence[ShapeSpec]) -> None:
        specs = list(shapes)
        for i, spec in enumerate(specs):
            if not (isinstance(spec, tuple) and len(spec) == 2):
                raise TypeError(f"shapes[{i}] must be a (dtype, dims) pair, got {spec!r}")
        n = max(len(specs), 1)
        self.count = len(specs)
        self.types = (ctypes.c_int * n)(*[from_numpy_dtype(d, f"shapes[{i}] dtype") for i, (d, _) in enumerate(specs)])
        self.dims = [(ctypes.c_int64 * max(len(s), 1))(*[int(x) for x in s]) for _, s in specs]
        self.ranks = (ctypes.c_size_t * n)(*[len(s) for _, s in specs])
        self.dim_ptrs = (ctypes.c_void_p * n)(*[ctypes.addressof(d) for d in self.dims])
        self.layouts = (ctypes.c_void_p * n)()
        self.shapes = [(np.dtype(d), tuple(int(x) for x in s)) for d, s in specs]


def _ids(values: Sequence[int], count: int, argname: str) -> Any:
    ids = [int(v) for v in values]
    if len(ids) != count:
        raise ValueError(f"{argname} must have one entry per buffer ({count}), got {len(ids)}")
    return (ctypes.c_int64 * max(count, 1))(*ids)


class CrossHostTransfers(Extension):
    """``PJRT_CrossHostTransfers_Extension``."""

    TYPE = ExtensionType.PJRT_Extension_Type_CrossHostTransfers
    STRUCT = _abi.PJRT_CrossHostTransfers_Extension
    NAME = "Cross-Host Transfers"

    def _buffers(self, client: Any, handles: Any, shapes: _Shapes) -> list[Any]:
        from ..buffer import Buffer
        return [Buffer(client, h, d, s) for h, (d, s) in zip(handles[: shapes.count], shapes.shapes)]

    def receive_buffers(self, client: Any, shapes: Sequence[ShapeSpec], device: Any,
                        src_global_device_ids: Sequence[int], transfer_keys: Sequence[int]) -> list[Any]:
        """Buffers on ``device`` that fill from the matching sends
        (``PJRT_Transfers_PJRT_Client_CrossHostReceiveBuffers``)."""
        from ..client import Client
        from ..device import Device
        spec = _Shapes(shapes)
        src = _ids(src_global_device_ids, spec.count, "src_global_device_ids")
        keys = _ids(transfer_keys, spec.count, "transfer_keys")
        out = (ctypes.c_void_p * max(spec.count, 1))()
        self._call("PJRT_Transfers_PJRT_Client_CrossHostReceiveBuffers", self._args(
            _abi.PJRT_Transfers_PJRT_Client_CrossHostReceiveBuffers_Args, client=handle_of(client, Client, "client"),
            num_shapes=spec.count, shape_num_dims=ctypes.addressof(spec.ranks),
            num_dims=ctypes.addressof(spec.dim_ptrs), element_types=ctypes.addressof(spec.types),
            layouts=ctypes.addressof(spec.layouts), device=handle_of(device, Device, "device"),
            src_global_device_ids=ctypes.addressof(src), transfer_keys=ctypes.addressof(keys),
            buffers=ctypes.addressof(out)))
        return self._buffers(client, out, spec)

    def send_buffers(self, client: Any, buffers: Sequence[Any], dst_global_device_ids: Sequence[int],
                     transfer_keys: Sequence[int]) -> list[Event]:
        """Send each buffer to its remote device; one completion event per buffer
        (``PJRT_Transfers_PJRT_Client_CrossHostSendBuffers``)."""
        from ..buffer import Buffer
        from ..client import Client
        handles = [handle_of(b, Buffer, f"buffers[{i}]") for i, b in enumerate(buffers)]
        n = len(handles)
        arr = (ctypes.c_void_p * max(n, 1))(*handles)
        dst = _ids(dst_global_device_ids, n, "dst_global_device_ids")
        keys = _ids(transfer_keys, n, "transfer_keys")
        events = (ctypes.c_void_p * max(n, 1))()
        self._call("PJRT_Transfers_PJRT_Client_CrossHostSendBuffers", self._args(
            _abi.PJRT_Transfers_PJRT_Client_CrossHostSendBuffers_Args, client=handle_of(client, Client, "client"),
            num_buffers=n, buffers=ctypes.addressof(arr), dst_global_device_ids=ctypes.addressof(dst),
            transfer_keys=ctypes.addressof(keys), send_events=ctypes.addressof(events)))
        return [Event(self.api, address(e, "cross-host send event")) for e in events[:n]]

    def make_receive_buffers(self, client: Any, shapes: Sequence[ShapeSpec], device: Any,
                             notifier: RecvNotifier, allow_cancel: bool = False) -> list[Any]:
        """Buffers on ``device`` that fill from remote sends; ``notifier(error, descriptors, cancel)``
        is called once with one serialized descriptor per buffer
        (``PJRT_Transfers_PJRT_Client_MakeCrossHostReceiveBuffers``).

        ``cancel(descriptor, reason, on_canceled)`` cancels one pending send.
        """
        from ..client import Client
        from ..device import Device
        if not callable(notifier):
            raise TypeError(f"notifier must be callable, got {type(notifier).__name__}")
        spec = _Shapes(shapes)
        out = (ctypes.c_void_p * max(spec.count, 1))()
        holder = ctypes.c_int8()
        key = _registry.add(holder, (self.api, notifier))
        args = self._args(
            _abi.PJRT_Transfers_PJRT_Client_MakeCrossHostReceiveBuffers_Args,
            client=handle_of(client, Client, "client"), num_shapes=spec.count,
            shape_num_dims=ctypes.addressof(spec.ranks), num_dims=ctypes.addressof(spec.dim_ptrs),
            element_types=ctypes.addressof(spec.types), layouts=ctypes.addressof(spec.layouts),
            device=handle_of(device, Device, "device"), buffers=ctypes.addressof(out),
            allow_cancel_notifier=bool(allow_cancel))
        args.notifier.user_arg = key
        args.notifier.notifier = _ON_RECEIVE
        try:
            self._call("PJRT_Transfers_PJRT_Client_MakeCrossHostReceiveBuffers", args)
        except BaseException:
            _registry.drop(key)
            raise
        return self._buffers(client, out, spec)

    def copy_to_remote_device(self, buffer: Any, descriptor: bytes, on_done: SendDone) -> None:
        """Send ``buffer`` to the remote receive slot ``descriptor``; ``on_done(error, sends_were_enqueued)``
        follows (``PJRT_Transfers_PJRT_Buffer_CopyToRemoteDevice``)."""
        from ..buffer import Buffer
        if not isinstance(descriptor, (bytes, bytearray)) or not descriptor:
            raise ValueError("descriptor must be non-empty bytes from the receiver's notifier")
        if not callable(on_done):
            raise TypeError(f"on_done must be callable, got {type(on_done).__name__}")
        handle = handle_of(buffer, Buffer, "buffer")
        data = ctypes.create_string_buffer(bytes(descriptor), len(descriptor))
        holder = ctypes.c_int8()
        key = _registry.add(holder, (self.api, on_done))
        # The plugin keeps `data` only until it copied it (synchronously: `event` is null).
        data_ptr = _libc.malloc(ctypes.sizeof(ctypes.c_void_p))
        size_ptr = _libc.malloc(ctypes.sizeof(ctypes.c_size_t))
        ctypes.c_void_p.from_address(data_ptr).value = ctypes.addressof(data)
        ctypes.c_size_t.from_address(size_ptr).value = len(descriptor)
        args = self._args(_abi.PJRT_Transfers_PJRT_Buffer_CopyToRemoteDevice_Args, buffer=handle,
                          serialized_descriptor=data_ptr, serialized_descriptor_size=size_ptr,
                          descriptor_destructor=_FREE_DESCRIPTOR)
        args.on_done.user_arg = key
        args.on_done.on_done = _ON_SENT
        self._call_void("PJRT_Transfers_PJRT_Buffer_CopyToRemoteDevice", args)
