"""Lowering choices made for speed: windowed short reductions, the vector width of programs with
narrow dots, and dots that read a transposed operand from its source.  Each must keep the values."""

import numpy as np
import pytest

import pjrt_array as xp
from pjrt_array._policy import policy_for
from pjrt_array.ops import _host_reductions
from pjrt_array.ops._builder import Builder

def _bits(a):
    return np.ascontiguousarray(a).reshape(-1).view(np.uint8)


_SHAPES = [((33,), 0), ((100,), 0), ((1024,), 0), ((3, 100), 1), ((100, 3), 0), ((2, 50, 3), 1)]


def _plain_sum_text(shape, axis, dtype):
    """A ``reduce`` of one axis as XLA sees it without our windows (it makes its own tree)."""
    t = "x".join(map(str, shape)) + "x" + dtype
    kept = [d for i, d in enumerate(shape) if i != axis]
    out = "x".join(map(str, kept)) + ("x" if kept else "") + dtype
    return (f"module {{ func.func public @main(%x: tensor<{t}>) -> tensor<{out}> {{\n"
            f" %z = stablehlo.constant dense<0.0> : tensor<{dtype}>\n"
            f' %r = "stablehlo.reduce"(%x, %z) ({{ ^bb0(%a: tensor<{dtype}>, %b: tensor<{dtype}>):\n'
            f"   %c = stablehlo.add %a, %b : tensor<{dtype}>\n   stablehlo.return %c : tensor<{dtype}> }})"
            f" {{dimensions = array<i64: {axis}>}} : (tensor<{t}>, tensor<{dtype}>) -> tensor<{out}>\n"
            f" return %r : tensor<{out}> }} }}")


