"""The Executable Metadata extension: an executable's serialized ``PjRtExecutableMetadata``.

The metadata (fingerprint and other facts about the compiled program) comes
back as a serialized proto owned by the plugin; it is copied, then released
with ``destroy_serialized_metadata``.  The args structs of this extension
have no ``struct_size``.
"""

from __future__ import annotations

import ctypes
from typing import Any

from .. import _abi
from ._base import Extension, executable_handle
from ._chain import ExtensionType

__all__ = ["ExecutableMetadata"]


class ExecutableMetadata(Extension):
    """``PJRT_ExecutableMetadata_Extension``."""

    TYPE = ExtensionType.PJRT_Extension_Type_ExecutableMetadata
    STRUCT = _abi.PJRT_ExecutableMetadata_Extension
    NAME = "Executable Metadata"

    def metadata(self, executable: Any) -> bytes:
        """The serialized metadata of an Executable or LoadedExecutable
        (``PJRT_ExecutableMetadata_GetExecutableMetadata``, then
        ``PJRT_ExecutableMetadata_DestroySerializedMetadata``)."""
        with executable_handle(executable) as handle:
            a = self._call("get_executable_metadata",
                           self._args(_abi.PJRT_ExecutableMetadata_GetExecutableMetadata_Args, executable=handle))
        if not a.metadata:
            return b""
        meta = _abi.PJRT_ExecutableMetadata.from_address(a.metadata)
        try:
            return ctypes.string_at(meta.serialized_metadata, meta.serialized_metadata_size) \
                if meta.serialized_metadata else b""
        finally:
            self._call_void("destroy_serialized_metadata", self._args(
                _abi.PJRT_ExecutableMetadata_DestroySerializedMetadata_Args, metadata=a.metadata))
