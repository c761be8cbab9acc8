"""The typed StableHLO builder: type inference, checks that fail in Python naming the rule,
programs that compile and run, and no op text written outside the builder."""

from __future__ import annotations

import ast
import math
import pathlib
import re

import numpy as np
import pytest

import pjrt_array as xp
from pjrt_array._dispatch import run
from pjrt_array.ops._builder import Builder, LoweringError, Value, build_module, module_text

F32, F64, C64 = np.dtype("float32"), np.dtype("float64"), np.dtype("complex64")
I32, I64, U8, BOOL = np.dtype("int32"), np.dtype("int64"), np.dtype("uint8"), np.dtype(bool)


def arg(shape: tuple[int, ...], dtype: np.dtype, name: str = "%a") -> Value:
    return Value(name, shape, dtype)


def scalar_add(r: Builder, a: list[Value]) -> list[Value]:
    return [r.add(a[0], a[1])]


# -- type inference ------------------------------------------------------------------------------------

INFERENCE = [
    ("add", lambda b: b.add(arg((2, 3), F32), arg((2, 3), F32)), (2, 3), F32),
    ("compare", lambda b: b.compare(arg((4,), I32), arg((4,), I32), "LT"), (4,), BOOL),
    ("compare complex EQ", lambda b: b.compare(arg((2,), C64), arg((2,), C64), "EQ"), (2,), BOOL),
    ("abs complex", lambda b: b.abs(arg((3,), C64)), (3,), F32),
    ("real", lambda b: b.real(arg((3,), C64)), (3,), F32),
    ("complex", lambda b: b.complex(arg((3,), F64), arg((3,), F64)), (3,), np.dtype("complex128")),
    ("is_finite", lambda b: b.is_finite(arg((2, 2), F64)), (2, 2), BOOL),
    ("is_inf", lambda b: b.is_inf(arg((2,), F32)), (2,), BOOL),
    ("select 0-d pred", lambda b: b.select(arg((), BOOL), arg((5,), U8), arg((5,), U8)), (5,), U8),
    ("convert", lambda b: b.convert(arg((2,), I32), F64), (2,), F64),
    ("bitcast_convert", lambda b: b.bitcast_convert(arg((2,), F64), I64), (2,), I64),
    ("constant splat", lambda b: b.constant(1.5, F32, (2, 0)), (2, 0), F32),
    ("constant array", lambda b: b.constant(np.arange(6).reshape(2, 3), I64), (2, 3), I64),
    ("iota", lambda b: b.iota((3, 4), 1, I32), (3, 4), I32),
    ("broadcast_in_dim", lambda b: b.broadcast_in_dim(arg((3, 1), F32), (2, 3, 5), [1, 2]), (2, 3, 5), F32),
    ("reshape", lambda b: b.reshape(arg((2, 6), F32), (3, 4)), (3, 4), F32),
    ("transpose", lambda b: b.transpose(arg((2, 3, 4), F32), [2, 0, 1]), (4, 2, 3), F32),
    ("slice strided", lambda b: b.slice(arg((10, 4), F32), [1, 0], [8, 4], [3, 2]), (3, 2), F32),
    ("slice empty", lambda b: b.slice(arg((10,), F32), [4], [4]), (0,), F32),
    ("concatenate", lambda b: b.concatenate([arg((2, 3), I32), arg((5, 3), I32)], 0), (7, 3), I32),
    ("pad", lambda b: b.pad(arg((4,), F32), arg((), F32), [-1], [2], [1]), (8,), F32),
    ("reverse", lambda b: b.reverse(arg((2, 3), F32), [0, 1]), (2, 3), F32),
    ("dynamic_slice", lambda b: b.dynamic_slice(arg((5, 6), F32), [arg((), I64), arg((), I64)], [1, 6]),
     (1, 6), F32),
    ("dynamic_update_slice", lambda b: b.dynamic_update_slice(arg((5, 6), F32), arg((2, 6), F32),
                                                              [arg((), I32), arg((), I32)]), (5, 6), F32),
    ("gather rows", lambda b: b.gather(arg((7, 3), F32), arg((2, 5), I64), offset_dims=[2], collapsed_slice_dims=[0],
                                       start_index_map=[0], index_vector_dim=2, slice_sizes=[1, 3]), (2, 5, 3), F32),
    ("scatter", lambda b: b.scatter(arg((7,), F32), arg((3, 1), I64), arg((3,), F32), scalar_add,
                                    update_window_dims=[], inserted_window_dims=[0],
                                    scatter_dims_to_operand_dims=[0], index_vector_dim=1), (7,), F32),
    ("dot_general batched", lambda b: b.dot_general(arg((4, 2, 3), F32), arg((4, 3, 5), F32),
                                                    batch=([0], [0]), contract=([2], [1])), (4, 2, 5), F32),
    ("dot_general outer", lambda b: b.dot_general(arg((2,), F32), arg((3,), F32), contract=([], [])), (2, 3), F32),
    ("reduce", lambda b: b.reduce([arg((2, 3, 4), F32)], [arg((), F32)], [0, 2], scalar_add)[0], (3,), F32),
    ("sort", lambda b: b.sort([arg((3, 4), F32), arg((3, 4), I64)], 1,
                              lambda r, a: [r.compare(a[0], a[1], "LT")])[1], (3, 4), I64),
    ("fft", lambda b: b.fft(arg((2, 8), C64), "FFT", [8]), (2, 8), C64),
    ("rfft", lambda b: b.fft(arg((2, 8), F32), "RFFT", [8]), (2, 5), C64),
    ("irfft", lambda b: b.fft(arg((2, 5), C64), "IRFFT", [8]), (2, 8), F32),
    ("cholesky", lambda b: b.cholesky(arg((2, 3, 3), F64)), (2, 3, 3), F64),
    ("triangular_solve", lambda b: b.triangular_solve(arg((3, 3), F64), arg((3, 2), F64), left_side=True,
                                                      lower=True), (3, 2), F64),
    ("custom_call", lambda b: b.custom_call("Qr", [arg((4, 3), F32)], [((4, 3), F32), ((3,), F32)])[1], (3,), F32),
    ("chlo", lambda b: b.chlo("acosh", arg((3,), F64)), (3,), F64),
]


