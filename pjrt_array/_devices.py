"""Devices of the ``pjrt_array`` namespace and the default client.

The namespace opens one PJRT client per plugin, lazily, the first time a
device of that plugin is needed.  ``PJRT_ARRAY_PLUGIN`` (or
:func:`set_default_plugin`) picks the default plugin; otherwise the newest
installed plugin of the default platform is used: ``PJRT_ARRAY_PLATFORM`` (or
:func:`set_default_platform`), ``"cpu"`` unless set.  Create options
(:func:`set_client_options`, or ``PJRT_ARRAY_*`` variables for GPU clients)
are read when a plugin's client is created.
"""

from __future__ import annotations

import itertools
import os
import threading
from typing import Any

from . import _resident
from ._client_options import check_options, environment_options
from ._pjrt import Client, PjrtError, ResourceExhausted, default_plugin_info, discover, load_plugin
from ._pjrt import Device as PjrtDevice
from ._pjrt._loader import ENV_PLATFORM, ENV_PLUGIN, PLATFORMS, PluginInfo, _platform_guess, chosen_platform
from ._plugin_probe import api_versions
from ._policy import tune_process
from ._trace_state import state as _trace_state

__all__ = ["Device", "default_device", "all_devices", "plugins", "set_default_plugin", "set_default_platform",
           "set_client_options", "client_options", "as_device", "client", "install_client"]


_tokens = itertools.count()


class Device:
    """A device arrays can live on, e.g. ``Device(cpu:0)``.

    Two Device objects are equal when they name the same device of the same
    client.  ``device.pjrt`` is the underlying :class:`pjrt_array._pjrt.Device`.

    ``committed`` is False only for the default device's *uncommitted* twin: the
    placement of arrays made without ``device=``, which an op with arrays on one
    other device moves there (docs/guide.md, "Devices").  The twin is equal to the
    device, hashes alike and shares its cache token (and so its compiled programs).
    """

    __slots__ = ("pjrt", "platform", "id", "handle", "client", "_hash", "token", "committed", "_twin")

    def __init__(self, pjrt: PjrtDevice, platform: str) -> None:
        self.pjrt = pjrt
        self.platform = platform
        self.id = pjrt.id
        self.handle = pjrt.handle
        self.client = pjrt.client
        self._hash = hash((platform, self.id, id(self.client)))
        # What the hot path's cache keys hold instead of the Device: an int hashes in C, where
        # ``__hash__`` is a Python call.  Never reused; an equal Device made separately only
        # gets cache entries of its own.
        self.token = next(_tokens)
        self.committed = True
        self._twin: Device | None = None

    def uncommitted(self) -> "Device":
        """This device's uncommitted twin (made once; the twin's own twin is the device)."""
        twin = self._twin
        if twin is None:
            twin = object.__new__(Device)
            for name in ("pjrt", "platform", "id", "handle", "client", "_hash", "token"):
                setattr(twin, name, getattr(self, name))
            twin.committed, twin._twin = False, self
            self._twin = twin
        return twin if self.committed else self

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
        self.platform: str | None = None
        self.clients: dict[str, Client] = {}
        self.devices: dict[str, list[Device]] = {}
        self.resolved: dict[tuple[Any, ...], PluginInfo] = {}
        self.options: dict[str, dict[str, Any]] = {}  # platform name or plugin realpath -> options
        self.platforms: dict[str, str] = {}  # plugin realpath -> its discovery platform ("cpu", "gpu", ...)


_state = _State()


def set_default_plugin(path: str | os.PathLike | None) -> None:
    """Use the plugin at ``path`` for arrays created without an explicit device.

    ``None`` goes back to discovery (``PJRT_ARRAY_PLUGIN``, then the default platform's plugins).
    """
    with _state.lock:
        _state.plugin_path = None if path is None else os.fspath(path)
        _default.clear()


def set_default_platform(platform: str | None) -> None:
    """Put arrays created without an explicit device on ``platform``'s plugin ("cpu", "gpu", "tpu").

    An explicit plugin (:func:`set_default_plugin`, ``PJRT_ARRAY_PLUGIN``) still wins.
    ``None`` goes back to ``PJRT_ARRAY_PLATFORM``, else ``"cpu"``.
    """
    if platform is not None:
        platform = chosen_platform(platform)
    with _state.lock:
        _state.platform = platform
        _default.clear()


def _plugin(path: str | None = None, platform: str | None = None) -> PluginInfo:
    """The plugin of ``path``, else of ``platform``, else the default one (resolved once per setting)."""
    if path is None and platform is None:
        path, platform = _state.plugin_path, _state.platform
    key = (path, platform, os.environ.get(ENV_PLUGIN), os.environ.get(ENV_PLATFORM))
    info = _state.resolved.get(key)
    if info is None:
        info = _state.resolved[key] = default_plugin_info(path, platform, api_versions)
    return info


