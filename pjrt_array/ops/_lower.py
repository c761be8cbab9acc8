"""Lowering helpers shared by the rules: conversion, broadcasting, constants, shapes."""

from __future__ import annotations

import operator
from typing import Sequence

import numpy as np

from ._builder import Builder, Value, tensor_type

__all__ = ["broadcast_shapes", "convert", "broadcast", "constant", "dims_attr", "i64_array", "clamp_diagonal"]


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """The broadcast of ``shapes`` (numpy rules); ValueError if incompatible."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(-ndim, 0):
        size = 1
        for s in shapes:
            d = s[i] if -i <= len(s) else 1
            if d != 1:
                if size not in (1, d):
                    raise ValueError(f"shapes {' and '.join(str(tuple(s)) for s in shapes)} cannot be broadcast together")
                size = d
        out.append(size)
    return tuple(out)


def dims_attr(dims: Sequence[int]) -> str:
    """``[0, 2]`` (the pretty-printed dimension list form)."""
    return "[" + ", ".join(str(int(d)) for d in dims) + "]"


def clamp_diagonal(k: object, rows: int, cols: int) -> int:
    """Diagonal offset ``k`` limited to [-rows - 1, cols + 1]: beyond that every diagonal lies
    outside the matrix (and a huge Python int would not fit the program's int64 constant)."""
    return max(-rows - 1, min(cols + 1, operator.index(k)))


def i64_array(values: Sequence[int]) -> str:
    """``array<i64: 1, 2>`` (the attribute form of generic ops)."""
    return "array<i64" + (": " + ", ".join(str(int(v)) for v in values) if len(values) else "") + ">"


def convert(b: Builder, v: Value, dtype: np.dtype) -> Value:
    """``v`` as ``dtype`` (no-op when equal)."""
    dtype = np.dtype(dtype)
    if v.dtype == dtype:
        return v
    return b.op(f"stablehlo.convert {v.name} : ({v.type}) -> {tensor_type(v.shape, dtype)}", v.shape, dtype)


def broadcast(b: Builder, v: Value, shape: Sequence[int]) -> Value:
    """``v`` broadcast (numpy rules, trailing alignment) to ``shape``."""
    shape = tuple(shape)
    if v.shape == shape:
        return v
    dims = range(len(shape) - v.ndim, len(shape))
    return b.op(f"stablehlo.broadcast_in_dim {v.name}, dims = {dims_attr(dims)} : "
                f"({v.type}) -> {tensor_type(shape, v.dtype)}", shape, v.dtype)


def _literal(value: object, dtype: np.dtype) -> str:
    if dtype == np.bool_:
        return "true" if value else "false"
    if dtype.kind == "c":
        c, part = complex(value), np.dtype("float32" if dtype.itemsize == 8 else "float64")
        return f"({_literal(c.real, part)}, {_literal(c.imag, part)})"
    if dtype.kind == "f" or dtype.name == "bfloat16":
        f = float(value)
        if f != f or f in (float("inf"), float("-inf")):
            # Non-finite floats are written as their bit pattern.
            bits = np.array(f, dtype=dtype).view(f"u{dtype.itemsize}")
            return f"0x{int(bits):0{dtype.itemsize * 2}X}"
        return repr(f)
    return str(int(value))


def constant(b: Builder, value: object, dtype: np.dtype, shape: Sequence[int] = ()) -> Value:
    """A splat constant of ``value`` with ``dtype`` and ``shape``."""
    dtype = np.dtype(dtype)
    ttype = tensor_type(shape, dtype)
    return b.op(f"stablehlo.constant dense<{_literal(value, dtype)}> : {ttype}", tuple(shape), dtype)
