"""Extensions on the installed CPU plugins: discovery, and every function they implement, for real.

The XLA CPU plugins provide Layouts, FFI, Memory Descriptions and
PhaseCompile (API 0.81 and 0.106) and Shardings (0.106).  Everything else is
absent and must be reported as such; tests/test_extensions_fake.py covers
those wrappers against a fake plugin.
"""

from __future__ import annotations

import ctypes
import types

import ml_dtypes
import numpy as np
import pytest

from pjrt_array._pjrt import _abi
from pjrt_array._pjrt import extensions as X
from pjrt_array._pjrt._api import new_struct
from pjrt_array._pjrt.errors import Internal, InvalidArgument, NotFound, Unimplemented
from pjrt_array._pjrt.extensions.ffi import user_data_count

from binding_support import _shared_clients, client, compiled, plugin_info  # noqa: F401

T = _abi.PJRT_Extension_Type
CPU_EXTENSIONS = {T.PJRT_Extension_Type_PhaseCompile, T.PJRT_Extension_Type_FFI,
                  T.PJRT_Extension_Type_MemoryDescriptions, T.PJRT_Extension_Type_Layouts}
TRANSPOSE = """func.func @main(%a: tensor<2x3xf32>, %b: tensor<i32>) -> tensor<3x2xf32> {
  %0 = stablehlo.transpose %a, dims = [1, 0] : (tensor<2x3xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}"""
SPMD = """module @spmd attributes {mhlo.num_partitions = 2 : i32} {
  func.func @main(%a: tensor<4x2xf32> {mhlo.sharding = "{devices=[2,1]0,1}"})
      -> (tensor<4x2xf32> {mhlo.sharding = "{replicated}"}) {
    %0 = stablehlo.add %a, %a : tensor<4x2xf32>
    return %0 : tensor<4x2xf32>
  }
}"""


def expected_extensions(client) -> set:
    extra = {T.PJRT_Extension_Type_Shardings} if client.api.minor >= 106 else set()
    return CPU_EXTENSIONS | extra


@pytest.fixture
def topology(client):
    """The client's topology description (``PJRT_Client_TopologyDescription``; owned by the client)."""
    args = new_struct(_abi.PJRT_Client_TopologyDescription_Args)
    args.client = client.handle
    client.api.call("PJRT_Client_TopologyDescription", args)
    return types.SimpleNamespace(handle=args.topology)


@pytest.fixture
def execute_context(client):
    """A fresh ``PJRT_ExecuteContext`` (API 0.102+), destroyed after the test."""
    if not client.api.has("PJRT_ExecuteContext_Create"):
        pytest.skip(f"PJRT_ExecuteContext_Create is not in API {client.api.version}")
    args = new_struct(_abi.PJRT_ExecuteContext_Create_Args)
    client.api.call("PJRT_ExecuteContext_Create", args)
    yield types.SimpleNamespace(handle=args.context)
    destroy = new_struct(_abi.PJRT_ExecuteContext_Destroy_Args)
    destroy.context = args.context
    client.api.call("PJRT_ExecuteContext_Destroy", destroy)


# -- discovery -----------------------------------------------------------------------------------

def test_extension_chain_of_each_plugin(client):
    found = X.extension_types(client)
    assert set(found) == expected_extensions(client) and len(found) == len(set(found))
    assert X.extension_types(client.plugin) == found


def test_absent_extensions_are_none_and_refuse_cleanly(client):
    present = expected_extensions(client)
    for name, cls in X.EXTENSIONS.items():
        ext = X.get(client, name)
        if cls.TYPE in present:
            assert isinstance(ext, cls) and ext.api is client.api
            assert any(ext.slots().values()) or cls is X.ProfilerExtension
        else:
            assert ext is None and cls.of(client.plugin) is None
            with pytest.raises(Unimplemented, match=rf"the {cls.NAME} extension is not provided by plugin "
                                                    rf".*\(PJRT API 0\.{client.api.minor}\)"):
                cls(client)


def test_implemented_slots_per_plugin(client):
    layouts = X.Layouts(client).slots()
    assert layouts.pop("PJRT_Layouts_PJRT_Executable_GetParameterLayouts") == (client.api.minor >= 106)
    assert all(layouts.values())
    assert all(X.FFI(client).slots().values()) and all(X.MemoryDescriptions(client).slots().values())
    assert X.PhaseCompile(client).slots() == {
        "phase_compile_get_compiler": False, "phase_compile_destroy_compiler": False,
        "phase_compile_run_phases": True, "phase_compile_get_phase_names": True,
        "phase_compile_c_buffers_destroy": True}


# -- layouts -------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(), (5,), (2, 3), (2, 3, 4), (0, 2)], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.bool_, np.complex128, ml_dtypes.int4], ids=lambda d: np.dtype(d).name)
def test_default_and_buffer_layouts_are_row_major(client, shape, dtype):
    ext = X.Layouts(client)
    row_major = tuple(range(len(shape) - 1, -1, -1))
    assert ext.client_default_layout(client, dtype, shape).minor_to_major == row_major
    buf = client.buffer_from_numpy(np.zeros(shape, dtype))
    assert ext.buffer_layout(buf).minor_to_major == row_major


