"""DLPack export and import of device buffers without a host copy, on any device.

Export (``Array.__dlpack__``) hands the consumer the PJRT buffer's own memory
in a ``DLManagedTensor`` (or ``DLManagedTensorVersioned`` when the consumer
passes ``max_version >= (1, 0)``): kDLCPU on CPU, kDLCUDA / kDLROCM with the
device ordinal on a GPU.  numpy builds the capsule (its C destructor and
deleter manage the tensor) over a description of the buffer's memory that
holds one external reference of the buffer
(``PJRT_Buffer_IncreaseExternalReferenceCount``) until the consumer's deleter
call, or the capsule's end unconsumed, drops it; the device, dtype code and
flags are then set in the tensor.

``stream`` follows the Array API standard:

* CPU: must be None; the host waits for the buffer before export.
* CUDA: None means the legacy default stream (1); 0 is refused (ambiguous);
  -1 means the consumer synchronises itself, so nothing is waited for; any
  other value is the consumer's ``cudaStream_t``.  With the plugin's Stream
  extension that stream is made to wait for the buffer on the device
  (``PJRT_Wait_Until_Buffer_Ready_On_Stream``, no host wait); without it the
  host waits for the buffer.
* ROCm: None and 0 mean the default stream (the host waits); 1 and 2 are refused.

Import (:func:`from_dlpack`) asks the producer to make its data ready on the
plugin's stream for external ready events (Stream extension; None on CPU) and
wraps the memory in a PJRT buffer (``PJRT_Client_CreateViewOfDeviceBuffer``
given that stream).  The producer's tensor is kept until the plugin deletes
the view, then its deleter is called.  Contiguous row-major tensors are
shared; others (and, on CPU, memory the plugin cannot alias) are copied
unless ``copy=False``.
"""

from __future__ import annotations

import ctypes
import enum
import math
from typing import Any

import numpy as np

from . import _dtypes
from ._array import Array
from ._devices import Device, all_devices, as_device
from ._pjrt import PjrtError, PluginLoadError
from ._pjrt.buffer import Buffer
from ._pjrt.extensions import Stream

__all__ = ["DLDeviceType", "dlpack_device", "export", "from_dlpack"]


class DLDeviceType(enum.IntEnum):
    CPU = 1
    CUDA = 2
    CUDA_HOST = 3
    ROCM = 10
    ROCM_HOST = 11
    CUDA_MANAGED = 13


_PLATFORM_KIND = {"cpu": DLDeviceType.CPU, "cuda": DLDeviceType.CUDA, "rocm": DLDeviceType.ROCM}
# Memory the host reads directly: imported onto a CPU device.
_HOST_KINDS = (DLDeviceType.CPU, DLDeviceType.CUDA_HOST, DLDeviceType.ROCM_HOST, DLDeviceType.CUDA_MANAGED)
_READ_ONLY, _IS_COPIED = 1 << 0, 1 << 1
_VERSION = (1, 0)  # the DLPack ABI written; 1.x share one struct layout
# XLA's GPU executables refuse parameters that are not 16-byte aligned (kEntryParameterAlignBytes).
_DEVICE_ALIGNMENT = 16


class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", _DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", _DLDataType), ("shape", ctypes.c_void_p), ("strides", ctypes.c_void_p),
                ("byte_offset", ctypes.c_uint64)]


class _DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p)]


class _DLPackVersion(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32)]


class _DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [("version", _DLPackVersion), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p),
                ("flags", ctypes.c_uint64), ("dl_tensor", _DLTensor)]


# -- dtypes -------------------------------------------------------------------------------------
_CODE = {"i": 0, "u": 1, "f": 2, "c": 5, "b": 6}  # kDLInt, kDLUInt, kDLFloat, kDLComplex, kDLBool
_BFLOAT = 4  # kDLBfloat


def _dl_code(dtype: np.dtype) -> int:
    """The DLPack type code of a dtype; BufferError for those DLPack cannot describe here (float8, int4, ...)."""
    if dtype == _dtypes.bfloat16:
        return _BFLOAT
    if dtype.kind in _CODE and dtype.isbuiltin:
        return _CODE[dtype.kind]
    raise BufferError(f"DLPack export of {dtype} is not supported")


