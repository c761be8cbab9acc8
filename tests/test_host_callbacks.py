"""Send/recv host callbacks and the other execute options, on both CPU plugins."""

import ctypes

import numpy as np

from binding_support import _shared_clients, client, plugin_info  # noqa: F401 - fixtures
from pjrt_array._pjrt import _abi
from pjrt_array._pjrt.host_callbacks import HostCallbacks

ADD = """func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = stablehlo.add %a, %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}"""
RAISED = []


@ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t)
def _callback_error(code, message, size):
    RAISED.append((code, ctypes.string_at(message, size)))
    return 0xE000 + code


def test_execute_options_with_handlers_context_and_non_donatable(client):
    exe = client.compile(ADD)
    x = client.buffer_from_numpy(np.arange(4, dtype=np.float32))
    context = client.create_execute_context()
    (out,), events = exe.execute_sharded([[x]], with_events=True, non_donatable=[0], context=context,
                                         send={7: lambda *a: None}, recv={8: lambda *a: None})
    assert all(e.is_ready() for e in events)
    np.testing.assert_array_equal(out[0].to_numpy(), np.arange(4, dtype=np.float32) * 2)


def test_send_trampoline_hands_bytes_to_the_handler_and_maps_errors(client):
    received = []

    def ok(channel, data, total, done):
        received.append((channel, data, total, done))

    def broken(channel, data, total, done):
        raise ValueError("no room")

    callbacks = HostCallbacks(client, {3: ok, 4: broken}, None, 1)
    freed = []
    deleter = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)(lambda data, arg: freed.append(arg))
    payload = ctypes.create_string_buffer(b"abcd", 4)
    chunk = _abi.PJRT_Chunk()
    chunk.data, chunk.size, chunk.deleter_arg = ctypes.addressof(payload), 4, 99
    chunk.deleter = ctypes.cast(deleter, type(chunk.deleter))
    error_fn = ctypes.cast(_callback_error, ctypes.c_void_p).value
    assert callbacks._send_fn(ctypes.addressof(chunk), error_fn, 4, True, 3) in (0, None)
    assert received == [(3, b"abcd", 4, True)] and freed == [99]
    err = callbacks._send_fn(ctypes.addressof(chunk), error_fn, 4, True, 4)
    assert err == 0xE000 + _abi.PJRT_Error_Code.PJRT_Error_Code_INVALID_ARGUMENT
    assert b"no room" in RAISED[-1][1]
