"""Give back the resident pages of a plugin's code once its client has started.

Loading an XLA plugin and creating its client touch 43 MB of its 270 MB library
(static initializers all over it, and the kernel maps 64 kB around each fault);
later work needs a small part of that (measured: 29 MB dropped, a few MB faulted
back by a loop of cached element-wise programs).  Those are clean pages of the
library file: dropping them from this process (``madvise(MADV_DONTNEED)`` on its
read-only mappings that hold no private copy of a page) costs a minor page fault
for each page used again and changes nothing else; the file stays in the page
cache.  It lowers this process's resident size (and the working set a container
limit counts: the pages go back to the inactive page cache), not the page cache
itself.  Measured cost: one ``smaps`` scan at client start (~6 ms) and no
difference above noise in later work (docs/memory.md), so it is on by default
on Linux; ``PJRT_ARRAY_RELEASE_PLUGIN_CODE=0`` keeps the pages.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["release_plugin_code", "enabled"]

_MADV_DONTNEED = 4


def enabled() -> bool:
    return os.environ.get("PJRT_ARRAY_RELEASE_PLUGIN_CODE", "1").strip().lower() not in ("0", "false", "no", "off")


def _clean_readonly_mappings(path: str) -> list[tuple[int, int]]:
    """(start, length) of ``path``'s private mappings that are not writable and hold no page
    of their own (``Anonymous: 0 kB``: every resident page is the file's)."""
    found, current = [], None
    with open("/proc/self/smaps") as f:
        for line in f:
            fields = line.split()
            if "-" in fields[0] and len(fields) >= 5 and ":" in fields[3]:  # a mapping's first line
                current = None
                if len(fields) > 5 and fields[5] == path and fields[1][1] == "-" and fields[1][3] == "p":
                    lo, hi = (int(v, 16) for v in fields[0].split("-"))
                    current = (lo, hi - lo)
            elif current is not None and fields[0] == "Anonymous:":
                if fields[1] == "0":
                    found.append(current)
                current = None
    return found


def release_plugin_code(path: str) -> int:
    """Drop this process's resident pages of the plugin library at ``path`` that are identical
    to the file; returns the bytes of mappings advised (0 where not Linux or nothing applies)."""
    if not sys.platform.startswith("linux"):
        return 0
    real = os.path.realpath(path)
    try:
        mappings = _clean_readonly_mappings(real)
        madvise = ctypes.CDLL(None).madvise
    except (OSError, AttributeError):
        return 0
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return sum(length for start, length in mappings if madvise(start, length, _MADV_DONTNEED) == 0)
