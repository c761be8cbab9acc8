"""Fuzzing the namespace with random, often invalid, calls.

Each example is a sequence of calls with random dtypes, shapes, axes, indices
and keyword arguments.  Every call must either match numpy (shape, dtype and
values) or raise one of the exception types an Array API / numpy user expects;
never crash, hang or give a wrong shape.  The default run is short; the long
run (``-m slow``, 10,000 examples) is reported in docs/reliability.md.

The second part draws calls with extreme sizes, counts, steps and indices
(dimensions near 2**31, 2**63, products beyond int64, deep nesting) and runs
them in a child process, so that a call aborting the plugin fails the test
instead of killing pytest.
"""

from __future__ import annotations

import json
import os
import warnings
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import pjrt_array as xp
from isolated_calls import run_isolated

EXPECTED_ERRORS = (TypeError, ValueError, IndexError, OverflowError, ZeroDivisionError)
DTYPES = [np.bool_, np.int8, np.int32, np.int64, np.uint8, np.uint32, np.float32, np.float64, np.complex64]
AXES = st.one_of(st.none(), st.integers(-4, 4), st.tuples(st.integers(-3, 3), st.integers(-3, 3)), st.just("x"))

# name -> (pjrt_array call, numpy call, argument strategy builder)
UNARY = ["abs", "sin", "exp", "log1p", "sqrt", "floor", "round", "sign", "isnan", "logical_not",
         "bitwise_invert", "negative", "square", "conj", "real", "imag"]
BINARY = ["add", "subtract", "multiply", "divide", "floor_divide", "remainder", "pow", "maximum", "minimum",
          "equal", "less", "bitwise_and", "bitwise_left_shift", "logical_or", "atan2", "copysign", "hypot"]
REDUCTIONS = ["sum", "prod", "max", "min", "mean", "std", "var", "all", "any", "argmax", "argmin", "count_nonzero"]
NUMPY_NAME = {"bitwise_invert": "invert", "bitwise_left_shift": "left_shift", "pow": "power",
              "atan2": "arctan2", "conj": "conjugate", "concat": "concatenate", "permute_dims": "transpose"}


def _np(name):
    return getattr(np, NUMPY_NAME.get(name, name))


arrays = st.sampled_from(DTYPES).flatmap(
    lambda d: hnp.arrays(d, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
                         elements=hnp.from_dtype(np.dtype(d), allow_subnormal=False) if np.dtype(d).kind in "fc"
                         else None))


