"""What every extension wrapper shares: discovery, slot calls, errors, handles.

An extension wrapper is built from a :class:`Plugin`, a :class:`Client` or an
``Api``.  ``Cls.of(source)`` returns None when the plugin does not provide the
extension; ``Cls(source)`` raises :class:`Unimplemented` naming the plugin and
the extension instead.  A slot that is null or past the plugin's (older,
shorter) struct raises :class:`Unimplemented` naming the slot when called, so
nothing is ever called through a bad pointer.
"""

from __future__ import annotations

import contextlib
import ctypes
from _ctypes import CFuncPtr  # the base of every ctypes function type (ctypes._CFuncPtr)
from typing import Any, Callable, ClassVar, Iterator, Sequence, TypeVar

from .. import _abi
from .._api import Api, FunctionTable, new_struct
from .._ctypes_util import field_types
from .._owned import Owned
from .._handles import c_bytes_address
from ..errors import Unimplemented, read_error
from ._chain import ExtensionType, extension_address

__all__ = ["Extension", "Owned", "CStrings", "api_of", "handle_of", "any_handle", "executable_handle", "take_bytes",
           "c_string", "owned_strings", "function_address", "keep_forever"]

E = TypeVar("E", bound="Extension")


def call_slot(table: FunctionTable, slot: str, args: Any, error: Callable[[int], Exception]) -> Any:
    """Call ``slot`` of ``table`` with ``args``; a returned error becomes ``error(err)``, raised."""
    err = table.raw(slot)(ctypes.addressof(args))
    if err:
        raise error(err)
    return args


def api_of(source: Any) -> Api:
    """The ``Api`` of a Plugin, a Client or an Api."""
    if isinstance(source, Api):
        return source
    api = getattr(source, "api", None)
    if isinstance(api, Api):
        return api
    raise TypeError(f"expected a Plugin, a Client or an Api, got {type(source).__name__}")


