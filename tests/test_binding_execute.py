"""Compile and execute StableHLO through the binding; executables, serialization, argument checks."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from pjrt_array import _pjrt as P
from pjrt_array._pjrt._signature import parse_hlo_signature, parse_main_signature

from binding_support import (ADD_F32_4, binary, client, compiled, new_client, plugin_info,  # noqa: F401
                             _shared_clients, unary, upload)

DOT = """func.func @main(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
  %0 = stablehlo.dot_general %a, %b, contracting_dims = [1] x [0] : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}"""

BATCHED_DOT = """func.func @main(%a: tensor<5x2x3xf64>, %b: tensor<5x3x2xf64>) -> tensor<5x2x2xf64> {
  %0 = stablehlo.dot_general %a, %b, batching_dims = [0] x [0], contracting_dims = [2] x [1] : (tensor<5x2x3xf64>, tensor<5x3x2xf64>) -> tensor<5x2x2xf64>
  return %0 : tensor<5x2x2xf64>
}"""

TWO_OUTPUTS = """func.func @main(%a: tensor<3xi32>, %b: tensor<3xi32>) -> (tensor<3xi32>, tensor<3xi1>) {
  %0 = stablehlo.subtract %a, %b : tensor<3xi32>
  %1 = stablehlo.compare LT, %a, %b : (tensor<3xi32>, tensor<3xi32>) -> tensor<3xi1>
  return %0, %1 : tensor<3xi32>, tensor<3xi1>
}"""

NO_ARGS = """func.func @main() -> tensor<2xf32> {
  %0 = stablehlo.constant dense<[1.5, -2.0]> : tensor<2xf32>
  return %0 : tensor<2xf32>
}"""

RNG = np.random.default_rng(0)


def run(client, program, *arrays):
    return [b.to_numpy() for b in compiled(client, program).execute(upload(client, *arrays))]


# -- programs ----------------------------------------------------------------------------------

@pytest.mark.parametrize("op, elem, dtype, reference", [
    ("add", "f32", np.float32, np.add),
    ("add", "bf16", ml_dtypes.bfloat16, np.add),
    ("multiply", "f16", np.float16, np.multiply),
    ("subtract", "f64", np.float64, np.subtract),
    ("add", "i8", np.int8, np.add),
    ("multiply", "i64", np.int64, np.multiply),
    ("maximum", "ui32", np.uint32, np.maximum),
    ("add", "complex<f32>", np.complex64, np.add),
    ("multiply", "complex<f64>", np.complex128, np.multiply),
    ("and", "i1", np.bool_, np.logical_and),
])
def test_elementwise_binary(client, op, elem, dtype, reference):
    a = (RNG.standard_normal(6) * 5).astype(dtype)
    b = (RNG.standard_normal(6) * 5).astype(dtype)
    if dtype in (np.complex64, np.complex128):
        a = a + 1j * np.arange(6).astype(dtype)
    (out,) = run(client, binary(op, "2x3x", elem), a.reshape(2, 3), b.reshape(2, 3))
    assert out.dtype == dtype and out.shape == (2, 3)
    np.testing.assert_array_equal(out, reference(a, b).astype(dtype).reshape(2, 3))


@pytest.mark.parametrize("shape", ["", "0x", "3x0x"], ids=["0-d", "empty", "empty-2d"])
def test_elementwise_on_0d_and_empty(client, shape):
    dims = tuple(int(d) for d in shape.split("x") if d)
    a = np.full(dims, -0.0, np.float32)
    (out,) = run(client, unary("negate", shape, "f32"), a)
    assert out.shape == dims
    np.testing.assert_array_equal(np.signbit(out), np.zeros(dims, bool))


def test_special_values_propagate(client):
    a = np.array([np.nan, np.inf, -np.inf, -0.0], np.float32)
    b = np.array([1.0, -np.inf, -np.inf, 0.0], np.float32)
    (out,) = run(client, ADD_F32_4, a, b)
    with np.errstate(invalid="ignore"):  # inf + -inf
        np.testing.assert_array_equal(out, a + b)
    assert not np.signbit(out[3])


def test_dot_general(client):
    a = RNG.standard_normal((2, 3)).astype(np.float32)
    b = RNG.standard_normal((3, 4)).astype(np.float32)
    (out,) = run(client, DOT, a, b)
    np.testing.assert_allclose(out, a @ b, rtol=1e-6, atol=1e-6)


def test_batched_dot_general(client):
    a = RNG.standard_normal((5, 2, 3))
    b = RNG.standard_normal((5, 3, 2))
    (out,) = run(client, BATCHED_DOT, a, b)
    np.testing.assert_allclose(out, a @ b, rtol=1e-12)


def test_two_outputs(client):
    a = np.array([1, 5, -3], np.int32)
    b = np.array([2, 2, 2], np.int32)
    exe = compiled(client, TWO_OUTPUTS)
    assert exe.num_outputs == 2
    assert exe.output_dtypes == [np.dtype(np.int32), np.dtype(np.bool_)]
    assert exe.output_shapes == [(3,), (3,)]
    diff, less = run(client, TWO_OUTPUTS, a, b)
    np.testing.assert_array_equal(diff, a - b)
    np.testing.assert_array_equal(less, a < b)


def test_program_without_arguments(client):
    (out,) = run(client, NO_ARGS)
    np.testing.assert_array_equal(out, np.array([1.5, -2.0], np.float32))


def test_program_as_bytes_and_with_compile_options(client):
    options = P.CompileOptions(env_option_overrides={"xla_backend_optimization_level": 0})
    exe = client.compile(ADD_F32_4.encode(), options)
    a = np.arange(4, dtype=np.float32)
    (out,) = exe.execute(upload(client, a, a))
    np.testing.assert_array_equal(out.to_numpy(), 2 * a)


def test_repeated_execution_reuses_nothing_stale(client):
    exe = compiled(client, ADD_F32_4)
    for i in range(20):
        a = np.full(4, i, np.float32)
        (out,) = exe.execute(upload(client, a, a))
        np.testing.assert_array_equal(out.to_numpy(), 2 * a)


def test_execute_handles_is_the_raw_path(client):
    exe = compiled(client, ADD_F32_4)
    x, y = upload(client, np.arange(4, dtype=np.float32), np.ones(4, np.float32))
    (handle,) = exe.execute_handles([x.handle, y.handle])
    out = P.Buffer(client, handle)
    np.testing.assert_array_equal(out.to_numpy(), np.arange(4) + 1.0)


def test_execute_handles_recovers_from_a_wrong_argument_count(client):
    exe = client.compile(ADD_F32_4)
    x = upload(client, np.ones(4, np.float32))[0]
    with pytest.raises(P.InvalidArgument, match="1 buffers"):
        exe.execute_handles([x.handle])  # the plugin counts arguments on the raw path
    (handle,) = exe.execute_handles([x.handle, x.handle])
    np.testing.assert_array_equal(P.Buffer(client, handle).to_numpy(), np.full(4, 2.0))


# -- several devices ----------------------------------------------------------------------------

def test_execute_on_every_device(new_client):
    c = new_client(cpu_device_count=2)
    exe = c.compile(unary("negate", "3x", "f32"), P.CompileOptions(num_replicas=2))
    assert exe.addressable_devices() == c.devices()
    args = [[c.buffer_from_numpy(np.arange(3, dtype=np.float32) * (i + 1), d)] for i, d in enumerate(c.devices())]
    results, events = exe.execute_sharded(args, with_events=True)
    for e in events:
        e.wait()
    for i, (d, (out,)) in enumerate(zip(c.devices(), results)):
        assert out.device == d
        np.testing.assert_array_equal(out.to_numpy(), -np.arange(3, dtype=np.float32) * (i + 1))
    with pytest.raises(ValueError, match="same number of arguments"):
        exe.execute_sharded([[args[0][0]], []])


def test_portable_executable_runs_on_a_chosen_device(new_client):
    c = new_client(cpu_device_count=2)
    exe = c.compile(unary("negate", "3x", "f32"), P.CompileOptions(compile_portable_executable=True))
    d = c.devices()[1]
    (out,) = exe.execute([c.buffer_from_numpy(np.ones(3, np.float32), d)], device=d)
    assert out.device == d
    np.testing.assert_array_equal(out.to_numpy(), -np.ones(3, np.float32))


def test_device_assignment(new_client):
    c = new_client(cpu_device_count=2)
    exe = c.compile(unary("negate", "3x", "f32"), P.CompileOptions(device_assignment=[[1]]))
    d = c.devices()[1]
    (out,) = exe.execute([c.buffer_from_numpy(np.ones(3, np.float32), d)])
    assert out.device == d
    with pytest.raises(P.InvalidArgument, match="assigned to device"):
        exe.execute([c.buffer_from_numpy(np.ones(3, np.float32))])


# -- executables --------------------------------------------------------------------------------

def test_executable_facts(client):
    exe = compiled(client, DOT)
    e = exe.executable
    assert e.name == "main"
    assert e.num_replicas == 1 and e.num_partitions == 1
    assert e.num_outputs == 1
    assert e.output_dimensions == [(2, 4)] and e.output_dtypes == [np.dtype(np.float32)]
    assert e.output_element_types == [P.BufferType.PJRT_Buffer_Type_F32]
    assert isinstance(e.fingerprint, bytes) and e.fingerprint
    assert e.size_of_generated_code_in_bytes >= 0
    stats = e.compiled_memory_stats()
    assert stats["argument_size_in_bytes"] == (6 + 12) * 4 and stats["output_size_in_bytes"] == 8 * 4
    # A field newer than the plugin is left out rather than reported as 0.
    assert ("total_size_in_bytes" in stats) == (client.api.minor >= 90)
    assert len(e.optimized_program()) > 0
    try:
        costs = e.cost_analysis()
    except P.Unimplemented:  # the 0.106 CPU plugin has no cost analysis
        pass
    else:
        assert costs["flops"] > 0
    e.close()
    with pytest.raises(P.ClosedError):
        e.name


def test_compile_options_round_trip_through_the_plugin(client):
    options = P.CompileOptions(env_option_overrides={"xla_backend_optimization_level": 0})
    exe = client.compile(ADD_F32_4, options)
    e = exe.executable
    if client.api.minor < 87:
        with pytest.raises(P.Unimplemented, match=r"PJRT_Executable_GetCompileOptions.*0\.87"):
            e.compile_options()
        return
    got = e.compile_options()
    assert got.num_replicas == 1 and got.num_partitions == 1
    assert dict(got.env_option_overrides)["xla_backend_optimization_level"] == 0


def test_serialize_deserialize_execute(client):
    exe = compiled(client, TWO_OUTPUTS)
    data = exe.executable.serialize()
    assert isinstance(data, bytes) and data
    loaded = client.deserialize_executable(data)
    assert loaded.signature == exe.signature == [((3,), np.dtype(np.int32))] * 2
    assert loaded.output_dtypes == exe.output_dtypes and loaded.output_shapes == exe.output_shapes
    a, b = np.array([4, 0, 9], np.int32), np.array([1, 2, 3], np.int32)
    diff, less = (o.to_numpy() for o in loaded.execute(upload(client, a, b)))
    np.testing.assert_array_equal(diff, a - b)
    np.testing.assert_array_equal(less, a < b)


def test_deserialize_rejects_garbage(client):
    with pytest.raises(P.PjrtError):
        client.deserialize_executable(b"\x00not an executable")
    with pytest.raises(TypeError, match="data must be bytes"):
        client.deserialize_executable("text")


def test_loaded_executable_delete_and_close(client):
    exe = client.compile(ADD_F32_4)
    assert "outputs=1" in repr(exe)
    exe.delete()
    assert isinstance(exe.is_deleted, bool)
    exe.close()
    exe.close()
    assert repr(exe) == "<pjrt LoadedExecutable closed>"


def test_signature_parsing():
    assert parse_main_signature(TWO_OUTPUTS) == [((3,), np.dtype(np.int32))] * 2
    assert parse_main_signature(NO_ARGS) == []
    assert parse_main_signature("func.func @main(%a: tensor<?xf32>) -> tensor<?xf32>") is None
    assert parse_main_signature("module {}") is None
    assert parse_main_signature("func.func @main(%a: tensor<>) -> tensor<f32>") is None  # no element type
    assert parse_hlo_signature(b"") is None
    assert parse_hlo_signature(b"\xff\xff\xff") is None


# -- bad input ----------------------------------------------------------------------------------

def test_malformed_stablehlo_raises_with_the_plugins_diagnostic(client):
    with pytest.raises(P.PjrtError, match="custom op 'garbage' is unknown"):
        client.compile("garbage")
    bad_types = ADD_F32_4.replace("%0 = stablehlo.add %a, %b : tensor<4xf32>",
                                  "%0 = stablehlo.add %a, %b : tensor<5xf32>")
    with pytest.raises(P.PjrtError, match="error"):
        client.compile(bad_types)


@pytest.mark.parametrize("program, options, fmt, error, match", [
    (42, None, "mlir", TypeError, "program must be str or bytes"),
    (ADD_F32_4, {"num_replicas": 1}, "mlir", TypeError, "options must be CompileOptions"),
    (ADD_F32_4, None, "onnx", ValueError, "format must be"),
])
def test_bad_compile_arguments(client, program, options, fmt, error, match):
    with pytest.raises(error, match=match):
        client.compile(program, options, fmt)


@pytest.fixture
def never_executes(client):
    """The ADD_F32_4 executable with its C execute replaced by a tripwire."""
    exe = client.compile(ADD_F32_4)

    def tripwire(address):
        raise AssertionError("a bad argument list reached PJRT_LoadedExecutable_Execute")

    exe._execute = tripwire
    return exe


@pytest.mark.parametrize("arrays, match", [
    ([np.ones(4, np.float32)], "takes 2 arguments, got 1"),
    ([np.ones(4, np.float32)] * 3, "takes 2 arguments, got 3"),
    ([np.ones(4, np.float32), np.ones(4, np.int32)], r"argument 1: expected float32\[4\], got int32\[4\]"),
    ([np.ones(4, np.float32), np.ones(3, np.float32)], r"argument 1: expected float32\[4\], got float32\[3\]"),
    ([np.ones((2, 2), np.float32), np.ones(4, np.float32)], r"argument 0: expected float32\[4\], got float32\[2, 2\]"),
    ([np.ones(4, np.float64), np.ones(4, np.float32)], r"argument 0: expected float32\[4\], got float64\[4\]"),
], ids=["too-few", "too-many", "dtype", "shape", "rank", "width"])
def test_bad_execute_arguments_are_checked_before_the_call(client, never_executes, arrays, match):
    with pytest.raises(TypeError, match=match):
        never_executes.execute(upload(client, *arrays))


def test_deserialized_executables_check_arguments_too(client):
    loaded = client.deserialize_executable(compiled(client, ADD_F32_4).executable.serialize())

    def tripwire(address):
        raise AssertionError("reached the plugin")

    loaded._execute = tripwire
    with pytest.raises(TypeError, match=r"argument 1: expected float32\[4\], got int32\[4\]"):
        loaded.execute(upload(client, np.ones(4, np.float32), np.ones(4, np.int32)))


def test_non_buffer_argument(client, never_executes):
    with pytest.raises(TypeError, match="argument 0: expected a Buffer, got ndarray"):
        never_executes.execute([np.ones(4, np.float32), np.ones(4, np.float32)])


def test_buffer_from_another_client(client, new_client, never_executes):
    other = new_client()
    mine = client.buffer_from_numpy(np.ones(4, np.float32))
    theirs = other.buffer_from_numpy(np.ones(4, np.float32))
    with pytest.raises(ValueError, match="argument 1: the buffer belongs to another client"):
        never_executes.execute([mine, theirs])
    with pytest.raises(ValueError, match="device belongs to another client"):
        never_executes.execute([mine, mine], device=other.devices()[0])
