"""Automatic fusion of eager code (pjrt_array._fusion): results equal numpy's, compiles happen once
per recurring graph, every host read flushes, mutations and errors keep eager semantics, threads."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import pjrt_array as xp
from pjrt_array import _fusion, _policy
from helpers import run_in_threads


@pytest.fixture(autouse=True)
def fusion_on():
    was = xp.fusion_enabled()
    # The mechanism at two sightings, whatever a sequence would save (see test_short_sequences_...)
    previous = _fusion.configure(hot=2, bound=64, saved=0)
    xp.set_fusion(True)
    # Sightings counted from the first call: ops compile at once (test_host_tier.py covers fusion
    # after the host tier's first sightings).
    xp.set_host_tier(False)
    _fusion.clear()
    yield
    _fusion.wait_for_compiles()
    xp.set_host_tier(True)
    xp.set_fusion(was)
    _fusion.configure(hot=previous[0], bound=previous[1], saved=previous[2])


def fused(key: str) -> int:
    return xp.cache_info()[f"fused_{key}"]


def repeat(fn, times: int):
    """Call ``fn`` ``times`` times, letting background compiles finish in between; the results."""
    out = []
    for _ in range(times):
        out.append(fn())
        _fusion.wait_for_compiles()
    return out


def is_pending(x: xp.Array) -> bool:
    return type(x._buffer) is _fusion._Pending and x._buffer.buffer is None


# -- realistic loops: fused results equal numpy's ----------------------------------------------------

def logistic(m, x, y, w, steps=30):
    for _ in range(steps):
        p = 1.0 / (1.0 + m.exp(-m.matmul(x, w)))
        w = w - 0.1 * m.matmul(x.T, p - y) / x.shape[0]
    return w


def rk4(m, y, steps=40, dt=0.01):
    def f(y):
        return m.stack([10.0 * (y[1] - y[0]), y[0] * (28.0 - y[2]) - y[1], y[0] * y[1] - (8.0 / 3.0) * y[2]])
    for _ in range(steps):
        k1 = f(y)
        k2 = f(y + 0.5 * dt * k1)
        k3 = f(y + 0.5 * dt * k2)
        k4 = f(y + dt * k3)
        y = y + (dt / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return y


def newton_sqrt(m, a, tol=1e-12):
    """A value-dependent loop: a host read (float) every iteration."""
    x = a * 0.5 + 0.5
    while float(m.max(m.abs(x * x - a))) > tol:
        x = 0.5 * (x + a / x)
    return x


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_logistic_regression_loop_equals_numpy(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 5)).astype(dtype)
    y = (x[:, 0] > 0).astype(dtype)
    w = np.zeros(5, dtype)
    expected = logistic(np, x, y, w)
    X, Y, W = xp.asarray(x), xp.asarray(y), xp.asarray(w)
    for got in repeat(lambda: np.asarray(logistic(xp, X, Y, W)), 6):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, expected, rtol=1e-5 if dtype == np.float32 else 1e-12)
    assert fused("hits") > 0 and fused("compiles") >= 1


def test_rk4_loop_equals_numpy():
    y0 = np.array([1.0, 1.0, 1.0])
    expected = rk4(np, y0)
    Y = xp.asarray(y0)
    for got in repeat(lambda: np.asarray(rk4(xp, Y)), 5):
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert fused("hits") > 0


def test_value_dependent_loop_equals_numpy():
    a = np.linspace(1.0, 50.0, 7)
    for got in repeat(lambda: np.asarray(newton_sqrt(xp, xp.asarray(a))), 3):
        np.testing.assert_allclose(got, np.sqrt(a), rtol=1e-12)
    assert fused("hits") > 0


def test_integer_and_boolean_ops_fuse_exactly():
    a = np.arange(-20, 20, dtype=np.int32)
    A = xp.asarray(a)

    def step():
        b = (A * 3) // 7 - (A % 5)
        return np.asarray(xp.where(b > 0, b << 1, -b)), bool(xp.any(b == 2))
    want_b = (a * 3) // 7 - (a % 5)
    for got, flag in repeat(step, 5):
        np.testing.assert_array_equal(got, np.where(want_b > 0, want_b << 1, -want_b))
        assert flag == bool(np.any(want_b == 2))
    assert fused("hits") >= 1


def test_edge_values_survive_fusion():
    a = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1e308, -1e-310])
    A = xp.asarray(a)
    with np.errstate(all="ignore"):
        want = np.exp(a) * 2.0 - np.sqrt(np.abs(a))
    for got in repeat(lambda: np.asarray(xp.exp(A) * 2.0 - xp.sqrt(xp.abs(A))), 5):
        np.testing.assert_array_equal(got, want)
        assert np.signbit(got[3]) == np.signbit(want[3])
    assert fused("hits") >= 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_arithmetic_rounds_at_every_op_like_eager(dtype):
    # A multiply and an add in one fused kernel must not become a fused multiply-add: that rounds
    # once, numpy and eager ops twice (0.1 * 5.0 + 0.9 would be 1.4000000000000001, not 1.4).
    rng = np.random.default_rng(7)
    p, n, m = (rng.standard_normal(4096).astype(dtype) for _ in range(3))
    p[0], n[0], m[0] = 0.1, 5.0, 0.9
    wide = np.float64 if dtype == np.float32 else np.longdouble
    contracted = (p.astype(wide) * n + m).astype(dtype)
    want = p * n + m
    assert np.count_nonzero(contracted != want) > 10  # inputs where a multiply-add would show
    P, N, M = xp.asarray(p), xp.asarray(n), xp.asarray(m)
    eager_sum = float(xp.sum(P * N, axis=0))
    for got, got_sum in repeat(lambda: (np.asarray(P * N + M), float(xp.sum(P * N, axis=0))), 5):
        np.testing.assert_array_equal(got, want)
        assert got_sum == eager_sum
    assert fused("hits") >= 1


def test_empty_and_zero_d_arrays():
    e, s = xp.asarray(np.zeros((0, 3))), xp.asarray(2.5)
    for got_e, got_s in repeat(lambda: (np.asarray(xp.sum(e * 2.0 + 1.0, axis=0)), float(s * s + 1.0)), 5):
        np.testing.assert_array_equal(got_e, np.zeros(3))
        assert got_s == 7.25


# -- the decision: one compile per recurring graph, scalars are parameters ------------------------

def test_recurrence_triggers_exactly_one_fused_compile():
    a = xp.asarray(np.arange(6.0))

    def step():
        return float(xp.sum(xp.sin(a) * a + 1.0))
    results = repeat(step, 8)
    assert results == [pytest.approx(float(np.sum(np.sin(np.arange(6.0)) * np.arange(6.0) + 1.0)))] * 8
    assert fused("compiles") == 1 and fused("graphs") == 1
    assert fused("hits") >= 4


def test_run_once_code_is_never_deferred_or_compiled():
    a = xp.asarray(np.arange(5.0))
    float(xp.sum(xp.cos(a) - a))
    float(xp.sum(xp.tan(a) * 2.0))
    assert fused("deferred_ops") == 0 and fused("compiles") == 0


def test_changing_python_floats_do_not_recompile():
    a = xp.asarray(np.linspace(0.0, 1.0, 9))
    values = [0.5, 1.25, -3.0, 7.0, 1e-3, 2.0, 9.5, -0.25]
    got = []
    for s in values:
        got.append(np.asarray(a * s + s * s))
        _fusion.wait_for_compiles()
    for s, g in zip(values, got):
        np.testing.assert_allclose(g, np.linspace(0.0, 1.0, 9) * s + s * s, rtol=1e-15)
    assert fused("compiles") == 1 and fused("hits") >= 4


def test_float32_weak_scalars_keep_the_array_dtype():
    a = xp.asarray(np.ones(4, np.float32))
    for got in repeat(lambda: np.asarray(a * 0.1 + 2), 5):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, np.ones(4, np.float32) * np.float32(0.1) + np.float32(2))


def test_a_new_shape_is_a_new_graph():
    for n in (3, 3, 3, 3, 5, 5, 5, 5):
        a = xp.asarray(np.arange(float(n)))
        assert float(xp.sum(a * a)) == sum(i * i for i in range(n))
        _fusion.wait_for_compiles()
    assert fused("compiles") == 2


# -- host reads flush ------------------------------------------------------------------------------

def _pending_scalar(value: float) -> xp.Array:
    """A 0-d Array that is still pending (its sequence has been made hot first)."""
    base = xp.asarray(value)
    for _ in range(3):
        float((base * 1.0) + 0.0)
    out = (base * 1.0) + 0.0
    assert is_pending(out)
    return out


@pytest.mark.parametrize("read, expected", [
    (np.asarray, np.asarray(3.0)),
    (bool, True),
    (float, 3.0),
    (int, 3),
    (complex, 3 + 0j),
    (repr, "Array(3., dtype=float64)"),
    (str, "3.0"),
    (lambda x: np.from_dlpack(x), np.asarray(3.0)),
    (lambda x: np.asarray(x.block_until_ready()), np.asarray(3.0)),
    (lambda x: np.asarray(x.to_device(x.device)), np.asarray(3.0)),
])
def test_every_host_read_flushes(read, expected):
    got = read(_pending_scalar(3.0))
    if isinstance(expected, np.ndarray):
        np.testing.assert_array_equal(got, expected)
    else:
        assert got == expected


def test_index_flushes():
    base = xp.asarray(2)
    for _ in range(3):
        int(base * 1 + 0)
    out = base * 1 + 0
    assert is_pending(out)
    assert list(range(10))[out] == 2 and out.__index__() == 2


def test_jit_and_eager_ops_take_pending_inputs():
    a = xp.asarray(np.arange(4.0))
    for _ in range(3):
        np.asarray(a * 2.0 - 1.0)
    b = a * 2.0 - 1.0
    assert is_pending(b)
    np.testing.assert_array_equal(np.asarray(xp.jit(lambda v: v * v)(b)), (np.arange(4.0) * 2 - 1) ** 2)
    xp.set_fusion(False)
    c = a * 2.0 - 1.0
    assert not is_pending(c)


def test_dead_intermediates_are_not_computed_but_live_ones_are():
    a = xp.asarray(np.arange(3.0))
    for _ in range(3):
        t = a + 1.0
        u = t * 2.0
        float(xp.sum(u))
    t = a + 1.0
    u = t * 2.0
    del t
    np.testing.assert_array_equal(np.asarray(u), (np.arange(3.0) + 1) * 2)


# -- mutation --------------------------------------------------------------------------------------

def test_mutating_an_input_after_recording_does_not_change_the_result():
    def step(a):
        b = a * 2.0
        a += 100.0  # after b was recorded
        a[0] = -1.0
        return b, a
    outs = []
    for _ in range(5):
        a = xp.asarray(np.arange(3.0))
        b, a = step(a)
        outs.append((np.asarray(b), np.asarray(a)))
        _fusion.wait_for_compiles()
    for b, a in outs:
        np.testing.assert_array_equal(b, np.arange(3.0) * 2)
        np.testing.assert_array_equal(a, [-1.0, 101.0, 102.0])


def test_setitem_and_inplace_on_pending_arrays():
    base = xp.asarray(np.ones(4))
    for _ in range(4):
        x = base * 3.0
        x[1] = 0.0
        x *= 2.0
        got = np.asarray(x)
        np.testing.assert_array_equal(got, [6.0, 0.0, 6.0, 6.0])
        _fusion.wait_for_compiles()


# -- errors keep eager timing ------------------------------------------------------------------------

def test_shape_and_dtype_errors_raise_at_the_call_while_deferring():
    a, b = xp.asarray(np.ones(3)), xp.asarray(np.ones(4))
    for _ in range(3):
        float(xp.sum(a * 2.0))
    x = a * 2.0
    assert is_pending(x)
    with pytest.raises(ValueError):
        x + b
    with pytest.raises(TypeError):
        xp.bitwise_and(x, x)
    assert float(xp.sum(x)) == 6.0


def test_a_refused_call_leaves_the_deferred_values_intact():
    a = xp.asarray(np.ones((2, 3)))
    for _ in range(3):
        np.asarray((a + 1.0) * 2.0)  # a two-op sequence that recurs: its first op starts deferred
    x = a + 1.0
    assert is_pending(x)
    with pytest.raises(ValueError, match="matmul"):
        xp.matmul(x, x)
    np.testing.assert_array_equal(np.asarray(x), np.full((2, 3), 2.0))


def test_lapack_errors_still_raise_at_the_call():
    _fusion.configure(hot=0)  # every segment deferred
    singular = xp.asarray(np.zeros((3, 3)))
    x = singular + 0.0
    assert is_pending(x)
    with pytest.raises(np.linalg.LinAlgError):
        xp.linalg.inv(x)
    np.testing.assert_array_equal(np.asarray(xp.linalg.inv(xp.asarray(np.eye(2) * 4.0))), np.eye(2) / 4)


def test_execution_errors_surface_at_the_host_read(monkeypatch):
    a = xp.asarray(np.arange(3.0))
    for _ in range(3):
        np.asarray(a * 2.0 + 1.0)

    def fail(*args, **kwargs):
        raise RuntimeError("device failure")
    monkeypatch.setattr(_fusion, "_replay", fail)
    monkeypatch.setattr(_fusion, "_run_fused", fail)
    b = a * 2.0 + 1.0  # no error at the call: the op is deferred
    c = b + 0.0
    assert is_pending(b) and is_pending(c)
    with pytest.raises(RuntimeError, match="device failure"):
        np.asarray(b)
    with pytest.raises(RuntimeError, match="deferred computation failed"):
        float(c[0])


def test_a_graph_the_compiler_refuses_keeps_running_op_by_op(monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("refused")
    monkeypatch.setattr(_fusion, "_build", refuse)  # the fused module only: single ops still compile
    a = xp.asarray(np.arange(3.0))
    for got in repeat(lambda: np.asarray(a * 2.0 + 1.0), 6):
        np.testing.assert_array_equal(got, np.arange(3.0) * 2 + 1)
    assert fused("failures") == 1 and fused("compiles") == 0 and fused("replays") >= 3


@pytest.mark.parametrize("case, index_reduction, narrow_dot", [
    ("argmin", True, False), ("matvec of 100", False, True), ("elementwise", False, False)])
def test_a_fused_graph_tells_the_policy_what_it_holds(monkeypatch, case, index_reduction, narrow_dot):
    policy = _fusion.policy_for(xp.asarray(1.0).device.client)
    seen = []
    graph_options = policy.graph_options

    def record(device_id, avals, **flags):
        seen.append(flags)
        return graph_options(device_id, avals, **flags)
    monkeypatch.setattr(policy, "graph_options", record)
    a, m = xp.asarray(np.arange(200.0).reshape(2, 100)), xp.asarray(np.eye(100))
    body = {"argmin": lambda: xp.argmin(a * 2.0 + 1.0, axis=1), "matvec of 100": lambda: m @ (a[0] * 2.0),
            "elementwise": lambda: xp.exp(a * 2.0) + 1.0}[case]
    repeat(lambda: np.asarray(body()), 6)
    assert seen and seen[0] == {"index_reduction": index_reduction, "narrow_dot": narrow_dot, "hot": False}


@pytest.mark.parametrize("elements, runs", [(2048, 32), (70_000, 0), (3, 0)])
def test_a_small_graph_compiles_cheap_then_again_once_it_keeps_running(monkeypatch, elements, runs):
    """Over small arrays: a small op's options first, a whole program's after
    ``_HOT_ELEMENT_RUNS / elements`` fused runs, with the same results; over large or tiny arrays:
    one compile, for good."""
    from pjrt_array import _dispatch
    sent = []
    compile_text = _dispatch.compile_text

    def record(client, text, options):
        if "tanh" in text and "multiply" in text:  # the fused graph, not one of its ops
            sent.append(dict(options.env_option_overrides))
        return compile_text(client, text, options)
    monkeypatch.setattr(_dispatch, "compile_text", record)
    host = np.linspace(-1.0, 1.0, elements)
    a = xp.asarray(host)
    want = np.tanh(host * 2.0) * 0.5
    for got in repeat(lambda: np.asarray(xp.tanh(a * 2.0) * 0.5), 6 + runs):
        np.testing.assert_allclose(got, want, rtol=1e-14)
    policy = _fusion.policy_for(a.device.client)
    avals = [((elements,), np.dtype(np.float64))]
    if runs:
        assert _policy._HOT_ELEMENT_RUNS // elements == runs
        assert sent == [dict(policy.options(0, avals).env_option_overrides),
                        dict(policy.program_options(0).env_option_overrides)]
    else:
        assert sent == [dict(policy.graph_options(0, avals).env_option_overrides)]


# -- threads ---------------------------------------------------------------------------------------

def test_eight_threads_give_numpys_answers():
    rng = np.random.default_rng(1)
    data = [rng.standard_normal((50, 4)) for _ in range(8)]
    expected = [logistic(np, d, (d[:, 0] > 0).astype(float), np.zeros(4), steps=10) for d in data]
    results: dict[int, list] = {}

    def work(i: int) -> None:
        X = xp.asarray(data[i])
        Y, W = xp.asarray((data[i][:, 0] > 0).astype(float)), xp.asarray(np.zeros(4))
        results[i] = [np.asarray(logistic(xp, X, Y, W, steps=10)) for _ in range(4)]
    run_in_threads(work)
    for i in range(8):
        for got in results[i]:
            np.testing.assert_allclose(got, expected[i], rtol=1e-12)


def test_a_pending_array_read_from_another_thread():
    a = xp.asarray(np.arange(5.0))
    for _ in range(3):
        np.asarray(a * a + 1.0)
    b = a * a + 1.0
    assert is_pending(b)
    seen = []
    t = threading.Thread(target=lambda: seen.append(np.asarray(b + 1.0)))
    t.start()
    t.join()
    np.testing.assert_array_equal(seen[0], np.arange(5.0) ** 2 + 2)
    np.testing.assert_array_equal(np.asarray(b), np.arange(5.0) ** 2 + 1)


def test_values_read_by_another_thread_while_this_one_keeps_recording():
    """A reader thread flushes this thread's open segment at any moment, possibly while an op is
    being added to it (``_fusion._commit`` takes no lock): every value read is numpy's."""
    import queue
    a = np.arange(4.0)
    repeat(lambda: np.asarray(xp.asarray(a) * 0.5 + 1.0), 3)
    handed: queue.Queue = queue.Queue()
    seen: list = []

    def reader() -> None:
        while (item := handed.get()) is not None:
            seen.append((np.asarray(item[0]), item[1]))
    t = threading.Thread(target=reader)
    t.start()
    x, want = xp.asarray(a), a
    for i in range(600):
        x, want = x * 0.5 + 1.0, want * 0.5 + 1.0
        if i % 5 == 0:
            handed.put((x, want))
    handed.put(None)
    t.join()
    np.testing.assert_array_equal(np.asarray(x), want)
    assert len(seen) == 120
    for got, expected in seen:
        np.testing.assert_array_equal(got, expected)


