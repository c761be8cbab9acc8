"""pjrt_array.jit: signatures, caching, weak scalars, static args, closures, errors, indexing, threads."""

import threading
from collections import namedtuple

import numpy as np
import pytest

import pjrt_array as xp
from helpers import assert_equal, run_in_threads


def _a(values, dtype=np.float64):
    return xp.asarray(np.asarray(values, dtype=dtype))


def test_result_matches_eager_and_second_call_neither_traces_nor_compiles():
    def f(x, y):
        return xp.sum(xp.exp(x) * y + 1.0, axis=0), xp.matmul(x, y.T)
    jf = xp.jit(f)
    x, y = _a(np.arange(6).reshape(2, 3) / 4), _a(np.ones((2, 3)))
    for got, want in zip(jf(x, y), f(x, y)):
        assert_equal(got, np.asarray(want), rtol=1e-12)
    compiles = xp.cache_info()["compiles"]
    jf(x, y)
    assert jf.cache_info()["traces"] == 1 and jf.cache_info()["compiles"] == 1 and jf.cache_info()["hits"] == 1
    assert xp.cache_info()["compiles"] == compiles


def test_new_shape_or_dtype_traces_again():
    jf = xp.jit(lambda x: x * 2)
    jf(_a([1.0, 2.0]))
    jf(_a([1.0, 2.0, 3.0]))
    jf(_a([1.0, 2.0], np.float32))
    jf(_a([5.0, 6.0]))
    assert jf.cache_info()["traces"] == 3 and jf.cache_info()["hits"] == 1


def test_pytrees_in_and_out():
    Pair = namedtuple("Pair", "a b")

    @xp.jit
    def f(tree, pair):
        return {"sum": tree["x"] + tree["ys"][0], "list": [tree["ys"][1] * 2, None], "pair": Pair(pair.b, pair.a)}
    x, y0, y1 = _a([1.0, 2.0]), _a([3.0, 4.0]), _a([5.0])
    out = f({"x": x, "ys": (y0, y1)}, Pair(x, y1))
    assert_equal(out["sum"], np.array([4.0, 6.0]))
    assert_equal(out["list"][0], np.array([10.0]))
    assert out["list"][1] is None
    assert isinstance(out["pair"], Pair)
    assert_equal(out["pair"].a, np.array([5.0]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.uint8, np.complex64])
def test_python_scalars_are_weak_runtime_parameters(dtype):
    @xp.jit
    def f(x, s):
        return x * s + s
    x = _a([1, 2, 3], dtype)
    scalar = 2 if np.dtype(dtype).kind in "iu" else 2.5
    for s in (scalar, scalar + 1):
        out = f(x, s)
        assert out.dtype == dtype
        assert_equal(out, np.asarray(x * s + s), check_dtype=True)
    assert f.cache_info()["traces"] == 1


def test_scalar_only_arithmetic_stays_weak():
    f = xp.jit(lambda x, s, t: x * (s * t) + (s < t))
    out = f(_a([1.0, 2.0], np.float32), 1.5, 2)
    assert out.dtype == np.float32
    assert_equal(out, np.array([4.0, 7.0], np.float32))
    assert_equal(xp.jit(lambda s: s * 2)(3), np.array(6))


def test_numpy_arguments_and_scalar_outputs():
    f = xp.jit(lambda x: (x + 1, 3))
    out = f(np.arange(3, dtype=np.int32))
    assert_equal(out[0], np.array([1, 2, 3], np.int32))
    assert_equal(out[1], np.array(3))


def test_static_arguments():
    calls = []

    def f(x, axis, *, keepdims=False):
        calls.append(axis)
        return xp.sum(x, axis=axis, keepdims=keepdims)
    jf = xp.jit(f, static_argnums=1, static_argnames="keepdims")
    x = _a(np.arange(6).reshape(2, 3))
    assert_equal(jf(x, 0), np.array([3.0, 5.0, 7.0]))
    assert_equal(jf(x, 1, keepdims=True), np.array([[3.0], [12.0]]))
    jf(x, 0)
    assert calls == [0, 1]
    # a static name also covers the argument passed by position
    g = xp.jit(lambda x, n: xp.reshape(x, (n, -1)), static_argnames="n")
    assert g(x, 3).shape == (3, 2)
    with pytest.raises(TypeError, match="hashable"):
        jf(x, [0])