def _np_dtype(t: _DLDataType) -> np.dtype:
    if t.lanes != 1:
        raise BufferError(f"DLPack import of vector dtypes (lanes={t.lanes}) is not supported")
    if t.code == _BFLOAT and t.bits == 16:
        return _dtypes.bfloat16
    kind = {v: k for k, v in _CODE.items()}.get(t.code)
    if kind is not None and t.bits % 8 == 0:
        dtype = np.dtype(f"{kind}{t.bits // 8}" if kind != "b" else "?")
        if dtype.itemsize * 8 == t.bits:
            return dtype
    raise BufferError(f"DLPack import of dtype code {t.code} with {t.bits} bits is not supported")


# -- capsules ------------------------------------------------------------------------------------
# A private handle on the C API, so setting prototypes here touches no one else's.
_py = ctypes.PyDLL(ctypes.pythonapi._name, handle=ctypes.pythonapi._handle)
_py.PyCapsule_IsValid.restype = ctypes.c_int
_py.PyCapsule_IsValid.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_py.PyCapsule_GetPointer.restype = ctypes.c_void_p
_py.PyCapsule_GetPointer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_py.PyCapsule_SetName.restype = ctypes.c_int
_py.PyCapsule_SetName.argtypes = [ctypes.c_void_p, ctypes.c_char_p]

# Capsule names must outlive every capsule: module constants, never freed.
_LEGACY, _USED_LEGACY = b"dltensor", b"used_dltensor"
_VERSIONED, _USED_VERSIONED = b"dltensor_versioned", b"used_dltensor_versioned"
_NAMES = {name: ctypes.create_string_buffer(name) for name in (_LEGACY, _USED_LEGACY, _VERSIONED, _USED_VERSIONED)}
_DELETER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)  # a producer's tensor deleter


def _managed(capsule: Any) -> tuple[Any, bool] | None:
    """(the ``DLManagedTensor[Versioned]`` of an unconsumed capsule, whether versioned), or None."""
    for name, struct in ((_VERSIONED, _DLManagedTensorVersioned), (_LEGACY, _DLManagedTensor)):
        if _py.PyCapsule_IsValid(id(capsule), _NAMES[name]):
            return struct.from_address(_py.PyCapsule_GetPointer(id(capsule), _NAMES[name])), name == _VERSIONED
    return None


# -- devices --------------------------------------------------------------------------------------
def dlpack_device(device: Device) -> tuple[int, int]:
    """``(DLDeviceType, ordinal)`` of a namespace device."""
    kind = _PLATFORM_KIND.get(device.platform)
    if kind is None:
        raise BufferError(f"{device!r}: DLPack has no device type for platform {device.platform!r}")
    return int(kind), 0 if kind == DLDeviceType.CPU else device.pjrt.local_hardware_id


def _device_for(kind: int, ordinal: int) -> Device:
    """The namespace device holding DLPack device ``(kind, ordinal)`` (BufferError if none)."""
    if kind in _HOST_KINDS:
        platform, names = "cpu", ("cpu",)
    elif kind in (DLDeviceType.CUDA, DLDeviceType.ROCM):
        platform, names = "gpu", ("cuda",) if kind == DLDeviceType.CUDA else ("rocm",)
    else:
        raise BufferError(f"from_dlpack: no pjrt_array device for DLPack device type {kind}")
    try:
        devices = all_devices()  # the default plugin's, if it is of that platform
    except PluginLoadError:
        devices = []
    try:
        if not devices or devices[0].platform not in names:
            devices = all_devices(platform=platform)
    except PluginLoadError as exc:
        raise BufferError(f"from_dlpack: the tensor is on DLPack device ({kind}, {ordinal}), but no "
                          f"{platform} plugin is usable: {exc}") from None
    for device in devices:
        if device.platform in names and (platform == "cpu" or device.pjrt.local_hardware_id == ordinal):
            return device
    raise BufferError(f"from_dlpack: no {platform} device with ordinal {ordinal}")


def _stream_extension(device: Device) -> Stream | None:
    return Stream.of(device.client)


