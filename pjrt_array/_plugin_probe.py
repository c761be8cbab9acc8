"""The PJRT API versions of installed plugins, read without loading them into this process.

The default plugin is the installed one of the platform with the newest API
version, and reading a version means loading the library: its static
initializers run and the code they touch stays resident (51 MB for the losing
XLA CPU plugin, measured), although the process never uses it.  The versions
are read instead in a child process and remembered in the disk cache
(``_disk_cache``), keyed by each library's path, size and modification time,
so the child runs once per set of installed plugins and only the chosen
plugin is ever loaded here.
"""

from __future__ import annotations

import json
import os
import sys

from . import _disk_cache
from ._digest import sha256
from ._pjrt import _abi

__all__ = ["api_versions"]

Version = tuple[int, int]

# Reads ``PJRT_Api.pjrt_api_version`` of each library named on the command line (offsets of
# major and minor come first); a library that does not load or is no plugin reads as null.
_CHILD = """
import ctypes, json, os, sys
major, minor = int(sys.argv[1]), int(sys.argv[2])
out = {}
for path in sys.argv[3:]:
    try:
        get = ctypes.CDLL(path, mode=os.RTLD_LOCAL | os.RTLD_NOW).GetPjrtApi
        get.restype = ctypes.c_void_p
        api = get()
        out[path] = [ctypes.c_int.from_address(api + major).value,
                     ctypes.c_int.from_address(api + minor).value] if api else None
    except (OSError, AttributeError):
        out[path] = None
print(json.dumps(out))
"""
_CACHE_LABEL = "plugin-api-versions"
_FORMAT = "1"  # of the stored entries: a change of it gives them a new folder


def _identity(paths: list[str]) -> str | None:
    """What tells this set of library files from any other (None if one cannot be read)."""
    try:
        stats = [os.stat(p) for p in paths]
    except OSError:
        return None
    files = [(os.path.realpath(p), st.st_size, st.st_mtime_ns) for p, st in zip(paths, stats)]
    return sha256(json.dumps(files).encode()).hexdigest()


def _read_in_child(paths: list[str]) -> dict[str, Version | None] | None:
    import subprocess
    field = _abi.PJRT_Api.pjrt_api_version.offset
    major = field + _abi.PJRT_Api_Version.major_version.offset
    minor = field + _abi.PJRT_Api_Version.minor_version.offset
    try:
        done = subprocess.run([sys.executable, "-S", "-E", "-c", _CHILD, str(major), str(minor), *paths],
                              capture_output=True, text=True, timeout=60)
        found = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if not isinstance(found, dict):
        return None
    return {p: _version(found.get(p)) for p in paths}


def _version(value: object) -> Version | None:
    if isinstance(value, list) and len(value) == 2 and all(type(v) is int for v in value):
        return (value[0], value[1])
    return None


def api_versions(paths: list[str]) -> dict[str, Version | None] | None:
    """``{path: (major, minor) or None}`` for plugin libraries, or None where the child could not
    tell (the caller then loads them itself)."""
    identity = _identity(paths)
    if identity is None:
        return None
    cache = _disk_cache.default_cache()
    if cache is None:
        return _read_in_child(paths)
    folder = cache.folder(_CACHE_LABEL, _FORMAT)
    payload = cache.get(folder, identity)
    if payload is not None:
        try:
            stored = json.loads(payload)
            return {p: _version(stored.get(p)) for p in paths}
        except (ValueError, AttributeError):
            pass  # not what we wrote: read the versions again
    found = _read_in_child(paths)
    if found is not None:
        cache.put(folder, identity, json.dumps(found).encode())
    return found
