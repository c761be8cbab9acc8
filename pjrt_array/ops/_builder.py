"""The text builder that lowering rules write StableHLO into.

A lowering rule is a function ``rule(b, *args, **params) -> Value | tuple``:
it receives :class:`Value` operands (an SSA name with its shape and dtype)
and static parameters, appends SSA lines to the :class:`Builder` ``b`` and
returns its results.  Rules never assume they are alone in a module: names
come from ``b.fresh()``, and helper functions go through ``b.add_function``.
:func:`build_module` wraps one rule into ``func.func public @main``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["Value", "Builder", "build_module", "tensor_type", "element_type", "Rule"]

_ELEMENT = {
    "bool": "i1", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
    "uint8": "ui8", "uint16": "ui16", "uint32": "ui32", "uint64": "ui64",
    "float16": "f16", "bfloat16": "bf16", "float32": "f32", "float64": "f64",
    "complex64": "complex<f32>", "complex128": "complex<f64>",
}


def element_type(dtype: np.dtype) -> str:
    """The MLIR element type of a dtype, e.g. ``f32``."""
    return _ELEMENT[dtype.name]


def tensor_type(shape: Sequence[int], dtype: np.dtype) -> str:
    """``tensor<2x3xf32>`` for shape (2, 3) and float32."""
    return "tensor<" + "".join(f"{d}x" for d in shape) + _ELEMENT[dtype.name] + ">"


class Value:
    """An SSA value in a program being built: name, shape and dtype."""

    __slots__ = ("name", "shape", "dtype")

    def __init__(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.name = name
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)

    @property
    def type(self) -> str:
        return tensor_type(self.shape, self.dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"Value({self.name}: {self.type})"


Rule = Callable[..., Any]


class Builder:
    """Collects the body lines of one function plus any helper functions."""

    def __init__(self, prefix: str = "v") -> None:
        self.lines: list[str] = []
        self.functions: dict[str, str] = {}
        self._count = 0
        self._prefix = prefix

    def fresh(self) -> str:
        """A new SSA name."""
        self._count += 1
        return f"%{self._prefix}{self._count}"

    def op(self, text: str, shape: Sequence[int], dtype: np.dtype) -> Value:
        """Append ``%new = <text>`` and return ``%new`` with the given result type."""
        name = self.fresh()
        self.lines.append(f"{name} = {text}")
        return Value(name, tuple(shape), dtype)

    def ops(self, text: str, results: Sequence[tuple[Sequence[int], np.dtype]]) -> list[Value]:
        """Append a multi-result op ``%new:N = <text>`` and return its results."""
        name = self.fresh()
        self.lines.append(f"{name}:{len(results)} = {text}")
        return [Value(f"{name}#{i}", tuple(s), d) for i, (s, d) in enumerate(results)]

    def line(self, text: str) -> None:
        """Append a raw line (e.g. the inside of a region)."""
        self.lines.append(text)

    def add_function(self, name: str, text: str) -> str:
        """Add a private helper function once; returns its symbol ``@name``."""
        self.functions.setdefault(name, text)
        return f"@{name}"

    def region(self, params: Sequence[tuple[Sequence[int], np.dtype]],
               body: Callable[["Builder", list[Value]], Sequence[Value]]) -> str:
        """The text of a region ``{ ^bb0(args): ... stablehlo.return ... }``.

        The region's block arguments and lines use this builder's name counter,
        so names stay unique in the enclosing function.
        """
        args = [Value(self.fresh(), tuple(s), d) for s, d in params]
        saved, self.lines = self.lines, []
        results = body(self, args)
        inner, self.lines = self.lines, saved
        ret = ", ".join(r.name for r in results)
        types = ", ".join(r.type for r in results)
        head = ", ".join(f"{a.name}: {a.type}" for a in args)
        return ("({\n  ^bb0(" + head + "):\n" + "".join(f"    {ln}\n" for ln in inner)
                + f"    stablehlo.return {ret} : {types}\n  }})")


def build_module(rule: Rule, params: dict[str, Any], avals: Sequence[tuple[tuple[int, ...], np.dtype]],
                 name: str = "main") -> tuple[str, list[tuple[tuple[int, ...], np.dtype]]]:
    """Wrap one lowering rule into a module; returns (text, output avals)."""
    b = Builder()
    args = [Value(f"%arg{i}", s, d) for i, (s, d) in enumerate(avals)]
    out = rule(b, *args, **params)
    results = list(out) if isinstance(out, (tuple, list)) else [out]
    sig = ", ".join(f"{a.name}: {a.type}" for a in args)
    rtypes = ", ".join(r.type for r in results)
    body = "".join(f"    {ln}\n" for ln in b.lines)
    text = (
        "module {\n"
        + "".join(b.functions.values())
        + f"  func.func public @{name}({sig}) -> ({rtypes}) {{\n{body}"
        + f"    return {', '.join(r.name for r in results)} : {rtypes}\n  }}\n}}\n"
    )
    return text, [(r.shape, r.dtype) for r in results]
