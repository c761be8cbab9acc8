"""The CUDA branch of DLPack (kDLCUDA, consumer streams, the Stream extension), driven through a
fake plugin whose client, device and buffers stand for a GPU's: the code under test fills the same
args structs and calls the same function pointers as it would on XLA's CUDA plugin.
"""

from __future__ import annotations

import ctypes
import gc

import numpy as np
import pytest

from fake_plugin import FakePlugin, function
from pjrt_array import _devices, _dlpack
from pjrt_array._array import Array
from pjrt_array._pjrt import Buffer, Client, _abi
from pjrt_array._pjrt import Device as PjrtDevice
from pjrt_array._pjrt._loader import Plugin
from pjrt_array._pjrt.extensions import ExtensionType

ORDINAL = 3
SOURCE, VIEW = 0xB1, 0xB2
POINTER = 0x7F0000001000  # the "device address" of SOURCE's data
PLUGIN_STREAM = 0x5EED


class FakeGpu:
    """A fake CUDA plugin: one device (ordinal 3), buffers by handle, optionally the Stream extension."""

    def __init__(self, stream_extension: bool = True, pointer: int = POINTER) -> None:
        self.fake = fake = FakePlugin()
        self.pointer = pointer
        self.log: list[tuple] = []
        self.views: dict[int, tuple] = {}
        core = fake._core
        core("PJRT_Client_Create", _abi.PJRT_Client_Create_Args, lambda a: setattr(a, "client", 0xC1))
        core("PJRT_Client_Destroy", _abi.PJRT_Client_Destroy_Args, lambda a: None)
        core("PJRT_Device_GetDescription", _abi.PJRT_Device_GetDescription_Args,
             lambda a: setattr(a, "device_description", 0xDD))
        core("PJRT_DeviceDescription_Id", _abi.PJRT_DeviceDescription_Id_Args, lambda a: setattr(a, "id", 0))
        core("PJRT_Device_LocalHardwareId", _abi.PJRT_Device_LocalHardwareId_Args,
             lambda a: setattr(a, "local_hardware_id", ORDINAL))
        core("PJRT_Buffer_Destroy", _abi.PJRT_Buffer_Destroy_Args, self._destroy)
        core("PJRT_Buffer_UnsafePointer", _abi.PJRT_Buffer_UnsafePointer_Args,
             lambda a: setattr(a, "buffer_pointer", self.pointer if a.buffer == SOURCE else self.views[a.buffer][0]))
        core("PJRT_Buffer_IncreaseExternalReferenceCount", _abi.PJRT_Buffer_IncreaseExternalReferenceCount_Args,
             lambda a: self.log.append(("ref+", a.buffer)))
        core("PJRT_Buffer_DecreaseExternalReferenceCount", _abi.PJRT_Buffer_DecreaseExternalReferenceCount_Args,
             lambda a: self.log.append(("ref-", a.buffer)))
        core("PJRT_Buffer_ReadyEvent", _abi.PJRT_Buffer_ReadyEvent_Args, self._ready_event)
        core("PJRT_Client_CreateViewOfDeviceBuffer", _abi.PJRT_Client_CreateViewOfDeviceBuffer_Args, self._view)
        if stream_extension:
            fake.add_extension(_abi.PJRT_Stream_Extension, ExtensionType.PJRT_Extension_Type_Stream, {
                "get_stream": self._get_stream,
                "wait_stream": lambda a: self.log.append(("wait", a.stream, a.buffer)),
            })
        self.client = Client(Plugin("<fake cuda plugin>", None, fake.api))
        self.device = _devices.Device(PjrtDevice(self.client, 0xDE), "cuda")

    def _get_stream(self, a) -> None:
        self.log.append(("get_stream", a.device))
        a.stream = PLUGIN_STREAM

    def _ready_event(self, a) -> None:
        self.log.append(("host wait", a.buffer))
        a.event = 0xE1

    def _view(self, a) -> None:
        dims = tuple((ctypes.c_int64 * a.num_dims).from_address(a.dims))
        callback = function(a.on_delete_callback, ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p))
        self.views[VIEW] = (a.device_buffer_ptr, callback, a.on_delete_callback_arg)
        self.log.append(("view", a.device_buffer_ptr, dims, a.element_type, a.device, a.stream))
        a.buffer = VIEW

    def _destroy(self, a) -> None:
        self.log.append(("destroy", a.buffer))
        view = self.views.pop(a.buffer, None)
        if view is not None:  # as the plugin does: the view's owner is told when it goes
            pointer, callback, arg = view
            callback(pointer, arg)

    def array(self) -> Array:
        buffer = Buffer(self.client, SOURCE, np.dtype(np.float32), (2, 3))
        return Array._from_buffer(buffer, ((2, 3), np.dtype(np.float32)), self.device)


@pytest.fixture
def gpu():
    g = FakeGpu()
    yield g
    g.client.close()


