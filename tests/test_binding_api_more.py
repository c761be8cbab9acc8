"""The rest of PJRT_Api on both CPU plugins: each wrapper works, or reports the plugin's
refusal as a PjrtError — never a crash (several of these abort the plugins when misused;
the wrappers guard against that)."""

import numpy as np
import pytest

from binding_support import _shared_clients, client, plugin_info  # noqa: F401 - fixtures
from pjrt_array._pjrt import Buffer, CompileOptions, Device, Executable, LoadedExecutable, PjrtError
from pjrt_array._pjrt.errors import InvalidArgument, Unimplemented
from pjrt_array._pjrt.topology import TopologyDescription
from pjrt_array._pjrt.transfer import AsyncHostToDeviceTransferManager

ADD = """func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = stablehlo.add %a, %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}"""


def _or_refused(fn):
    """``fn()``, or None when the plugin refuses with a PjrtError (the API is optional)."""
    try:
        return fn()
    except PjrtError:
        return None


def _memory(client):
    return client.addressable_devices()[0].default_memory()


def test_uninitialized_error_and_view_buffers(client):
    b = client.create_uninitialized_buffer((2, 3), np.float32)
    assert b.shape == (2, 3) and b.dtype == np.float32
    err = _or_refused(lambda: client.create_error_buffer(InvalidArgument("boom"), (2,), np.float32, _memory(client)))
    if err is not None:
        with pytest.raises(InvalidArgument, match="boom"):
            err.block_until_ready()
    else:
        with pytest.raises(Unimplemented):
            client.create_error_buffer(InvalidArgument("boom"), (2,), np.float32, _memory(client))
    src = client.buffer_from_numpy(np.arange(4, dtype=np.float32))
    view = client.create_view_of_device_buffer(src.unsafe_pointer(), (4,), np.float32, owner=src)
    assert isinstance(view, Buffer)
    np.testing.assert_array_equal(view.to_numpy(), np.arange(4, dtype=np.float32))
    view.close()


def test_alias_buffers_never_crash(client):
    dropped = client.create_alias_buffer((2,), np.float32, _memory(client))
    dropped.close()  # unfulfilled: left to the process's end instead of aborting the plugin
    alias = client.create_alias_buffer((2,), np.float32, _memory(client))
    source = client.buffer_from_numpy(np.array([1.0, 2.0], np.float32))
    try:
        client.fulfill_alias_buffer(alias, source)
    except PjrtError:
        pass  # the 0.106 plugin refuses this layout
    else:
        np.testing.assert_array_equal(alias.to_numpy(), [1.0, 2.0])
    with pytest.raises(ValueError):
        client.fulfill_alias_buffer(alias, source)  # only once


def test_async_host_to_device_transfers(client):
    manager = client.create_buffers_for_async_host_to_device([((4,), np.float32), ((2, 2), np.int32)],
                                                             _memory(client))
    assert isinstance(manager, AsyncHostToDeviceTransferManager)
    assert manager.buffer_count == 2
    assert manager.buffer_size(0) == 16
    assert manager.device == client.addressable_devices()[0]
    manager.transfer_data(0, np.arange(4, dtype=np.float32)).wait()
    literal = np.arange(4, dtype=np.int32).reshape(2, 2)
    try:
        manager.transfer_literal(1, literal).wait()
    except Unimplemented:  # the 0.81 plugin
        manager.transfer_data(1, literal).wait()
    np.testing.assert_array_equal(manager.retrieve_buffer(0).to_numpy(), np.arange(4, dtype=np.float32))
    np.testing.assert_array_equal(manager.retrieve_buffer(1).to_numpy(), literal)
    manager.add_metadata({"source": "test"})
    with pytest.raises(TypeError):
        manager.add_metadata({"n": 1})
    with pytest.raises(ValueError):
        manager.set_buffer_error(0, InvalidArgument("late"))  # completed already: would abort the plugin
    with pytest.raises(IndexError):
        manager.transfer_data(5, np.zeros(1, np.float32))
    manager.close()
    failing = client.create_buffers_for_async_host_to_device([((2,), np.float32)], _memory(client))
    failing.set_buffer_error(0, InvalidArgument("no data"))
    with pytest.raises(InvalidArgument, match="no data"):
        failing.retrieve_buffer(0).block_until_ready()