@pytest.mark.parametrize("make, shape, dtype", [row[1:] for row in INFERENCE], ids=[row[0] for row in INFERENCE])
def test_result_type_is_inferred(make, shape, dtype):
    out = make(Builder())
    assert (out.shape, out.dtype) == (shape, dtype)


def test_identity_ops_emit_nothing():
    b = Builder()
    x = arg((2, 3), F32)
    assert b.convert(x, F32) is x
    assert b.reshape(x, (2, 3)) is x
    assert b.transpose(x, [0, 1]) is x
    assert b.slice(x, [0, 0], [2, 3]) is x
    assert b.broadcast_in_dim(x, (2, 3), [0, 1]) is x
    assert b.concatenate([x], 1) is x
    assert b.reverse(x, []) is x
    assert b.lines == []


def test_control_flow_results():
    b = Builder()
    i, total = arg((), I32, "%i"), arg((3,), F64, "%t")
    out = b.while_([i, total], lambda r, s: [r.compare(s[0], r.constant(5, I32), "LT")],
                   lambda r, s: [r.add(s[0], r.constant(1, I32)), s[1]])
    assert [v.aval for v in out] == [((), I32), ((3,), F64)]
    picked = b.if_(arg((), BOOL), lambda r, _: [total], lambda r, _: [r.negate(total)])
    assert picked[0].aval == ((3,), F64)
    cased = b.case(arg((), I32), [lambda r, _: [i], lambda r, _: [r.constant(7, I32)]])
    assert cased[0].aval == ((), I32)


def test_custom_call_attributes():
    b = Builder()
    x = b.argument((2, 3), F32)
    (out,) = b.custom_call("kernel", [x], [((3,), F64)], backend_config={"flag": True, "n": 2, "name": 'a"b'},
                           api_version=4, operand_layouts=[[1, 0]], result_layouts=[[0]])
    assert out.aval == ((3,), F64)
    assert b.lines[-1] == ('%v2 = stablehlo.custom_call @kernel(%v1) {backend_config = {flag = true, n = 2 : i64, '
                           'name = "a\\"b"}, api_version = 4 : i32, operand_layouts = [dense<[1, 0]> : '
                           'tensor<2xindex>], result_layouts = [dense<[0]> : tensor<1xindex>]} : '
                           '(tensor<2x3xf32>) -> tensor<3xf64>')


