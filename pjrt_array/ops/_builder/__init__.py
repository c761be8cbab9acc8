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
``b.if_``, ``b.case``); a caller that must record a body before it knows the
op's operands (a tracer discovering captured values) records it with
``with b.block(avals) as blk: ...; blk.results = [...]`` and passes ``blk``.

Rules never assume they are alone in a module: names come from the builder's
counter, so the same rules serve one-op programs (:func:`build_module`) and
traced programs that put many ops into one function.  Composite helpers shared
by several rules live in ``ops/_lower.py``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from ._core import Block, RegionBody
from ._elementwise import ElementwiseOps
from ._shape import ShapeOps
from ._structured import StructuredOps
from ._types import Aval, LoweringError, Value, element_type, tensor_type

__all__ = ["Value", "Aval", "Block", "Builder", "LoweringError", "RegionBody", "Rule", "build_module", "module_text",
           "tensor_type", "element_type"]

Rule = Callable[..., Any]


class Builder(ElementwiseOps, ShapeOps, StructuredOps):
    """Collects the body lines of one function; one typed method per op."""


def module_text(b: Builder, args: Sequence[Value], results: Sequence[Value], *, name: str = "main",
                aliases: dict[int, int] | None = None) -> str:
    """The module of ``func.func public @name(args) -> results`` with ``b``'s lines as its body.

    ``aliases`` maps an argument index to the result index its buffer may be
    reused for (PJRT input/output aliasing of donated arguments).
    """
    aliases = aliases or {}
    sig = ", ".join(f"{a.name}: {a.type}" + (f" {{tf.aliasing_output = {aliases[i]} : i32}}" if i in aliases else "")
                    for i, a in enumerate(args))
    rtypes = ", ".join(r.type for r in results)
    body = "".join(f"    {ln}\n" for ln in b.lines)
    ret = f"    return {', '.join(r.name for r in results)} : {rtypes}\n" if results else "    return\n"
    return f"module {{\n  func.func public @{name}({sig}) -> ({rtypes}) {{\n{body}{ret}  }}\n}}\n"


def build_module(rule: Rule, params: dict[str, Any], avals: Sequence[Aval],
                 name: str = "main") -> tuple[str, list[Aval]]:
    """Wrap one lowering rule into a module; returns (text, output avals)."""
    b = Builder()
    args = [Value(f"%arg{i}", s, d) for i, (s, d) in enumerate(avals)]
    out = b.apply(rule, *args, **params)
    results = list(out) if isinstance(out, (tuple, list)) else [out]
    return module_text(b, args, results, name=name), [r.aval for r in results]