def test_bad_jit_arguments():
    with pytest.raises(TypeError, match="callable"):
        xp.jit(3)
    with pytest.raises(TypeError, match="static_argnums"):
        xp.jit(lambda x: x, static_argnums=-1)
    with pytest.raises(ValueError, match="static and donated"):
        xp.jit(lambda x: x, static_argnums=0, donate_argnums=0)
    with pytest.raises(TypeError, match="arguments must be arrays"):
        xp.jit(lambda x: x)("text")
    with pytest.raises(TypeError, match="must return arrays"):
        xp.jit(lambda x: "text")(_a([1.0]))


def test_closure_arrays_are_parameters_with_their_current_value():
    w = _a([1.0, 2.0])
    f = xp.jit(lambda x: x * w)
    text = f.lower(_a([1.0, 1.0])).as_text()
    assert text.count("tensor<2xf64>") >= 2 and "dense<[1.0" not in text
    assert_equal(f(_a([3.0, 3.0])), np.array([3.0, 6.0]))
    w[0] = 10.0
    assert_equal(f(_a([3.0, 3.0])), np.array([30.0, 6.0]))


def test_literals_and_creation_inside_are_part_of_the_program():
    @xp.jit
    def f(x):
        return x + xp.arange(3.0) + xp.ones(3) * 2 + xp.asarray(np.array([0.0, 0.0, 1.0]))
    assert_equal(f(_a([0.0, 0.0, 0.0])), np.array([2.0, 3.0, 5.0]))


@pytest.mark.parametrize("read", [bool, int, float, complex, lambda x: x.__index__(), np.asarray,
                                  lambda x: x.__dlpack__(), lambda x: range(x), lambda x: x._numpy()])
def test_host_reads_name_the_function_the_operation_and_the_remedy(read):
    def traced_fn(x):
        if read is bool:
            if x > 0:
                return x
        read(x[0])
        return x
    with pytest.raises(xp.ConcretizationError, match=r"traced_fn.*static_argnums.*where\(\).*while_loop"):
        xp.jit(traced_fn)(_a([1, 2], np.int64))


@pytest.mark.parametrize("fn", [
    lambda x: xp.nonzero(x), lambda x: xp.unique_values(x), lambda x: xp.unique_all(x),
    lambda x: x[x > 1], lambda x: xp.repeat(x, xp.asarray([1, 2, 0])),
])
def test_data_dependent_shapes_are_refused(fn):
    with pytest.raises(xp.ConcretizationError, match="cannot be traced inside"):
        xp.jit(fn)(_a([1.0, 2.0, 3.0]))


def test_escaped_tracer_is_reported():
    kept = []

    @xp.jit
    def leak(x):
        kept.append(x * 2)
        return x
    leak(_a([1.0]))
    with pytest.raises(xp.ConcretizationError, match="escaped"):
        kept[0] + 1
    with pytest.raises(xp.ConcretizationError, match="escaped"):
        xp.jit(lambda y: y + kept[0])(_a([1.0]))


def test_tracer_duck_types_array():
    seen = {}

    @xp.jit
    def f(x):
        seen["ns"] = x.__array_namespace__()
        seen["shape"], seen["ndim"], seen["size"], seen["len"] = x.shape, x.ndim, x.size, len(x)
        assert "Tracer" in repr(x) and ".f'" in repr(x)
        rows = [r * 2 for r in x]
        return xp.stack(rows) + x.T.T + x.mT.mT
    x = _a([[1.0, 2.0], [3.0, 4.0]])
    assert_equal(f(x), np.asarray(x) * 4)
    assert seen == {"ns": xp, "shape": (2, 2), "ndim": 2, "size": 4, "len": 2}


KEYS = [0, -1, (1, 2), slice(None, None, -1), (Ellipsis, 0), (None, 1), (slice(1, 3), slice(None, None, 2)),
        np.array([2, 0]), (np.array([0, 1]), np.array([1, 2])), (slice(None), np.array([[0], [2]]))]


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_getitem_and_setitem_under_jit_match_eager(key):
    host = np.arange(12.0).reshape(3, 4)
    x = xp.asarray(host)

    @xp.jit
    def get_set(x, v):
        y = x[key]
        x = x * 1
        x[key] = v
        x += 1
        x[key] *= 2
        return y, x
    got_y, got_x = get_set(x, 7.5)
    want = host.copy()
    want[key] = 7.5
    want += 1
    want[key] *= 2
    assert_equal(got_y, host[key])
    assert_equal(got_x, want)
    assert_equal(x, host)  # the argument itself is untouched


def test_array_index_inside_jit():
    f = xp.jit(lambda x, i: x[i] + x[i - 1])
    x = _a([1.0, 2.0, 4.0])
    assert_equal(f(x, xp.asarray(2)), np.array(6.0))
    assert_equal(f(x, xp.asarray(1)), np.array(3.0))


