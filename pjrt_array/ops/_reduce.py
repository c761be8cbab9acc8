"""Reductions and scans as StableHLO: ``stablehlo.reduce`` and a log-step prefix scan."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import _dtypes
from ._builder import Builder, Value, tensor_type
from ._lower import constant, dims_attr, i64_array

__all__ = ["reduce", "scan", "identity", "combine"]


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


def combine(b: Builder, x: Value, y: Value, op: str) -> Value:
    """``x op y`` element-wise; maximum/minimum of floats propagate NaN (XLA's may not)."""
    if op in ("maximum", "minimum") and _dtypes.is_float(x.dtype):
        flag = tensor_type(x.shape, np.dtype(bool))
        direction = "GT" if op == "maximum" else "LT"
        better = b.op(f"stablehlo.compare {direction}, {x.name}, {y.name} : ({x.type}, {y.type}) -> {flag}",
                      x.shape, np.dtype(bool))
        nan = b.op(f"stablehlo.compare NE, {x.name}, {x.name} : ({x.type}, {x.type}) -> {flag}",
                   x.shape, np.dtype(bool))
        pick = b.op(f"stablehlo.or {better.name}, {nan.name} : {flag}", x.shape, np.dtype(bool))
        return b.op(f"stablehlo.select {pick.name}, {x.name}, {y.name} : {flag}, {x.type}", x.shape, x.dtype)
    return b.op(f"stablehlo.{op} {x.name}, {y.name} : {x.type}", x.shape, x.dtype)


def reduce(b: Builder, x: Value, axes: Sequence[int], op: str, keepdims: bool = False) -> Value:
    """Reduce ``x`` over ``axes`` with the binary StableHLO ``op`` (add, multiply, maximum, ...)."""
    axes = tuple(axes)
    init = constant(b, identity(op, x.dtype), x.dtype)
    scalar = tensor_type((), x.dtype)
    region = b.region([((), x.dtype), ((), x.dtype)], lambda r, a: [combine(r, a[0], a[1], op)])
    shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    out = b.op(f'"stablehlo.reduce"({x.name}, {init.name}) {region} '
               f"{{dimensions = {i64_array(axes)}}} : "
               f"({x.type}, {scalar}) -> {tensor_type(shape, x.dtype)}", shape, x.dtype)
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
        x = combine(b, x, shifted, op)
        k *= 2
    return x
