"""``PJRT_Buffer``: an array in device memory, owned by exactly one :class:`Buffer`."""

from __future__ import annotations

import ctypes
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _abi
from . import buffer_hot as hot
from ._api import new_struct
from ._handles import int64s
from ._owned import Owned, invoke
from ._shapes import shape_and_type
from .completion import Completion
from .device import Device
from .dtypes import SUB_BYTE_BITS, from_numpy_dtype, require_known, to_numpy_dtype
from .event import Event
from .memory import Memory

if TYPE_CHECKING:
    from .client import Client

__all__ = ["Buffer", "ExternalReference", "HOST_BUFFER_SEMANTICS"]

_S = _abi.PJRT_HostBufferSemantics
#: User-facing names of ``PJRT_HostBufferSemantics``.
HOST_BUFFER_SEMANTICS = {
    "copy": _S.PJRT_HostBufferSemantics_kImmutableOnlyDuringCall,
    "until_transfer": _S.PJRT_HostBufferSemantics_kImmutableUntilTransferCompletes,
    "zero_copy": _S.PJRT_HostBufferSemantics_kImmutableZeroCopy,
    "mutable_zero_copy": _S.PJRT_HostBufferSemantics_kMutableZeroCopy,
}


class ExternalReference:
    """One external reference of a buffer's memory, counted by its client.

    While held, the memory is neither freed nor moved: ``Buffer.close()`` and
    ``Client.close()`` leave the destroy to :meth:`release` (see ``Client._pin``).
    Numpy views and DLPack capsules each hold one.
    """

    __slots__ = ("_client", "_handle")

    def __init__(self, buffer: "Buffer") -> None:
        self._handle = buffer.handle
        self._client: "Client | None" = buffer._client
        buffer._client._pin(self._handle)

    def release(self) -> None:
        """Drop the reference (once; later calls do nothing), destroying what waited for it."""
        client, self._client = self._client, None
        if client is not None:
            client._unpin(self._handle)


class _HostView:
    """The base of a numpy view: holds an :class:`ExternalReference` until numpy drops its last array."""

    __slots__ = ("__array_interface__", "_ref", "_host_ref")

    def __init__(self, ref: ExternalReference, pointer: int, nbytes: int, host_ref: object,
                 writable: bool = False) -> None:
        self._ref = ref
        self._host_ref = host_ref  # a zero-copy upload's array: the memory numpy reads
        self.__array_interface__ = {"data": (pointer, not writable), "shape": (nbytes,), "typestr": "|u1",
                                    "version": 3}

    def __del__(self) -> None:
        self._ref.release()


