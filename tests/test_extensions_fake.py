"""Every extension wrapper against a plugin made of Python functions (tests/fake_plugin.py).

No installed CPU plugin provides these extensions (GPU/TPU ones) or these
slots, so a fake plugin plays the C side: it receives the args structs our
wrappers fill, checks them, and writes results back.  Handles of clients,
buffers and devices come from a real CPU client; the fake never
dereferences them.
"""

from __future__ import annotations

import ctypes
import gc

import numpy as np
import pytest

from pjrt_array import _pjrt as P
from pjrt_array._pjrt import _abi
from pjrt_array._pjrt import extensions as X
from pjrt_array._pjrt.errors import InvalidArgument, NotFound, Unimplemented
from pjrt_array._pjrt.extensions import _callbacks, callback, collectives, cross_host_transfers, custom_partitioner
from pjrt_array._pjrt.extensions import ffi, gpu_custom_call, megascale, profiler, tpu_topology, xla_transform

from binding_support import CPU_PLUGINS
from fake_plugin import Code, FakePlugin

T = _abi.PJRT_Extension_Type


def text(address: int, size: int) -> bytes:
    return ctypes.string_at(address, size)


def function(field: object, prototype: type) -> object:
    """A callable copy of a function-pointer field (the args struct holding it dies after the call)."""
    return prototype(ctypes.cast(field, ctypes.c_void_p).value)


@pytest.fixture(scope="module")
def client():
    c = P.Client(CPU_PLUGINS[0].path)
    yield c
    c.close()


@pytest.fixture
def fake():
    return FakePlugin()


# -- discovery and refusal --------------------------------------------------------------------------

def test_chain_walk_finds_extensions_in_order_and_skips_unknown_types(fake):
    fake.add_extension(_abi.PJRT_Stream_Extension, T.PJRT_Extension_Type_Stream, {})
    fake.add_extension(_abi.PJRT_Triton, 99, {})  # a type from a future header
    fake.add_extension(_abi.PJRT_Gpu_Custom_Call, T.PJRT_Extension_Type_Gpu_Custom_Call, {})
    assert X.extension_types(fake.api) == [T.PJRT_Extension_Type_Gpu_Custom_Call, 99, T.PJRT_Extension_Type_Stream]
    assert X.Stream.of(fake.api) is not None and X.Triton.of(fake.api) is None


def test_chain_walk_stops_at_a_cycle_and_at_a_bad_node(fake):
    a = fake.add_extension(_abi.PJRT_Stream_Extension, T.PJRT_Extension_Type_Stream, {})
    b = fake.add_extension(_abi.PJRT_Triton, T.PJRT_Extension_Type_Triton, {})
    a.base.next = ctypes.addressof(b)  # b -> a -> b -> ...
    assert X.extension_types(fake.api) == [T.PJRT_Extension_Type_Triton, T.PJRT_Extension_Type_Stream]
    a.base.struct_size = 3  # too small to be an extension: the walk ends before it
    assert X.extension_types(fake.api) == [T.PJRT_Extension_Type_Triton]
    assert X.Stream.of(fake.api) is None


def test_null_and_truncated_slots_refuse_by_name(fake, client):
    fake.add_extension(_abi.PJRT_Layouts_Extension, T.PJRT_Extension_Type_Layouts,
                       {"PJRT_Layouts_MemoryLayout_Destroy": lambda a: None}, truncate_after="PJRT_Layouts_MemoryLayout_Destroy")
    ext = X.Layouts(fake.api)
    assert ext.slots() == {s: s == "PJRT_Layouts_MemoryLayout_Destroy" for s in _abi.SLOTS["PJRT_Layouts_Extension"]}
    with pytest.raises(Unimplemented, match="PJRT_Layouts_PJRT_Client_GetDefaultLayout is not implemented by the "
                                            "Layouts extension of plugin <fake plugin>"):
        ext.client_default_layout(client, np.float32, (2,))


def test_every_wrapper_refuses_a_plugin_without_its_extension(fake):
    for name, cls in X.EXTENSIONS.items():
        assert X.get(fake.api, name) is None
        with pytest.raises(Unimplemented, match=f"the {cls.NAME} extension is not provided by plugin <fake plugin>"):
            cls(fake.api)
    with pytest.raises(ValueError, match="unknown extension 'nope'"):
        X.get(fake.api, "nope")
    with pytest.raises(TypeError, match="expected a Plugin, a Client or an Api"):
        X.Layouts.of(object())


def test_plugin_errors_become_exceptions_and_are_destroyed(fake, client):
    fake.add_extension(_abi.PJRT_Stream_Extension, T.PJRT_Extension_Type_Stream,
                       {"get_stream": lambda a: fake.error(Code.PJRT_Error_Code_NOT_FOUND, "no stream here")})
    with pytest.raises(NotFound, match=r"\[NOT_FOUND\] no stream here"):
        X.Stream(fake.api).stream_for_external_ready_events(client.addressable_devices()[0])
    assert fake.destroyed_errors == 1 and not fake.errors


