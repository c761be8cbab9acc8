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
from pjrt_array._pjrt.extensions import _callbacks, callback, custom_partitioner
from pjrt_array._pjrt.extensions import ffi, gpu_custom_call, profiler, xla_transform

from fake_plugin import Code, FakePlugin, client, fake, function, text  # noqa: F401

T = _abi.PJRT_Extension_Type


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
    """The CPU plugins report no memory descriptions, so PJRT_MemoryDescription_Kind runs here only."""
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
