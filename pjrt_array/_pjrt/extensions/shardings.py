"""The Shardings extension: parameter and output shardings of an executable.

Each sharding is a serialized ``xla.OpSharding`` proto owned by the
executable; it is copied out before the executable can go away.  A plugin
that does not track shardings reports none (an empty list).
"""

from __future__ import annotations

from typing import Any

from .. import _abi
from ._base import Extension, executable_handle, owned_strings
from ._chain import ExtensionType

__all__ = ["Shardings"]


class Shardings(Extension):
    """``PJRT_Shardings_Extension``."""

    TYPE = ExtensionType.PJRT_Extension_Type_Shardings
    STRUCT = _abi.PJRT_Shardings_Extension
    NAME = "Shardings"

    def _shardings(self, slot: str, args_type: type, count: str, executable: Any) -> list[bytes]:
        with executable_handle(executable) as handle:
            a = self._call(slot, self._args(args_type, executable=handle))
            return owned_strings(a.shardings, a.sharding_sizes, getattr(a, count))

    def parameter_shardings(self, executable: Any) -> list[bytes]:
        """Serialized ``xla.OpSharding`` of each parameter
        (``PJRT_Shardings_PJRT_Executable_ParameterShardings``)."""
        return self._shardings("PJRT_Shardings_PJRT_Executable_ParameterShardings",
                               _abi.PJRT_Shardings_PJRT_Executable_ParameterShardings_Args, "num_parameters",
                               executable)

    def output_shardings(self, executable: Any) -> list[bytes]:
        """Serialized ``xla.OpSharding`` of each output
        (``PJRT_Shardings_PJRT_Executable_OutputShardings``)."""
        return self._shardings("PJRT_Shardings_PJRT_Executable_OutputShardings",
                               _abi.PJRT_Shardings_PJRT_Executable_OutputShardings_Args, "num_outputs",
                               executable)
