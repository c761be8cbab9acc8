"""The binding's hot-path buffer calls (_pjrt/buffer_hot.py): copies in from host memory, readiness
queries and host views, with per-thread args structs."""


import ml_dtypes
import numpy as np
import pytest

import pjrt_array as xp
from pjrt_array._pjrt import Buffer, PjrtError
from pjrt_array._pjrt import buffer_hot
from pjrt_array._pjrt.errors import InvalidArgument
from helpers import run_in_threads

pytestmark = pytest.mark.cpu_only


@pytest.fixture
def device():
    return xp.asarray(0.0).device


def _upload(device, array):
    client = device.client
    handle = buffer_hot.copy_from_host(client.api, client.handle, array, device.handle)
    return Buffer(client, handle, array.dtype, array.shape)


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint16, np.int64, np.float16, np.float32, np.float64,
                                   np.complex64, np.complex128, ml_dtypes.bfloat16])
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 0, 4), (2, 3, 4), (1,) * 16])
def test_copies_are_the_arrays_values(device, dtype, shape):
    rng = np.random.default_rng(0)
    array = np.asarray(rng.standard_normal(shape) * 10).astype(dtype)
    buffer = _upload(device, array)
    assert buffer.to_numpy().tobytes() == array.tobytes()
    assert buffer.dimensions == shape
    host = buffer.numpy_view(known_on_host=True, ready=buffer_hot.is_ready(device.client.api, buffer.handle))
    assert host.tobytes() == array.tobytes()


def test_a_read_only_array_is_copied_too(device):
    array = np.arange(6.0).reshape(2, 3)
    array.flags.writeable = False
    assert _upload(device, array).to_numpy().tolist() == array.tolist()


def test_the_copy_is_made_during_the_call(device):
    array = np.arange(4.0)
    buffer = _upload(device, array)
    array[:] = -1.0
    assert buffer.to_numpy().tolist() == [0.0, 1.0, 2.0, 3.0]


def test_more_than_sixteen_dimensions_are_refused(device):
    with pytest.raises(ValueError, match="rank at most 16"):
        _upload(device, np.zeros((1,) * 17))


def test_readiness_of_a_computed_and_of_a_failed_buffer(device):
    x = xp.asarray(np.arange(3.0)) + 1.0
    buf = x._buffer
    buf.block_until_ready()
    assert buffer_hot.is_ready(device.client.api, buf.handle) is True
    if not device.client.api.has("PJRT_Client_CreateErrorBuffer"):
        pytest.skip("the plugin cannot make error buffers (PJRT API < 0.82)")
    failed = device.client.create_error_buffer(InvalidArgument("it failed"), (3,), np.float64,
                                               device.pjrt.default_memory())
    with pytest.raises(PjrtError, match="it failed"):
        buffer_hot.is_ready(device.client.api, failed.handle)
    with pytest.raises(PjrtError, match="it failed"):
        buffer_hot.wait_ready(device.client.api, failed.handle)


def test_host_views_pin_and_release_their_buffer(device):
    x = xp.asarray(np.arange(5.0) * 2.0)  # a device buffer (an op's small result is a host value)
    buf = x._buffer
    view = buf.numpy_view(known_on_host=True)
    assert view.tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]
    pins = device.client._pins
    assert pins.get(buf._handle) == 1
    del view
    assert buf._handle not in pins


def test_eight_threads_copy_in_at_once(device):
    def work(i):
        for k in range(200):
            array = np.full((i + 1, 3), float(i * 1000 + k))
            assert _upload(device, array).to_numpy().tolist() == array.tolist()

    run_in_threads(work)


@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 0, 4), (2, 3, 4)])
def test_transient_view_reads_the_current_memory(device, shape):
    """``Buffer.transient_view``: made once, read-only, the buffer's own memory (a write through a
    writable view shows in it), refused once the buffer is closed."""
    array = np.arange(np.prod(shape, dtype=int), dtype=np.float64).reshape(shape)
    buffer = _upload(device, array)
    view = buffer.transient_view()
    assert view.shape == shape and view.dtype == np.float64 and view.tobytes() == array.tobytes()
    assert not view.flags.writeable and buffer.transient_view() is view
    if array.size:
        writable = buffer.numpy_view(known_on_host=True, writable=True)
        writable[...] = -1.0
        del writable
        assert (view == -1.0).all()
    buffer.close()
    with pytest.raises(Exception, match="closed"):
        buffer.transient_view()