# -- GPU custom call, stream, triton -----------------------------------------------------------------

def test_gpu_custom_call(fake):
    seen = {}

    def register(a):
        seen.update(name=text(a.function_name, a.function_name_size), version=a.api_version,
                    execute=a.handler_execute, prepare=a.handler_prepare)
    fake.add_extension(_abi.PJRT_Gpu_Custom_Call, T.PJRT_Extension_Type_Gpu_Custom_Call, {"custom_call": register})
    ext = X.GpuCustomCall(fake.api)
    handler = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)(lambda frame: None)
    ext.register_custom_call("my_target", handler)
    assert seen == {"name": b"my_target", "version": 1, "execute": ctypes.cast(handler, ctypes.c_void_p).value,
                    "prepare": None}
    ext.register_custom_call("legacy", 0x1234, api_version=gpu_custom_call.UNTYPED)
    assert seen["version"] == 0 and seen["execute"] == 0x1234
    with pytest.raises(ValueError, match="an untyped custom call has only an execute function"):
        ext.register_custom_call("x", 1, api_version=0, prepare=2)
    with pytest.raises(ValueError, match="api_version must be"):
        ext.register_custom_call("x", 1, api_version=7)
    with pytest.raises(TypeError, match="execute must be a ctypes function or an address"):
        ext.register_custom_call("x", "not a function")
    with pytest.raises(ValueError, match="execute must not be null"):
        ext.register_custom_call("x", 0)


def test_stream(fake, client):
    device = client.addressable_devices()[0]
    buffer = client.buffer_from_numpy(np.zeros(2, np.float32))
    seen = {}
    fake.add_extension(_abi.PJRT_Stream_Extension, T.PJRT_Extension_Type_Stream, {
        "get_stream": lambda a: (seen.setdefault("device", a.device), setattr(a, "stream", 0xBEEF))[-1],
        "wait_stream": lambda a: seen.update(stream=a.stream, buffer=a.buffer)})
    ext = X.Stream(fake.api)
    stream = ext.stream_for_external_ready_events(device)
    ext.wait_until_buffer_ready_on_stream(stream, buffer)
    assert seen == {"device": device.handle, "stream": 0xBEEF, "buffer": buffer.handle}
    with pytest.raises(TypeError, match="buffer must be a Buffer"):
        ext.wait_until_buffer_ready_on_stream(stream, device)
    with pytest.raises(ValueError, match="stream must be a non-zero stream handle"):
        ext.wait_until_buffer_ready_on_stream(0, buffer)


def test_triton_compile(fake):
    asm, n = fake.out_bytes(b"// ptx")

    def compile_(a):
        assert text(a.module, a.module_size) == b"tt.func" and text(a.arch_name, a.arch_name_size) == b"90"
        assert (a.num_warps, a.num_ctas, a.num_stages) == (8, 1, 2)
        a.out_asm, a.out_asm_size, a.out_smem_bytes = asm, n, 4096
    fake.add_extension(_abi.PJRT_Triton, T.PJRT_Extension_Type_Triton, {"compile": compile_})
    kernel = X.Triton(fake.api).compile("tt.func", "90", num_warps=8, num_stages=2)
    assert kernel == X.triton.TritonKernel(b"// ptx", "", 4096)
    with pytest.raises(ValueError, match="num_warps must be a positive int"):
        X.Triton(fake.api).compile("m", "90", num_warps=0)


# -- profiler ----------------------------------------------------------------------------------------

