"""Element-wise StableHLO and CHLO ops: one typed method each.

Operands of a binary op must have one shape and one dtype (rules broadcast and
convert first); each op checks the dtype classes it accepts.
"""

from __future__ import annotations

import numpy as np

from ._core import Core
from ._types import COMPLEX_OF, REAL_OF, Value, kind_of, tensor_type

__all__ = ["ElementwiseOps"]

_BOOL = np.dtype(bool)
_DIRECTIONS = ("EQ", "NE", "LT", "LE", "GT", "GE")
_COMPARE_TYPE = {"b": "UNSIGNED", "u": "UNSIGNED", "i": "SIGNED", "f": "FLOAT", "c": "FLOAT"}


class ElementwiseOps(Core):
    """Unary, binary, comparison and selection ops (``stablehlo.*`` and ``chlo.*``)."""

    # -- generic forms -----------------------------------------------------------------------------

    def _unary(self, op: str, x: Value, kinds: str, out: np.dtype | None = None) -> Value:
        self._check_value(op, x)
        self._check_kind(op, x, kinds)
        if out is None or out == x.dtype:
            return self._emit(f"stablehlo.{op} {x.name} : {x.type}", x.shape, x.dtype)
        return self._emit(f"stablehlo.{op} {x.name} : ({x.type}) -> {tensor_type(x.shape, out)}", x.shape, out)

    def _binary(self, op: str, x: Value, y: Value, kinds: str) -> Value:
        self._check_same(op, x, y)
        self._check_kind(op, x, kinds)
        return self._emit(f"stablehlo.{op} {x.name}, {y.name} : {x.type}", x.shape, x.dtype)

    def _chlo(self, op: str, xs: tuple[Value, ...], kinds: str, out: np.dtype | None = None) -> Value:
        self._check_same(op, *xs)
        self._check_kind(op, xs[0], kinds)
        x = xs[0]
        out = x.dtype if out is None else out
        types = ", ".join(v.type for v in xs)
        return self._emit(f'"chlo.{op}"({", ".join(v.name for v in xs)}) : ({types}) -> '
                          f"{tensor_type(x.shape, out)}", x.shape, out)

    # -- unary -------------------------------------------------------------------------------------

    def abs(self, x: Value) -> Value:
        """``|x|``; complex input gives its real dtype."""
        return self._unary("abs", x, "signed_numeric", REAL_OF.get(x.dtype))

    def negate(self, x: Value) -> Value:
        return self._carry(self._unary("negate", x, "numeric"), x)

    def not_(self, x: Value) -> Value:
        """Bitwise (logical for booleans) NOT."""
        return self._unary("not", x, "intbool")

    def sign(self, x: Value) -> Value:
        return self._unary("sign", x, "signed_numeric")

    def sqrt(self, x: Value) -> Value:
        return self._unary("sqrt", x, "inexact")

    def rsqrt(self, x: Value) -> Value:
        return self._unary("rsqrt", x, "inexact")

    def exponential(self, x: Value) -> Value:
        return self._unary("exponential", x, "inexact")

    def exponential_minus_one(self, x: Value) -> Value:
        return self._unary("exponential_minus_one", x, "inexact")

    def log(self, x: Value) -> Value:
        return self._unary("log", x, "inexact")

    def log_plus_one(self, x: Value) -> Value:
        return self._unary("log_plus_one", x, "inexact")

    def logistic(self, x: Value) -> Value:
        return self._unary("logistic", x, "inexact")

    def cosine(self, x: Value) -> Value:
        return self._unary("cosine", x, "inexact")

    def sine(self, x: Value) -> Value:
        return self._unary("sine", x, "inexact")

    def tanh(self, x: Value) -> Value:
        return self._unary("tanh", x, "inexact")

    def floor(self, x: Value) -> Value:
        return self._unary("floor", x, "float")

    def ceil(self, x: Value) -> Value:
        return self._unary("ceil", x, "float")

    def round_nearest_even(self, x: Value) -> Value:
        return self._unary("round_nearest_even", x, "float")

    def is_finite(self, x: Value) -> Value:
        return self._unary("is_finite", x, "float", _BOOL)

    def popcnt(self, x: Value) -> Value:
        return self._unary("popcnt", x, "integer")

    def real(self, x: Value) -> Value:
        """Real part (a real dtype); the operand itself for real floats."""
        return self._unary("real", x, "inexact", REAL_OF.get(x.dtype))

    def imag(self, x: Value) -> Value:
        """Imaginary part (a real dtype); zeros for real floats."""
        return self._unary("imag", x, "inexact", REAL_OF.get(x.dtype))

    def unary(self, op: str, x: Value) -> Value:
        """The same-type unary op named ``op`` (for rules parameterized by the op's name)."""
        method = _UNARY_BY_NAME.get(op)
        if method is None:
            self.fail(op, "not a same-type unary op of the builder")
        return method(self, x)

    # -- binary ------------------------------------------------------------------------------------

    def add(self, x: Value, y: Value) -> Value:
        return self._binary("add", x, y, "any")

    def subtract(self, x: Value, y: Value) -> Value:
        return self._binary("subtract", x, y, "numeric")

    def multiply(self, x: Value, y: Value) -> Value:
        out = self._binary("multiply", x, y, "any")
        self._products.add(out.name)
        return out

    def divide(self, x: Value, y: Value) -> Value:
        return self._binary("divide", x, y, "numeric")

    def remainder(self, x: Value, y: Value) -> Value:
        return self._binary("remainder", x, y, "numeric")

    def power(self, x: Value, y: Value) -> Value:
        return self._binary("power", x, y, "numeric")

    def atan2(self, x: Value, y: Value) -> Value:
        return self._binary("atan2", x, y, "inexact")

    def maximum(self, x: Value, y: Value) -> Value:
        return self._binary("maximum", x, y, "any")

    def minimum(self, x: Value, y: Value) -> Value:
        return self._binary("minimum", x, y, "any")

    def and_(self, x: Value, y: Value) -> Value:
        return self._binary("and", x, y, "intbool")

    def or_(self, x: Value, y: Value) -> Value:
        return self._binary("or", x, y, "intbool")

    def xor(self, x: Value, y: Value) -> Value:
        return self._binary("xor", x, y, "intbool")

    def shift_left(self, x: Value, y: Value) -> Value:
        return self._binary("shift_left", x, y, "integer")

    def shift_right_arithmetic(self, x: Value, y: Value) -> Value:
        return self._binary("shift_right_arithmetic", x, y, "integer")

    def shift_right_logical(self, x: Value, y: Value) -> Value:
        return self._binary("shift_right_logical", x, y, "integer")

    def binary(self, op: str, x: Value, y: Value) -> Value:
        """The same-type binary op named ``op`` (for rules parameterized by the op's name)."""
        method = _BINARY_BY_NAME.get(op)
        if method is None:
            self.fail(op, "not a same-type binary op of the builder")
        return method(self, x, y)

    def complex(self, re: Value, im: Value) -> Value:
        """The complex number ``re + i·im`` from two float32 or float64 operands."""
        self._check_same("complex", re, im)
        out = COMPLEX_OF.get(re.dtype)
        if out is None:
            self.fail("complex", f"parts must be float32 or float64, got {re.dtype}")
        ctype = tensor_type(re.shape, out)
        return self._emit(f"stablehlo.complex {re.name}, {im.name} : {ctype}", re.shape, out)

    # -- comparison and selection ------------------------------------------------------------------

    def compare(self, x: Value, y: Value, direction: str) -> Value:
        """``x <direction> y`` (EQ, NE, LT, LE, GT, GE) as booleans; complex only EQ/NE."""
        self._check_same("compare", x, y)
        if direction not in _DIRECTIONS:
            self.fail("compare", f"direction must be one of {_DIRECTIONS}, got {direction!r}")
        kind = kind_of(x.dtype)
        if kind == "c" and direction not in ("EQ", "NE"):
            self.fail("compare", f"complex operands have no order ({direction})")
        return self._emit(f"stablehlo.compare {direction}, {x.name}, {y.name}, {_COMPARE_TYPE[kind]} : "
                          f"({x.type}, {y.type}) -> {tensor_type(x.shape, _BOOL)}", x.shape, _BOOL)

    def select(self, pred: Value, on_true: Value, on_false: Value) -> Value:
        """``on_true`` where ``pred`` (a boolean of their shape, or 0-d), else ``on_false``."""
        self._check_same("select", on_true, on_false)
        self._check_value("select", pred)
        if pred.dtype != _BOOL or pred.shape not in ((), on_true.shape):
            self.fail("select", f"predicate {pred.type} must be i1 of shape () or {on_true.shape}")
        return self._emit(f"stablehlo.select {pred.name}, {on_true.name}, {on_false.name} : "
                          f"{pred.type}, {on_true.type}", on_true.shape, on_true.dtype)

    # -- CHLO ------------------------------------------------------------------------------------

    def chlo(self, op: str, x: Value) -> Value:
        """A same-type unary CHLO op (acos, acosh, asin, asinh, atan, atanh, cosh, sinh, tan, ...)."""
        if op not in _CHLO_UNARY:
            self.fail(f"chlo.{op}", f"not one of the unary CHLO ops {sorted(_CHLO_UNARY)}")
        return self._chlo(op, (x,), "inexact")

    def is_inf(self, x: Value) -> Value:
        """``chlo.is_inf``: whether ``x`` is ±inf."""
        return self._chlo("is_inf", (x,), "float", _BOOL)

    def next_after(self, x: Value, y: Value) -> Value:
        """``chlo.next_after``: the next representable value after ``x`` towards ``y``."""
        return self._chlo("next_after", (x, y), "float")


_CHLO_UNARY = frozenset(("acos", "acosh", "asin", "asinh", "atan", "atanh", "cosh", "sinh", "tan", "erf",
                         "erfc", "erf_inv", "lgamma", "digamma"))
_UNARY_BY_NAME = {name: getattr(ElementwiseOps, name) for name in (
    "negate", "sign", "sqrt", "rsqrt", "exponential", "exponential_minus_one", "log", "log_plus_one", "logistic",
    "cosine", "sine", "tanh", "floor", "ceil", "round_nearest_even", "popcnt")}
_BINARY_BY_NAME = {name.rstrip("_"): getattr(ElementwiseOps, name) for name in (
    "add", "subtract", "multiply", "divide", "remainder", "power", "atan2", "maximum", "minimum", "and_", "or_",
    "xor", "shift_left", "shift_right_arithmetic", "shift_right_logical")}
