"""Key-value store callbacks for multi-process clients (``PJRT_Client_Create``'s ``kv_*`` fields).

A store is any object with this small protocol (bytes keys and values)::

    get(key, timeout_ms) -> bytes      # block until the key exists; TimeoutError after timeout_ms
    try_get(key) -> bytes | None       # no waiting; None when absent
    put(key, value) -> None

:class:`DictKVStore` is an in-process, thread-safe implementation;
:class:`FileKVStore` lets processes that share a directory (one machine, or a
shared file system) rendezvous without a coordination service.  Exceptions
raised by a store become PJRT errors through the plugin's ``callback_error``
function (``KeyError``/None -> NOT_FOUND, ``TimeoutError`` -> DEADLINE_EXCEEDED,
anything else -> UNKNOWN); they never reach C.
"""

from __future__ import annotations

import ctypes
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from . import _abi
from ._ctypes_util import address, field_types
from .errors import code_for_exception

__all__ = ["KVStore", "DictKVStore", "FileKVStore", "KVBridge"]

_CALLBACK_ERROR = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t)


class KVStore(Protocol):
    def get(self, key: bytes, timeout_ms: int) -> bytes: ...
    def try_get(self, key: bytes) -> bytes | None: ...
    def put(self, key: bytes, value: bytes) -> None: ...


class DictKVStore:
    """A thread-safe in-process key-value store."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}
        self._changed = threading.Condition()

    def put(self, key: bytes, value: bytes) -> None:
        with self._changed:
            self._data[bytes(key)] = bytes(value)
            self._changed.notify_all()

    def try_get(self, key: bytes) -> bytes | None:
        with self._changed:
            return self._data.get(bytes(key))

    def get(self, key: bytes, timeout_ms: int) -> bytes:
        deadline = time.monotonic() + max(timeout_ms, 0) / 1000
        with self._changed:
            while bytes(key) not in self._data:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"key {bytes(key)!r} did not appear within {timeout_ms} ms")
                self._changed.wait(left)
            return self._data[bytes(key)]


class FileKVStore:
    """A key-value store in a directory: one file per key, written atomically (write, then rename).

    Every process given the same ``directory`` sees the others' puts; a blocking
    ``get`` polls for the key's file.  Keys are file names by their SHA-256.
    """

    _POLL_S = (0.001, 0.05)  # first and longest wait between polls

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise ValueError(f"directory {str(self.directory)!r} does not exist")

    def _path(self, key: bytes) -> Path:
        import hashlib  # here: importing it loads OpenSSL (3.7 MB resident) into every process
        return self.directory / hashlib.sha256(bytes(key)).hexdigest()

    def put(self, key: bytes, value: bytes) -> None:
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".put-")
        with os.fdopen(fd, "wb") as f:
            f.write(bytes(value))
        os.replace(temporary, self._path(key))  # readers see the whole value or nothing

    def try_get(self, key: bytes) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def get(self, key: bytes, timeout_ms: int) -> bytes:
        deadline = time.monotonic() + max(timeout_ms, 0) / 1000
        wait = self._POLL_S[0]
        while True:
            value = self.try_get(key)
            if value is not None:
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"key {bytes(key)!r} did not appear within {timeout_ms} ms")
            time.sleep(min(wait, left))
            wait = min(wait * 2, self._POLL_S[1])


class KVBridge:
    """The C callbacks that connect a plugin to a :class:`KVStore` (kept alive with the client)."""

    def __init__(self, store: KVStore) -> None:
        for method in ("get", "try_get", "put"):
            if not callable(getattr(store, method, None)):
                raise TypeError(f"kv_store must have a callable {method}() (see pjrt_array._pjrt.kv_store)")
        self.store = store
        self._values: dict[int, Any] = {}
        self._lock = threading.Lock()
        self.get_callback = _abi.PJRT_KeyValueGetCallback(self._get)
        self.try_get_callback = _abi.PJRT_KeyValueTryGetCallback(self._try_get)
        self.put_callback = _abi.PJRT_KeyValuePutCallback(self._put)
        self._deleter = field_types(_abi.PJRT_KeyValueGetCallback_Args)["value_deleter_callback"](self._delete)
        self._try_deleter = field_types(_abi.PJRT_KeyValueTryGetCallback_Args)["value_deleter_callback"](
            self._delete)

    def fill(self, args: Any) -> None:
        """Set the kv_* fields of ``PJRT_Client_Create_Args``."""
        args.kv_get_callback = self.get_callback
        args.kv_try_get_callback = self.try_get_callback
        args.kv_put_callback = self.put_callback

    def _fail(self, callback_error: int | None, exc: BaseException) -> int:
        if not callback_error:  # a plugin that gives no way to report: never call a null pointer
            return 0
        code, message = code_for_exception(exc)
        data = message.encode()
        return _CALLBACK_ERROR(callback_error)(int(code), data, len(data)) or 0

    def _hand_out(self, args: Any, value: bytes, deleter: Any) -> None:
        buffer = ctypes.create_string_buffer(value, len(value))
        with self._lock:
            self._values[ctypes.addressof(buffer)] = buffer  # until the plugin calls the deleter
        args.value, args.value_size = ctypes.addressof(buffer), len(value)
        args.value_deleter_callback = deleter

    def _delete(self, value: int | None) -> None:
        with self._lock:
            self._values.pop(value or 0, None)

    def _get(self, args_address: int | None) -> int:
        args = _abi.PJRT_KeyValueGetCallback_Args.from_address(address(args_address, "KV get args"))
        try:
            value = self.store.get(ctypes.string_at(args.key, args.key_size), int(args.timeout_in_ms))
            self._hand_out(args, bytes(value), self._deleter)
            return 0
        except BaseException as exc:  # noqa: BLE001 - becomes a PJRT error, never crosses into C
            return self._fail(args.callback_error, exc)

    def _try_get(self, args_address: int | None) -> int:
        args = _abi.PJRT_KeyValueTryGetCallback_Args.from_address(address(args_address, "KV try-get args"))
        try:
            value = self.store.try_get(ctypes.string_at(args.key, args.key_size))
            if value is None:
                raise KeyError(f"key {ctypes.string_at(args.key, args.key_size)!r} not found")
            self._hand_out(args, bytes(value), self._try_deleter)
            return 0
        except BaseException as exc:  # noqa: BLE001 - becomes a PJRT error
            return self._fail(args.callback_error, exc)

    def _put(self, args_address: int | None) -> int:
        args = _abi.PJRT_KeyValuePutCallback_Args.from_address(address(args_address, "KV put args"))
        try:
            self.store.put(ctypes.string_at(args.key, args.key_size), ctypes.string_at(args.value, args.value_size))
            return 0
        except BaseException as exc:  # noqa: BLE001 - becomes a PJRT error
            return self._fail(args.callback_error, exc)
