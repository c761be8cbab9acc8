"""Client, Device, DeviceDescription and Memory facts on every CPU plugin."""

from __future__ import annotations

import pytest

from pjrt_array import _pjrt as P

from binding_support import client, new_client, plugin_info, _shared_clients  # noqa: F401


def test_client_facts(client):
    assert client.platform_name == "cpu"
    assert isinstance(client.platform_version, str)
    assert client.process_index == 0
    assert not client.closed
    assert f"api={client.api.version}" in repr(client)
    assert client.plugin is P.load_plugin(client.plugin.path)


def test_devices_are_all_addressable_cpus(client):
    devices = client.devices()
    assert len(devices) >= 1
    assert client.addressable_devices() == devices
    assert [d.id for d in devices] == sorted({d.id for d in devices})
    for d in devices:
        assert d.kind == "cpu" and d.is_addressable and d.process_index == 0
        assert isinstance(d.attributes, dict)
        assert d.debug_string and str(d)
        assert repr(d) == f"<pjrt Device cpu:{d.id}>"
        assert d.client is client


def test_lookup_by_id_and_by_local_hardware_id(client):
    for d in client.devices():
        assert client.lookup_device(d.id) == d
        assert client.lookup_addressable_device(d.local_hardware_id) == d


@pytest.mark.parametrize("lookup", ["lookup_device", "lookup_addressable_device"])
def test_lookup_of_an_unknown_id_raises(client, lookup):
    with pytest.raises(P.InvalidArgument, match="99"):
        getattr(client, lookup)(99)


def test_device_description_matches_device(client):
    d = client.devices()[0]
    desc = d.description
    assert desc.id == d.id and desc.kind == d.kind and desc.process_index == d.process_index
    assert str(desc) == str(d) and desc.debug_string == d.debug_string
    assert desc.attributes == d.attributes


def test_devices_are_equal_by_handle_and_client(client, new_client):
    d = client.devices()[0]
    assert d == client.devices()[0] and hash(d) == hash(client.devices()[0])
    other = new_client().devices()[0]
    assert other != d and other.id == d.id


def test_cpu_device_count_option(new_client):
    c = new_client(cpu_device_count=2)
    assert len(c.devices()) == 2
    assert c.default_device_assignment(2, 1) == [[0], [1]]
    assert c.default_device_assignment(1, 2) == [[0, 1]]


def test_bad_create_option_type_is_a_type_error(plugin_info):
    with pytest.raises(TypeError, match="cpu_device_count"):
        P.Client(plugin_info.path, {"cpu_device_count": object()})
    with pytest.raises(TypeError, match="unexpected client options"):
        P.Client(plugin_info.path, bogus=1)


def test_memories(client):
    memories = client.addressable_memories()
    kinds = {m.kind for m in memories}
    assert "device" in kinds
    for m in memories:
        assert isinstance(m.id, int) and isinstance(m.kind_id, int)
        assert m.debug_string and m.to_string()
        owners = m.addressable_by_devices()
        assert owners and all(o in client.devices() for o in owners)
        assert m.kind in repr(m)


def test_device_memories_and_default_memory(client):
    for d in client.devices():
        memories = d.memories()
        default = d.default_memory()
        assert default in memories and default.kind == "device"
        assert d in default.addressable_by_devices()
        assert set(memories) <= set(client.addressable_memories())


def test_memory_stats_is_a_dict_or_the_plugins_unimplemented(client):
    d = client.devices()[0]
    try:
        stats = d.memory_stats()
    except P.Unimplemented as exc:  # XLA:CPU has no allocator statistics
        assert "not supported" in str(exc) or "not implemented" in str(exc)
    else:
        assert isinstance(stats["bytes_in_use"], int)