# -- tracks: a graph seen before is followed op by op; any difference leaves it ------------------------

def chain(m, x, y, variant: str = ""):
    z = m.exp(-(x * (0.25 if variant == "other scalar" else 0.5)))
    w = {"swapped operands": y - z, "one operand twice": z - z, "other op": z + y}.get(variant, z - y)
    return m.sum(w * z, axis=0) + w[0] * 2.0


def test_a_repeated_loop_is_recorded_along_its_track(monkeypatch):
    y0 = np.array([1.0, 1.0, 1.0])
    y = xp.asarray(y0)
    repeat(lambda: np.asarray(rk4(xp, y, steps=20)), 4)
    followed = []
    original = _fusion._Recorder.follow
    monkeypatch.setattr(_fusion._Recorder, "follow",
                        lambda self, *a: followed.append(original(self, *a)) or followed[-1])
    hits = fused("hits")
    np.testing.assert_allclose(np.asarray(rk4(xp, y, steps=20)), rk4(np, y0, steps=20), rtol=1e-12)
    recorded = sum(r is not None for r in followed)
    assert recorded > 0.9 * 20 * 81  # 81 ops a step: all but each segment's first op or so
    assert fused("hits") > hits


@pytest.mark.parametrize("variant", ["swapped operands", "one operand twice", "other op", "other scalar",
                                     "other shape, same size"])
