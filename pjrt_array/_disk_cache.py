"""The on-disk cache of compiled executables, shared by processes.

Entries are ``PJRT_Executable_Serialize`` bytes stored under the program's
fingerprint, in a folder per plugin build (platform name, platform version
and PJRT API version), so an executable is only ever loaded by the XLA that
made it.  Writes are atomic (a temporary file renamed into place), reads
check a header with the payload's length and sha256 (a corrupt or truncated
entry is a miss, and is replaced), and the folder is kept under a size bound
by evicting the least recently used entries (reads refresh the mtime).

Settings: ``PJRT_ARRAY_CACHE_DIR`` (default: ``$XDG_CACHE_HOME/pjrt_array`` or
``~/.cache/pjrt_array``), ``PJRT_ARRAY_CACHE=0`` to disable,
``PJRT_ARRAY_CACHE_MAX_BYTES`` (default 1 GiB).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from pathlib import Path

__all__ = ["DiskCache", "default_cache"]

_MAGIC = b"PJRTAC1\n"
_HEADER = len(_MAGIC) + 8 + 32
_DEFAULT_MAX_BYTES = 1 << 30


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80]


class DiskCache:
    """Serialized executables by fingerprint in ``root/<plugin build>/``."""

    def __init__(self, root: str | os.PathLike, max_bytes: int = _DEFAULT_MAX_BYTES) -> None:
        self.root = Path(root)
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        self._written_since_evict = 0

    def folder(self, platform: str, version: str, api_version: str) -> Path:
        """The folder of one plugin build (readable name + hash of the exact identity)."""
        ident = f"{platform}\0{version}\0{api_version}".encode()
        return self.root / f"{_safe(platform)}-{_safe(api_version)}-{hashlib.sha256(ident).hexdigest()[:16]}"

    def get(self, folder: Path, fingerprint: str) -> bytes | None:
        """The payload stored for ``fingerprint``, or None (missing, truncated or corrupt)."""
        path = folder / f"{fingerprint}.exe"
        try:
            data = path.read_bytes()
        except OSError:
            return None
        payload = data[_HEADER:]
        if (len(data) < _HEADER or not data.startswith(_MAGIC)
                or int.from_bytes(data[len(_MAGIC):len(_MAGIC) + 8], "little") != len(payload)
                or hashlib.sha256(payload).digest() != data[len(_MAGIC) + 8:_HEADER]):
            self._discard(path)
            return None
        try:
            os.utime(path)  # least-recently-used order is by mtime
        except OSError:
            pass
        return payload

    def put(self, folder: Path, fingerprint: str, payload: bytes) -> None:
        """Store ``payload`` atomically; errors (read-only disk, full disk) are ignored."""
        data = _MAGIC + len(payload).to_bytes(8, "little") + hashlib.sha256(payload).digest() + payload
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".exe")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, folder / f"{fingerprint}.exe")
            except BaseException:
                self._discard(Path(tmp))
                raise
        except OSError:
            return
        with self._lock:
            self._written_since_evict += len(data)
            due = self._written_since_evict > self.max_bytes // 16
            if due:
                self._written_since_evict = 0
        if due:
            self.evict()

    def evict(self) -> int:
        """Delete least recently used entries until the cache fits ``max_bytes``; returns bytes freed."""
        entries = []
        for path in self.root.glob("*/*.exe"):
            try:
                st = path.stat()
            except OSError:
                continue
            entries.append((st.st_mtime, st.st_size, path))
        total = sum(size for _, size, _ in entries)
        freed = 0
        for _, size, path in sorted(entries):
            if total - freed <= self.max_bytes:
                break
            if self._discard(path):
                freed += size
        return freed

    def size(self) -> int:
        """Bytes used by entries."""
        return sum(p.stat().st_size for p in self.root.glob("*/*.exe") if p.exists())

    def clear(self) -> None:
        """Delete every entry."""
        for path in self.root.glob("*/*.exe"):
            self._discard(path)

    @staticmethod
    def _discard(path: Path) -> bool:
        try:
            path.unlink()
            return True
        except OSError:
            return False


def default_cache() -> DiskCache | None:
    """The cache configured by the environment (None when ``PJRT_ARRAY_CACHE=0``)."""
    if os.environ.get("PJRT_ARRAY_CACHE", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    root = os.environ.get("PJRT_ARRAY_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "pjrt_array")
    max_bytes = int(os.environ.get("PJRT_ARRAY_CACHE_MAX_BYTES", _DEFAULT_MAX_BYTES))
    return DiskCache(root, max_bytes)