def handle_of(obj: Any, kind: type[Any] | tuple[type[Any], ...], argname: str) -> int:
    """``obj.handle`` after checking that ``obj`` is one of ``kind`` (TypeError naming ``argname``)."""
    if not isinstance(obj, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise TypeError(f"{argname} must be a {names}, got {type(obj).__name__}")
    return int(obj.handle)


def any_handle(obj: Any, what: str, argname: str) -> int:
    """The live handle of any binding object of a kind this module does not import
    (a topology, an execute context): its non-zero integer ``handle``."""
    handle = getattr(obj, "handle", None)
    if isinstance(handle, bool) or not isinstance(handle, int) or not handle:
        raise TypeError(f"{argname} must be a {what} object with a live handle, got {type(obj).__name__}")
    return handle


@contextlib.contextmanager
def executable_handle(exe: Any, argname: str = "executable") -> Iterator[int]:
    """The ``PJRT_Executable*`` of an Executable or of a LoadedExecutable.

    A LoadedExecutable hands out a new owned ``PJRT_Executable*``; it is
    destroyed when the block ends, so read results before leaving it.
    """
    from ..executable import Executable, LoadedExecutable
    if isinstance(exe, LoadedExecutable):
        owned = exe.executable
        try:
            yield owned.handle
        finally:
            owned.close()
    else:
        yield handle_of(exe, (Executable, LoadedExecutable), argname)


_forever: list[object] = []


def function_address(fn: Any, argname: str, *, optional: bool = False) -> int:
    """The address of a C function given as a ctypes function object or an int.

    Whatever a plugin may call later is kept alive for the life of the process
    (plugins' registries never forget an entry).
    """
    if fn is None and optional:
        return 0
    if isinstance(fn, int) and not isinstance(fn, bool):
        address = fn
    elif isinstance(fn, CFuncPtr):
        address = ctypes.cast(fn, ctypes.c_void_p).value or 0
    else:
        raise TypeError(f"{argname} must be a ctypes function or an address, got {type(fn).__name__}")
    if not address:
        raise ValueError(f"{argname} must not be null")
    keep_forever(fn)
    return address


def keep_forever(*objects: object) -> None:
    """Keep ``objects`` alive until the process exits (memory a plugin registry points into)."""
    _forever.extend(objects)


def take_bytes(data: int | None, size: int, holder: int | None, deleter: Any) -> bytes:
    """Copy plugin-owned bytes, then free them with their ``deleter(holder)``."""
    try:
        return ctypes.string_at(data, size) if data and size else b""
    finally:
        if deleter:
            deleter(holder)


def c_string(value: str | bytes, argname: str) -> bytes:
    """``value`` as bytes for a ``const char*`` + size pair (TypeError naming ``argname``)."""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{argname} must be str or bytes, got {type(value).__name__}")


class CStrings:
    """``const char**`` + ``const size_t*`` arrays built from Python strings; keeps them alive."""

    def __init__(self, values: Sequence[str | bytes], argname: str) -> None:
        if isinstance(values, (str, bytes)):
            raise TypeError(f"{argname} must be a sequence of strings, not a single string")
        self.data = [c_string(v, f"{argname}[{i}]") for i, v in enumerate(values)]
        n = max(len(self.data), 1)
        self.pointers = (ctypes.c_void_p * n)(*[c_bytes_address(d) for d in self.data])
        self.sizes = (ctypes.c_size_t * n)(*[len(d) for d in self.data])
        self.count = len(self.data)


def owned_strings(pointers: int | None, sizes: int | None, count: int) -> list[bytes]:
    """``count`` sized byte strings from ``const char* const*`` + ``const size_t*`` arrays."""
    if not count or not pointers or not sizes:
        return []
    ptrs = (ctypes.c_void_p * count).from_address(pointers)
    lens = (ctypes.c_size_t * count).from_address(sizes)
    return [ctypes.string_at(p, n) if p and n else b"" for p, n in zip(ptrs, lens)]


class Extension:
    """One extension struct of a plugin (subclasses name its type and struct)."""

    TYPE: ClassVar[ExtensionType]
    STRUCT: ClassVar[type]
    NAME: ClassVar[str]

    def __init__(self, source: Any) -> None:
        api = api_of(source)
        address = extension_address(api, self.TYPE)
        if address is None:
            raise Unimplemented(
                f"the {self.NAME} extension is not provided by plugin {api.path} (PJRT API {api.version})")
        self._api = api
        self._table = FunctionTable(self.STRUCT, address, api.version,
                                    f"the {self.NAME} extension of plugin {api.path}")

    @classmethod
    def of(cls: type[E], source: Any) -> E | None:
        """The extension of ``source``'s plugin, or None if the plugin lacks it."""
        api = api_of(source)
        return cls(api) if extension_address(api, cls.TYPE) is not None else None

    @property
    def api(self) -> Api:
        """The plugin's ``PJRT_Api`` (its error functions read this extension's errors)."""
        return self._api

    @property
    def address(self) -> int:
        """Address of the extension struct in the plugin."""
        return self._table.address

    @property
    def struct_size(self) -> int:
        """``base.struct_size`` as the plugin reports it (older plugins have fewer slots)."""
        return self._table.struct_size

    def has(self, slot: str) -> bool:
        """Whether the plugin fills slot ``slot`` (non-null and inside its struct)."""
        return self._table.has(slot)

    def slots(self) -> dict[str, bool]:
        """Every slot the header defines -> whether this plugin implements it."""
        return {name: self.has(name) for name in _abi.SLOTS.get(self.STRUCT.__name__, ())}

    @staticmethod
    def _args(cls: type[ctypes.Structure], **fields: Any) -> Any:
        """An args struct (``struct_size`` set where the struct has one) with ``fields``."""
        args = new_struct(cls) if "struct_size" in field_types(cls) else cls()
        for k, v in fields.items():
            setattr(args, k, v)
        return args

    def _slot_args(self, slot: str, **fields: Any) -> Any:
        """The args struct of slot ``slot`` (as the header types it), with ``fields``."""
        function = _abi.SLOT_FUNCTIONS[self.STRUCT.__name__][slot]
        args_type = _abi.FUNCTIONS[function][0]
        if args_type is None:
            raise TypeError(f"{function} takes no args struct")
        return self._args(getattr(_abi, args_type), **fields)

    def _call(self, slot: str, args: Any) -> Any:
        """Call a slot returning ``PJRT_Error*``; an error is raised as our exception."""
        return call_slot(self._table, slot, args, lambda err: read_error(self._api, err))

    def _call_void(self, slot: str, args: Any) -> Any:
        """Call a slot that returns nothing."""
        self._table.raw(slot)(ctypes.addressof(args))
        return args

    def __repr__(self) -> str:
        implemented = sum(self.slots().values())
        return f"<pjrt {self.NAME} extension: {implemented}/{len(self.slots())} functions>"
