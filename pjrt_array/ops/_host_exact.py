"""What every host rule (``_host_rules``) builds on: the refusal, exact casts, and XLA:CPU's denormal
handling (subnormal operands read and results written as zeros of their sign)."""

from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["NotExact"]

_BOOL = np.dtype(bool)
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_TINY = {d: np.finfo(d).tiny for d in _FLOATS}  # the smallest normal number of each


class NotExact(Exception):
    """This case of the rule is not exact on the host: compile it."""


def _int_like(dtype: np.dtype) -> bool:
    return dtype.kind in "biu"


def _cast(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``a`` converted to ``dtype`` where the conversion is exact on both sides (same dtype,
    from bool, integer to integer with the same wrap-around, integers to a float that holds each
    of them: no rounding at all)."""
    if a.dtype == dtype:
        return a
    if a.dtype == _BOOL or (a.dtype.kind in "iu" and dtype.kind in "iu"):
        return a.astype(dtype)
    if a.dtype.kind in "iu" and dtype.kind in "fc":
        digits = np.finfo(dtype).nmant + 1
        if a.dtype.itemsize * 8 <= digits - 1 or not a.size or \
                max(abs(int(a.min())), int(a.max())) <= 2 ** digits:
            return a.astype(dtype)
    raise NotExact


def _daz(a: np.ndarray) -> np.ndarray:
    """Comparison keys of ``a`` as XLA:CPU compares it: float32/float64 subnormals (real and
    imaginary parts) as zeros of their sign; float16 is compared in float32, where it is normal."""
    if a.dtype.kind == "c":
        parts = _daz(a.real), _daz(a.imag)
        out = np.empty(a.shape, a.dtype)
        out.real, out.imag = parts
        return out
    tiny = _TINY.get(a.dtype)
    if tiny is None:
        return a
    if a.ndim == 0:  # (one element, e.g. of an iteration: a scalar test, not four array ops)
        v = a[()]
        return np.copysign(np.zeros((), a.dtype), a) if v != 0 and abs(v) < tiny else a
    sub = (np.abs(a) < tiny) & (a != 0)
    return np.where(sub, np.copysign(np.zeros((), a.dtype), a), a) if sub.any() else a


def _flushed(fn: Callable[..., np.ndarray], *xs: np.ndarray) -> np.ndarray:
    """``fn`` on the operands as XLA:CPU runs it: float32/float64 subnormal operands read as zeros
    (denormals-are-zero) and subnormal results written as zeros (flush-to-zero), of their sign.
    float16 is computed in float32 on both sides (its subnormals are normal there)."""
    with np.errstate(all="ignore"):
        return _daz(np.asarray(fn(*[_daz(x) for x in xs])))
