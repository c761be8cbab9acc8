"""Devices of the ``pjrt_array`` namespace and the default client.

The namespace opens one PJRT client per plugin, lazily, the first time a
device of that plugin is needed.  ``PJRT_ARRAY_PLUGIN`` (or
:func:`set_default_plugin`) picks the default plugin; otherwise the newest
installed CPU plugin is used.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from ._pjrt import Client, PjrtError, ResourceExhausted, default_plugin_info, discover, load_plugin
from ._pjrt import Device as PjrtDevice
from ._pjrt._loader import PluginInfo

__all__ = ["Device", "default_device", "all_devices", "plugins", "set_default_plugin", "as_device", "client",
           "install_client"]


class Device:
    """A device arrays can live on, e.g. ``Device(cpu:0)``.

    Two Device objects are equal when they name the same device of the same
    client.  ``device.pjrt`` is the underlying :class:`pjrt_array._pjrt.Device`.
    """

    __slots__ = ("pjrt", "platform", "id", "handle", "client", "_hash")

    def __init__(self, pjrt: PjrtDevice, platform: str) -> None:
        self.pjrt = pjrt
        self.platform = platform
        self.id = pjrt.id
        self.handle = pjrt.handle
        self.client = pjrt.client
        self._hash = hash((platform, self.id, id(self.client)))

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, Device) and other.handle == self.handle
                                 and other.client is self.client)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"Device({self.platform}:{self.id})"

    @property
    def kind(self) -> str:
        """The device kind reported by the plugin, e.g. ``"cpu"``."""
        return self.pjrt.kind

    def memory_stats(self) -> dict[str, int]:
        """The plugin's memory statistics for this device ({} where it reports none)."""
        try:
            return self.pjrt.memory_stats()
        except PjrtError:
            return {}

    def out_of_memory(self, exc: ResourceExhausted) -> ResourceExhausted:
        """``exc`` with this device and its memory statistics attached (``.device``, ``.memory_stats``)."""
        exc.device = self
        exc.memory_stats = self.memory_stats()
        return exc


class _State:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.plugin_path: str | None = None
        self.clients: dict[str, Client] = {}
        self.devices: dict[str, list[Device]] = {}


_state = _State()


def set_default_plugin(path: str | os.PathLike | None) -> None:
    """Use the plugin at ``path`` for arrays created without an explicit device.

    ``None`` goes back to discovery (``PJRT_ARRAY_PLUGIN``, then installed plugins).
    """
    with _state.lock:
        _state.plugin_path = None if path is None else os.fspath(path)
        _default.clear()


def _plugin_path(path: str | None = None) -> str:
    return default_plugin_info(path or _state.plugin_path).path


def client(plugin_path: str | None = None) -> Client:
    """The namespace's client of a plugin (the default plugin when None), created once."""
    path = _plugin_path(plugin_path)
    c = _state.clients.get(path)
    if c is None or c.closed:
        with _state.lock:
            c = _state.clients.get(path)
            if c is None or c.closed:
                c = _state.clients[path] = Client(load_plugin(path))
                platform = c.platform_name
                _state.devices[path] = [Device(d, platform) for d in c.addressable_devices()]
    return c


def install_client(c: Client) -> None:
    """Make ``c`` the namespace's client of its plugin, and that plugin the default
    (``distributed.initialize`` creates the multi-process client)."""
    with _state.lock:
        _state.clients[c.plugin.path] = c
        _state.devices[c.plugin.path] = [Device(d, c.platform_name) for d in c.addressable_devices()]
        _state.plugin_path = c.plugin.path
        _default.clear()


def all_devices(plugin_path: str | None = None) -> list[Device]:
    """The addressable devices of a plugin (the default plugin when None)."""
    client(plugin_path)
    return list(_state.devices[_plugin_path(plugin_path)])


_default: list[Device] = []


def default_device() -> Device:
    """The device arrays are created on when no ``device=`` is given."""
    if _default and not _default[0].client.closed:
        return _default[0]
    _default[:] = [all_devices()[0]]
    return _default[0]


def as_device(device: Any, argname: str = "device") -> Device:
    """Validate a ``device=`` argument (None means the default device)."""
    if device is None:
        return default_device()
    if isinstance(device, Device):
        if device.client.closed:
            raise ValueError(f"{argname}: {device!r} belongs to a closed client")
        return device
    raise TypeError(f"{argname} must be a pjrt_array Device or None, got {type(device).__name__}")


def plugins() -> list[PluginInfo]:
    """Every PJRT plugin candidate found, with path, source, platform and API version."""
    return discover()
