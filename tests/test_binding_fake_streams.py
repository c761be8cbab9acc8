"""Host send/recv callbacks and ``PJRT_CopyToDeviceStream``, driven by a plugin made of Python
functions exactly as a C plugin drives them.

No installed CPU plugin makes a CopyToDeviceStream: XLA:CPU cannot compile a host
``recv`` ("HLO opcode `recv` is not supported by XLA:CPU ThunkEmitter"), so a
recv callback never runs there.  Here the fake plugin implements the five
``PJRT_CopyToDeviceStream_*`` functions, and the test walks the
``PJRT_ExecuteOptions`` the binding filled, calling each handler through the
function pointer and ``user_arg`` it finds, as the plugin's executor would.
"""

from __future__ import annotations

import ctypes
import sys

import pytest

from fake_plugin import FakePlugin
from pjrt_array._pjrt import Client, _abi
from pjrt_array._pjrt import transfer
from pjrt_array._pjrt._api import new_struct
from pjrt_array._pjrt._loader import Plugin
from pjrt_array._pjrt.errors import ClosedError, InvalidArgument, PjrtError
from pjrt_array._pjrt.host_callbacks import HostCallbacks

Code = _abi.PJRT_Error_Code
STREAM = 0x5EED
TOTAL = 16


class FakeStreams:
    """A fake plugin with a client and one copy-to-device stream of ``TOTAL`` bytes."""

    def __init__(self) -> None:
        self.fake = fake = FakePlugin()
        self.received = b""
        self.destroyed: list[int] = []
        fake._core("PJRT_Client_Create", _abi.PJRT_Client_Create_Args, lambda a: setattr(a, "client", 0xC1))
        fake._core("PJRT_Client_Destroy", _abi.PJRT_Client_Destroy_Args, lambda a: None)
        fake._core("PJRT_Buffer_Destroy", _abi.PJRT_Buffer_Destroy_Args, lambda a: None)
        fake._core("PJRT_CopyToDeviceStream_TotalBytes", _abi.PJRT_CopyToDeviceStream_TotalBytes_Args,
                   lambda a: setattr(a, "total_bytes", TOTAL))
        fake._core("PJRT_CopyToDeviceStream_GranuleSize", _abi.PJRT_CopyToDeviceStream_GranuleSize_Args,
                   lambda a: setattr(a, "granule_size_in_bytes", 4))
        fake._core("PJRT_CopyToDeviceStream_CurrentBytes", _abi.PJRT_CopyToDeviceStream_CurrentBytes_Args,
                   lambda a: setattr(a, "current_bytes", len(self.received)))
        fake._core("PJRT_CopyToDeviceStream_AddChunk", _abi.PJRT_CopyToDeviceStream_AddChunk_Args, self._add_chunk)
        fake._core("PJRT_CopyToDeviceStream_Destroy", _abi.PJRT_CopyToDeviceStream_Destroy_Args,
                   lambda a: self.destroyed.append(a.stream))
        self.client = Client(Plugin("<fake plugin>", None, fake.api))

    def _add_chunk(self, a: object) -> int | None:
        assert a.stream == STREAM  # type: ignore[attr-defined]
        chunk = _abi.PJRT_Chunk.from_address(a.chunk)  # type: ignore[attr-defined]
        data = ctypes.string_at(chunk.data, chunk.size)
        chunk.deleter(chunk.data, chunk.deleter_arg)  # the plugin owns the chunk: it frees it when done
        if len(self.received) + len(data) > TOTAL:
            return self.fake.error(Code.PJRT_Error_Code_INVALID_ARGUMENT, "chunk exceeds the stream's total bytes")
        self.received += data
        a.transfer_complete = 0xE7  # type: ignore[attr-defined]
        return None

    def run_recv(self, recv: dict, num_devices: int = 1) -> None:
        """Fill execute options with ``recv`` handlers and call each as the plugin's executor would."""
        callbacks = HostCallbacks(self.client, None, recv, num_devices)
        options = new_struct(_abi.PJRT_ExecuteOptions)
        callbacks.fill(options)
        assert options.num_recv_ops == len(recv)
        per_device = (ctypes.c_void_p * num_devices).from_address(options.recv_callbacks)
        for table in per_device:
            for info in (_abi.PJRT_RecvCallbackInfo * options.num_recv_ops).from_address(table):
                callback = ctypes.cast(info.recv_callback, ctypes.c_void_p).value
                _abi.PJRT_RecvCallback(callback)(STREAM, info.user_arg)


@pytest.fixture
def streams() -> FakeStreams:
    s = FakeStreams()
    yield s
    s.client.close()


