"""Element-wise functions of the Array API: one table, one mechanism.

Each function is a row: the dtype kinds it accepts, how its result dtype
follows from the promoted input dtype, and a lowering rule.  Binary
functions promote their operands (Python scalars are weak) and the rule
converts and broadcasts inside the program, so a mixed-dtype or broadcasting
call is still one executable and one dispatch.  Integer inputs of functions
that are only defined on floats compute in the default floating dtype, as in
numpy.  Rules that need more than one StableHLO op (floor division, Python's
remainder sign, NaN-propagating maximum, ...) live in ``_elementwise_rules``.
"""

from __future__ import annotations

from sys import getrefcount as _getrefcount
from typing import Any, Callable

import numpy as np

from .. import _dtypes
from .._array import Array
from .._dispatch import run, run_elementwise
from .._donation import FUNCTION_REFS, SMALL_AVALS, temporary_argument
from . import _elementwise_rules as R
from ._operands import binary_operands, check_array, on_one_device, scalar_array

_FLOATING = ("real floating", "complex floating")
_REAL = ("integral", "real floating")
_NUMERIC = "numeric"
_INTEGRAL = "integral"
_INT_BOOL = ("integral", "bool")
_BOOL = "bool"
_ANY = ("bool", "numeric")

# How the dtype a function computes in follows from the (promoted) input dtype.
_SAME = "same"          # the input dtype
_TO_FLOAT = "to_float"  # integers and bools compute in the default float dtype
_TO_BOOL = "to_bool"    # a predicate: boolean result
_TO_REAL = "to_real"    # complex -> its real component dtype (abs, real, imag)


def _compute_dtype(dtype: np.dtype, mode: str) -> np.dtype:
    if mode == _TO_FLOAT and not _dtypes.isdtype(dtype, _FLOATING):
        return _dtypes.DEFAULT_FLOAT
    return dtype


def _check(name: str, dtype: np.dtype, kinds: Any) -> None:
    if not _dtypes.isdtype(dtype, kinds):
        raise TypeError(f"{name}: unsupported dtype {dtype}")


def _params_for(name: str, kinds: Any, mode: str) -> tuple[dict[np.dtype, tuple], Callable[[np.dtype], tuple]]:
    """The rule parameters for an input dtype, checked and built once per dtype (hot path): the
    cache (its ``get`` is what a call tries first) and the function that fills it."""
    cache: dict[np.dtype, tuple] = {}

    def params(dtype: np.dtype) -> tuple:
        found = cache.get(dtype)
        if found is None:
            _check(name, dtype, kinds)
            found = cache[dtype] = (("dtype", _compute_dtype(dtype, mode)),)
        return found
    return cache, params


# The names defined through _unary/_binary (the module's __all__ is built from it).
_TABLE_FUNCTIONS: list[str] = []
#: The lowering rule of each of them, by name (the host tier's registry looks rules up here).
RULES: dict[str, Callable] = {}


def _named(function: Callable, name: str, doc: str) -> Callable:
    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    _TABLE_FUNCTIONS.append(name)
    return function


#: Unary functions that may give their operand's buffer to the result (``_donation``).
DONATING_UNARY: dict[str, Callable[[Array], Array]] = {}


def _unary(name: str, rule: Callable, kinds: Any, mode: str, doc: str) -> Callable[[Any], Array]:
    cache, params = _params_for(name, kinds, mode)
    cached = cache.get

    def function(x: Any, /) -> Array:
        if type(x) is not Array:
            x = check_array(x)
        elif _getrefcount(x) <= FUNCTION_REFS and x._aval not in SMALL_AVALS and temporary_argument(x):
            return donating(x)  # only this call holds x (``exp(a + b)``), and it is large
        dtype = x._aval[1]
        if len(x._aval[0]) < 2:  # (what run_elementwise does with it, without its frame)
            return run(rule, cached(dtype) or params(dtype), (x,), x._device)[0]
        return run_elementwise(rule, cached(dtype) or params(dtype), (x,), x._device)

    def donating(x: Array) -> Array:
        p = params(x._aval[1])
        # Only where the result has x's dtype (a boolean or real result cannot take the buffer).
        same = mode in (_SAME, _TO_FLOAT) and p[0][1] == x._aval[1]
        return run_elementwise(rule, p, (x,), x._device, donate=(0,) if same else ())

    DONATING_UNARY[name] = donating
    RULES[name] = rule
    return _named(function, name, doc)


