"""The ABI Version extension: runtime and executable ABI versions, and their compatibility.

A :class:`RuntimeAbiVersion` or :class:`ExecutableAbiVersion` owns its plugin
object (destroyed by ``close()``).  Compatibility checks return True, or
False with the plugin's reason in :attr:`AbiVersions.last_incompatibility`;
versions travel between processes as serialized protos (``to_proto`` /
``*_from_proto``).
"""

from __future__ import annotations

from typing import Any

from .. import _abi
from .._handles import c_bytes_address
from ..errors import PjrtError
from ._base import Extension, Owned, c_string, executable_handle, handle_of, take_bytes
from ._chain import ExtensionType

__all__ = ["AbiVersions", "RuntimeAbiVersion", "ExecutableAbiVersion"]


class _AbiVersion(Owned):
    _kind = ""

    def __init__(self, extension: "AbiVersions", handle: int) -> None:
        super().__init__(None, handle)
        self._ext = extension

    def _slot(self, what: str, **fields: Any) -> Any:
        slot = f"{self._kind}_abi_version_{what}"
        return self._ext._call(slot, self._ext._slot_args(slot, **fields))

    def _to_proto(self) -> bytes:
        a = self._slot("to_proto", abi_version=self.handle)
        return take_bytes(a.serialized_proto, a.serialized_proto_size, a.serialized_proto_holder,
                          a.serialized_proto_deleter)

    def _platform_id(self) -> int:
        return int(self._slot("platform_id", abi_version=self.handle).platform_id)


class RuntimeAbiVersion(_AbiVersion):
    """A runtime's ABI version (owned ``PJRT_RuntimeAbiVersion*``)."""

    _what = "RuntimeAbiVersion"
    _kind = "runtime"

    def _release(self, handle: int) -> None:
        """``PJRT_RuntimeAbiVersion_Destroy``."""
        self._slot("destroy", abi_version=handle)

    def to_proto(self) -> bytes:
        """The serialized version proto (``PJRT_RuntimeAbiVersion_ToProto``)."""
        return self._to_proto()

    @property
    def platform_id(self) -> int:
        """The platform the version belongs to (``PJRT_RuntimeAbiVersion_PlatformId``)."""
        return self._platform_id()

    def _compatible(self, what: str, **fields: Any) -> bool:
        try:
            self._slot(what, abi_version=self.handle, **fields)
        except PjrtError as exc:
            self._ext.last_incompatibility = exc
            return False
        return True

    def is_compatible_with_runtime(self, other: "RuntimeAbiVersion") -> bool:
        """``PJRT_RuntimeAbiVersion_IsCompatibleWithRuntime``."""
        return self._compatible("is_compatible_with_runtime",
                                other_abi_version=handle_of(other, RuntimeAbiVersion, "other"))

    def is_compatible_with_executable(self, executable: "ExecutableAbiVersion") -> bool:
        """``PJRT_RuntimeAbiVersion_IsCompatibleWithExecutable``."""
        return self._compatible("is_compatible_with_executable",
                                executable_abi_version=handle_of(executable, ExecutableAbiVersion, "executable"))


class ExecutableAbiVersion(_AbiVersion):
    """An executable's ABI version (owned ``PJRT_ExecutableAbiVersion*``)."""

    _what = "ExecutableAbiVersion"
    _kind = "executable"

    def _release(self, handle: int) -> None:
        """``PJRT_ExecutableAbiVersion_Destroy``."""
        self._slot("destroy", abi_version=handle)

    def to_proto(self) -> bytes:
        """The serialized version proto (``PJRT_ExecutableAbiVersion_ToProto``)."""
        return self._to_proto()

    @property
    def platform_id(self) -> int:
        """The platform the version belongs to (``PJRT_ExecutableAbiVersion_PlatformId``)."""
        return self._platform_id()


class AbiVersions(Extension):
    """``PJRT_AbiVersion_Extension``."""

    TYPE = ExtensionType.PJRT_Extension_Type_AbiVersion
    STRUCT = _abi.PJRT_AbiVersion_Extension
    NAME = "ABI Version"

    def __init__(self, source: object) -> None:
        super().__init__(source)
        #: The plugin's reason for the last failed compatibility check.
        self.last_incompatibility: PjrtError | None = None

    def runtime_abi_version(self, client: Any) -> RuntimeAbiVersion:
        """The ABI version of a client's runtime (``PJRT_Client_RuntimeAbiVersion``)."""
        from ..client import Client
        a = self._call("client_runtime_abi_version", self._slot_args(
            "client_runtime_abi_version", client=handle_of(client, Client, "client")))
        return RuntimeAbiVersion(self, a.abi_version)

    def executable_abi_version(self, executable: Any) -> ExecutableAbiVersion:
        """The ABI version an executable needs (``PJRT_Executable_GetAbiVersion``)."""
        with executable_handle(executable) as handle:
            a = self._call("executable_get_abi_version",
                           self._slot_args("executable_get_abi_version", executable=handle))
        return ExecutableAbiVersion(self, a.abi_version)

    def _from_proto(self, slot: str, data: bytes) -> int:
        raw = c_string(data, "data")
        return self._call(slot, self._slot_args(slot, serialized_proto=c_bytes_address(raw),
                                                serialized_proto_size=len(raw))).abi_version

    def runtime_abi_version_from_proto(self, data: bytes) -> RuntimeAbiVersion:
        """``PJRT_RuntimeAbiVersion_FromProto``."""
        return RuntimeAbiVersion(self, self._from_proto("runtime_abi_version_from_proto", data))

    def executable_abi_version_from_proto(self, data: bytes) -> ExecutableAbiVersion:
        """``PJRT_ExecutableAbiVersion_FromProto``."""
        return ExecutableAbiVersion(self, self._from_proto("executable_abi_version_from_proto", data))