def test_topology_default_layout(client, topology):
    ext = X.Layouts(client)
    layout = ext.topology_default_layout(topology, np.float64, (4, 5))
    assert layout.minor_to_major == (1, 0) and str(layout) == "{1,0}"


def test_executable_layouts(client):
    ext = X.Layouts(client)
    exe = compiled(client, TRANSPOSE)
    assert [lay.minor_to_major for lay in ext.output_layouts(exe)] == [(1, 0)]
    inner = exe.executable
    try:
        assert [lay.minor_to_major for lay in ext.output_layouts(inner)] == [(1, 0)]
    finally:
        inner.close()
    if client.api.minor >= 106:
        assert [lay.minor_to_major for lay in ext.parameter_layouts(exe)] == [(1, 0), ()]
    else:
        with pytest.raises(Unimplemented, match="PJRT_Layouts_PJRT_Executable_GetParameterLayouts is not "
                                                "implemented by the Layouts extension"):
            ext.parameter_layouts(exe)


def test_layouts_bad_input(client, topology):
    ext = X.Layouts(client)
    with pytest.raises(ValueError, match="shape must not have negative dimensions"):
        ext.client_default_layout(client, np.float32, (2, -1))
    with pytest.raises(TypeError, match="shape must be a sequence of ints"):
        ext.client_default_layout(client, np.float32, 3)
    with pytest.raises(TypeError, match="dtype: unsupported dtype"):
        ext.client_default_layout(client, object, (2,))
    with pytest.raises(TypeError, match="client must be a Client"):
        ext.client_default_layout(topology, np.float32, (2,))
    with pytest.raises(TypeError, match="buffer must be a Buffer"):
        ext.buffer_layout(np.zeros(2))
    with pytest.raises(TypeError, match="topology must be a topology description object"):
        ext.topology_default_layout(object(), np.float32, (2,))
    with pytest.raises(TypeError, match="executable must be a Executable or LoadedExecutable"):
        ext.output_layouts("program")
    with pytest.raises(ValueError, match=r"unrecognised serialized layout b'\[1\]'"):
        X.layouts.Layout(b"[1]").minor_to_major


# -- memory descriptions -------------------------------------------------------------------------

def test_memory_descriptions_of_devices(client):
    ext = X.MemoryDescriptions(client)
    device = client.addressable_devices()[0]
    found = ext.memory_descriptions(device)
    assert found == ext.memory_descriptions(device.description)
    # The CPU plugins attach no memory descriptions to their device descriptions (the
    # topology's device descriptions have none either), so the per-description kind query
    # runs against the fake plugin only (tests/test_extensions_fake.py).
    assert found == []
    with pytest.raises(TypeError, match="device must be a Device or DeviceDescription"):
        ext.memory_descriptions(client)


# -- FFI -----------------------------------------------------------------------------------------

def test_ffi_type_registration(client):
    ext = X.FFI(client)
    name = f"pjrt_array_test_type_{client.api.minor}"
    type_id = ext.register_type(name)
    assert type_id > 0
    assert ext.register_type(name, type_id) == type_id
    with pytest.raises(Internal, match=f"Type name {name} already registered with type id {type_id}"):
        ext.register_type(name, type_id + 1000)
    with pytest.raises(ValueError, match="name must not be empty"):
        ext.register_type("")
    with pytest.raises(ValueError, match="type_id must be a non-negative int"):
        ext.register_type("x", -1)


def test_ffi_user_data_on_an_execute_context(client, execute_context):
    ext = X.FFI(client)
    type_id = ext.register_type(f"pjrt_array_user_data_{client.api.minor}")
    before = user_data_count()
    payload = {"state": [1, 2, 3]}
    ext.add_user_data(execute_context, type_id, payload)
    assert user_data_count() == before + 1
    with pytest.raises(ValueError, match="type_id must be a registered"):
        ext.add_user_data(execute_context, 0, payload)
    with pytest.raises(TypeError, match="context must be a execute context object"):
        ext.add_user_data(object(), type_id, payload)


def test_ffi_register_handler_queries_the_handler(client):
    ext = X.FFI(client)
    frames = []

    @ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)
    def handler(frame):
        frames.append(frame)
        return None

    ext.register_handler(f"pjrt_array_test_handler_{client.api.minor}", handler)
    # XLA calls the handler once with a metadata extension to learn its FFI version.
    assert len(frames) == 1 and frames[0]
    with pytest.raises(ValueError, match="target_name must not be empty"):
        ext.register_handler("", handler)
    with pytest.raises(ValueError, match="handler must not be null"):
        ext.register_handler("x", 0)
    with pytest.raises(TypeError, match="handler must be a ctypes function or an address"):
        ext.register_handler("x", print)


