"""PJRT errors as Python exceptions: one class per ``PJRT_Error_Code``.

Every ``PJRT_Error*`` a plugin returns is read (code, message, payloads) and
destroyed exactly once, in :func:`raise_for_error`, before the exception is
raised, so no error object outlives the call that produced it.
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING

from . import _abi

if TYPE_CHECKING:
    from ._api import Api

__all__ = [
    "PjrtError", "Cancelled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
    "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted",
    "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated",
    "PluginLoadError", "ClosedError", "error_class", "code_for_exception", "error_fields",
]

Code = _abi.PJRT_Error_Code


class PjrtError(RuntimeError):
    """An error reported by a PJRT plugin (or detected by the binding).

    Attributes:
        code: the ``PJRT_Error_Code`` of the error.
        message: the plugin's message.
        payloads: ``{key: value}`` bytes attached by the plugin (``PJRT_Error_ForEachPayload``).
    """

    code: Code = Code.PJRT_Error_Code_UNKNOWN

    def __init__(self, message: str, code: Code | None = None, payloads: dict[bytes, bytes] | None = None):
        if code is not None:
            self.code = Code(code)
        self.message = message
        self.payloads = payloads or {}
        super().__init__(f"[{self.code.name.removeprefix('PJRT_Error_Code_')}] {message}")


# Explicit classes (not built in a loop) so type checkers and IDEs see each one.
class Cancelled(PjrtError):
    """PJRT error code PJRT_Error_Code_CANCELLED."""
    code = Code.PJRT_Error_Code_CANCELLED


class Unknown(PjrtError):
    """PJRT error code PJRT_Error_Code_UNKNOWN."""
    code = Code.PJRT_Error_Code_UNKNOWN


class InvalidArgument(PjrtError, ValueError):
    """PJRT error code PJRT_Error_Code_INVALID_ARGUMENT."""
    code = Code.PJRT_Error_Code_INVALID_ARGUMENT


class DeadlineExceeded(PjrtError, TimeoutError):
    """PJRT error code PJRT_Error_Code_DEADLINE_EXCEEDED."""
    code = Code.PJRT_Error_Code_DEADLINE_EXCEEDED


class NotFound(PjrtError, LookupError):
    """PJRT error code PJRT_Error_Code_NOT_FOUND."""
    code = Code.PJRT_Error_Code_NOT_FOUND


class AlreadyExists(PjrtError):
    """PJRT error code PJRT_Error_Code_ALREADY_EXISTS."""
    code = Code.PJRT_Error_Code_ALREADY_EXISTS


class PermissionDenied(PjrtError, PermissionError):
    """PJRT error code PJRT_Error_Code_PERMISSION_DENIED."""
    code = Code.PJRT_Error_Code_PERMISSION_DENIED


class ResourceExhausted(PjrtError, MemoryError):
    """PJRT error code PJRT_Error_Code_RESOURCE_EXHAUSTED.

    The array layer attaches the ``device`` that ran out and its ``memory_stats`` where it knows them.
    """
    code = Code.PJRT_Error_Code_RESOURCE_EXHAUSTED
    device: object = None
    memory_stats: dict[str, int] | None = None


class FailedPrecondition(PjrtError):
    """PJRT error code PJRT_Error_Code_FAILED_PRECONDITION."""
    code = Code.PJRT_Error_Code_FAILED_PRECONDITION


class Aborted(PjrtError):
    """PJRT error code PJRT_Error_Code_ABORTED."""
    code = Code.PJRT_Error_Code_ABORTED


class OutOfRange(PjrtError, IndexError):
    """PJRT error code PJRT_Error_Code_OUT_OF_RANGE."""
    code = Code.PJRT_Error_Code_OUT_OF_RANGE


class Unimplemented(PjrtError, NotImplementedError):
    """PJRT error code PJRT_Error_Code_UNIMPLEMENTED."""
    code = Code.PJRT_Error_Code_UNIMPLEMENTED


class Internal(PjrtError):
    """PJRT error code PJRT_Error_Code_INTERNAL."""
    code = Code.PJRT_Error_Code_INTERNAL


class Unavailable(PjrtError):
    """PJRT error code PJRT_Error_Code_UNAVAILABLE."""
    code = Code.PJRT_Error_Code_UNAVAILABLE


class DataLoss(PjrtError):
    """PJRT error code PJRT_Error_Code_DATA_LOSS."""
    code = Code.PJRT_Error_Code_DATA_LOSS


class Unauthenticated(PjrtError):
    """PJRT error code PJRT_Error_Code_UNAUTHENTICATED."""
    code = Code.PJRT_Error_Code_UNAUTHENTICATED


_BY_CODE: dict[int, type[PjrtError]] = {
    cls.code: cls
    for cls in (Cancelled, Unknown, InvalidArgument, DeadlineExceeded, NotFound, AlreadyExists,
                PermissionDenied, ResourceExhausted, FailedPrecondition, Aborted, OutOfRange,
                Unimplemented, Internal, Unavailable, DataLoss, Unauthenticated)
}


def error_class(code: int) -> type[PjrtError]:
    """The exception class for a ``PJRT_Error_Code`` value."""
    return _BY_CODE.get(int(code), Unknown)


class PluginLoadError(OSError):
    """A plugin file could not be found, opened or negotiated with."""


class ClosedError(ValueError):
    """A PJRT object was used after it (or its client) was closed or deleted."""


def read_error(api: "Api", err: int) -> PjrtError:
    """Build the exception for ``PJRT_Error* err`` and destroy ``err``
    (``PJRT_Error_Message``, ``PJRT_Error_GetCode``)."""
    try:
        msg_args = api.new(_abi.PJRT_Error_Message_Args)
        msg_args.error = err
        api.raw("PJRT_Error_Message")(ctypes.addressof(msg_args))
        message = ctypes.string_at(msg_args.message, msg_args.message_size).decode("utf-8", "replace")
        code_args = api.new(_abi.PJRT_Error_GetCode_Args)
        code_args.error = err
        nested = api.raw("PJRT_Error_GetCode")(ctypes.addressof(code_args))
        code = Code.PJRT_Error_Code_UNKNOWN if nested else code_args.code
        if nested:
            api.destroy_error(nested)
        payloads = api.error_payloads(err) if api.has("PJRT_Error_ForEachPayload") else {}
    finally:
        api.destroy_error(err)
    return error_class(code)(message, code, payloads)


_CODE_FOR_EXCEPTION: tuple[tuple[type[BaseException], Code], ...] = (
    (ValueError, Code.PJRT_Error_Code_INVALID_ARGUMENT),
    (KeyError, Code.PJRT_Error_Code_NOT_FOUND),
    (TimeoutError, Code.PJRT_Error_Code_DEADLINE_EXCEEDED),
    (NotImplementedError, Code.PJRT_Error_Code_UNIMPLEMENTED),
    (MemoryError, Code.PJRT_Error_Code_RESOURCE_EXHAUSTED),
)


def code_for_exception(exc: BaseException) -> tuple[Code, str]:
    """The PJRT code and message a Python exception raised in a callback becomes."""
    if isinstance(exc, PjrtError):
        return exc.code, exc.message
    message = f"{type(exc).__name__}: {exc}"
    for base, code in _CODE_FOR_EXCEPTION:
        if isinstance(exc, base):
            return code, message
    return Code.PJRT_Error_Code_UNKNOWN, message


def error_fields(error: object, argname: str = "error") -> tuple[int, bytes]:
    """``(code, message bytes)`` of ``error`` for the C API's error-in fields
    (``error_code``, ``error_message``): it must be a :class:`PjrtError` with a code other than OK."""
    if not isinstance(error, PjrtError):
        raise TypeError(f"{argname} must be a PjrtError, got {type(error).__name__}")
    if error.code == Code.PJRT_Error_Code_OK:
        raise ValueError(f"{argname} must have an error code other than OK")
    return int(error.code), error.message.encode()
