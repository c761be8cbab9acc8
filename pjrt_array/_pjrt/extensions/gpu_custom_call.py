"""The GPU custom-call extension (``PJRT_Gpu_Custom_Call``): register custom-call targets.

GPU plugins only.  A target is registered either as an untyped (legacy)
custom call (``api_version=0``: one ``execute`` function with the classic
``(stream, buffers, opaque, opaque_len, status)`` signature) or as a typed
XLA FFI handler (``api_version=1``: ``XLA_FFI_Handler`` functions, one per
execution stage; only ``execute`` is required).  The functions are kept alive
for the life of the process.
"""

from __future__ import annotations

from typing import Any

from .. import _abi
from .._handles import c_bytes_address
from ._base import Extension, c_string, function_address, keep_forever
from ._chain import ExtensionType

__all__ = ["GpuCustomCall", "UNTYPED", "TYPED_FFI"]

#: ``api_version`` of an untyped (legacy) custom call.
UNTYPED = 0
#: ``api_version`` of a typed XLA FFI handler.
TYPED_FFI = 1


class GpuCustomCall(Extension):
    """``PJRT_Gpu_Custom_Call``."""

    TYPE = ExtensionType.PJRT_Extension_Type_Gpu_Custom_Call
    STRUCT = _abi.PJRT_Gpu_Custom_Call
    NAME = "GPU custom call"

    def register_custom_call(self, name: str, execute: Any, *, api_version: int = TYPED_FFI,
                             instantiate: Any = None, prepare: Any = None, initialize: Any = None) -> None:
        """Register ``name`` as a custom-call target (``PJRT_Gpu_Register_Custom_Call``).

        Each handler is a ctypes function object or a function address.
        """
        raw = c_string(name, "name")
        if not raw:
            raise ValueError("name must not be empty")
        if api_version not in (UNTYPED, TYPED_FFI):
            raise ValueError(f"api_version must be {UNTYPED} (untyped) or {TYPED_FFI} (typed FFI), got {api_version!r}")
        if api_version == UNTYPED and any(h is not None for h in (instantiate, prepare, initialize)):
            raise ValueError("an untyped custom call has only an execute function")
        args = self._args(
            _abi.PJRT_Gpu_Register_Custom_Call_Args, function_name=c_bytes_address(raw), function_name_size=len(raw),
            api_version=api_version, handler_execute=function_address(execute, "execute"),
            handler_instantiate=function_address(instantiate, "instantiate", optional=True),
            handler_prepare=function_address(prepare, "prepare", optional=True),
            handler_initialize=function_address(initialize, "initialize", optional=True))
        keep_forever(raw)
        self._call("custom_call", args)
