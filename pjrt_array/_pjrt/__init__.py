"""A safe Python binding of the PJRT C API over ctypes.

This layer knows nothing of arrays: it loads plugins, creates clients, moves
buffers, compiles programs and executes them.  See ``docs/binding.md``.
"""

from ._loader import Plugin, PluginInfo, default_plugin_info, discover, load_plugin
from .buffer import Buffer
from .client import Client
from .compile_options import CompileOptions
from .device import Device, DeviceDescription
from .dtypes import BufferType, from_numpy_dtype, to_numpy_dtype
from .errors import *  # noqa: F403 - the exception classes are part of the API
from .errors import __all__ as _errors_all
from .event import Event
from .executable import Executable, LoadedExecutable
from .memory import Memory

__all__ = [
    "Plugin", "PluginInfo", "default_plugin_info", "discover", "load_plugin", "Buffer", "Client",
    "CompileOptions", "Device", "DeviceDescription", "BufferType", "from_numpy_dtype", "to_numpy_dtype",
    "Event", "Executable", "LoadedExecutable", "Memory", *_errors_all,
]
