"""``PJRT_TopologyDescription``: the devices a program can be compiled for, without a client."""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from . import _abi
from ._api import new_struct
from ._owned import Owned, invoke
from ._handles import c_bytes_address, handles, text
from ._shapes import shape_and_type
from .compile_options import CompileOptions
from .device import DeviceDescription
from .named_values import NamedValue, NamedValueArray, read_named_values

if TYPE_CHECKING:
    from .client import Client
    from .executable import Executable

__all__ = ["TopologyDescription"]


def _take_bytes(data: int, size: int, holder: int, deleter: int) -> bytes:
    """Copy plugin-owned bytes, then release them with their deleter."""
    try:
        return ctypes.string_at(data, size)
    finally:
        if deleter:
            ctypes.CFUNCTYPE(None, ctypes.c_void_p)(deleter)(holder)


class TopologyDescription(Owned):
    """A topology: owned (``create``/``deserialize``) or borrowed from a client.

    A borrowed topology (``Client.topology_description()``) lives as long as its
    client; an owned one is destroyed by ``close()`` or garbage collection.
    """

    _field = "topology"
    _what = "TopologyDescription"

    def __init__(self, client: "Client", handle: int, owned: bool) -> None:
        super().__init__(client, handle)
        self._owned = owned

    @classmethod
    def create(cls, client: "Client", name: str = "", options: Mapping[str, NamedValue] | None = None
               ) -> "TopologyDescription":
        """A new topology by name and options (``PJRT_TopologyDescription_Create``)."""
        key = name.encode()
        values = NamedValueArray(options)
        a = invoke(client.api, "PJRT_TopologyDescription_Create", _abi.PJRT_TopologyDescription_Create_Args,
                   topology_name=c_bytes_address(key), topology_name_size=len(key),
                   create_options=values.address, num_options=values.count)
        return cls(client, a.topology, True)

    @classmethod
    def deserialize(cls, client: "Client", data: bytes) -> "TopologyDescription":
        """A topology from :meth:`serialize` bytes (``PJRT_TopologyDescription_Deserialize``)."""
        data = bytes(data)
        a = invoke(client.api, "PJRT_TopologyDescription_Deserialize",
                   _abi.PJRT_TopologyDescription_Deserialize_Args,
                   serialized_topology=c_bytes_address(data), serialized_topology_size=len(data))
        return cls(client, a.topology, True)

    def _release(self, handle: int) -> None:
        """Destroy an owned topology (``PJRT_TopologyDescription_Destroy``); a borrowed one is the client's."""
        if self._owned:
            invoke(self._client.api, "PJRT_TopologyDescription_Destroy", _abi.PJRT_TopologyDescription_Destroy_Args,
                   topology=handle)

    @property
    def platform_name(self) -> str:
        """(``PJRT_TopologyDescription_PlatformName``)."""
        a = self._call("PJRT_TopologyDescription_PlatformName", _abi.PJRT_TopologyDescription_PlatformName_Args)
        return text(a.platform_name, a.platform_name_size)

    @property
    def platform_version(self) -> str:
        """(``PJRT_TopologyDescription_PlatformVersion``)."""
        a = self._call("PJRT_TopologyDescription_PlatformVersion",
                       _abi.PJRT_TopologyDescription_PlatformVersion_Args)
        return text(a.platform_version, a.platform_version_size)

    def device_descriptions(self) -> list[DeviceDescription]:
        """Descriptions of every device (``PJRT_TopologyDescription_GetDeviceDescriptions``)."""
        a = self._call("PJRT_TopologyDescription_GetDeviceDescriptions",
                       _abi.PJRT_TopologyDescription_GetDeviceDescriptions_Args)
        return [DeviceDescription(self._client, h) for h in handles(a.descriptions, a.num_descriptions)]

    def serialize(self) -> bytes:
        """Bytes for :meth:`deserialize` (``PJRT_TopologyDescription_Serialize``)."""
        a = self._call("PJRT_TopologyDescription_Serialize", _abi.PJRT_TopologyDescription_Serialize_Args)
        return _take_bytes(a.serialized_bytes, a.serialized_bytes_size, a.serialized_topology,
                           a.serialized_topology_deleter)

    def attributes(self) -> dict[str, NamedValue]:
        """(``PJRT_TopologyDescription_Attributes``)."""
        a = self._call("PJRT_TopologyDescription_Attributes", _abi.PJRT_TopologyDescription_Attributes_Args)
        return read_named_values(a.attributes, a.num_attributes)

    def fingerprint(self) -> int:
        """A fingerprint of the topology (``PJRT_TopologyDescription_Fingerprint``)."""
        return int(self._call("PJRT_TopologyDescription_Fingerprint",
                              _abi.PJRT_TopologyDescription_Fingerprint_Args).fingerprint)

    def memory_space_kind_ids(self) -> tuple[int, ...]:
        """(``PJRT_TopologyDescription_GetMemorySpaceKindIds``)."""
        a = self._call("PJRT_TopologyDescription_GetMemorySpaceKindIds",
                       _abi.PJRT_TopologyDescription_GetMemorySpaceKindIds_Args)
        if not a.num_memory_space_kind_ids:
            return ()
        return tuple((ctypes.c_int * a.num_memory_space_kind_ids).from_address(a.memory_space_kind_ids))

    def canonical_shape_for_memory_space(self, memory_space_kind_id: int, shape: Sequence[int],
                                         dtype: Any) -> bytes:
        """Serialized ShapeProto (``PJRT_TopologyDescription_MakeCanonicalShapeForMemorySpace``)."""
        array, dims, btype = shape_and_type(shape, dtype, self._client.api.minor)
        a = self._call("PJRT_TopologyDescription_MakeCanonicalShapeForMemorySpace",
                       _abi.PJRT_TopologyDescription_MakeCanonicalShapeForMemorySpace_Args,
                       memory_space_kind_id=memory_space_kind_id, dims=ctypes.addressof(array), num_dims=len(dims),
                       element_type=btype)
        data = ctypes.string_at(a.serialized_shape, a.serialized_shape_size)
        if a.serialized_shape_deleter:
            ctypes.CFUNCTYPE(None, ctypes.c_char_p)(a.serialized_shape_deleter)(a.serialized_shape)
        return data

    def compile(self, program: str | bytes, options: CompileOptions | None = None, format: str = "mlir",
                client: "Client | None" = None) -> "Executable":
        """Compile for this topology without loading (``PJRT_Compile``)."""
        from .executable import Executable
        if client is not None and client.api is not self._client.api:
            raise ValueError("client must be a client of this topology's plugin")
        code = program.encode() if isinstance(program, str) else bytes(program)
        opts = (options or CompileOptions()).to_bytes()
        fmt = format.encode()
        prog = new_struct(_abi.PJRT_Program)
        prog.code, prog.code_size = c_bytes_address(code), len(code)
        prog.format, prog.format_size = c_bytes_address(fmt), len(fmt)
        a = self._call("PJRT_Compile", _abi.PJRT_Compile_Args, program=ctypes.addressof(prog),
                       compile_options=c_bytes_address(opts), compile_options_size=len(opts),
                       client=client.handle if client is not None else 0)
        return Executable(self._client, a.executable)

    def __repr__(self) -> str:
        return f"<pjrt TopologyDescription {self.platform_name} {'owned' if self._owned else 'borrowed'}>"