@pytest.mark.parametrize("shape, axis", _SHAPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_windowed_sum_is_bit_for_bit_xlas_own_tree(shape, axis, dtype):
    rng = np.random.default_rng(len(shape) * 1000 + shape[axis])
    a = (rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 7, shape)).astype(dtype)
    a.flat[0], a.flat[-1] = -0.0, np.inf if shape[axis] == 100 else a.flat[-1]
    x = xp.asarray(a)
    client = x.device.client
    text = _plain_sum_text(shape, axis, "f64" if dtype == np.float64 else "f32")
    plain = client.compile(text, policy_for(client).program_options(0)).execute(
        [client.buffer_from_numpy(a)], device=client.devices()[0])[0].to_numpy()
    eager = np.asarray(xp.sum(x, axis=axis))
    jitted = np.asarray(xp.jit(lambda v: xp.sum(v, axis=axis))(x))
    np.testing.assert_array_equal(_bits(eager), _bits(plain))
    np.testing.assert_array_equal(_bits(jitted), _bits(plain))
    np.testing.assert_array_equal(_bits(_host_reductions._tree_reduce(a, (axis,), "add")), _bits(plain))
    np.testing.assert_allclose(eager, a.sum(axis=axis, dtype=np.float64), rtol=1e-4 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("shape, axis, windowed", [((100,), 0, True), ((1024,), 0, True), ((32,), 0, False),
                                                   ((1025,), 0, False), ((10, 10), None, False)])
def test_which_reductions_are_windowed(shape, axis, windowed):
    x = xp.asarray(np.ones(shape))
    text = xp.jit(lambda v: xp.sum(v, axis=axis)).lower(x).as_text()
    assert ("optimization_barrier" in text) == windowed
    assert ("stablehlo.pad" in text) == (windowed and shape[0] % 32 != 0)  # SAME padding to whole windows
    # a float max carries a NaN flag (a variadic reduction XLA never makes a tree of): one reduction
    assert "optimization_barrier" not in xp.jit(lambda v: xp.max(v)).lower(x).as_text()
    assert float(xp.jit(lambda v: xp.prod(v, axis=axis))(x).__array__().ravel()[0]) == 1.0


def test_windowed_integer_and_bool_reductions():
    a = np.arange(300, dtype=np.int32).reshape(3, 100) - 150
    x = xp.asarray(a)
    for ours, theirs in ((xp.sum, np.sum), (xp.max, np.max), (xp.min, np.min), (xp.prod, np.prod)):
        np.testing.assert_array_equal(np.asarray(xp.jit(lambda v, f=ours: f(v, axis=1))(x)), theirs(a, axis=1))
    b = a % 7 == 0
    np.testing.assert_array_equal(np.asarray(xp.any(xp.asarray(b), axis=1)), b.any(axis=1))
    np.testing.assert_array_equal(np.asarray(xp.all(xp.asarray(b), axis=1)), b.all(axis=1))


@pytest.mark.parametrize("k, dtype, narrow", [(100, np.float64, True), (96, np.float64, False),
                                              (10, np.float64, False), (24, np.float32, True),
                                              (16, np.float32, False), (100, np.int64, False)])
def test_narrow_dots_are_noted_for_the_vector_width(k, dtype, narrow):
    b = Builder()
    x, y = b.argument((5, k), dtype), b.argument((k,), dtype)
    b.dot_general(x, y, contract=((1,), (0,)))
    assert b.has_narrow_dot == narrow
    client = xp.asarray(1.0).device.client
    overrides = dict(policy_for(client).program_options(0, narrow_dot=narrow).env_option_overrides)
    assert overrides.get("xla_cpu_prefer_vector_width") == (256 if narrow else 512)


def test_conjugate_gradient_step_with_a_narrow_dot_is_right():
    rng = np.random.default_rng(2)
    m = rng.standard_normal((100, 100))
    a, p = m @ m.T + 100 * np.eye(100), rng.standard_normal(100)
    f = xp.jit(lambda a, p: xp.fori_loop(0, 3, lambda i, v: a @ v / xp.sum(v * v), p))
    want = p
    for _ in range(3):
        want = a @ want / np.sum(want * want)
    np.testing.assert_allclose(np.asarray(f(xp.asarray(a), xp.asarray(p))), want, rtol=1e-10)


_CASES = {
    "x.T @ v": (lambda m, x, v: m.matmul(x.T, v), [(50, 7), (50,)]),
    "x.T @ x": (lambda m, x: m.matmul(x.T, x), [(50, 7)]),
    "v @ x.T": (lambda m, x, v: m.matmul(v, x.T), [(7, 50), (50,)]),
    "batched": (lambda m, x: m.matmul(m.permute_dims(x, (0, 2, 1)), x), [(4, 7, 5)]),
    "batch moved": (lambda m, x, y: m.matmul(m.permute_dims(x, (1, 0, 2)), y), [(7, 4, 5), (4, 5, 3)]),
    "tensordot": (lambda m, x: m.tensordot(m.permute_dims(x, (2, 1, 0)), x, axes=([1, 2], [1, 0])), [(4, 7, 5)]),
}


@pytest.mark.parametrize("name", list(_CASES))
def test_dots_of_transposed_operands_match_numpy(name):
    fn, shapes = _CASES[name]
    rng = np.random.default_rng(3)
    args = [rng.standard_normal(s) for s in shapes]
    got = xp.jit(lambda *a: fn(xp, *a))(*[xp.asarray(a) for a in args])
    np.testing.assert_allclose(np.asarray(got), fn(np, *args), rtol=1e-12, atol=1e-12)


def test_transpose_is_folded_in_jit_only_within_its_block():
    x, v = np.random.default_rng(4).standard_normal((50, 7)), np.ones(50)
    text = xp.jit(lambda x, v: x.T @ v).lower(xp.asarray(x), xp.asarray(v)).as_text()
    assert "contracting_dims = [0] x [0]" in text
    # a transpose made outside a loop reaches the body as a carry: the dot reads that
    outside = xp.jit(lambda x, v: (lambda t: xp.fori_loop(0, 2, lambda i, w: t @ (x @ w), v[:7]))(x.T))
    w = v[:7]
    for _ in range(2):
        w = x.T @ (x @ w)
    np.testing.assert_allclose(np.asarray(outside(xp.asarray(x), xp.asarray(v))), w, rtol=1e-12)
    # a plain builder (eager ops, fusion's graphs) keeps the transpose: op-by-op bits
    b = Builder()
    a = b.argument((50, 7), np.float64)
    b.dot_general(b.transpose(a, (1, 0)), b.argument((50,), np.float64), contract=((1,), (0,)))
    assert any("transpose" in line for line in b.lines) and "contracting_dims = [1] x [0]" in b.lines[-1]
