"""jit introspection and export (lower/as_text/compile, the text on raw PJRT clients) and donation."""

import numpy as np
import pytest

import pjrt_array as xp
from binding_support import _shared_clients, client, plugin_info  # noqa: F401  (fixtures)
from helpers import assert_equal
from pjrt_array import _pjrt as P


def _a(values, dtype=np.float64):
    return xp.asarray(np.asarray(values, dtype=dtype))


def _model(x, w, s):
    def step(i, h):
        return xp.tanh(xp.matmul(h, w) * s + x)
    return xp.fori_loop(0, 5, step, x), xp.max(x, axis=0)


def test_exported_text_runs_on_each_cpu_plugin_through_the_binding(client):  # noqa: F811
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((4, 4)).astype(np.float32)
    jitted = xp.jit(_model)
    want = jitted(xp.asarray(x), xp.asarray(w), 0.5)
    text = jitted.lower(xp.asarray(x), xp.asarray(w), 0.5).as_text()
    exe = client.compile(text, P.CompileOptions(num_replicas=1, num_partitions=1))
    # Python scalar arguments are 0-d float64 parameters.
    args = [client.buffer_from_numpy(a) for a in (x, w, np.array(0.5))]
    outs = [b.to_numpy() for b in exe.execute(args)]
    for got, expected in zip(outs, want):
        np.testing.assert_allclose(got, np.asarray(expected), rtol=1e-6)


def test_lower_then_compile_serves_later_calls():
    jitted = xp.jit(lambda x, y: x @ y + 1)
    x = _a(np.eye(3))
    lowered = jitted.lower(x, x)
    assert "func.func public @main" in lowered.as_text() and "stablehlo.dot_general" in lowered.as_text()
    compiled = lowered.compile()
    assert compiled.as_text() == lowered.as_text()
    assert_equal(compiled(x, x), np.eye(3) + 1)
    assert_equal(jitted(x, x), np.eye(3) + 1)
    assert jitted.cache_info()["traces"] == 1 and jitted.cache_info()["compiles"] == 1
    with pytest.raises(TypeError, match="do not match"):
        compiled(_a(np.eye(2)), _a(np.eye(2)))


def test_donated_argument_buffer_is_reused_and_the_array_invalid():
    f = xp.jit(lambda x, y: (x * 2 + y, xp.sum(y)), donate_argnums=0)
    y = xp.ones(64)
    x = xp.asarray(np.arange(64.0)) + 0
    assert "tf.aliasing_output = 0" in f.lower(x, y).as_text()
    address = x._buffer.unsafe_pointer()
    out, total = f(x, y)
    assert_equal(out, np.arange(64.0) * 2 + 1)
    assert float(total) == 64.0
    assert out._buffer.unsafe_pointer() == address
    for use in (lambda: x + 1, lambda: np.asarray(x), lambda: repr(x)):
        with pytest.raises(RuntimeError, match="donated to the jitted function"):
            use()
    assert_equal(y, np.ones(64))  # not donated


def test_donation_with_a_host_view_held_keeps_the_view_intact():
    f = xp.jit(lambda x: x + 1, donate_argnums=0)
    x = xp.asarray(np.arange(8.0)) + 0
    view = np.asarray(x)
    assert_equal(f(x), np.arange(8.0) + 1)
    np.testing.assert_array_equal(view, np.arange(8.0))


def test_donating_one_array_twice_is_refused():
    f = xp.jit(lambda x, y: (x + 1, y + 1), donate_argnums=(0, 1))
    x = xp.asarray(np.arange(4.0)) + 0
    with pytest.raises(ValueError, match="donated twice"):
        f(x, x)
    assert_equal(x, np.arange(4.0))


def test_donation_without_a_matching_output_is_ignored():
    f = xp.jit(lambda x: xp.sum(x), donate_argnums=0)
    x = xp.asarray(np.arange(4.0))
    assert "aliasing" not in f.lower(x).as_text()
    assert float(f(x)) == 6.0
    assert_equal(x, np.arange(4.0))
