"""StableHLO text for whole traced programs: ``@main``, ``while``, ``if``.

Everything jit and the loop primitives write *around* the lowering rules lives
here, so that moving to another builder touches one module.  Region bodies are
recorded by :func:`collect`, which points the builder's line list elsewhere
while a Python function runs; names keep coming from the builder's counter, so
they stay unique across the whole function.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import numpy as np

from .ops._builder import Builder, Value

__all__ = ["collect", "block_argument", "main_module", "while_op", "if_op"]


@contextlib.contextmanager
def collect(b: Builder) -> Iterator[list[str]]:
    """Lines emitted inside the ``with`` go to the yielded list instead of the current body."""
    saved, b.lines = b.lines, []
    lines = b.lines
    try:
        yield lines
    finally:
        b.lines = saved


def block_argument(b: Builder, shape: tuple[int, ...], dtype: np.dtype) -> Value:
    """A fresh name for a function or block argument."""
    return Value(b.fresh(), shape, dtype)


def _types(values: Sequence[Value]) -> str:
    return ", ".join(v.type for v in values)


def _region(args: Sequence[Value], lines: Sequence[str], results: Sequence[Value]) -> str:
    head = "  ^bb0(" + ", ".join(f"{a.name}: {a.type}" for a in args) + "):\n" if args else ""
    ret = (f"    stablehlo.return {', '.join(r.name for r in results)} : {_types(results)}\n" if results
           else "    stablehlo.return\n")
    return "{\n" + head + "".join(f"    {ln}\n" for ln in lines) + ret + "  }"


def main_module(b: Builder, params: Sequence[Value], results: Sequence[Value],
                aliases: dict[int, int] | None = None) -> str:
    """The module of ``func.func public @main(params) -> results`` with the builder's body.

    ``aliases`` maps a parameter index to the output index its buffer may be
    reused for (PJRT input/output aliasing of donated arguments).
    """
    aliases = aliases or {}
    sig = ", ".join(f"{p.name}: {p.type}" + (f" {{tf.aliasing_output = {aliases[i]} : i32}}" if i in aliases else "")
                    for i, p in enumerate(params))
    rtypes = _types(results)
    body = "".join(f"    {ln}\n" for ln in b.lines)
    ret = f"    return {', '.join(r.name for r in results)} : {rtypes}\n" if results else "    return\n"
    return ("module {\n" + "".join(b.functions.values())
            + f"  func.func public @main({sig}) -> ({rtypes}) {{\n{body}{ret}  }}\n}}\n")


def _multi(b: Builder, op: str, operands: Sequence[Value], regions: Sequence[str],
           in_types: str, results: Sequence[Value]) -> list[Value]:
    text = (f'"{op}"({", ".join(v.name for v in operands)}) ({", ".join(regions)}) : '
            f"({in_types}) -> ({_types(results)})")
    if not results:
        b.line(text)
        return []
    return b.ops(text, [(r.shape, r.dtype) for r in results])


def while_op(b: Builder, init: Sequence[Value],
             cond: tuple[Sequence[Value], Sequence[str], Value],
             body: tuple[Sequence[Value], Sequence[str], Sequence[Value]]) -> list[Value]:
    """``stablehlo.while`` over carries ``init``; each region is (block args, lines, results)."""
    regions = [_region(cond[0], cond[1], [cond[2]]), _region(*body)]
    return _multi(b, "stablehlo.while", init, regions, _types(init), init)


def if_op(b: Builder, pred: Value, true: tuple[Sequence[str], Sequence[Value]],
          false: tuple[Sequence[str], Sequence[Value]]) -> list[Value]:
    """``stablehlo.if``: each branch is (lines, results); the branches see the enclosing values."""
    regions = [_region((), *true), _region((), *false)]
    return _multi(b, "stablehlo.if", [pred], regions, pred.type, true[1])
