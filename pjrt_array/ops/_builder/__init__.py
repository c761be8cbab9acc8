"""The typed StableHLO builder: the one place where op text is written.

How to write a lowering rule
----------------------------
A rule is a function ``rule(b, *args, **params) -> Value | tuple[Value, ...]``.
It receives :class:`Value` operands (an SSA name with its shape and dtype) and
static keyword parameters, calls one typed method of the :class:`Builder` ``b``
per StableHLO/CHLO op, and returns its results::

    def _hypot_rule(b: Builder, x: Value, y: Value) -> Value:
        return b.sqrt(b.add(b.multiply(x, x), b.multiply(y, y)))

Each method checks its operands (shapes, dtypes, static dimensions) and infers
the result type, so a malformed program raises :class:`LoweringError` (a
``TypeError``) naming the rule and the op, in Python, before a plugin sees it.
Identity ops (a convert to the same dtype, a reshape to the same shape, a full
slice, ...) return their operand and emit nothing.

The method names follow the StableHLO spec (``b.compare(x, y, "LT")``,
``b.broadcast_in_dim(x, shape, dims)``, ``b.dot_general(...)``); Python keywords
get a trailing underscore (``b.and_``, ``b.or_``, ``b.not_``, ``b.while_``,
``b.if_``); CHLO ops are ``b.chlo("acos", x)``, ``b.is_inf``, ``b.next_after``.
Ops with regions take Python callables ``body(b, args) -> results``, traced
into the same builder (``b.reduce``, ``b.sort``, ``b.scatter``, ``b.while_``,
``b.if_``, ``b.case``).

Rules never assume they are alone in a module: names come from the builder's
counter, so the same rules serve one-op programs (:func:`build_module`) and
traced programs that put many ops into one function.  Composite helpers shared
by several rules live in ``ops/_lower.py``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from ._core import RegionBody
from ._elementwise import ElementwiseOps
from ._shape import ShapeOps
from ._structured import StructuredOps
from ._types import Aval, LoweringError, Value, element_type, tensor_type

__all__ = ["Value", "Aval", "Builder", "LoweringError", "RegionBody", "Rule", "build_module", "tensor_type",
           "element_type"]

Rule = Callable[..., Any]


class Builder(ElementwiseOps, ShapeOps, StructuredOps):
    """Collects the body lines of one function; one typed method per op."""


def build_module(rule: Rule, params: dict[str, Any], avals: Sequence[Aval],
                 name: str = "main") -> tuple[str, list[Aval]]:
    """Wrap one lowering rule into a module; returns (text, output avals)."""
    b = Builder()
    args = [Value(f"%arg{i}", s, d) for i, (s, d) in enumerate(avals)]
    out = b.apply(rule, *args, **params)
    results = list(out) if isinstance(out, (tuple, list)) else [out]
    sig = ", ".join(f"{a.name}: {a.type}" for a in args)
    rtypes = ", ".join(r.type for r in results)
    body = "".join(f"    {ln}\n" for ln in b.lines)
    text = (f"module {{\n  func.func public @{name}({sig}) -> ({rtypes}) {{\n{body}"
            f"    return {', '.join(r.name for r in results)} : {rtypes}\n  }}\n}}\n")
    return text, [r.aval for r in results]
