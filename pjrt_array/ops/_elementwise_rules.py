"""Lowering rules of the element-wise functions.

Each rule takes its operands and the ``dtype`` to compute in.  Binary rules
broadcast and convert their operands first (``_prepare``).  Where StableHLO
has no single op with numpy's semantics, the rule spells them out:
Python-style ``floor_divide``/``remainder`` (and 0 for integer division by
zero), NaN-propagating ``maximum``/``minimum``, ``hypot`` and ``logaddexp``
without overflow.
"""

from __future__ import annotations

import decimal
import math
from typing import Callable

import numpy as np

from .. import _dtypes
from ._builder import Builder, Value
from ._lower import broadcast, broadcast_shapes, conj as conj_, const_like, is_nan, truth

_BOOL = np.dtype(bool)
Rule = Callable[..., Value]


# -- small builders ---------------------------------------------------------------------------------

def _prepare(b: Builder, x: Value, y: Value, dtype: np.dtype) -> tuple[Value, Value]:
    shape = broadcast_shapes(x.shape, y.shape)
    return broadcast(b, b.convert(x, dtype), shape), broadcast(b, b.convert(y, dtype), shape)


def _float(dtype: np.dtype) -> bool:
    return _dtypes.isdtype(dtype, ("real floating", "complex floating"))


def _parts(b: Builder, x: Value) -> tuple[Value, Value]:
    return b.real(x), b.imag(x)


# -- unary rules -------------------------------------------------------------------------------------

