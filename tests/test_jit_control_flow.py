"""fori_loop, while_loop and cond: eager and traced against plain Python, pytree state, captures, errors."""

import numpy as np
import pytest

import pjrt_array as xp
from helpers import assert_equal


def _a(values, dtype=np.float64):
    return xp.asarray(np.asarray(values, dtype=dtype))


def _both(fn, *args):
    """``fn`` eagerly and jitted, the two results as numpy trees."""
    return fn(*args), xp.jit(fn)(*args)


def test_fori_loop_eager_and_traced_match_python():
    def f(x, n):
        return xp.fori_loop(0, n, lambda i, c: c * 0.5 + x[i] * i, xp.zeros_like(x[0]))
    host = np.arange(12.0).reshape(4, 3)
    want = np.zeros(3)
    for i in range(4):
        want = want * 0.5 + host[i] * i
    eager, traced = _both(f, xp.asarray(host), 4)
    assert_equal(eager, want)
    assert_equal(traced, want)


def test_fori_loop_is_one_while_not_unrolled():
    text = xp.jit(lambda x: xp.fori_loop(0, 1000, lambda i, c: c + 1.0, x)).lower(_a([0.0])).as_text()
    assert text.count("stablehlo.while") == 1 and text.count("stablehlo.add") <= 3


def test_fori_loop_with_array_bounds_and_empty_range():
    f = xp.jit(lambda lo, hi, x: xp.fori_loop(lo, hi, lambda i, c: c + i, x))
    assert_equal(f(xp.asarray(2), xp.asarray(5), xp.asarray(0)), np.array(9))
    assert_equal(f(xp.asarray(5), xp.asarray(2), xp.asarray(0)), np.array(0))
    with pytest.raises(TypeError, match="upper"):
        xp.fori_loop(0, _a([1.0, 2.0]), lambda i, c: c, 0)


def test_weak_loop_index_keeps_float32():
    f = xp.jit(lambda x: xp.fori_loop(0, 3, lambda i, c: c + i * 0.5, x))
    out = f(_a([1.0], np.float32))
    assert out.dtype == np.float32
    assert_equal(out, np.array([2.5], np.float32))


def test_while_loop_pytree_state():
    def f(x):
        def cond(s):
            return s["total"] < 100

        def body(s):
            return {"x": s["x"] * 2, "total": s["total"] + xp.sum(s["x"]), "steps": s["steps"] + 1}
        return xp.while_loop(cond, body, {"x": x, "total": 0.0, "steps": 0})
    eager, traced = _both(f, _a([0.0, 1.0, 2.0]))
    for out in (eager, traced):
        assert_equal(xp.asarray(out["x"]), np.array([0.0, 64.0, 128.0]))
        assert float(out["total"]) == 189.0 and int(out["steps"]) == 6


def test_loop_bodies_capture_outer_tracers_and_closure_arrays():
    w = _a([1.0, -1.0])

    @xp.jit
    def f(x, scale):
        def body(i, c):
            return c + x * scale + w  # x, scale: outer tracers; w: a concrete closure Array
        return xp.while_loop(lambda c: xp.sum(c) < 10 + scale, lambda c: body(0, c), xp.zeros(2)), \
            xp.fori_loop(0, 3, body, xp.zeros(2))
    a, b = f(_a([1.0, 2.0]), 1.0)
    assert_equal(a, np.array([8.0, 4.0]))
    assert_equal(b, np.array([6.0, 3.0]))


def test_nested_loops_and_cond_inside_loop():
    def f(n):
        def outer(i, acc):
            inner = xp.fori_loop(0, i, lambda j, c: c + j, 0)
            return xp.cond(i % 2 == 0, lambda a: a + inner, lambda a: a - inner, acc)
        return xp.fori_loop(0, n, outer, 0)
    want = 0
    for i in range(6):
        inner = sum(range(i))
        want = want + inner if i % 2 == 0 else want - inner
    eager, traced = _both(f, 6)
    assert int(xp.asarray(eager)) == want and int(traced) == want


def test_cond_eager_and_traced():
    def f(p, x):
        return xp.cond(p, lambda a, b: (a * 2, b), lambda a, b: (a - 1, b + 1), x, 3)
    x = _a([1.0, 2.0])
    for p in (True, False):
        eager, traced = _both(f, p, x)
        assert_equal(traced[0], np.asarray(eager[0]))
        assert int(traced[1]) == int(xp.asarray(eager[1]))
    text = xp.jit(f).lower(True, x).as_text()
    assert "stablehlo.if" in text
    # a numeric predicate compares with zero, as bool() does
    assert_equal(xp.jit(lambda p, x: xp.cond(p, lambda: x, lambda: -x))(xp.asarray(0.0), x), -np.asarray(x))


def test_control_flow_errors():
    x = _a([1.0, 2.0])
    with pytest.raises(TypeError, match="structure"):
        xp.jit(lambda x: xp.while_loop(lambda s: s[0][0] < 3, lambda s: (s[0] + 1,), (x, x)))(x)
    with pytest.raises(TypeError, match="dtype"):
        xp.jit(lambda x: xp.fori_loop(0, 2, lambda i, c: xp.astype(c, xp.float32), x))(x)
    with pytest.raises(TypeError, match="shape"):
        xp.jit(lambda x: xp.cond(x[0] > 0, lambda: x, lambda: x[:1]))(x)
    with pytest.raises(TypeError, match="scalar"):
        xp.jit(lambda x: xp.cond(x > 0, lambda: x, lambda: x))(x)
    with pytest.raises(xp.ConcretizationError, match="while_loop body"):
        xp.jit(lambda x: xp.while_loop(lambda c: c[0] < 3, lambda c: c + float(c[0]), x))(x)
