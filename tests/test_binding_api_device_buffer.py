"""PJRT_Device extras and the PJRT_Buffer functions beyond upload/download, on both CPU plugins:
each works where the plugin implements it, or the refusal is the recorded one
(plugin_expectations.py); the callbacks a plugin hands out are completed exactly once."""

import gc

import numpy as np
import pytest

from binding_support import _shared_clients, client, new_client, plugin_info  # noqa: F401 - fixtures
from plugin_expectations import implements, outcome
from pjrt_array._pjrt import Buffer
from pjrt_array._pjrt.device import AsyncTrackingEvent
from pjrt_array._pjrt.errors import Cancelled, ClosedError, InvalidArgument, NotFound, PjrtError, Unimplemented


# -- devices ----------------------------------------------------------------------------------------

def test_poison_execution_of_no_running_launch(client):
    device = client.addressable_devices()[0]
    poisoned = outcome(client, "PJRT_Device_PoisonExecution",
                       lambda: device.poison_execution(12345, InvalidArgument("poison")))
    assert poisoned in (None, False)  # nothing runs with that launch id
    with pytest.raises(TypeError, match="PjrtError"):
        device.poison_execution(1, ValueError("not a PJRT error"))
    with pytest.raises(ValueError, match="other than OK"):
        device.poison_execution(1, PjrtError("ok?", code=0))
    with pytest.raises(ValueError, match="int32"):
        device.poison_execution(2**31, InvalidArgument("poison"))


def test_async_tracking_event(client):
    device = client.addressable_devices()[0]
    event = outcome(client, "PJRT_Device_CreateAsyncTrackingEvent",
                    lambda: device.create_async_tracking_event("copying weights"))
    if event is None:
        return
    assert isinstance(event, AsyncTrackingEvent)
    event.close()  # PJRT_AsyncTrackingEvent_Destroy, once
    event.close()


def test_device_attributes_and_memory_stats(client):
    device = client.addressable_devices()[0]
    attributes = outcome(client, "PJRT_Device_GetAttributes", device.get_attributes)
    assert attributes in (None, {})
    outcome(client, "PJRT_Device_ClearMemoryStats", device.clear_memory_stats)
    with pytest.raises(Unimplemented, match="GetAllocatorStats"):
        device.memory_stats()  # both CPU plugins: no allocator statistics


# -- buffers ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("array, minor_to_major", [
    (np.arange(4, dtype=np.float32), (0,)),
    (np.zeros((2, 3), np.int8), (1, 0)),
    (np.zeros((2, 1, 3), np.complex64), (2, 1, 0)),
    (np.float64(1.5), ()),
])
def test_memory_layout_is_row_major(client, array, minor_to_major):
    b = client.buffer_from_numpy(array)
    assert b.memory_layout() == {"type": "tiled", "minor_to_major": minor_to_major, "num_tiles": 0}


def test_opaque_device_memory_pointer_is_the_data_on_cpu(client):
    b = client.buffer_from_numpy(np.arange(4, dtype=np.float32))
    assert b.opaque_device_memory_pointer() == b.unsafe_pointer() != 0


@pytest.mark.parametrize("offset, size", [(0, None), (4, 8), (16, 0), (12, None)])
def test_copy_raw_to_host(client, offset, size):
    data = np.array([1.5, -0.0, np.nan, np.inf], np.float32)
    b = client.buffer_from_numpy(data)
    end = 16 if size is None else offset + size
    assert b.copy_raw_to_host(offset, size) == data.tobytes()[offset:end]


@pytest.mark.parametrize("offset, size", [(-4, 4), (0, 17), (8, 9), (20, None), (0, -1)])
def test_copy_raw_to_host_outside_the_buffer_is_refused(client, offset, size):
    b = client.buffer_from_numpy(np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="within the buffer"):
        b.copy_raw_to_host(offset, size)
    with pytest.raises(ValueError, match="within the buffer"):
        b.copy_raw_to_host_future(offset, size)