def _one_op(name: str, emit: Callable[[Builder, str, Value], Value]) -> Rule:
    def rule(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
        return emit(b, name, b.convert(x, dtype))
    rule.__name__ = name
    return with_complex_cases(rule, name) if name in COMPLEX_CASES else rule


def simple(name: str) -> Rule:
    """One StableHLO op of the same type (with the standard's complex special cases)."""
    return _one_op(name, Builder.unary)


def chlo(name: str) -> Rule:
    """One CHLO op, decomposed by XLA for every backend (with the complex special cases)."""
    return _one_op(name, Builder.chlo)


def atanh() -> Rule:
    """XLA's ``chlo.atanh``, with the real part it loses at complex ``z = ±1 + iy`` for ``y`` so
    small that ``y**2`` underflows (``|y|`` below about 1e-154 in complex128, 1e-19 in complex64):
    it gives inf there, where ``Re atanh(z) = log(((1+x)**2 + y**2) / ((1-x)**2 + y**2)) / 4`` is
    ``sign(x) * (log(2) - log|y|) / 2`` (``atanh(1 + 1.7e-238j)``: 274.08 + 0.785j, not inf)."""
    base = chlo("atanh")

    def rule(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
        result = base(b, x, dtype=dtype)
        if not _dtypes.is_complex(result.dtype):
            return result
        re, im = _parts(b, b.convert(x, dtype))
        out_re, out_im = _parts(b, result)
        tiny = b.abs(im)
        near_pole = b.and_(b.and_(b.is_inf(out_re), b.compare(b.abs(re), const_like(b, 1, re), "EQ")),
                           b.and_(b.compare(tiny, const_like(b, 0, tiny), "GT"), b.is_finite(tiny)))
        half = const_like(b, 0.5, re)
        lost = b.multiply(b.sign(re), b.multiply(half, b.subtract(const_like(b, math.log(2.0), re), b.log(tiny))))
        return b.complex(b.select(near_pole, lost, out_re), out_im)
    rule.__name__ = "atanh"
    return rule


def rounding(kind: str) -> Rule:
    """ceil/floor/trunc: the identity on integers."""
    def rule(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
        if not _float(dtype):
            return x
        if kind != "trunc":
            return b.unary(kind, x)
        negative = b.compare(x, const_like(b, 0, x), "LT")
        return b.select(negative, b.ceil(x), b.floor(x))
    rule.__name__ = kind
    return rule


def abs_(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    if x.dtype == _BOOL or x.dtype.kind == "u":
        return x
    return b.abs(x)


def not_(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    return b.not_(x)


def conj(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    return conj_(b, x)


def real(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    return b.real(x) if _dtypes.is_complex(x.dtype) else x


def imag(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    return b.imag(x) if _dtypes.is_complex(x.dtype) else const_like(b, 0, x)


def _float_class(b: Builder, x: Value, test: Callable[[Value], Value], other: bool, either: bool) -> Value:
    """``test`` of a float, ``other`` for integers and bools; complex: ``either``/both parts pass."""
    if _dtypes.is_complex(x.dtype):
        re, im = (_float_class(b, p, test, other, either) for p in _parts(b, x))
        return b.or_(re, im) if either else b.and_(re, im)
    return test(x) if _dtypes.is_float(x.dtype) else b.constant(other, _BOOL, x.shape)


def isfinite(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    return _float_class(b, x, b.is_finite, True, False)


def isinf(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    return _float_class(b, x, b.is_inf, False, True)


def isnan(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    if not _float(x.dtype):
        return b.constant(False, _BOOL, x.shape)
    return is_nan(b, x)


def logical_not(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    return b.not_(truth(b, x))


# float dtype -> (its bits as an integer, mantissa bits, exponent bias)
_FLOAT_FRAME: dict[np.dtype, tuple[np.dtype, int, int]] = {np.dtype(np.float32): (np.dtype(np.int32), 23, 127),
                np.dtype(np.float64): (np.dtype(np.int64), 52, 1023)}


def _log2_split(b: Builder, x: Value) -> tuple[Value, Value]:
    """``(m, e)`` with ``x = m * 2**e``, ``m`` in [sqrt(1/2), sqrt(2)) and ``e`` an integer held
    as ``x.dtype``, for positive normal ``x`` (other values give garbage: the caller selects)."""
    ints, mbits, bias = _FLOAT_FRAME[x.dtype]
    bits = b.bitcast_convert(x, ints)
    one_to_two = b.or_(b.and_(bits, b.constant((1 << mbits) - 1, ints, x.shape)),
                       b.constant(bias << mbits, ints, x.shape))
    m = b.bitcast_convert(one_to_two, x.dtype)  # in [1, 2)
    e = b.convert(b.subtract(b.shift_right_logical(bits, b.constant(mbits, ints, x.shape)),
                             b.constant(bias, ints, x.shape)), x.dtype)
    high = b.compare(m, const_like(b, math.sqrt(2.0), m), "GE")
    m = b.select(high, b.multiply(m, const_like(b, 0.5, m)), m)
    return m, b.select(high, b.add(e, const_like(b, 1, e)), e)


def _high_part(value: float, dtype: np.dtype) -> float:
    """``value`` in ``dtype`` with the low mantissa bits cleared, so that its product with any
    binary exponent of ``dtype`` (11 bits for float64, 8 for float32; one bit spare) is exact."""
    ints, mbits, _ = _FLOAT_FRAME[dtype]
    cleared = 12 if mbits == 52 else 9
    bits = np.asarray(value, dtype).view(ints)
    return float((bits & ~np.asarray((1 << cleared) - 1, ints)).view(dtype))


def log_base(base: float) -> Rule:
    """Logarithm to ``base``, as numpy's: exact at powers of the base that floats hold.

    ``log(x) / log(base)`` is off by an ulp or two (``log10(0.1)`` -0.9999999999999998,
    ``log10(1000)`` not 3), which code that rounds a logarithm notices (SciPy's
    ``findfreqs`` put its frequency grid a decade off). For positive normal float32/float64
    ``x = m * 2**e``: ``log_base(x) = e * L + log(m) / log(base)`` with ``L = log_base(2)``
    split in two so that ``e * L_high`` is exact; ``log(m)`` is small, so its error hardly
    reaches the sum. Zero, negative, subnormal, infinite and NaN input, other dtypes and
    complex numbers take ``log(x) / log(base)``."""
    with decimal.localcontext() as context:  # log_base(2) to 40 digits: its low part matters
        context.prec = 40
        log_b2 = decimal.Decimal(2).ln() / decimal.Decimal(base).ln()

    def rule(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
        x = b.convert(x, dtype)
        ln_base = const_like(b, math.log(base), x)
        if x.dtype not in _FLOAT_FRAME:
            return b.divide(b.log(x), ln_base)
        m, e = _log2_split(b, x)
        normal = b.and_(b.compare(x, const_like(b, np.finfo(x.dtype).tiny, x), "GE"),
                        b.compare(x, const_like(b, math.inf, x), "LT"))
        part = b.divide(b.log(b.select(normal, m, x)), ln_base)  # one log: of m, or of x itself
        high = _high_part(float(log_b2), x.dtype)
        low = float(log_b2 - decimal.Decimal(high))
        small = b.add(b.multiply(e, const_like(b, low, e)), part)
        return b.select(normal, b.add(b.multiply(e, const_like(b, high, e)), small), part)
    rule.__name__ = f"log{int(base)}"
    return rule


def reciprocal(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    x = b.convert(x, dtype)
    return b.divide(const_like(b, 1, x), x)


def round_(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    if _dtypes.is_complex(x.dtype):
        re, im = _parts(b, x)
        re, im = b.round_nearest_even(re), b.round_nearest_even(im)
        return b.complex(re, im)
    return b.round_nearest_even(x) if _dtypes.is_float(x.dtype) else x


def sign(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    if x.dtype.kind == "u":
        return b.select(b.compare(x, const_like(b, 0, x), "NE"), const_like(b, 1, x), const_like(b, 0, x))
    if _dtypes.is_float(x.dtype):  # sign(-0.0) is +0, as the standard asks
        return b.select(b.compare(x, const_like(b, 0, x), "EQ"), const_like(b, 0, x), b.sign(x))
    if _dtypes.is_complex(x.dtype):
        # x / |x| is inf/inf for an infinite component: use the direction of the infinite part(s).
        re, im = _parts(b, x)
        inf_re, inf_im = isinf(b, re, dtype=re.dtype), isinf(b, im, dtype=im.dtype)
        zero = const_like(b, 0, re)
        dir_re = b.select(inf_re, b.sign(re), zero)
        dir_im = b.select(inf_im, b.sign(im), zero)
        toward = b.sign(b.complex(dir_re, dir_im))
        out = b.select(b.or_(inf_re, inf_im), toward, b.sign(x))
        # sign(±0 ± 0j) is +0 + 0j: optimized XLA code returns the zero itself (keeping -0).
        return b.select(b.compare(x, const_like(b, 0, x), "EQ"), const_like(b, 0, x), out)
    return b.sign(x)


def signbit(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    if not _dtypes.is_float(x.dtype):
        return b.compare(x, const_like(b, 0, x), "LT") if x.dtype.kind == "i" else b.constant(False, _BOOL, x.shape)
    bits = np.dtype(f"int{x.dtype.itemsize * 8}")
    raw = b.bitcast_convert(x, bits)
    return b.compare(raw, b.constant(0, bits, x.shape), "LT")


def square(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
    return b.multiply(x, x)


# -- binary rules -----------------------------------------------------------------------------------

def arith(name: str) -> Rule:
    """One StableHLO binary op on the promoted operands."""
    def rule(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
        return b.binary(name, *_prepare(b, x, y, dtype))
    rule.__name__ = name
    return rule


def multiply(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
    """``x * y``.  XLA rewrites a product with a converted boolean into a select of the other
    operand or 0, which drops IEEE's ``0 * nan = nan``, ``0 * inf = nan`` and ``0 * -0.0 = -0.0``
    (numpy keeps them); a boolean times a real float is therefore written as that select with
    the product for False spelled out: ``where(flag, other, other * 0)`` (exact: ``1 * v == v``)."""
    if dtype.kind == "f" and (x.dtype == np.bool_) != (y.dtype == np.bool_):
        shape = broadcast_shapes(x.shape, y.shape)
        flag, other = (x, y) if x.dtype == np.bool_ else (y, x)
        flag, other = broadcast(b, flag, shape), broadcast(b, b.convert(other, dtype), shape)
        return b.select(flag, other, b.multiply(other, const_like(b, 0, other)))
    return b.multiply(*_prepare(b, x, y, dtype))


def compare(direction: str) -> Rule:
    def rule(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
        return b.compare(*_prepare(b, x, y, dtype), direction)
    rule.__name__ = f"compare_{direction}"
    return rule


def logical(name: str) -> Rule:
    def rule(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
        x, y = _prepare(b, x, y, dtype)
        return b.binary(name, truth(b, x), truth(b, y))
    rule.__name__ = f"logical_{name}"
    return rule


def shift_left(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
    return b.shift_left(*_prepare(b, x, y, dtype))


def shift_right(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
    kind = "shift_right_arithmetic" if np.dtype(dtype).kind == "i" else "shift_right_logical"
    return b.binary(kind, *_prepare(b, x, y, dtype))


def copysign(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
    x, y = _prepare(b, x, y, dtype)
    magnitude = b.abs(x)
    return b.select(signbit(b, y, dtype=dtype), b.negate(magnitude), magnitude)


def extremum(direction: str) -> Rule:
    """maximum (GT) / minimum (LT); a NaN operand gives NaN."""
    def rule(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
        x, y = _prepare(b, x, y, dtype)
        if not _float(dtype):
            return b.maximum(x, y) if direction == "GT" else b.minimum(x, y)
        pick_x = b.or_(b.compare(x, y, direction), is_nan(b, x))
        return b.select(pick_x, x, y)
    rule.__name__ = f"extremum_{direction}"
    return rule


def nextafter(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
    x, y = _prepare(b, x, y, dtype)
    return b.next_after(x, y)


def power(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
    x, y = _prepare(b, x, y, dtype)
    if _dtypes.is_complex(dtype):
        return _complex_power(b, x, y)
    if _float(dtype) or dtype == _BOOL:
        return b.power(x, y)
    return _integer_power(b, x, y)


def _complex_power(b: Builder, x: Value, y: Value) -> Value:
    """numpy's complex power: exponent 0 gives 1, base 0 gives 0 (or NaN unless the exponent is
    real and positive), a real integral exponent below 100 in magnitude multiplies repeatedly
    (exact where numpy is: ``(3j)**2 == -9``), anything else is XLA's exp(y log x)."""
    (yr, yi), (xr, xi) = _parts(b, y), _parts(b, x)
    zero_r = const_like(b, 0, yr)

    def is_zero(re: Value, im: Value) -> Value:
        return b.and_(b.compare(re, zero_r, "EQ"), b.compare(im, zero_r, "EQ"))

    real_exponent = b.compare(yi, zero_r, "EQ")
    integral = b.and_(b.and_(real_exponent, b.compare(b.floor(yr), yr, "EQ")),
                      b.compare(b.abs(yr), const_like(b, 100, yr), "LT"))
    n = b.convert(b.select(integral, yr, zero_r), np.dtype("int32"))
    m = b.abs(n)
    one = const_like(b, 1, x)
    result, p = one, x
    for k in range(7):  # |n| < 100 < 2**7
        bit = b.and_(b.shift_right_logical(m, const_like(b, k, m)), const_like(b, 1, m))
        result = b.select(b.compare(bit, const_like(b, 0, m), "NE"), b.multiply(result, p), result)
        p = b.multiply(p, p)
    square = b.multiply(x, x)
    for k, unrolled in ((1, x), (2, square), (3, b.multiply(square, x))):  # numpy unrolls these
        result = b.select(b.compare(n, const_like(b, k, n), "EQ"), unrolled, result)
    result = b.select(b.compare(n, const_like(b, 0, n), "LT"), b.divide(one, result), result)
    result = b.select(integral, result, b.power(x, y))
    nan = const_like(b, complex(math.nan, math.nan), x)
    at_zero = b.select(b.and_(real_exponent, b.compare(yr, zero_r, "GT")), const_like(b, 0, x), nan)
    result = b.select(is_zero(xr, xi), at_zero, result)
    return b.select(is_zero(yr, yi), one, result)


def _integer_power(b: Builder, x: Value, y: Value) -> Value:
    """Wrapping integer power by squaring over every exponent bit (XLA's own gives 1 for e >= 64).

    A negative exponent gives 1 for base 1, ±1 for base -1 and 0 otherwise (numpy raises).
    """
    one, zero = const_like(b, 1, x), const_like(b, 0, x)
    result, base, bits = one, x, x.dtype.itemsize * 8
    for k in range(bits):
        shift = const_like(b, k, y)
        bit = b.and_(b.shift_right_logical(y, shift), const_like(b, 1, y))
        result = b.select(b.compare(bit, const_like(b, 0, y), "NE"), b.multiply(result, base), result)
        if k + 1 < bits:
            base = b.multiply(base, base)
    if x.dtype.kind == "u":
        return result
    odd = b.compare(b.and_(y, const_like(b, 1, y)), const_like(b, 0, y), "NE")
    negative_result = b.select(b.compare(x, one, "EQ"), one,
                              b.select(b.compare(x, const_like(b, -1, x), "EQ"),
                                      b.select(odd, const_like(b, -1, x), one), zero))
    return b.select(b.compare(y, const_like(b, 0, y), "LT"), negative_result, result)


def _int_division(b: Builder, x: Value, y: Value) -> tuple[Value, Value, Value]:
    """Quotient and remainder rounded towards -inf, and the divisor-is-zero mask."""
    zero = const_like(b, 0, x)
    by_zero = b.compare(y, zero, "EQ")
    safe = b.select(by_zero, const_like(b, 1, y), y)
    q = b.divide(x, safe)
    r = b.remainder(x, safe)
    if x.dtype.kind == "i":
        # Truncated -> floored: step down where the remainder and divisor differ in sign.
        adjust = b.and_(b.compare(r, zero, "NE"), b.compare(b.compare(r, zero, "LT"), b.compare(safe, zero, "LT"), "NE"))
        q = b.select(adjust, b.subtract(q, const_like(b, 1, q)), q)
        r = b.select(adjust, b.add(r, safe), r)
    return q, r, by_zero


def _float_mod(b: Builder, x: Value, y: Value) -> tuple[Value, Value]:
    """numpy's ``divmod`` for floats: the floored remainder and the matching quotient."""
    zero = const_like(b, 0, x)
    mod = b.remainder(x, y)  # C fmod: the sign of x
    fix = b.and_(b.compare(mod, zero, "NE"), b.compare(signbit(b, mod, dtype=x.dtype), signbit(b, y, dtype=x.dtype), "NE"))
    div = b.divide(b.subtract(x, mod), y)
    div = b.select(fix, b.subtract(div, const_like(b, 1, div)), div)
    mod = b.select(fix, b.add(mod, y), mod)
    # A zero remainder takes the sign of the divisor.
    mod = b.select(b.compare(mod, zero, "EQ"), copysign(b, zero, y, dtype=x.dtype), mod)
    floored = b.floor(div)
    up = b.compare(b.subtract(div, floored), const_like(b, 0.5, div), "GT")
    floored = b.select(up, b.add(floored, const_like(b, 1, div)), floored)
    # A zero quotient takes the sign of x / y; division by zero gives x / y itself.
    quotient = b.divide(x, y)
    floored = b.select(b.compare(div, zero, "EQ"), copysign(b, zero, quotient, dtype=x.dtype), floored)
    # Division by zero, and an infinite operand, give x / y itself (the standard's special cases).
    direct = b.or_(b.compare(y, zero, "EQ"), b.or_(isinf(b, x, dtype=x.dtype), isinf(b, y, dtype=y.dtype)))
    floored = b.select(direct, quotient, floored)
    return floored, mod


def _division(which: int) -> Rule:
    """floor_divide (``which`` 0) or remainder (1), floored as in Python; integer division by 0 gives 0."""
    def rule(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
        x, y = _prepare(b, x, y, dtype)
        if _dtypes.is_float(x.dtype):
            return _float_mod(b, x, y)[which]
        q, r, by_zero = _int_division(b, x, y)
        out = (q, r)[which]
        return b.select(by_zero, const_like(b, 0, out), out)
    rule.__name__ = ("floor_divide", "remainder")[which]
    return rule


floor_divide, remainder = _division(0), _division(1)


def hypot(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
    x, y = _prepare(b, x, y, dtype)
    ax, ay = b.abs(x), b.abs(y)
    big = b.maximum(ax, ay)
    small = b.minimum(ax, ay)
    zero = const_like(b, 0, big)
    ratio = b.select(b.compare(big, zero, "EQ"), zero, b.divide(small, big))
    root = b.sqrt(b.add(const_like(b, 1, ratio), b.multiply(ratio, ratio)))
    out = b.multiply(big, root)
    out = b.select(b.or_(is_nan(b, x), is_nan(b, y)), const_like(b, float("nan"), out), out)
    infinite = b.or_(isinf(b, x, dtype=dtype), isinf(b, y, dtype=dtype))
    return b.select(infinite, const_like(b, float("inf"), out), out)


def logaddexp(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
    x, y = _prepare(b, x, y, dtype)
    big = extremum("GT")(b, x, y, dtype=dtype)
    gap = b.negate(b.abs(b.subtract(x, y)))
    out = b.add(big, b.log_plus_one(b.exponential(gap)))
    same = b.compare(x, y, "EQ")  # also the infinities, where x - y would be NaN
    return b.select(same, b.add(x, const_like(b, math.log(2.0), x)), out)


def clip(b: Builder, x: Value, *bounds: Value, which: tuple[str, ...]) -> Value:
    shape = broadcast_shapes(x.shape, *(v.shape for v in bounds))
    out = broadcast(b, x, shape)
    for name, bound in zip(which, bounds):
        bound = broadcast(b, bound, shape)
        # Replace only what lies beyond the bound (so -0.0 stays -0.0 at a 0.0 bound, as in numpy);
        # a NaN in x stays, a NaN bound gives NaN.
        beyond = b.compare(out, bound, "LT" if name == "min" else "GT")
        if _float(x.dtype):
            beyond = b.or_(beyond, is_nan(b, bound))
        out = b.select(beyond, bound, out)
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
    "log": (("finite", "nan", _NAN, _NAN), ("nan", "+inf", _INF, _NAN), ("inf", "nan", _INF, _NAN)),
    "log_plus_one": (("nan", "+inf", _INF, _NAN), ("finite", "nan", _NAN, _NAN), ("inf", "nan", _INF, _NAN)),
    "sinh": (("+zero", "+inf", 0.0, _NAN), ("+zero", "nan", 0.0, _NAN), ("+inf", "+inf", _INF, _NAN),
             ("+inf", "nan", _INF, _NAN)),
    "sqrt": (("finite", "nan", _NAN, _NAN), ("-inf", "nan", _NAN, _INF), ("+inf", "nan", _INF, _NAN)),
    "tanh": (("+zero", "+inf", 0.0, _NAN), ("+zero", "nan", 0.0, _NAN), ("+inf", "finite_positive", 1.0, 0.0)),
}


def _classify(b: Builder, v: Value, cls: str) -> Value:
    zero = const_like(b, 0, v)
    if cls == "nan":
        return is_nan(b, v)
    if cls in ("+inf", "-inf"):
        return b.compare(v, const_like(b, _INF if cls == "+inf" else -_INF, v), "EQ")
    if cls == "inf":
        return b.or_(_classify(b, v, "+inf"), _classify(b, v, "-inf"))
    if cls == "zero":
        return b.compare(v, zero, "EQ")
    if cls == "+zero":
        return b.and_(b.compare(v, zero, "EQ"), b.not_(signbit(b, v, dtype=v.dtype)))
    finite = b.is_finite(v)
    if cls == "finite":
        return finite
    if cls == "finite_nonzero":
        return b.and_(finite, b.compare(v, zero, "NE"))
    if cls == "finite_positive":
        return b.and_(finite, b.compare(v, zero, "GT"))
    raise ValueError(f"unknown value class {cls!r}")


def with_complex_cases(base: Rule, name: str) -> Rule:
    """``base`` with the standard's complex special cases for ``name`` applied to complex input."""
    cases = COMPLEX_CASES[name]

    def rule(b: Builder, x: Value, *, dtype: np.dtype) -> Value:
        out = base(b, x, dtype=dtype)
        if not _dtypes.is_complex(out.dtype):
            return out
        x = b.convert(x, out.dtype)
        re, im = _parts(b, x)
        for re_cls, im_cls, re_val, im_val in cases:
            hit = b.and_(_classify(b, re, re_cls), _classify(b, im, im_cls))
            value = b.complex(const_like(b, re_val, re), const_like(b, im_val, im))
            out = b.select(hit, value, out)
        return out
    rule.__name__ = f"{getattr(base, '__name__', name)}_special"
    return rule