def test_recv_handler_fills_the_stream_and_the_stream_is_destroyed_once(streams):
    """PJRT_CopyToDeviceStream_TotalBytes, PJRT_CopyToDeviceStream_GranuleSize,
    PJRT_CopyToDeviceStream_CurrentBytes, PJRT_CopyToDeviceStream_AddChunk and
    PJRT_CopyToDeviceStream_Destroy, from a recv handler."""
    seen = []

    def handler(channel, stream):
        seen.append((channel, stream.total_bytes, stream.granule_size, stream.current_bytes))
        stream.add_chunk(b"\x00\x01\x02\x03" * 2)
        seen.append(stream.current_bytes)
        stream.add_chunk(bytes(range(8)))

    streams.run_recv({9: handler})
    assert seen == [(9, TOTAL, 4, 0), 8]
    assert streams.received == b"\x00\x01\x02\x03" * 2 + bytes(range(8))
    assert streams.destroyed == [STREAM]  # the handler owned it; the binding destroyed it after the handler
    assert not transfer._CHUNKS  # every chunk went back through its deleter


def test_recv_handlers_run_per_device_and_channel(streams):
    calls = []
    streams.run_recv({1: lambda ch, s: calls.append(ch), 2: lambda ch, s: calls.append(ch)}, num_devices=2)
    assert sorted(calls) == [1, 1, 2, 2]
    assert streams.destroyed == [STREAM] * 4


def test_chunk_refused_by_the_plugin_raises_in_the_handler(streams):
    """An error of PJRT_CopyToDeviceStream_AddChunk becomes the handler's exception."""
    errors = []

    def handler(channel, stream):
        stream.add_chunk(bytes(12))
        try:
            stream.add_chunk(bytes(8))  # 20 > 16 bytes
        except PjrtError as exc:
            errors.append(exc)

    streams.run_recv({3: handler})
    assert len(errors) == 1 and isinstance(errors[0], InvalidArgument)
    assert "total bytes" in errors[0].message
    assert streams.destroyed == [STREAM]
    assert not transfer._CHUNKS


def test_a_raising_recv_handler_is_reported_and_the_stream_still_destroyed(streams, monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: reported.append(info.exc_value))

    def handler(channel, stream):
        raise RuntimeError("no data for you")

    streams.run_recv({4: handler})  # returns to the "plugin": nothing crosses into C
    assert [str(e) for e in reported] == ["no data for you"]
    assert streams.destroyed == [STREAM]


def test_a_stream_kept_past_its_handler_refuses_use(streams):
    kept = []
    streams.run_recv({5: lambda ch, stream: kept.append(stream)})
    with pytest.raises(ClosedError, match="handler returns"):
        kept[0].add_chunk(b"late")
    with pytest.raises(ClosedError):
        kept[0].total_bytes
    kept[0].close()  # idempotent
    assert streams.destroyed == [STREAM]


def test_bad_handler_tables_are_refused(streams):
    with pytest.raises(TypeError, match="recv handlers"):
        HostCallbacks(streams.client, None, {"1": lambda ch, s: None}, 1)
    with pytest.raises(TypeError, match="send handlers"):
        HostCallbacks(streams.client, {1: "not callable"}, None, 1)


def test_send_handlers_through_the_filled_options(streams):
    """The send table as the executor reads it: per device, ``num_send_ops`` entries whose
    ``send_callback(chunk, callback_error, total, done, user_arg)`` reaches the channel's handler,
    which owns (and frees) the chunk; a raising handler becomes the PJRT_CallbackError's error."""
    got = []

    def broken(channel, data, total, done):
        raise KeyError("channel closed")

    callbacks = HostCallbacks(streams.client, {7: lambda *a: got.append(a), 8: broken}, None, 2)
    options = new_struct(_abi.PJRT_ExecuteOptions)
    callbacks.fill(options)
    assert options.num_send_ops == 2 and not options.num_recv_ops
    made = []
    callback_error = _abi.PJRT_CallbackError(lambda code, message, size: made.append(
        (code, ctypes.string_at(message, size))) or 0xBAD)
    freed = []
    deleter = dict(_abi.PJRT_Chunk._fields_)["deleter"](lambda data, arg: freed.append(arg))
    payload = ctypes.create_string_buffer(b"\x01\x02\x03", 3)
    results = []
    for table in (ctypes.c_void_p * 2).from_address(options.send_callbacks):
        for info in (_abi.PJRT_SendCallbackInfo * options.num_send_ops).from_address(table):
            chunk = _abi.PJRT_Chunk(ctypes.addressof(payload), 3, deleter, info.channel_id)
            send = _abi.PJRT_SendCallback(ctypes.cast(info.send_callback, ctypes.c_void_p).value)
            results.append(send(ctypes.addressof(chunk), ctypes.cast(callback_error, ctypes.c_void_p).value, 3,
                                True, info.user_arg))
    assert got == [(7, b"\x01\x02\x03", 3, True)] * 2
    assert results == [None, 0xBAD] * 2  # success is a null PJRT_Error*
    assert made == [(Code.PJRT_Error_Code_NOT_FOUND, b"KeyError: 'channel closed'")] * 2
    assert freed == [7, 8, 7, 8]