def test_topology_and_compile_without_client(client):
    topo = client.topology_description()
    assert topo.platform_name == "cpu"
    assert isinstance(topo.platform_version, str)
    assert len(topo.device_descriptions()) == len(client.devices())
    data = topo.serialize()
    assert isinstance(data, bytes) and data
    assert isinstance(topo.attributes(), dict)
    for optional in (lambda: topo.fingerprint(), lambda: topo.memory_space_kind_ids(),
                     lambda: topo.canonical_shape_for_memory_space(0, (2, 3), np.float32),
                     lambda: TopologyDescription.deserialize(client, data),
                     lambda: TopologyDescription.create(client, "cpu"),
                     lambda: client.load(topo.compile(ADD, client=client))):
        _or_refused(optional)  # optional on CPU; must not crash


def test_loaded_executable_extras(client):
    exe = client.compile(ADD, CompileOptions())
    assert isinstance(exe, LoadedExecutable) and isinstance(exe.executable, Executable)
    memory_kinds = _or_refused(lambda: exe.executable.output_memory_kinds)
    assert memory_kinds is None or memory_kinds == ["device"]
    parameter_kinds = _or_refused(lambda: exe.executable.parameter_memory_kinds)
    assert parameter_kinds is None or parameter_kinds == ["device"]
    again = LoadedExecutable.deserialize(client, exe.executable.serialize())
    x = client.buffer_from_numpy(np.ones(4, np.float32))
    np.testing.assert_array_equal(again.execute([x])[0].to_numpy(), np.full(4, 2.0, np.float32))
    assert isinstance(exe.device_assignment(), bytes)
    ids = _or_refused(lambda: exe.addressable_device_logical_ids())
    assert ids is None or ids == [(0, 0)]
    with pytest.raises(PjrtError):
        exe.fingerprint  # deprecated: both plugins refuse it


def test_device_extras(client):
    device = client.addressable_devices()[0]
    assert isinstance(device, Device)
    context = client.create_execute_context()
    context.close()
    for optional in (lambda: device.poison_execution(1, InvalidArgument("p")),
                     lambda: device.create_async_tracking_event("work").close(),
                     lambda: device.get_attributes(), lambda: device.clear_memory_stats()):
        _or_refused(optional)
    with pytest.raises(PjrtError):
        client.dma_map(np.ones(64, np.uint8))  # DMA mapping is for accelerators
    _or_refused(lambda: client.dma_unmap(np.ones(64, np.uint8)))
    client.update_global_process_info([{"incarnation_id": 1}])


def test_buffer_extras(client):
    b = client.buffer_from_numpy(np.arange(4, dtype=np.float32))
    assert b.opaque_device_memory_pointer()
    assert b.memory_layout() == {"type": "tiled", "minor_to_major": (0,)}
    raw = b.copy_raw_to_host()
    np.testing.assert_array_equal(np.frombuffer(raw, np.float32), np.arange(4, dtype=np.float32))
    future = _or_refused(lambda: b.copy_raw_to_host_future())
    if future is not None:
        event, deliver = future
        dst = bytearray(16)
        deliver(dst)
        event.wait()
        np.testing.assert_array_equal(np.frombuffer(bytes(dst), np.float32), np.arange(4, dtype=np.float32))
    cast = _or_refused(lambda: b.bitcast(np.int32))
    if cast is not None:
        np.testing.assert_array_equal(cast.to_numpy(), np.arange(4, dtype=np.float32).view(np.int32))
    donated = _or_refused(lambda: b.donate_with_control_dependency())
    if donated is not None:
        out, ready = donated
        ready()
        np.testing.assert_array_equal(out.to_numpy(), np.arange(4, dtype=np.float32))


def test_plugin_errors_are_read_and_destroyed(client):
    """A compile error goes through PJRT_Error_Message, PJRT_Error_GetCode, PJRT_Error_ForEachPayload
    and PJRT_Error_Destroy: the exception carries the plugin's code and message."""
    with pytest.raises(PjrtError) as info:
        client.compile("this is not StableHLO")
    assert info.value.message and info.value.code != 0
    assert isinstance(info.value.payloads, dict)
