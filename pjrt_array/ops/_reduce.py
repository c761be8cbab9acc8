"""Reductions and scans: a builder ``reduce`` with a one-op region, and a log-step prefix scan."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import _dtypes
from ._builder import Builder, Value
from ._lower import is_nan, slice_axis

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
    init = b.constant(identity(op, x.dtype), x.dtype)
    return b.reduce([x], [init], axes, lambda r, a: [r.binary(op, a[0], a[1])])[0]


def reduce(b: Builder, x: Value, axes: Sequence[int], op: str, keepdims: bool = False) -> Value:
    """Reduce ``x`` over ``axes`` with the binary StableHLO ``op`` (add, multiply, maximum, ...).

    Float maximum/minimum propagate NaN.  XLA:CPU's maximum/minimum do not (on the
    plugins we load, a NaN is kept or dropped depending on its position), and a
    NaN-aware region runs scalar code; so one variadic reduction carries the
    plain result and an "any NaN" flag side by side (one pass over ``x``, as fast
    as the plain reduction), and the flag selects NaN.
    """
    axes = tuple(axes)
    if op in ("maximum", "minimum") and _dtypes.is_float(x.dtype):
        inits = [b.constant(identity(op, x.dtype), x.dtype), b.constant(False, np.dtype(bool))]
        out, has_nan = b.reduce([x, is_nan(b, x)], inits, axes,
                                lambda r, a: [r.binary(op, a[0], a[2]), r.binary("or", a[1], a[3])])
        out = b.select(has_nan, b.constant(float("nan"), x.dtype, out.shape), out)
    else:
        out = _plain_reduce(b, x, axes, op)
    if keepdims:
        out = b.reshape(out, tuple(1 if i in axes else d for i, d in enumerate(x.shape)))
    return out


def scan(b: Builder, x: Value, axis: int, op: str) -> Value:
    """Inclusive prefix scan of ``x`` along ``axis`` (Hillis-Steele: log2(n) shifted combines)."""
    n = x.shape[axis]
    if n <= 1:
        return x
    fill = b.constant(identity(op, x.dtype), x.dtype)
    k = 1
    while k < n:
        # ``x`` shifted by ``k`` towards higher indices along ``axis``, the identity entering.
        low = [0] * x.ndim
        low[axis] = k
        shifted = b.pad(slice_axis(b, x, axis, 0, n - k), fill, low, [0] * x.ndim)
        x = b.binary(op, x, shifted)
        k *= 2
    return x