def test_leaving_a_track_gives_the_new_codes_answer(variant):
    xn, yn = np.linspace(0.1, 0.6, 6).reshape(2, 3), np.linspace(1.0, 2.0, 6).reshape(2, 3)
    x, y = xp.asarray(xn), xp.asarray(yn)
    expected = chain(np, xn, yn)
    for got in repeat(lambda: np.asarray(chain(xp, x, y)), 4):
        np.testing.assert_allclose(got, expected, rtol=1e-13)
    if variant == "other shape, same size":  # the element-wise programs are the same (flat) ones
        xn, yn = xn.reshape(3, 2), yn.reshape(3, 2)
        x, y = xp.asarray(xn), xp.asarray(yn)
    got = np.asarray(chain(xp, x, y, variant))
    want = chain(np, xn, yn, variant)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-13)
    np.testing.assert_allclose(np.asarray(chain(xp, x, y)), chain(np, xn, yn), rtol=1e-13)


def test_tracks_are_bounded_and_forgotten_together(monkeypatch):
    monkeypatch.setattr(_fusion, "_MAX_GRAPHS", 4)
    _fusion.configure(hot=0)
    x = xp.asarray(np.arange(3.0))
    for k in range(1, 12):  # eleven distinct graphs: k multiplications then a sum
        y = x
        for _ in range(k):
            y = y * 2.0
        assert float(xp.sum(y)) == 3.0 * 2.0 ** k
        assert len(_fusion._tracks) <= 4 and len(_fusion._after) <= 5


