"""The Megascale extension: multi-slice TPU runtime (client contexts, DCN collectives, error aggregation).

TPU plugins only.  Objects it creates are owned by Python objects:
:class:`ClientContext` (``delete_client_context``), :class:`ErrorAggregator`
(``error_aggregator_delete``), :class:`ErrorDigest` (``error_digest_delete``);
multi-slice configs and collectives are handed to the Multi-Slice and
Collectives extensions, which destroy them.  The header's five
``multi_slice_config_*`` / ``delete_multi_slice_config`` slots are deprecated
untyped pointers (use the Multi-Slice extension) and are not wrapped.
"""

from __future__ import annotations

import ctypes
from typing import Any, Callable, Sequence

from .. import _abi
from .._handles import c_bytes_address
from ..errors import Unimplemented
from ._base import CStrings, Extension, Owned, any_handle, c_string, handle_of, keep_forever, owned_strings, \
    take_bytes
from ._callbacks import Registry
from ._chain import ExtensionType
from .collectives import Collectives, CollectivesExtension
from .multi_slice import MultiSlice, MultiSliceConfig

__all__ = ["Megascale", "ClientContext", "ErrorAggregator", "ErrorDigest"]

_handlers: Registry[Callable[[bytes], None]] = Registry()


def _on_error(serialized: int | None, size: int, user_data: int | None) -> None:
    # An exception escaping a ctypes callback is reported by ctypes through
    # sys.unraisablehook; the plugin just sees the callback return.
    _handlers.get(user_data)(ctypes.string_at(serialized, size) if serialized else b"")


_ON_ERROR = _abi.PJRT_Megascale_ErrorHandler(_on_error)


class _MegascaleObject(Owned):
    _field = ""

    def __init__(self, extension: "Megascale", handle: int) -> None:
        super().__init__(None, handle)
        self._ext = extension

    def _destroy(self, slot: str, handle: int) -> None:
        self._ext._call(slot, self._ext._slot_args(slot, **{self._field: handle}))

    def _get(self, slot: str, **fields: Any) -> Any:
        return self._ext._call(slot, self._ext._slot_args(slot, **{self._field: self.handle}, **fields))


class ClientContext(_MegascaleObject):
    """A Megascale client context (owned; ``PJRT_Megascale_DeleteClientContext`` on close)."""

    _what = "ClientContext"
    _field = "client_context"

    def _release(self, handle: int) -> None:
        """``PJRT_Megascale_DeleteClientContext``."""
        self._destroy("delete_client_context", handle)

    def initialize(self) -> None:
        """``PJRT_Megascale_ClientContext_Initialize``."""
        self._get("client_context_initialize")

    def unblock_pending_work(self, launch_id: int, expire_after_ms: int) -> None:
        """``PJRT_Megascale_ClientContext_UnblockPendingWork``."""
        self._get("client_context_unblock_pending_work", launch_id=launch_id, expire_after_ms=expire_after_ms)

    @property
    def megascale_port(self) -> int:
        """``PJRT_Megascale_ClientContext_MegascalePort``."""
        return int(self._get("client_context_megascale_port").port)


class ErrorDigest(_MegascaleObject):
    """A digest of aggregated errors (owned; ``PJRT_Megascale_ErrorDigest_Delete`` on close)."""

    _what = "ErrorDigest"
    _field = "digest"

    def _release(self, handle: int) -> None:
        """``PJRT_Megascale_ErrorDigest_Delete``."""
        self._destroy("error_digest_delete", handle)


class ErrorAggregator(_MegascaleObject):
    """Collects errors from workers (owned; ``PJRT_Megascale_ErrorAggregator_Delete`` on close)."""

    _what = "ErrorAggregator"
    _field = "aggregator"

    def _release(self, handle: int) -> None:
        """``PJRT_Megascale_ErrorAggregator_Delete``."""
        self._destroy("error_aggregator_delete", handle)

    def add_error(self, worker_id: str, serialized_error: bytes) -> None:
        """``PJRT_Megascale_ErrorAggregator_AddError``."""
        worker, error = c_string(worker_id, "worker_id"), c_string(serialized_error, "serialized_error")
        self._get("error_aggregator_add_error", worker_id=c_bytes_address(worker), worker_id_size=len(worker),
                  serialized_error=c_bytes_address(error), serialized_error_size=len(error))

    def process_and_shutdown(self) -> ErrorDigest:
        """``PJRT_Megascale_ErrorAggregator_ProcessAndShutdown``."""
        return ErrorDigest(self._ext, self._get("error_aggregator_process_and_shutdown").digest)

    def log_error_digest(self, digest: ErrorDigest) -> None:
        """``PJRT_Megascale_ErrorAggregator_LogErrorDigest``."""
        self._get("error_aggregator_log_error_digest", digest=handle_of(digest, ErrorDigest, "digest"))

    def __len__(self) -> int:
        return self.size

    @property
    def size(self) -> int:
        """Number of errors collected (``PJRT_Megascale_ErrorAggregator_Size``)."""
        return int(self._get("error_aggregator_size").size)

    @property
    def active(self) -> bool:
        """``PJRT_Megascale_ErrorAggregator_Active``."""
        return bool(self._get("error_aggregator_active").active)