def _custom_call(target: str, ins: list[str], outs: list[str]) -> str:
    params = ", ".join(f"%a{i}: {t}" for i, t in enumerate(ins))
    args = ", ".join(f"%a{i}" for i in range(len(ins)))
    results = ", ".join(outs)
    names = ", ".join(f"%0#{i}" for i in range(len(outs))) if len(outs) > 1 else "%0"
    count = f":{len(outs)}" if len(outs) > 1 else ""
    return f"""func.func @main({params}) -> ({results}) {{
  %0{count} = stablehlo.custom_call @{target}({args}) {{api_version = 4 : i32}} : ({", ".join(ins)}) -> ({results})
  return {names} : {results}
}}"""


def test_python_ffi_handler_runs_in_a_program(client):
    ext = X.FFI(client)
    seen = []

    def affine(x, y):
        seen.append((x.dtype, x.shape, x.flags.writeable))
        return 2 * x + y, x.sum()

    target = f"pjrt_array_affine_{client.api.minor}"
    ext.register_python_handler(target, affine)
    exe = client.compile(_custom_call(target, ["tensor<2x3xf32>", "tensor<2x3xf32>"], ["tensor<2x3xf32>", "tensor<f32>"]))
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.full((2, 3), -0.5, np.float32)
    twice, total = exe.execute([client.buffer_from_numpy(a), client.buffer_from_numpy(b)])
    np.testing.assert_array_equal(twice.to_numpy(), 2 * a + b)
    assert total.to_numpy() == np.float32(15)
    assert seen == [(np.dtype(np.float32), (2, 3), False)]


def test_python_ffi_handler_errors_fail_the_execution(client):
    ext = X.FFI(client)
    minor = client.api.minor

    def broken(x):
        raise KeyError("no such entry")

    ext.register_python_handler(f"pjrt_array_broken_{minor}", broken)
    ext.register_python_handler(f"pjrt_array_misshapen_{minor}", lambda x: np.zeros(5, np.int32))
    for target, error, message in [(f"pjrt_array_broken_{minor}", NotFound, "KeyError: 'no such entry'"),
                                   (f"pjrt_array_misshapen_{minor}", InvalidArgument,
                                    r"result 0: the handler returned shape \(5,\), the program expects \(3,\)")]:
        exe = client.compile(_custom_call(target, ["tensor<3xi32>"], ["tensor<3xi32>"]))
        with pytest.raises(error, match=message):
            exe.execute([client.buffer_from_numpy(np.arange(3, dtype=np.int32))])[0].to_numpy()
    with pytest.raises(TypeError, match="fn must be callable"):
        ext.register_python_handler("x", 3)


# -- phase compile ---------------------------------------------------------------------------------

def test_phase_compile_has_no_compiler_on_cpu(client):
    ext = X.PhaseCompile(client)
    with pytest.raises(Unimplemented, match="phase_compile_get_compiler is not implemented by the PhaseCompile "
                                            "extension"):
        ext.compiler()


def test_phase_compile_functions_answer_without_a_compiler(client, topology):
    """The three slots the CPU plugins fill, called for real (PJRT_PhaseCompile_Get_PhaseNames,
    PJRT_PhaseCompile_Run_Phase, PJRT_PhaseCompile_C_Buffers_Destroy): without a phase compiler
    they report the plugin's error instead of crashing, and freeing no buffers is fine."""
    ext = X.PhaseCompile(client)
    with pytest.raises(Internal, match="PJRT_PhaseCompile_Get_Phase_Names: phase compiler is null"):
        ext._phase_names(0)
    # The plugin reads the input programs before anything else.
    with pytest.raises(InvalidArgument, match="Failed to deserialize PjRtPartialProgramProto"):
        ext._run_phases(0, [b"not a proto"], ["phase"], X.phase_compile.CompileOptions(), topology.handle)
    empty_program = b""  # a PjRtPartialProgramProto with every field at its default
    with pytest.raises(Internal, match="PJRT_PhaseCompile_Run_Phase: phase compiler is null"):
        ext._run_phases(0, [empty_program], ["phase"], X.phase_compile.CompileOptions(), topology.handle)
    ext._free_strings(None, None, 0)


# -- shardings -------------------------------------------------------------------------------------

def test_shardings_of_an_spmd_program(client):
    if client.api.minor < 106:
        assert X.Shardings.of(client) is None
        return
    from pjrt_array._pjrt import CompileOptions
    ext = X.Shardings(client)
    exe = client.compile(SPMD, CompileOptions(num_partitions=2, use_spmd_partitioning=True))
    [param] = ext.parameter_shardings(exe)
    [out] = ext.output_shardings(exe)
    # xla.OpSharding{type: OTHER, tile_assignment_dimensions: [2, 1], tile_assignment_devices: [0, 1]}
    assert param == b"\x08\x03\x1a\x02\x02\x01\"\x02\x00\x01"
    assert out == b""  # REPLICATED: every field at its default
    single = compiled(client, TRANSPOSE)
    # A program compiled without partitioning has no shardings to report.
    assert ext.parameter_shardings(single) == [] and ext.output_shardings(single) == []