# -- the switch ----------------------------------------------------------------------------------

def test_set_fusion_off_runs_eagerly():
    xp.set_fusion(False)
    assert not xp.fusion_enabled()
    a = xp.asarray(np.arange(3.0))
    for _ in range(4):
        b = a + 1.0
        assert not is_pending(b)
        np.asarray(b)
    assert fused("deferred_ops") == 0


@pytest.mark.parametrize("value, enabled", [("0", False), ("1", True)])
def test_environment_variable_read_at_import(value, enabled):
    code = "import pjrt_array as xp; print(xp.fusion_enabled())"
    env = {**os.environ, "PJRT_ARRAY_FUSION": value}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.stdout.strip() == str(enabled)


def test_configure_refuses_a_bad_bound():
    with pytest.raises(ValueError, match="bound"):
        _fusion.configure(bound=0)


def test_cache_info_reports_fusion():
    info = xp.cache_info()
    for key in ("fused_graphs", "fused_compiles", "fused_hits"):
        assert key in info and isinstance(info[key], int)


def test_short_sequences_compile_fused_only_once_they_would_pay_back():
    # sightings x (ops - 1) must reach ``saved`` (a fused compile pays back only over many runs;
    # test-suite-like code repeats short sequences a few times); the default is 256, 32 keeps it short.
    _fusion.configure(saved=32)
    a = xp.asarray(np.arange(6.0))

    def pair():  # 2 ops: hot after 32 sightings
        return np.asarray(xp.sin(a) * 3.0)

    for i in range(31):
        np.testing.assert_allclose(pair(), np.sin(np.arange(6.0)) * 3.0)
    assert fused("deferred_ops") == 0 and fused("compiles") == 0
    for i in range(4):
        np.testing.assert_allclose(pair(), np.sin(np.arange(6.0)) * 3.0)
    _fusion.wait_for_compiles()
    assert fused("deferred_ops") > 0 and fused("compiles") == 1

    def body(x):  # 9 element-wise ops: hot after 4 sightings (ops are cut by the host read each
        for _ in range(9):  # time), the graph compiled when it recurs
            x = x * 1.5
        return np.asarray(x)

    before = fused("compiles")
    for i in range(3):
        body(a)
    _fusion.wait_for_compiles()
    assert fused("compiles") == before
    for i in range(3):
        np.testing.assert_allclose(body(a), np.arange(6.0) * 1.5 ** 9)
    _fusion.wait_for_compiles()
    assert fused("compiles") == before + 1


