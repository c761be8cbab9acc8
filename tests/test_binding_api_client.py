"""PJRT_Client's buffer factories and services on both CPU plugins: each wrapper works where
the plugin implements the function, or reports the refusal (see plugin_expectations.py) —
never a crash.  Several of these abort the plugins when misused; the bad-input tests show
the wrappers refuse such input first."""

import gc
import time

import numpy as np
import pytest

from binding_support import _shared_clients, client, new_client, plugin_info  # noqa: F401 - fixtures
from plugin_expectations import implements, outcome
from pjrt_array._pjrt import Buffer, PjrtError
from pjrt_array._pjrt import client as client_module
from pjrt_array._pjrt.errors import ClosedError, InvalidArgument, NotFound
from pjrt_array._pjrt.execute_context import ExecuteContext
from pjrt_array._pjrt.transfer import AsyncHostToDeviceTransferManager


def _memory(client):
    return client.addressable_devices()[0].default_memory()


# -- buffers without host data -----------------------------------------------------------------

@pytest.mark.parametrize("shape, dtype, nbytes", [((2, 3), np.float32, 24), ((), np.int64, 8), ((0, 4), np.int8, 0)])
def test_uninitialized_buffer(client, shape, dtype, nbytes):
    b = client.create_uninitialized_buffer(shape, dtype)
    assert (b.shape, b.dtype, b.dimensions) == (shape, np.dtype(dtype), shape)
    assert b.on_device_size_in_bytes == nbytes
    assert b.device == client.addressable_devices()[0]
    assert b.to_numpy().shape == shape  # undefined contents, but readable
    in_memory = client.create_uninitialized_buffer(shape, dtype, memory=_memory(client))
    assert in_memory.memory == _memory(client)


@pytest.mark.parametrize("shape, dtype, error, match", [
    ((-1,), np.float32, ValueError, "shape"),  # the plugins abort on a negative dimension
    ((2, "x"), np.float32, TypeError, "shape"),
    (3, np.float32, TypeError, "shape"),
    ((2,), object, TypeError, "dtype"),
    ((2,), "not a dtype", TypeError, "dtype"),
])
def test_bad_shapes_and_dtypes_are_refused_before_the_plugin(client, shape, dtype, error, match):
    for make in (lambda: client.create_uninitialized_buffer(shape, dtype),
                 lambda: client.create_error_buffer(InvalidArgument("e"), shape, dtype, _memory(client)),
                 lambda: client.create_alias_buffer(shape, dtype, _memory(client)),
                 lambda: client.create_buffers_for_async_host_to_device([(shape, dtype)], _memory(client))):
        with pytest.raises(error, match=match):
            make()


def test_devices_and_memories_of_another_client_are_refused(client, new_client):
    other = new_client()
    with pytest.raises(ValueError, match="device"):
        client.create_uninitialized_buffer((2,), np.float32, other.addressable_devices()[0])
    with pytest.raises(ValueError, match="memory"):
        client.create_uninitialized_buffer((2,), np.float32, memory=_memory(other))
    with pytest.raises(ValueError, match="memory"):
        client.create_alias_buffer((2,), np.float32, _memory(other))


def test_error_buffer(client):
    err = outcome(client, "PJRT_Client_CreateErrorBuffer",
                  lambda: client.create_error_buffer(NotFound("boom"), (2,), np.float32, _memory(client)))
    if err is None:
        return
    assert (err.shape, err.dtype) == ((2,), np.float32)
    with pytest.raises(NotFound, match="boom"):
        err.block_until_ready()
    with pytest.raises(NotFound, match="boom"):
        err.to_numpy()


def test_view_of_device_buffer_shares_memory_and_releases_its_owner(client):
    src = client.buffer_from_numpy(np.arange(6, dtype=np.float32))
    owner = object()
    held = len(client_module._view_owners)
    view = client.create_view_of_device_buffer(src.unsafe_pointer(), (2, 3), np.float32, owner=owner)
    assert isinstance(view, Buffer) and view.shape == (2, 3)
    assert view.unsafe_pointer() == src.unsafe_pointer()
    np.testing.assert_array_equal(view.to_numpy(), np.arange(6, dtype=np.float32).reshape(2, 3))
    assert len(client_module._view_owners) == held + 1
    view.close()  # the plugin's on-delete callback releases the owner, once the memory is free:
    deadline = time.monotonic() + 10  # the plugin may free it after its own pending work
    while len(client_module._view_owners) != held and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(client_module._view_owners) == held


@pytest.mark.parametrize("pointer", [0, -8, None, 1.5, True])
def test_view_of_a_null_or_non_address_is_refused(client, pointer):
    with pytest.raises(ValueError, match="pointer"):
        client.create_view_of_device_buffer(pointer, (2,), np.float32)


