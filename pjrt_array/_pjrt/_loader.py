"""Finding, loading and negotiating with PJRT plugins.

Discovery order (first wins for the default):

1. an explicit path passed by the caller;
2. ``PJRT_ARRAY_PLUGIN`` (one path, or several separated by ``os.pathsep``);
3. installed plugin wheels: the ``xla_plugins`` and ``jax_plugins`` entry-point
   groups (e.g. ``jax-cuda12-pjrt`` registers ``jax_plugins:xla_cuda12``), and
   the known CPU plugin packages below.

Among installed plugins of the chosen platform (``platform=``, else
``PJRT_ARRAY_PLATFORM``, else ``"cpu"``) the one with the highest PJRT API
version is the default.  Only the candidates of that platform are opened, so
an installed GPU wheel costs a CPU user nothing.  Loading is ``dlopen`` + ``GetPjrtApi``; ``PJRT_Plugin_Initialize`` is
called exactly once per plugin per process.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import _abi
from ._api import Api, new_struct
from .errors import PluginLoadError
from .named_values import NamedValue, read_named_values

__all__ = ["PluginInfo", "Plugin", "discover", "load_plugin", "default_plugin_info", "chosen_platform"]

ENV_PLUGIN = "PJRT_ARRAY_PLUGIN"
ENV_PLATFORM = "PJRT_ARRAY_PLATFORM"
#: Platforms a default can be chosen by ("gpu" covers CUDA and ROCm plugins).
PLATFORMS = ("cpu", "gpu", "tpu")
ENTRY_POINT_GROUPS = ("xla_plugins", "jax_plugins")
# Wheels that ship a PJRT plugin without registering an entry point.
KNOWN_PACKAGES = (
    ("fastatomstruct_xla_cpu", "cpu"),
    ("lammps_jax_pjrt_cpu", "cpu"),
)
_LIB_SUFFIXES = (".so", ".dylib", ".dll")
VersionReader = Callable[[list[str]], "dict[str, tuple[int, int] | None] | None"]


@dataclass(frozen=True)
class PluginInfo:
    """A plugin candidate: where it is, where it was found, what it is."""

    path: str
    source: str
    platform: str
    api_version: tuple[int, int] | None = None
    error: str | None = None

    @property
    def usable(self) -> bool:
        return self.error is None


def _libraries_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*") if p.suffix in _LIB_SUFFIXES and p.is_file())


def _platform_guess(*names: str) -> str:
    text = " ".join(names).lower()
    for key in ("cuda", "rocm", "tpu", "metal", "cpu"):
        if key in text:
            return "gpu" if key in ("cuda", "rocm") else key
    return "unknown"


def _module_folder(module: str) -> Path | None:
    """The folder of an installed module, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None


def _installed_candidates() -> list[tuple[str, str, str]]:
    """(path, source, platform) of every plugin library installed as a package."""
    found: list[tuple[str, str, str]] = []
    for group in ENTRY_POINT_GROUPS:
        for ep in importlib.metadata.entry_points(group=group):
            folder = _module_folder(ep.value.split(":")[0])
            for lib in _libraries_in(folder) if folder else []:
                found.append((str(lib), f"entry point {group}:{ep.name}", _platform_guess(ep.name, lib.name)))
    for package, platform in KNOWN_PACKAGES:
        folder = _module_folder(package)
        for lib in _libraries_in(folder) if folder else []:
            found.append((str(lib), f"package {package}", platform))
    return found


def _describe(path: str, source: str, platform: str) -> PluginInfo:
    try:
        plugin = load_plugin(path, initialize=False)
    except PluginLoadError as exc:
        return PluginInfo(path, source, platform, None, str(exc))
    return PluginInfo(plugin.path, source, platform, (plugin.api.major, plugin.api.minor))


def _candidates(path: str | os.PathLike | None) -> list[tuple[str, str, str]]:
    """(path, source, platform guess) of every candidate, in discovery order, each library once."""
    raw: list[tuple[str, str, str]] = []
    if path is not None:
        raw.append((os.fspath(path), "argument", _platform_guess(os.fspath(path))))
    for entry in filter(None, os.environ.get(ENV_PLUGIN, "").split(os.pathsep)):
        raw.append((entry, ENV_PLUGIN, _platform_guess(entry)))
    raw.extend(_installed_candidates())
    seen: set[str] = set()
    out = []
    for candidate in raw:
        key = os.path.realpath(candidate[0])
        if key not in seen:
            seen.add(key)
            out.append(candidate)
    return out


def discover(path: str | os.PathLike | None = None) -> list[PluginInfo]:
    """Every plugin candidate, in discovery order, each probed for its API version."""
    return [_describe(*c) for c in _candidates(path)]


def chosen_platform(platform: str | None = None) -> str:
    """``platform``, else ``$PJRT_ARRAY_PLATFORM``, else ``"cpu"``, checked to be one of :data:`PLATFORMS`."""
    where = "platform"
    if platform is None:
        platform, where = os.environ.get(ENV_PLATFORM) or "cpu", "$" + ENV_PLATFORM
    if not isinstance(platform, str) or platform.lower() not in PLATFORMS:
        raise ValueError(f"{where} must be one of {', '.join(PLATFORMS)}, got {platform!r}")
    return platform.lower()