def test_ops_over_large_arrays_pay_back_sooner():
    # A 1 MiB output counts as 8 more dispatches saved (a memory pass): a 2-op body over such
    # arrays saves 9 a run and reaches a bar of 18 at its second sighting; over small arrays it
    # saves 1 a run and is still cold after 4.
    _fusion.configure(saved=18)
    small = xp.asarray(np.arange(6.0))
    for _ in range(4):
        np.testing.assert_allclose(np.asarray(xp.sin(small) * 3.0), np.sin(np.arange(6.0)) * 3.0)
    assert fused("deferred_ops") == 0
    big = xp.asarray(np.arange(131072.0))  # 1 MiB of float64
    want = np.sin(np.arange(131072.0)) * 3.0
    for _ in range(5):  # hot at the second sighting; the graph compiles when it recurs
        np.testing.assert_allclose(np.asarray(xp.sin(big) * 3.0), want)
    _fusion.wait_for_compiles()
    assert fused("deferred_ops") > 0 and fused("compiles") == 1


def test_compile_cost_grows_with_distinct_heavy_ops_only():
    """A fused compile's cost (in dispatches) grows with the distinct ops that are not element-wise:
    one op repeated and element-wise chains keep the base bar, varied graphs pay more."""
    from pjrt_array.ops.elementwise import RULES
    add, mul = RULES["add"], RULES["multiply"]

    class Entry:  # a dispatcher cache entry: its key starts with the rule; hashed by identity
        def __init__(self, rule):
            self.key = (rule, (), ())

    def entries(rules):
        return tuple(Entry(r) for r in rules)

    heavy = entries([object() for _ in range(16)])
    base = _fusion._SAVED
    assert _fusion._compile_cost(entries([add, mul] * 32)) == base
    one_heavy = entries([object()])
    assert _fusion._compile_cost(one_heavy * 64) == base  # one kind of kernel, repeated
    per = _fusion._OPS_PER_SAVED
    assert _fusion._compile_cost(heavy[:per]) == 2 * base
    assert _fusion._compile_cost(heavy[:2 * per] * 3) == 3 * base
    assert _fusion._compile_cost(heavy[:per - 1] + entries([add] * 50)) == base
