"""Fuzzing the namespace with random, often invalid, calls.

Each example is a sequence of calls with random dtypes, shapes, axes, indices
and keyword arguments.  Every call must either match numpy (shape, dtype and
values) or raise one of the exception types an Array API / numpy user expects;
never crash, hang or give a wrong shape.  The default run is short; the long
run (``-m slow``, 10,000 examples) is reported in docs/reliability.md.
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