def _fake_profiler(fake: FakePlugin, fail_start: bool = False) -> _abi.PLUGIN_Profiler_Api:
    table = _abi.PLUGIN_Profiler_Api(struct_size=_abi.PLUGIN_Profiler_Api_STRUCT_SIZE)
    state = {"data": b"xspace-bytes", "errors": {}}

    def fn(args_type, impl):
        def call(address):
            result = impl(args_type.from_address(address))
            return result if type(result) is int and result in state["errors"] else None
        c_fn = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)(call)
        fake.keep(c_fn)
        return ctypes.cast(c_fn, ctypes.c_void_p).value

    def error(message: str) -> int:
        cell = ctypes.c_int64()
        fake.keep(cell)
        state["errors"][ctypes.addressof(cell)] = message.encode()
        return ctypes.addressof(cell)

    def message(a):
        m = state["errors"][a.error]
        a.message, a.message_size = ctypes.cast(ctypes.c_char_p(m), ctypes.c_void_p).value, len(m)

    def collect(a):
        a.buffer_size_in_bytes = len(state["data"])
        if a.buffer:
            ctypes.memmove(a.buffer, state["data"], len(state["data"]))

    serialized, size = fake.out_bytes(b"consumed")
    impls = {
        "error_destroy": (_abi.PLUGIN_Profiler_Error_Destroy_Args, lambda a: state["errors"].pop(a.error)),
        "error_message": (_abi.PLUGIN_Profiler_Error_Message_Args, message),
        "error_get_code": (_abi.PLUGIN_Profiler_Error_GetCode_Args, lambda a: setattr(a, "code", 9)),
        "create": (_abi.PLUGIN_Profiler_Create_Args, lambda a: setattr(a, "profiler", 0x77)),
        "destroy": (_abi.PLUGIN_Profiler_Destroy_Args, lambda a: fake.calls.append(f"destroy:{a.profiler}")),
        "start": (_abi.PLUGIN_Profiler_Start_Args, lambda a: error("busy") if fail_start else None),
        "stop": (_abi.PLUGIN_Profiler_Stop_Args, lambda a: None),
        "collect_data": (_abi.PLUGIN_Profiler_CollectData_Args, collect),
        "consume": (_abi.PLUGIN_Profiler_Consume_Args, lambda a: setattr(a, "result", 0x55)),
        "consume_result_destroy": (_abi.PLUGIN_Profiler_ConsumeResult_Destroy_Args,
                                   lambda a: fake.calls.append(f"result_destroy:{a.consume_result}")),
        "serialize": (_abi.PLUGIN_Profiler_Serialize_Args,
                      lambda a: (setattr(a, "serialized_bytes", serialized), setattr(a, "serialized_size", size))
                      and None),
    }
    for slot, (args_type, impl) in impls.items():
        setattr(table, slot, fn(args_type, impl))
    fake.keep(table)
    return table


def test_profiler_fields_and_every_profiler_function(fake):
    table = _fake_profiler(fake)
    ext = fake.add_extension(_abi.PJRT_Profiler_Extension, T.PJRT_Extension_Type_Profiler, {})
    ext.profiler_api = ctypes.addressof(table)
    ext.traceme_context_id = 42
    wrapper = X.ProfilerExtension(fake.api)
    assert wrapper.traceme_context_id == 42 and wrapper.profiler_api_address == ctypes.addressof(table)
    api = wrapper.profiler_api()
    with api.create(b"options") as p:
        p.start()
        p.stop()
        assert p.collect_data() == b"xspace-bytes"
        assert p.consume() == b"consumed"
    assert fake.events() == ["result_destroy:85", "destroy:119"]
    with pytest.raises(P.ClosedError):
        p.start()


def test_profiler_errors_use_the_profiler_error_functions(fake):
    """A profiler error is read with PLUGIN_Profiler_Error_Message and PLUGIN_Profiler_Error_GetCode,
    then freed with PLUGIN_Profiler_Error_Destroy."""
    table = _fake_profiler(fake, fail_start=True)
    api = profiler.ProfilerApi(ctypes.addressof(table), "test")
    with pytest.raises(P.FailedPrecondition, match="busy"):
        api.create().start()


def test_profiler_extension_without_a_table(fake):
    fake.add_extension(_abi.PJRT_Profiler_Extension, T.PJRT_Extension_Type_Profiler, {})
    with pytest.raises(Unimplemented, match="no profiler API"):
        X.ProfilerExtension(fake.api).profiler_api()


# -- custom partitioner and XLA transform (plugin calls back into Python) ----------------------------

class Halves(custom_partitioner.CustomPartitioner):
    def partition(self, args, result, backend_config):
        return "module @halves {}", [a.sharding or b"" for a in args], result.shape + b"/sharded"


def _string(value: bytes, keep: list) -> _abi.JAX_CustomCallPartitioner_string:
    keep.append(value)
    return _abi.JAX_CustomCallPartitioner_string(ctypes.cast(ctypes.c_char_p(value), ctypes.c_void_p).value,
                                                 len(value))


