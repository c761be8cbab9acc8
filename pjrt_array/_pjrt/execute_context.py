"""``PJRT_ExecuteContext``: per-execution user data (e.g. for FFI handlers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _abi
from ._owned import Owned, invoke

if TYPE_CHECKING:
    from .client import Client

__all__ = ["ExecuteContext"]


class ExecuteContext(Owned):
    """An execute context (``PJRT_ExecuteContext_Create`` / ``PJRT_ExecuteContext_Destroy``)."""

    _field = "context"
    _what = "ExecuteContext"
    __slots__ = ()

    def _release(self, handle: int) -> None:
        """``PJRT_ExecuteContext_Destroy``."""
        invoke(self._client.api, "PJRT_ExecuteContext_Destroy", _abi.PJRT_ExecuteContext_Destroy_Args,
               context=handle)

    @classmethod
    def create(cls, client: "Client") -> "ExecuteContext":
        """A new, empty context (``PJRT_ExecuteContext_Create``)."""
        return cls(client, invoke(client.api, "PJRT_ExecuteContext_Create",
                                  _abi.PJRT_ExecuteContext_Create_Args).context)
