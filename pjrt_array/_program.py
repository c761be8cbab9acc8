"""The traced program's structure around the lowering rules: ``@main``, ``while``, ``if``.

jit and the loop primitives record region bodies before they know the op's
operands (a traced body discovers the outer values it captures), so they use
the builder's recorded blocks: :func:`collect` points the builder's lines at a
block while a Python function runs; names keep coming from the builder's
counter, so they stay unique across the whole function.  All op text is the
builder's (``ops/_builder``).
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import numpy as np

from .ops._builder import Block, Builder, Value, module_text

__all__ = ["collect", "block_argument", "main_module", "while_op", "if_op"]


@contextlib.contextmanager
def collect(b: Builder) -> Iterator[list[str]]:
    """Lines emitted inside the ``with`` go to the yielded list instead of the current body."""
    with b.block() as blk:
        yield blk.lines


def block_argument(b: Builder, shape: tuple[int, ...], dtype: np.dtype) -> Value:
    """A fresh name for a function or block argument."""
    return b.argument(shape, dtype)


def main_module(b: Builder, params: Sequence[Value], results: Sequence[Value],
                aliases: dict[int, int] | None = None) -> str:
    """The module of ``func.func public @main(params) -> results`` with the builder's body.

    ``aliases`` maps a parameter index to the output index its buffer may be
    reused for (PJRT input/output aliasing of donated arguments).
    """
    return module_text(b, params, results, aliases=aliases)


def while_op(b: Builder, init: Sequence[Value],
             cond: tuple[Sequence[Value], Sequence[str], Value],
             body: tuple[Sequence[Value], Sequence[str], Sequence[Value]]) -> list[Value]:
    """``stablehlo.while`` over carries ``init``; each region is (block args, lines, results)."""
    return b.while_(init, Block(cond[0], cond[1], [cond[2]]), Block(*body))


def if_op(b: Builder, pred: Value, true: tuple[Sequence[str], Sequence[Value]],
          false: tuple[Sequence[str], Sequence[Value]]) -> list[Value]:
    """``stablehlo.if``: each branch is (lines, results); the branches see the enclosing values."""
    return b.if_(pred, Block((), *true), Block((), *false))
