"""The cached call of a jitted function with Arrays only (``jit._entry``): it serves exactly the
calls whose signature it knows, and every other call takes the general path with the same result."""

import importlib

import numpy as np
import pytest

import pjrt_array as xp
from helpers import assert_equal, run_in_threads

jit_module = importlib.import_module("pjrt_array.jit")


@pytest.fixture
def general_calls(monkeypatch):
    """How many calls went through the general path (which computes the full signature)."""
    count = [0]
    signature = jit_module.Jitted._signature

    def counting(self, args, kwargs):
        count[0] += 1
        return signature(self, args, kwargs)
    monkeypatch.setattr(jit_module.Jitted, "_signature", counting)
    return count


def _a(values, dtype=np.float64):
    return xp.asarray(np.asarray(values, dtype=dtype))


def _f(x, y):
    return xp.sin(x) * y + 1.0


@pytest.mark.parametrize("arity", [1, 2, 3])
def test_a_known_signature_of_arrays_skips_the_general_path(general_calls, arity):
    f = xp.jit(lambda *a: sum(a[1:], xp.sin(a[0])))
    args = [_a(np.arange(4.0) + k) for k in range(arity)]
    first = f(*args)
    assert general_calls[0] == 2  # the miss: once to look up, once to trace
    for _ in range(3):
        assert_equal(f(*args), np.asarray(first))
    assert general_calls[0] == 2
    assert f.cache_info()["hits"] == 3 and f.cache_info()["traces"] == 1


def test_new_shapes_and_dtypes_take_the_general_path_and_come_back(general_calls):
    f = xp.jit(_f)
    x, y = _a([0.5, 1.0]), _a([2.0, 3.0])
    longer, single = _a([0.5, 1.0, 2.0]), _a([0.5, 1.0], np.float32)
    for a, b in [(x, y), (longer, longer), (single, single), (x, y), (single, single)]:
        got = f(a, b)
        assert got.dtype == a.dtype
        assert_equal(got, np.sin(np.asarray(a)) * np.asarray(b) + 1, rtol=1e-6)
    assert f.cache_info()["traces"] == 3 and f.cache_info()["hits"] == 2
    assert general_calls[0] == 6  # each new signature: a lookup and a trace


def test_keywords_trees_scalars_and_numpy_arguments_take_the_general_path(general_calls):
    f = xp.jit(lambda x, y: x * y)
    x = _a([1.0, 2.0])
    f(x, x)
    before = general_calls[0]
    assert_equal(f(x, y=x), np.array([1.0, 4.0]))
    assert_equal(f(x, 3.0), np.array([3.0, 6.0]))
    assert_equal(f(x, np.array([2.0, 2.0])), np.array([2.0, 4.0]))
    g = xp.jit(lambda t: t[0] + t[1])
    assert_equal(g((x, x)), np.array([2.0, 4.0]))
    assert general_calls[0] > before + 4
    with pytest.raises(TypeError, match="str"):
        f(x, "text")


def test_static_and_donated_arguments_use_the_general_path():
    f = xp.jit(lambda x, n: x * n, static_argnums=1)
    x = _a([1.0, 2.0])
    assert_equal(f(x, 2), np.array([2.0, 4.0]))
    assert_equal(f(x, 3), np.array([3.0, 6.0]))
    assert f.cache_info()["traces"] == 2
    d = xp.jit(lambda x, y: x + y, donate_argnums=0)
    for k in range(3):
        a = _a([1.0, 2.0]) * (k + 1)
        out = d(a, x)
        assert_equal(out, np.array([1.0, 2.0]) * (k + 2))
        with pytest.raises(RuntimeError, match="donated"):
            a + 1


def test_a_donated_array_passed_again_says_so(general_calls):
    donate = xp.jit(lambda x: x * 2, donate_argnums=0)
    plain = xp.jit(lambda x: x + 1)
    x = _a([1.0, 2.0])
    plain(x)
    donate(x)
    with pytest.raises(RuntimeError, match="donated"):
        plain(x)


def test_an_argument_written_in_place_is_read_at_each_call():
    f = xp.jit(lambda x: x * 10)
    x = _a([1.0, 2.0, 3.0])
    assert_equal(f(x), np.array([10.0, 20.0, 30.0]))
    x[0] = 5.0
    assert_equal(f(x), np.array([50.0, 20.0, 30.0]))
    x += 1
    assert_equal(f(x), np.array([60.0, 30.0, 40.0]))