def _options_key(target: str | os.PathLike) -> tuple[str, str]:
    """(store key, platform) of a ``set_client_options`` target: a platform name or a plugin path."""
    if isinstance(target, str) and target.lower() in PLATFORMS:
        return target.lower(), target.lower()
    if not isinstance(target, (str, os.PathLike)):
        raise TypeError(f"platform_or_plugin must be a platform name ({', '.join(PLATFORMS)}) or a plugin "
                        f"path, got {target!r}")
    path = os.fspath(target)
    return os.path.realpath(path), _platform_guess(path)


def set_client_options(platform_or_plugin: str | os.PathLike, **options: Any) -> None:
    """Create options for the client of a platform ("cpu", "gpu", "tpu") or of one plugin (a path).

    Read when that client is created, so call this before the first use of its
    devices.  GPU options (XLA's GPU plugin): ``preallocate`` (bool),
    ``memory_fraction`` (float in (0, 1]), ``visible_devices`` (list of device
    ordinals), ``allocator`` ("default", "platform", "bfc", "cuda_async"), ...;
    CPU: ``cpu_device_count`` (int >= 1).  Each call replaces the options set
    before for the same target; a plugin's own options override its platform's,
    which override the ``PJRT_ARRAY_*`` environment variables.
    """
    key, platform = _options_key(platform_or_plugin)
    checked = check_options(platform, options)
    with _state.lock:
        for path, c in _state.clients.items():
            if not c.closed and key in (path, _state.platforms[path]):
                raise RuntimeError(f"the {platform_or_plugin} client exists already ({path}); "
                                   "set_client_options must come before the first use of its devices")
        _state.options[key] = checked


def client_options(info: PluginInfo) -> dict[str, Any]:
    """The create options a client of ``info``'s plugin gets: environment, then platform, then plugin."""
    options = environment_options(info.platform)
    options.update(_state.options.get(info.platform, {}))
    options.update(_state.options.get(os.path.realpath(info.path), {}))
    return options


def _open(plugin_path: str | None, platform: str | None) -> str:
    """The key (plugin realpath) of the namespace's client of a plugin, creating the client once."""
    info = _plugin(plugin_path, platform)
    path = os.path.realpath(info.path)
    c = _state.clients.get(path)
    if c is None or c.closed:
        with _state.lock:
            c = _state.clients.get(path)
            if c is None or c.closed:
                tune_process()  # the process-wide tuning the array layer opts into, before any client
                c = Client(load_plugin(info.path), client_options(info))
                if _resident.enabled():
                    _resident.release_plugin_code(info.path)
                _state.platforms[path] = info.platform
                name = c.platform_name
                _state.devices[path] = [Device(d, name) for d in c.addressable_devices()]
                # Published last: a thread that finds the client without the lock reads its devices
                # next (eight threads making their first arrays at once hit a KeyError there).
                _state.clients[path] = c
    return path


def client(plugin_path: str | None = None, platform: str | None = None) -> Client:
    """The namespace's client of a plugin (of ``platform``'s, or the default plugin when both are None)."""
    return _state.clients[_open(plugin_path, platform)]


def install_client(c: Client) -> None:
    """Make ``c`` the namespace's client of its plugin, and that plugin the default
    (``distributed.initialize`` creates the multi-process client)."""
    path = os.path.realpath(c.plugin.path)
    with _state.lock:
        _state.clients[path] = c
        _state.platforms[path] = _platform_guess(c.plugin.path)
        _state.devices[path] = [Device(d, c.platform_name) for d in c.addressable_devices()]
        _state.plugin_path = c.plugin.path
        _default.clear()


def all_devices(plugin_path: str | None = None, platform: str | None = None) -> list[Device]:
    """The addressable devices of a plugin (of ``platform``'s, or the default plugin when both are None)."""
    return list(_state.devices[_open(plugin_path, platform)])


_default: list[Device] = []


def default_device() -> Device:
    """The device arrays are created on when no ``device=`` is given."""
    if _default and not _default[0].client.closed:
        return _default[0]
    _default[:] = [all_devices()[0]]
    return _default[0]


def as_device(device: Any, argname: str = "device") -> Device:
    """Validate a ``device=`` argument (None: the traced program's device while tracing, else the
    default device's uncommitted twin: arrays made without ``device=`` may move to an op's device)."""
    if device is None:
        trace = _trace_state.trace
        return default_device().uncommitted() if trace is None else trace.device
    if isinstance(device, Device):
        if device.client.closed:
            raise ValueError(f"{argname}: {device!r} belongs to a closed client")
        return device
    raise TypeError(f"{argname} must be a pjrt_array Device or None, got {type(device).__name__}")


def plugins() -> list[PluginInfo]:
    """Every PJRT plugin candidate found, with path, source, platform and API version."""
    return discover()
