"""``PJRT_ExecuteContext``: per-execution user data (e.g. for FFI handlers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _abi
from ._api import new_struct
from ._owned import Owned

if TYPE_CHECKING:
    from .client import Client

__all__ = ["ExecuteContext"]


class ExecuteContext(Owned):
    """An execute context (``PJRT_ExecuteContext_Create`` / ``PJRT_ExecuteContext_Destroy``)."""

    _destroy_fn = "PJRT_ExecuteContext_Destroy"
    _destroy_args = _abi.PJRT_ExecuteContext_Destroy_Args
    _destroy_field = "context"
    __slots__ = ()

    def close(self) -> None:
        """Destroy the context now (``PJRT_ExecuteContext_Destroy``)."""
        super().close()

    @classmethod
    def create(cls, client: "Client") -> "ExecuteContext":
        """A new, empty context (``PJRT_ExecuteContext_Create``)."""
        args = new_struct(_abi.PJRT_ExecuteContext_Create_Args)
        client.api.call("PJRT_ExecuteContext_Create", args)
        return cls(client, args.context)