def test_float_literals_round_to_their_dtype_and_parse():
    b = Builder()
    b.constant(5e-324, F64)
    b.constant(1e300, F32)
    b.constant(complex(1e300, 2.5), C64)
    assert [ln.split("dense<")[1].split(">")[0] for ln in b.lines] == ["5.0e-324", "0x7F800000", "(0x7F800000, 2.5)"]


def test_emitted_text_is_compact():
    text, avals = build_module(lambda b, x, y: b.add(x, y), {}, [((2,), F32), ((2,), F32)])
    assert avals == [((2,), F32)]
    body = [ln.strip() for ln in text.splitlines() if "=" in ln and "func" not in ln]
    assert body == ["%v1 = stablehlo.add %arg0, %arg1 : tensor<2xf32>"]


# -- malformed programs fail in Python, naming the rule -------------------------------------------

def _i64(b: Builder) -> Value:
    return b.constant(0, I64)


MALFORMED = [
    ("add shapes", lambda b, x: b.add(x, b.constant(0, F32, (3,))), "operand types differ"),
    ("add dtypes", lambda b, x: b.add(x, b.constant(0, F64, (2, 3))), "operand types differ"),
    ("sqrt of integers", lambda b, x: b.sqrt(b.convert(x, I32)), "needs a inexact dtype"),
    ("bitwise and of floats", lambda b, x: b.and_(x, x), "needs a intbool dtype"),
    ("order of complex", lambda b, x: b.compare(b.convert(x, C64), b.convert(x, C64), "LT"), "no order"),
    ("bad direction", lambda b, x: b.compare(x, x, "LESS"), "direction"),
    ("select predicate", lambda b, x: b.select(x, x, x), "predicate"),
    ("broadcast dims", lambda b, x: b.broadcast_in_dim(x, (3, 2), [0, 1]), "does not fit"),
    ("broadcast rank", lambda b, x: b.broadcast_in_dim(x, (2, 3, 4), [0]), "needs 2 dims"),
    ("broadcast repeated dims", lambda b, x: b.broadcast_in_dim(x, (2, 3), [1, 1]), "distinct"),
    ("reshape size", lambda b, x: b.reshape(x, (5,)), "cannot reshape"),
    ("transpose permutation", lambda b, x: b.transpose(x, [0, 0]), "distinct"),
    ("slice bounds", lambda b, x: b.slice(x, [0, 0], [3, 3]), "do not fit"),
    ("slice stride", lambda b, x: b.slice(x, [0, 0], [2, 3], [1, 0]), "do not fit"),
    ("concatenate shapes", lambda b, x: b.concatenate([x, b.constant(0, F32, (2, 4))], 0), "does not join"),
    ("concatenate dim", lambda b, x: b.concatenate([x, x], 2), "out of range"),
    ("pad value", lambda b, x: b.pad(x, b.constant(0, F64), [0, 0], [0, 0]), "padding value"),
    ("convert complex to real", lambda b, x: b.convert(b.convert(x, C64), F32), "real() first"),
    ("bitcast width", lambda b, x: b.bitcast_convert(x, I64), "bit width"),
    ("iota dim", lambda b, x: b.iota((3,), 1, I32), "out of range"),
    ("dot_general sizes", lambda b, x: b.dot_general(x, x, contract=([1], [0])), "do not pair up"),
    ("dynamic_slice sizes", lambda b, x: b.dynamic_slice(x, [_i64(b), _i64(b)], [3, 1]), "do not fit"),
    ("dynamic_slice index dtype", lambda b, x: b.dynamic_slice(x, [b.constant(0, F32), _i64(b)], [1, 1]),
     "0-d integer"),
    ("gather slice sizes", lambda b, x: b.gather(x, b.constant(0, I64, (4, 1)), offset_dims=[1],
                                                 collapsed_slice_dims=[0], start_index_map=[0], index_vector_dim=1,
                                                 slice_sizes=[1, 4]), "slice_sizes"),
    ("reduce region dtype", lambda b, x: b.reduce([x], [b.constant(0, F32)], [0],
                                                  lambda r, a: [r.convert(a[0], F64)]), "region returns"),
    ("reduce init", lambda b, x: b.reduce([x], [b.constant(0, F32, (1,))], [0], scalar_add), "init"),
    ("sort comparator", lambda b, x: b.sort([x], 0, lambda r, a: [a[0]]), "region returns"),
    ("while body", lambda b, x: b.while_([x], lambda r, s: [r.constant(True, BOOL)],
                                         lambda r, s: [r.convert(s[0], F64)]), "region returns"),
    ("if predicate", lambda b, x: b.if_(x, lambda r, _: [x], lambda r, _: [x]), "0-d boolean"),
    ("if branches", lambda b, x: b.if_(b.constant(True, BOOL), lambda r, _: [x], lambda r, _: [r.negate(x),
                                                                                                    x]),
     "region returns"),
    ("case index", lambda b, x: b.case(_i64(b), [lambda r, _: [x]]), "int32"),
    ("fft length", lambda b, x: b.fft(b.convert(x, C64), "FFT", [4]), "trailing sizes"),
    ("fft kind", lambda b, x: b.fft(x, "DCT", [3]), "type must be"),
    ("cholesky square", lambda b, x: b.cholesky(x), "square"),
    ("custom_call target", lambda b, x: b.custom_call("not a name", [x], [x.aval]), "identifier"),
    ("chlo op", lambda b, x: b.chlo("bogus", x), "not one of"),
    ("custom_call layouts", lambda b, x: b.custom_call("k", [x], [x.aval], operand_layouts=[[0, 0]]), "axis order"),
    ("non-Value operand", lambda b, x: b.negate(np.zeros(3)), "must be a Value"),
    ("rule returns non-Value", lambda b, x: 3.0, "must be a Value"),
]