def test_views_and_captured_arrays_are_read_at_each_call():
    base = _a(np.arange(6.0))
    scale = _a([2.0, 2.0])
    f = xp.jit(lambda v: v * scale)
    view = base[1:3]
    assert_equal(f(view), np.array([2.0, 4.0]))
    base[1] = 10.0
    assert_equal(f(view), np.array([20.0, 4.0]))
    scale[:] = 3.0
    assert_equal(f(view), np.array([30.0, 6.0]))
    assert f.cache_info()["traces"] == 1


def test_values_fusion_has_yet_to_compute_are_computed_first():
    f = xp.jit(lambda x, y: x - y)
    x = _a([1.0, 2.0])
    f(x, x)
    enabled = xp.fusion_enabled()
    xp.set_fusion(True)
    try:
        for k in range(4):
            a, b = x * (k + 2), x + k
            assert_equal(f(a, b), np.array([1.0, 2.0]) * (k + 2) - (np.array([1.0, 2.0]) + k))
    finally:
        xp.set_fusion(enabled)


def test_arguments_on_another_device_get_their_own_program():
    devices = xp.__array_namespace_info__().devices()
    if len(devices) < 2:
        pytest.skip("needs two devices")
    f = xp.jit(_f)
    for device in [devices[0], devices[1], devices[0], devices[1]]:
        x, y = xp.asarray([0.0, 1.0], device=device), xp.asarray([2.0, 3.0], device=device)
        out = f(x, y)
        assert out.device == device
        assert_equal(out, np.sin([0.0, 1.0]) * [2.0, 3.0] + 1, rtol=1e-12)
    with pytest.raises(ValueError, match="different devices"):
        f(xp.asarray([1.0], device=devices[0]), xp.asarray([1.0], device=devices[1]))
    assert f.cache_info()["traces"] == 2


def test_sharded_arguments_with_a_known_shape_are_not_served_by_the_one_device_program():
    devices = xp.__array_namespace_info__().devices()
    if len(devices) < 2:
        pytest.skip("needs two devices")
    mesh = xp.make_mesh((2,), ("x",))
    rows = xp.NamedSharding(mesh, ("x",))
    f = xp.jit(lambda x: x * 2)
    host = np.arange(4.0)
    assert f(xp.asarray(host)).sharding is None
    out = f(xp.asarray(host, device=rows))
    assert out.sharding is not None
    assert_equal(out, host * 2)


def test_results_that_are_arguments_come_back_as_those_arrays():
    f = xp.jit(lambda x, y: (y, x * 2, x))
    x, y = _a([1.0]), _a([2.0])
    for _ in range(2):
        a, b, c = f(x, y)
        assert a is y and c is x
        assert_equal(b, np.array([2.0]))


def test_eight_threads_on_the_cached_call():
    f = xp.jit(_f)
    xs = [_a(np.arange(5.0) + k) for k in range(8)]
    y = _a(np.full(5, 0.5))
    f(xs[0], y)
    results = {}

    def work(k):
        for _ in range(20):
            results[k] = np.asarray(f(xs[k], y))
    run_in_threads(work)
    for k in range(8):
        np.testing.assert_allclose(results[k], np.sin(np.arange(5.0) + k) * 0.5 + 1)
    assert f.cache_info()["traces"] == 1


def test_the_returned_function_keeps_the_wrapped_functions_identity():
    def scaled(x):
        """Doubles."""
        return x * 2
    f = xp.jit(scaled)
    assert f.__name__ == "scaled" and f.__doc__ == "Doubles." and f.__wrapped__ is scaled
    assert "func.func public @main" in f.lower(_a([1.0])).as_text()
    f(_a([1.0]))
    f.cache_clear()
    assert f.cache_info()["entries"] == 0
    assert_equal(f(_a([1.0])), np.array([2.0]))


def test_a_failing_kernel_on_the_cached_call_raises_linalg_error_once():
    calls = [0]

    def inverse(m):
        calls[0] += 1
        return xp.linalg.inv(m)
    f = xp.jit(inverse)
    good, singular = _a(np.eye(3) * 2), _a(np.ones((3, 3)))
    assert_equal(f(good), np.eye(3) / 2)
    with pytest.raises(np.linalg.LinAlgError):
        f(singular)
    assert_equal(f(good), np.eye(3) / 2)
    assert calls[0] == 1 and f.cache_info()["hits"] == 2