def test_custom_partitioner_round_trip_through_the_plugin(fake):
    got = {}

    def register(a):
        got["name"] = text(a.name, a.name_size)
        cb = _abi.JAX_CustomCallPartitioner_Callbacks.from_address(a.callbacks)
        keep: list = []
        args = _abi.JAX_CustomCallPartitioner_Partition_Args()
        avals = (_abi.JAX_CustomCallPartitioner_aval * 2)()
        avals[0].shape = _string(b"f32[4]", keep)
        avals[0].has_sharding, avals[0].sharding = True, _string(b"{devices=[2]0,1}", keep)
        avals[1].shape = _string(b"f32[2]", keep)
        args.num_args, args.op_args = 2, ctypes.addressof(avals)
        args.op_result.shape = _string(b"f32[4]", keep)
        cb.partition(a.callbacks, ctypes.addressof(args))
        assert not args.header.has_error
        strings = (_abi.JAX_CustomCallPartitioner_string * 2).from_address(args.args_sharding)
        got["out"] = (_callbacks.read_string(args.mlir_module), [_callbacks.read_string(s) for s in strings],
                      _callbacks.read_string(args.result_sharding))
        args.header.cleanup_fn(args.header.data)
        infer = _abi.JAX_CustomCallPartitioner_InferShardingFromOperands_Args()
        cb.infer_sharding(a.callbacks, ctypes.addressof(infer))
        got["inferred"] = bool(infer.has_result_sharding)
        infer.header.cleanup_fn(infer.header.data)
        prop = _abi.JAX_CustomCallPartitioner_PropagateUserSharding_Args()
        prop.result_sharding = _string(b"{replicated}", keep)
        cb.propagate_user_sharding(a.callbacks, ctypes.addressof(prop))
        got["propagated"] = _callbacks.read_string(prop.result_sharding)
        prop.header.cleanup_fn(prop.header.data)
        cb.dtor(a.callbacks)

    fake.add_extension(_abi.PJRT_Custom_Partitioner_Extension, T.PJRT_Extension_Type_Custom_Partitioner, {
        "register_custom_partitioner": register,
        "register_batch_partitionable": lambda a: got.setdefault("batch", text(a.name, a.name_size))})
    ext = X.CustomPartitionerExtension(fake.api)
    held = _callbacks.held_count()
    ext.register_custom_partitioner("halves", Halves())
    ext.register_batch_partitionable("batched_op")
    assert got == {"name": b"halves", "out": (b"module @halves {}", [b"{devices=[2]0,1}", b""], b"f32[4]/sharded"),
                   "inferred": False, "propagated": b"{replicated}", "batch": b"batched_op"}
    assert _callbacks.held_count() == held


def test_custom_partitioner_exception_reaches_the_plugin_as_an_error():
    class Broken(Halves):
        def partition(self, args, result, backend_config):
            raise KeyError("missing")
    cb = custom_partitioner.callbacks_for(Broken())
    args = _abi.JAX_CustomCallPartitioner_Partition_Args()
    cb.partition(ctypes.addressof(cb), ctypes.addressof(args))
    assert args.header.has_error and args.header.code == Code.PJRT_Error_Code_NOT_FOUND
    assert b"KeyError" in _callbacks.read_string(args.header.error_msg)
    args.header.cleanup_fn(args.header.data)
    cb.dtor(ctypes.addressof(cb))
    with pytest.raises(TypeError, match="partitioner must be a CustomPartitioner"):
        custom_partitioner.callbacks_for(object())


def test_xla_transform_register_run_clear(fake):
    registered = {}

    def register(a):
        registered[(text(a.name, a.name_size), a.stage)] = a.callbacks

    def clear(a):
        found = registered.pop((text(a.name, a.name_size), a.stage), None)
        a.cleared = found is not None and found == a.callbacks

    fake.add_extension(_abi.PJRT_Xla_Transform_Extension, T.PJRT_Extension_Type_XlaTransform,
                       {"register_xla_transform": register, "clear_xla_transform": clear})
    ext = X.XlaTransform(fake.api)
    ext.register("double", lambda module: module * 2, xla_transform.POST_SCHEDULER)
    address = registered[(b"double", 1)]
    cb = _abi.PJRT_XlaTransform_Callbacks.from_address(address)
    keep: list = []
    args = _abi.PJRT_XlaTransform_Args(struct_size=_abi.PJRT_XlaTransform_Args_STRUCT_SIZE)
    module = b"hlo"
    keep.append(module)
    args.hlo_module.data, args.hlo_module.size = ctypes.cast(ctypes.c_char_p(module), ctypes.c_void_p).value, 3
    cb.transform_hlo_module(address, ctypes.addressof(args))
    assert args.changed and _callbacks.read_string(args.transformed_hlo_module) == b"hlohlo"
    args.header.cleanup_fn(args.header.data)
    assert ext.clear("double", xla_transform.POST_SCHEDULER) is True
    assert ext.clear("double", xla_transform.POST_SCHEDULER) is False
    with pytest.raises(ValueError, match="stage must be PRE_SCHEDULER or POST_SCHEDULER"):
        ext.register("x", lambda m: None, stage=5)
    with pytest.raises(TypeError, match="transform must be callable"):
        ext.register("x", 3)


def test_xla_transform_none_means_unchanged_and_errors_are_reported():
    cb = xla_transform.callbacks_for(lambda module: None)
    args = _abi.PJRT_XlaTransform_Args()
    cb.transform_hlo_module(ctypes.addressof(cb), ctypes.addressof(args))
    assert not args.changed and not args.header.has_error
    bad = xla_transform.callbacks_for(lambda module: 1 / 0)
    args = _abi.PJRT_XlaTransform_Args()
    bad.transform_hlo_module(ctypes.addressof(bad), ctypes.addressof(args))
    assert args.header.has_error and b"ZeroDivisionError" in _callbacks.read_string(args.header.error_msg)


# -- raw buffer ---------------------------------------------------------------------------------------

