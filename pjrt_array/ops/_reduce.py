"""Reductions and scans as StableHLO: ``stablehlo.reduce`` and a log-step prefix scan."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import _dtypes
from ._builder import Builder, Value, tensor_type
from ._lower import constant, dims_attr, i64_array

__all__ = ["reduce", "scan", "identity"]


def identity(op: str, dtype: np.dtype) -> object:
    """The identity element of ``op`` for ``dtype`` (for max/min: the lowest/highest value)."""
    if op in ("add", "or", "xor"):
        return False if dtype == np.bool_ else 0
    if op in ("multiply", "and"):
        return True if dtype == np.bool_ else 1
    if dtype == np.bool_:
        return op == "minimum"
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return info.min if op == "maximum" else info.max
    return -np.inf if op == "maximum" else np.inf


def _plain_reduce(b: Builder, x: Value, axes: tuple[int, ...], op: str) -> Value:
    init = constant(b, identity(op, x.dtype), x.dtype)
    scalar = tensor_type((), x.dtype)
    region = b.region([((), x.dtype), ((), x.dtype)],
                      lambda r, a: [r.op(f"stablehlo.{op} {a[0].name}, {a[1].name} : {scalar}", (), x.dtype)])
    shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    return b.op(f'"stablehlo.reduce"({x.name}, {init.name}) {region} '
                f"{{dimensions = {i64_array(axes)}}} : ({x.type}, {scalar}) -> {tensor_type(shape, x.dtype)}",
                shape, x.dtype)


def reduce(b: Builder, x: Value, axes: Sequence[int], op: str, keepdims: bool = False) -> Value:
    """Reduce ``x`` over ``axes`` with the binary StableHLO ``op`` (add, multiply, maximum, ...).

    Float maximum/minimum propagate NaN.  XLA:CPU's vectorized max/min reductions
    may not, and a NaN-aware region would run scalar code, so the result of the
    plain reduction is replaced by NaN where an ``x != x`` any-reduction says so.
    """
    axes = tuple(axes)
    out = _plain_reduce(b, x, axes, op)
    if op in ("maximum", "minimum") and _dtypes.is_float(x.dtype):
        flag = np.dtype(bool)
        nan_mask = b.op(f"stablehlo.compare NE, {x.name}, {x.name} : ({x.type}, {x.type}) -> "
                        f"{tensor_type(x.shape, flag)}", x.shape, flag)
        has_nan = _plain_reduce(b, nan_mask, axes, "or")
        nan = constant(b, float("nan"), x.dtype, out.shape)
        out = b.op(f"stablehlo.select {has_nan.name}, {nan.name}, {out.name} : {has_nan.type}, {out.type}",
                   out.shape, x.dtype)
    if keepdims:
        kept = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
        out = b.op(f"stablehlo.reshape {out.name} : ({out.type}) -> {tensor_type(kept, x.dtype)}", kept, x.dtype)
    return out


def _shift(b: Builder, x: Value, axis: int, k: int, fill: object) -> Value:
    """``x`` shifted by ``k`` along ``axis`` (towards higher indices), ``fill`` entering."""
    n = x.shape[axis]
    limit = list(x.shape)
    limit[axis] = n - k
    zeros = [0] * x.ndim
    sliced_shape = tuple(limit)
    head = b.op(f'"stablehlo.slice"({x.name}) {{start_indices = {i64_array(zeros)}, '
                f"limit_indices = {i64_array(limit)}, strides = {i64_array([1] * x.ndim)}}} : "
                f"({x.type}) -> {tensor_type(sliced_shape, x.dtype)}", sliced_shape, x.dtype)
    pad = constant(b, fill, x.dtype)
    low = [0] * x.ndim
    low[axis] = k
    return b.op(f"stablehlo.pad {head.name}, {pad.name}, low = {dims_attr(low)}, high = {dims_attr(zeros)}, "
                f"interior = {dims_attr(zeros)} : ({head.type}, {pad.type}) -> {x.type}", x.shape, x.dtype)


def scan(b: Builder, x: Value, axis: int, op: str) -> Value:
    """Inclusive prefix scan of ``x`` along ``axis`` (Hillis-Steele: log2(n) shifted combines)."""
    n = x.shape[axis]
    k = 1
    while k < n:
        shifted = _shift(b, x, axis, k, identity(op, x.dtype))
        x = b.op(f"stablehlo.{op} {x.name}, {shifted.name} : {x.type}", x.shape, x.dtype)
        k *= 2
    return x