# -- export ---------------------------------------------------------------------------------------
def _check_stream(kind: int, stream: Any) -> int | None:
    """The consumer stream to synchronise with (None: the host waits; -1: no synchronisation)."""
    if stream is not None and (isinstance(stream, bool) or not isinstance(stream, int)):
        raise TypeError(f"stream must be None or an int, got {stream!r}")
    if kind == DLDeviceType.CPU:
        if stream is not None:
            raise ValueError(f"stream must be None for a CPU array, got {stream!r}")
        return None
    if kind == DLDeviceType.CUDA:
        if stream == 0:
            raise ValueError("stream=0 is ambiguous for CUDA; pass 1 (legacy default stream), "
                             "2 (per-thread default stream), a cudaStream_t, or -1 (no synchronisation)")
        return 1 if stream is None else stream
    if stream in (1, 2):
        raise ValueError(f"stream={stream} is not valid for ROCm; pass None or 0 (default stream), "
                         "a hipStream_t, or -1 (no synchronisation)")
    return None if stream in (None, 0) else stream


def _synchronize(x: Array, kind: int, stream: int | None) -> None:
    """Make ``x``'s data ready for the consumer (see the module docstring)."""
    if stream == -1:
        return
    if stream is not None and stream > 0:
        ext = _stream_extension(x._device)
        if ext is not None:
            ext.wait_until_buffer_ready_on_stream(stream, x._buffer)
            return
    x.block_until_ready()


def _row_major(shape: tuple[int, ...]) -> list[int]:
    strides, step = [0] * len(shape), 1
    for axis in reversed(range(len(shape))):
        strides[axis] = step
        step *= shape[axis]
    return strides


