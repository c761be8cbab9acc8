"""TPU and multi-slice extensions against a plugin made of Python functions (tests/fake_plugin.py).

TPU Topology, TPU Executable, Megascale, Multi-Slice, Collectives and ABI
Version: no installed plugin provides them, so the fake plays the C side.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from pjrt_array import _pjrt as P
from pjrt_array._pjrt import _abi
from pjrt_array._pjrt import extensions as X
from pjrt_array._pjrt.errors import Unimplemented
from pjrt_array._pjrt.extensions import collectives, tpu_topology

from fake_plugin import Code, FakePlugin, client, fake, function, text  # noqa: F401

T = _abi.PJRT_Extension_Type


# -- TPU topology and executable ---------------------------------------------------------------------

def _fill(array_field: str, count_field: str, values, capacity_field: str):
    def run(a):
        assert getattr(a, capacity_field) >= len(values)
        buf = (ctypes.c_int32 * len(values)).from_address(getattr(a, array_field))
        buf[:] = values
        setattr(a, count_field, len(values))
    return run


def test_tpu_topology_every_function(fake):
    topo = type("Topo", (), {"handle": 0x7070})()

    def out(field, value):
        return lambda a: (setattr(a, field, value), a.topology == 0x7070 or pytest.fail("topology"))[0]

    def slice_config(a):
        cfg = _abi.PJRT_TpuTopology_SliceConfig.from_address(a.slice_config)
        cfg.dim_size, cfg.twist = 3, True
        cfg.dimensions[:3] = [2, 2, 4]
        cfg.wrap[:3] = [True, False, True]

    def slice_configs(a):
        cfgs = (_abi.PJRT_TpuTopology_SliceConfig * 2).from_address(a.slice_configs)
        cfgs[0].dim_size, cfgs[1].dim_size = 1, 2
        cfgs[0].dimensions[0] = 8
        a.num_slice_configs = 2

    def routing(a):
        ctypes.memmove(a.routing_strategy, b"dimension-order\0", 16)

    fake.add_extension(_abi.PJRT_TpuTopology_Extension, T.PJRT_Extension_Type_TpuTopology, {
        "subslice": out("subslice_topology", 0x8080),
        "is_subslice_topology": out("is_subslice_topology", True),
        "subslice_device_id_from_full_device_id": lambda a: setattr(a, "subslice_device_id", a.full_device_id - 4),
        "replace_host_bounds": out("new_topology", 0x9090),
        "is_enhanced_barrier_enabled": out("is_enhanced_barrier_enabled", False),
        "has_limited_ici_connectivity": out("has_limited_ici_connectivity", True),
        "is_reachable_over_limited_ici": lambda a: setattr(a, "is_reachable_over_limited_ici",
                                                           (a.source_chip_id, a.dest_chip_id) == (0, 1)),
        "process_count": out("process_count", 2), "chips_per_process": out("chips_per_process", 4),
        "core_count_per_chip": out("core_count_of_default_type_per_chip", 2), "chip_count": out("chip_count", 8),
        "core_count": out("core_count_of_default_type", 16),
        "logical_device_count_per_process": out("logical_device_count_of_default_type_per_process", 8),
        "logical_device_count": out("logical_device_count_of_default_type", 16),
        "logical_device_count_per_chip": out("logical_device_count_of_default_type_per_chip", 2),
        "core_count_per_process": out("core_count_of_default_type_per_process", 8),
        "process_ids": _fill("process_ids", "num_process_ids", [0, 1], "max_process_ids"),
        "logical_device_ids_on_process": _fill("logical_device_of_default_type_ids", "num_logical_device_ids",
                                               [4, 5, 6], "max_logical_device_ids"),
        "proc_id_and_idx_on_proc_for_chip": lambda a: (setattr(a, "process_id", a.chip_id // 4),
                                                       setattr(a, "index_on_process", a.chip_id % 4)) and None,
        "proc_id_and_idx_on_proc_for_logi_device": lambda a: (setattr(a, "process_id", 1),
                                                              setattr(a, "index_on_process", 3)) and None,
        "process_coord_from_id": _fill("coords", "coords_num_dims", [1, 0, 0], "coords_max_dims"),
        "chip_id_from_coord": lambda a: setattr(a, "chip_id", sum((ctypes.c_int32 * a.coords_num_dims).from_address(a.coords))),
        "logical_device_id_from_chip_coord_and_idx": lambda a: setattr(a, "logical_device_of_default_type_id",
                                                                       10 + a.logical_device_index_on_chip),
        "chip_coord_and_idx_for_logi_device": lambda a: (_fill("chip_coords", "chip_coords_num_dims", [0, 1, 0],
                                                               "chip_coords_max_dims")(a),
                                                         setattr(a, "device_index_on_chip", 1)) and None,
        "chips_per_process_bounds": _fill("chip_per_process_bounds", "chip_per_process_bounds_num_dims", [2, 2, 1],
                                          "chip_per_process_bounds_max_dims"),
        "chip_bounds": _fill("chip_bounds", "chip_bounds_num_dims", [2, 4, 1], "chip_bounds_max_dims"),
        "process_bounds": _fill("process_bounds", "process_bounds_num_dims", [1, 2, 1], "process_bounds_max_dims"),
        "get_routing_strategy": routing,
        "get_slice_config": slice_config, "get_slice_configs": slice_configs,
        "get_default_platform_config": lambda a: (setattr(a, "num_chips_per_tray", 4),
                                                  setattr(a, "num_trays", 2)) and None,
    })
    t = X.TpuTopology(fake.api)
    with t.subslice(topo, [2, 2, 1], [1, 1, 1]) as sub:
        assert sub.handle == 0x8080
    assert fake.events()[-1] == f"topology_destroy:{0x8080}"
    assert t.replace_host_bounds(topo, [1, 2, 1]).handle == 0x9090
    assert t.subslice_device_id_from_full_device_id(topo, topo, [0, 0, 0], 6) == 2
    assert (t.is_subslice_topology(topo), t.is_enhanced_barrier_enabled(topo), t.has_limited_ici_connectivity(topo)) \
        == (True, False, True)
    assert t.is_reachable_over_limited_ici(topo, 0, 1) and not t.is_reachable_over_limited_ici(topo, 1, 0)
    assert [t.process_count(topo), t.chips_per_process(topo), t.core_count_per_chip(topo), t.chip_count(topo),
            t.core_count(topo), t.logical_device_count_per_process(topo), t.logical_device_count(topo),
            t.logical_device_count_per_chip(topo), t.core_count_per_process(topo)] == [2, 4, 2, 8, 16, 8, 16, 2, 8]
    assert t.process_ids(topo) == (0, 1) and t.logical_device_ids_on_process(topo, 1) == (4, 5, 6)
    assert t.process_and_index_for_chip(topo, 6) == (1, 2)
    assert t.process_and_index_for_logical_device(topo, 7) == (1, 3)
    assert t.process_coord_from_id(topo, 1) == (1, 0, 0) and t.chip_id_from_coord(topo, [1, 2, 0]) == 3
    assert t.logical_device_id_from_chip_coord_and_index(topo, [0, 1, 0], 1) == 11
    assert t.chip_coord_and_index_for_logical_device(topo, 3) == ((0, 1, 0), 1)
    assert (t.chips_per_process_bounds(topo), t.chip_bounds(topo), t.process_bounds(topo)) == \
        ((2, 2, 1), (2, 4, 1), (1, 2, 1))
    assert t.routing_strategy(topo) == "dimension-order"
    assert t.slice_config("v5e", "2x2x4") == tpu_topology.SliceConfig((2, 2, 4), (True, False, True), True)
    assert [c.dimensions for c in t.slice_configs("v5e")] == [(8,), (0, 0)]
    assert t.default_platform_config("v5e") == (4, 2)
    with pytest.raises(TypeError, match="topology must be a topology object with a live handle"):
        t.chip_count(object())
    with pytest.raises(ValueError, match="at most 8 are supported"):
        t.chip_id_from_coord(topo, range(9))


def test_tpu_executable_every_function(fake):
    def bytes_out(field):
        def run(a):
            data, size = fake.out_bytes(text(a.serialized_executable, a.serialized_executable_size) + b"/" +
                                        field.encode())
            setattr(a, field, data)
            setattr(a, f"{field}_size", size)
            setattr(a, f"{field}_ptr", 0x10)
            setattr(a, f"{field}_deleter", fake.deleter(field))
        return run

    values = P.named_values.NamedValueArray({"flops": 12, "bytes accessed": 3.5})
    fake.keep(values)

    def cost(a):
        modules = (ctypes.c_void_p * a.num_hlo_modules).from_address(a.hlo_module)
        assert a.num_hlo_modules == 2 and ctypes.string_at(modules[1], 2) == b"m2"
        a.analysis_results, a.num_analysis_results = values.address, values.count
        a.analysis_results_ptr, a.analysis_results_deleter = 0x20, fake.deleter("cost")

    def env(a):
        data, size = fake.out_bytes(b"env+tpu")
        a.result_compilation_environments, a.result_compilation_environments_size = data, size
        a.result_compilation_environments_deleter = fake.deleter("env")

    def field(a):
        data, size = fake.out_bytes(text(a.field_name, a.field_name_size).upper())
        a.field_value, a.field_value_size, a.field_value_deleter = data, size, fake.deleter("field")

    fake.add_extension(_abi.PJRT_TpuExecutable_Extension, T.PJRT_Extension_Type_TpuExecutable, {
        "get_target_arguments": bytes_out("target_arguments"),
        "get_hlo_module_with_config": bytes_out("hlo_module_with_config"),
        "get_compiled_memory_stats": bytes_out("compiled_memory_stats"),
        "run_hlo_cost_analysis": cost, "set_tpu_compilation_env": env,
        "get_tpu_compilation_env_field_as_string": field,
        "is_tpu_predetermined_error": lambda a: setattr(a, "is_predetermined", a.serialized_status_size == 4)})
    t = X.TpuExecutable(fake.api)
    assert t.target_arguments(b"exe") == b"exe/target_arguments"
    assert t.hlo_module_with_config(b"exe") == b"exe/hlo_module_with_config"
    assert t.compiled_memory_stats(b"exe") == b"exe/compiled_memory_stats"
    assert t.run_hlo_cost_analysis(b"target", [b"m1", b"m2"]) == {"flops": 12, "bytes accessed": 3.5}
    assert t.set_tpu_compilation_env(b"env") == b"env+tpu"
    assert t.tpu_compilation_env_field(b"env", "xla_tpu_flag") == "XLA_TPU_FLAG"
    assert t.is_tpu_predetermined_error(b"1234") and not t.is_tpu_predetermined_error(b"1")
    assert fake.events() == ["target_arguments:16", "hlo_module_with_config:16",
                                                    "compiled_memory_stats:16", "cost:32", "env:None", "field:None"]


# -- megascale, multi-slice, collectives ----------------------------------------------------------------

def _megascale_fake(fake: FakePlugin, client) -> None:
    handlers = {}
    aggregated = []
    fake.add_extension(_abi.PJRT_MultiSlice_Extension, T.PJRT_Extension_Type_MultiSlice, {
        "config_destroy": lambda a: fake.calls.append(f"config_destroy:{a.config}"),
        "config_num_slices": lambda a: setattr(a, "num_slices", 2),
        "config_slice_id": lambda a: setattr(a, "slice_id", 1),
        "config_num_devices_per_slice": _devices_per_slice(fake),
        "config_serialize": _serialize_config(fake)})
    fake.add_extension(_abi.PJRT_Collectives_Extension, T.PJRT_Extension_Type_Collectives, _collectives_impls(fake))
    addresses = [fake.out_bytes(b"10.0.0.1:1234"), fake.out_bytes(b"10.0.0.2:1234")]
    ptrs = (ctypes.c_void_p * 2)(*[a for a, _ in addresses])
    sizes = (ctypes.c_size_t * 2)(*[n for _, n in addresses])
    fake.keep(ptrs, sizes)

    def interface(a):
        assert text(a.megascale_port_name, a.megascale_port_name_size) == b"megascale" and a.num_interface_prefixes == 1
        a.serialized_addresses, a.serialized_addresses_sizes, a.num_addresses = ctypes.addressof(ptrs), \
            ctypes.addressof(sizes), 2
        a.addresses, a.addresses_deleter = 0x30, fake.deleter("addresses")

    def runtime_error(a):
        data, size = fake.out_bytes(text(a.status_message, a.status_message_size))
        a.serialized_error, a.serialized_error_size, a.is_new_error = data, size, a.launch_id == 1
        a.error, a.error_deleter = 0x40, fake.deleter("runtime_error")

    def collectives(a):
        info = _abi.PJRT_Megascale_ProcessesInfo.from_address(a.processes_info)
        assert info.num_addresses == 2 and info.num_devices_per_process == 4 and a.dcn_topology_size == 0
        a.collectives = 0xC0

    fake.add_extension(_abi.PJRT_Megascale_Extension, T.PJRT_Extension_Type_Megascale, {
        "create_client_context_from_pjrt_client": lambda a: setattr(a, "client_context", 0x100 + (a.client == client.handle)),
        "create_default_client_context": lambda a: setattr(a, "client_context", 0x200),
        "delete_client_context": lambda a: fake.calls.append(f"context_delete:{a.client_context}"),
        "create_aot_config": lambda a: setattr(a, "multi_slice_config", 0x300 + a.num_slices),
        "create_multi_slice_config": lambda a: setattr(a, "multi_slice_config", 0x400 + a.local_slice_id),
        "client_context_initialize": lambda a: fake.calls.append(f"init:{a.client_context}"),
        "client_context_unblock_pending_work": lambda a: fake.calls.append(f"unblock:{a.launch_id}:{a.expire_after_ms}"),
        "client_context_megascale_port": lambda a: setattr(a, "port", 8471),
        "create_megascale_collectives": collectives,
        "device_id_to_megascale_id": lambda a: setattr(a, "megascale_id", a.slice_id * 1000 + a.per_slice_device_id),
        "megascale_id_to_device_id": lambda a: (setattr(a, "slice_id", a.megascale_id // 1000),
                                                setattr(a, "per_slice_device_id", a.megascale_id % 1000)) and None,
        "register_megascale_error_handler": lambda a: handlers.__setitem__(
            text(a.handler_name, a.handler_name_size), (function(a.handler, _abi.PJRT_Megascale_ErrorHandler),
                                                        a.user_data)),
        "unregister_megascale_error_handler": lambda a: handlers.pop(text(a.handler_name, a.handler_name_size)) and None,
        "error_aggregator_create": lambda a: setattr(a, "aggregator", 0x500),
        "error_aggregator_delete": lambda a: fake.calls.append(f"aggregator_delete:{a.aggregator}"),
        "error_digest_delete": lambda a: fake.calls.append(f"digest_delete:{a.digest}"),
        "error_aggregator_add_error": lambda a: aggregated.append(text(a.serialized_error, a.serialized_error_size)),
        "error_aggregator_process_and_shutdown": lambda a: setattr(a, "digest", 0x600),
        "error_aggregator_log_error_digest": lambda a: fake.calls.append(f"log:{a.digest}"),
        "error_aggregator_size": lambda a: setattr(a, "size", len(aggregated)),
        "error_aggregator_active": lambda a: setattr(a, "active", True),
        "get_interface_addresses_helper": interface,
        "get_or_create_runtime_error": runtime_error})
    fake.handlers = handlers


def _devices_per_slice(fake: FakePlugin):
    ids, counts = (ctypes.c_int32 * 2)(0, 1), (ctypes.c_int32 * 2)(4, 4)
    fake.keep(ids, counts)

    def run(a):
        a.num_devices_per_slice_map, a.slice_ids, a.num_devices = 2, ctypes.addressof(ids), ctypes.addressof(counts)
        a.devices_per_slice_map, a.devices_per_slice_map_deleter = 0x50, fake.deleter("map")
    return run


def _serialize_config(fake: FakePlugin):
    def run(a):
        data, size = fake.out_bytes(b"config-proto")
        a.serialized, a.size, a.serialized_config, a.serialized_config_deleter = data, size, 0x60, fake.deleter("cfg")
    return run


def _collectives_impls(fake: FakePlugin) -> dict:
    comms = (ctypes.c_void_p * 2)(0xD0, 0xD1)
    fake.keep(comms)

    def create(a):
        assert a.num_device_ids == 2 and a.num_device_ranks == 2 and a.num_clique_ids == 1
        a.communicators, a.num_communicators = ctypes.addressof(comms), 2
        a.communicators_holder, a.communicators_holder_deleter = 0x70, fake.deleter("holder")

    def reduce_(a):
        n = a.count
        send = np.ctypeslib.as_array((ctypes.c_float * n).from_address(a.send_buffer_ptr))
        recv = np.ctypeslib.as_array((ctypes.c_float * (a.recv_buffer_size // 4)).from_address(a.recv_buffer_ptr))
        recv[:n] = send[:n] * (2 if a.reduction_kind == 0 else 1)
        if a.cpu_executor:
            ex = _abi.PJRT_Collectives_CpuExecutor.from_address(a.cpu_executor)
            fake.calls.append(f"executor:{ex.run_id}:{list((ctypes.c_int64 * ex.num_global_device_ids).from_address(ex.global_device_ids))}")

    def gather(a):
        ctypes.memmove(a.recv_buffer_ptr, a.send_buffer_ptr, a.send_buffer_size)
        ctypes.memmove(a.recv_buffer_ptr + a.send_buffer_size, a.send_buffer_ptr, a.send_buffer_size)

    def permute(a):
        fake.calls.append(f"permute:{a.has_source_rank}:{a.source_rank}:"
                          f"{list((ctypes.c_int64 * a.num_target_ranks).from_address(a.target_ranks))}")
        ctypes.memmove(a.recv_buffer_ptr, a.send_buffer_ptr, a.send_buffer_size)

    def all_to_all(a):
        sends = (ctypes.c_void_p * a.num_send_buffers).from_address(a.send_buffers_ptrs)
        recvs = (ctypes.c_void_p * a.num_recv_buffers).from_address(a.recv_buffers_ptrs)
        sizes = (ctypes.c_size_t * a.num_send_buffers).from_address(a.send_buffers_sizes)
        for i in range(a.num_send_buffers):
            ctypes.memmove(recvs[a.num_send_buffers - 1 - i], sends[i], sizes[i])
        a.event = 0x1

    def to_string(a):
        data, size = fake.out_bytes(f"comm@{a.communicator:#x}".encode())
        a.str, a.str_size, a.str_holder, a.str_holder_deleter = data, size, 0x80, fake.deleter("str")

    return {"collectives_destroy": lambda a: fake.calls.append(f"collectives_destroy:{a.collectives}"),
            "collectives_create_communicators": create,
            "communicator_destroy": lambda a: fake.calls.append(f"comm_destroy:{a.communicator}"),
            "communicator_all_reduce": reduce_, "communicator_reduce_scatter": reduce_,
            "communicator_all_gather": gather, "communicator_collective_permute": permute,
            "communicator_all_to_all": all_to_all, "communicator_to_string": to_string}


def test_megascale_every_function(fake, client):
    _megascale_fake(fake, client)
    m = X.Megascale(fake.api)
    topo = type("Topo", (), {"handle": 0x7070})()
    with m.client_context(client) as ctx:
        assert ctx.handle == 0x101
        ctx.initialize()
        ctx.unblock_pending_work(3, 500)
        assert ctx.megascale_port == 8471
        with m.create_multi_slice_config(topo, 2, 1, 0, b"endpoints", b"dcn", ctx) as cfg:
            assert cfg.handle == 0x401
        with m.create_collectives(ctx, ["a:1", "b:1"], 4) as coll:
            assert coll.handle == 0xC0
    assert fake.events()[-3:] == ["config_destroy:1025", "collectives_destroy:192", "context_delete:257"]
    with m.default_client_context() as ctx:
        assert ctx.handle == 0x200
    with m.create_aot_config(topo, 4) as cfg:
        assert cfg.handle == 0x304
    assert m.megascale_id(2, 5) == 2005 and m.device_id(2005) == (2, 5)
    errors = []
    m.register_error_handler("mine", errors.append)
    handler, user_data = fake.handlers[b"mine"]
    handler(b"boom", 4, user_data)
    assert errors == [b"boom"]
    m.unregister_error_handler("mine")
    assert not fake.handlers
    with m.error_aggregator("app") as agg:
        agg.add_error("worker-1", b"err-1")
        assert agg.size == len(agg) == 1 and agg.active
        with agg.process_and_shutdown() as digest:
            agg.log_error_digest(digest)
    assert fake.events()[-3:] == ["log:1536", "digest_delete:1536", "aggregator_delete:1280"]
    assert m.runtime_error(1, 0, 13, "bad chip", launch_id=1) == (b"bad chip", True)
    assert m.interface_addresses("megascale", 8471, ["eth"]) == [b"10.0.0.1:1234", b"10.0.0.2:1234"]
    assert "runtime_error:64" in fake.calls and "addresses:48" in fake.calls


def test_megascale_needs_the_owning_extensions(fake):
    fake.add_extension(_abi.PJRT_Megascale_Extension, T.PJRT_Extension_Type_Megascale,
                       {"create_aot_config": lambda a: pytest.fail("must refuse before creating")})
    with pytest.raises(Unimplemented, match="no Multi-Slice extension to own a multi-slice config"):
        X.Megascale(fake.api).create_aot_config(type("Topo", (), {"handle": 1})(), 2)


def test_multi_slice_config_every_function(fake, client):
    _megascale_fake(fake, client)
    with X.MultiSlice(fake.api).config(0x123) as cfg:
        assert (cfg.num_slices, cfg.slice_id) == (2, 1)
        assert cfg.num_devices_per_slice() == {0: 4, 1: 4}
        assert cfg.serialize() == b"config-proto"
    assert fake.events()[-1] == f"config_destroy:{0x123}" and "map:80" in fake.calls and "cfg:96" in fake.calls
    with pytest.raises(ValueError, match="handle must be a non-null PJRT_MultiSlice_Config"):
        X.MultiSlice(fake.api).config(0)


def test_collectives_every_function(fake, client):
    _megascale_fake(fake, client)
    with X.CollectivesExtension(fake.api).collectives(0xC0) as coll:
        a, b = coll.create_communicators([0, 1], [0, 1], [b"clique"])
        assert (a.handle, b.handle) == (0xD0, 0xD1) and "holder:112" in fake.calls
        send = np.arange(4, dtype=np.float32)
        recv = np.zeros(4, np.float32)
        a.all_reduce(send, recv, "sum", collectives.CpuExecutor(7, [0, 1], 2))
        np.testing.assert_array_equal(recv, send * 2)
        assert "executor:7:[0, 1]" in fake.calls
        a.reduce_scatter(send, recv[:2], "max")
        np.testing.assert_array_equal(recv[:2], send[:2])
        big = np.zeros(8, np.float32)
        a.all_gather(send, big)
        np.testing.assert_array_equal(big, np.tile(send, 2))
        a.collective_permute(send, recv, None, [1])
        assert fake.events()[-1] == "permute:False:0:[1]"
        outs = [np.zeros(2, np.float32), np.zeros(2, np.float32)]
        a.all_to_all([send[:2], send[2:]], outs)
        np.testing.assert_array_equal(np.concatenate(outs), np.r_[send[2:], send[:2]])
        assert str(a) == "comm@0xd0" and a.to_string() == "comm@0xd0"
        with pytest.raises(ValueError, match="reduction must be one of"):
            a.all_reduce(send, recv, "mean")
        with pytest.raises(TypeError, match="send and recv must have one dtype"):
            a.all_reduce(send, recv.astype(np.float64))
        with pytest.raises(ValueError, match="recv must be writable"):
            frozen = np.zeros(4, np.float32)
            frozen.flags.writeable = False
            a.all_reduce(send, frozen)
        a.close()
        b.close()
    assert fake.events()[-3:] == [f"comm_destroy:{0xD0}", f"comm_destroy:{0xD1}", f"collectives_destroy:{0xC0}"]


# -- ABI version --------------------------------------------------------------------------------------

def test_abi_version_every_function(fake, client):
    exe = client.compile("""func.func @main(%a: tensor<2xf32>) -> tensor<2xf32> {
  return %a : tensor<2xf32> }""")
    protos = {0x1A: b"runtime-v1", 0x2A: b"exe-v1"}

    def to_proto(a):
        data, size = fake.out_bytes(protos[a.abi_version])
        a.serialized_proto, a.serialized_proto_size = data, size
        a.serialized_proto_holder, a.serialized_proto_deleter = 0x90, fake.deleter("proto")

    def from_proto(base):
        return lambda a: setattr(a, "abi_version", base + (text(a.serialized_proto, a.serialized_proto_size)
                                                           in protos.values()))

    def compatible(field):
        return lambda a: None if getattr(a, field) in (0x1A, 0x2A) else \
            fake.error(Code.PJRT_Error_Code_FAILED_PRECONDITION, "too new")

    fake.add_extension(_abi.PJRT_AbiVersion_Extension, T.PJRT_Extension_Type_AbiVersion, {
        "client_runtime_abi_version": lambda a: setattr(a, "abi_version", 0x1A),
        "executable_get_abi_version": lambda a: setattr(a, "abi_version", 0x2A),
        "runtime_abi_version_destroy": lambda a: fake.calls.append(f"runtime_destroy:{a.abi_version}"),
        "runtime_abi_version_is_compatible_with_runtime": compatible("other_abi_version"),
        "runtime_abi_version_is_compatible_with_executable": compatible("executable_abi_version"),
        "runtime_abi_version_to_proto": to_proto,
        "runtime_abi_version_platform_id": lambda a: setattr(a, "platform_id", 2**63 + 1),
        "executable_abi_version_destroy": lambda a: fake.calls.append(f"exe_destroy:{a.abi_version}"),
        "executable_abi_version_to_proto": to_proto,
        "executable_abi_version_platform_id": lambda a: setattr(a, "platform_id", 7),
        "runtime_abi_version_from_proto": from_proto(0x30),
        "executable_abi_version_from_proto": from_proto(0x40)})
    ext = X.AbiVersions(fake.api)
    runtime = ext.runtime_abi_version(client)
    exe_version = ext.executable_abi_version(exe)
    assert runtime.to_proto() == b"runtime-v1" and exe_version.to_proto() == b"exe-v1"
    assert runtime.platform_id == 2**63 + 1 and exe_version.platform_id == 7
    assert runtime.is_compatible_with_runtime(runtime) and runtime.is_compatible_with_executable(exe_version)
    other = ext.runtime_abi_version_from_proto(b"runtime-v1")
    assert other.handle == 0x31 and not runtime.is_compatible_with_runtime(other)
    assert isinstance(ext.last_incompatibility, P.FailedPrecondition)
    assert ext.executable_abi_version_from_proto(b"unknown").handle == 0x40
    runtime.close()
    exe_version.close()
    assert fake.events()[-2:] == [f"runtime_destroy:{0x1A}", f"exe_destroy:{0x2A}"]
    with pytest.raises(TypeError, match="other must be a RuntimeAbiVersion"):
        other.is_compatible_with_runtime(exe_version)
