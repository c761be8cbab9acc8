"""The XLA Transform extension: Python passes over the HLO module inside the compiler.

A transform is a callable taking a serialized ``xla.HloModuleProto`` and
returning the transformed module's bytes, or None to leave it unchanged.  It
runs before or after scheduling (``stage``), on the plugin's compiler thread,
through a C trampoline: an exception reaches the plugin as an error.
"""

from __future__ import annotations

import ctypes
from typing import Callable, Optional

from .. import _abi
from .._ctypes_util import address, field_types
from .._handles import c_bytes_address
from ._base import Extension, c_string
from ._callbacks import Registry, publish, read_string, set_string
from ._chain import ExtensionType

__all__ = ["XlaTransform", "HloTransform", "PRE_SCHEDULER", "POST_SCHEDULER", "callbacks_for"]

HloTransform = Callable[[bytes], Optional[bytes]]
_Stage = _abi.PJRT_XlaTransform_PipelineStage
#: Run the transform before scheduling.
PRE_SCHEDULER = _Stage.PJRT_XlaTransform_PipelineStage_kPreScheduler
#: Run the transform after scheduling.
POST_SCHEDULER = _Stage.PJRT_XlaTransform_PipelineStage_kPostScheduler
_Callbacks = _abi.PJRT_XlaTransform_Callbacks

_registry: Registry[HloTransform] = Registry()


def _transform(callbacks: int | None, args_address: int | None) -> None:
    args = _abi.PJRT_XlaTransform_Args.from_address(address(args_address, "XLA transform args"))
    held: list[object] = []
    try:
        result = _registry.get(callbacks)(read_string(args.hlo_module))
        args.changed = result is not None
        if result is not None:
            set_string(args.transformed_hlo_module, c_string(result, "transformed module"), held)
        error = None
    except BaseException as exc:  # noqa: BLE001 - reported to the plugin as an error
        error = exc
    publish(args.header, held, error)


_FIELDS = field_types(_Callbacks)
_TRAMPOLINE = _FIELDS["transform_hlo_module"](_transform)
_DTOR = _FIELDS["dtor"](_registry.drop)
# The callbacks API version these trampolines implement.
CALLBACKS_VERSION = _abi.PJRT_API_XLA_TRANSFORM_EXTENSION_VERSION


def callbacks_for(transform: HloTransform) -> _abi.PJRT_XlaTransform_Callbacks:
    """The C callbacks struct that routes to ``transform``; kept alive until the plugin calls ``dtor``."""
    if not callable(transform):
        raise TypeError(f"transform must be callable, got {type(transform).__name__}")
    cb = _Callbacks(version=CALLBACKS_VERSION, dtor=_DTOR, transform_hlo_module=_TRAMPOLINE)
    _registry.add(cb, transform)
    return cb


def _stage(stage: int) -> int:
    if stage not in (PRE_SCHEDULER, POST_SCHEDULER) or isinstance(stage, bool):
        raise ValueError(f"stage must be PRE_SCHEDULER or POST_SCHEDULER, got {stage!r}")
    return int(stage)


class XlaTransform(Extension):
    """``PJRT_Xla_Transform_Extension``."""

    TYPE = ExtensionType.PJRT_Extension_Type_XlaTransform
    STRUCT = _abi.PJRT_Xla_Transform_Extension
    NAME = "XLA Transform"

    def __init__(self, source: object) -> None:
        super().__init__(source)
        self._registered: dict[tuple[bytes, int], _abi.PJRT_XlaTransform_Callbacks] = {}

    def register(self, name: str, transform: HloTransform, stage: int = PRE_SCHEDULER) -> None:
        """Run ``transform`` on every module this plugin compiles (``PJRT_Register_Xla_Transform_Fn``)."""
        raw = c_string(name, "name")
        if not raw:
            raise ValueError("name must not be empty")
        stage = _stage(stage)
        cb = callbacks_for(transform)
        try:
            self._call("register_xla_transform", self._args(
                _abi.PJRT_Register_Xla_Transform_Args, name=c_bytes_address(raw), name_size=len(raw),
                stage=stage, callbacks=ctypes.addressof(cb)))
        except BaseException:
            _registry.drop(ctypes.addressof(cb))
            raise
        self._registered[(raw, stage)] = cb

    def clear(self, name: str, stage: int = PRE_SCHEDULER) -> bool:
        """Remove the transform ``name`` of ``stage`` (``PJRT_Clear_Xla_Transform_Fn``);
        returns whether the plugin had it."""
        raw = c_string(name, "name")
        stage = _stage(stage)
        cb = self._registered.pop((raw, stage), None)
        a = self._call("clear_xla_transform", self._args(
            _abi.PJRT_Clear_Xla_Transform_Args, name=c_bytes_address(raw), name_size=len(raw), stage=stage,
            callbacks=ctypes.addressof(cb) if cb is not None else 0))
        return bool(a.cleared)