class Megascale(Extension):
    """``PJRT_Megascale_Extension``."""

    TYPE = ExtensionType.PJRT_Extension_Type_Megascale
    STRUCT = _abi.PJRT_Megascale_Extension
    NAME = "Megascale"

    def _new(self, slot: str, out: str, **fields: Any) -> int:
        return getattr(self._call(slot, self._slot_args(slot, **fields)), out)

    # -- client contexts ---------------------------------------------------------------------
    def client_context(self, client: Any) -> ClientContext:
        """``PJRT_Megascale_CreateClientContextFromPjRtClient``."""
        from ..client import Client
        return ClientContext(self, self._new("create_client_context_from_pjrt_client", "client_context",
                                             client=handle_of(client, Client, "client")))

    def default_client_context(self) -> ClientContext:
        """``PJRT_Megascale_CreateDefaultClientContext``."""
        return ClientContext(self, self._new("create_default_client_context", "client_context"))

    # -- configs and collectives -------------------------------------------------------------
    def _multi_slice(self) -> MultiSlice:
        ext = MultiSlice.of(self.api)
        if ext is None:
            raise Unimplemented("the plugin has no Multi-Slice extension to own a multi-slice config")
        return ext

    def create_aot_config(self, topology: Any, num_slices: int) -> MultiSliceConfig:
        """A config for ahead-of-time compilation (``PJRT_Megascale_CreateAoTConfig``)."""
        owner = self._multi_slice()
        return owner.config(self._new("create_aot_config", "multi_slice_config",
                                      topology=any_handle(topology, "topology", "topology"), num_slices=num_slices))

    def create_multi_slice_config(self, topology: Any, num_slices: int, local_slice_id: int, local_host_id: int,
                                  endpoint_addresses: bytes, dcn_topology: bytes,
                                  client_context: ClientContext) -> MultiSliceConfig:
        """``PJRT_Megascale_CreateMultiSliceConfig`` (protos as serialized bytes)."""
        owner = self._multi_slice()
        endpoints, dcn = c_string(endpoint_addresses, "endpoint_addresses"), c_string(dcn_topology, "dcn_topology")
        return owner.config(self._new(
            "create_multi_slice_config", "multi_slice_config", topology=any_handle(topology, "topology", "topology"),
            num_slices=num_slices, local_slice_id=local_slice_id, local_host_id=local_host_id,
            endpoint_addresses=c_bytes_address(endpoints), endpoint_addresses_size=len(endpoints),
            dcn_topology=c_bytes_address(dcn), dcn_topology_size=len(dcn),
            client_context=handle_of(client_context, ClientContext, "client_context")))

    def create_collectives(self, client_context: ClientContext, addresses: Sequence[str],
                           num_devices_per_process: int, slice_indexes: Sequence[int] = (),
                           per_slice_indexes: Sequence[int] = (), dcn_topology: bytes = b"") -> Collectives:
        """DCN collectives over the given processes (``PJRT_Megascale_CreateMegascaleCollectives``)."""
        owner = CollectivesExtension.of(self.api)
        if owner is None:
            raise Unimplemented("the plugin has no Collectives extension to own the collectives")
        addrs = CStrings(addresses, "addresses")
        slices = (ctypes.c_int32 * max(len(slice_indexes), 1))(*slice_indexes)
        per_slice = (ctypes.c_int32 * max(len(per_slice_indexes), 1))(*per_slice_indexes)
        info = _abi.PJRT_Megascale_ProcessesInfo(
            addresses=ctypes.addressof(addrs.pointers), address_sizes=ctypes.addressof(addrs.sizes),
            num_addresses=addrs.count, slice_indexes=ctypes.addressof(slices) if slice_indexes else 0,
            num_slice_indexes=len(slice_indexes), per_slice_indexes=ctypes.addressof(per_slice)
            if per_slice_indexes else 0, num_per_slice_indexes=len(per_slice_indexes),
            num_devices_per_process=num_devices_per_process)
        dcn = c_string(dcn_topology, "dcn_topology")
        return owner.collectives(self._new(
            "create_megascale_collectives", "collectives",
            client_context=handle_of(client_context, ClientContext, "client_context"),
            processes_info=ctypes.addressof(info), dcn_topology=c_bytes_address(dcn) if dcn else 0,
            dcn_topology_size=len(dcn)))

    # -- ids ---------------------------------------------------------------------------------
    def megascale_id(self, slice_id: int, per_slice_device_id: int) -> int:
        """``PJRT_Megascale_DeviceId_To_MegascaleId``."""
        return int(self._new("device_id_to_megascale_id", "megascale_id", slice_id=slice_id,
                             per_slice_device_id=per_slice_device_id))

    def device_id(self, megascale_id: int) -> tuple[int, int]:
        """``(slice id, per-slice device id)`` (``PJRT_Megascale_MegascaleId_To_DeviceId``)."""
        a = self._call("megascale_id_to_device_id",
                       self._slot_args("megascale_id_to_device_id", megascale_id=megascale_id))
        return int(a.slice_id), int(a.per_slice_device_id)

    # -- errors ------------------------------------------------------------------------------
    def register_error_handler(self, name: str, handler: Callable[[bytes], None]) -> None:
        """Call ``handler(serialized_error)`` on Megascale errors (``PJRT_Megascale_RegisterErrorHandler``)."""
        raw = c_string(name, "name")
        if not callable(handler):
            raise TypeError(f"handler must be callable, got {type(handler).__name__}")
        holder = ctypes.c_int8()
        key = _handlers.add(holder, handler)
        keep_forever(raw)
        try:
            self._call("register_megascale_error_handler", self._slot_args(
                "register_megascale_error_handler", handler_name=c_bytes_address(raw), handler_name_size=len(raw),
                handler=_ON_ERROR, user_data=key))
        except BaseException:
            _handlers.drop(key)
            raise

    def unregister_error_handler(self, name: str) -> None:
        """``PJRT_Megascale_UnregisterErrorHandler``."""
        raw = c_string(name, "name")
        self._call("unregister_megascale_error_handler", self._slot_args(
            "unregister_megascale_error_handler", handler_name=c_bytes_address(raw), handler_name_size=len(raw)))

    def error_aggregator(self, app_type: str) -> ErrorAggregator:
        """``PJRT_Megascale_ErrorAggregator_Create``."""
        raw = c_string(app_type, "app_type")
        return ErrorAggregator(self, self._new("error_aggregator_create", "aggregator",
                                               app_type=c_bytes_address(raw), app_type_size=len(raw)))

    def runtime_error(self, error_type: int, start_time_nanos: int, status_code: int, status_message: str,
                      launch_id: int, unrecoverable_error_type: int | None = None) -> tuple[bytes, bool]:
        """``(serialized error, is new)`` (``PJRT_Megascale_GetOrCreateRuntimeError``)."""
        message = c_string(status_message, "status_message")
        a = self._call("get_or_create_runtime_error", self._slot_args(
            "get_or_create_runtime_error", error_type=error_type, start_time_nanos=start_time_nanos,
            status_code=status_code, status_message=c_bytes_address(message), status_message_size=len(message),
            launch_id=launch_id, has_unrecoverable_error_type=unrecoverable_error_type is not None,
            unrecoverable_error_type=unrecoverable_error_type or 0))
        is_new = bool(a.is_new_error)
        return take_bytes(a.serialized_error, a.serialized_error_size, a.error, a.error_deleter), is_new

    def interface_addresses(self, port_name: str, port: int, interface_prefixes: Sequence[str] = (),
                            use_all_interfaces: bool = False,
                            limit_to_process_numa_local_interfaces: bool = False) -> list[bytes]:
        """Serialized addresses of this host's network interfaces
        (``PJRT_Megascale_GetInterfaceAddressesHelper``)."""
        name = c_string(port_name, "port_name")
        prefixes = CStrings(interface_prefixes, "interface_prefixes")
        a = self._call("get_interface_addresses_helper", self._slot_args(
            "get_interface_addresses_helper", megascale_port_name=c_bytes_address(name),
            megascale_port_name_size=len(name), megascale_port=port,
            interface_prefixes=ctypes.addressof(prefixes.pointers), interface_prefixes_sizes=ctypes.addressof(
                prefixes.sizes), num_interface_prefixes=prefixes.count, use_all_interfaces=use_all_interfaces,
            limit_to_process_numa_local_interfaces=limit_to_process_numa_local_interfaces))
        try:
            return owned_strings(a.serialized_addresses, a.serialized_addresses_sizes, a.num_addresses)
        finally:
            if a.addresses_deleter:
                a.addresses_deleter(a.addresses)
