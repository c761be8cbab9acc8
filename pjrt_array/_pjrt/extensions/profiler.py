"""The Profiler extension: the plugin's profiler (``PLUGIN_Profiler_Api``).

``PJRT_Profiler_Extension`` has no functions of its own: its fields are a
pointer to a ``PLUGIN_Profiler_Api`` table and a ``traceme_context_id`` (used
when the struct rides along in an args chain).  Both are exposed;
:class:`ProfilerApi` wraps every function of the table.  The profiler has its
own error type, read and destroyed with the table's ``error_*`` functions.

A session: ``with api.create() as p: p.start(); ...; p.stop(); data = p.collect_data()``
gives a serialized ``tensorflow.profiler.XSpace``.
"""

from __future__ import annotations

import ctypes
from typing import Any

from .. import _abi
from .._api import FunctionTable
from .._ctypes_util import field_types
from .._handles import c_bytes_address
from ..errors import PjrtError, Unimplemented, error_class
from ._base import Extension, Owned, c_string, call_slot
from ._chain import ExtensionType

__all__ = ["ProfilerExtension", "ProfilerApi", "Profiler"]


class ProfilerApi:
    """A plugin's ``PLUGIN_Profiler_Api`` table."""

    def __init__(self, address: int, owner: str) -> None:
        if not address:
            raise Unimplemented(f"{owner} has no profiler API (null profiler_api)")
        self._table = FunctionTable(_abi.PLUGIN_Profiler_Api, address, "PLUGIN_Profiler_Api", owner)
        self._priv = self._table.table.priv

    def has(self, slot: str) -> bool:
        """Whether the table fills ``slot``."""
        return self._table.has(slot)

    def _args(self, cls: type[ctypes.Structure], **fields: Any) -> Any:
        args = cls(struct_size=getattr(_abi, f"{cls.__name__}_STRUCT_SIZE"), **fields)
        if "priv" in field_types(cls):
            args.priv = self._priv
        return args

    def _error(self, err: int) -> PjrtError:
        """The exception for a ``PLUGIN_Profiler_Error*`` (``PLUGIN_Profiler_Error_Message``,
        ``PLUGIN_Profiler_Error_GetCode``); the error is destroyed."""
        try:
            msg = self._args(_abi.PLUGIN_Profiler_Error_Message_Args, error=err)
            self._table.raw("error_message")(ctypes.addressof(msg))
            message = ctypes.string_at(msg.message, msg.message_size).decode("utf-8", "replace") \
                if msg.message else "profiler error"
            code_args = self._args(_abi.PLUGIN_Profiler_Error_GetCode_Args, error=err)
            nested = self._table.raw("error_get_code")(ctypes.addressof(code_args))
            code = _abi.PJRT_Error_Code.PJRT_Error_Code_UNKNOWN if nested else code_args.code
            if nested:
                self._destroy_error(nested)
        finally:
            self._destroy_error(err)
        return error_class(code)(message, code)

    def _destroy_error(self, err: int) -> None:
        """``PLUGIN_Profiler_Error_Destroy``."""
        args = self._args(_abi.PLUGIN_Profiler_Error_Destroy_Args, error=err)
        self._table.raw("error_destroy")(ctypes.addressof(args))

    def _call(self, slot: str, args: Any) -> Any:
        return call_slot(self._table, slot, args, self._error)

    def create(self, options: bytes | str = b"") -> "Profiler":
        """A new profiler (``PLUGIN_Profiler_Create``); ``options`` is a serialized ``tensorflow.ProfileOptions``."""
        raw = c_string(options, "options")
        a = self._call("create", self._args(_abi.PLUGIN_Profiler_Create_Args, options=c_bytes_address(raw),
                                            options_size=len(raw)))
        return Profiler(self, a.profiler)


class Profiler(Owned):
    """A profiler session (owned ``PLUGIN_Profiler*``, destroyed by ``close()``)."""

    _what = "Profiler"

    def __init__(self, api: ProfilerApi, handle: int) -> None:
        super().__init__(None, handle)
        self._api = api

    def _release(self, handle: int) -> None:
        """``PLUGIN_Profiler_Destroy``."""
        self._api._call("destroy", self._api._args(_abi.PLUGIN_Profiler_Destroy_Args, profiler=handle))

    def start(self) -> None:
        """Start collecting (``PLUGIN_Profiler_Start``)."""
        self._api._call("start", self._api._args(_abi.PLUGIN_Profiler_Start_Args, profiler=self.handle))

    def stop(self) -> None:
        """Stop collecting (``PLUGIN_Profiler_Stop``)."""
        self._api._call("stop", self._api._args(_abi.PLUGIN_Profiler_Stop_Args, profiler=self.handle))

    def collect_data(self) -> bytes:
        """The collected trace as a serialized ``XSpace`` (``PLUGIN_Profiler_CollectData``, sized then filled)."""
        a = self._api._args(_abi.PLUGIN_Profiler_CollectData_Args, profiler=self.handle)
        self._api._call("collect_data", a)
        if not a.buffer_size_in_bytes:
            return b""
        out = ctypes.create_string_buffer(a.buffer_size_in_bytes)
        a.buffer = ctypes.addressof(out)
        self._api._call("collect_data", a)
        return out.raw[: a.buffer_size_in_bytes]

    def consume(self) -> bytes:
        """Take the collected data out of the profiler, serialized (``PLUGIN_Profiler_Consume``, then
        ``PLUGIN_Profiler_Serialize`` and ``PLUGIN_Profiler_ConsumeResult_Destroy``)."""
        a = self._api._call("consume", self._api._args(_abi.PLUGIN_Profiler_Consume_Args, profiler=self.handle))
        try:
            s = self._api._call("serialize", self._api._args(_abi.PLUGIN_Profiler_Serialize_Args,
                                                             profiler=self.handle, consume_result=a.result))
            return ctypes.string_at(s.serialized_bytes, s.serialized_size) if s.serialized_bytes else b""
        finally:
            if a.result:
                done = self._api._args(_abi.PLUGIN_Profiler_ConsumeResult_Destroy_Args, consume_result=a.result)
                self._api._table.raw("consume_result_destroy")(ctypes.addressof(done))


class ProfilerExtension(Extension):
    """``PJRT_Profiler_Extension``: a struct of fields, no functions."""

    TYPE = ExtensionType.PJRT_Extension_Type_Profiler
    STRUCT = _abi.PJRT_Profiler_Extension
    NAME = "Profiler"

    def _struct(self) -> _abi.PJRT_Profiler_Extension:
        return _abi.PJRT_Profiler_Extension.from_address(self.address)

    @property
    def profiler_api_address(self) -> int:
        """The ``profiler_api`` field: address of the plugin's ``PLUGIN_Profiler_Api`` (0 if none)."""
        return int(self._struct().profiler_api or 0)

    @property
    def traceme_context_id(self) -> int:
        """The ``traceme_context_id`` field (meaningful only in an args chain)."""
        return int(self._struct().traceme_context_id)

    def profiler_api(self) -> ProfilerApi:
        """The plugin's profiler table; Unimplemented if the field is null."""
        return ProfilerApi(self.profiler_api_address, f"the Profiler extension of plugin {self.api.path}")