def default_plugin_info(path: str | os.PathLike | None = None, platform: str | None = None,
                        versions: VersionReader | None = None) -> PluginInfo:
    """The plugin to use: an explicit one, else the newest installed plugin of the chosen platform
    (see :func:`chosen_platform`).

    Reading a candidate's version loads it into the process, where it stays.
    ``versions`` (``{path: (major, minor) or None}`` for a list of paths, read
    without loading them, or None where it cannot tell) lets only the chosen
    plugin be loaded.
    """
    candidates = _candidates(path)
    explicit = [c for c in candidates if c[1] in ("argument", ENV_PLUGIN)]
    if explicit:
        info = _describe(*explicit[0])
        if not info.usable:
            raise PluginLoadError(info.error)
        return info
    wanted = chosen_platform(platform)
    mine = [c for c in candidates if c[2] == wanted]
    known = versions([c[0] for c in mine]) if versions is not None and len(mine) > 1 else None
    if known is not None:
        # Newest first (stable: discovery order among equals, as ``max`` below); the first that
        # loads is the one ``max`` would pick.
        for candidate in sorted((c for c in mine if known.get(c[0])), key=lambda c: known[c[0]] or (0, 0),
                                reverse=True):
            info = _describe(*candidate)
            if info.usable:
                return info
    infos = [_describe(*c) for c in mine]
    usable = [i for i in infos if i.usable]
    if not usable:
        looked = "\n  ".join(f"{i.path} ({i.source}): {i.error}" for i in infos) or "(nothing found)"
        install = {"gpu": "`pip install \"pjrt-array[cuda12]\"` (or [cuda13])"}.get(wanted, "`pip install xla-cpu-pjrt`")
        raise PluginLoadError(
            f"no usable {wanted} PJRT plugin found. Looked in: an explicit path, $" + ENV_PLUGIN
            + ", entry points " + ", ".join(ENTRY_POINT_GROUPS) + ", packages "
            + ", ".join(p for p, _ in KNOWN_PACKAGES) + ".\n  " + looked
            + f"\nInstall one with {install}, or choose another platform with ${ENV_PLATFORM}."
        )
    return max(usable, key=lambda i: i.api_version or (0, 0))


class Plugin:
    """A loaded plugin: its library handle, its ``PJRT_Api`` and attributes."""

    def __init__(self, path: str, lib: ctypes.CDLL, api: Api) -> None:
        self.path = path
        self.lib = lib
        self.api = api
        self._initialized = False
        self._lock = threading.Lock()

    def initialize(self) -> None:
        """Call ``PJRT_Plugin_Initialize`` (once per process; later calls do nothing)."""
        with self._lock:
            if not self._initialized:
                self.api.call("PJRT_Plugin_Initialize", new_struct(_abi.PJRT_Plugin_Initialize_Args))
                self._initialized = True

    @property
    def version(self) -> tuple[int, int]:
        """The plugin's PJRT API version ``(major, minor)``."""
        return (self.api.major, self.api.minor)

    def attributes(self) -> dict[str, NamedValue]:
        """``PJRT_Plugin_Attributes``: e.g. ``xla_version``, ``stablehlo_current_version``."""
        args = new_struct(_abi.PJRT_Plugin_Attributes_Args)
        self.api.call("PJRT_Plugin_Attributes", args)
        return read_named_values(args.attributes, args.num_attributes)

    def __repr__(self) -> str:
        return f"Plugin({self.path!r}, api={self.api.major}.{self.api.minor})"


_PLUGINS: dict[str, Plugin] = {}
_PLUGINS_LOCK = threading.Lock()


def load_plugin(path: str | os.PathLike, *, initialize: bool = True) -> Plugin:
    """Load (once) the plugin library at ``path`` and negotiate its API version."""
    given = os.fspath(path)
    real = os.path.realpath(given)
    with _PLUGINS_LOCK:
        plugin = _PLUGINS.get(real)
        if plugin is None:
            plugin = _PLUGINS[real] = _open(given, real)
    if initialize:
        plugin.initialize()
    return plugin


def _open(given: str, real: str) -> Plugin:
    # XLA plugins log through TSL, which reads this once; without it, loading a
    # cached executable prints spurious CPU-feature "errors".  PJRT errors reach
    # us as PJRT_Error values regardless.  Set it yourself to see XLA's logs.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if not os.path.isfile(real):
        raise PluginLoadError(f"PJRT plugin {given!r} does not exist (resolved to {real!r})")
    try:
        lib = ctypes.CDLL(real, mode=os.RTLD_LOCAL | os.RTLD_NOW)
    except OSError as exc:
        raise PluginLoadError(f"cannot load PJRT plugin {given!r}: {exc}") from None
    try:
        get_api = lib.GetPjrtApi
    except AttributeError:
        raise PluginLoadError(f"{given!r} is not a PJRT plugin: it has no GetPjrtApi symbol") from None
    get_api.restype = ctypes.c_void_p
    get_api.argtypes = []
    address = get_api()
    if not address:
        raise PluginLoadError(f"GetPjrtApi of {given!r} returned a null PJRT_Api")
    header = _abi.PJRT_Api.from_address(address)
    if header.struct_size < _abi.PJRT_Api.pjrt_api_version.offset + _abi.PJRT_Api.pjrt_api_version.size:
        raise PluginLoadError(f"{given!r}: PJRT_Api struct_size {header.struct_size} is too small")
    major = header.pjrt_api_version.major_version
    if major != _abi.PJRT_API_MAJOR:
        raise PluginLoadError(
            f"{given!r} implements PJRT API major version {major}; this binding speaks major "
            f"version {_abi.PJRT_API_MAJOR} (minor up to {_abi.PJRT_API_MINOR})"
        )
    return Plugin(real, lib, Api(address, real))