def test_alias_buffer_fulfilled_by_a_buffer(client):
    alias = client.create_alias_buffer((2, 2), np.float32, _memory(client))
    assert alias.shape == (2, 2)
    client.fulfill_alias_buffer(alias, client.buffer_from_numpy(np.array([[1, 2], [3, 4]], np.float32)))
    np.testing.assert_array_equal(alias.to_numpy(), [[1, 2], [3, 4]])
    with pytest.raises(ValueError, match="not an unfulfilled alias"):
        client.fulfill_alias_buffer(alias, client.buffer_from_numpy(np.zeros((2, 2), np.float32)))


def test_alias_buffer_failed_or_mismatched(client):
    failed = client.create_alias_buffer((2,), np.float32, _memory(client))
    with pytest.raises(InvalidArgument, match="nope"):
        client.fulfill_alias_buffer(failed, None, InvalidArgument("nope"))
    with pytest.raises(InvalidArgument, match="nope"):
        failed.to_numpy()
    mismatched = client.create_alias_buffer((3,), np.float32, _memory(client))
    with pytest.raises(InvalidArgument, match="[Ss]hape mismatch"):
        client.fulfill_alias_buffer(mismatched, client.buffer_from_numpy(np.zeros(2, np.float32)))
    with pytest.raises(InvalidArgument):
        mismatched.to_numpy()  # the plugin failed the alias with the mismatch


def test_alias_buffer_bad_fulfilment_is_refused(client, new_client):
    alias = client.create_alias_buffer((2,), np.float32, _memory(client))
    source = client.buffer_from_numpy(np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="exactly one"):
        client.fulfill_alias_buffer(alias, None)  # neither: a null buffer with status OK crashes
    with pytest.raises(ValueError, match="exactly one"):
        client.fulfill_alias_buffer(alias, source, InvalidArgument("both"))
    with pytest.raises(ValueError, match="another client"):
        client.fulfill_alias_buffer(alias, new_client().buffer_from_numpy(np.zeros(2, np.float32)))
    with pytest.raises(ValueError, match="not an unfulfilled alias"):
        client.fulfill_alias_buffer(source, source)
    client.fulfill_alias_buffer(alias, source)  # still open after the refusals
    np.testing.assert_array_equal(alias.to_numpy(), [0, 0])


def test_dropped_alias_buffer_never_crashes(client):
    client.create_alias_buffer((2,), np.float32, _memory(client)).close()
    gc.collect()  # unfulfilled: kept until the process ends instead of aborting the plugin


# -- async host-to-device transfers ---------------------------------------------------------------

def test_async_transfer_manager_facts_and_data(client):
    manager = client.create_buffers_for_async_host_to_device([((4,), np.float32), ((2, 2), np.int32)],
                                                             _memory(client))
    assert isinstance(manager, AsyncHostToDeviceTransferManager)
    assert manager.buffer_count == 2
    assert (manager.buffer_size(0), manager.buffer_size(1)) == (16, 16)
    assert manager.device == client.addressable_devices()[0]
    first = manager.transfer_data(0, np.array([1, 2], np.float32), offset=0, is_last=False)
    manager.transfer_data(0, np.array([3, 4], np.float32), offset=8).wait()
    first.wait()
    literal = np.arange(4, dtype=np.int32).reshape(2, 2)
    literal_slot = "PJRT_AsyncHostToDeviceTransferManager_TransferLiteral"
    if implements(client, literal_slot):
        manager.transfer_literal(1, literal).wait()
    else:
        outcome(client, literal_slot, lambda: manager.transfer_literal(1, literal))
        manager.transfer_data(1, literal).wait()
    np.testing.assert_array_equal(manager.retrieve_buffer(0).to_numpy(), [1, 2, 3, 4])
    np.testing.assert_array_equal(manager.retrieve_buffer(1).to_numpy(), literal)
    manager.add_metadata({"source": "test"})
    manager.close()
    with pytest.raises(ClosedError):
        manager.buffer_count


def test_async_transfer_buffer_retrieved_before_its_data(client):
    manager = client.create_buffers_for_async_host_to_device([((3,), np.float64)], _memory(client))
    early = manager.retrieve_buffer(0)
    assert not early.ready_event().is_ready()
    manager.transfer_data(0, np.array([1.5, -0.0, np.inf])).wait()
    np.testing.assert_array_equal(early.to_numpy(), [1.5, -0.0, np.inf])
    assert np.signbit(early.to_numpy()[1])


def test_async_transfer_errors(client):
    manager = client.create_buffers_for_async_host_to_device([((4,), np.float32), ((2,), np.float32)],
                                                             _memory(client))
    # Bytes outside the buffer: the plugins would refuse, then abort on the next transfer.
    for data, offset in ((np.zeros(8, np.float32), 0), (np.zeros(1, np.float32), 16), (np.zeros(1, np.int8), -1)):
        with pytest.raises(ValueError, match="do not fit"):
            manager.transfer_data(0, data, offset=offset, is_last=False)
    manager.set_buffer_error(1, NotFound("no data"))
    with pytest.raises(NotFound, match="no data"):
        manager.retrieve_buffer(1).block_until_ready()
    manager.transfer_data(0, np.zeros(4, np.float32)).wait()
    np.testing.assert_array_equal(manager.retrieve_buffer(0).to_numpy(), np.zeros(4))


