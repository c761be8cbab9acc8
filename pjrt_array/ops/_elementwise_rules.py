"""Lowering rules of the element-wise functions.

Each rule takes its operands and the ``dtype`` to compute in.  Binary rules
broadcast and convert their operands first (``_prepare``).  Where StableHLO
has no single op with numpy's semantics, the rule spells them out:
Python-style ``floor_divide``/``remainder`` (and 0 for integer division by
zero), NaN-propagating ``maximum``/``minimum``, ``hypot`` and ``logaddexp``
without overflow.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .. import _dtypes
from ._builder import Builder, Value, tensor_type
from ._lower import broadcast, broadcast_shapes, constant, convert

_BOOL = np.dtype(bool)
Rule = Callable[..., Value]


# -- small builders ---------------------------------------------------------------------------------

def _op(b: Builder, name: str, *xs: Value, dtype: np.dtype | None = None) -> Value:
    """``stablehlo.<name>`` on operands of one type, result of ``dtype`` (default: theirs)."""
    x = xs[0]
    out = x.dtype if dtype is None else np.dtype(dtype)
    if out == x.dtype:
        return b.op(f"stablehlo.{name} {', '.join(v.name for v in xs)} : {x.type}", x.shape, out)
    return b.op(f"stablehlo.{name} {', '.join(v.name for v in xs)} : ({', '.join(v.type for v in xs)}) -> "
                f"{tensor_type(x.shape, out)}", x.shape, out)


def _cmp(b: Builder, direction: str, x: Value, y: Value) -> Value:
    kind = "FLOAT" if _dtypes.isdtype(x.dtype, ("real floating", "complex floating")) else (
        "SIGNED" if x.dtype.kind == "i" else "UNSIGNED")
    return b.op(f"stablehlo.compare {direction}, {x.name}, {y.name}, {kind} : ({x.type}, {y.type}) -> "
                f"{tensor_type(x.shape, _BOOL)}", x.shape, _BOOL)


def _select(b: Builder, c: Value, x: Value, y: Value) -> Value:
    return b.op(f"stablehlo.select {c.name}, {x.name}, {y.name} : {c.type}, {x.type}", x.shape, x.dtype)


def _const(b: Builder, value: object, like: Value) -> Value:
    return constant(b, value, like.dtype, like.shape)


def _is_nan(b: Builder, x: Value) -> Value:
    return _cmp(b, "NE", x, x)


def _prepare(b: Builder, x: Value, y: Value, dtype: np.dtype) -> tuple[Value, Value]:
    shape = broadcast_shapes(x.shape, y.shape)
    return broadcast(b, convert(b, x, dtype), shape), broadcast(b, convert(b, y, dtype), shape)


def _float(dtype: np.dtype) -> bool:
    return _dtypes.isdtype(dtype, ("real floating", "complex floating"))


def _parts(b: Builder, x: Value) -> tuple[Value, Value]:
    real = _dtypes.real_dtype(x.dtype)
    return _op(b, "real", x, dtype=real), _op(b, "imag", x, dtype=real)


# -- unary rules -------------------------------------------------------------------------------------

def simple(name: str) -> Rule:
    """One StableHLO op of the same type (with the standard's complex special cases)."""
    def rule(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
        return _op(b, name, convert(b, x, dtype))
    rule.__name__ = name
    return with_complex_cases(rule, name) if name in COMPLEX_CASES else rule


def chlo(name: str) -> Rule:
    """One CHLO op, decomposed by XLA for every backend (with the complex special cases)."""
    def rule(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
        x = convert(b, x, dtype)
        return b.op(f'"chlo.{name}"({x.name}) : ({x.type}) -> {x.type}', x.shape, x.dtype)
    rule.__name__ = name
    return with_complex_cases(rule, name) if name in COMPLEX_CASES else rule


def rounding(kind: str) -> Rule:
    """ceil/floor/trunc: the identity on integers."""
    def rule(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
        if not _float(dtype):
            return x
        if kind != "trunc":
            return _op(b, kind, x)
        negative = _cmp(b, "LT", x, _const(b, 0, x))
        return _select(b, negative, _op(b, "ceil", x), _op(b, "floor", x))
    rule.__name__ = kind
    return rule


def abs_(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    if x.dtype == _BOOL or x.dtype.kind == "u":
        return x
    return _op(b, "abs", x, dtype=_dtypes.real_dtype(x.dtype))


def not_(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    return _op(b, "not", x)


def conj(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    if not _dtypes.is_complex(x.dtype):
        return x
    re, im = _parts(b, x)
    return b.op(f"stablehlo.complex {re.name}, {_op(b, 'negate', im).name} : {x.type}", x.shape, x.dtype)


def real(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    return _parts(b, x)[0] if _dtypes.is_complex(x.dtype) else x


def imag(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    return _parts(b, x)[1] if _dtypes.is_complex(x.dtype) else _const(b, 0, x)


def isfinite(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    if _dtypes.is_complex(x.dtype):
        re, im = _parts(b, x)
        return _op(b, "and", isfinite(b, re, dtype=re.dtype), isfinite(b, im, dtype=im.dtype))
    if not _dtypes.is_float(x.dtype):
        return constant(b, True, _BOOL, x.shape)
    return _op(b, "is_finite", x, dtype=_BOOL)


def isinf(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    if _dtypes.is_complex(x.dtype):
        re, im = _parts(b, x)
        return _op(b, "or", isinf(b, re, dtype=re.dtype), isinf(b, im, dtype=im.dtype))
    if not _dtypes.is_float(x.dtype):
        return constant(b, False, _BOOL, x.shape)
    return b.op(f'"chlo.is_inf"({x.name}) : ({x.type}) -> {tensor_type(x.shape, _BOOL)}', x.shape, _BOOL)


def isnan(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    if not _float(x.dtype):
        return constant(b, False, _BOOL, x.shape)
    return _is_nan(b, x)


def _truth(b: Builder, x: Value) -> Value:
    return x if x.dtype == _BOOL else _cmp(b, "NE", x, _const(b, 0, x))


def logical_not(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    return _op(b, "not", _truth(b, x))


def log_base(base: float) -> Rule:
    """log(x) / log(base)."""
    def rule(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
        x = convert(b, x, dtype)
        return _op(b, "divide", _op(b, "log", x), _const(b, math.log(base), x))
    rule.__name__ = f"log{int(base)}"
    return rule


def reciprocal(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    x = convert(b, x, dtype)
    return _op(b, "divide", _const(b, 1, x), x)


def round_(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    if _dtypes.is_complex(x.dtype):
        re, im = _parts(b, x)
        re, im = _op(b, "round_nearest_even", re), _op(b, "round_nearest_even", im)
        return b.op(f"stablehlo.complex {re.name}, {im.name} : {x.type}", x.shape, x.dtype)
    return _op(b, "round_nearest_even", x) if _dtypes.is_float(x.dtype) else x


def sign(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    if x.dtype.kind == "u":
        return _select(b, _cmp(b, "NE", x, _const(b, 0, x)), _const(b, 1, x), _const(b, 0, x))
    if _dtypes.is_float(x.dtype):  # sign(-0.0) is +0, as the standard asks
        return _select(b, _cmp(b, "EQ", x, _const(b, 0, x)), _const(b, 0, x), _op(b, "sign", x))
    if _dtypes.is_complex(x.dtype):
        # x / |x| is inf/inf for an infinite component: use the direction of the infinite part(s).
        re, im = _parts(b, x)
        inf_re, inf_im = isinf(b, re, dtype=re.dtype), isinf(b, im, dtype=im.dtype)
        zero = _const(b, 0, re)
        dir_re = _select(b, inf_re, _op(b, "sign", re), zero)
        dir_im = _select(b, inf_im, _op(b, "sign", im), zero)
        direction = b.op(f"stablehlo.complex {dir_re.name}, {dir_im.name} : {x.type}", x.shape, x.dtype)
        toward = _op(b, "sign", direction)
        return _select(b, _op(b, "or", inf_re, inf_im), toward, _op(b, "sign", x))
    return _op(b, "sign", x)


def signbit(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    if not _dtypes.is_float(x.dtype):
        return _cmp(b, "LT", x, _const(b, 0, x)) if x.dtype.kind == "i" else constant(b, False, _BOOL, x.shape)
    bits = np.dtype(f"int{x.dtype.itemsize * 8}")
    raw = b.op(f"stablehlo.bitcast_convert {x.name} : ({x.type}) -> {tensor_type(x.shape, bits)}", x.shape, bits)
    return _cmp(b, "LT", raw, constant(b, 0, bits, x.shape))


def square(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    return _op(b, "multiply", x, x)


# -- binary rules -----------------------------------------------------------------------------------

def arith(name: str) -> Rule:
    """One StableHLO binary op on the promoted operands."""
    def rule(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
        return _op(b, name, *_prepare(b, x, y, dtype))
    rule.__name__ = name
    return rule


def compare(direction: str) -> Rule:
    def rule(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
        return _cmp(b, direction, *_prepare(b, x, y, dtype))
    rule.__name__ = f"compare_{direction}"
    return rule


def logical(name: str) -> Rule:
    def rule(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
        x, y = _prepare(b, x, y, dtype)
        return _op(b, name, _truth(b, x), _truth(b, y))
    rule.__name__ = f"logical_{name}"
    return rule


def shift_left(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
    return _op(b, "shift_left", *_prepare(b, x, y, dtype))


def shift_right(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
    kind = "shift_right_arithmetic" if np.dtype(dtype).kind == "i" else "shift_right_logical"
    return _op(b, kind, *_prepare(b, x, y, dtype))


def copysign(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
    x, y = _prepare(b, x, y, dtype)
    magnitude = _op(b, "abs", x)
    return _select(b, signbit(b, y, dtype=dtype), _op(b, "negate", magnitude), magnitude)


def extremum(direction: str) -> Rule:
    """maximum (GT) / minimum (LT); a NaN operand gives NaN."""
    def rule(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
        x, y = _prepare(b, x, y, dtype)
        if not _float(dtype):
            return _op(b, "maximum" if direction == "GT" else "minimum", x, y)
        pick_x = _op(b, "or", _cmp(b, direction, x, y), _is_nan(b, x))
        return _select(b, pick_x, x, y)
    rule.__name__ = f"extremum_{direction}"
    return rule


def nextafter(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
    x, y = _prepare(b, x, y, dtype)
    return b.op(f'"chlo.next_after"({x.name}, {y.name}) : ({x.type}, {y.type}) -> {x.type}', x.shape, x.dtype)


def power(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
    x, y = _prepare(b, x, y, dtype)
    if _dtypes.is_complex(dtype):
        return _complex_power(b, x, y)
    if _float(dtype) or dtype == _BOOL:
        return _op(b, "power", x, y)
    return _integer_power(b, x, y)


def _complex_power(b: Builder, x: Value, y: Value) -> Value:
    """numpy's complex power: exponent 0 gives 1, base 0 gives 0 (or NaN unless the exponent is
    real and positive), a real integral exponent below 100 in magnitude multiplies repeatedly
    (exact where numpy is: ``(3j)**2 == -9``), anything else is XLA's exp(y log x)."""
    (yr, yi), (xr, xi) = _parts(b, y), _parts(b, x)
    zero_r = _const(b, 0, yr)
    is_zero = lambda re, im: _op(b, "and", _cmp(b, "EQ", re, zero_r), _cmp(b, "EQ", im, zero_r))  # noqa: E731
    real_exponent = _cmp(b, "EQ", yi, zero_r)
    integral = _op(b, "and", _op(b, "and", real_exponent, _cmp(b, "EQ", _op(b, "floor", yr), yr)),
                   _cmp(b, "LT", _op(b, "abs", yr), _const(b, 100, yr)))
    i32 = np.dtype("int32")
    n = convert(b, _select(b, integral, yr, zero_r), i32)
    m = _op(b, "abs", n)
    one = _const(b, 1, x)
    result, p = one, x
    for k in range(7):  # |n| < 100 < 2**7
        bit = _op(b, "and", _op(b, "shift_right_logical", m, _const(b, k, m)), _const(b, 1, m))
        result = _select(b, _cmp(b, "NE", bit, _const(b, 0, m)), _op(b, "multiply", result, p), result)
        p = _op(b, "multiply", p, p)
    square = _op(b, "multiply", x, x)
    for k, unrolled in ((1, x), (2, square), (3, _op(b, "multiply", square, x))):  # numpy unrolls these
        result = _select(b, _cmp(b, "EQ", n, _const(b, k, n)), unrolled, result)
    result = _select(b, _cmp(b, "LT", n, _const(b, 0, n)), _op(b, "divide", one, result), result)
    result = _select(b, integral, result, _op(b, "power", x, y))
    nan = _const(b, complex(math.nan, math.nan), x)
    at_zero = _select(b, _op(b, "and", real_exponent, _cmp(b, "GT", yr, zero_r)), _const(b, 0, x), nan)
    result = _select(b, is_zero(xr, xi), at_zero, result)
    return _select(b, is_zero(yr, yi), one, result)


def _integer_power(b: Builder, x: Value, y: Value) -> Value:
    """Wrapping integer power by squaring over every exponent bit (XLA's own gives 1 for e >= 64).

    A negative exponent gives 1 for base 1, ±1 for base -1 and 0 otherwise (numpy raises).
    """
    one, zero = _const(b, 1, x), _const(b, 0, x)
    result, base, bits = one, x, x.dtype.itemsize * 8
    for k in range(bits):
        shift = _const(b, k, y)
        bit = _op(b, "and", _op(b, "shift_right_logical", y, shift), _const(b, 1, y))
        result = _select(b, _cmp(b, "NE", bit, _const(b, 0, y)), _op(b, "multiply", result, base), result)
        if k + 1 < bits:
            base = _op(b, "multiply", base, base)
    if x.dtype.kind == "u":
        return result
    odd = _cmp(b, "NE", _op(b, "and", y, _const(b, 1, y)), _const(b, 0, y))
    negative_result = _select(b, _cmp(b, "EQ", x, one), one,
                              _select(b, _cmp(b, "EQ", x, _const(b, -1, x)),
                                      _select(b, odd, _const(b, -1, x), one), zero))
    return _select(b, _cmp(b, "LT", y, _const(b, 0, y)), negative_result, result)


def _int_division(b: Builder, x: Value, y: Value) -> tuple[Value, Value, Value]:
    """Quotient and remainder rounded towards -inf, and the divisor-is-zero mask."""
    zero = _const(b, 0, x)
    by_zero = _cmp(b, "EQ", y, zero)
    safe = _select(b, by_zero, _const(b, 1, y), y)
    q = _op(b, "divide", x, safe)
    r = _op(b, "remainder", x, safe)
    if x.dtype.kind == "i":
        # Truncated -> floored: step down where the remainder and divisor differ in sign.
        adjust = _op(b, "and", _cmp(b, "NE", r, zero), _cmp(b, "NE", _cmp(b, "LT", r, zero), _cmp(b, "LT", safe, zero)))
        q = _select(b, adjust, _op(b, "subtract", q, _const(b, 1, q)), q)
        r = _select(b, adjust, _op(b, "add", r, safe), r)
    return q, r, by_zero


def _float_mod(b: Builder, x: Value, y: Value) -> tuple[Value, Value]:
    """numpy's ``divmod`` for floats: the floored remainder and the matching quotient."""
    zero = _const(b, 0, x)
    mod = _op(b, "remainder", x, y)  # C fmod: the sign of x
    fix = _op(b, "and", _cmp(b, "NE", mod, zero), _cmp(b, "NE", signbit(b, mod, dtype=x.dtype),
                                                        signbit(b, y, dtype=x.dtype)))
    div = _op(b, "divide", _op(b, "subtract", x, mod), y)
    div = _select(b, fix, _op(b, "subtract", div, _const(b, 1, div)), div)
    mod = _select(b, fix, _op(b, "add", mod, y), mod)
    # A zero remainder takes the sign of the divisor.
    mod = _select(b, _cmp(b, "EQ", mod, zero), copysign(b, zero, y, dtype=x.dtype), mod)
    floored = _op(b, "floor", div)
    up = _cmp(b, "GT", _op(b, "subtract", div, floored), _const(b, 0.5, div))
    floored = _select(b, up, _op(b, "add", floored, _const(b, 1, div)), floored)
    # A zero quotient takes the sign of x / y; division by zero gives x / y itself.
    quotient = _op(b, "divide", x, y)
    floored = _select(b, _cmp(b, "EQ", div, zero), copysign(b, zero, quotient, dtype=x.dtype), floored)
    # Division by zero, and an infinite operand, give x / y itself (the standard's special cases).
    direct = _op(b, "or", _cmp(b, "EQ", y, zero), _op(b, "or", isinf(b, x, dtype=x.dtype), isinf(b, y, dtype=y.dtype)))
    floored = _select(b, direct, quotient, floored)
    return floored, mod


def floor_divide(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
    x, y = _prepare(b, x, y, dtype)
    if _dtypes.is_float(x.dtype):
        return _float_mod(b, x, y)[0]
    q, _, by_zero = _int_division(b, x, y)
    return _select(b, by_zero, _const(b, 0, q), q)


def remainder(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
    x, y = _prepare(b, x, y, dtype)
    if _dtypes.is_float(x.dtype):
        return _float_mod(b, x, y)[1]
    _, r, by_zero = _int_division(b, x, y)
    return _select(b, by_zero, _const(b, 0, r), r)


def hypot(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
    x, y = _prepare(b, x, y, dtype)
    ax, ay = _op(b, "abs", x), _op(b, "abs", y)
    big = _op(b, "maximum", ax, ay)
    small = _op(b, "minimum", ax, ay)
    zero = _const(b, 0, big)
    ratio = _select(b, _cmp(b, "EQ", big, zero), zero, _op(b, "divide", small, big))
    root = _op(b, "sqrt", _op(b, "add", _const(b, 1, ratio), _op(b, "multiply", ratio, ratio)))
    out = _op(b, "multiply", big, root)
    out = _select(b, _op(b, "or", _is_nan(b, x), _is_nan(b, y)), _const(b, float("nan"), out), out)
    infinite = _op(b, "or", isinf(b, x, dtype=dtype), isinf(b, y, dtype=dtype))
    return _select(b, infinite, _const(b, float("inf"), out), out)


def logaddexp(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
    x, y = _prepare(b, x, y, dtype)
    big = extremum("GT")(b, x, y, dtype=dtype)
    gap = _op(b, "negate", _op(b, "abs", _op(b, "subtract", x, y)))
    out = _op(b, "add", big, _op(b, "log_plus_one", _op(b, "exponential", gap)))
    same = _cmp(b, "EQ", x, y)  # also the infinities, where x - y would be NaN
    return _select(b, same, _op(b, "add", x, _const(b, math.log(2.0), x)), out)


def clip(b: Builder, x: Value, *bounds: Value, which: tuple[str, ...]) -> Value:
    shape = broadcast_shapes(x.shape, *(v.shape for v in bounds))
    out = broadcast(b, x, shape)
    for name, bound in zip(which, bounds):
        bound = broadcast(b, bound, shape)
        # Replace only what lies beyond the bound (so -0.0 stays -0.0 at a 0.0 bound, as in numpy);
        # a NaN in x stays, a NaN bound gives NaN.
        beyond = _cmp(b, "LT" if name == "min" else "GT", out, bound)
        if _float(x.dtype):
            beyond = _op(b, "or", beyond, _is_nan(b, bound))
        out = _select(b, beyond, bound, out)
    return out


# -- the standard's complex special cases ------------------------------------------------------------
# XLA's complex functions follow C99 Annex G for finite input but not for every
# NaN/infinity combination the standard lists.  Each table row is
# (class of real part, class of imaginary part) -> (real, imaginary) of the result.

_PI_2 = math.pi / 2
_NAN, _INF = float("nan"), float("inf")
COMPLEX_CASES: dict[str, tuple[tuple[str, str, float, float], ...]] = {
    "acos": (("zero", "nan", _PI_2, _NAN), ("finite_nonzero", "nan", _NAN, _NAN)),
    "acosh": (("+zero", "nan", _NAN, _PI_2), ("finite_nonzero", "nan", _NAN, _NAN)),
    "asinh": (("nan", "+zero", _NAN, 0.0), ("nan", "finite_nonzero", _NAN, _NAN)),
    "atanh": (("+zero", "nan", 0.0, _NAN), ("finite_nonzero", "nan", _NAN, _NAN), ("+inf", "nan", 0.0, _NAN),
              ("nan", "finite", _NAN, _NAN), ("nan", "nan", _NAN, _NAN)),
    "cosh": (("+zero", "+inf", _NAN, 0.0), ("+zero", "nan", _NAN, 0.0), ("+inf", "+inf", _INF, _NAN),
             ("+inf", "nan", _INF, _NAN)),
    "exponential": (("-inf", "+inf", 0.0, 0.0), ("+inf", "+inf", _INF, _NAN), ("-inf", "nan", 0.0, 0.0),
                    ("+inf", "nan", _INF, _NAN)),
    "exponential_minus_one": (("-inf", "+inf", -1.0, 0.0), ("+inf", "+inf", _INF, _NAN), ("-inf", "nan", -1.0, 0.0),
                              ("+inf", "nan", _INF, _NAN)),
    "log": (("finite", "nan", _NAN, _NAN), ("nan", "+inf", _INF, _NAN)),
    "log_plus_one": (("nan", "+inf", _INF, _NAN), ("finite", "nan", _NAN, _NAN)),
    "sinh": (("+zero", "+inf", 0.0, _NAN), ("+zero", "nan", 0.0, _NAN), ("+inf", "+inf", _INF, _NAN),
             ("+inf", "nan", _INF, _NAN)),
    "sqrt": (("finite", "nan", _NAN, _NAN), ("-inf", "nan", _NAN, _INF), ("+inf", "nan", _INF, _NAN)),
    "tanh": (("+zero", "+inf", 0.0, _NAN), ("+zero", "nan", 0.0, _NAN), ("+inf", "finite_positive", 1.0, 0.0)),
}


def _classify(b: Builder, v: Value, cls: str) -> Value:
    zero = _const(b, 0, v)
    if cls == "nan":
        return _is_nan(b, v)
    if cls in ("+inf", "-inf"):
        return _cmp(b, "EQ", v, _const(b, _INF if cls == "+inf" else -_INF, v))
    if cls == "zero":
        return _cmp(b, "EQ", v, zero)
    if cls == "+zero":
        return _op(b, "and", _cmp(b, "EQ", v, zero), _op(b, "not", signbit(b, v, dtype=v.dtype)))
    finite = _op(b, "is_finite", v, dtype=_BOOL)
    if cls == "finite":
        return finite
    if cls == "finite_nonzero":
        return _op(b, "and", finite, _cmp(b, "NE", v, zero))
    if cls == "finite_positive":
        return _op(b, "and", finite, _cmp(b, "GT", v, zero))
    raise ValueError(f"unknown value class {cls!r}")


def with_complex_cases(base: Rule, name: str) -> Rule:
    """``base`` with the standard's complex special cases for ``name`` applied to complex input."""
    cases = COMPLEX_CASES[name]

    def rule(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
        out = base(b, x, dtype=dtype)
        if not _dtypes.is_complex(out.dtype):
            return out
        x = convert(b, x, out.dtype)
        re, im = _parts(b, x)
        for re_cls, im_cls, re_val, im_val in cases:
            hit = _op(b, "and", _classify(b, re, re_cls), _classify(b, im, im_cls))
            value = b.op(f"stablehlo.complex {_const(b, re_val, re).name}, {_const(b, im_val, im).name} : {out.type}",
                         out.shape, out.dtype)
            out = _select(b, hit, value, out)
        return out
    rule.__name__ = f"{getattr(base, '__name__', name)}_special"
    return rule