@st.composite
def calls(draw):
    """One (description, pjrt_array thunk, numpy thunk) call with random arguments."""
    kind = draw(st.sampled_from(["unary", "binary", "reduce", "shape", "index", "sort", "astype", "scalar"]))
    a = draw(arrays)
    if kind == "unary":
        name = draw(st.sampled_from(UNARY))
        return name, (lambda x: getattr(xp, name)(x)), (lambda n: _np(name)(n)), a, None
    if kind == "binary" or kind == "scalar":
        name = draw(st.sampled_from(BINARY))
        b = draw(arrays) if kind == "binary" else draw(st.one_of(st.integers(-300, 300), st.floats(-3, 3, allow_subnormal=False), st.booleans()))
        return name, (lambda x, y: getattr(xp, name)(x, y)), (lambda n, m: _np(name)(n, m)), a, b
    if kind == "reduce":
        name = draw(st.sampled_from(REDUCTIONS))
        axis, keepdims = draw(AXES), draw(st.booleans())
        if name in ("argmax", "argmin"):
            axis = axis if axis is None or isinstance(axis, int) else 0
        kw = {"axis": axis, "keepdims": keepdims}
        return (f"{name}{kw}", (lambda x: getattr(xp, name)(x, **kw)),
                (lambda n: _np(name)(n, **kw) if name != "count_nonzero" else np.count_nonzero(n, **kw)), a, None)
    if kind == "shape":
        name = draw(st.sampled_from(["reshape", "permute_dims", "flip", "roll", "expand_dims", "squeeze",
                                     "concat", "stack", "tile", "repeat"]))
        arg = draw(st.one_of(st.tuples(st.integers(-1, 6), st.integers(-1, 6)), st.integers(-4, 4),
                             st.permutations(list(range(a.ndim))).map(tuple)))
        if name in ("concat", "stack"):
            b = draw(arrays)
            axis = draw(st.integers(-3, 3))
            return (f"{name}(axis={axis})", (lambda x, y: getattr(xp, name)([x, y], axis=axis)),
                    (lambda n, m: getattr(np, NUMPY_NAME.get(name, name))([n, m], axis=axis)), a, b)
        np_calls = {"reshape": lambda n: np.reshape(n, arg), "permute_dims": lambda n: np.transpose(n, arg),
                    "flip": lambda n: np.flip(n, axis=arg if isinstance(arg, int) else None),
                    "roll": lambda n: np.roll(n, 1, axis=arg if isinstance(arg, int) else None),
                    "expand_dims": lambda n: np.expand_dims(n, arg if isinstance(arg, int) else 0),
                    "squeeze": lambda n: np.squeeze(n, axis=arg if isinstance(arg, int) else 0),
                    "tile": lambda n: np.tile(n, arg if isinstance(arg, tuple) else (arg,)),
                    "repeat": lambda n: np.repeat(n, arg if isinstance(arg, int) else 2, axis=None)}
        xp_calls = {"reshape": lambda x: xp.reshape(x, arg), "permute_dims": lambda x: xp.permute_dims(x, arg),
                    "flip": lambda x: xp.flip(x, axis=arg if isinstance(arg, int) else None),
                    "roll": lambda x: xp.roll(x, 1, axis=arg if isinstance(arg, int) else None),
                    "expand_dims": lambda x: xp.expand_dims(x, axis=arg if isinstance(arg, int) else 0),
                    "squeeze": lambda x: xp.squeeze(x, axis=arg if isinstance(arg, int) else 0),
                    "tile": lambda x: xp.tile(x, arg if isinstance(arg, tuple) else (arg,)),
                    "repeat": lambda x: xp.repeat(x, arg if isinstance(arg, int) else 2, axis=None)}
        return f"{name}({arg})", xp_calls[name], np_calls[name], a, None
    if kind == "index":
        key = draw(st.one_of(st.integers(-4, 4), st.slices(4), st.tuples(st.integers(-3, 3), st.slices(3)),
                             st.just(Ellipsis), st.none(), st.lists(st.integers(-3, 3), max_size=3).map(np.array),
                             st.just((Ellipsis, None)), st.floats(0, 1)))
        return f"getitem[{key!r}]", (lambda x: x[key]), (lambda n: n[key]), a, None
    if kind == "sort":
        name = draw(st.sampled_from(["sort", "argsort"]))
        axis = draw(st.integers(-4, 4))
        return (f"{name}(axis={axis})", (lambda x: getattr(xp, name)(x, axis=axis)),
                (lambda n: getattr(np, name)(n, axis=axis, kind="stable")), a, None)
    dtype = draw(st.sampled_from(DTYPES + ["float128", object, "U2"]))
    return (f"astype({dtype})", (lambda x: xp.astype(x, dtype)), (lambda n: n.astype(dtype)), a, None)


