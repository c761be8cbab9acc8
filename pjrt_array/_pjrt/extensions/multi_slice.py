"""The Multi-Slice extension: read a multi-slice configuration (TPU, with Megascale).

A :class:`MultiSliceConfig` owns its ``PJRT_MultiSlice_Config*`` (from the
Megascale extension) and destroys it with this extension's ``config_destroy``.
"""

from __future__ import annotations

import ctypes
from typing import Any

from .. import _abi
from ._base import Extension, Owned, take_bytes
from ._chain import ExtensionType

__all__ = ["MultiSlice", "MultiSliceConfig"]


class MultiSlice(Extension):
    """``PJRT_MultiSlice_Extension``."""

    TYPE = ExtensionType.PJRT_Extension_Type_MultiSlice
    STRUCT = _abi.PJRT_MultiSlice_Extension
    NAME = "Multi-Slice"

    def config(self, handle: int) -> "MultiSliceConfig":
        """Take ownership of a ``PJRT_MultiSlice_Config*`` (as returned by the Megascale extension)."""
        if isinstance(handle, bool) or not isinstance(handle, int) or not handle:
            raise ValueError(f"handle must be a non-null PJRT_MultiSlice_Config*, got {handle!r}")
        return MultiSliceConfig(self, handle)


class MultiSliceConfig(Owned):
    """A multi-slice configuration (owned; destroyed by ``close()``)."""

    _what = "MultiSliceConfig"

    def __init__(self, extension: MultiSlice, handle: int) -> None:
        super().__init__(None, handle)
        self._ext = extension

    def _get(self, slot: str) -> Any:
        return self._ext._call(slot, self._ext._slot_args(slot, config=self.handle))

    def _release(self, handle: int) -> None:
        """``PJRT_MultiSlice_Config_Destroy``."""
        self._ext._call("config_destroy", self._ext._slot_args("config_destroy", config=handle))

    @property
    def num_slices(self) -> int:
        """``PJRT_MultiSlice_Config_NumSlices``."""
        return int(self._get("config_num_slices").num_slices)

    @property
    def slice_id(self) -> int:
        """This process's slice (``PJRT_MultiSlice_Config_SliceId``)."""
        return int(self._get("config_slice_id").slice_id)

    def num_devices_per_slice(self) -> dict[int, int]:
        """``{slice id: device count}`` (``PJRT_MultiSlice_Config_NumDevicesPerSlice``)."""
        a = self._get("config_num_devices_per_slice")
        try:
            n = int(a.num_devices_per_slice_map)
            if not n:
                return {}
            ids = (ctypes.c_int32 * n).from_address(a.slice_ids)
            counts = (ctypes.c_int32 * n).from_address(a.num_devices)
            return dict(zip(ids, counts))
        finally:
            if a.devices_per_slice_map_deleter:
                a.devices_per_slice_map_deleter(a.devices_per_slice_map)

    def serialize(self) -> bytes:
        """``PJRT_MultiSlice_Config_Serialize``."""
        a = self._get("config_serialize")
        return take_bytes(a.serialized, a.size, a.serialized_config, a.serialized_config_deleter)
