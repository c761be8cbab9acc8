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
  into the results (or ``fn`` writes into views of the results itself).

Only host memory can be viewed, so this serves CPU plugins.  Sub-byte types
are packed in device memory and are refused.  An exception raised by ``fn``
becomes an ``XLA_FFI_Error`` (the execution fails with its message), never a
crash; ``fn`` runs on the plugin's thread, holding the GIL.
"""

from __future__ import annotations

import ctypes
import struct
from typing import Any, Callable

import numpy as np

from .. import _abi
from .._ctypes_util import address
from ..dtypes import SUB_BYTE_BITS, BufferType, to_numpy_dtype
from ..errors import Internal, code_for_exception

__all__ = ["python_handler", "serve", "FFI_VERSION"]

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


class _HostMemory:
    """An object numpy views through ``__array_interface__`` (cheaper than ctypes arrays)."""

    __slots__ = ("__array_interface__",)

    def __init__(self, data: int, shape: tuple[int, ...], typestr: str, readonly: bool) -> None:
        self.__array_interface__ = {"data": (data, readonly), "shape": shape, "typestr": typestr, "version": 3}


# Per XLA FFI data type: its numpy dtype, or None where host memory holds no one-element-per-byte view.
def _numpy_dtype(kind: BufferType) -> np.dtype | None:
    try:
        return None if kind in SUB_BYTE_BITS else to_numpy_dtype(kind)
    except TypeError:  # INVALID, TOKEN: no elements at all
        return None


_NUMPY = {code: _numpy_dtype(kind) for code, kind in _DTYPES.items()}


def _layout(fields: list[tuple[int, str]], size: int) -> struct.Struct:
    """A struct layout reading the C fields at ``(offset, code)`` of a ``size``-byte structure."""
    text, at = "=", 0
    for offset, code in fields:
        text += f"{offset - at}x{code}" if offset > at else code
        at = offset + struct.calcsize("=" + code)
    return struct.Struct(text + (f"{size - at}x" if size > at else ""))


_F, _A, _R, _B = _abi.XLA_FFI_CallFrame, _abi.XLA_FFI_Args, _abi.XLA_FFI_Rets, _abi.XLA_FFI_Buffer
# A call frame's extension list, stage, and its arguments' and results' counts, types and
# pointers, read in one unpack.
_FRAME = _layout([(_F.extension_start.offset, "Q"), (_F.stage.offset, "i"),
                  (_F.args.offset + _A.size.offset, "q"), (_F.args.offset + _A.types.offset, "Q"),
                  (_F.args.offset + _A.args.offset, "Q"),
                  (_F.rets.offset + _R.size.offset, "q"), (_F.rets.offset + _R.types.offset, "Q"),
                  (_F.rets.offset + _R.rets.offset, "Q")], _F.rets.offset + _R.rets.offset + 8)
# dtype, data, rank, dims of an XLA_FFI_Buffer.
_FIELDS = _layout([(_B.dtype.offset, "i"), (_B.data.offset, "Q"), (_B.rank.offset, "q"), (_B.dims.offset, "Q")],
                  _B.dims.offset + 8)
_EXECUTE = int(_Stage.XLA_FFI_ExecutionStage_EXECUTE)
# Views by (address, shape, dtype, read-only): a program's buffers mostly come back at the same
# addresses, and a view is only a window that the handler uses while XLA holds the memory there.
_view_cache: dict[tuple, np.ndarray] = {}
_VIEW_CACHE_SIZE = 256


def _view(data: int, shape: tuple[int, ...], dtype: np.dtype, readonly: bool) -> np.ndarray:
    key = (data, shape, dtype, readonly)
    view = _view_cache.get(key)
    if view is None:
        if not data:  # an empty buffer may have no memory at all
            view = np.empty(shape, dtype)
            view.flags.writeable = not readonly
            return view
        view = np.asarray(_HostMemory(data, shape, dtype.str, readonly))
        if view.dtype != dtype:  # ml_dtypes types (bfloat16, float8...) share a typestr with void/ints
            view = view.view(dtype)
        if len(_view_cache) >= _VIEW_CACHE_SIZE:
            _view_cache.clear()
        _view_cache[key] = view
    return view


# Windows onto memory by (address, size): a ctypes array made once per address and read in place
# (reading it reads the memory as it is now).  XLA keeps a custom call's frame and buffer
# descriptors at the same addresses from one execution to the next, so after the first call a
# frame is read without making ctypes objects; a window is only read where XLA's frame says
# the memory holds what is read.
_windows: dict[tuple[int, int], Any] = {}
_WINDOWS = 4096


def _read(layout: struct.Struct, at: int) -> tuple:
    """Unpack ``layout`` from the memory at address ``at`` (no copy of the bytes first)."""
    key = (at, layout.size)
    window = _windows.get(key)
    if window is None:
        if len(_windows) >= _WINDOWS:
            _windows.clear()
        window = _windows[key] = (ctypes.c_char * layout.size).from_address(at)
    return layout.unpack_from(window)


_LAYOUTS: dict[tuple[str, int], struct.Struct] = {}


def _array(kind: str, count: int, at: int) -> tuple:
    """``count`` C values of struct code ``kind`` at address ``at``."""
    layout = _LAYOUTS.get((kind, count))
    if layout is None:
        layout = _LAYOUTS[kind, count] = struct.Struct(f"={count}{kind}")
    return _read(layout, at)


def _null(what: str) -> Internal:
    return Internal(f"{what} is a null pointer")


def _views(kinds: int, pointers: int, count: int, what: str, readonly: bool) -> list[np.ndarray]:
    """numpy views of ``count`` ``XLA_FFI_Buffer`` arguments (read-only) or results."""
    if not count:
        return []
    if not kinds or not pointers:
        raise _null(f"{what} types or pointers")
    types = _array("i", count, kinds)
    out = []
    for i, at in enumerate(_array("Q", count, pointers)):
        if types[i] != _BUFFER:
            raise TypeError(f"{what} {i} is not a buffer (XLA FFI type {types[i]})")
        if not at:
            raise _null(f"{what} {i}")
        code, data, rank, dims = _read(_FIELDS, at)
        dtype = _NUMPY.get(code)
        if dtype is None:
            raise TypeError(f"{what} {i}: XLA FFI data type {code} has no one-element-per-byte host view")
        if rank and not dims:
            raise _null(f"{what} {i} dims")
        out.append(_view(data, _array("q", rank, dims) if rank else (), dtype, readonly))
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


def _run(fn: Handler, at: int, in_place: bool) -> None:
    """Serve the call frame at address ``at``: a metadata query, or an execution of ``fn``."""
    extensions, stage, n_args, arg_types, args, n_rets, ret_types, rets = _read(_FRAME, at)
    if extensions and _metadata(_abi.XLA_FFI_CallFrame.from_address(at)) or stage != _EXECUTE:
        return
    serve(fn, _views(arg_types, args, n_args, "argument", True), _views(ret_types, rets, n_rets, "result", False),
          in_place)


def serve(fn: Handler, inputs: list[np.ndarray], outputs: list[np.ndarray], in_place: bool) -> None:
    """Run a handler's ``fn`` on ``inputs``, filling ``outputs`` (see :func:`python_handler`); also
    used to run the same function on host arrays outside any program."""
    if in_place:
        fn(inputs, outputs)
        return
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


def python_handler(fn: Handler, *, in_place: bool = False) -> Any:
    """An ``XLA_FFI_Handler`` (a ctypes function) that runs ``fn`` on a custom call's buffers.

    ``fn(*inputs)`` gets read-only numpy views of the arguments and returns
    one array per result (a single array for one result); values are cast
    to the result dtype (``same_kind``).  With ``in_place``, ``fn(inputs,
    outputs)`` gets the lists of argument views and of writable result views
    (their layouts as the program gives them) and fills the results itself.
    Keep the returned object alive while the plugin may call it
    (``FFI.register_handler`` does).
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")

    def handler(frame_address: int | None) -> int | None:
        at = address(frame_address, "XLA FFI call frame")
        try:
            _run(fn, at, in_place)
            return None
        except BaseException as exc:  # noqa: BLE001 - becomes the execution's error
            return _error(_abi.XLA_FFI_CallFrame.from_address(at), exc)

    return _abi.XLA_FFI_Handler(handler)