def test_raw_buffer_every_function(fake, client):
    buffer = client.buffer_from_numpy(np.zeros(4, np.float32))
    memory = client.addressable_devices()[0].default_memory()
    device_bytes = ctypes.create_string_buffer(16)
    handle = 0xABC0

    def copy(direction):
        def run(a):
            assert a.buffer == handle
            src, dst = (a.src, ctypes.addressof(device_bytes) + a.offset) if direction == "in" else \
                (ctypes.addressof(device_bytes) + a.offset, a.dst)
            ctypes.memmove(dst, src, a.transfer_size)
            a.event = 0x1
        return run

    fake.add_extension(_abi.PJRT_RawBuffer_Extension, T.PJRT_Extension_Type_RawBuffer, {
        "PJRT_RawBuffer_CreateRawAliasOfBuffer": lambda a: setattr(a, "raw_buffer", handle),
        "PJRT_RawBuffer_Destroy": lambda a: fake.calls.append(f"raw_destroy:{a.buffer}"),
        "PJRT_RawBuffer_GetOnDeviceSizeInBytes": lambda a: setattr(a, "on_device_size_in_bytes", 16),
        "PJRT_RawBuffer_GetMemorySpace": lambda a: setattr(a, "memory_space", memory.handle),
        "PJRT_RawBuffer_CopyRawHostToDevice": copy("in"),
        "PJRT_RawBuffer_CopyRawDeviceToHost": copy("out"),
        "PJRT_RawBuffer_GetHostPointer": lambda a: setattr(a, "host_pointer", ctypes.addressof(device_bytes))})
    with X.RawBufferExtension(fake.api).alias(buffer) as raw:
        assert raw.on_device_size_in_bytes == 16 and raw.memory == memory
        assert raw.host_pointer == ctypes.addressof(device_bytes)
        raw.write(b"abcd", offset=4)
        assert raw.read(4, 4) == b"abcd" and raw.read() == b"\0" * 4 + b"abcd" + b"\0" * 8
        with pytest.raises(IndexError, match=r"bytes \[14, 18\) are outside the raw buffer of 16 bytes"):
            raw.write(b"xxxx", offset=14)
        with pytest.raises(ValueError, match="offset must be a non-negative int"):
            raw.read(-1, 2)
        with pytest.raises(TypeError, match="data must be bytes-like"):
            raw.write("text")
    assert fake.events()[-1] == f"raw_destroy:{handle}"


# -- callback --------------------------------------------------------------------------------------

def test_callback_register_and_invoke(fake, client):
    registered: dict[int, list] = {}

    def register(a):
        registered.setdefault(a.type, []).append((function(a.callback, _abi.PJRT_Callback_Function), a.user_arg))

    def invoke(a):
        for fn, user_arg in registered.get(a.type, []):
            fn(a.args, user_arg)

    fake.add_extension(_abi.PJRT_Callback_Extension, T.PJRT_Extension_Type_Callback,
                       {"register_callback": register, "invoke_callback": invoke})
    ext = X.CallbackExtension(fake.api)
    seen = []
    ext.register(client, callback.SLICE_BUILDER, lambda failure: seen.append(failure))
    ext.register(client, callback.PREFATAL, lambda code, message: seen.append((code, message)))
    ext.invoke(client, callback.SLICE_BUILDER, callback.slice_builder_args(callback.SliceFailure.SLICE_FAILURE_INIT_ERROR))
    args, _keep = callback.prefatal_args(Code.PJRT_Error_Code_INTERNAL, "dying")
    ext.invoke(client, callback.PREFATAL, args)
    assert seen == [callback.SliceFailure.SLICE_FAILURE_INIT_ERROR, (Code.PJRT_Error_Code_INTERNAL, "dying")]
    with pytest.raises(ValueError, match="kind must be SLICE_BUILDER or PREFATAL"):
        ext.register(client, 0, print)
    with pytest.raises(TypeError, match="args must be a ctypes callback-args struct"):
        ext.invoke(client, callback.PREFATAL, b"x")


def test_callback_exceptions_do_not_reach_the_plugin(fake, client, monkeypatch):
    reported = []
    monkeypatch.setattr("sys.unraisablehook", lambda info: reported.append(info.exc_type))
    fake.add_extension(_abi.PJRT_Callback_Extension, T.PJRT_Extension_Type_Callback, {
        "register_callback": lambda a: a.callback(0, a.user_arg)})
    X.CallbackExtension(fake.api).register(client, callback.SLICE_BUILDER, lambda *args: 1 / 0)
    assert reported == [ZeroDivisionError]


# -- cross-host transfers ---------------------------------------------------------------------------

