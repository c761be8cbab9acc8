"""The on-disk cache of compiled executables, shared by the processes of one user.

Entries are ``PJRT_Executable_Serialize`` bytes stored under the program's
fingerprint, in a folder per plugin build (the identity ``_policy`` makes of
what the plugin reports, its library file and its distribution), so an
executable is only ever loaded by the build that made it.

The cache holds native code that the next process runs, so:

- folders are created private to the user (mode 0700), and a folder that
  another user owns or that others can write is refused: a warning says why
  and the process runs without the disk cache;
- a write is a temporary file, fsync'd, then renamed into place, so a process
  killed while writing (even by SIGKILL) leaves no entry, only a temporary
  file that no reader opens (and that eviction removes later);
- a read checks a header with the payload's length and sha256: a corrupt or
  truncated entry is a miss, and is replaced.

The folder is kept under a size bound by evicting the least recently used
entries (reads refresh the mtime).

Settings: ``PJRT_ARRAY_CACHE_DIR`` (default: ``$XDG_CACHE_HOME/pjrt_array`` or
``~/.cache/pjrt_array``), ``PJRT_ARRAY_CACHE=0`` to disable,
``PJRT_ARRAY_CACHE_MAX_BYTES`` (default 1 GiB).
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import threading
import time
import warnings
from pathlib import Path

from ._digest import sha256

__all__ = ["DiskCache", "default_cache", "UnsafeCacheWarning"]

_MAGIC = b"PJRTAC1\n"
_HEADER = len(_MAGIC) + 8 + 32
_DEFAULT_MAX_BYTES = 1 << 30
_TMP_PREFIX = ".tmp-"
_STALE_TMP_SECONDS = 3600  # a temporary file this old was left by a killed writer


class UnsafeCacheWarning(UserWarning):
    """The disk cache folder is not private to this user; the cache is off for this process."""


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80]


def _unsafe_reason(path: Path) -> str | None:
    """Why ``path`` may not hold executables (None when it is a folder private to this user)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"it cannot be read ({exc.strerror})"
    if not stat.S_ISDIR(st.st_mode):
        return "it is not a folder"
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        return f"it is owned by another user (uid {st.st_uid}, this process runs as uid {os.geteuid()})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"other users can write to it (mode {stat.S_IMODE(st.st_mode):o})"
    return None


class DiskCache:
    """Serialized executables by fingerprint in ``root/<plugin build>/``."""

    def __init__(self, root: str | os.PathLike, max_bytes: int = _DEFAULT_MAX_BYTES) -> None:
        self.root = Path(root)
        self.max_bytes = int(max_bytes)
        #: Why the cache refused its folders (None while it is usable).
        self.refused: str | None = None
        self._lock = threading.Lock()
        self._written_since_evict = 0
        self._checked: set[Path] = set()  # folders found private to this user

    def _private(self, folder: Path, create: bool) -> bool:
        """Whether ``folder`` is (made, if ``create``) a folder private to this user.

        The first folder found unsafe turns the whole cache off, with a warning.
        """
        if self.refused is not None:
            return False
        if folder in self._checked:
            return True
        for path in (self.root, folder):  # the root is checked before anything is made in it
            if not path.is_dir():
                if not create:
                    return False
                path.parent.mkdir(parents=True, exist_ok=True)
                try:
                    path.mkdir(mode=0o700)
                except FileExistsError:
                    pass  # made meanwhile (by whom is checked next)
            reason = _unsafe_reason(path)
            if reason is not None:
                self.refused = f"{path}: {reason}"
                warnings.warn(f"pjrt_array does not use the disk cache of compiled programs at {path}: {reason}. "
                              "It holds native code that later processes run, so it must be a folder only you "
                              "can write (e.g. `chmod 700` it, or set PJRT_ARRAY_CACHE_DIR to one). "
                              "Running without the disk cache.", UnsafeCacheWarning, stacklevel=3)
                return False
        self._checked.add(folder)
        return True

    def folder(self, label: str, identity: str) -> Path:
        """The folder of one plugin build: ``label`` (readable) and a hash of its exact ``identity``."""
        return self.root / f"{_safe(label)}-{sha256(identity.encode()).hexdigest()[:16]}"

    def get(self, folder: Path, fingerprint: str) -> bytes | None:
        """The payload stored for ``fingerprint``, or None (missing, truncated, corrupt or refused)."""
        try:
            if not self._private(folder, create=False):
                return None
            data = (folder / f"{fingerprint}.exe").read_bytes()
        except OSError:
            return None
        path = folder / f"{fingerprint}.exe"
        payload = data[_HEADER:]
        if (len(data) < _HEADER or not data.startswith(_MAGIC)
                or int.from_bytes(data[len(_MAGIC):len(_MAGIC) + 8], "little") != len(payload)
                or sha256(payload).digest() != data[len(_MAGIC) + 8:_HEADER]):
            self._discard(path)
            return None
        try:
            os.utime(path)  # least-recently-used order is by mtime
        except OSError:
            pass
        return payload

    def put(self, folder: Path, fingerprint: str, payload: bytes) -> None:
        """Store ``payload`` atomically; errors (read-only disk, full disk) are ignored."""
        data = _MAGIC + len(payload).to_bytes(8, "little") + sha256(payload).digest() + payload
        try:
            if not self._private(folder, create=True):
                return
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=_TMP_PREFIX, suffix=".part")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())  # the bytes are on disk before the name points at them
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
        """Delete least recently used entries until the cache fits ``max_bytes``, and temporary files
        left by killed writers; returns bytes freed."""
        entries = []
        stale = time.time() - _STALE_TMP_SECONDS
        for path in self.root.glob(f"*/{_TMP_PREFIX}*"):
            try:
                if path.stat().st_mtime < stale:
                    self._discard(path)
            except OSError:
                continue
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