# (operation, outcome) counts; written to $PJRT_ARRAY_FUZZ_REPORT at the end of the session.
OUTCOMES: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report_outcomes():
    yield
    path = os.environ.get("PJRT_ARRAY_FUZZ_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump(sorted([*key, n] for key, n in OUTCOMES.items()), f, indent=0)


def _run_one(desc, ours, theirs, a, b):
    op = desc.split("(")[0].split("[")[0].split("{")[0]
    args_np = (a,) if b is None else (a, b)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            expected = theirs(*args_np)
            numpy_error = None
        except Exception as exc:  # what numpy does decides what we compare
            expected, numpy_error = None, exc
    args_xp = (xp.asarray(a),) if b is None else (xp.asarray(a), b if not isinstance(b, np.ndarray) else xp.asarray(b))
    try:
        got = ours(*args_xp)
    except EXPECTED_ERRORS as exc:
        OUTCOMES[op, type(exc).__name__, "numpy raised" if numpy_error else "numpy accepted"] += 1
        return
    except Exception as exc:
        raise AssertionError(f"{desc}: unexpected {type(exc).__name__}: {exc}") from exc
    if numpy_error is not None or isinstance(expected, tuple) or expected is None:
        OUTCOMES[op, "returned", "numpy raised" if numpy_error else "numpy accepted"] += 1
        return  # we accept more than numpy (e.g. documented extensions): only "no crash" applies
    OUTCOMES[op, "compared", "numpy accepted"] += 1
    got_np = np.asarray(got)
    expected = np.asarray(expected)
    assert got_np.shape == expected.shape, f"{desc}: shape {got_np.shape} != numpy's {expected.shape}"
    if desc.startswith("astype") and a.dtype.kind in "fc":
        return  # out-of-range float -> integer casts are implementation-defined
    inputs = [np.asarray(v) for v in args_np]
    if any(v.dtype.kind == "c" and not np.isfinite(v).all() for v in inputs):
        return  # the standard leaves most complex results of non-finite input unspecified
    if expected.dtype.kind in "fc":
        finite = np.isfinite(expected)
        if got_np.dtype.kind in "fc" and expected.size and finite.all() and np.abs(expected).max() < 1e30:
            np.testing.assert_allclose(got_np.astype(expected.dtype), expected, rtol=1e-3, atol=1e-3, err_msg=desc)
    elif expected.dtype == got_np.dtype:
        np.testing.assert_array_equal(got_np, expected, err_msg=desc)


def _fuzz(sequence):
    for call in sequence:
        _run_one(*call)


_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


@settings(max_examples=60, deadline=None, suppress_health_check=_HEALTH)
@given(st.lists(calls(), min_size=1, max_size=4))
def test_fuzz_short(sequence):
    _fuzz(sequence)


@pytest.mark.slow
@settings(max_examples=10_000, deadline=None, suppress_health_check=_HEALTH)
@given(st.lists(calls(), min_size=1, max_size=4))
def test_fuzz_long(sequence):
    _fuzz(sequence)


# -- extreme sizes, counts and indices, run in a child process -----------------------------------
# A call that aborts the plugin kills the child, not pytest: the runner records it and goes on.

HUGE = [2**31 - 1, 2**31, 2**32, 2**32 + 1, 2**40, 2**53 + 1, 2**62, 2**63 - 1, 2**63, 2**64, 2**100]
NEGATIVE = [-1, -2, -2**31, -2**63, -2**64, -2**100]
FLOATS = [0.5, -1e-3, 1e-3, 1e-300, 5e-324, 1e18, 1e308, -1e308, float("inf"), float("-inf"), float("nan")]
EXTREME_DTYPES = ["bool", "int8", "int64", "uint32", "float32", "float64", "complex128"]
SMALL_ARRAYS = ["xp.zeros(3)", "xp.ones((2, 3))", "xp.zeros((0, 4))", "xp.asarray(1.0)", "xp.arange(6, dtype=xp.int32)",
                "xp.zeros((2, 2), dtype=xp.complex64)"]
SLICE_BOUNDS = ["", "0", "-1", *map(str, HUGE), *map(str, NEGATIVE)]


def extreme_call(rng):
    """One call of a namespace function with extreme sizes, counts, steps or indices (source text)."""
    def dim():
        return rng.choice([rng.randint(0, 4), rng.choice(HUGE), rng.choice(NEGATIVE)])

    def count():
        return rng.choice([rng.randint(-3, 6), rng.choice(HUGE), rng.choice(NEGATIVE)])

    def number():
        return rng.choice([rng.randint(-5, 5), rng.choice(HUGE), -rng.choice(HUGE), rng.choice(FLOATS)])

    def index():
        return rng.choice([str(rng.choice(HUGE + NEGATIVE)), str(rng.randint(-3, 3)), "...", "None",
                           ":".join(rng.choice(SLICE_BOUNDS) for _ in range(3))])

    dtype = f"xp.{rng.choice(EXTREME_DTYPES)}"
    s = rng.choice([dim(), tuple(dim() for _ in range(rng.randint(0, 4)))])
    n, m, k, a, b, c = count(), count(), count(), number(), number(), number()
    x = rng.choice(SMALL_ARRAYS)
    depth = rng.randint(1, 150)
    nested = "[" * depth + "1" + "]" * depth
    templates = [
        f"xp.zeros({s!r}, dtype={dtype})", f"xp.ones({s!r})", f"xp.empty({s!r}, dtype={dtype})",
        f"xp.full({s!r}, {a!r})", f"xp.full({s!r}, 1, dtype={dtype})",
        f"xp.arange({a!r})", f"xp.arange({a!r}, {b!r})", f"xp.arange({a!r}, {b!r}, {c!r})",
        f"xp.arange({a!r}, {b!r}, {c!r}, dtype={dtype})",
        f"xp.linspace({a!r}, {b!r}, {n!r})", f"xp.linspace(0, 1, {n!r}, endpoint=False)",
        f"xp.eye({n!r})", f"xp.eye({n!r}, {m!r}, k={k!r})", f"xp.tril({x}, k={k!r})", f"xp.triu({x}, k={k!r})",
        f"xp.reshape({x}, {s!r})", f"xp.reshape(xp.zeros(0), {s!r})", f"xp.broadcast_to({x}, {s!r})",
        f"xp.tile({x}, {s!r})", f"xp.repeat({x}, {n!r})", f"xp.repeat({x}, {n!r}, axis={k!r})",
        f"xp.repeat(xp.zeros(2), xp.asarray([{n!r}, {m!r}]))",
        f"xp.concat([{x}, {x}], axis={k!r})", f"xp.stack([{x}, {x}], axis={k!r})",
        f"xp.expand_dims({x}, axis={k!r})", f"xp.squeeze({x}, axis={k!r})", f"xp.roll({x}, {n!r})",
        f"xp.flip({x}, axis={k!r})", f"xp.moveaxis({x}, 0, {k!r})", f"xp.sum(xp.zeros({s!r}), axis=-1)",
        f"xp.astype(xp.zeros({s!r}), {dtype})", f"xp.zeros({s!r}) + xp.zeros(({n!r}, 1))",
        f"{x}[{index()}]", f"{x}[{index()}, {index()}]", f"a = {x}; a[{index()}] = 1",
        f"xp.take(xp.arange(5), xp.asarray([{a!r}]))",
        f"xp.fft.fft(xp.zeros(4), n={n!r})", f"xp.fft.rfft(xp.zeros(4), n={n!r})",
        f"xp.fft.irfft(xp.zeros(4, dtype=xp.complex128), n={n!r})",
        f"xp.fft.fftn(xp.zeros((2, 2)), s=({n!r}, {m!r}))", f"xp.fft.fftfreq({n!r})", f"xp.fft.rfftfreq({n!r})",
        f"xp.asarray({nested})", f"xp.asarray(np.zeros({s!r}, dtype=bool))",
        f"xp.meshgrid(xp.zeros({n!r}), xp.zeros({m!r}))", f"xp.diff({x}, n={n!r})",
        f"xp.linalg.matrix_power(xp.eye(2), {n!r})",
    ]
    return rng.choice(templates)


# Refusals a user expects (AxisError is a ValueError and IndexError).
EXTREME_ERRORS = {"TypeError", "ValueError", "IndexError", "OverflowError", "MemoryError", "ZeroDivisionError",
                  "AxisError"}
EXTREME_OUTCOMES: Counter = Counter()


def _check_extreme(calls):
    for source, outcome in zip(calls, run_isolated(calls)):
        kind = outcome[0]
        EXTREME_OUTCOMES[kind if kind != "raised" else outcome[1]] += 1
        assert kind != "crashed", f"{source}: the process died ({outcome[1]}: {outcome[2]})"
        assert kind != "plugin error", f"{source}: reached the plugin: {outcome[1]}: {outcome[2]}"
        if kind == "raised":
            assert outcome[1] in EXTREME_ERRORS, f"{source}: unexpected {outcome[1]}: {outcome[2]}"
            assert outcome[2], f"{source}: {outcome[1]} without a message"


@pytest.fixture(scope="module", autouse=True)
def _report_extreme_outcomes():
    yield
    path = os.environ.get("PJRT_ARRAY_FUZZ_REPORT")
    if path and EXTREME_OUTCOMES:
        with open(path + ".extreme.json", "w") as f:
            json.dump(dict(EXTREME_OUTCOMES), f, indent=0)


# One child process per example: many calls each, drawn from a seeded generator so
# that even hypothesis's simplest example is a varied batch.
@settings(max_examples=2, deadline=None, suppress_health_check=_HEALTH)
@given(st.randoms(use_true_random=True))
def test_extreme_inputs_never_crash(rng):
    _check_extreme([extreme_call(rng) for _ in range(150)])


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=_HEALTH)
@given(st.randoms(use_true_random=True))
def test_extreme_inputs_never_crash_long(rng):
    _check_extreme([extreme_call(rng) for _ in range(500)])