def test_cross_host_keyed_send_and_receive(fake, client):
    device = client.addressable_devices()[0]
    src = client.buffer_from_numpy(np.arange(3, dtype=np.float32))
    # The fake "receives" into these buffers: their handles move to the received Buffer objects.
    donors = [client.buffer_from_numpy(np.zeros((2, 2), np.float32)), client.buffer_from_numpy(np.int8(0))]
    made = [d.handle for d in donors]
    seen = {}

    def receive(a):
        seen["types"] = list((ctypes.c_int * a.num_shapes).from_address(a.element_types))
        seen["ranks"] = list((ctypes.c_size_t * a.num_shapes).from_address(a.shape_num_dims))
        seen["keys"] = list((ctypes.c_int64 * a.num_shapes).from_address(a.transfer_keys))
        seen["src"] = list((ctypes.c_int64 * a.num_shapes).from_address(a.src_global_device_ids))
        out = (ctypes.c_void_p * a.num_shapes).from_address(a.buffers)
        out[0], out[1] = made

    def send(a):
        seen["send"] = (list((ctypes.c_void_p * a.num_buffers).from_address(a.buffers)),
                        list((ctypes.c_int64 * a.num_buffers).from_address(a.dst_global_device_ids)))
        (ctypes.c_void_p * a.num_buffers).from_address(a.send_events)[0] = 0x99

    fake.add_extension(_abi.PJRT_CrossHostTransfers_Extension, T.PJRT_Extension_Type_CrossHostTransfers, {
        "PJRT_Transfers_PJRT_Client_CrossHostReceiveBuffers": receive,
        "PJRT_Transfers_PJRT_Client_CrossHostSendBuffers": send})
    ext = X.CrossHostTransfers(fake.api)
    bufs = ext.receive_buffers(client, [(np.float32, (2, 2)), (np.int8, ())], device, [5, 6], [2**40, 7])
    assert seen["types"] == [_abi.PJRT_Buffer_Type.PJRT_Buffer_Type_F32, _abi.PJRT_Buffer_Type.PJRT_Buffer_Type_S8]
    assert seen["ranks"] == [2, 0] and seen["keys"] == [2**40, 7] and seen["src"] == [5, 6]
    for donor in donors:
        donor._handle = 0
    assert [b.handle for b in bufs] == made and bufs[0].shape == (2, 2) and bufs[1].dtype == np.int8
    np.testing.assert_array_equal(bufs[0].to_numpy(), np.zeros((2, 2), np.float32))
    events = ext.send_buffers(client, [src], [3], [2**40])
    assert seen["send"] == ([src.handle], [3]) and len(events) == 1
    events[0].wait()
    with pytest.raises(ValueError, match="transfer_keys must have one entry per buffer"):
        ext.send_buffers(client, [src], [3], [])
    with pytest.raises(TypeError, match=r"shapes\[0\] must be a \(dtype, dims\) pair"):
        ext.receive_buffers(client, [np.float32], device, [1], [1])


def test_cross_host_descriptor_api(fake, client, monkeypatch):
    device = client.addressable_devices()[0]
    src = client.buffer_from_numpy(np.arange(3, dtype=np.float32))
    state = {}

    def make(a):
        state["notifier"] = (function(a.notifier.notifier, _abi.PJRT_Transfers_CrossHostRecvNotifier),
                             a.notifier.user_arg)
        a.num_buffers = 0

    def copy(a):
        state["descriptor"] = ctypes.string_at(ctypes.c_void_p.from_address(a.serialized_descriptor).value,
                                               ctypes.c_size_t.from_address(a.serialized_descriptor_size).value)
        a.descriptor_destructor(a.serialized_descriptor, a.serialized_descriptor_size)
        ok = fake.error(Code.PJRT_Error_Code_OK, "")
        a.on_done.on_done(ok, True, a.on_done.user_arg)

    fake.add_extension(_abi.PJRT_CrossHostTransfers_Extension, T.PJRT_Extension_Type_CrossHostTransfers, {
        "PJRT_Transfers_PJRT_Client_MakeCrossHostReceiveBuffers": make,
        "PJRT_Buffer_CopyToRemoteDevice" if False else "PJRT_Transfers_PJRT_Buffer_CopyToRemoteDevice": copy})
    ext = X.CrossHostTransfers(fake.api)
    received = []
    assert ext.make_receive_buffers(client, [], device, lambda e, d, c: received.append((e, d, c))) == []
    notifier, user_arg = state["notifier"]
    descriptors = (ctypes.c_char_p * 2)(b"desc-0", b"desc-1")
    sizes = (ctypes.c_size_t * 2)(6, 6)
    cancelled = []

    def cancel_notifier(descriptor, size, code, message, message_size, on_canceled, on_canceled_arg, user):
        cancelled.append((ctypes.string_at(descriptor, size), code, ctypes.string_at(message, message_size)))
        on_canceled(None, on_canceled_arg)

    c_cancel = _abi.PJRT_Transfers_CrossHostSendCancelNotifier(cancel_notifier)
    notifier(None, ctypes.addressof(descriptors), ctypes.addressof(sizes), 2, user_arg, c_cancel, None)
    error, found, cancel = received[0]
    assert error is None and found == [b"desc-0", b"desc-1"]
    done = []
    cancel(b"desc-1", P.Aborted("gone", Code.PJRT_Error_Code_ABORTED), done.append)
    assert cancelled == [(b"desc-1", Code.PJRT_Error_Code_ABORTED, b"gone")] and done == [None]
    sent = []
    ext.copy_to_remote_device(src, b"desc-0", lambda e, enqueued: sent.append((e, enqueued)))
    assert state["descriptor"] == b"desc-0" and sent == [(None, True)]
    with pytest.raises(ValueError, match="descriptor must be non-empty bytes"):
        ext.copy_to_remote_device(src, b"", print)


