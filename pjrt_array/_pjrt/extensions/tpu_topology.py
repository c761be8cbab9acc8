"""The TPU Topology extension: chips, processes, coordinates and slices of a TPU topology.

TPU plugins only.  ``topology`` arguments are any binding object with the
``handle`` of a ``PJRT_TopologyDescription`` (a client's topology or one
from :meth:`TpuTopology.subslice`).  Topologies this extension creates are
owned by a :class:`Topology` and destroyed with the core API's
``PJRT_TopologyDescription_Destroy``.  Functions that fill caller arrays get
room for :data:`MAX_ITEMS` entries; the plugin reports an error if it needs
more.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any, Sequence

from .. import _abi
from .._api import Api, new_struct
from .._handles import c_bytes_address
from ._base import Extension, Owned, any_handle, c_string
from ._chain import ExtensionType

__all__ = ["TpuTopology", "Topology", "SliceConfig", "MAX_ITEMS"]

#: Capacity of the arrays handed to the plugin to fill (ids, coordinates, slice configs).
MAX_ITEMS = 4096
# Coordinates and bounds have at most this many dimensions on any TPU.
_MAX_DIMS = 8
_ROUTING_STRATEGY_BYTES = 256


class Topology(Owned):
    """A topology description this extension created (owned; destroyed by ``close()``)."""

    _what = "Topology"

    def __init__(self, api: Api, handle: int) -> None:
        super().__init__(None, handle)
        self._api = api

    def _release(self, handle: int) -> None:
        """``PJRT_TopologyDescription_Destroy`` (core API)."""
        args = new_struct(_abi.PJRT_TopologyDescription_Destroy_Args)
        args.topology = handle
        self._api.call("PJRT_TopologyDescription_Destroy", args)


@dataclass(frozen=True)
class SliceConfig:
    """A TPU slice shape: its dimensions, which of them wrap around, and whether it is twisted."""

    dimensions: tuple[int, ...]
    wrap: tuple[bool, ...]
    twist: bool


def _ints(values: Sequence[int], argname: str) -> Any:
    items = [int(v) for v in values]
    if len(items) > _MAX_DIMS:
        raise ValueError(f"{argname} has {len(items)} dimensions; at most {_MAX_DIMS} are supported")
    return (ctypes.c_int32 * max(len(items), 1))(*items), len(items)


def _slice_config(raw: _abi.PJRT_TpuTopology_SliceConfig) -> SliceConfig:
    n = min(int(raw.dim_size), len(raw.dimensions))
    return SliceConfig(tuple(raw.dimensions[:n]), tuple(bool(w) for w in raw.wrap[:n]), bool(raw.twist))


class TpuTopology(Extension):
    """``PJRT_TpuTopology_Extension``."""

    TYPE = ExtensionType.PJRT_Extension_Type_TpuTopology
    STRUCT = _abi.PJRT_TpuTopology_Extension
    NAME = "TPU Topology"

    def _get(self, slot: str, out: str, topology: Any, **fields: Any) -> Any:
        a = self._call(slot, self._slot_args(slot, topology=any_handle(topology, "topology", "topology"), **fields))
        return getattr(a, out)

    def _array(self, slot: str, capacity: str, array: str, count: str, topology: Any, size: int = _MAX_DIMS,
               **fields: Any) -> tuple[int, ...]:
        buf = (ctypes.c_int32 * size)()
        n = self._get(slot, count, topology, **{capacity: size, array: ctypes.addressof(buf)}, **fields)
        return tuple(buf[: min(int(n), size)])

    # -- derived topologies ------------------------------------------------------------------
    def subslice(self, topology: Any, chips_per_host_bounds: Sequence[int], host_bounds: Sequence[int]) -> Topology:
        """A subslice of ``topology`` (``PJRT_TpuTopology_Subslice``)."""
        chips, nchips = _ints(chips_per_host_bounds, "chips_per_host_bounds")
        hosts, nhosts = _ints(host_bounds, "host_bounds")
        return Topology(self.api, self._get(
            "subslice", "subslice_topology", topology, chips_per_host_bounds=ctypes.addressof(chips),
            chips_per_host_bounds_num_dims=nchips, host_bounds=ctypes.addressof(hosts), host_bounds_num_dims=nhosts))

    def replace_host_bounds(self, topology: Any, host_bounds: Sequence[int]) -> Topology:
        """``topology`` with other host bounds (``PJRT_TpuTopology_ReplaceHostBounds``)."""
        hosts, n = _ints(host_bounds, "host_bounds")
        return Topology(self.api, self._get("replace_host_bounds", "new_topology", topology,
                                            host_bounds=ctypes.addressof(hosts), host_bounds_dim_num=n))

    def subslice_device_id_from_full_device_id(self, client_topology: Any, subslice_topology: Any,
                                               subslice_origin: Sequence[int], full_device_id: int) -> int:
        """The id in a subslice of a device of the full topology
        (``PJRT_TpuTopology_SubsliceDeviceIdFromFullDeviceId``)."""
        origin, n = _ints(subslice_origin, "subslice_origin")
        a = self._call("subslice_device_id_from_full_device_id", self._args(
            _abi.PJRT_TpuTopology_SubsliceDeviceIdFromFullDeviceId_Args,
            client_topology=any_handle(client_topology, "topology", "client_topology"),
            subslice_topology=any_handle(subslice_topology, "topology", "subslice_topology"),
            subslice_origin=ctypes.addressof(origin), subslice_origin_dim_num=n, full_device_id=full_device_id))
        return int(a.subslice_device_id)

    # -- yes/no facts ------------------------------------------------------------------------
    def is_subslice_topology(self, topology: Any) -> bool:
        """``PJRT_TpuTopology_IsSubsliceTopology``."""
        return bool(self._get("is_subslice_topology", "is_subslice_topology", topology))

    def is_enhanced_barrier_enabled(self, topology: Any) -> bool:
        """``PJRT_TpuTopology_IsEnhancedBarrierEnabled``."""
        return bool(self._get("is_enhanced_barrier_enabled", "is_enhanced_barrier_enabled", topology))

    def has_limited_ici_connectivity(self, topology: Any) -> bool:
        """``PJRT_TpuTopology_HasLimitedIciConnectivity``."""
        return bool(self._get("has_limited_ici_connectivity", "has_limited_ici_connectivity", topology))

    def is_reachable_over_limited_ici(self, topology: Any, source_chip_id: int, dest_chip_id: int) -> bool:
        """Whether one chip reaches another directly over limited ICI
        (``PJRT_TpuTopology_IsReachableOverLimitedIci``)."""
        return bool(self._get("is_reachable_over_limited_ici", "is_reachable_over_limited_ici", topology,
                              source_chip_id=source_chip_id, dest_chip_id=dest_chip_id))

    # -- counts ------------------------------------------------------------------------------
    def process_count(self, topology: Any) -> int:
        """``PJRT_TpuTopology_ProcessCount``."""
        return int(self._get("process_count", "process_count", topology))

    def chips_per_process(self, topology: Any) -> int:
        """``PJRT_TpuTopology_ChipsPerProcess``."""
        return int(self._get("chips_per_process", "chips_per_process", topology))

    def core_count_per_chip(self, topology: Any) -> int:
        """Cores of the default type per chip (``PJRT_TpuTopology_CoreCountPerChip``)."""
        return int(self._get("core_count_per_chip", "core_count_of_default_type_per_chip", topology))

    def chip_count(self, topology: Any) -> int:
        """``PJRT_TpuTopology_ChipCount``."""
        return int(self._get("chip_count", "chip_count", topology))

    def core_count(self, topology: Any) -> int:
        """Cores of the default type (``PJRT_TpuTopology_CoreCount``)."""
        return int(self._get("core_count", "core_count_of_default_type", topology))

    def logical_device_count_per_process(self, topology: Any) -> int:
        """``PJRT_TpuTopology_LogiDeviceCountPerProcess``."""
        return int(self._get("logical_device_count_per_process",
                             "logical_device_count_of_default_type_per_process", topology))

    def logical_device_count(self, topology: Any) -> int:
        """``PJRT_TpuTopology_LogiDeviceCount``."""
        return int(self._get("logical_device_count", "logical_device_count_of_default_type", topology))

    def logical_device_count_per_chip(self, topology: Any) -> int:
        """``PJRT_TpuTopology_LogiDeviceCountPerChip``."""
        return int(self._get("logical_device_count_per_chip", "logical_device_count_of_default_type_per_chip",
                             topology))

    def core_count_per_process(self, topology: Any) -> int:
        """``PJRT_TpuTopology_CoreCountPerProcess``."""
        return int(self._get("core_count_per_process", "core_count_of_default_type_per_process", topology))

    # -- ids and coordinates -----------------------------------------------------------------
    def process_ids(self, topology: Any) -> tuple[int, ...]:
        """``PJRT_TpuTopology_ProcessIds``."""
        return self._array("process_ids", "max_process_ids", "process_ids", "num_process_ids", topology,
                           size=MAX_ITEMS)

    def logical_device_ids_on_process(self, topology: Any, process_id: int) -> tuple[int, ...]:
        """``PJRT_TpuTopology_LogiDeviceIdsOnProcess``."""
        return self._array("logical_device_ids_on_process", "max_logical_device_ids",
                           "logical_device_of_default_type_ids", "num_logical_device_ids", topology,
                           size=MAX_ITEMS, process_id=process_id)

    def _process_and_index(self, slot: str, topology: Any, **fields: Any) -> tuple[int, int]:
        a = self._call(slot, self._slot_args(slot, topology=any_handle(topology, "topology", "topology"), **fields))
        return int(a.process_id), int(a.index_on_process)

    def process_and_index_for_chip(self, topology: Any, chip_id: int) -> tuple[int, int]:
        """``(process id, index on process)`` of a chip (``PJRT_TpuTopology_ProcIdAndIdxOnProcForChip``)."""
        return self._process_and_index("proc_id_and_idx_on_proc_for_chip", topology, chip_id=chip_id)

    def process_and_index_for_logical_device(self, topology: Any, device_id: int) -> tuple[int, int]:
        """``(process id, index on process)`` of a logical device
        (``PJRT_TpuTopology_ProcIdAndIdxOnProcForLogiDevice``)."""
        return self._process_and_index("proc_id_and_idx_on_proc_for_logi_device", topology, device_id=device_id)

    def process_coord_from_id(self, topology: Any, process_id: int) -> tuple[int, ...]:
        """Coordinates of a process (``PJRT_TpuTopology_ProcessCoordFromId``)."""
        return self._array("process_coord_from_id", "coords_max_dims", "coords", "coords_num_dims", topology,
                           process_id=process_id)

    def chip_id_from_coord(self, topology: Any, coords: Sequence[int]) -> int:
        """``PJRT_TpuTopology_ChipIdFromCoord``."""
        c, n = _ints(coords, "coords")
        return int(self._get("chip_id_from_coord", "chip_id", topology, coords=ctypes.addressof(c),
                             coords_num_dims=n))

    def logical_device_id_from_chip_coord_and_index(self, topology: Any, chip_coords: Sequence[int],
                                                    index_on_chip: int) -> int:
        """``PJRT_TpuTopology_LogiDeviceIdFromChipCoordAndIdx``."""
        c, n = _ints(chip_coords, "chip_coords")
        return int(self._get("logical_device_id_from_chip_coord_and_idx", "logical_device_of_default_type_id",
                             topology, chip_coords=ctypes.addressof(c), chip_coords_num_dims=n,
                             logical_device_index_on_chip=index_on_chip))

    def chip_coord_and_index_for_logical_device(self, topology: Any, device_id: int) -> tuple[tuple[int, ...], int]:
        """``(chip coordinates, index on chip)`` of a logical device
        (``PJRT_TpuTopology_ChipCoordAndIdxForLogiDevice``)."""
        buf = (ctypes.c_int32 * _MAX_DIMS)()
        a = self._call("chip_coord_and_idx_for_logi_device", self._args(
            _abi.PJRT_TpuTopology_ChipCoordAndIdxForLogiDevice_Args,
            topology=any_handle(topology, "topology", "topology"), device_id=device_id,
            chip_coords_max_dims=_MAX_DIMS, chip_coords=ctypes.addressof(buf)))
        return tuple(buf[: min(int(a.chip_coords_num_dims), _MAX_DIMS)]), int(a.device_index_on_chip)

    # -- bounds ------------------------------------------------------------------------------
    def chips_per_process_bounds(self, topology: Any) -> tuple[int, ...]:
        """``PJRT_TpuTopology_ChipsPerProcessBounds``."""
        return self._array("chips_per_process_bounds", "chip_per_process_bounds_max_dims",
                           "chip_per_process_bounds", "chip_per_process_bounds_num_dims", topology)

    def chip_bounds(self, topology: Any) -> tuple[int, ...]:
        """``PJRT_TpuTopology_ChipBounds``."""
        return self._array("chip_bounds", "chip_bounds_max_dims", "chip_bounds", "chip_bounds_num_dims", topology)

    def process_bounds(self, topology: Any) -> tuple[int, ...]:
        """``PJRT_TpuTopology_ProcessBounds``."""
        return self._array("process_bounds", "process_bounds_max_dims", "process_bounds",
                           "process_bounds_num_dims", topology)

    def routing_strategy(self, topology: Any) -> str:
        """``PJRT_TpuTopology_GetRoutingStrategy`` (the plugin fills our text buffer)."""
        buf = ctypes.create_string_buffer(_ROUTING_STRATEGY_BYTES)
        self._get("get_routing_strategy", "routing_strategy_len", topology, routing_strategy=ctypes.addressof(buf),
                  routing_strategy_len=_ROUTING_STRATEGY_BYTES)
        return buf.value.decode("utf-8", "replace")

    # -- platform tables (no topology needed) ------------------------------------------------
    def slice_config(self, platform_type: str, slice_name: str) -> SliceConfig:
        """The shape of a named slice of a platform (``PJRT_TpuTopology_GetSliceConfig``)."""
        platform, name = c_string(platform_type, "platform_type"), c_string(slice_name, "slice_name")
        out = _abi.PJRT_TpuTopology_SliceConfig()
        self._call("get_slice_config", self._args(
            _abi.PJRT_TpuTopology_GetSliceConfig_Args, platform_type_name=c_bytes_address(platform),
            platform_type_name_len=len(platform), slice_name=c_bytes_address(name), slice_name_len=len(name),
            slice_config=ctypes.addressof(out)))
        return _slice_config(out)

    def slice_configs(self, platform_type: str) -> list[SliceConfig]:
        """Every slice shape of a platform (``PJRT_TpuTopology_GetSliceConfigs``)."""
        platform = c_string(platform_type, "platform_type")
        out = (_abi.PJRT_TpuTopology_SliceConfig * MAX_ITEMS)()
        a = self._call("get_slice_configs", self._args(
            _abi.PJRT_TpuTopology_GetSliceConfigs_Args, platform_type_name=c_bytes_address(platform),
            platform_type_name_len=len(platform), slice_configs=ctypes.addressof(out), max_slice_configs=MAX_ITEMS))
        return [_slice_config(c) for c in out[: min(int(a.num_slice_configs), MAX_ITEMS)]]

    def default_platform_config(self, platform_type: str) -> tuple[int, int]:
        """``(chips per tray, trays)`` of a platform (``PJRT_TpuTopology_GetDefaultPlatformConfig``)."""
        platform = c_string(platform_type, "platform_type")
        a = self._call("get_default_platform_config", self._args(
            _abi.PJRT_TpuTopology_GetDefaultPlatformConfig_Args, platform_type_name=c_bytes_address(platform),
            platform_type_name_len=len(platform)))
        return int(a.num_chips_per_tray), int(a.num_trays)