class Buffer(Owned):
    """A device buffer. Destroyed by ``close()``, garbage collection, or its client's close."""

    __slots__ = ("_dtype", "_shape", "_host_ref", "_address", "_transient")
    _field = "buffer"
    _what = "Buffer"

    def __init__(self, client: "Client", handle: int, dtype: np.dtype | None = None,
                 shape: tuple[int, ...] | None = None, host_ref: object = None) -> None:
        # Made for every op's output: the fields are set here, not through Owned.__init__.
        self._client = client
        self._handle = handle
        self._dtype = dtype
        self._shape = shape
        self._host_ref = host_ref  # a zero-copy upload's numpy array, kept while we live
        # The data's address once it was seen computed (readiness never goes back, and host memory
        # does not move while the buffer lives): later host views skip the wait and the query.
        self._address = 0
        self._transient: np.ndarray | None = None  # see transient_view
        client._buffers.add(handle)  # Client.close destroys what is still registered

    # -- creation ----------------------------------------------------------------------
    @classmethod
    def from_numpy(cls, client: "Client", array: Any, device: Device | None = None, *,
                   memory: Memory | None = None, semantics: str = "copy") -> "Buffer":
        """Upload ``array`` to ``device`` (default: the client's first) or ``memory``
        (``PJRT_Client_BufferFromHostBuffer``).

        ``semantics``: ``"copy"`` (the data is copied during the call),
        ``"until_transfer"``, ``"zero_copy"`` (the device may alias the array's
        memory; the array is kept alive and must not be mutated) or
        ``"mutable_zero_copy"``.
        """
        if semantics not in HOST_BUFFER_SEMANTICS:
            raise ValueError(f"semantics must be one of {sorted(HOST_BUFFER_SEMANTICS)}, got {semantics!r}")
        array = np.asarray(array)
        btype = from_numpy_dtype(array.dtype, "array")
        require_known(btype, client.api.minor, "array")
        if not array.flags.c_contiguous:
            array = np.ascontiguousarray(array)
        if device is not None and device._client is not client:
            raise ValueError("device belongs to another client")
        if memory is not None and memory._client is not client:
            raise ValueError("memory belongs to another client")
        args = new_struct(_abi.PJRT_Client_BufferFromHostBuffer_Args)
        dims = (ctypes.c_int64 * max(array.ndim, 1))(*array.shape)
        args.client = client.handle
        args.data = array.ctypes.data
        args.type = btype
        args.dims = ctypes.addressof(dims)
        args.num_dims = array.ndim
        args.host_buffer_semantics = HOST_BUFFER_SEMANTICS[semantics]
        if memory is not None:
            args.memory = memory.handle
        else:
            args.device = (device or client.addressable_devices()[0]).handle
        client.api.call("PJRT_Client_BufferFromHostBuffer", args)
        keep = array if semantics != "copy" else None
        buffer = cls(client, args.buffer, array.dtype, tuple(array.shape), keep)
        if args.done_with_host_buffer:
            done = Event(client.api, args.done_with_host_buffer)
            if semantics == "until_transfer":
                done.wait()
                buffer._host_ref = None
            done.close()
        return buffer

    # -- ownership ---------------------------------------------------------------------
    def _release(self, handle: int) -> None:
        """Destroy (``PJRT_Buffer_Destroy``) unless something else must let go first."""
        client = self._client
        client._buffers.discard(handle)
        self._host_ref = None
        # Alias buffers (and what fulfilled them) abort the CPU plugins when destroyed: they are
        # left to the process's end instead (see Client.create_alias_buffer).
        if client._alias_handles and handle in client._alias_handles:
            return
        # With live numpy views the last view destroys it (Client._unpin).
        if client._pins and handle in client._pins:
            client._doomed.add(handle)
            return
        client._destroy_buffer_now(handle)

    # -- facts -------------------------------------------------------------------------
    @property
    def element_type(self) -> _abi.PJRT_Buffer_Type:
        """The ``PJRT_Buffer_Type`` of the elements (``PJRT_Buffer_ElementType``)."""
        return _abi.PJRT_Buffer_Type(self._call("PJRT_Buffer_ElementType", _abi.PJRT_Buffer_ElementType_Args).type)

    @property
    def dtype(self) -> np.dtype:
        if self._dtype is None:
            self._dtype = to_numpy_dtype(self.element_type)
        return self._dtype

    @property
    def dimensions(self) -> tuple[int, ...]:
        """The on-device dimensions (``PJRT_Buffer_Dimensions``)."""
        a = self._call("PJRT_Buffer_Dimensions", _abi.PJRT_Buffer_Dimensions_Args)
        return int64s(a.dims, a.num_dims)

    @property
    def shape(self) -> tuple[int, ...]:
        if self._shape is None:
            self._shape = self.dimensions
        return self._shape

    @property
    def unpadded_dimensions(self) -> tuple[int, ...]:
        """The dimensions without padding (``PJRT_Buffer_UnpaddedDimensions``)."""
        a = self._call("PJRT_Buffer_UnpaddedDimensions", _abi.PJRT_Buffer_UnpaddedDimensions_Args)
        return int64s(a.unpadded_dims, a.num_dims)

    @property
    def dynamic_dimension_indices(self) -> tuple[int, ...]:
        """Indices of the dynamically sized dimensions (``PJRT_Buffer_DynamicDimensionIndices``)."""
        a = self._call("PJRT_Buffer_DynamicDimensionIndices", _abi.PJRT_Buffer_DynamicDimensionIndices_Args)
        if not a.num_dynamic_dims:
            return ()
        return tuple((ctypes.c_size_t * a.num_dynamic_dims).from_address(a.dynamic_dim_indices))

    @property
    def on_device_size_in_bytes(self) -> int:
        """Bytes the buffer takes on its device (``PJRT_Buffer_OnDeviceSizeInBytes``)."""
        return int(self._call("PJRT_Buffer_OnDeviceSizeInBytes",
                              _abi.PJRT_Buffer_OnDeviceSizeInBytes_Args).on_device_size_in_bytes)

    @property
    def device(self) -> Device:
        """The device holding the buffer (``PJRT_Buffer_Device``)."""
        return Device(self._client, self._call("PJRT_Buffer_Device", _abi.PJRT_Buffer_Device_Args).device)

    @property
    def memory(self) -> Memory:
        """The memory holding the buffer (``PJRT_Buffer_Memory``)."""
        return Memory(self._client, self._call("PJRT_Buffer_Memory", _abi.PJRT_Buffer_Memory_Args).memory)

    @property
    def is_on_cpu(self) -> bool:
        """Whether the data lives in host memory (``PJRT_Buffer_IsOnCpu``)."""
        return bool(self._call("PJRT_Buffer_IsOnCpu", _abi.PJRT_Buffer_IsOnCpu_Args).is_on_cpu)

    def delete(self) -> None:
        """Free the device memory now (``PJRT_Buffer_Delete``); the handle stays valid."""
        self._call("PJRT_Buffer_Delete", _abi.PJRT_Buffer_Delete_Args)

    @property
    def is_deleted(self) -> bool:
        """Whether the device memory was freed or donated (``PJRT_Buffer_IsDeleted``)."""
        return bool(self._call("PJRT_Buffer_IsDeleted", _abi.PJRT_Buffer_IsDeleted_Args).is_deleted)

    def ready_event(self) -> Event:
        """An event that completes when the buffer's data is ready (``PJRT_Buffer_ReadyEvent``)."""
        return Event(self._client.api, self._call("PJRT_Buffer_ReadyEvent", _abi.PJRT_Buffer_ReadyEvent_Args).event)

    def block_until_ready(self) -> "Buffer":
        """Wait for the data; raise the error of the computation that produced it, if any."""
        with self.ready_event() as event:
            event.wait()
        return self

    # -- copies ------------------------------------------------------------------------
    def copy_to_device(self, device: Device) -> "Buffer":
        """A copy on ``device`` of the same client (``PJRT_Buffer_CopyToDevice``)."""
        if device._client is not self._client:
            raise ValueError("copy_to_device: the device belongs to another client")
        a = self._call("PJRT_Buffer_CopyToDevice", _abi.PJRT_Buffer_CopyToDevice_Args, dst_device=device.handle)
        return Buffer(self._client, a.dst_buffer, self._dtype, self._shape)

    def copy_to_memory(self, memory: Memory) -> "Buffer":
        """A copy in ``memory`` of the same client (``PJRT_Buffer_CopyToMemory``)."""
        if memory._client is not self._client:
            raise ValueError("copy_to_memory: the memory belongs to another client")
        a = self._call("PJRT_Buffer_CopyToMemory", _abi.PJRT_Buffer_CopyToMemory_Args, dst_memory=memory.handle)
        return Buffer(self._client, a.dst_buffer, self._dtype, self._shape)

    def to_numpy(self) -> np.ndarray:
        """A host copy (``PJRT_Buffer_ToHostBuffer``, waiting on its event)."""
        out = np.empty(self.shape, self.dtype)
        a = invoke(self._client.api, "PJRT_Buffer_ToHostBuffer", _abi.PJRT_Buffer_ToHostBuffer_Args,
                   src=self.handle, dst=out.ctypes.data, dst_size=out.nbytes)
        with Event(self._client.api, a.event) as event:
            event.wait()
        return out

    def numpy_view(self, *, known_on_host: bool = False, writable: bool = False, ready: bool = False) -> np.ndarray:
        """A zero-copy view of a host-resident buffer's memory (read-only unless ``writable``).

        The buffer's external reference count is raised while the view (or any
        array derived from it) lives, so the memory cannot be freed or moved.
        Raises ValueError for a buffer that is not in host memory.

        Sub-byte dtypes (int4, float4_e2m1fn, ...) are packed several to a
        byte in device memory but one per byte in numpy, so for them this
        returns a read-only copy instead of a view.  ``known_on_host`` skips the
        ``PJRT_Buffer_IsOnCpu`` query when the caller knows the device is the host.
        ``writable``: UNSAFE unless the caller knows that no computation reads or
        writes the buffer meanwhile; a zero-copy upload's memory is never writable.
        ``ready``: the caller has seen the data computed (``buffer_hot.is_ready``, or a copy from the
        host made during the call): no wait.  Either way, later views of this buffer need no wait.
        """
        if not known_on_host and not self.is_on_cpu:
            raise ValueError("numpy_view needs a buffer in host memory; use to_numpy()")
        if from_numpy_dtype(self.dtype) in SUB_BYTE_BITS:
            host = self.to_numpy()
            host.flags.writeable = False
            return host
        pointer = self._data_address(self.handle, ready)
        dtype, shape = self.dtype, self.shape
        nbytes = math.prod(shape) * dtype.itemsize
        writable = writable and self._host_ref is None
        raw = np.asarray(_HostView(ExternalReference(self), pointer, nbytes, self._host_ref, writable))
        return raw.view(dtype).reshape(shape)

    def _data_address(self, handle: int, ready: bool) -> int:
        """The data's address in host memory, waiting for the data first unless ``ready`` (the
        caller saw it computed); remembered once known (readiness never goes back)."""
        pointer = self._address
        if not pointer:
            api = self._client.api
            if not ready:
                hot.wait_ready(api, handle)  # the hot-path calls: this runs at every first host read of an array
            pointer = self._address = hot.unsafe_pointer(api, handle)
        return pointer

    # -- unsafe ------------------------------------------------------------------------
    def transient_view(self) -> np.ndarray:
        """UNSAFE: a read-only numpy view of a host-resident buffer's memory that pins nothing
        (made once, after the data is computed, and kept on the buffer).  Valid only while the
        caller holds this Buffer, which no other thread donates meanwhile, and only for reads that
        end before the caller returns: nothing derived from it may outlive the call.  For
        :meth:`numpy_view`'s dtypes but the sub-byte ones.  (The first-sight host tier reads every
        operand this way: a pinned view costs an external reference taken and released, and a
        wrapper object, per read.)"""
        handle = self.handle  # (raises once closed or donated)
        view = self._transient
        if view is None:
            pointer = self._data_address(handle, False)
            dtype, shape = self.dtype, self.shape
            nbytes = math.prod(shape) * dtype.itemsize
            if nbytes:
                view = np.frombuffer(memoryview((ctypes.c_char * nbytes).from_address(pointer)), dtype).reshape(shape)
            else:
                view = np.empty(shape, dtype)
            view.flags.writeable = False
            self._transient = view
        return view

    def unsafe_pointer(self) -> int:
        """UNSAFE: the device address of the data, valid only while an external reference is held
        (``PJRT_Buffer_UnsafePointer``)."""
        return int(self._call("PJRT_Buffer_UnsafePointer", _abi.PJRT_Buffer_UnsafePointer_Args).buffer_pointer)

    def increase_external_reference_count(self) -> None:
        """UNSAFE: pin the buffer's memory for use outside PJRT (``PJRT_Buffer_IncreaseExternalReferenceCount``).
        Serialized with every other change of the count (see ``Client._pin``)."""
        with self._client._lock:
            self._call("PJRT_Buffer_IncreaseExternalReferenceCount", _abi.PJRT_Buffer_IncreaseExternalReferenceCount_Args)

    def external_reference(self) -> ExternalReference:
        """Pin the memory for use outside PJRT until ``.release()`` (counted, unlike the raw calls)."""
        return ExternalReference(self)

    def decrease_external_reference_count(self) -> None:
        """UNSAFE: release a pin taken with :meth:`increase_external_reference_count`
        (``PJRT_Buffer_DecreaseExternalReferenceCount``)."""
        with self._client._lock:
            self._call("PJRT_Buffer_DecreaseExternalReferenceCount", _abi.PJRT_Buffer_DecreaseExternalReferenceCount_Args)

    def opaque_device_memory_pointer(self) -> int:
        """UNSAFE: the backend's opaque handle of the memory (``PJRT_Buffer_OpaqueDeviceMemoryDataPointer``)."""
        return int(self._call("PJRT_Buffer_OpaqueDeviceMemoryDataPointer",
                              _abi.PJRT_Buffer_OpaqueDeviceMemoryDataPointer_Args).device_memory_ptr or 0)

    def memory_layout(self) -> dict[str, Any]:
        """The device layout (``PJRT_Buffer_GetMemoryLayout``): ``{"type", "minor_to_major"|"byte_strides"}``."""
        a = self._call("PJRT_Buffer_GetMemoryLayout", _abi.PJRT_Buffer_GetMemoryLayout_Args)
        layout = a.layout
        kind = _abi.PJRT_Buffer_MemoryLayout_Type(layout.type)
        if kind == _abi.PJRT_Buffer_MemoryLayout_Type.PJRT_Buffer_MemoryLayout_Type_Tiled:
            return {"type": "tiled", "minor_to_major": int64s(layout.tiled.minor_to_major,
                                                              layout.tiled.minor_to_major_size),
                    "num_tiles": int(layout.tiled.num_tiles)}
        return {"type": "strides", "byte_strides": int64s(layout.strides.byte_strides,
                                                          layout.strides.num_byte_strides)}

    def _raw_range(self, offset: int, size: int | None) -> tuple[int, int]:
        """Checked ``(offset, size)`` of a raw copy; ``size`` None means to the end."""
        total = self.on_device_size_in_bytes
        size = total - offset if size is None else size
        if not (0 <= offset <= total and 0 <= size <= total - offset):
            raise ValueError(f"offset {offset} and size {size} must lie within the buffer's {total} bytes")
        return offset, size

    def copy_raw_to_host(self, offset: int = 0, size: int | None = None) -> bytes:
        """Raw bytes of the on-device representation (``PJRT_Buffer_CopyRawToHost``)."""
        offset, size = self._raw_range(offset, size)
        out = ctypes.create_string_buffer(max(size, 1))
        a = self._call("PJRT_Buffer_CopyRawToHost", _abi.PJRT_Buffer_CopyRawToHost_Args,
                       dst=ctypes.addressof(out), offset=offset, transfer_size=size)
        with Event(self._client.api, a.event) as event:
            event.wait()
        return out.raw[:size]

    def copy_raw_to_host_future(self, offset: int = 0, size: int | None = None) -> tuple[Event, Any]:
        """Start a raw copy whose destination is given later (``PJRT_Buffer_CopyRawToHostFuture``).

        Returns ``(event, deliver)``.  Call ``deliver(dst)`` once with a writable,
        C-contiguous buffer of at least ``size`` bytes (bytearray, numpy array, ...),
        which is kept alive until the event is ready, or ``deliver(error=PjrtError)``
        to fail the copy.  The event completes when the bytes are there; a
        ``deliver`` dropped uncalled fails the copy with CANCELLED.
        """
        offset, size = self._raw_range(offset, size)
        a = self._call("PJRT_Buffer_CopyRawToHostFuture", _abi.PJRT_Buffer_CopyRawToHostFuture_Args,
                       offset=offset, transfer_size=size)
        event = Event(self._client.api, a.event)
        complete = Completion(self._client, _abi.PJRT_Buffer_CopyRawToHostFuture_Callback_Args,
                              a.future_ready_callback, a.callback_data, "this raw copy's deliver()")

        def deliver(dst: Any = None, error: Any = None) -> None:
            if error is not None:
                complete(error)
                return
            view = memoryview(dst)
            if view.readonly or not view.c_contiguous or view.nbytes < size:
                raise ValueError(f"dst must be a writable C-contiguous buffer of at least {size} bytes")
            target = (ctypes.c_char * view.nbytes).from_buffer(view.cast("B")) if view.nbytes else None

            def keep_alive(_error: object, _keep: object = (dst, view, target)) -> None:
                """Holds ``dst`` until the event: the plugin writes into it until then."""

            event.on_ready(keep_alive)
            complete(dst=ctypes.addressof(target) if target is not None else 0)

        return event, deliver

    def donate_with_control_dependency(self) -> tuple["Buffer", Completion]:
        """A new buffer taking this one's memory once a dependency is met
        (``PJRT_Buffer_DonateWithControlDependency``).  Returns ``(buffer, ready)``: call
        ``ready()`` (or ``ready(error)``) once to release it; a ``ready`` dropped uncalled
        fails it with CANCELLED.
        """
        a = self._call("PJRT_Buffer_DonateWithControlDependency", _abi.PJRT_Buffer_DonateWithControlDependency_Args)
        ready = Completion(self._client, _abi.PJRT_Buffer_DonateWithControlDependency_Callback_Args,
                           a.dependency_ready_callback, a.callback_data, "this donation's ready()")
        return Buffer(self._client, a.out_buffer, self._dtype, self._shape), ready

    def bitcast(self, dtype: Any, shape: Any = None) -> "Buffer":
        """The same bytes viewed as another dtype/shape of equal size, in the default layout
        (``PJRT_Buffer_Bitcast``).

        The XLA CPU plugin moves the data into the new buffer: this one then reads as deleted.
        """
        array, dims, btype = shape_and_type(self.shape if shape is None else shape, dtype, self._client.api.minor)
        a = self._call("PJRT_Buffer_Bitcast", _abi.PJRT_Buffer_Bitcast_Args, element_type=btype,
                       dims=ctypes.addressof(array), num_dims=len(dims))
        return Buffer(self._client, a.out_buffer, np.dtype(dtype), dims)

    def __repr__(self) -> str:
        if not self._handle or self._client.closed:
            return "<pjrt Buffer closed>"
        return f"<pjrt Buffer {self.dtype}{list(self.shape)}>"
