"""What the installed CPU plugins do with the optional PJRT functions, and one check of it.

A function a plugin's table lacks (a null slot, or one past an older table)
must make the binding raise :class:`Unimplemented` naming the function, without
calling the plugin.  Some functions a plugin *has* are refused by it on CPU
("not supported"); :data:`REFUSED` records those refusals per plugin API minor
version, measured on the two plugins of the test extra (0.81 and 0.106).
Everything else must work, and the test checks its result.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from pjrt_array._pjrt.errors import InvalidArgument, NotFound, PjrtError, Unimplemented

#: The plugins :data:`REFUSED` was measured on; a plugin of another version may
#: implement or refuse more, so for it a refusal of any kind is accepted.
KNOWN_MINORS = (81, 106)

BOTH = (81, 106)
#: ``{C function: {API minor: (exception, message pattern)}}`` for a plugin that has the slot but refuses.
REFUSED: dict[str, dict[int, tuple[type[PjrtError], str]]] = {
    "PJRT_Client_DmaMap": {m: (Unimplemented, "DmaMap not supported") for m in BOTH},
    "PJRT_Client_DmaUnmap": {m: (Unimplemented, "DmaUnmap not supported") for m in BOTH},
    # An executable from PJRT_LoadedExecutable_GetExecutable is not loadable (PJRT_Compile's would be).
    "PJRT_Client_Load": {106: (InvalidArgument, "shared_executable")},
    "PJRT_TopologyDescription_Create": {m: (Unimplemented, "Topology not supported") for m in BOTH},
    # The CPU plugins register no topology compiler, so PJRT_Compile and Deserialize find none.
    "PJRT_TopologyDescription_Deserialize": {m: (NotFound, "[Cc]ompiler") for m in BOTH},
    "PJRT_Compile": {m: (NotFound, "[Cc]ompiler") for m in BOTH},
    "PJRT_Executable_OutputMemoryKinds": {m: (Unimplemented, "not supported") for m in BOTH},
    "PJRT_Executable_ParameterMemoryKinds": {106: (Unimplemented, "not supported")},
    "PJRT_LoadedExecutable_Fingerprint": {m: (Unimplemented, "deprecated") for m in BOTH},
    "PJRT_Device_ClearMemoryStats": {106: (Unimplemented, "not supported")},
    "PJRT_Buffer_DonateWithControlDependency": {106: (Unimplemented, "not supported")},
}


def outcome(client: Any, slot: str, call: Callable[[], Any]) -> Any:
    """``call()``'s result where ``client``'s plugin implements ``slot``; None after checking
    the binding's (missing slot) or the plugin's (:data:`REFUSED`) refusal."""
    minor = client.api.minor
    if not client.api.has(slot):
        with pytest.raises(Unimplemented, match=f"{slot} is not implemented by"):
            call()
        return None
    refusal = REFUSED.get(slot, {}).get(minor)
    if refusal is not None:
        with pytest.raises(refusal[0], match=refusal[1]):
            call()
        return None
    if minor not in KNOWN_MINORS and slot in REFUSED:
        try:
            return call()
        except PjrtError:
            return None
    return call()


def implements(client: Any, slot: str) -> bool:
    """Whether ``slot`` works on ``client``'s plugin (it has the slot and does not refuse it)."""
    return client.api.has(slot) and client.api.minor not in REFUSED.get(slot, {})
