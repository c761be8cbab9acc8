"""XLA FFI handlers written in Python: custom calls that run a Python function on host buffers.

:func:`python_handler` turns ``fn(*inputs) -> output(s)`` into an
``XLA_FFI_Handler`` (the C calling convention of the XLA FFI C API) that
:meth:`FFI.register_handler <pjrt_array._pjrt.extensions.ffi.FFI.register_handler>`
registers; a program reaches it through ``stablehlo.custom_call
@target(...) {api_version = 4 : i32}``.  XLA calls the handler:

* once with a *metadata* extension in the call frame, to learn the FFI
  version the handler speaks (:data:`FFI_VERSION`);
* at every execution, with the argument and result buffers: the inputs are
  read-only numpy views of the arguments, and what ``fn`` returns is copied
  into the results.

Only host memory can be viewed, so this serves CPU plugins.  Sub-byte types
are packed in device memory and are refused.  An exception raised by ``fn``
becomes an ``XLA_FFI_Error`` (the execution fails with its message), never a
crash; ``fn`` runs on the plugin's thread, holding the GIL.
"""

from __future__ import annotations

import ctypes
from typing import Any, Callable

import numpy as np

from .. import _abi
from .._ctypes_util import address
from ..dtypes import SUB_BYTE_BITS, BufferType, to_numpy_dtype
from ..errors import code_for_exception

__all__ = ["python_handler", "FFI_VERSION"]

#: The XLA FFI API version these handlers implement: the call frame, buffer
#: and error layouts they use are those of FFI API 0.1.
FFI_VERSION = (0, 1)

_Stage = _abi.XLA_FFI_ExecutionStage
_BUFFER = int(_abi.XLA_FFI_ArgType.XLA_FFI_ArgType_BUFFER)
_METADATA = int(_abi.XLA_FFI_Extension_Type.XLA_FFI_Extension_Metadata)
# XLA FFI data types carry the same names as PJRT buffer types.
_DTYPES: dict[int, BufferType] = {
    int(t): BufferType.__members__[name] for t in _abi.XLA_FFI_DataType
    if (name := f"PJRT_Buffer_Type_{t.name.removeprefix('XLA_FFI_DataType_')}") in BufferType.__members__
}

Handler = Callable[..., Any]


def _metadata(frame: _abi.XLA_FFI_CallFrame) -> bool:
    """Answer a metadata query (the FFI version and traits); False if this is no such call."""
    node = frame.extension_start
    while node:
        ext = _abi.XLA_FFI_Extension_Base.from_address(node)
        if ext.type == _METADATA:
            meta = _abi.XLA_FFI_Metadata.from_address(_abi.XLA_FFI_Metadata_Extension.from_address(node).metadata)
            meta.api_version.major_version, meta.api_version.minor_version = FFI_VERSION
            meta.traits = 0
            return True
        node = ext.next
    return False


def _views(kinds: int | None, pointers: int | None, count: int, what: str) -> list[np.ndarray]:
    """numpy views of ``count`` ``XLA_FFI_Buffer`` arguments or results."""
    if not count:
        return []
    types = (ctypes.c_int * count).from_address(address(kinds, f"{what} types"))
    buffers = (ctypes.c_void_p * count).from_address(address(pointers, f"{what} pointers"))
    out = []
    for i in range(count):
        if types[i] != _BUFFER:
            raise TypeError(f"{what} {i} is not a buffer (XLA FFI type {types[i]})")
        buf = _abi.XLA_FFI_Buffer.from_address(address(buffers[i], f"{what} {i}"))
        kind = _DTYPES.get(buf.dtype)
        if kind is None or kind in SUB_BYTE_BITS:
            raise TypeError(f"{what} {i}: XLA FFI data type {buf.dtype} has no one-element-per-byte host view")
        dtype = to_numpy_dtype(kind)
        shape = tuple((ctypes.c_int64 * buf.rank).from_address(buf.dims)) if buf.rank else ()
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        raw = (ctypes.c_uint8 * size).from_address(buf.data) if size else (ctypes.c_uint8 * 0)()
        out.append(np.frombuffer(memoryview(raw), dtype=np.uint8).view(dtype).reshape(shape))
    return out


def _error(frame: _abi.XLA_FFI_CallFrame, exc: BaseException) -> int:
    """An ``XLA_FFI_Error*`` for ``exc``, made by XLA's own ``XLA_FFI_Error_Create``."""
    api = _abi.XLA_FFI_Api.from_address(frame.api)
    code, message = code_for_exception(exc)
    text = message.encode("utf-8", "replace")
    args = _abi.XLA_FFI_Error_Create_Args(struct_size=_abi.XLA_FFI_Error_Create_Args_STRUCT_SIZE,
                                          message=ctypes.cast(ctypes.c_char_p(text), ctypes.c_void_p).value,
                                          errc=int(code))
    create = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)(api.XLA_FFI_Error_Create)
    return create(ctypes.addressof(args)) or 0


def _run(fn: Handler, frame: _abi.XLA_FFI_CallFrame) -> None:
    inputs = _views(frame.args.types, frame.args.args, frame.args.size, "argument")
    outputs = _views(frame.rets.types, frame.rets.rets, frame.rets.size, "result")
    for a in inputs:
        a.flags.writeable = False
    results = fn(*inputs)
    if len(outputs) == 1 and not isinstance(results, tuple):
        results = (results,)
    results = tuple(results) if results is not None else ()
    if len(results) != len(outputs):
        raise ValueError(f"the handler returned {len(results)} values for {len(outputs)} results")
    for i, (out, value) in enumerate(zip(outputs, results)):
        value = np.asarray(value)
        if value.shape != out.shape:
            raise ValueError(f"result {i}: the handler returned shape {value.shape}, the program expects {out.shape}")
        np.copyto(out, value, casting="same_kind")


def python_handler(fn: Handler) -> Any:
    """An ``XLA_FFI_Handler`` (a ctypes function) that runs ``fn`` on a custom call's buffers.

    ``fn(*inputs)`` gets read-only numpy views of the arguments and returns
    one array per result (a single array for one result); values are cast
    to the result dtype (``same_kind``).  Keep the returned object alive
    while the plugin may call it (``FFI.register_handler`` does).
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")

    def handler(frame_address: int | None) -> int | None:
        frame = _abi.XLA_FFI_CallFrame.from_address(address(frame_address, "XLA FFI call frame"))
        try:
            if _metadata(frame) or frame.stage != _Stage.XLA_FFI_ExecutionStage_EXECUTE:
                return None
            _run(fn, frame)
            return None
        except BaseException as exc:  # noqa: BLE001 - becomes the execution's error
            return _error(frame, exc)

    return _abi.XLA_FFI_Handler(handler)