# -- executable metadata, host allocators ------------------------------------------------------------

def test_executable_metadata(fake, client):
    exe = client.compile("""func.func @main(%a: tensor<2xf32>) -> tensor<2xf32> {
  return %a : tensor<2xf32> }""")
    data, size = fake.out_bytes(b"\x0a\x03abc")
    meta = _abi.PJRT_ExecutableMetadata(serialized_metadata=data, serialized_metadata_size=size)
    fake.keep(meta)
    seen = []
    fake.add_extension(_abi.PJRT_ExecutableMetadata_Extension, T.PJRT_Extension_Type_ExecutableMetadata, {
        "get_executable_metadata": lambda a: (seen.append(a.executable), setattr(a, "metadata", ctypes.addressof(meta)))[-1],
        "destroy_serialized_metadata": lambda a: seen.append(a.metadata)})
    assert X.ExecutableMetadata(fake.api).metadata(exe) == b"\x0a\x03abc"
    assert seen[1] == ctypes.addressof(meta) and seen[0]


def test_host_allocator(fake, client):
    memory = ctypes.create_string_buffer(64)
    freed = []
    fake.add_extension(_abi.PJRT_HostAllocator_Extension, T.PJRT_Extension_Type_HostAllocator, {
        "get_preferred_alignment": lambda a: setattr(a, "preferred_alignment", 64),
        "allocate": lambda a: setattr(a, "ptr", ctypes.addressof(memory) if a.size <= 64 else 0),
        "free": lambda a: freed.append((a.client, a.ptr))})
    ext = X.HostAllocator(fake.api)
    assert ext.preferred_alignment(client) == 64
    alloc = ext.allocate(client, 16)
    view = alloc.array()
    view[:] = 7
    assert memory.raw[:16] == b"\x07" * 16
    with pytest.raises(ValueError, match="still has live numpy views"):
        alloc.close()
    del view
    gc.collect()
    alloc.close()
    assert freed == [(client.handle, ctypes.addressof(memory))]
    with pytest.raises(MemoryError, match="returned no memory"):
        ext.allocate(client, 128)
    with pytest.raises(ValueError, match="alignment must be a positive power of two"):
        ext.allocate(client, 8, alignment=3)


def test_host_memory_allocator(fake, client):
    memory = ctypes.create_string_buffer(32)
    deleted = []
    deleter = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)(lambda p, arg: deleted.append((p, arg)))

    def allocate(a):
        assert a.numa_node == 1
        a.ptr, a.deleter, a.deleter_arg = ctypes.addressof(memory), deleter, 0x42
    fake.add_extension(_abi.PJRT_HostMemoryAllocator_Extension, T.PJRT_Extension_Type_HostMemoryAllocator,
                       {"allocate": allocate})
    alloc = X.HostMemoryAllocator(fake.api).allocate(client, 32, numa_node=1)
    assert alloc.size == 32 and alloc.address == ctypes.addressof(memory)
    alloc.close()
    alloc.close()
    assert deleted == [(ctypes.addressof(memory), 0x42)]


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


# -- extensions the CPU plugins have, through slots they leave null ----------------------------------

