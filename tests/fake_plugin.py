"""A PJRT plugin made of Python functions, for extensions no installed plugin provides.

:class:`FakePlugin` builds a ``PJRT_Api`` table in ctypes memory whose error
and event functions are Python, and an extension chain whose slots call
Python implementations with the typed args struct, exactly as a C plugin
would call them.  The wrappers under test cannot tell the difference: they
find the extension by walking the chain, fill args structs, call through
the function pointers and read the results back.  Implementations return
``None`` (success) or ``plugin.error(code, message)``.
"""

from __future__ import annotations

import ctypes
from typing import Any, Callable

import pytest

from pjrt_array import _pjrt as P
from pjrt_array._pjrt import _abi
from pjrt_array._pjrt._api import Api, struct_size

from binding_support import CPU_PLUGINS

_PROTOTYPE = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)
Code = _abi.PJRT_Error_Code
# Like a real plugin's code, a fake's functions and memory never go away: a
# wrapper object that outlives its test may still call its destructor slot.
_FOREVER: list[object] = []


class FakePlugin:
    """A ``PJRT_Api`` whose extension slots run Python code."""

    def __init__(self, minor: int = _abi.PJRT_API_MINOR) -> None:
        self._keep = _FOREVER
        self.errors: dict[int, tuple[int, bytes]] = {}
        self.destroyed_errors = 0
        self.calls: list[str] = []
        self.table = _abi.PJRT_Api()
        self.table.struct_size = _abi.PJRT_Api_STRUCT_SIZE
        self.table.pjrt_api_version.major_version = 0
        self.table.pjrt_api_version.minor_version = minor
        self._core("PJRT_Error_Destroy", _abi.PJRT_Error_Destroy_Args, self._error_destroy)
        self._core("PJRT_Error_Message", _abi.PJRT_Error_Message_Args, self._error_message)
        self._core("PJRT_Error_GetCode", _abi.PJRT_Error_GetCode_Args, self._error_code)
        self._core("PJRT_Event_Await", _abi.PJRT_Event_Await_Args, lambda a: None)
        self._core("PJRT_Event_Destroy", _abi.PJRT_Event_Destroy_Args, lambda a: None)
        self._core("PJRT_Event_IsReady", _abi.PJRT_Event_IsReady_Args, lambda a: setattr(a, "is_ready", True))
        self._core("PJRT_TopologyDescription_Destroy", _abi.PJRT_TopologyDescription_Destroy_Args,
                   lambda a: self.calls.append(f"topology_destroy:{a.topology}"))
        self.api = Api(ctypes.addressof(self.table), "<fake plugin>")

    # -- the core functions the binding needs ------------------------------------------------
    def _function(self, args_type: type, fn: Callable[[Any], Any]) -> int:
        def call(address: int) -> int | None:
            result = fn(args_type.from_address(address))
            # Only an error from error() is a result; lambdas may return anything else.
            return result if type(result) is int and result in self.errors else None
        c_fn = _PROTOTYPE(call)
        self._keep.append(c_fn)
        return ctypes.cast(c_fn, ctypes.c_void_p).value or 0

    def _core(self, slot: str, args_type: type, fn: Callable[[Any], Any]) -> None:
        setattr(self.table, slot, self._function(args_type, fn))

    def error(self, code: int, message: str) -> int:
        """A new ``PJRT_Error*`` with ``code`` and ``message``."""
        cell = ctypes.c_int64(0)
        self._keep.append(cell)
        address = ctypes.addressof(cell)
        self.errors[address] = (int(code), message.encode())
        return address

    def _error_destroy(self, a: Any) -> None:
        self.destroyed_errors += 1
        self.errors.pop(a.error, None)

    def _error_message(self, a: Any) -> None:
        _, message = self.errors[a.error]
        a.message = ctypes.cast(ctypes.c_char_p(message), ctypes.c_void_p).value
        a.message_size = len(message)

    def _error_code(self, a: Any) -> None:
        a.code = self.errors[a.error][0]

    # -- extensions ----------------------------------------------------------------------------
    def add_extension(self, struct_type: type, kind: _abi.PJRT_Extension_Type,
                      impls: dict[str, Callable[[Any], Any]], truncate_after: str | None = None) -> Any:
        """Put an extension struct at the head of the chain with Python slot implementations.

        ``truncate_after`` makes ``base.struct_size`` end after that slot, as
        an older plugin's shorter struct would.
        """
        ext = struct_type()
        self._keep.append(ext)
        size = struct_size(struct_type)
        if truncate_after is not None:
            member = getattr(struct_type, truncate_after)
            size = member.offset + member.size
        ext.base.struct_size = size
        ext.base.type = int(kind)
        ext.base.next = self.table.extension_start
        functions = _abi.SLOT_FUNCTIONS.get(struct_type.__name__, {})
        for slot, fn in impls.items():
            args_type = getattr(_abi, _abi.FUNCTIONS[functions[slot]][0])
            setattr(ext, slot, self._function(args_type, self._recording(slot, fn)))
        self.table.extension_start = ctypes.addressof(ext)
        return ext

    def _recording(self, slot: str, fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def call(args: Any) -> Any:
            self.calls.append(slot)
            return fn(args)
        return call

    def keep(self, *objects: object) -> None:
        """Keep memory the fake hands out alive for the plugin's lifetime."""
        self._keep.extend(objects)

    def out_bytes(self, data: bytes) -> tuple[int, int]:
        """``(address, size)`` of plugin-owned bytes."""
        buf = ctypes.create_string_buffer(data, max(len(data), 1))
        self._keep.append(buf)
        return ctypes.addressof(buf), len(data)

    def events(self) -> list[str]:
        """The ``name:arg`` records of calls (slot names left out)."""
        return [c for c in self.calls if ":" in c]

    def deleter(self, name: str) -> Any:
        """A ``void (*)(void*)`` that records ``name:<arg>`` when called."""
        fn = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(lambda p: self.calls.append(f"{name}:{p}"))
        self._keep.append(fn)
        return fn


def function(field: object, prototype: type) -> object:
    """A callable copy of a function-pointer field (the args struct holding it dies after the call)."""
    return prototype(ctypes.cast(field, ctypes.c_void_p).value)


def text(address: int, size: int) -> bytes:
    """The ``size`` bytes at ``address`` (a string the wrapper passed in)."""
    return ctypes.string_at(address, size)


@pytest.fixture
def fake() -> FakePlugin:
    """A new fake plugin with an empty extension chain."""
    return FakePlugin()


@pytest.fixture(scope="module")
def client():
    """A real CPU client: its handles (client, buffers, devices) go into the fake's args."""
    c = P.Client(CPU_PLUGINS[0].path)
    yield c
    c.close()
