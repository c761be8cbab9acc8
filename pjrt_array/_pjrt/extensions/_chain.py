"""Walking a plugin's extension chain (``PJRT_Api.extension_start``).

Every extension struct starts with a ``PJRT_Extension_Base{struct_size, type,
next}``.  The chain is read defensively: a node whose ``struct_size`` is too
small to be an extension ends the walk, and so does a cycle, so a malformed
plugin yields "absent" instead of a crash or an endless loop.
"""

from __future__ import annotations

from .. import _abi
from .._api import Api, struct_size

__all__ = ["ExtensionType", "extension_address", "extension_types"]

ExtensionType = _abi.PJRT_Extension_Type
_BASE_SIZE = struct_size(_abi.PJRT_Extension_Base)
# The chain of a real plugin has a handful of nodes; this bounds a corrupt one.
_MAX_NODES = 256


def _nodes(api: Api) -> list[tuple[int, int]]:
    """``(type, address)`` of every node of the chain, in chain order."""
    table = _abi.PJRT_Api.from_address(api.address)
    member = _abi.PJRT_Api.extension_start
    if api.struct_size < member.offset + member.size:
        return []
    out: list[tuple[int, int]] = []
    seen: set[int] = set()
    address = table.extension_start
    while address and address not in seen and len(out) < _MAX_NODES:
        seen.add(address)
        base = _abi.PJRT_Extension_Base.from_address(address)
        if base.struct_size < _BASE_SIZE:
            break
        out.append((int(base.type), address))
        address = base.next
    return out


def extension_address(api: Api, kind: ExtensionType) -> int | None:
    """The address of the plugin's extension struct of type ``kind``, or None if absent."""
    for type_, address in _nodes(api):
        if type_ == int(kind):
            return address
    return None


def extension_types(api: Api) -> list[ExtensionType | int]:
    """The types of the extensions a plugin provides (an unknown type stays an int)."""
    known = ExtensionType._value2member_map_
    return [ExtensionType(t) if t in known else t for t, _ in _nodes(api)]

