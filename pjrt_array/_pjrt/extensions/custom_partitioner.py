"""The Custom Partitioner extension: SPMD partitioning rules for custom calls, in Python.

GPU/TPU plugins only.  A :class:`CustomPartitioner` subclass says how a
custom call is partitioned; shapes and shardings cross as serialized
``xla.ShapeProto`` / ``xla.OpSharding`` bytes, the partitioned body as MLIR
text.  The plugin calls the methods through C trampolines (see
``_callbacks``); an exception raised by a method reaches the plugin as an
error, never as a crash.
"""

from __future__ import annotations

import abc
import ctypes
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .. import _abi
from .._ctypes_util import address, field_types
from .._handles import c_bytes_address
from ._base import Extension, c_string, keep_forever
from ._callbacks import Registry, publish, read_string, set_string
from ._chain import ExtensionType

__all__ = ["Aval", "CustomPartitioner", "CustomPartitionerExtension", "callbacks_for"]

_String = _abi.JAX_CustomCallPartitioner_string
_Aval = _abi.JAX_CustomCallPartitioner_aval
_Callbacks = _abi.JAX_CustomCallPartitioner_Callbacks
# The callbacks API version these trampolines implement.
CALLBACKS_VERSION = 0


@dataclass(frozen=True)
class Aval:
    """An operand or result: serialized ``xla.ShapeProto``, and ``xla.OpSharding`` if it has one."""

    shape: bytes
    sharding: bytes | None


class CustomPartitioner(abc.ABC):
    """How to partition one custom call.  Override :meth:`partition`; the rest have defaults."""

    #: Whether a side-effecting call may keep a replicated sharding.
    can_side_effecting_have_replicated_sharding: bool = False

    @abc.abstractmethod
    def partition(self, args: Sequence[Aval], result: Aval, backend_config: bytes
                  ) -> tuple[str | bytes, Sequence[bytes], bytes]:
        """Return ``(mlir_module, argument shardings, result sharding)`` of the partitioned call."""

    def infer_sharding(self, args: Sequence[Aval], result_shape: bytes, backend_config: bytes) -> bytes | None:
        """The result sharding implied by the operands' shardings (None: no opinion)."""
        return None

    def propagate_user_sharding(self, backend_config: bytes, result_shape: bytes, result_sharding: bytes) -> bytes:
        """The sharding to use given a user's sharding of the result (default: keep it)."""
        return result_sharding


_registry: Registry[CustomPartitioner] = Registry()


def _avals(array_address: int | None, count: int) -> list[Aval]:
    if not array_address or not count:
        return []
    return [Aval(read_string(a.shape), read_string(a.sharding) if a.has_sharding else None)
            for a in (_Aval * count).from_address(array_address)]


def _run(kind: str, callbacks: int | None, args_address: int | None) -> None:
    """Call method ``kind`` of the partitioner behind ``callbacks`` on the args at ``args_address``."""
    held: list[object] = []
    args = _ARGS[kind].from_address(address(args_address, f"custom partitioner {kind} args"))
    try:
        partitioner = _registry.get(callbacks)
        _FILL[kind](partitioner, args, held)
        error = None
    except BaseException as exc:  # noqa: BLE001 - reported to the plugin as an error
        error = exc
    publish(args.header, held, error)


def _fill_partition(p: CustomPartitioner, a: _abi.JAX_CustomCallPartitioner_Partition_Args, held: list) -> None:
    result = Aval(read_string(a.op_result.shape),
                  read_string(a.op_result.sharding) if a.op_result.has_sharding else None)
    module, arg_shardings, result_sharding = p.partition(
        _avals(a.op_args, a.num_args), result, read_string(a.backend_config))
    arg_shardings = [c_string(s, "argument sharding") for s in arg_shardings]
    if len(arg_shardings) != a.num_args:
        raise ValueError(f"partition returned {len(arg_shardings)} argument shardings for {a.num_args} arguments")
    strings = (_String * max(len(arg_shardings), 1))()
    for target, value in zip(strings, arg_shardings):
        set_string(target, value, held)
    held.append(strings)
    a.args_sharding = ctypes.addressof(strings)
    set_string(a.mlir_module, c_string(module, "mlir_module"), held)
    set_string(a.result_sharding, c_string(result_sharding, "result sharding"), held)


