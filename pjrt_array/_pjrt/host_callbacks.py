"""Host send/recv callbacks of ``PJRT_ExecuteOptions`` (channels between a program and Python).

A *send* handler receives the bytes a program sends on a channel:
``handler(channel_id, data: bytes, total_size: int, done: bool) -> None``.
A *recv* handler feeds a program's receive on a channel:
``handler(channel_id, stream: CopyToDeviceStream) -> None`` (call ``stream.add_chunk``);
the stream is destroyed after the handler returns.  Exceptions in a send
handler become PJRT errors of the execution; in a recv handler they are
reported through ``sys.unraisablehook``.  Nothing raised crosses into C.
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Callable, Mapping

from . import _abi
from ._ctypes_util import address
from .errors import code_for_exception

if TYPE_CHECKING:
    from .client import Client

__all__ = ["HostCallbacks"]

SendHandler = Callable[[int, bytes, int, bool], None]
RecvHandler = Callable[[int, object], None]
_CALLBACK_ERROR = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t)


class HostCallbacks:
    """The C structures for one execution's send/recv handlers, on ``num_devices`` devices."""

    def __init__(self, client: "Client", send: Mapping[int, SendHandler] | None,
                 recv: Mapping[int, RecvHandler] | None, num_devices: int) -> None:
        self._client = client
        self.send = dict(send or {})
        self.recv = dict(recv or {})
        for kind, handlers in (("send", self.send), ("recv", self.recv)):
            for channel, handler in handlers.items():
                if not isinstance(channel, int) or not callable(handler):
                    raise TypeError(f"{kind} handlers must map int channel ids to callables")
        self._send_fn = _abi.PJRT_SendCallback(self._on_send)
        self._recv_fn = _abi.PJRT_RecvCallback(self._on_recv)
        send_infos = (_abi.PJRT_SendCallbackInfo * max(len(self.send), 1))()
        for info, channel in zip(send_infos, self.send):
            info.channel_id, info.user_arg, info.send_callback = channel, channel, self._send_fn
        recv_infos = (_abi.PJRT_RecvCallbackInfo * max(len(self.recv), 1))()
        for info, channel in zip(recv_infos, self.recv):
            info.channel_id, info.user_arg, info.recv_callback = channel, channel, self._recv_fn
        # Every device gets the same handlers: one pointer per device to each table.
        self.send_lists = (ctypes.c_void_p * max(num_devices, 1))(*[ctypes.addressof(send_infos)] * num_devices)
        self.recv_lists = (ctypes.c_void_p * max(num_devices, 1))(*[ctypes.addressof(recv_infos)] * num_devices)
        self._keep = (send_infos, recv_infos)

    def fill(self, options: _abi.PJRT_ExecuteOptions) -> None:
        """Set the send/recv fields of a ``PJRT_ExecuteOptions``."""
        if self.send:
            options.send_callbacks = ctypes.addressof(self.send_lists)
            options.num_send_ops = len(self.send)
        if self.recv:
            options.recv_callbacks = ctypes.addressof(self.recv_lists)
            options.num_recv_ops = len(self.recv)

    def _on_send(self, chunk: int | None, callback_error: int | None, total: int, done: bool,
                 channel: int | None) -> int:
        data = b""
        if chunk:
            c = _abi.PJRT_Chunk.from_address(chunk)
            data = ctypes.string_at(c.data, c.size) if c.size else b""
            if c.deleter:  # the callback owns the chunk
                c.deleter(c.data, c.deleter_arg)
        try:
            self.send[channel or 0](channel or 0, data, int(total), bool(done))
            return 0
        except BaseException as exc:  # noqa: BLE001 - becomes the execution's error
            code, message = code_for_exception(exc)
            text = message.encode()
            if not callback_error:
                return 0
            return _CALLBACK_ERROR(callback_error)(int(code), text, len(text)) or 0

    def _on_recv(self, stream: int | None, channel: int | None) -> None:
        # An exception here is reported by ctypes through sys.unraisablehook (void callback).
        from .transfer import CopyToDeviceStream
        wrapper = CopyToDeviceStream(self._client, address(stream, "recv callback stream"))
        try:
            self.recv[channel or 0](channel or 0, wrapper)
        finally:
            wrapper.close()  # the callback owns the stream
