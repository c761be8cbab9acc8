"""The builder's core: SSA names, emitted lines, regions, checks and the error naming the rule."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, NoReturn, Sequence, Union

import numpy as np

from ._types import Aval, LoweringError, Value, kind_of, tensor_type

__all__ = ["Core", "Block", "RegionBody"]


class Block:
    """A region body recorded ahead of its op (see :meth:`Core.block`).

    ``args`` may grow while the body is recorded (e.g. values a tracer captures);
    ``lines`` fills as ops are emitted inside ``b.block``; ``results`` is set by
    the recorder before the block is handed to an op.
    """

    __slots__ = ("args", "lines", "results")

    def __init__(self, args: Sequence[Value] = (), lines: Sequence[str] = (), results: Sequence[Value] = ()) -> None:
        self.args = list(args)
        self.lines = list(lines)
        self.results = list(results)


RegionBody = Union[Callable[[Any, list[Value]], Sequence[Value]], Block]

# Which dtype classes each class name accepts (see ``kind_of``).
KINDS = {
    "bool": "b", "integer": "iu", "signed": "i", "intbool": "biu", "float": "f", "inexact": "fc",
    "complex": "c", "numeric": "iufc", "signed_numeric": "ifc", "any": "biufc", "real": "biuf",
}


class Core:
    """Lines of one function body, a name counter and the name of the rule being lowered."""

    def __init__(self, prefix: str = "v") -> None:
        self.lines: list[str] = []
        self.rule = "<rule>"
        self._count = 0
        self._prefix = prefix
        #: The body has a (value, index) reduction (argmin/argmax): the compile policy reads it.
        self.has_index_reduction = False
        #: The body has a dot whose contracting extent fills 256-bit vectors but not 512-bit ones
        #: (a multiple of 4 float64 but not of 8): the compile policy reads it.
        self.has_narrow_dot = False
        #: Whether ``dot_general`` reads a transposed operand from the transpose's own operand
        #: (``transposed_source``); off where results must match op-by-op runs bit for bit (fusion).
        self.fold_transposes = False
        # Transposes by name: (operand, permutation, the line list they were emitted into).
        self._transposes: dict[str, tuple[Value, tuple[int, ...], list[str]]] = {}
        # Names of products, and of values that only move or negate one (what a later add could
        # contract with into a fused multiply-add): ``is_product``.
        self._products: set[str] = set()

    # -- rules ---------------------------------------------------------------------------------

    def apply(self, rule: Callable[..., Any], *args: Value, **params: Any) -> Any:
        """Lower ``rule(self, *args, **params)``; errors raised inside name the rule."""
        outer, self.rule = self.rule, getattr(rule, "__name__", repr(rule)).lstrip("_")
        try:
            out = rule(self, *args, **params)
            for r in out if isinstance(out, (tuple, list)) else (out,):
                self._check_value("return", r)
            return out
        finally:
            self.rule = outer

    def is_product(self, v: Value) -> bool:
        """Whether ``v`` is a multiply's result, or one moved (reshaped, broadcast, transposed,
        sliced, joined) or negated since: fusion keeps such values from contracting into a fused
        multiply-add with a later op (``_fusion._Rounding``)."""
        return v.name in self._products

    def _carry(self, out: Value, *inputs: Value) -> Value:
        """``out``, a product where one of ``inputs`` is (an op that moves or negates values)."""
        products = self._products
        if products and any(v.name in products for v in inputs):
            products.add(out.name)
        return out

    def transposed_source(self, v: Value) -> tuple[Value, tuple[int, ...]] | None:
        """``(x, perm)`` where ``v`` is ``transpose(x, perm)`` emitted into the current block (a
        value of an enclosing block may reach a region as another name), else None."""
        found = self._transposes.get(v.name) if self.fold_transposes else None
        if found is None or found[2] is not self.lines:
            return None
        return found[0], found[1]

    def fail(self, op: str, message: str) -> NoReturn:
        """Raise :class:`LoweringError` for ``op`` in the rule being lowered."""
        raise LoweringError(f"while lowering {self.rule!r}: {op}: {message}")

    # -- emission (only the op methods call these) ------------------------------------------------

    def fresh(self) -> str:
        """A new SSA name."""
        self._count += 1
        return f"%{self._prefix}{self._count}"

    def _emit(self, text: str, shape: Sequence[int], dtype: np.dtype) -> Value:
        name = self.fresh()
        self.lines.append(f"{name} = {text}")
        return Value(name, tuple(shape), dtype)

    def _emit_multi(self, text: str, results: Sequence[Aval]) -> list[Value]:
        if not results:
            self.lines.append(text)
            return []
        if len(results) == 1:
            return [self._emit(text, *results[0])]
        name = self.fresh()
        self.lines.append(f"{name}:{len(results)} = {text}")
        return [Value(f"{name}#{i}", tuple(s), d) for i, (s, d) in enumerate(results)]

    @contextlib.contextmanager
    def block(self, params: Sequence[Aval] = ()) -> Iterator[Block]:
        """Record a region body: ops emitted inside the ``with`` go to the yielded block.

        Ops with regions take such a block in place of a ``body(b, args)`` callable,
        for callers that must record a body before they know the op's operands.
        """
        blk = Block([Value(self.fresh(), tuple(s), np.dtype(d)) for s, d in params])
        saved, self.lines = self.lines, blk.lines
        try:
            yield blk
        finally:
            self.lines = saved

    def argument(self, shape: Sequence[int], dtype: Any) -> Value:
        """A fresh function or block argument."""
        return Value(self.fresh(), tuple(shape), np.dtype(dtype))

    def _region(self, params: Sequence[Aval], body: RegionBody, op: str,
                expect: Sequence[Aval] | None = None) -> tuple[str, list[Value]]:
        """The text ``{ ^bb0(args): ... stablehlo.return ... }`` of a region and its results.

        The region's block arguments and lines use this builder's name counter,
        so names stay unique in the enclosing function; a region may use values
        defined outside it.  ``expect`` checks the returned avals.
        """
        if isinstance(body, Block):
            blk = body
            want_args = [(tuple(s), np.dtype(d)) for s, d in params]
            if [a.aval for a in blk.args] != want_args:
                self.fail(op, f"region takes {_avals([a.aval for a in blk.args])}, expected {_avals(want_args)}")
        else:
            with self.block(params) as blk:
                blk.results = list(body(self, blk.args))
        results = list(blk.results)
        for r in results:
            self._check_value(op, r)
        if expect is not None:
            got = [r.aval for r in results]
            want = [(tuple(s), np.dtype(d)) for s, d in expect]
            if got != want:
                self.fail(op, f"region returns {_avals(got)}, expected {_avals(want)}")
        ret = (f" {', '.join(r.name for r in results)} : {', '.join(r.type for r in results)}" if results else "")
        head = "  ^bb0(" + ", ".join(f"{a.name}: {a.type}" for a in blk.args) + "):\n" if blk.args else ""
        text = "{\n" + head + "".join(f"    {ln}\n" for ln in blk.lines) + f"    stablehlo.return{ret}\n  }}"
        return text, results

    # -- checks ------------------------------------------------------------------------------------

    def _check_value(self, op: str, v: Any) -> Value:
        if not isinstance(v, Value):
            self.fail(op, f"operand must be a Value, got {type(v).__name__}")
        return v

    def _check_kind(self, op: str, v: Value, kinds: str) -> None:
        if kind_of(v.dtype) not in KINDS[kinds]:
            self.fail(op, f"operand {v.name} has dtype {v.dtype}; {op} needs a {kinds} dtype")

    def _check_same(self, op: str, *vs: Value) -> None:
        """Every operand has the first one's shape and dtype."""
        first = self._check_value(op, vs[0])
        for v in vs[1:]:
            self._check_value(op, v)
            if v.shape != first.shape or v.dtype != first.dtype:
                self.fail(op, f"operand types differ: {first.type} and {v.type}")

    def _check_axes(self, op: str, axes: Sequence[int], ndim: int, what: str = "dimensions") -> tuple[int, ...]:
        axes = tuple(int(a) for a in axes)
        if any(not 0 <= a < ndim for a in axes) or len(set(axes)) != len(axes):
            self.fail(op, f"{what} {list(axes)} must be distinct and in [0, {ndim})")
        return axes

    def _check_scalar_index(self, op: str, v: Value) -> None:
        self._check_value(op, v)
        if v.shape != () or kind_of(v.dtype) not in "iu":
            self.fail(op, f"index {v.name} must be a 0-d integer, got {v.type}")


def _avals(avals: Sequence[Aval]) -> str:
    return "(" + ", ".join(tensor_type(s, d) for s, d in avals) + ")"
