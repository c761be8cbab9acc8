"""Python callbacks a plugin calls with a ``version_and_error`` result header.

The Custom Partitioner and XLA Transform extensions let a plugin call back
into user code.  Each call gets an args struct that starts with a header
``{api_version, data, cleanup_fn, has_error, code, error_msg}``: the callee
writes its results into the struct, keeps the memory behind them alive in
``data`` and hands the plugin ``cleanup_fn(data)`` to free it.  Here the
results live in a registry under an integer key (that key is ``data``), and
``cleanup_fn`` drops the key.  A Python exception becomes ``has_error`` +
code + message, never an exception unwinding into C.

A callbacks struct is identified by its own address (the first argument of
every callback), so one trampoline per callback kind serves all of them.
"""

from __future__ import annotations

import ctypes
import itertools
import threading
from typing import Any, Generic, TypeVar

from .._handles import c_bytes_address
from ..errors import code_for_exception

__all__ = ["Registry", "publish", "set_string", "read_string", "held_count"]

_held: dict[int, list[object]] = {}
_keys = itertools.count(1)
_lock = threading.Lock()


def _cleanup(data: int | None) -> None:
    with _lock:
        _held.pop(data or 0, None)


# Every header's cleanup_fn field is CFUNCTYPE(None, c_void_p); ctypes caches that type.
CLEANUP = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(_cleanup)


def held_count() -> int:
    """How many callback results the plugin has not released yet."""
    with _lock:
        return len(_held)


def set_string(target: Any, value: bytes, held: list[object]) -> None:
    """Point a ``{data, size}`` string struct at ``value`` (kept alive in ``held``)."""
    held.append(value)
    target.data = c_bytes_address(value) if value else None
    target.size = len(value)


def read_string(source: Any) -> bytes:
    """The bytes of a ``{data, size}`` string struct."""
    return ctypes.string_at(source.data, source.size) if source.data and source.size else b""


def publish(header: Any, held: list[object], error: BaseException | None) -> None:
    """Hand results (kept alive by ``held``) or ``error`` to the plugin through ``header``."""
    if error is not None:
        code, message = code_for_exception(error)
        header.has_error = True
        header.code = int(code)
        set_string(header.error_msg, message.encode("utf-8", "replace"), held)
    with _lock:
        key = next(_keys)
        _held[key] = held
    header.data = key
    header.cleanup_fn = CLEANUP


_T = TypeVar("_T")


class Registry(Generic[_T]):
    """Python objects behind live callbacks structs, by the struct's address."""

    def __init__(self) -> None:
        self._objects: dict[int, tuple[object, _T]] = {}
        self._lock = threading.Lock()

    def add(self, struct: Any, obj: _T) -> int:
        """Keep ``struct`` and its Python ``obj`` until :meth:`drop`; returns the struct address."""
        address = ctypes.addressof(struct)
        with self._lock:
            self._objects[address] = (struct, obj)
        return address

    def get(self, address: int | None) -> _T:
        """The Python object of the callbacks struct at ``address``; LookupError if unknown."""
        with self._lock:
            found = self._objects.get(address or 0)
        if found is None:
            raise LookupError("these callbacks were destroyed by the plugin (dtor) or never registered")
        return found[1]

    def drop(self, address: int | None) -> None:
        """Forget a callbacks struct (its ``dtor`` was called)."""
        with self._lock:
            self._objects.pop(address or 0, None)

    def __contains__(self, address: int) -> bool:
        with self._lock:
            return address in self._objects
