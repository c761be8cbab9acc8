"""The Callback extension: register Python callbacks the runtime invokes on events.

Callback kinds (``PJRT_Callback_Type``): ``Tpu_SliceBuilder`` (a TPU slice
failed; the callback gets the failure type) and ``Prefatal`` (the runtime is
about to die; the callback gets the error code and message).  The Python
callable receives those decoded values; an exception it raises is reported
by ctypes through ``sys.unraisablehook`` (the C signature has no error return).
:meth:`CallbackExtension.invoke` fires the registered callbacks of a kind,
as the runtime would.
"""

from __future__ import annotations

import ctypes
from typing import Any, Callable

from .. import _abi
from .._handles import c_bytes_address
from ._base import Extension, handle_of
from ._callbacks import Registry
from ._chain import ExtensionType

__all__ = ["CallbackExtension", "SLICE_BUILDER", "PREFATAL", "SliceFailure", "prefatal_args",
           "slice_builder_args"]

_T = _abi.PJRT_Callback_Type
SLICE_BUILDER = _T.PJRT_Callback_Type_Tpu_SliceBuilder
PREFATAL = _T.PJRT_Callback_Type_Prefatal
SliceFailure = _abi.PJRT_Callback_Tpu_SliceFailureType

_registry: Registry[tuple[int, Callable[..., None]]] = Registry()


def _decode(kind: int, args: int | None) -> tuple[Any, ...]:
    if kind == SLICE_BUILDER and args:
        raw = _abi.PJRT_Callback_Tpu_SliceBuilderArgs.from_address(args).failure_type
        return (SliceFailure(raw) if raw in SliceFailure._value2member_map_ else raw,)
    if kind == PREFATAL and args:
        a = _abi.PJRT_Callback_PrefatalArgs.from_address(args)
        message = ctypes.string_at(a.error_message, a.error_message_size).decode("utf-8", "replace") \
            if a.error_message else ""
        code = a.error_code
        return (_abi.PJRT_Error_Code(code) if code in _abi.PJRT_Error_Code._value2member_map_ else code, message)
    return (args or 0,)


def _trampoline(args: int | None, user_arg: int | None) -> None:
    # An exception escaping a ctypes callback is reported by ctypes through
    # sys.unraisablehook; the plugin just sees the callback return.
    kind, fn = _registry.get(user_arg)
    fn(*_decode(kind, args))


_TRAMPOLINE = _abi.PJRT_Callback_Function(_trampoline)


def slice_builder_args(failure: int) -> _abi.PJRT_Callback_Tpu_SliceBuilderArgs:
    """Args of a ``Tpu_SliceBuilder`` callback (for :meth:`CallbackExtension.invoke`)."""
    return _abi.PJRT_Callback_Tpu_SliceBuilderArgs(
        struct_size=_abi.PJRT_Callback_Tpu_SliceBuilderArgs_STRUCT_SIZE, failure_type=int(failure))


def prefatal_args(code: int, message: str) -> tuple[_abi.PJRT_Callback_PrefatalArgs, bytes]:
    """Args of a ``Prefatal`` callback and the message bytes they point into (keep both)."""
    raw = message.encode()
    return _abi.PJRT_Callback_PrefatalArgs(
        struct_size=_abi.PJRT_Callback_PrefatalArgs_STRUCT_SIZE, error_code=int(code),
        error_message=c_bytes_address(raw), error_message_size=len(raw)), raw


class CallbackExtension(Extension):
    """``PJRT_Callback_Extension``."""

    TYPE = ExtensionType.PJRT_Extension_Type_Callback
    STRUCT = _abi.PJRT_Callback_Extension
    NAME = "Callback"

    def register(self, client: Any, kind: int, callback: Callable[..., None]) -> None:
        """Call ``callback`` when the runtime raises a ``kind`` event (``PJRT_Register_Callback``).

        ``Tpu_SliceBuilder`` callbacks get ``(failure_type,)``, ``Prefatal``
        ones ``(error_code, message)``.  The callback lives as long as the process.
        """
        from ..client import Client
        if kind not in (SLICE_BUILDER, PREFATAL) or isinstance(kind, bool):
            raise ValueError(f"kind must be SLICE_BUILDER or PREFATAL, got {kind!r}")
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        holder = ctypes.c_int64(int(kind))
        key = _registry.add(holder, (int(kind), callback))
        try:
            self._call("register_callback", self._args(
                _abi.PJRT_Callback_RegisterCallback_Args, client=handle_of(client, Client, "client"),
                type=int(kind), callback=_TRAMPOLINE, user_arg=key))
        except BaseException:
            _registry.drop(key)
            raise

    def invoke(self, client: Any, kind: int, args: Any) -> None:
        """Run the callbacks registered for ``kind`` with a ctypes ``args`` struct
        (``PJRT_Callback_InvokeCallback``), e.g. :func:`slice_builder_args`."""
        from ..client import Client
        if not isinstance(args, ctypes.Structure):
            raise TypeError(f"args must be a ctypes callback-args struct, got {type(args).__name__}")
        self._call("invoke_callback", self._args(
            _abi.PJRT_Callback_InvokeCallback_Args, client=handle_of(client, Client, "client"), type=int(kind),
            args=ctypes.addressof(args)))
