"""The key-value store bridge, driven through ctypes exactly as a plugin calls it."""

import ctypes
import threading

import pytest

from pjrt_array._pjrt import Client, _abi
from pjrt_array._pjrt._api import new_struct
from pjrt_array._pjrt.kv_store import DictKVStore, FileKVStore, KVBridge

# The plugin side of an error: PJRT_CallbackError(code, message, size) -> PJRT_Error*.
RAISED: list[tuple[int, bytes]] = []


@ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t)
def _callback_error(code, message, size):
    RAISED.append((code, ctypes.string_at(message, size)))
    return 0xE000 + code  # a fake PJRT_Error*


def _put(bridge, key, value):
    args = new_struct(_abi.PJRT_KeyValuePutCallback_Args)
    args.key, args.key_size = ctypes.cast(ctypes.c_char_p(key), ctypes.c_void_p).value, len(key)
    args.value, args.value_size = ctypes.cast(ctypes.c_char_p(value), ctypes.c_void_p).value, len(value)
    args.callback_error = ctypes.cast(_callback_error, ctypes.c_void_p).value
    return bridge.put_callback(ctypes.addressof(args))


def _get(bridge, key, timeout_ms=None):
    kind = _abi.PJRT_KeyValueTryGetCallback_Args if timeout_ms is None else _abi.PJRT_KeyValueGetCallback_Args
    args = new_struct(kind)
    args.key, args.key_size = ctypes.cast(ctypes.c_char_p(key), ctypes.c_void_p).value, len(key)
    args.callback_error = ctypes.cast(_callback_error, ctypes.c_void_p).value
    if timeout_ms is None:
        err = bridge.try_get_callback(ctypes.addressof(args))
    else:
        args.timeout_in_ms = timeout_ms
        err = bridge.get_callback(ctypes.addressof(args))
    if err:
        return err, None
    value = ctypes.string_at(args.value, args.value_size)
    args.value_deleter_callback(args.value)  # the plugin frees the value after copying it
    return None, value


def test_put_get_try_get_round_trip_and_values_are_freed():
    bridge = KVBridge(DictKVStore())
    assert not _put(bridge, b"rank/0", b"hello")
    assert _get(bridge, b"rank/0", timeout_ms=100) == (None, b"hello")
    assert _get(bridge, b"rank/0") == (None, b"hello")
    assert not bridge._values


def test_missing_keys_and_timeouts_become_pjrt_errors():
    RAISED.clear()
    bridge = KVBridge(DictKVStore())
    err, _ = _get(bridge, b"absent")
    assert err == 0xE000 + _abi.PJRT_Error_Code.PJRT_Error_Code_NOT_FOUND
    err, _ = _get(bridge, b"absent", timeout_ms=10)
    assert err == 0xE000 + _abi.PJRT_Error_Code.PJRT_Error_Code_DEADLINE_EXCEEDED
    assert b"did not appear" in RAISED[-1][1]


def test_a_raising_store_never_crashes():
    class Broken:
        def get(self, key, timeout_ms):
            raise RuntimeError("disk on fire")

        def try_get(self, key):
            raise ValueError("bad key")

        def put(self, key, value):
            raise MemoryError

    RAISED.clear()
    bridge = KVBridge(Broken())
    assert _put(bridge, b"k", b"v") == 0xE000 + _abi.PJRT_Error_Code.PJRT_Error_Code_RESOURCE_EXHAUSTED
    assert _get(bridge, b"k")[0] == 0xE000 + _abi.PJRT_Error_Code.PJRT_Error_Code_INVALID_ARGUMENT
    assert _get(bridge, b"k", timeout_ms=5)[0] == 0xE000 + _abi.PJRT_Error_Code.PJRT_Error_Code_UNKNOWN
    assert b"disk on fire" in RAISED[-1][1]


def test_blocking_get_sees_a_later_put_from_another_thread():
    bridge = KVBridge(DictKVStore())
    timer = threading.Timer(0.05, lambda: _put(bridge, b"late", b"value"))
    timer.start()
    assert _get(bridge, b"late", timeout_ms=5000) == (None, b"value")
    timer.join()


def test_client_accepts_a_store_and_rejects_a_non_store():
    with Client(kv_store=DictKVStore()) as client:
        assert client.devices()
        assert isinstance(client._keep_alive, KVBridge)
    with pytest.raises(TypeError):
        Client(kv_store=object())


def test_values_live_until_the_plugin_calls_the_deleter():
    bridge = KVBridge(DictKVStore())
    _put(bridge, b"k", b"value")
    args = new_struct(_abi.PJRT_KeyValueGetCallback_Args)
    args.key, args.key_size = ctypes.cast(ctypes.c_char_p(b"k"), ctypes.c_void_p).value, 1
    args.timeout_in_ms = 100
    args.callback_error = ctypes.cast(_callback_error, ctypes.c_void_p).value
    assert not bridge.get_callback(ctypes.addressof(args))
    assert len(bridge._values) == 1  # handed out: must stay valid while the plugin reads it
    assert ctypes.string_at(args.value, args.value_size) == b"value"
    args.value_deleter_callback(args.value)
    assert not bridge._values


def test_a_failure_without_a_callback_error_function_never_calls_null():
    class Broken:
        def get(self, key, timeout_ms):
            raise RuntimeError("boom")

        try_get = put = get

    bridge = KVBridge(Broken())
    args = new_struct(_abi.PJRT_KeyValuePutCallback_Args)  # callback_error left null
    args.key, args.key_size = ctypes.cast(ctypes.c_char_p(b"k"), ctypes.c_void_p).value, 1
    assert not bridge.put_callback(ctypes.addressof(args))


def test_non_bytes_values_from_a_store_become_errors():
    class Texty(DictKVStore):
        def try_get(self, key):
            return "text, not bytes"

    RAISED.clear()
    err, _ = _get(KVBridge(Texty()), b"k")
    assert err == 0xE000 + _abi.PJRT_Error_Code.PJRT_Error_Code_UNKNOWN
    assert b"TypeError" in RAISED[-1][1]


def test_file_store_through_the_bridge(tmp_path):
    writer, reader = KVBridge(FileKVStore(tmp_path)), KVBridge(FileKVStore(tmp_path))
    assert not _put(writer, b"topology/0", b"\x01\x02")
    assert _get(reader, b"topology/0", timeout_ms=1000) == (None, b"\x01\x02")
    assert _get(reader, b"topology/1")[0] == 0xE000 + _abi.PJRT_Error_Code.PJRT_Error_Code_NOT_FOUND