#: Binary functions that may give operand ``k``'s buffer to the result (``_donation``):
#: each is one program whose output has its operands' broadcast shape.  Not ``matmul``:
#: XLA:CPU computes a product into scratch memory of the output's size and copies it into
#: a donated buffer (``temp_size_in_bytes`` = output size), so donating saves no memory.
DONATING: dict[str, Callable[[Any, Any, int], Array]] = {}


def _binary(name: str, rule: Callable, kinds: Any, mode: str, doc: str) -> Callable[[Any, Any], Array]:
    cache, params = _params_for(name, kinds, mode)
    cached = cache.get

    def function(x1: Any, x2: Any, /) -> Array:
        a, b, dtype, device = binary_operands(x1, x2)
        if len(a._aval[0]) < 2 and len(b._aval[0]) < 2:  # (what run_elementwise does with them)
            return run(rule, cached(dtype) or params(dtype), (a, b), device)[0]
        return run_elementwise(rule, cached(dtype) or params(dtype), (a, b), device)

    def donating(x1: Any, x2: Any, k: int) -> Array:
        a, b, dtype, device = binary_operands(x1, x2)
        # Only an operand passed through unconverted, and not also the other operand.
        ok = a is not b and (a is x1 if k == 0 else b is x2)
        return run(rule, params(dtype), (a, b), device, donate=(k,) if ok else ())[0]

    DONATING[name] = donating
    RULES[name] = rule
    return _named(function, name, doc)