def _strides(buffer: Buffer, shape: tuple[int, ...], itemsize: int) -> list[int]:
    """Element strides of the buffer's device layout."""
    try:
        layout = buffer.memory_layout()
    except PjrtError:  # a plugin without layouts keeps the default, row-major one
        return _row_major(shape)
    if layout["type"] == "strides":
        if any(s % itemsize for s in layout["byte_strides"]):
            raise BufferError(f"DLPack cannot describe byte strides {layout['byte_strides']}")
        return [s // itemsize for s in layout["byte_strides"]]
    if layout.get("num_tiles"):
        raise BufferError("DLPack cannot describe a tiled device layout; copy the array first")
    if len(layout["minor_to_major"]) == 1 != len(shape):
        # A flat buffer carrying the Array's shape (element-wise results on CPU, see
        # ``_dispatch.run_elementwise``): dense, so row-major in that shape.
        return _row_major(shape)
    strides, step = [0] * len(shape), 1
    for axis in layout["minor_to_major"]:
        strides[axis] = step
        step *= shape[axis]
    return strides


def _versioned(max_version: Any) -> bool:
    if max_version is None:
        return False
    try:
        major, minor = (int(v) for v in max_version)
    except (TypeError, ValueError):
        raise TypeError(f"max_version must be None or a (major, minor) tuple of ints, got {max_version!r}") from None
    return (major, minor) >= _VERSION


def export(x: Array, *, stream: Any = None, max_version: Any = None, dl_device: Any = None,
           copy: bool | None = None) -> Any:
    """A DLPack capsule of ``x`` (``Array.__dlpack__``; the module docstring says what is waited for)."""
    if copy not in (None, True, False):
        raise TypeError(f"copy must be True, False or None, got {copy!r}")
    if x._sharding is not None:
        raise BufferError("a sharded array has a buffer per device; gather it first with x.to_device(device)")
    versioned = _versioned(max_version)
    own = dlpack_device(x._device)
    flags = 0
    if dl_device is not None:
        try:
            target = (int(dl_device[0]), int(dl_device[1]))
        except (TypeError, ValueError, IndexError):
            raise TypeError(f"dl_device must be a (device_type, device_id) tuple, got {dl_device!r}") from None
        if target != own:
            if target != (int(DLDeviceType.CPU), 0):
                raise BufferError(f"cannot export {x._device!r} to DLPack device {target}; only to itself or "
                                  "to the host (1, 0)")
            if copy is False:
                raise BufferError(f"exporting {x._device!r} to the host needs a copy, but copy=False")
            _check_stream(DLDeviceType.CPU, stream)
            # A fresh host copy, handed out by numpy (no CPU plugin needed).
            kwargs = {} if max_version is None else {"max_version": max_version}
            return x._buffer.to_numpy().__dlpack__(**kwargs)
    if copy:
        from .ops.creation import asarray
        x, flags = asarray(x, copy=True), _IS_COPIED
    code = _dl_code(x.dtype)
    _synchronize(x, own[0], _check_stream(own[0], stream))
    # numpy builds the capsule over the buffer's memory (its C destructor and deleter own the
    # tensor; consumers may drop a capsule while an exception is pending, which no Python code
    # survives); the fields numpy cannot know are then set: device, dtype code, flags.
    memory = _DeviceMemory(x, read_only=own[0] == DLDeviceType.CPU and versioned)
    array = np.asarray(memory)
    try:
        capsule = array.__dlpack__(max_version=max_version) if versioned else array.__dlpack__()
    except TypeError:  # numpy before 2.1: DLPack 0.x only
        capsule = array.__dlpack__()
    del array
    found = _managed(capsule)
    assert found is not None, "numpy returned no DLPack capsule"
    managed, is_versioned = found
    t = managed.dl_tensor
    t.device.device_type, t.device.device_id = own
    t.dtype.code = code
    if is_versioned:
        managed.flags |= flags
    return capsule


class _DeviceMemory:
    """The base of the ndarray numpy exports: the buffer's memory (on any device: numpy never reads
    it here), pinned by an external reference until numpy's deleter drops the array."""

    __slots__ = ("__array_interface__", "_ref")

    def __init__(self, x: Array, read_only: bool) -> None:
        buffer, shape, dtype = x._buffer, x.shape, x.dtype
        strides = _strides(buffer, shape, dtype.itemsize)
        self._ref = buffer.external_reference()
        pointer = buffer.unsafe_pointer() if x.size else 0
        self.__array_interface__ = {
            "data": (pointer, read_only), "shape": shape, "version": 3,
            "strides": tuple(s * dtype.itemsize for s in strides),
            # bfloat16 travels as uint16 (numpy cannot export it); its DLPack code is set afterwards
            "typestr": "<u2" if dtype == _dtypes.bfloat16 else dtype.str,
        }

    def __del__(self) -> None:
        self._ref.release()


# -- import ---------------------------------------------------------------------------------------
class _Imported:
    """A consumed producer tensor: its deleter runs when the plugin deletes the view of it."""

    __slots__ = ("address", "deleter", "armed")

    def __init__(self, address: int, deleter: int) -> None:
        self.address, self.deleter, self.armed = address, deleter, False

    def __del__(self) -> None:
        if self.armed and self.deleter:
            _DELETER(self.deleter)(self.address)


class _Capsule:
    """A capsule already taken from a producer, offered to numpy (the copying fallback)."""

    def __init__(self, capsule: Any, device: tuple[int, int]) -> None:
        self._capsule, self._device = capsule, device

    def __dlpack__(self, **_: Any) -> Any:
        return self._capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        return self._device


def _request(x: Any, stream: int | None, copy: bool | None) -> Any:
    """The producer's capsule, asked for as DLPack 1.x (older producers: their only form)."""
    kwargs: dict[str, Any] = {"stream": stream, "max_version": _VERSION}
    if copy is not None:
        kwargs["copy"] = copy
    try:
        return x.__dlpack__(**kwargs)
    except TypeError:  # a producer older than the 2023.12 signature: it shares, never copies
        return x.__dlpack__(stream=stream)


def _contiguous(shape: tuple[int, ...], strides: list[int] | None) -> bool:
    if strides is None or 0 in shape:
        return True
    return all(n == 1 or s == r for n, s, r in zip(shape, strides, _row_major(shape)))


def from_dlpack(x: Any, /, *, device: Device | None = None, copy: bool | None = None) -> Array:
    """An array sharing the memory of a DLPack producer (torch, CuPy, JAX, numpy, ...), on its device.

    ``device`` another than the producer's copies (``copy=False`` then raises);
    ``copy=True`` always copies.
    """
    if copy not in (None, True, False):
        raise TypeError(f"copy must be True, False or None, got {copy!r}")
    if not hasattr(x, "__dlpack__") or not hasattr(x, "__dlpack_device__"):
        raise TypeError(f"x must support the DLPack protocol (__dlpack__), got {type(x).__name__}")
    try:
        kind, ordinal = (int(v) for v in x.__dlpack_device__())
    except (TypeError, ValueError):
        raise BufferError(f"from_dlpack: {type(x).__name__}.__dlpack_device__() is not a (type, id) pair") from None
    try:
        source = _device_for(kind, ordinal)
    except BufferError:
        if kind not in _HOST_KINDS or copy is False:
            raise
        # Host memory, but no CPU plugin to view it with: a copy on the default (or given) device.
        from .ops.creation import asarray
        return asarray(np.from_dlpack(x), device=device, copy=True)
    if device is not None and as_device(device) != source:
        if copy is False:
            raise BufferError(f"from_dlpack: the tensor is on {source!r}; moving it to {device!r} needs a copy, "
                              "but copy=False")
        return from_dlpack(x).to_device(device)
    stream = None
    if kind not in _HOST_KINDS:
        ext = _stream_extension(source)
        if ext is None:
            raise BufferError(f"from_dlpack: the {source.platform} plugin has no Stream extension, so a device "
                              "tensor cannot be synchronised with it")
        stream = ext.stream_for_external_ready_events(source.pjrt)
    capsule = _request(x, stream, copy)
    out = _consume(capsule, source, (kind, ordinal), stream, copy)
    if copy and not out[1]:
        from .ops.creation import asarray
        return asarray(out[0], copy=True)
    return out[0]


def _consume(capsule: Any, device: Device, where: tuple[int, int], stream: int | None,
             copy: bool | None) -> tuple[Array, bool]:
    """(the array over the capsule's tensor, whether the producer copied)."""
    found = _managed(capsule)
    if found is None:
        raise BufferError("from_dlpack: the producer did not return an unconsumed DLPack capsule")
    managed, versioned = found
    address = ctypes.addressof(managed)
    copied = False
    if versioned:
        if managed.version.major != _VERSION[0]:
            raise BufferError(f"from_dlpack: DLPack {managed.version.major}.{managed.version.minor} is not supported")
        copied = bool(managed.flags & _IS_COPIED)
    t = managed.dl_tensor
    if t.device.device_type != where[0] or (where[0] not in _HOST_KINDS and t.device.device_id != where[1]):
        raise BufferError(f"from_dlpack: the capsule is on device ({t.device.device_type}, {t.device.device_id}), "
                          f"not on the {where} the producer reported")
    dtype = _np_dtype(t.dtype)
    shape = tuple(int(v) for v in (ctypes.c_int64 * t.ndim).from_address(t.shape)) if t.ndim else ()
    strides = [int(v) for v in (ctypes.c_int64 * t.ndim).from_address(t.strides)] if t.strides and t.ndim else None
    pointer = (t.data or 0) + t.byte_offset
    if where[0] not in _HOST_KINDS and pointer % _DEVICE_ALIGNMENT:
        raise BufferError(f"from_dlpack: the tensor's data is not {_DEVICE_ALIGNMENT}-byte aligned, as XLA's GPU "
                          "programs need; make an aligned copy first (e.g. a contiguous clone)")
    if math.prod(shape) and _contiguous(shape, strides):
        owner = _Imported(address, managed.deleter or 0)
        try:
            buffer = device.client.create_view_of_device_buffer(pointer, shape, dtype, device.pjrt, owner=owner,
                                                                stream=stream)
        except PjrtError as exc:  # e.g. XLA:CPU aliases only aligned memory
            failure: Exception | None = exc
        else:
            _py.PyCapsule_SetName(id(capsule), _NAMES[_USED_VERSIONED if versioned else _USED_LEGACY])
            owner.armed = True
            return Array._from_buffer(buffer, (shape, dtype), device), copied
    else:
        failure = None
    if where[0] not in _HOST_KINDS:
        raise BufferError(f"from_dlpack: cannot share this {device.platform} tensor (shape {shape}, strides "
                          f"{strides}): {failure or 'not contiguous'}; make it contiguous first")
    if copy is False and math.prod(shape) != 0:
        raise BufferError(f"from_dlpack: sharing this tensor needs a copy (strides {strides}"
                          f"{', ' + str(failure) if failure else ''}), but copy=False")
    from .ops._operands import from_host
    host = np.from_dlpack(_Capsule(capsule, where))
    return from_host(np.ascontiguousarray(host), device, share=False), True
