"""The Layouts extension (``PJRT_Layouts_Extension``): memory layouts of buffers and programs.

A layout crosses the API serialized; the XLA plugins write the text form of
an ``xla::Layout`` (``{1,0}``, or ``{1,0:T(8,128)}`` with tiling).
:class:`Layout` keeps those bytes and reads ``minor_to_major`` from them.  Layouts the plugin allocates for us (a buffer's, a default layout)
are destroyed right after they are serialized; those an executable owns are
only read.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any, Sequence

from .. import _abi
from ..dtypes import from_numpy_dtype
from ._base import Extension, any_handle, executable_handle, handle_of, take_bytes
from ._chain import ExtensionType

__all__ = ["Layout", "Layouts"]

@dataclass(frozen=True)
class Layout:
    """A memory layout as the plugin serialized it, and its dimension order."""

    serialized: bytes

    @property
    def minor_to_major(self) -> tuple[int, ...]:
        """Dimensions from fastest- to slowest-varying; ValueError for an unknown format."""
        text = self.serialized.decode("ascii", "replace").strip()
        if not (text.startswith("{") and text.endswith("}")):
            raise ValueError(f"unrecognised serialized layout {self.serialized!r}")
        dims = text[1:-1].split(":", 1)[0].strip()
        try:
            return tuple(int(d) for d in dims.split(",")) if dims else ()
        except ValueError:
            raise ValueError(f"unrecognised serialized layout {self.serialized!r}") from None

    def __str__(self) -> str:
        return self.serialized.decode("ascii", "replace")


def _dims(shape: Sequence[int], argname: str) -> Any:
    try:
        dims = [int(d) for d in shape]
    except TypeError:
        raise TypeError(f"{argname} must be a sequence of ints, got {type(shape).__name__}") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"{argname} must not have negative dimensions, got {tuple(dims)}")
    return (ctypes.c_int64 * max(len(dims), 1))(*dims), len(dims)


class Layouts(Extension):
    """``PJRT_Layouts_Extension``: buffer, default and executable layouts."""

    TYPE = ExtensionType.PJRT_Extension_Type_Layouts
    STRUCT = _abi.PJRT_Layouts_Extension
    NAME = "Layouts"

    # -- layouts the caller owns -------------------------------------------------------------
    def _serialize(self, layout: int) -> bytes:
        """``PJRT_Layouts_MemoryLayout_Serialize`` of a layout we own or borrow."""
        a = self._call("PJRT_Layouts_MemoryLayout_Serialize",
                       self._args(_abi.PJRT_Layouts_MemoryLayout_Serialize_Args, layout=layout))
        return take_bytes(a.serialized_bytes, a.serialized_bytes_size, a.serialized_layout,
                          a.serialized_layout_deleter)

    def _destroy(self, layout: int) -> None:
        """``PJRT_Layouts_MemoryLayout_Destroy`` of a layout the plugin gave us."""
        self._call("PJRT_Layouts_MemoryLayout_Destroy",
                   self._args(_abi.PJRT_Layouts_MemoryLayout_Destroy_Args, layout=layout))

    def _take(self, layout: int) -> Layout:
        try:
            return Layout(self._serialize(layout))
        finally:
            self._destroy(layout)

    def buffer_layout(self, buffer: Any) -> Layout:
        """The layout of a buffer in device memory (``PJRT_Layouts_PJRT_Buffer_MemoryLayout``; the
        plugin's layout is read with ``PJRT_Layouts_MemoryLayout_Serialize`` and freed with
        ``PJRT_Layouts_MemoryLayout_Destroy``)."""
        from ..buffer import Buffer
        a = self._call("PJRT_Layouts_PJRT_Buffer_MemoryLayout",
                       self._args(_abi.PJRT_Layouts_PJRT_Buffer_MemoryLayout_Args,
                                  buffer=handle_of(buffer, Buffer, "buffer")))
        return self._take(a.layout)

    def client_default_layout(self, client: Any, dtype: Any, shape: Sequence[int]) -> Layout:
        """The layout a client gives a new ``dtype``/``shape`` array
        (``PJRT_Layouts_PJRT_Client_GetDefaultLayout``, then ``PJRT_Layouts_MemoryLayout_Serialize`` and
        ``PJRT_Layouts_MemoryLayout_Destroy``)."""
        from ..client import Client
        dims, ndim = _dims(shape, "shape")
        a = self._call("PJRT_Layouts_PJRT_Client_GetDefaultLayout",
                       self._args(_abi.PJRT_Layouts_PJRT_Client_GetDefaultLayout_Args,
                                  client=handle_of(client, Client, "client"),
                                  type=from_numpy_dtype(dtype, "dtype"),
                                  dims=ctypes.addressof(dims), num_dims=ndim))
        return self._take(a.layout)

    def topology_default_layout(self, topology: Any, dtype: Any, shape: Sequence[int]) -> Layout:
        """The default layout on a topology, without a client
        (``PJRT_Layouts_PJRT_Topology_GetDefaultLayout``).

        ``topology`` is any object with a ``handle`` to a ``PJRT_TopologyDescription``.
        """
        handle = any_handle(topology, "topology description", "topology")
        dims, ndim = _dims(shape, "shape")
        a = self._call("PJRT_Layouts_PJRT_Topology_GetDefaultLayout",
                       self._args(_abi.PJRT_Layouts_PJRT_Topology_GetDefaultLayout_Args,
                                  topology_description=handle, type=from_numpy_dtype(dtype, "dtype"),
                                  dims=ctypes.addressof(dims), num_dims=ndim))
        return self._take(a.layout)

    # -- layouts an executable owns ------------------------------------------------------------
    def _borrowed(self, slot: str, args_type: type, count: str, executable: Any) -> list[Layout]:
        with executable_handle(executable) as handle:
            a = self._call(slot, self._args(args_type, executable=handle))
            n = getattr(a, count)
            pointers = (ctypes.c_void_p * n).from_address(a.layouts) if n and a.layouts else []
            return [Layout(self._serialize(p)) for p in pointers]

    def output_layouts(self, executable: Any) -> list[Layout]:
        """The layout of each output (``PJRT_Layouts_PJRT_Executable_GetOutputLayouts``; the executable
        owns them, so they are only serialized with ``PJRT_Layouts_MemoryLayout_Serialize``)."""
        return self._borrowed("PJRT_Layouts_PJRT_Executable_GetOutputLayouts",
                              _abi.PJRT_Layouts_PJRT_Executable_GetOutputLayouts_Args, "num_outputs", executable)

    def parameter_layouts(self, executable: Any) -> list[Layout]:
        """The layout of each parameter (``PJRT_Layouts_PJRT_Executable_GetParameterLayouts``)."""
        return self._borrowed("PJRT_Layouts_PJRT_Executable_GetParameterLayouts",
                              _abi.PJRT_Layouts_PJRT_Executable_GetParameterLayouts_Args, "num_parameters",
                              executable)