def _fill_infer(p: CustomPartitioner, a: _abi.JAX_CustomCallPartitioner_InferShardingFromOperands_Args,
                held: list) -> None:
    sharding = p.infer_sharding(_avals(a.op_args, a.num_args), read_string(a.result_shape),
                                read_string(a.backend_config))
    a.has_result_sharding = sharding is not None
    if sharding is not None:
        set_string(a.result_sharding, c_string(sharding, "result sharding"), held)


def _fill_propagate(p: CustomPartitioner, a: _abi.JAX_CustomCallPartitioner_PropagateUserSharding_Args,
                    held: list) -> None:
    sharding = p.propagate_user_sharding(read_string(a.backend_config), read_string(a.result_shape),
                                         read_string(a.result_sharding))
    set_string(a.result_sharding, c_string(sharding, "result sharding"), held)


_ARGS: dict[str, type[ctypes.Structure]] = {
    "partition": _abi.JAX_CustomCallPartitioner_Partition_Args,
    "infer_sharding": _abi.JAX_CustomCallPartitioner_InferShardingFromOperands_Args,
    "propagate_user_sharding": _abi.JAX_CustomCallPartitioner_PropagateUserSharding_Args,
}
_FILL: dict[str, Callable[[CustomPartitioner, Any, list[object]], None]] = {
    "partition": _fill_partition, "infer_sharding": _fill_infer, "propagate_user_sharding": _fill_propagate}
_TRAMPOLINES = {
    kind: field_types(_Callbacks)[kind](lambda cb, args, kind=kind: _run(kind, cb, args)) for kind in _ARGS
}
_DTOR = field_types(_Callbacks)["dtor"](_registry.drop)


def callbacks_for(partitioner: CustomPartitioner) -> _abi.JAX_CustomCallPartitioner_Callbacks:
    """The C callbacks struct that routes to ``partitioner``; kept alive until the plugin calls ``dtor``."""
    if not isinstance(partitioner, CustomPartitioner):
        raise TypeError(f"partitioner must be a CustomPartitioner, got {type(partitioner).__name__}")
    cb = _Callbacks(version=CALLBACKS_VERSION, dtor=_DTOR,
                    can_side_effecting_have_replicated_sharding=bool(
                        partitioner.can_side_effecting_have_replicated_sharding),
                    **_TRAMPOLINES)
    cb.private_data = _registry.add(cb, partitioner)
    return cb


class CustomPartitionerExtension(Extension):
    """``PJRT_Custom_Partitioner_Extension``."""

    TYPE = ExtensionType.PJRT_Extension_Type_Custom_Partitioner
    STRUCT = _abi.PJRT_Custom_Partitioner_Extension
    NAME = "Custom Partitioner"

    def register_custom_partitioner(self, name: str, partitioner: CustomPartitioner) -> None:
        """Partition custom calls to ``name`` with ``partitioner`` (``PJRT_Register_Custom_Partitioner``)."""
        raw = c_string(name, "name")
        if not raw:
            raise ValueError("name must not be empty")
        cb = callbacks_for(partitioner)
        try:
            self._call("register_custom_partitioner", self._args(
                _abi.PJRT_Register_Custom_Partitioner_Args, name=c_bytes_address(raw), name_size=len(raw),
                callbacks=ctypes.addressof(cb)))
        except BaseException:
            _registry.drop(ctypes.addressof(cb))
            raise

    def register_batch_partitionable(self, name: str) -> None:
        """Mark custom calls to ``name`` as partitionable along the batch dimension
        (``PJRT_Register_Batch_Partitionable``)."""
        raw = c_string(name, "name")
        if not raw:
            raise ValueError("name must not be empty")
        keep_forever(raw)
        self._call("register_batch_partitionable", self._args(
            _abi.PJRT_Register_Batch_Partitionable_Args, name=c_bytes_address(raw), name_size=len(raw)))
