"""PJRT extensions: discovery and one wrapper class per extension header.

``extension_types(plugin)`` lists what a plugin provides;
``get(plugin, "layouts")`` (or ``Layouts.of(plugin)``) returns the wrapper,
or None when the plugin lacks the extension.  ``Layouts(plugin)`` raises
:class:`Unimplemented` instead.  Every function pointer of every extension
header is wrapped; see ``docs/coverage.md``.
"""

from __future__ import annotations

from typing import Any

from ._base import Extension, api_of
from ._chain import ExtensionType, extension_address
from ._chain import extension_types as _types
from .abi_version import AbiVersions
from .callback import CallbackExtension
from .collectives import CollectivesExtension
from .cross_host_transfers import CrossHostTransfers
from .custom_partitioner import CustomPartitionerExtension
from .executable_metadata import ExecutableMetadata
from .ffi import FFI
from .gpu_custom_call import GpuCustomCall
from .host_allocator import HostAllocator
from .host_memory_allocator import HostMemoryAllocator
from .layouts import Layouts
from .megascale import Megascale
from .memory_descriptions import MemoryDescriptions
from .multi_slice import MultiSlice
from .phase_compile import PhaseCompile
from .profiler import ProfilerExtension
from .raw_buffer import RawBufferExtension
from .shardings import Shardings
from .stream import Stream
from .tpu_executable import TpuExecutable
from .tpu_topology import TpuTopology
from .triton import Triton
from .xla_transform import XlaTransform

__all__ = ["Extension", "ExtensionType", "EXTENSIONS", "extension_types", "get", "extension_address",
           "AbiVersions", "CallbackExtension", "CollectivesExtension", "CrossHostTransfers",
           "CustomPartitionerExtension", "ExecutableMetadata", "FFI", "GpuCustomCall", "HostAllocator",
           "HostMemoryAllocator", "Layouts", "Megascale", "MemoryDescriptions", "MultiSlice", "PhaseCompile",
           "ProfilerExtension", "RawBufferExtension", "Shardings", "Stream", "TpuExecutable", "TpuTopology",
           "Triton", "XlaTransform"]

#: Every wrapper class by short name.
EXTENSIONS: dict[str, type[Extension]] = {
    "gpu_custom_call": GpuCustomCall, "profiler": ProfilerExtension,
    "custom_partitioner": CustomPartitionerExtension, "stream": Stream, "layouts": Layouts, "ffi": FFI,
    "memory_descriptions": MemoryDescriptions, "triton": Triton, "raw_buffer": RawBufferExtension,
    "phase_compile": PhaseCompile, "cross_host_transfers": CrossHostTransfers,
    "executable_metadata": ExecutableMetadata, "callback": CallbackExtension, "host_allocator": HostAllocator,
    "tpu_topology": TpuTopology, "tpu_executable": TpuExecutable, "megascale": Megascale,
    "shardings": Shardings, "abi_version": AbiVersions, "collectives": CollectivesExtension,
    "multi_slice": MultiSlice, "host_memory_allocator": HostMemoryAllocator, "xla_transform": XlaTransform,
}


def extension_types(source: Any) -> list[ExtensionType | int]:
    """The extension types a Plugin's / Client's plugin provides, in chain order."""
    return _types(api_of(source))


def get(source: Any, name: str) -> Extension | None:
    """The wrapper of extension ``name`` (a key of :data:`EXTENSIONS`), or None if the plugin lacks it."""
    try:
        cls = EXTENSIONS[name]
    except KeyError:
        raise ValueError(f"unknown extension {name!r}; known: {', '.join(sorted(EXTENSIONS))}") from None
    return cls.of(source)