def test_phase_compile_with_a_phase_compiler(fake):
    names = [fake.out_bytes(b"phase0_stablehlo_to_hlo"), fake.out_bytes(b"phase1_hlo_opts")]
    ptrs = (ctypes.c_void_p * 2)(*[a for a, _ in names])
    sizes = (ctypes.c_size_t * 2)(*[n for _, n in names])
    fake.keep(ptrs, sizes)
    seen = {}

    def run(a):
        programs = (ctypes.c_void_p * a.num_input_programs).from_address(a.input_programs)
        phases = (ctypes.c_void_p * a.num_phases_to_run).from_address(a.phases_to_run)
        seen["in"] = (ctypes.string_at(programs[0], 4), ctypes.string_at(phases[0], 15), a.topology,
                      a.compile_options_size > 0)
        a.output_programs, a.output_programs_sizes, a.num_output_programs = ctypes.addressof(ptrs), \
            ctypes.addressof(sizes), 1

    fake.add_extension(_abi.PJRT_PhaseCompile_Extension, T.PJRT_Extension_Type_PhaseCompile, {
        "phase_compile_get_compiler": lambda a: setattr(a, "phase_compiler", 0xCC),
        "phase_compile_destroy_compiler": lambda a: fake.calls.append(f"compiler_destroy:{a.phase_compiler}"),
        "phase_compile_run_phases": run,
        "phase_compile_get_phase_names": lambda a: (setattr(a, "phase_names", ctypes.addressof(ptrs)),
                                                    setattr(a, "phase_names_sizes", ctypes.addressof(sizes)),
                                                    setattr(a, "num_phase_names", 2)) and None,
        "phase_compile_c_buffers_destroy": lambda a: fake.calls.append(f"free:{a.num_char_buffers}")})
    with X.PhaseCompile(fake.api).compiler() as compiler:
        assert compiler.phase_names() == ["phase0_stablehlo_to_hlo", "phase1_hlo_opts"]
        out = compiler.run_phases([b"prog"], ["phase1_hlo_opts"], type("Topo", (), {"handle": 0x7070})())
        assert out == [b"phase0_stablehlo_to_hlo"] and seen["in"] == (b"prog", b"phase1_hlo_opts", 0x7070, True)
        with pytest.raises(TypeError, match="programs must be a sequence of strings"):
            compiler.run_phases(b"x", [], type("Topo", (), {"handle": 1})())
    assert fake.events()[-3:] == ["free:2", "free:1", f"compiler_destroy:{0xCC}"]
    with pytest.raises(P.ClosedError, match="this PhaseCompiler has been closed"):
        compiler.phase_names()


def test_ffi_handler_registration_arguments(fake):
    seen = {}
    fake.add_extension(_abi.PJRT_FFI, T.PJRT_Extension_Type_FFI, {
        "register_handler": lambda a: seen.update(name=text(a.target_name, a.target_name_size), handler=a.handler,
                                                  platform=text(a.platform_name, a.platform_name_size),
                                                  traits=a.traits),
        "type_register": lambda a: fake.error(Code.PJRT_Error_Code_INVALID_ARGUMENT, "bad type")})
    ext = X.FFI(fake.api)
    ext.register_handler("target", 0x5000, "CUDA", ffi.HANDLER_TRAITS_COMMAND_BUFFER_COMPATIBLE)
    assert seen == {"name": b"target", "handler": 0x5000, "platform": b"CUDA", "traits": 1}
    with pytest.raises(InvalidArgument, match="bad type"):
        ext.register_type("t")
    with pytest.raises(ValueError, match="traits must be 0 or HANDLER_TRAITS_COMMAND_BUFFER_COMPATIBLE"):
        ext.register_handler("target", 0x5000, traits=2)


def test_memory_descriptions_with_descriptions(fake, client):
    kinds = {0xE0: b"device", 0xE1: b"pinned_host"}
    table = (ctypes.c_void_p * 2)(*kinds)
    fake.keep(table)
    seen = []

    def descriptions(a):
        seen.append(a.device_description)
        a.memory_descriptions, a.num_memory_descriptions, a.default_memory_index = ctypes.addressof(table), 2, 1

    def kind(a):
        data, size = fake.out_bytes(kinds[a.memory_description])
        a.kind, a.kind_size, a.kind_id = data, size, a.memory_description - 0xE0

    fake.add_extension(_abi.PJRT_MemoryDescriptions_Extension, T.PJRT_Extension_Type_MemoryDescriptions, {
        "PJRT_DeviceDescription_MemoryDescriptions": descriptions, "PJRT_MemoryDescription_Kind": kind})
    device = client.addressable_devices()[0]
    found = X.MemoryDescriptions(fake.api).memory_descriptions(device)
    assert found == [X.memory_descriptions.MemoryDescription("device", 0, False),
                     X.memory_descriptions.MemoryDescription("pinned_host", 1, True)]
    assert seen == [device.description._handle]


def test_layouts_parameter_layouts_slot(fake, client):
    exe = client.compile("""func.func @main(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  return %a : tensor<2x3xf32> }""")
    layout = ctypes.c_int64(0)
    fake.keep(layout)
    layouts = (ctypes.c_void_p * 1)(ctypes.addressof(layout))
    fake.keep(layouts)

    def serialize(a):
        data, size = fake.out_bytes(b"{0,1}")
        a.serialized_bytes, a.serialized_bytes_size = data, size
        a.serialized_layout, a.serialized_layout_deleter = 0xA0, fake.deleter("layout_bytes")

    fake.add_extension(_abi.PJRT_Layouts_Extension, T.PJRT_Extension_Type_Layouts, {
        "PJRT_Layouts_MemoryLayout_Serialize": serialize,
        "PJRT_Layouts_PJRT_Executable_GetParameterLayouts": lambda a: (setattr(a, "num_parameters", 1),
                                                                       setattr(a, "layouts", ctypes.addressof(layouts))) and None})
    [got] = X.Layouts(fake.api).parameter_layouts(exe)
    assert got.minor_to_major == (0, 1) and "layout_bytes:160" in fake.calls
