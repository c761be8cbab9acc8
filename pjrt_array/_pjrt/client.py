"""``PJRT_Client``: the root object that owns buffers and executables.

A :class:`Client` owns its ``PJRT_Client*`` and tracks the handles of the
buffers and executables it created.  ``close()`` (or interpreter exit)
destroys those first, then the client, each exactly once; a Python object
whose handle was destroyed this way raises :class:`ClosedError` when used.
"""

from __future__ import annotations

import atexit
import ctypes
import itertools
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from . import _abi, buffer_hot
from ._api import Api, new_struct, struct_size
from ._ctypes_util import field_types
from ._handles import c_bytes_address, handles, text
from ._loader import Plugin, default_plugin_info, load_plugin
from ._owned import invoke
from ._shapes import RowMajorLayout, shape_and_type
from .compile_options import CompileOptions
from .device import Device
from .errors import ClosedError, PjrtError, error_fields
from .memory import Memory
from .named_values import NamedValue, NamedValueArray

if TYPE_CHECKING:
    from .buffer import Buffer
    from .executable import LoadedExecutable

__all__ = ["Client"]

_CLIENTS: "weakref.WeakSet[Client]" = weakref.WeakSet()
_FORKED = False


class Client:
    """A PJRT client of one plugin.

    Args:
        plugin: a loaded :class:`Plugin`, a path to a plugin library, or None for
            the default plugin (see :func:`pjrt_array._pjrt.discover`).
        options: client create options (``PJRT_NamedValue`` list), e.g.
            ``{"cpu_device_count": 2}``.
        kv_store: for multi-process clients, a key-value store the plugin uses to
            rendezvous (see :mod:`pjrt_array._pjrt.kv_store`).
    """

    def __init__(self, plugin: Plugin | str | os.PathLike | None = None,
                 options: Mapping[str, NamedValue] | None = None, **create_kwargs: Any) -> None:
        """Create the client (``PJRT_Client_Create``); the class documents the arguments."""
        if plugin is None:
            plugin = default_plugin_info().path
        if not isinstance(plugin, Plugin):
            plugin = load_plugin(plugin)
        self.plugin = plugin
        self.api: Api = plugin.api
        self._closed = False
        self._buffers: set[int] = set()
        self._unfulfilled_aliases: dict[int, int] = {}  # alias buffer handle -> fulfil token
        self._alias_handles: set[int] = set()  # buffers never destroyed (see create_alias_buffer)
        self._executables: set[int] = set()
        # Numpy views (Buffer.numpy_view) alias buffer memory, so a buffer with
        # live views, and the client under it, is destroyed when the last view goes.
        self._pins: dict[int, int] = {}
        self._doomed: set[int] = set()
        self._lock = threading.RLock()  # re-entrant: a __del__ may run while this thread holds it
        self._handle = 0
        values = NamedValueArray(options)
        args = new_struct(_abi.PJRT_Client_Create_Args)
        args.create_options = values.address
        args.num_options = values.count
        self._keep_alive = self._prepare_create(args, **create_kwargs)
        self.api.call("PJRT_Client_Create", args)
        self._handle = int(args.client)
        self._destroy_buffer = self.api.raw("PJRT_Buffer_Destroy")  # the hottest call after execute
        self._destroy_args = new_struct(_abi.PJRT_Buffer_Destroy_Args)
        self._destroy_address = ctypes.addressof(self._destroy_args)
        self._destroying = False  # whether _destroy_args is in use (by this thread: the lock is held)
        self._devices: list[Device] | None = None
        _CLIENTS.add(self)

    def _prepare_create(self, args: Any, kv_store: Any = None, **kwargs: Any) -> Any:
        """Fill the create arguments beyond the options: the key-value store bridge."""
        if kwargs:
            raise TypeError(f"unexpected client options: {', '.join(kwargs)}")
        if kv_store is None:
            return None
        from .kv_store import KVBridge
        bridge = KVBridge(kv_store)
        bridge.fill(args)
        return bridge

    # -- life cycle ---------------------------------------------------------------
    def _live(self, handle: int) -> int:
        """Return ``handle`` if this client is open; raise ClosedError otherwise."""
        if self._closed:
            raise ClosedError("the PJRT client has been closed" + (" (the process forked)" if _FORKED else ""))
        return handle

    @property
    def handle(self) -> int:
        return self._live(self._handle)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Destroy every buffer and executable of this client, then the client (``PJRT_Client_Destroy``).

        Everything happens under the client's lock, the lock every owned object
        destroys its handle under, so each handle is destroyed exactly once.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            buffers, self._buffers = self._buffers, set()
            executables, self._executables = self._executables, set()
            if _FORKED:  # the plugin's threads did not survive fork(): touch nothing
                return
            self._doomed |= buffers & self._pins.keys()
            for h in buffers - self._doomed:
                self._destroy_buffer_now(h)
            for h in executables:
                invoke(self.api, "PJRT_LoadedExecutable_Destroy", _abi.PJRT_LoadedExecutable_Destroy_Args,
                       executable=h)
            if not self._doomed and self._handle:  # else the last numpy view destroys it (_unpin)
                invoke(self.api, "PJRT_Client_Destroy", _abi.PJRT_Client_Destroy_Args, client=self._handle)

    def _destroy_buffer_now(self, handle: int) -> None:
        """``PJRT_Buffer_Destroy`` of ``handle``; the caller holds the lock and owns the handle.

        Destroy is the one call made for every temporary, so its argument block
        is made once per client (the lock serializes its use); a destroy nested
        in another on the same thread (a ``__del__`` run by the garbage
        collector) finds it in use and takes a new one.
        """
        if self._destroying:
            args = new_struct(_abi.PJRT_Buffer_Destroy_Args)
            args.buffer = handle
            err = self._destroy_buffer(ctypes.addressof(args))
        else:
            self._destroying = True
            try:
                self._destroy_args.buffer = handle
                err = self._destroy_buffer(self._destroy_address)
            finally:
                self._destroying = False
        if err:
            self.api.check(err)

    def _pin(self, buffer: int) -> None:
        """Take an external reference of ``buffer`` for a numpy view (or a DLPack capsule) and count it.

        Under the lock, as :meth:`_unpin`'s release is: the C API keeps a buffer's references in a
        plain list that concurrent increases and decreases corrupt (a reference lost there is a
        hold the plugin's destroy then aborts on: scipy.ndimage's threaded filters, four threads
        viewing one buffer).  The lock also keeps a close from destroying the buffer between the
        increase and the count.
        """
        with self._lock:
            buffer_hot.increase_external_references(self.api, buffer)
            self._pins[buffer] = self._pins.get(buffer, 0) + 1

    def _unpin(self, buffer: int) -> None:
        """Drop a numpy view of ``buffer``; destroy what waited for it."""
        with self._lock:
            left = self._pins.pop(buffer) - 1
            if left:
                self._pins[buffer] = left
            if _FORKED:
                return
            buffer_hot.decrease_external_references(self.api, buffer)
            if left or buffer not in self._doomed:
                return
            self._doomed.discard(buffer)
            self._destroy_buffer_now(buffer)
            if self._closed and not self._doomed:
                invoke(self.api, "PJRT_Client_Destroy", _abi.PJRT_Client_Destroy_Args, client=self._handle)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - destructors must not raise
            pass

    # -- facts ----------------------------------------------------------------------
    def _call(self, fn: str, args_type: type, **fields: Any) -> Any:
        return invoke(self.api, fn, args_type, client=self.handle, **fields)

    @property
    def platform_name(self) -> str:
        """The platform, e.g. ``"cpu"`` (``PJRT_Client_PlatformName``)."""
        a = self._call("PJRT_Client_PlatformName", _abi.PJRT_Client_PlatformName_Args)
        return text(a.platform_name, a.platform_name_size)

    @property
    def platform_version(self) -> str:
        """The plugin's platform version string (``PJRT_Client_PlatformVersion``)."""
        a = self._call("PJRT_Client_PlatformVersion", _abi.PJRT_Client_PlatformVersion_Args)
        return text(a.platform_version, a.platform_version_size)

    @property
    def process_index(self) -> int:
        """This process's index among the client's processes (``PJRT_Client_ProcessIndex``)."""
        return int(self._call("PJRT_Client_ProcessIndex", _abi.PJRT_Client_ProcessIndex_Args).process_index)

    def devices(self) -> list[Device]:
        """All devices, addressable or not (``PJRT_Client_Devices``)."""
        a = self._call("PJRT_Client_Devices", _abi.PJRT_Client_Devices_Args)
        return [Device(self, h) for h in handles(a.devices, a.num_devices)]

    def addressable_devices(self) -> list[Device]:
        """The devices this process can use (cached: the set never changes) (``PJRT_Client_AddressableDevices``)."""
        if self._devices is None:
            a = self._call("PJRT_Client_AddressableDevices", _abi.PJRT_Client_AddressableDevices_Args)
            self._devices = [Device(self, h) for h in handles(a.addressable_devices, a.num_addressable_devices)]
        self._live(0)
        return list(self._devices)

    def lookup_device(self, device_id: int) -> Device:
        """The device with global id ``device_id`` (``PJRT_Client_LookupDevice``)."""
        a = self._call("PJRT_Client_LookupDevice", _abi.PJRT_Client_LookupDevice_Args, id=device_id)
        return Device(self, a.device)

    def lookup_addressable_device(self, local_hardware_id: int) -> Device:
        """The addressable device with local hardware id ``local_hardware_id``
        (``PJRT_Client_LookupAddressableDevice``)."""
        a = self._call("PJRT_Client_LookupAddressableDevice", _abi.PJRT_Client_LookupAddressableDevice_Args,
                       local_hardware_id=local_hardware_id)
        return Device(self, a.addressable_device)

    def addressable_memories(self) -> list[Memory]:
        """The memories this process can address (``PJRT_Client_AddressableMemories``)."""
        a = self._call("PJRT_Client_AddressableMemories", _abi.PJRT_Client_AddressableMemories_Args)
        return [Memory(self, h) for h in handles(a.addressable_memories, a.num_addressable_memories)]

    def default_device_assignment(self, num_replicas: int, num_partitions: int) -> list[list[int]]:
        """Device ids as ``[replica][partition]`` (``PJRT_Client_DefaultDeviceAssignment``)."""
        for name, count in (("num_replicas", num_replicas), ("num_partitions", num_partitions)):
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:  # the plugins abort on 0
                raise ValueError(f"{name} must be a positive int, got {count!r}")
        n = num_replicas * num_partitions
        out = (ctypes.c_int * max(n, 1))()
        self._call("PJRT_Client_DefaultDeviceAssignment", _abi.PJRT_Client_DefaultDeviceAssignment_Args,
                   num_replicas=num_replicas, num_partitions=num_partitions,
                   default_assignment_size=n, default_assignment=ctypes.addressof(out))
        return [list(out[r * num_partitions:(r + 1) * num_partitions]) for r in range(num_replicas)]

    # -- buffers and programs ----------------------------------------------------------
    def buffer_from_numpy(self, array: np.ndarray, device: Device | None = None, *,
                          memory: Memory | None = None, semantics: str = "copy") -> "Buffer":
        """Upload a numpy array; see :meth:`Buffer.from_numpy`."""
        from .buffer import Buffer
        return Buffer.from_numpy(self, array, device, memory=memory, semantics=semantics)

    def compile(self, program: str | bytes, options: CompileOptions | None = None,
                format: str = "mlir") -> "LoadedExecutable":
        """Compile StableHLO/MLIR text or bytecode (``format="mlir"``) or HLO (``"hlo"``)."""
        from .executable import LoadedExecutable
        return LoadedExecutable.compile(self, program, options, format)

    def deserialize_executable(self, data: bytes) -> "LoadedExecutable":
        """Load an executable from :meth:`Executable.serialize` bytes of the same plugin."""
        from .executable import LoadedExecutable
        return LoadedExecutable.deserialize(self, data)

    # -- buffers made without host data, and other client services -----------------------------
    def _own_device(self, device: Device | None) -> Device:
        """``device`` (default: the first addressable one), checked to be this client's."""
        if device is None:
            return self.addressable_devices()[0]
        if not isinstance(device, Device) or device.client is not self:
            raise ValueError(f"device must be a Device of this client, got {device!r}")
        return device

    def _own_memory(self, memory: Memory) -> Memory:
        """``memory``, checked to be this client's."""
        if not isinstance(memory, Memory) or memory._client is not self:
            raise ValueError(f"memory must be a Memory of this client, got {memory!r}")
        return memory

    def _buffer_out(self, handle: int, dims: tuple[int, ...], dtype: Any) -> "Buffer":
        from .buffer import Buffer
        return Buffer(self, handle, np.dtype(dtype), dims)

    def create_uninitialized_buffer(self, shape: Sequence[int], dtype: Any, device: Device | None = None, *,
                                    memory: Memory | None = None) -> "Buffer":
        """A buffer with undefined contents (``PJRT_Client_CreateUninitializedBuffer``)."""
        array, dims, btype = shape_and_type(shape, dtype, self.api.minor)
        layout = RowMajorLayout(len(dims))
        a = self._call("PJRT_Client_CreateUninitializedBuffer", _abi.PJRT_Client_CreateUninitializedBuffer_Args,
                       shape_dims=ctypes.addressof(array), shape_num_dims=len(dims), shape_element_type=btype,
                       shape_layout=layout.address,
                       device=self._own_device(device).handle if memory is None else 0,
                       memory=self._own_memory(memory).handle if memory is not None else 0)
        return self._buffer_out(a.buffer, dims, dtype)

    def create_error_buffer(self, error: PjrtError, shape: Sequence[int], dtype: Any, memory: Memory) -> "Buffer":
        """A buffer whose use fails with ``error`` (``PJRT_Client_CreateErrorBuffer``)."""
        code, message = error_fields(error)
        array, dims, btype = shape_and_type(shape, dtype, self.api.minor)
        layout = RowMajorLayout(len(dims))  # without one, the 0.106 CPU plugin aborts reading the buffer
        a = self._call("PJRT_Client_CreateErrorBuffer", _abi.PJRT_Client_CreateErrorBuffer_Args,
                       error_code=code, error_message=c_bytes_address(message),
                       error_message_size=len(message), shape_dims=ctypes.addressof(array), shape_num_dims=len(dims),
                       shape_element_type=btype, shape_layout=layout.address, memory=self._own_memory(memory).handle)
        return self._buffer_out(a.buffer, dims, dtype)

    def create_alias_buffer(self, shape: Sequence[int], dtype: Any, memory: Memory) -> "Buffer":
        """A placeholder buffer to bind later with :meth:`fulfill_alias_buffer`
        (``PJRT_Client_CreateAliasBuffer``).

        Destroying an alias buffer, or the buffer that fulfilled it, aborts the XLA
        CPU plugins, so both are released only when the process ends.
        """
        array, dims, btype = shape_and_type(shape, dtype, self.api.minor)
        layout = RowMajorLayout(len(dims))  # without one, the 0.106 CPU plugin aborts reading the buffer
        a = self._call("PJRT_Client_CreateAliasBuffer", _abi.PJRT_Client_CreateAliasBuffer_Args,
                       memory=self._own_memory(memory).handle, shape_dims=ctypes.addressof(array),
                       shape_num_dims=len(dims), shape_element_type=btype, shape_layout=layout.address)
        with self._lock:
            self._unfulfilled_aliases[a.alias_buffer] = a.fulfill_alias_buffer_cb
            self._alias_handles.add(a.alias_buffer)
        return self._buffer_out(a.alias_buffer, dims, dtype)

    def fulfill_alias_buffer(self, alias: "Buffer", buffer: "Buffer | None", error: PjrtError | None = None
                             ) -> None:
        """Bind ``alias`` to ``buffer``'s data, or fail it with ``error`` (``PJRT_Client_FulfillAliasBuffer``).

        Exactly one of ``buffer`` and ``error`` is given; each alias is fulfilled once.
        """
        if (buffer is None) == (error is None):
            raise ValueError("fulfill_alias_buffer needs exactly one of buffer and error")
        if buffer is not None and buffer._client is not self:
            raise ValueError("buffer belongs to another client")
        with self._lock:
            token = self._unfulfilled_aliases.pop(alias.handle, None)
            if token is None:
                raise ValueError("this buffer is not an unfulfilled alias of this client")
            if buffer is not None:
                self._alias_handles.add(buffer.handle)
        code, message = (0, b"") if error is None else error_fields(error)
        self._call("PJRT_Client_FulfillAliasBuffer", _abi.PJRT_Client_FulfillAliasBuffer_Args,
                   buffer=buffer.handle if buffer is not None else 0, status_code=code,
                   error_message=c_bytes_address(message), error_message_size=len(message),
                   fulfill_alias_buffer_cb=token)

    def create_view_of_device_buffer(self, pointer: int, shape: Sequence[int], dtype: Any,
                                     device: Device | None = None, owner: object = None,
                                     stream: int | None = None) -> "Buffer":
        """UNSAFE: a buffer over existing device memory (``PJRT_Client_CreateViewOfDeviceBuffer``).

        ``owner`` (e.g. the object that owns the memory) is kept alive until the
        plugin deletes the view; the memory itself must stay valid that long.
        ``stream`` (GPU plugins): a platform stream on which the data becomes
        ready; the view is ready once work enqueued there so far is done.
        """
        if isinstance(pointer, bool) or not isinstance(pointer, int) or pointer <= 0:
            raise ValueError(f"pointer must be a non-null address (a positive int), got {pointer!r}")
        if stream is not None and (isinstance(stream, bool) or not isinstance(stream, int) or stream <= 0):
            raise ValueError(f"stream must be None or a stream handle (a positive int), got {stream!r}")
        array, dims, btype = shape_and_type(shape, dtype, self.api.minor)
        device = self._own_device(device)
        key = next(_view_keys)
        _view_owners[key] = owner
        try:
            a = self._call("PJRT_Client_CreateViewOfDeviceBuffer", _abi.PJRT_Client_CreateViewOfDeviceBuffer_Args,
                           device_buffer_ptr=pointer, dims=ctypes.addressof(array), num_dims=len(dims),
                           element_type=btype, device=device.handle,
                           on_delete_callback=_VIEW_DELETED, on_delete_callback_arg=key, stream=stream or 0)
        except BaseException:
            _view_owners.pop(key, None)
            raise
        return self._buffer_out(a.buffer, dims, dtype)

    def create_buffers_for_async_host_to_device(self, specs: Sequence[tuple[Sequence[int], Any]],
                                                memory: Memory) -> Any:
        """Buffers to fill later (``PJRT_Client_CreateBuffersForAsyncHostToDevice``)."""
        from .transfer import AsyncHostToDeviceTransferManager
        return AsyncHostToDeviceTransferManager.create(self, specs, memory)

    def dma_map(self, array: np.ndarray) -> None:
        """Register host memory for DMA (``PJRT_Client_DmaMap``); keep ``array`` alive until unmapped."""
        self._call("PJRT_Client_DmaMap", _abi.PJRT_Client_DmaMap_Args, data=_host_memory(array).ctypes.data,
                   size=array.nbytes)

    def dma_unmap(self, array: np.ndarray) -> None:
        """Unregister memory registered with :meth:`dma_map` (``PJRT_Client_DmaUnmap``)."""
        self._call("PJRT_Client_DmaUnmap", _abi.PJRT_Client_DmaUnmap_Args, data=_host_memory(array).ctypes.data)

    def update_global_process_info(self, infos: Sequence[Mapping[str, Any]]) -> None:
        """Tell the client about other processes (``PJRT_Client_UpdateGlobalProcessInfo``).

        Each info: ``{"incarnation_id": int, "state": PJRT_ProcessState, "error": PjrtError | None}``.
        """
        array = (_abi.PJRT_ProcessInfo * max(len(infos), 1))()
        keep = []
        for i, (slot, info) in enumerate(zip(array, infos)):
            unknown = set(info) - {"incarnation_id", "state", "error"}
            if unknown:
                raise ValueError(f"infos[{i}]: unknown keys {sorted(unknown)}")
            slot.struct_size = struct_size(_abi.PJRT_ProcessInfo)
            slot.incarnation_id = int(info.get("incarnation_id", 0))
            # ValueError for a state the C API lacks
            slot.state = _abi.PJRT_ProcessState(info.get("state", _abi.PJRT_ProcessState.PJRT_ProcessState_kConnected))
            error = info.get("error")
            if error is not None:
                slot.error_code, message = error_fields(error, f"infos[{i}]['error']")
                keep.append(message)
                slot.error_message, slot.error_message_size = c_bytes_address(message), len(message)
        self._call("PJRT_Client_UpdateGlobalProcessInfo", _abi.PJRT_Client_UpdateGlobalProcessInfo_Args,
                   process_infos=ctypes.addressof(array), num_process_infos=len(infos))

    def load(self, executable: Any, options: CompileOptions | None = None) -> "LoadedExecutable":
        """Load a compiled :class:`Executable` (e.g. from ``PJRT_Compile``) (``PJRT_Client_Load``)."""
        from .executable import Executable, LoadedExecutable
        if not isinstance(executable, Executable) or executable._client is not self:
            raise ValueError(f"executable must be an Executable of this client, got {executable!r}")
        opts = (options or CompileOptions()).to_bytes()
        a = self._call("PJRT_Client_Load", _abi.PJRT_Client_Load_Args, executable=executable.handle,
                       compile_options=c_bytes_address(opts), compile_options_size=len(opts))
        return LoadedExecutable(self, a.loaded_executable)

    def topology_description(self) -> Any:
        """The client's topology, borrowed (``PJRT_Client_TopologyDescription``)."""
        from .topology import TopologyDescription
        a = self._call("PJRT_Client_TopologyDescription", _abi.PJRT_Client_TopologyDescription_Args)
        return TopologyDescription(self, a.topology, owned=False)

    def create_execute_context(self) -> Any:
        """A new :class:`ExecuteContext` (``PJRT_ExecuteContext_Create``)."""
        from .execute_context import ExecuteContext
        return ExecuteContext.create(self)

    def __repr__(self) -> str:
        if self._closed:
            return "<pjrt Client closed>"
        return f"<pjrt Client {self.platform_name} {self.platform_version!r} api={self.api.version}>"


def _host_memory(array: np.ndarray) -> np.ndarray:
    """``array`` if it is one contiguous block of host memory (what DMA mapping takes)."""
    if not isinstance(array, np.ndarray) or not array.flags.c_contiguous:
        raise TypeError("array must be a C-contiguous numpy array")
    return array


# Owners of device-buffer views, released when the plugin deletes the view (a
# null on-delete callback aborts the CPU plugins).
_view_owners: dict[int, object] = {}
_view_keys = itertools.count(1)


def _view_deleted(_pointer: int | None, key: int | None) -> None:
    _view_owners.pop(key or 0, None)


_VIEW_DELETED = field_types(_abi.PJRT_Client_CreateViewOfDeviceBuffer_Args)["on_delete_callback"](_view_deleted)


def _close_all() -> None:
    for client in list(_CLIENTS):
        try:
            client.close()
        except Exception:  # noqa: BLE001 - exiting anyway
            pass


def _after_fork_in_child() -> None:
    global _FORKED
    _FORKED = True
    for client in list(_CLIENTS):
        client._lock = threading.RLock()  # a thread of the parent may have held it at fork
        client._closed = True


atexit.register(_close_all)
os.register_at_fork(after_in_child=_after_fork_in_child)