# One line per function: name, rule, accepted kinds, dtype mode, docstring.
abs = _unary("abs", R.abs_, _NUMERIC, _SAME, "Absolute value (the magnitude, as a real dtype, for complex input).")
acos = _unary("acos", R.chlo("acos"), _ANY, _TO_FLOAT, "Inverse cosine.")
acosh = _unary("acosh", R.chlo("acosh"), _ANY, _TO_FLOAT, "Inverse hyperbolic cosine.")
asin = _unary("asin", R.chlo("asin"), _ANY, _TO_FLOAT, "Inverse sine.")
asinh = _unary("asinh", R.chlo("asinh"), _ANY, _TO_FLOAT, "Inverse hyperbolic sine.")
atan = _unary("atan", R.chlo("atan"), _ANY, _TO_FLOAT, "Inverse tangent.")
atanh = _unary("atanh", R.atanh(), _ANY, _TO_FLOAT, "Inverse hyperbolic tangent.")
bitwise_invert = _unary("bitwise_invert", R.not_, _INT_BOOL, _SAME, "Bitwise NOT (logical NOT for booleans).")
ceil = _unary("ceil", R.rounding("ceil"), _REAL, _SAME, "Smallest integer-valued number not below x.")
conj = _unary("conj", R.conj, _NUMERIC, _SAME, "Complex conjugate (the input itself for real dtypes).")
cos = _unary("cos", R.simple("cosine"), _ANY, _TO_FLOAT, "Cosine.")
cosh = _unary("cosh", R.chlo("cosh"), _ANY, _TO_FLOAT, "Hyperbolic cosine.")
exp = _unary("exp", R.simple("exponential"), _ANY, _TO_FLOAT, "Exponential.")
expm1 = _unary("expm1", R.simple("exponential_minus_one"), _ANY, _TO_FLOAT, "exp(x) - 1, accurate near zero.")
floor = _unary("floor", R.rounding("floor"), _REAL, _SAME, "Largest integer-valued number not above x.")
imag = _unary("imag", R.imag, _NUMERIC, _TO_REAL, "Imaginary part (zeros for real input).")
isfinite = _unary("isfinite", R.isfinite, _NUMERIC, _TO_BOOL, "Whether x is finite (neither infinite nor NaN).")
isinf = _unary("isinf", R.isinf, _NUMERIC, _TO_BOOL, "Whether x is positive or negative infinity.")
isnan = _unary("isnan", R.isnan, _NUMERIC, _TO_BOOL, "Whether x is NaN.")
log = _unary("log", R.simple("log"), _ANY, _TO_FLOAT, "Natural logarithm.")
log1p = _unary("log1p", R.simple("log_plus_one"), _ANY, _TO_FLOAT, "log(1 + x), accurate near zero.")
log2 = _unary("log2", R.log_base(2.0), _ANY, _TO_FLOAT, "Base-2 logarithm.")
log10 = _unary("log10", R.log_base(10.0), _ANY, _TO_FLOAT, "Base-10 logarithm.")
logical_not = _unary("logical_not", R.logical_not, _ANY, _TO_BOOL, "Logical NOT.")
negative = _unary("negative", R.simple("negate"), _NUMERIC, _SAME, "Numerical negative, -x.")
real = _unary("real", R.real, _NUMERIC, _TO_REAL, "Real part (the input for real dtypes).")
reciprocal = _unary("reciprocal", R.reciprocal, _ANY, _TO_FLOAT, "1 / x.")
round = _unary("round", R.round_, _NUMERIC, _SAME, "Round to the nearest integer, halves to even.")
sign = _unary("sign", R.sign, _NUMERIC, _SAME, "Sign of x (x / |x| for complex, 0 at 0).")
signbit = _unary("signbit", R.signbit, _REAL, _TO_BOOL, "Whether the sign bit is set (true for -0.0 and negative NaN).")
sin = _unary("sin", R.simple("sine"), _ANY, _TO_FLOAT, "Sine.")
sinh = _unary("sinh", R.chlo("sinh"), _ANY, _TO_FLOAT, "Hyperbolic sine.")
square = _unary("square", R.square, _NUMERIC, _SAME, "x * x.")
sqrt = _unary("sqrt", R.simple("sqrt"), _ANY, _TO_FLOAT, "Square root.")
tan = _unary("tan", R.chlo("tan"), _ANY, _TO_FLOAT, "Tangent.")
tanh = _unary("tanh", R.simple("tanh"), _ANY, _TO_FLOAT, "Hyperbolic tangent.")
trunc = _unary("trunc", R.rounding("trunc"), _REAL, _SAME, "Round towards zero.")
add = _binary("add", R.arith("add"), _NUMERIC, _SAME, "Element-wise sum x1 + x2.")
atan2 = _binary("atan2", R.arith("atan2"), _REAL, _TO_FLOAT, "Angle of the point (x2, x1), quadrant-aware.")
bitwise_and = _binary("bitwise_and", R.arith("and"), _INT_BOOL, _SAME, "Bitwise AND.")
bitwise_left_shift = _binary("bitwise_left_shift", R.shift_left, _INTEGRAL, _SAME, "x1 << x2 (0 once the shift reaches the bit width).")
bitwise_or = _binary("bitwise_or", R.arith("or"), _INT_BOOL, _SAME, "Bitwise OR.")
bitwise_right_shift = _binary("bitwise_right_shift", R.shift_right, _INTEGRAL, _SAME, "x1 >> x2 (arithmetic for signed integers).")
bitwise_xor = _binary("bitwise_xor", R.arith("xor"), _INT_BOOL, _SAME, "Bitwise XOR.")
copysign = _binary("copysign", R.copysign, _REAL, _TO_FLOAT, "x1 with the sign of x2.")
divide = _binary("divide", R.arith("divide"), _ANY, _TO_FLOAT, "True division x1 / x2.")
equal = _binary("equal", R.compare("EQ"), _ANY, _SAME, "x1 == x2.")
floor_divide = _binary("floor_divide", R.floor_divide, _REAL, _SAME, "floor(x1 / x2); integer division by zero gives 0.")
greater = _binary("greater", R.compare("GT"), ("bool",) + _REAL, _SAME, "x1 > x2.")
greater_equal = _binary("greater_equal", R.compare("GE"), ("bool",) + _REAL, _SAME, "x1 >= x2.")
hypot = _binary("hypot", R.hypot, _REAL, _TO_FLOAT, "sqrt(x1**2 + x2**2) without overflow or underflow.")
less = _binary("less", R.compare("LT"), ("bool",) + _REAL, _SAME, "x1 < x2.")
less_equal = _binary("less_equal", R.compare("LE"), ("bool",) + _REAL, _SAME, "x1 <= x2.")
logaddexp = _binary("logaddexp", R.logaddexp, _REAL, _TO_FLOAT, "log(exp(x1) + exp(x2)) without overflow.")
logical_and = _binary("logical_and", R.logical("and"), _ANY, _TO_BOOL, "Logical AND.")
logical_or = _binary("logical_or", R.logical("or"), _ANY, _TO_BOOL, "Logical OR.")
logical_xor = _binary("logical_xor", R.logical("xor"), _ANY, _TO_BOOL, "Logical XOR.")
maximum = _binary("maximum", R.extremum("GT"), _REAL, _SAME, "Element-wise maximum; NaN if either is NaN.")
minimum = _binary("minimum", R.extremum("LT"), _REAL, _SAME, "Element-wise minimum; NaN if either is NaN.")
multiply = _binary("multiply", R.multiply, _NUMERIC, _SAME, "Element-wise product x1 * x2.")
nextafter = _binary("nextafter", R.nextafter, "real floating", _SAME, "The next representable value after x1 towards x2.")
not_equal = _binary("not_equal", R.compare("NE"), _ANY, _SAME, "x1 != x2.")
_power = _binary("pow", R.power, _NUMERIC, _SAME, "x1 raised to x2.")
remainder = _binary("remainder", R.remainder, _REAL, _SAME, "Remainder with the sign of x2 (Python's %); by 0: 0 for integers.")
subtract = _binary("subtract", R.arith("subtract"), _NUMERIC, _SAME, "Element-wise difference x1 - x2.")