def test_async_transfer_bad_use_is_refused_before_the_plugin(client):
    manager = client.create_buffers_for_async_host_to_device([((4,), np.float32)], _memory(client))
    for index in (1, -1):  # the plugins read their tables at an unchecked index
        for call in (manager.retrieve_buffer, manager.buffer_size,
                     lambda i: manager.transfer_data(i, np.zeros(4, np.float32))):
            with pytest.raises(IndexError):
                call(index)
    with pytest.raises(TypeError):
        manager.buffer_size("0")
    with pytest.raises(ValueError, match="is float32"):
        manager.transfer_literal(0, np.zeros((2, 2), np.float32))  # same bytes, wrong shape
    with pytest.raises(ValueError, match="is float32"):
        manager.transfer_literal(0, np.zeros(4, np.int32))
    with pytest.raises(TypeError):
        manager.add_metadata({"n": 1})  # the plugins abort on non-string metadata values
    manager.transfer_data(0, np.ones(4, np.float32)).wait()
    with pytest.raises(ValueError, match="already completed"):
        manager.set_buffer_error(0, InvalidArgument("late"))  # a second completion aborts the plugins
    with pytest.raises(ValueError, match="already completed"):
        manager.transfer_data(0, np.ones(4, np.float32))
    manager.retrieve_buffer(0)
    with pytest.raises(ValueError, match="already retrieved"):
        manager.retrieve_buffer(0)  # the plugins hand out a null buffer the second time
    with pytest.raises(ValueError, match="at least one"):
        client.create_buffers_for_async_host_to_device([], _memory(client))


# -- other client services -----------------------------------------------------------------------

def test_dma_map_and_unmap(client):
    host = np.ones(64, np.uint8)
    mapped = outcome(client, "PJRT_Client_DmaMap", lambda: client.dma_map(host))
    outcome(client, "PJRT_Client_DmaUnmap", lambda: client.dma_unmap(host))
    assert mapped is None  # both CPU plugins refuse: DMA mapping is for accelerators
    with pytest.raises(TypeError, match="contiguous"):
        client.dma_map(np.ones((4, 4), np.uint8)[:, ::2])
    with pytest.raises(TypeError, match="numpy"):
        client.dma_map(b"bytes")


def test_update_global_process_info(client):
    connected = {"incarnation_id": 1}
    failed = {"incarnation_id": 2, "state": 4, "error": InvalidArgument("gone")}
    assert outcome(client, "PJRT_Client_UpdateGlobalProcessInfo",
                   lambda: client.update_global_process_info([connected, failed])) is None
    client.update_global_process_info([])
    with pytest.raises(ValueError, match="unknown keys"):
        client.update_global_process_info([{"incarnation": 1}])
    with pytest.raises(ValueError):
        client.update_global_process_info([{"state": 99}])


def test_load_an_executable(client, new_client):
    exe = client.compile("""func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = stablehlo.add %a, %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}""")
    outcome(client, "PJRT_Client_Load", lambda: client.load(exe.executable))
    with pytest.raises(ValueError, match="Executable of this client"):
        new_client().load(exe.executable)
    with pytest.raises(ValueError, match="Executable of this client"):
        client.load(exe)


def test_execute_context_create_and_destroy(client):
    context = client.create_execute_context()
    assert isinstance(context, ExecuteContext) and context.handle
    context.close()
    context.close()
    with pytest.raises(ClosedError):
        context.handle


def test_errors_from_the_plugin_are_read_and_destroyed(client):
    """A compile error goes through PJRT_Error_Message, PJRT_Error_GetCode, PJRT_Error_ForEachPayload
    and PJRT_Error_Destroy: the exception carries the plugin's code and message."""
    with pytest.raises(PjrtError) as info:
        client.compile("this is not StableHLO")
    assert "custom op 'this' is unknown" in info.value.message  # the plugin's parser diagnostic
    assert info.value.code != 0 and type(info.value) is not PjrtError  # the class of its code
    assert isinstance(info.value.payloads, dict)


@pytest.mark.parametrize("replicas, partitions", [(0, 1), (1, 0), (-1, 1), (1.0, 1), (True, 1)])
def test_default_device_assignment_of_no_devices_is_refused(client, replicas, partitions):
    with pytest.raises(ValueError, match="positive int"):  # the plugins abort on 0 or fewer
        client.default_device_assignment(replicas, partitions)


@pytest.mark.parametrize("make", [
    lambda c, m: c.create_error_buffer("not an error", (2,), np.float32, m),
    lambda c, m: c.create_error_buffer(PjrtError("ok?", code=0), (2,), np.float32, m),
    lambda c, m: c.create_buffers_for_async_host_to_device([((2,), np.float32)], m).set_buffer_error(0, "x"),
    lambda c, m: c.update_global_process_info([{"error": ValueError("x")}]),
])
def test_errors_given_to_the_plugin_must_be_pjrt_errors(client, make):
    with pytest.raises((TypeError, ValueError), match="PjrtError|other than OK"):
        make(client, _memory(client))