@pytest.mark.parametrize("body, message", [row[1:] for row in MALFORMED], ids=[row[0] for row in MALFORMED])
def test_malformed_ops_raise_naming_the_rule(body, message):
    def _my_rule(b: Builder, x: Value) -> Value:
        return body(b, x)

    with pytest.raises(LoweringError, match=re.escape(message)) as info:
        build_module(_my_rule, {}, [((2, 3), F32)])
    assert "'my_rule'" in str(info.value)
    assert isinstance(info.value, TypeError)


def test_nested_rules_name_the_innermost():
    def _inner(b: Builder, x: Value) -> Value:
        return b.reshape(x, (7,))

    def _outer(b: Builder, x: Value) -> Value:
        return b.apply(_inner, b.negate(x))

    with pytest.raises(LoweringError, match="'inner'"):
        build_module(_outer, {}, [((2, 3), F32)])


def test_a_malformed_rule_never_reaches_the_plugin():
    def _broken_rule(b: Builder, x: Value) -> Value:
        return b.add(x, b.constant(1, F64, x.shape))

    x = xp.asarray(np.ones(3, np.float32))
    with pytest.raises(LoweringError, match="broken_rule"):
        run(_broken_rule, (), (x,), x._device)


# -- programs with the ops no namespace function uses yet compile and run -----------------------------

def _count_rule(b: Builder, start: Value, *, steps: int) -> tuple[Value, ...]:
    """Loop ``steps`` times doubling ``start``; then branch on the sign; then pick a case."""
    i0 = b.constant(0, I32)
    _, doubled = b.while_([i0, start], lambda r, s: [r.compare(s[0], r.constant(steps, I32), "LT")],
                          lambda r, s: [r.add(s[0], r.constant(1, I32)), r.add(s[1], s[1])])
    positive = b.compare(doubled, b.constant(0, F64), "GT")
    (signed,) = b.if_(positive, lambda r, _: [doubled], lambda r, _: [r.negate(doubled)])
    cases = [lambda r, _, k=k: [r.constant(10.0 * k, F64)] for k in range(3)]
    (picked,) = b.case(b.constant(1, I32), cases)
    return signed, picked


def test_while_if_case_run():
    start = xp.asarray(-1.5)
    signed, picked = run(_count_rule, (("steps", 4),), (start,), start._device)
    assert float(signed) == 24.0
    assert float(picked) == 10.0


def _recorded_rule(b: Builder, x: Value, step: Value) -> Value:
    """A loop whose body is recorded before the op, capturing ``step`` as an extra carry (as a tracer does)."""
    with b.block([x.aval]) as cond:
        cond.results = [b.compare(b.reduce([cond.args[0]], [b.constant(0, F64)], [0], scalar_add)[0],
                                  b.constant(20, F64), "LT")]
    with b.block([x.aval]) as body:
        captured = b.argument(*step.aval)
        body.args.append(captured)
        body.results = [b.add(body.args[0], broadcast_value(b, captured, x.shape)), captured]
    cond.args.append(b.argument(*step.aval))
    return b.while_([x, step], cond, body)[0]