def test_nested_jit_inlines():
    inner = xp.jit(lambda x: x * 3)
    outer = xp.jit(lambda x: inner(x) + inner(x + 1))
    assert_equal(outer(_a([1.0])), np.array([9.0]))
    assert inner.cache_info()["traces"] == 0
    assert outer.lower(_a([1.0])).as_text().count("func.func") == 1


def test_methods_can_be_jitted_with_self_static():
    class Model:
        def __init__(self):
            self.scale = 2.0

        @xp.jit(static_argnums=0)
        def apply(self, x):
            return x * self.scale

    assert_equal(Model().apply(_a([1.0])), np.array([2.0]))


def test_eight_threads_get_right_answers_and_one_compile():
    @xp.jit
    def f(x, s):
        return xp.cumulative_sum(x * s)
    x = _a(np.arange(17.0))
    results = {}
    barrier = threading.Barrier(8)

    def work(k):
        barrier.wait()
        for _ in range(5):
            results[k] = np.asarray(f(x, float(k)))
    run_in_threads(work)
    for k in range(8):
        np.testing.assert_allclose(results[k], np.cumsum(np.arange(17.0) * k))
    assert f.cache_info()["traces"] == 1 and f.cache_info()["compiles"] == 1


def test_device_handling():
    devices = xp.__array_namespace_info__().devices()
    if len(devices) < 2:
        pytest.skip("needs two devices")
    a = xp.asarray([1.0], device=devices[0])
    b = xp.asarray([2.0], device=devices[1])
    with pytest.raises(ValueError, match="different devices"):
        xp.jit(lambda x, y: x + y)(a, b)
    out = xp.jit(lambda x, y: x + y, device=devices[1])(a, b)
    assert out.device == devices[1]
    assert_equal(out, np.array([3.0]))
    created = xp.jit(lambda x: x + xp.zeros(1))(b)
    assert created.device == devices[1]


def test_unchanged_arguments_come_back_as_the_same_arrays():
    a, b = _a([1.0]), _a([2.0])
    f = xp.jit(lambda x, y: (x, y + 1, x, b))
    out = f(a, 3.0)
    assert out[0] is a and out[2] is a and out[3] is b
    assert_equal(out[1], np.array(4.0))
    assert_equal(xp.jit(lambda s: s)(2.5), np.array(2.5))


def test_static_values_equal_across_types_trace_separately():
    f = xp.jit(lambda n: xp.full((2,), n), static_argnums=0)
    assert f(3).dtype == xp.int64 and f(3.0).dtype == xp.float64 and f(True).dtype == xp.bool


def test_without_array_arguments_a_device_argument_chooses_the_device():
    devices = xp.__array_namespace_info__().devices()
    f = xp.jit(lambda n, device=None: xp.zeros((n,), device=device), static_argnums=(0, 1))
    assert f(2).device == devices[0]
    if len(devices) > 1:
        out = f(2, devices[1])
        assert out.device == devices[1]
        assert_equal(out, np.zeros(2))
        assert f(2, device=devices[1]).device == devices[1]


def test_complex_sign_of_signed_zero_is_positive_zero_when_optimized():
    out = np.asarray(xp.jit(xp.sign)(xp.asarray([complex(-0.0, 0.0), complex(0.0, -0.0)])))
    assert not np.signbit(out.real).any() and not np.signbit(out.imag).any()


def test_general_eigenvalues_trace_where_lapack_serves_them():
    from pjrt_array.ops import _lapack
    x = xp.asarray(np.array([[2.0, 1.0], [0.0, 3.0]]))
    if not _lapack.serves(x.device, x.dtype):
        with pytest.raises(xp.ConcretizationError, match="eig"):
            xp.jit(xp.linalg.eigvals)(x)
        return
    assert_equal(xp.jit(xp.linalg.eigvals)(x), np.asarray(xp.linalg.eigvals(x)), rtol=1e-12)


@pytest.mark.parametrize("value", [1e-300, 1e20, -1e300, 0.1, float("inf"), float("nan")])
def test_float_literals_inside_the_trace_round_like_uploads(value):
    for dtype in (np.float32, np.float64):
        x = _a([1.0], dtype)
        with np.errstate(over="ignore"):
            want = np.asarray(x) * dtype(value)
        assert_equal(xp.jit(lambda x: x * value)(x), want)


def test_subnormal_literal_parses():
    # XLA:CPU flushes subnormal results to zero; the point is that the program parses.
    assert xp.jit(lambda: xp.asarray(5e-324) * 0 + xp.full((2,), 5e-324))().shape == (2,)
