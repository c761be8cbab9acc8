"""The FFI extension (``PJRT_FFI_Extension``): XLA FFI types, user data and custom-call handlers.

XLA's FFI registries are process-wide and never forget an entry, so whatever
we hand them (a handler function pointer, a type's deleter) is kept alive here
for the life of the process.  User data attached to an execute context is a
Python object: the plugin gets an opaque key, and the object is held in a
registry until XLA calls the type's deleter with that key (types registered
with :meth:`FFI.register_type` get that deleter; objects attached under a
type registered elsewhere are simply kept).
"""

from __future__ import annotations

import ctypes
import itertools
import threading
from typing import Any, Callable

from .. import _abi
from .._handles import c_bytes_address
from ._base import Extension, any_handle, c_string, function_address, keep_forever
from ._chain import ExtensionType
from .ffi_handler import python_handler

__all__ = ["FFI", "HANDLER_TRAITS_COMMAND_BUFFER_COMPATIBLE"]

#: ``PJRT_FFI_HANDLER_TRAITS_COMMAND_BUFFER_COMPATIBLE``: the handler may be captured in a command buffer.
HANDLER_TRAITS_COMMAND_BUFFER_COMPATIBLE = int(
    _abi.PJRT_FFI_Handler_TraitsBits.PJRT_FFI_HANDLER_TRAITS_COMMAND_BUFFER_COMPATIBLE)

_user_data: dict[int, object] = {}
_keys = itertools.count(1)
_lock = threading.Lock()


def _drop_user_data(key: int | None) -> None:
    # Called by XLA (on any thread) when an execute context holding `key` dies.
    with _lock:
        _user_data.pop(key or 0, None)


_DELETER = _abi.PJRT_FFI_Type_Info._fields_[0][1](_drop_user_data)
_TYPE_INFO = _abi.PJRT_FFI_Type_Info(deleter=_DELETER)


def user_data_count() -> int:
    """How many user-data objects are currently held for execute contexts."""
    with _lock:
        return len(_user_data)


class FFI(Extension):
    """``PJRT_FFI_Extension``: ``type_register``, ``user_data_add``, ``register_handler``."""

    TYPE = ExtensionType.PJRT_Extension_Type_FFI
    STRUCT = _abi.PJRT_FFI
    NAME = "FFI"

    def register_type(self, name: str, type_id: int = 0) -> int:
        """Register an FFI type by name (``PJRT_FFI_Type_Register``); returns its type id.

        With ``type_id=0`` XLA assigns a new id (a name it already knows is
        an error); a non-zero ``type_id`` checks that ``name`` is registered
        with exactly that id.  The plugin's error is raised otherwise.
        """
        raw = c_string(name, "name")
        if not raw:
            raise ValueError("name must not be empty")
        if isinstance(type_id, bool) or not isinstance(type_id, int) or type_id < 0:
            raise ValueError(f"type_id must be a non-negative int, got {type_id!r}")
        a = self._call("type_register", self._args(
            _abi.PJRT_FFI_Type_Register_Args, type_name=c_bytes_address(raw), type_name_size=len(raw),
            type_id=type_id, type_info=ctypes.addressof(_TYPE_INFO)))
        return int(a.type_id)

    def add_user_data(self, context: Any, type_id: int, data: object) -> None:
        """Attach ``data`` to an execute context under ``type_id`` (``PJRT_FFI_UserData_Add``).

        FFI handlers running with that context find it by type id.  ``data``
        is kept alive at least as long as the context: until XLA calls the
        type's deleter, if it ever does.
        """
        handle = any_handle(context, "execute context", "context")
        if isinstance(type_id, bool) or not isinstance(type_id, int) or type_id <= 0:
            raise ValueError(f"type_id must be a registered (positive) type id, got {type_id!r}")
        with _lock:
            key = next(_keys)
            _user_data[key] = data
        args = self._args(_abi.PJRT_FFI_UserData_Add_Args, context=handle)
        args.user_data.type_id = type_id
        args.user_data.data = key
        try:
            self._call("user_data_add", args)
        except BaseException:
            _drop_user_data(key)
            raise

    def register_handler(self, target_name: str, handler: Any, platform_name: str = "Host",
                         traits: int = 0) -> None:
        """Register a typed XLA FFI handler for custom calls to ``target_name``
        (``PJRT_FFI_Register_Handler``).

        ``handler`` is an ``XLA_FFI_Handler`` function: a ctypes function
        object (``CFUNCTYPE(c_void_p, c_void_p)``) or its address.  XLA calls
        it when compiled programs reach ``stablehlo.custom_call
        @target_name``; it is kept alive for the life of the process.
        ``platform_name`` is XLA's platform (``"Host"`` for CPU, ``"CUDA"``,
        ``"ROCM"``).
        """
        name = c_string(target_name, "target_name")
        platform = c_string(platform_name, "platform_name")
        if not name:
            raise ValueError("target_name must not be empty")
        if isinstance(traits, bool) or not isinstance(traits, int) or traits & ~HANDLER_TRAITS_COMMAND_BUFFER_COMPATIBLE:
            raise ValueError(f"traits must be 0 or HANDLER_TRAITS_COMMAND_BUFFER_COMPATIBLE, got {traits!r}")
        address = function_address(handler, "handler")
        keep_forever(name, platform)
        self._call("register_handler", self._args(
            _abi.PJRT_FFI_Register_Handler_Args, target_name=c_bytes_address(name), target_name_size=len(name),
            handler=address, platform_name=c_bytes_address(platform), platform_name_size=len(platform),
            traits=traits))

    def register_python_handler(self, target_name: str, fn: Callable[..., Any], platform_name: str = "Host", *,
                                in_place: bool = False) -> None:
        """Run ``fn(*inputs) -> outputs`` (or, ``in_place``, ``fn(inputs, outputs)`` filling the results) on
        host buffers for custom calls to ``target_name`` (a
        :func:`~pjrt_array._pjrt.extensions.ffi_handler.python_handler` registered with
        ``PJRT_FFI_Register_Handler``; CPU plugins)."""
        self.register_handler(target_name, python_handler(fn, in_place=in_place), platform_name)