def _squares(x1: Any, x2: Any) -> bool:
    """Whether ``x1 ** x2`` is a real or integer Array to the Python scalar 2, which numpy computes
    as ``square(x1)`` (``x * x``, correctly rounded; the device's float32 ``power`` is off in the
    last bit for about 1 in 1,400 values).  ``square`` runs on the host at first sightings (the
    host tier), where a ``power`` program would compile for every new shape."""
    if type(x1) is not Array:
        return False
    kind = x1._aval[1].kind  # (a float 2.0 promotes an integer array to float: not a square then)
    return ((type(x2) is int and kind in "iuf") or (type(x2) is float and kind == "f")) and x2 == 2


_donating_power = DONATING["pow"]


def pow(x1: Any, x2: Any, /) -> Array:  # noqa: A001  (the standard's name)
    if _squares(x1, x2):
        return square(x1)
    return _power(x1, x2)


def _donating_pow(x1: Any, x2: Any, k: int) -> Array:
    if _squares(x1, x2):
        return DONATING_UNARY["square"](x1) if k == 0 else square(x1)
    return _donating_power(x1, x2, k)


pow.__doc__ = _power.__doc__
DONATING["pow"] = _donating_pow


def positive(x: Any, /) -> Array:
    """Numerical positive, +x (the array itself)."""
    x = check_array(x)
    _check("positive", x.dtype, _NUMERIC)
    return x


def clip(x: Any, /, min: Any = None, max: Any = None) -> Array:
    """``x`` limited to ``[min, max]`` (scalars or arrays; None leaves a side open)."""
    x = check_array(x)
    _check("clip", x.dtype, _REAL)
    bounds = []
    for argname, bound in (("min", min), ("max", max)):
        if bound is None:
            continue
        if isinstance(bound, Array):
            bounds.append((argname, bound if bound.dtype == x.dtype else _astype(bound, x.dtype)))
        elif isinstance(bound, (int, float)) and not isinstance(bound, bool):
            if _dtypes.is_integer(x.dtype) and isinstance(bound, float):
                raise TypeError(f"{argname}={bound!r} is a float but x is {x.dtype}")
            if _dtypes.is_integer(x.dtype):
                info = np.iinfo(x.dtype)
                bound = info.min if bound < info.min else info.max if bound > info.max else bound
            bounds.append((argname, scalar_array(bound, x.dtype, x._device)))
        else:
            raise TypeError(f"{argname} must be an array, a real number or None, got {type(bound).__name__}")
    if not bounds:
        return x
    which = tuple(name for name, _ in bounds)
    device, operands = on_one_device(x, *[v for _, v in bounds])
    return run_elementwise(R.clip, (("which", which),), operands, device)


def _astype(x: Array, dtype: np.dtype) -> Array:
    from .data_types import astype
    return astype(x, dtype)


__all__ = sorted([*_TABLE_FUNCTIONS, "positive", "clip"])
