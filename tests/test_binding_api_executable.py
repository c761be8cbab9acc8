"""Topologies, PJRT_Compile and the executable functions beyond compile/execute, on both CPU
plugins: each works where the plugin implements it, or the refusal is the recorded one
(plugin_expectations.py)."""

import numpy as np
import pytest

from binding_support import (ADD_F32_4, CPU_PLUGINS, _shared_clients, client, new_client,  # noqa: F401
                             plugin_info)
from plugin_expectations import outcome
from pjrt_array._pjrt import Client, CompileOptions, Executable, LoadedExecutable
from pjrt_array._pjrt.compile_options import decode_device_assignment
from pjrt_array._pjrt.device import DeviceDescription
from pjrt_array._pjrt.errors import ClosedError
from pjrt_array._pjrt.topology import TopologyDescription


def test_client_topology_facts(client):
    topo = client.topology_description()
    assert isinstance(topo, TopologyDescription)
    assert topo.platform_name == client.platform_name == "cpu"
    assert topo.platform_version == client.platform_version
    descriptions = topo.device_descriptions()
    assert all(isinstance(d, DeviceDescription) for d in descriptions)
    assert [d.id for d in descriptions] == [d.id for d in client.devices()]
    assert {d.kind for d in descriptions} == {d.kind for d in client.devices()}
    assert topo.attributes() == {}
    data = topo.serialize()
    assert isinstance(data, bytes) and data
    assert topo.serialize() == data


def test_topology_fingerprint_is_stable(client, new_client):
    topo = client.topology_description()
    first = outcome(client, "PJRT_TopologyDescription_Fingerprint", topo.fingerprint)
    if first is None:
        return
    assert isinstance(first, int)
    assert topo.fingerprint() == first
    assert new_client().topology_description().fingerprint() == first  # same plugin, same devices
    assert new_client(cpu_device_count=2).topology_description().fingerprint() != first


def test_topology_memory_spaces(client):
    topo = client.topology_description()
    ids = outcome(client, "PJRT_TopologyDescription_GetMemorySpaceKindIds", topo.memory_space_kind_ids)
    shape = outcome(client, "PJRT_TopologyDescription_MakeCanonicalShapeForMemorySpace",
                    lambda: topo.canonical_shape_for_memory_space(0, (2, 3), np.float32))
    assert (ids, shape) == (None, None)  # neither CPU plugin has these slots
    with pytest.raises(ValueError, match="shape"):
        topo.canonical_shape_for_memory_space(0, (-2,), np.float32)


def test_topology_create_deserialize_and_compile_without_a_client(client):
    topo = client.topology_description()
    made = outcome(client, "PJRT_TopologyDescription_Create", lambda: TopologyDescription.create(client, "cpu"))
    again = outcome(client, "PJRT_TopologyDescription_Deserialize",
                    lambda: TopologyDescription.deserialize(client, topo.serialize()))
    compiled = outcome(client, "PJRT_Compile", lambda: topo.compile(ADD_F32_4))
    for result, kind in ((made, TopologyDescription), (again, TopologyDescription), (compiled, Executable)):
        assert result is None or isinstance(result, kind)
    other = next(info for info in CPU_PLUGINS if info.path != client.plugin.path)
    with Client(other.path) as foreign, pytest.raises(ValueError, match="plugin"):
        topo.compile(ADD_F32_4, client=foreign)  # its handle means nothing to this plugin


def test_a_closed_borrowed_topology_refuses_use(client):
    topo = client.topology_description()
    topo.close()  # borrowed: nothing is destroyed, but the wrapper is done
    with pytest.raises(ClosedError):
        topo.platform_name
    assert client.topology_description().platform_name == "cpu"


def test_executable_memory_kinds(client):
    e = client.compile(ADD_F32_4).executable
    outputs = outcome(client, "PJRT_Executable_OutputMemoryKinds", lambda: e.output_memory_kinds)
    parameters = outcome(client, "PJRT_Executable_ParameterMemoryKinds", lambda: e.parameter_memory_kinds)
    assert outputs in (None, ["device"]) and parameters in (None, ["device"])


def test_compile_options_come_back_as_compiled(client):
    options = CompileOptions(deduplicate_hlo=True, device_assignment=[[0]],
                             env_option_overrides={"xla_backend_optimization_level": 1})
    e = client.compile(ADD_F32_4, options).executable
    got = outcome(client, "PJRT_Executable_GetCompileOptions", e.compile_options)
    assert got is None or got == options


def test_deprecated_loaded_executable_fingerprint(client):
    exe = client.compile(ADD_F32_4)
    assert outcome(client, "PJRT_LoadedExecutable_Fingerprint", lambda: exe.fingerprint) is None
    assert exe.executable.fingerprint  # the replacement both plugins implement


def test_device_assignment_and_logical_ids(new_client):
    c = new_client(cpu_device_count=3)
    single = c.compile(ADD_F32_4, CompileOptions(device_assignment=[[2]]))
    assert single.device_assignment() == ((2,),)
    replicated = c.compile(ADD_F32_4, CompileOptions(num_replicas=2, device_assignment=[[1], [0]]))
    assert replicated.device_assignment() == ((1,), (0,))
    assert replicated.addressable_devices() == [c.devices()[1], c.devices()[0]]
    ids = outcome(c, "PJRT_LoadedExecutable_AddressableDeviceLogicalIds", replicated.addressable_device_logical_ids)
    assert ids is None or ids == [(0, 0), (1, 0)]
    x = [c.buffer_from_numpy(np.full(4, v, np.float32), d) for v, d in ((1, c.devices()[1]), (2, c.devices()[0]))]
    outs = replicated.execute_sharded([[b, b] for b in x])
    np.testing.assert_array_equal([o[0].to_numpy()[0] for o in outs], [2, 4])


@pytest.mark.parametrize("data, match", [
    (b"\x08\x01\x10\x01\x1a\x03\n\x01\x05", None),
    (b"\x08\x02\x10\x01\x1a\x04\n\x02\x03\x04", None),  # packed ids of 2 replicas
    (b"\x08\x02\x10\x01\x1a\x03\n\x01\x05", "malformed"),  # 2 replicas, 1 id
    (b"\xff", "truncated"),
])
def test_decode_device_assignment(data, match):
    if match is None:
        ids = decode_device_assignment(data)
        assert ids in (((5,),), ((3,), (4,)))
    else:
        with pytest.raises(ValueError, match=match):
            decode_device_assignment(data)


def test_decode_device_assignment_needs_bytes():
    with pytest.raises(TypeError):
        decode_device_assignment("08 01")


def test_executable_of_a_loaded_one(client):
    exe = client.compile(ADD_F32_4)
    assert isinstance(exe, LoadedExecutable) and isinstance(exe.executable, Executable)
    again = LoadedExecutable.deserialize(client, exe.executable.serialize())
    x = client.buffer_from_numpy(np.ones(4, np.float32))
    np.testing.assert_array_equal(again.execute([x, x])[0].to_numpy(), np.full(4, 2.0, np.float32))
