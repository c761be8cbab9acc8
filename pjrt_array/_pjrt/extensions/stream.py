"""The Stream extension (``PJRT_Stream_Extension``): synchronise buffers with external streams.

GPU plugins only.  A stream is a platform handle (a ``CUstream`` as an
integer): the one a device uses for externally-managed buffers, on which
work can wait until a PJRT buffer is ready.
"""

from __future__ import annotations

from typing import Any

from .. import _abi
from ._base import Extension, handle_of
from ._chain import ExtensionType

__all__ = ["Stream"]


class Stream(Extension):
    """``PJRT_Stream_Extension``."""

    TYPE = ExtensionType.PJRT_Extension_Type_Stream
    STRUCT = _abi.PJRT_Stream_Extension
    NAME = "Stream"

    def stream_for_external_ready_events(self, device: Any) -> int:
        """The stream to track externally-managed buffers on ``device``
        (``PJRT_Get_Stream_For_External_Ready_Events``)."""
        from ..device import Device
        a = self._call("get_stream", self._args(_abi.PJRT_Get_Stream_For_External_Ready_Events_Args,
                                                device=handle_of(device, Device, "device")))
        return int(a.stream)

    def wait_until_buffer_ready_on_stream(self, stream: int, buffer: Any) -> None:
        """Make ``stream`` wait until ``buffer`` is ready (``PJRT_Wait_Until_Buffer_Ready_On_Stream``)."""
        from ..buffer import Buffer
        if isinstance(stream, bool) or not isinstance(stream, int) or not stream:
            raise ValueError(f"stream must be a non-zero stream handle, got {stream!r}")
        self._call("wait_stream", self._args(_abi.PJRT_Wait_Until_Buffer_Ready_On_Stream_Args, stream=stream,
                                             buffer=handle_of(buffer, Buffer, "buffer")))