def tensor(capsule) -> _dlpack._DLTensor:
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    return _dlpack._DLManagedTensorVersioned.from_address(get(capsule, b"dltensor_versioned")).dl_tensor


def test_export_describes_the_device_memory_and_waits_on_the_consumers_stream(gpu):
    x = gpu.array()
    assert x.__dlpack_device__() == (2, ORDINAL)
    capsule = x.__dlpack__(stream=0xABC, max_version=(1, 0))
    t = tensor(capsule)
    assert (t.device.device_type, t.device.device_id) == (2, ORDINAL)
    assert t.data == POINTER and t.ndim == 2
    assert list((ctypes.c_int64 * 2).from_address(t.shape)) == [2, 3]
    assert list((ctypes.c_int64 * 2).from_address(t.strides)) == [3, 1]
    assert (t.dtype.code, t.dtype.bits, t.dtype.lanes) == (2, 32, 1)
    assert gpu.log == [("wait", 0xABC, SOURCE), ("ref+", SOURCE)]  # no host wait
    del capsule, t
    gc.collect()
    assert gpu.log[-1] == ("ref-", SOURCE)


def test_versioned_device_exports_are_writable(gpu):
    flags_of = ctypes.pythonapi.PyCapsule_GetPointer
    flags_of.restype, flags_of.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    capsule = gpu.array().__dlpack__(max_version=(1, 0))
    assert _dlpack._DLManagedTensorVersioned.from_address(flags_of(capsule, b"dltensor_versioned")).flags == 0


@pytest.mark.parametrize("stream, expected", [(None, [("wait", 1, SOURCE)]), (2, [("wait", 2, SOURCE)]),
                                              (-1, [])])
def test_stream_none_is_the_legacy_default_and_minus_one_waits_for_nothing(gpu, stream, expected):
    gpu.array().__dlpack__(stream=stream)
    assert [e for e in gpu.log if e[0] in ("wait", "host wait")] == expected


def test_stream_zero_is_refused_for_cuda(gpu):
    with pytest.raises(ValueError, match="stream=0 is ambiguous"):
        gpu.array().__dlpack__(stream=0)


def test_without_the_stream_extension_the_host_waits(monkeypatch):
    g = FakeGpu(stream_extension=False)
    monkeypatch.setattr(_dlpack, "_device_for", lambda kind, ordinal: g.device)
    try:
        g.array().__dlpack__(stream=0xABC)
        assert g.log[0] == ("host wait", SOURCE)
        with pytest.raises(BufferError, match="no Stream extension"):
            _dlpack.from_dlpack(Producer(g.array()))
    finally:
        g.client.close()


class Producer:
    """A foreign CUDA tensor: here our own fake array's export, reported on (kDLCUDA, ORDINAL)."""

    def __init__(self, array: Array) -> None:
        self.array, self.calls = array, []

    def __dlpack__(self, **kwargs):
        self.calls.append(kwargs)
        return self.array.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return (2, ORDINAL)


def test_import_views_the_producers_memory_on_the_plugins_stream(gpu, monkeypatch):
    monkeypatch.setattr(_dlpack, "_device_for", lambda kind, ordinal: gpu.device)
    producer = Producer(gpu.array())
    y = _dlpack.from_dlpack(producer)
    assert producer.calls == [{"stream": PLUGIN_STREAM, "max_version": (1, 0)}]
    f32 = _abi.PJRT_Buffer_Type.PJRT_Buffer_Type_F32
    assert gpu.log == [("get_stream", 0xDE), ("wait", PLUGIN_STREAM, SOURCE), ("ref+", SOURCE),
                       ("view", POINTER, (2, 3), f32, 0xDE, PLUGIN_STREAM)]
    assert y.shape == (2, 3) and y.dtype == np.float32 and y.device is gpu.device
    assert y._buffer._handle == VIEW and y._buffer.unsafe_pointer() == POINTER
    y._buffer.close()  # the plugin deletes the view: the producer's deleter runs
    gc.collect()
    assert gpu.log[-2:] == [("destroy", VIEW), ("ref-", SOURCE)]


def test_non_contiguous_device_tensors_are_refused(gpu, monkeypatch):
    monkeypatch.setattr(_dlpack, "_device_for", lambda kind, ordinal: gpu.device)
    monkeypatch.setattr(_dlpack, "_strides", lambda buffer, shape, itemsize: [1, 2])
    with pytest.raises(BufferError, match="make it contiguous"):
        _dlpack.from_dlpack(Producer(gpu.array()))
    gc.collect()
    assert ("ref-", SOURCE) in gpu.log  # the unconsumed capsule was released


def test_unaligned_device_tensors_are_refused(monkeypatch):
    g = FakeGpu(pointer=POINTER + 4)
    monkeypatch.setattr(_dlpack, "_device_for", lambda kind, ordinal: g.device)
    try:
        with pytest.raises(BufferError, match="16-byte aligned"):
            _dlpack.from_dlpack(Producer(g.array()))
        assert not any(e[0] == "view" for e in g.log)
    finally:
        g.client.close()