def test_copy_raw_to_host_future(client):
    data = np.arange(8, dtype=np.int16)
    b = client.buffer_from_numpy(data)
    started = outcome(client, "PJRT_Buffer_CopyRawToHostFuture", lambda: b.copy_raw_to_host_future(2, 8))
    if started is None:
        return
    event, deliver = started
    assert not event.is_ready()  # nothing is copied before the destination is known
    with pytest.raises(ValueError, match="at least 8 bytes"):
        deliver(bytearray(4))
    with pytest.raises(ValueError, match="writable"):
        deliver(bytes(8))
    dst = np.zeros(4, np.int16)  # any writable buffer
    deliver(dst)
    event.wait()
    np.testing.assert_array_equal(dst, data[1:5])
    with pytest.raises(ValueError, match="already completed"):
        deliver(bytearray(8))


def test_copy_raw_to_host_future_failed_or_dropped(client):
    if not implements(client, "PJRT_Buffer_CopyRawToHostFuture"):
        pytest.skip("the plugin has no PJRT_Buffer_CopyRawToHostFuture (test_copy_raw_to_host_future checks that)")
    b = client.buffer_from_numpy(np.zeros(4, np.float32))
    event, deliver = b.copy_raw_to_host_future()
    deliver(error=NotFound("no room"))
    with pytest.raises(NotFound, match="no room"):
        event.wait()
    event, deliver = b.copy_raw_to_host_future()
    del deliver
    gc.collect()  # dropped uncalled: the copy fails instead of hanging its waiters
    with pytest.raises(Cancelled, match="dropped"):
        event.wait()


def test_bitcast(client):
    data = np.array([1.0, -2.0, np.nan, 0.5], np.float32)
    b = client.buffer_from_numpy(data)
    cast = outcome(client, "PJRT_Buffer_Bitcast", lambda: b.bitcast(np.uint32, (2, 2)))
    if cast is None:
        return
    assert isinstance(cast, Buffer) and (cast.shape, cast.dtype) == ((2, 2), np.uint32)
    np.testing.assert_array_equal(cast.to_numpy(), data.view(np.uint32).reshape(2, 2))
    assert b.is_deleted  # the CPU plugin moves the data into the new buffer
    other = client.buffer_from_numpy(data)
    with pytest.raises(InvalidArgument, match="same size"):
        other.bitcast(np.int8)
    np.testing.assert_array_equal(other.bitcast(np.int32).to_numpy(), data.view(np.int32))


def test_bitcast_bad_arguments_are_refused_before_the_plugin(client):
    b = client.buffer_from_numpy(np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="shape"):
        b.bitcast(np.int32, (-4,))
    with pytest.raises(TypeError, match="dtype"):
        b.bitcast(object)


def test_donate_with_control_dependency(client):
    b = client.buffer_from_numpy(np.arange(4, dtype=np.float32))
    donated = outcome(client, "PJRT_Buffer_DonateWithControlDependency", b.donate_with_control_dependency)
    if donated is None:
        np.testing.assert_array_equal(b.to_numpy(), np.arange(4))  # the refusal left the buffer intact
        return
    out, ready = donated
    ready()
    np.testing.assert_array_equal(out.to_numpy(), np.arange(4))
    with pytest.raises(ValueError, match="already completed"):
        ready()


def test_plugin_callbacks_after_the_client_closed_are_refused(new_client):
    c = new_client()
    if not implements(c, "PJRT_Buffer_CopyRawToHostFuture"):
        pytest.skip("needs PJRT_Buffer_CopyRawToHostFuture")
    _, deliver = c.buffer_from_numpy(np.zeros(2, np.float32)).copy_raw_to_host_future()
    c.close()
    with pytest.raises(ClosedError):
        deliver(bytearray(8))  # the plugin's state is gone with the client
