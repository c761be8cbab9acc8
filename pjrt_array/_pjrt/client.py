"""``PJRT_Client``: the root object that owns buffers and executables.

A :class:`Client` owns its ``PJRT_Client*`` and tracks the handles of the
buffers and executables it created.  ``close()`` (or interpreter exit)
destroys those first, then the client, each exactly once; a Python object
whose handle was destroyed this way raises :class:`ClosedError` when used.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from . import _abi
from ._api import Api, new_struct
from ._handles import handles, text
from ._loader import Plugin, default_plugin_info, load_plugin
from .compile_options import CompileOptions
from .device import Device
from .errors import ClosedError
from .memory import Memory
from .named_values import NamedValue, NamedValueArray

if TYPE_CHECKING:
    from .buffer import Buffer
    from .executable import LoadedExecutable

__all__ = ["Client"]

_CLIENTS: "weakref.WeakSet[Client]" = weakref.WeakSet()
_FORKED = False


class Client:
    """A PJRT client of one plugin.

    Args:
        plugin: a loaded :class:`Plugin`, a path to a plugin library, or None for
            the default plugin (see :func:`pjrt_array._pjrt.discover`).
        options: client create options (``PJRT_NamedValue`` list), e.g.
            ``{"cpu_device_count": 2}``.
    """

    def __init__(self, plugin: Plugin | str | os.PathLike | None = None,
                 options: Mapping[str, NamedValue] | None = None, **create_kwargs: Any) -> None:
        if plugin is None:
            plugin = default_plugin_info().path
        if not isinstance(plugin, Plugin):
            plugin = load_plugin(plugin)
        self.plugin = plugin
        self.api: Api = plugin.api
        self._closed = False
        self._buffers: set[int] = set()
        self._executables: set[int] = set()
        # Numpy views (Buffer.numpy_view) alias buffer memory, so a buffer with
        # live views, and the client under it, is destroyed when the last view goes.
        self._pins: dict[int, int] = {}
        self._doomed: set[int] = set()
        self._lock = threading.Lock()
        self._handle = 0
        values = NamedValueArray(options)
        args = new_struct(_abi.PJRT_Client_Create_Args)
        args.create_options = values.address
        args.num_options = values.count
        self._keep_alive = self._prepare_create(args, **create_kwargs)
        self.api.call("PJRT_Client_Create", args)
        self._handle = int(args.client)
        self._destroy_buffer = self.api.raw("PJRT_Buffer_Destroy")  # the hottest call after execute
        self._devices: list[Device] | None = None
        _CLIENTS.add(self)

    def _prepare_create(self, args: Any, **kwargs: Any) -> Any:
        """Hook for subclasses/extensions to fill more create arguments."""
        if kwargs:
            raise TypeError(f"unexpected client options: {', '.join(kwargs)}")
        return None

    # -- life cycle ---------------------------------------------------------------
    def _live(self, handle: int) -> int:
        """Return ``handle`` if this client is open; raise ClosedError otherwise."""
        if self._closed:
            raise ClosedError("the PJRT client has been closed" + (" (the process forked)" if _FORKED else ""))
        return handle

    @property
    def handle(self) -> int:
        return self._live(self._handle)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Destroy every buffer and executable of this client, then the client."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            buffers, self._buffers = self._buffers, set()
            executables, self._executables = self._executables, set()
            self._doomed |= buffers & self._pins.keys()
            buffers -= self._doomed
            viewed = bool(self._doomed)
        if _FORKED:  # the plugin's threads did not survive fork(): touch nothing
            return
        for h in buffers:
            self._destroy("PJRT_Buffer_Destroy", _abi.PJRT_Buffer_Destroy_Args, "buffer", h)
        for h in executables:
            self._destroy("PJRT_LoadedExecutable_Destroy", _abi.PJRT_LoadedExecutable_Destroy_Args,
                          "executable", h)
        if not viewed:
            self._destroy("PJRT_Client_Destroy", _abi.PJRT_Client_Destroy_Args, "client", self._handle)

    def _pin(self, buffer: int) -> None:
        """Count a numpy view of ``buffer`` (its external reference is already taken)."""
        with self._lock:
            self._pins[buffer] = self._pins.get(buffer, 0) + 1

    def _doom_if_pinned(self, buffer: int) -> bool:
        """Whether ``buffer`` has live views; if so its destroy waits for the last one."""
        with self._lock:
            if buffer in self._pins:
                self._doomed.add(buffer)
                return True
            return False

    def _unpin(self, buffer: int) -> None:
        """Drop a numpy view of ``buffer``; destroy what waited for it."""
        with self._lock:
            left = self._pins.pop(buffer) - 1
            if left:
                self._pins[buffer] = left
            destroy = not left and buffer in self._doomed
            if destroy:
                self._doomed.discard(buffer)
            last = destroy and self._closed and not self._doomed
        if _FORKED:
            return
        release = new_struct(_abi.PJRT_Buffer_DecreaseExternalReferenceCount_Args)
        release.buffer = buffer
        self.api.call("PJRT_Buffer_DecreaseExternalReferenceCount", release)
        if destroy:
            self._destroy("PJRT_Buffer_Destroy", _abi.PJRT_Buffer_Destroy_Args, "buffer", buffer)
        if last:
            self._destroy("PJRT_Client_Destroy", _abi.PJRT_Client_Destroy_Args, "client", self._handle)

    def _destroy(self, fn: str, args_type: type, field: str, handle: int) -> None:
        args = new_struct(args_type)
        setattr(args, field, handle)
        self.api.call(fn, args)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - destructors must not raise
            pass

    # -- facts ----------------------------------------------------------------------
    def _call(self, fn: str, args_type: type, **fields: Any) -> Any:
        args = new_struct(args_type)
        args.client = self.handle
        for k, v in fields.items():
            setattr(args, k, v)
        self.api.call(fn, args)
        return args

    @property
    def platform_name(self) -> str:
        a = self._call("PJRT_Client_PlatformName", _abi.PJRT_Client_PlatformName_Args)
        return text(a.platform_name, a.platform_name_size)

    @property
    def platform_version(self) -> str:
        a = self._call("PJRT_Client_PlatformVersion", _abi.PJRT_Client_PlatformVersion_Args)
        return text(a.platform_version, a.platform_version_size)

    @property
    def process_index(self) -> int:
        return int(self._call("PJRT_Client_ProcessIndex", _abi.PJRT_Client_ProcessIndex_Args).process_index)

    def devices(self) -> list[Device]:
        """All devices, addressable or not."""
        a = self._call("PJRT_Client_Devices", _abi.PJRT_Client_Devices_Args)
        return [Device(self, h) for h in handles(a.devices, a.num_devices)]

    def addressable_devices(self) -> list[Device]:
        """The devices this process can use (cached: the set never changes)."""
        if self._devices is None:
            a = self._call("PJRT_Client_AddressableDevices", _abi.PJRT_Client_AddressableDevices_Args)
            self._devices = [Device(self, h) for h in handles(a.addressable_devices, a.num_addressable_devices)]
        self._live(0)
        return list(self._devices)

    def lookup_device(self, device_id: int) -> Device:
        """The device with global id ``device_id``."""
        a = self._call("PJRT_Client_LookupDevice", _abi.PJRT_Client_LookupDevice_Args, id=device_id)
        return Device(self, a.device)

    def lookup_addressable_device(self, local_hardware_id: int) -> Device:
        """The addressable device with local hardware id ``local_hardware_id``."""
        a = self._call("PJRT_Client_LookupAddressableDevice", _abi.PJRT_Client_LookupAddressableDevice_Args,
                       local_hardware_id=local_hardware_id)
        return Device(self, a.addressable_device)

    def addressable_memories(self) -> list[Memory]:
        a = self._call("PJRT_Client_AddressableMemories", _abi.PJRT_Client_AddressableMemories_Args)
        return [Memory(self, h) for h in handles(a.addressable_memories, a.num_addressable_memories)]

    def default_device_assignment(self, num_replicas: int, num_partitions: int) -> list[list[int]]:
        """Device ids as ``[replica][partition]`` (``PJRT_Client_DefaultDeviceAssignment``)."""
        n = num_replicas * num_partitions
        out = (ctypes.c_int * max(n, 1))()
        self._call("PJRT_Client_DefaultDeviceAssignment", _abi.PJRT_Client_DefaultDeviceAssignment_Args,
                   num_replicas=num_replicas, num_partitions=num_partitions,
                   default_assignment_size=n, default_assignment=ctypes.addressof(out))
        return [list(out[r * num_partitions:(r + 1) * num_partitions]) for r in range(num_replicas)]

    # -- buffers and programs ----------------------------------------------------------
    def buffer_from_numpy(self, array: np.ndarray, device: Device | None = None, *,
                          memory: Memory | None = None, semantics: str = "copy") -> "Buffer":
        """Upload a numpy array; see :meth:`Buffer.from_numpy`."""
        from .buffer import Buffer
        return Buffer.from_numpy(self, array, device, memory=memory, semantics=semantics)

    def compile(self, program: str | bytes, options: CompileOptions | None = None,
                format: str = "mlir") -> "LoadedExecutable":
        """Compile StableHLO/MLIR text or bytecode (``format="mlir"``) or HLO (``"hlo"``)."""
        from .executable import LoadedExecutable
        return LoadedExecutable.compile(self, program, options, format)

    def deserialize_executable(self, data: bytes) -> "LoadedExecutable":
        """Load an executable from :meth:`Executable.serialize` bytes of the same plugin."""
        from .executable import LoadedExecutable
        return LoadedExecutable.deserialize(self, data)

    def __repr__(self) -> str:
        if self._closed:
            return "<pjrt Client closed>"
        return f"<pjrt Client {self.platform_name} {self.platform_version!r} api={self.api.version}>"


def _close_all() -> None:
    for client in list(_CLIENTS):
        try:
            client.close()
        except Exception:  # noqa: BLE001 - exiting anyway
            pass


def _after_fork_in_child() -> None:
    global _FORKED
    _FORKED = True
    for client in list(_CLIENTS):
        client._closed = True


atexit.register(_close_all)
os.register_at_fork(after_in_child=_after_fork_in_child)
