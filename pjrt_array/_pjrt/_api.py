"""Calling into a plugin's ``PJRT_Api`` function table.

Every PJRT function has the C signature ``PJRT_Error* f(Args* args)`` (the
three error functions return ``void``), so one ctypes prototype serves them
all; callers pass ``ctypes.addressof(args)``.  A caller is built once per slot
and cached.  Before the first call of a slot we check that the plugin's table
is long enough to hold it (``struct_size``) and that the slot is not null: a
function past an older plugin's table raises :class:`Unimplemented` naming the
function, the plugin's API version and the version that introduced it.
"""

from __future__ import annotations

import ctypes
import os
import threading
from typing import Any, Callable

from . import _abi, _versions
from .errors import Unimplemented, read_error

# ctypes releases the GIL around a CFUNCTYPE call, which lets plugin threads
# run Python callbacks (event on-ready, KV store) while we wait in C.
_PROTOTYPE = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)

_STRUCT_SIZES: dict[type, int] = {
    getattr(_abi, name[: -len("_STRUCT_SIZE")]): value
    for name, value in vars(_abi).items()
    if name.endswith("_STRUCT_SIZE") and isinstance(value, int)
    and isinstance(getattr(_abi, name[: -len("_STRUCT_SIZE")], None), type)
}

RawFn = Callable[[int], "int | None"]


def struct_size(cls: type) -> int:
    """``<cls>_STRUCT_SIZE`` as the header defines it (offset of last field + its size)."""
    return _STRUCT_SIZES[cls]


def new_struct(cls: type) -> Any:
    """A zeroed args struct with ``struct_size`` set, as the C API requires."""
    s = cls()
    s.struct_size = _STRUCT_SIZES[cls]
    return s


class FunctionTable:
    """A struct of function pointers (``PJRT_Api`` or an extension) of a plugin."""

    def __init__(self, table_type: type[ctypes.Structure], address: int, version: str, owner: str) -> None:
        self.table_type = table_type
        self.address = address
        self.table = table_type.from_address(address)
        # PJRT_Api starts with struct_size; extensions start with a PJRT_Extension_Base.
        header = self.table if hasattr(table_type, "struct_size") else self.table.base
        self.struct_size = int(header.struct_size)
        self.version = version
        self.owner = owner
        self._raw: dict[str, RawFn] = {}
        self._lock = threading.Lock()

    def has(self, name: str) -> bool:
        """Whether the plugin's table holds a non-null ``name`` slot."""
        member = getattr(self.table_type, name, None)
        if member is None or member.offset + member.size > self.struct_size:
            return False
        return bool(getattr(self.table, name))

    def raw(self, name: str) -> RawFn:
        """The C function for slot ``name``; raises :class:`Unimplemented` if absent."""
        fn = self._raw.get(name)
        if fn is not None:
            return fn
        if not self.has(name):
            since = _versions.introduced_in(name)
            raise Unimplemented(
                f"{name} is not implemented by {self.owner} (its API version is {self.version}"
                + (f"; {name} was introduced in PJRT API {since}" if since else "") + ")"
            )
        with self._lock:
            fn = self._raw.setdefault(name, _PROTOTYPE(getattr(self.table, name)))
        return fn


class Api(FunctionTable):
    """A plugin's ``PJRT_Api`` with its negotiated version."""

    def __init__(self, address: int, path: str) -> None:
        table = _abi.PJRT_Api.from_address(address)
        self.major = int(table.pjrt_api_version.major_version)
        self.minor = int(table.pjrt_api_version.minor_version)
        super().__init__(_abi.PJRT_Api, address, f"{self.major}.{self.minor}", f"plugin {path}")
        self.path = path
        self.pid = os.getpid()

    new = staticmethod(new_struct)

    def call(self, name: str, args: Any) -> None:
        """Call slot ``name`` with ``args``; a returned error is raised as our exception."""
        err = self.raw(name)(ctypes.addressof(args))
        if err:
            raise read_error(self, err)

    def check(self, err: "int | None") -> None:
        """Raise for a ``PJRT_Error*`` returned by a prebuilt caller on a hot path."""
        if err:
            raise read_error(self, err)

    def error_payloads(self, err: int) -> dict[bytes, bytes]:
        """Payloads attached to a ``PJRT_Error*`` (``PJRT_Error_ForEachPayload``)."""
        found: dict[bytes, bytes] = {}

        def visit(key: int, key_size: int, value: int, value_size: int, _user: int) -> None:
            found[ctypes.string_at(key, key_size)] = ctypes.string_at(value, value_size)

        visitor = _abi.PJRT_Error_PayloadVisitor(visit)
        args = new_struct(_abi.PJRT_Error_ForEachPayload_Args)
        args.error = err
        args.visitor = visitor
        nested = self.raw("PJRT_Error_ForEachPayload")(ctypes.addressof(args))
        if nested:
            self.destroy_error(nested)
        return found

    def destroy_error(self, err: int) -> None:
        """Destroy a ``PJRT_Error*`` without reading it (``PJRT_Error_Destroy``)."""
        args = new_struct(_abi.PJRT_Error_Destroy_Args)
        args.error = err
        self.raw("PJRT_Error_Destroy")(ctypes.addressof(args))
