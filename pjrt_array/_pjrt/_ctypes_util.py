"""Typed access to two ctypes corners that the stubs leave loose.

ctypes hands back a pointer as ``int | None`` (``None`` for null); :func:`address`
turns it into the ``int`` that ``from_address`` and friends need, raising a clear
error on null instead of letting ctypes read address 0.  :func:`field_types` reads a
structure's ``_fields_`` (pairs, or triples for bit fields) as ``{name: type}``.
"""

from __future__ import annotations

import ctypes

from .errors import Internal


def address(value: int | None, what: str) -> int:
    """The address in ``value``; :class:`~pjrt_array._pjrt.errors.Internal` naming ``what`` if it is null."""
    if not value:
        raise Internal(f"{what} is a null pointer")
    return value


def field_types(struct: type[ctypes.Structure] | type[ctypes.Union]) -> dict[str, type]:
    """``{field name: ctypes type}`` of a structure class, in declaration order."""
    return {field[0]: field[1] for field in struct._fields_}
