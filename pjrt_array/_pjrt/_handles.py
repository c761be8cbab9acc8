"""Small readers for the C arrays and strings PJRT returns."""

from __future__ import annotations

import ctypes


def handles(address: int | None, count: int) -> list[int]:
    """``count`` pointers stored at ``address`` (e.g. ``PJRT_Device* const*``)."""
    if not address or not count:
        return []
    return [int(p or 0) for p in (ctypes.c_void_p * count).from_address(address)]


def int64s(address: int | None, count: int) -> tuple[int, ...]:
    """``count`` int64 values stored at ``address``."""
    if not address or not count:
        return ()
    return tuple((ctypes.c_int64 * count).from_address(address))


def text(address: int | None, size: int) -> str:
    """A sized C string as ``str``."""
    return ctypes.string_at(address, size).decode("utf-8", "replace") if address and size else ""


def c_bytes_address(data: bytes) -> int:
    """The address of an immutable ``bytes`` object's buffer (valid while it lives)."""
    return ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value or 0