def broadcast_value(b: Builder, v: Value, shape: tuple[int, ...]) -> Value:
    return b.broadcast_in_dim(v, shape, [])


def test_recorded_blocks_run():
    x = xp.asarray(np.zeros(2))
    out = run(_recorded_rule, (), (x, xp.asarray(1.5)), x._device)[0]
    np.testing.assert_array_equal(np.asarray(out), [10.5, 10.5])


def test_recorded_block_arguments_are_checked():
    def _loop_rule(b: Builder, x: Value) -> Value:
        with b.block([x.aval]) as cond:
            cond.results = [b.constant(True, BOOL)]
        with b.block([((), F64)]) as body:
            body.results = [x]
        return b.while_([x], cond, body)[0]

    with pytest.raises(LoweringError, match="region takes"):
        build_module(_loop_rule, {}, [((2, 3), F32)])


def test_module_text_aliases_and_no_results():
    b = Builder()
    x = b.argument((2,), F32)
    text = module_text(b, [x], [b.negate(x)], aliases={0: 0})
    assert "{tf.aliasing_output = 0 : i32}" in text and "return %v2 : tensor<2xf32>" in text
    empty = Builder()
    assert "    return\n" in module_text(empty, [], [])


def _update_rule(b: Builder, x: Value, row: Value, i: Value) -> Value:
    row = b.reshape(row, (1,) + row.shape)
    return b.dynamic_update_slice(x, row, [i, b.constant(0, i.dtype)])


def test_dynamic_update_slice_runs():
    x = xp.asarray(np.zeros((3, 2)))
    out = run(_update_rule, (), (x, xp.asarray([1.0, 2.0]), xp.asarray(np.int64(1))), x._device)[0]
    np.testing.assert_array_equal(np.asarray(out), [[0, 0], [1, 2], [0, 0]])


def _literal_rule(b: Builder) -> tuple[Value, ...]:
    values = np.array([[1.5, math.nan], [math.inf, -0.0]])
    return (b.constant(values, F64), b.constant(-math.inf, F32, (2,)), b.constant(True, BOOL, (1,)),
            b.constant(1 - 2j, C64), b.constant(np.array([3, -4], np.int8), np.int8))


def test_constants_round_trip():
    out = [np.asarray(a) for a in run(_literal_rule, (), (), xp.asarray(0)._device)]
    np.testing.assert_array_equal(out[0], [[1.5, np.nan], [np.inf, -0.0]])
    assert np.signbit(out[0][1, 1])
    np.testing.assert_array_equal(out[1], [-np.inf, -np.inf])
    assert out[2].tolist() == [True] and out[3] == np.complex64(1 - 2j)
    assert out[4].dtype == np.int8 and out[4].tolist() == [3, -4]


# -- no op text outside the builder --------------------------------------------------------------------

PACKAGE = pathlib.Path(xp.__file__).parent
OP_TEXT = re.compile(r"\b(stablehlo|chlo)\.[a-z_]|\._emit(_multi)?\(")


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _op_text_sites(path: pathlib.Path) -> list[str]:
    """String literals (docstrings aside) that spell StableHLO/CHLO ops, and raw emission calls."""
    source = path.read_text()
    tree = ast.parse(source)
    skip = _docstrings(tree)
    hits = [f"{path.name}:{node.lineno}: {node.value[:60]!r}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
            and OP_TEXT.search(node.value)]
    hits += [f"{path.name}:{n}: {line.strip()}" for n, line in enumerate(source.splitlines(), 1)
             if re.search(r"\._emit(_multi)?\(", line)]
    return hits


def test_no_op_text_outside_the_builder():
    # The binding (_pjrt) and its demo (__main__) hand finished programs to a plugin; everything
    # above it lowers through the builder.
    builder = PACKAGE / "ops" / "_builder"
    files = [p for p in PACKAGE.rglob("*.py")
             if builder not in p.parents and PACKAGE / "_pjrt" not in p.parents and p.name != "__main__.py"]
    assert len(files) > 20
    sites = [hit for p in files for hit in _op_text_sites(p)]
    assert sites == []


def test_the_scan_finds_op_text(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('"""Uses ``stablehlo.add`` in prose."""\n'
                      'def rule(b, x):\n'
                      '    """A docstring naming stablehlo.add is fine."""\n'
                      '    return b._emit(f"stablehlo.add {x.name}", x.shape, x.dtype)\n')
    assert len(_op_text_sites(sample)) == 2
