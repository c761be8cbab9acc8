"""``LoadedExecutable.run``: the one execute path that jit's cached call, eager dispatch and fusion
share (prebuilt per-thread blocks, outputs owned as Buffers, plugin errors as PjrtError)."""

from __future__ import annotations

import gc
import threading

import numpy as np
import pytest

import pjrt_array as xp
from pjrt_array import _pjrt as P
from pjrt_array import _trace_state

from binding_support import ADD_F32_4, client, compiled, new_client, plugin_info, _shared_clients, upload  # noqa: F401
from helpers import run_in_threads

TWO_OUTPUTS = """func.func @main(%a: tensor<3xi32>, %b: tensor<3xi32>) -> (tensor<3xi32>, tensor<3xi1>) {
  %0 = stablehlo.subtract %a, %b : tensor<3xi32>
  %1 = stablehlo.compare LT, %a, %b : (tensor<3xi32>, tensor<3xi32>) -> tensor<3xi1>
  return %0, %1 : tensor<3xi32>, tensor<3xi1>
}"""

F32_4 = ((4,), np.dtype(np.float32))


def test_run_returns_owned_buffers_of_the_given_types(client):
    exe = compiled(client, ADD_F32_4)
    x, y = upload(client, np.arange(4, dtype=np.float32), np.full(4, 0.5, np.float32))
    (out,) = exe.run([x.handle, y.handle], 0, [F32_4])
    assert isinstance(out, P.Buffer) and out._handle in client._buffers
    # The types come from the caller, not from the plugin (nothing is asked per call).
    assert out._dtype is F32_4[1] and out._shape == (4,)
    np.testing.assert_array_equal(out.to_numpy(), np.arange(4) + 0.5)


def test_run_with_two_outputs_and_a_device(client):
    exe = compiled(client, TWO_OUTPUTS)
    a, b = np.array([1, 5, -3], np.int32), np.array([2, 2, 2], np.int32)
    x, y = upload(client, a, b)
    d, lt = exe.run([x.handle, y.handle], client.devices()[0].handle,
                    [((3,), np.dtype(np.int32)), ((3,), np.dtype(bool))])
    np.testing.assert_array_equal(d.to_numpy(), a - b)
    np.testing.assert_array_equal(lt.to_numpy(), a < b)


def test_run_without_types_returns_the_raw_handles(client):
    exe = compiled(client, ADD_F32_4)
    x = upload(client, np.ones(4, np.float32))[0]
    (handle,) = exe.run([x.handle, x.handle], 0, None)
    assert type(handle) is int and handle not in client._buffers  # the caller owns it
    np.testing.assert_array_equal(P.Buffer(client, handle).to_numpy(), np.full(4, 2.0))


def test_outputs_are_destroyed_with_their_buffer(client):
    exe = compiled(client, ADD_F32_4)
    x = upload(client, np.ones(4, np.float32))[0]
    (out,) = exe.run([x.handle, x.handle], 0, [F32_4])
    handle = out._handle
    del out
    gc.collect()
    assert handle not in client._buffers


def test_arguments_may_go_once_run_returns(client):
    exe = compiled(client, ADD_F32_4)
    x, y = upload(client, np.arange(4, dtype=np.float32), np.ones(4, np.float32))
    (out,) = exe.run([x.handle, y.handle], 0, [F32_4])
    x.close()
    y.close()
    np.testing.assert_array_equal(out.to_numpy(), np.arange(4) + 1.0)


def test_a_wrong_argument_count_is_the_plugins_error_and_the_next_call_works(client):
    exe = client.compile(ADD_F32_4)
    x = upload(client, np.ones(4, np.float32))[0]
    with pytest.raises(P.InvalidArgument):
        exe.run([x.handle], 0, [F32_4])
    (out,) = exe.run([x.handle, x.handle], 0, [F32_4])
    np.testing.assert_array_equal(out.to_numpy(), np.full(4, 2.0))


def test_run_on_a_closed_executable_or_client_raises_closed_error(new_client):
    c = new_client()
    exe = c.compile(ADD_F32_4)
    x = upload(c, np.ones(4, np.float32))[0]
    exe.run([x.handle, x.handle], 0, [F32_4])
    exe.close()
    with pytest.raises(P.ClosedError):
        exe.run([x.handle, x.handle], 0, [F32_4])
    exe2 = c.compile(ADD_F32_4)
    c.close()
    with pytest.raises(P.ClosedError):
        exe2.run([1, 1], 0, [F32_4])


def test_each_thread_gets_its_own_block_and_its_own_results(client):
    exe = client.compile(ADD_F32_4)
    start = threading.Barrier(8)

    def work(i: int) -> None:
        a = np.full(4, i, np.float32)
        x = upload(client, a)[0]
        start.wait()
        for _ in range(50):
            (out,) = exe.run([x.handle, x.handle], 0, [F32_4])
            np.testing.assert_array_equal(out.to_numpy(), 2 * a)
    run_in_threads(work, 8)
    assert len(exe._blocks) == 8


def test_resource_exhausted_becomes_the_devices_memory_error(monkeypatch):
    def exhausted(self, handles, device_handle, out_avals):
        raise P.ResourceExhausted("out of memory (test)")
    x = xp.asarray(np.arange(5.0))
    monkeypatch.setattr(P.LoadedExecutable, "run", exhausted)
    f = xp.jit(lambda a: xp.cos(a) * 3.0)  # the jitted program binds run when it is installed
    for op in (lambda: xp.sin(x), lambda: f(x), lambda: f(x)):  # eager; jit's first and cached call
        with pytest.raises(MemoryError) as info:
            op()
        assert info.value.device == x.device


def test_the_cached_call_forgets_its_program_on_cache_clear():
    f = xp.jit(lambda a, b: a * b - 1.0)
    x, y = xp.asarray(np.arange(3.0)), xp.asarray(np.ones(3))
    f(x, y)
    f(x, y)
    f.cache_clear()
    np.testing.assert_array_equal(np.asarray(f(x, y)), np.arange(3.0) - 1.0)
    assert f.cache_info()["traces"] == 2  # traced again, not served by the remembered program


def test_no_trace_is_counted_after_one_fails():
    def bad(a):
        raise ValueError("inside the trace")
    g = xp.jit(bad)
    with pytest.raises(ValueError, match="inside the trace"):
        g(xp.asarray(np.ones(2)))
    assert _trace_state.tracing[0] == 0
    inner = xp.jit(lambda a: a + 1.0)
    outer = xp.jit(lambda a: inner(a) * 2.0)
    x = xp.asarray(np.arange(3.0))
    inner(x)
    inner(x)  # cached
    np.testing.assert_array_equal(np.asarray(outer(x)), (np.arange(3.0) + 1.0) * 2.0)
    assert inner.cache_info()["hits"] == 1  # inside outer's trace it inlined instead of executing
    assert _trace_state.tracing[0] == 0
