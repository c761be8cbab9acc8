"""Reductions on the host, bit for bit with their compiled programs (``_host_rules``): integer ones in
any order; float ones where every order of evaluation gives the same bits (``_exact_reduce``), else
float sums, products, means, variances, dot products and norms in XLA:CPU's order (``_tree_reduce``)."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from . import _reduce as _reduce_mod, linalg, linalg_core, statistical
from ._host_exact import _BOOL, _FLOATS, NotExact, _cast, _daz, _flushed, _int_like

__all__ = ["REDUCTION_RULES"]


_UFUNCS: dict[str, Any] = {"add": np.add, "multiply": np.multiply, "maximum": np.maximum, "minimum": np.minimum,
           "and": np.logical_and, "or": np.logical_or}


def _reduce(x: np.ndarray, axes: Any, op: str, keepdims: bool) -> np.ndarray:
    ufunc = _UFUNCS.get(op)
    if ufunc is None:
        raise NotExact
    initial: Any = None
    if op in ("maximum", "minimum") and x.dtype != _BOOL:
        info = np.iinfo(x.dtype)
        initial = info.min if op == "maximum" else info.max  # the reduction's identity on an empty axis
    with np.errstate(over="ignore"):
        out = ufunc.reduce(x, axis=axes, keepdims=keepdims, **({} if initial is None else {"initial": initial}))
    return np.asarray(out, x.dtype)


def _reduction(p: dict, x: np.ndarray) -> list:
    dtype, op = p["dtype"], p["op"]
    if p["axes"] is None:  # the flat program of a reduction over every axis
        x = x.reshape(-1)
    axes = tuple(range(x.ndim)) if p["axes"] is None else p["axes"]
    if _int_like(x.dtype) and (dtype.kind in "iu" or (dtype == _BOOL and op in ("maximum", "minimum"))):
        return [_reduce(_cast(x, dtype), axes, op, p["keepdims"])]
    if dtype.kind not in "fc":
        raise NotExact
    return [_float_reduce(x, dtype, axes, op, p["keepdims"])]


def _float_reduce(x: np.ndarray, dtype: np.dtype, axes: tuple[int, ...], op: str, keepdims: bool) -> np.ndarray:
    """``x`` converted to the float ``dtype`` and reduced: exactly where every order gives the same
    bits (no work on the order), else sums and products in XLA:CPU's order."""
    try:
        return _exact_reduce(_widened(x, dtype), axes, op, keepdims)
    except NotExact:
        if op not in ("add", "multiply"):
            raise
    return _ordered_reduce(_widened(x, dtype, ordered=True), axes, op, keepdims)


def _widened(x: np.ndarray, dtype: np.dtype, ordered: bool = False) -> np.ndarray:
    """``x`` in the float ``dtype`` where no value can change: integers that it holds, narrower
    floats (a subnormal, flushed on the device, is refused later as not an integer or subnormal).
    ``ordered`` (for ``_ordered_reduce``): float32/float64 only (float16 sums round through float32
    on the device), subnormals read as zero first, as the device converts them."""
    if ordered and (dtype not in _FLOATS or (x.dtype.kind in "fc" and x.dtype not in _FLOATS)):
        raise NotExact
    if x.dtype.kind in "fc" and dtype.kind == x.dtype.kind and dtype.itemsize >= x.dtype.itemsize:
        return (_daz(x) if ordered else x).astype(dtype, copy=False)
    return _cast(x, dtype)


# -- float reductions in any order ---------------------------------------------------------------------
# Integers up to 2**digits are floats of each width: a sum or product of integers that stays within
# it is exact whatever the order of evaluation (float16 accumulated in float32 included).
_DIGITS = {np.dtype(np.float16): 11, np.dtype(np.float32): 24, np.dtype(np.float64): 53}


def _exact_reduce(x: np.ndarray, axes: tuple[int, ...], op: str, keepdims: bool) -> np.ndarray:
    """A float reduction where every order of evaluation gives the same bits, so XLA's order
    and numpy's (pairwise) one agree; NotExact otherwise:

    - ``add`` of integer values whose magnitudes sum to at most 2**digits (every partial sum is
      exact), no -0.0 (the device starts from +0.0; a sum of zeros is then +0.0 in any order), real
      and imaginary parts alike;
    - ``multiply`` of real integer values whose nonzero magnitudes multiply to at most 2**digits
      (a zero's sign is the xor of the signs, in any order);
    - ``maximum``/``minimum`` of real values with no subnormal (compared as zeros on the device) and
      not both zeros (which of two equal zeros comes out depends on the order): the extreme value is
      then unique; a slice with a NaN gives the rule's NaN constant, as its "any NaN" select does.
    """
    parts = [x.real, x.imag] if x.dtype.kind == "c" else [x]
    if op in ("maximum", "minimum") and len(parts) == 1:
        zero = x == 0
        with np.errstate(invalid="ignore"):
            subnormal = (np.abs(x) < np.finfo(x.dtype).tiny) & ~zero
        signed = np.signbit(x) & zero
        if subnormal.any() or (signed.any() and (zero & ~signed).any()):
            raise NotExact
        ufunc: Any = np.maximum if op == "maximum" else np.minimum
        out = ufunc.reduce(x, axis=axes, keepdims=keepdims, initial=-np.inf if op == "maximum" else np.inf)
        return np.asarray(np.where(np.isnan(out), np.array(np.nan, x.dtype), out), x.dtype)
    if op not in ("add", "multiply") or (op == "multiply" and len(parts) > 1):
        raise NotExact
    bound = float(2 ** _DIGITS[parts[0].dtype])
    for v in parts:
        if not (np.isfinite(v).all() and (v == np.trunc(v)).all()):
            raise NotExact
        if op == "add":
            if (np.signbit(v) & (v == 0)).any() or np.abs(v).sum(axis=axes, dtype=np.float64).max(initial=0) > bound:
                raise NotExact
        elif np.prod(np.where(v == 0, 1, np.abs(v)), axis=axes, dtype=np.float64).max(initial=1) > bound:
            raise NotExact
    return np.asarray(_UFUNCS[op].reduce(x, axis=axes, keepdims=keepdims), x.dtype)


# -- float sums and products in XLA:CPU's order ---------------------------------------------------------
# XLA:CPU folds each output's reduced elements one after the other, in row-major order, from the
# identity.  A reduced axis longer than 32 is first cut into windows (its TreeReductionRewriter:
# windows of min(d, 32), stride the same, "SAME" padding split evenly, the extra element at the
# end), each window folded, then the windows' results reduced the same way (again in windows if
# there are more than 32).  Programs of at least ``_reduce._STAGED_MIN`` elements may be staged
# differently (``_reduce._staged_reduce``) and are left to the compiler.


def _subnormal(a: np.ndarray) -> bool:
    tiny = np.finfo(a.dtype).tiny
    return bool(((np.abs(a) < tiny) & (a != 0)).any())


def _in_order(m: np.ndarray, op: str) -> np.ndarray:
    """The last axis of ``m`` folded from the identity, element after element.  A subnormal
    partial result would be flushed to zero on the device (and flushing it here would need a
    loop): NotExact."""
    if m.shape[-1] == 0:
        return np.full(m.shape[:-1], 0 if op == "add" else 1, m.dtype)
    with np.errstate(all="ignore"):
        partial = (np.add if op == "add" else np.multiply).accumulate(m, axis=-1)
    if _subnormal(partial):
        raise NotExact
    # The fold starts at +0.0 (1.0): a sum is -0.0 nowhere, where ``accumulate``'s starting at the
    # first element gives -0.0 for all -0.0s; ``+ 0.0`` changes that and nothing else.
    return partial[..., -1] + m.dtype.type(0) if op == "add" else partial[..., -1]


def _fold(x: np.ndarray, axes: list[int], op: str) -> np.ndarray:
    """``x`` folded over ``axes`` (sorted) as one run of elements in row-major order."""
    keep = [a for a in range(x.ndim) if a not in axes]
    m = np.transpose(x, keep + axes)
    return _in_order(m.reshape(m.shape[:len(keep)] + (math.prod(m.shape[len(keep):]),)), op)


def _tree_reduce(x: np.ndarray, axes: tuple[int, ...], op: str) -> np.ndarray:
    """``x`` reduced over ``axes`` (sorted) in XLA:CPU's order (above); the kept axes stay in order."""
    if all(x.shape[a] <= _reduce_mod._WINDOW for a in axes):
        return _fold(x, list(axes), op)
    pads, split = [], []
    for a, d in enumerate(x.shape):
        if a not in axes:
            pads.append((0, 0))
            split.append(d)
            continue
        w = min(d, _reduce_mod._WINDOW)
        n = -(-d // w)
        total = n * w - d
        pads.append((total // 2, total - total // 2))
        split += [n, w]
    padded = np.pad(x, pads, constant_values=0 if op == "add" else 1)  # (an identity: as if skipped)
    # each reduced axis of ``x`` is a (windows, within) pair of axes of ``split``
    within, windows, k = [], [], 0
    for a in range(x.ndim):
        if a in axes:
            windows.append(k)
            within.append(k + 1)
            k += 2
        else:
            k += 1
    partial = _fold(padded.reshape(split), within, op)
    kept = [a for a in range(len(split)) if a not in within]
    return _tree_reduce(partial, tuple(kept.index(a) for a in windows), op)


def _ordered_reduce(x: np.ndarray, axes: tuple[int, ...], op: str, keepdims: bool) -> np.ndarray:
    if x.size >= _reduce_mod._STAGED_MIN:
        raise NotExact  # (see above)
    axes = tuple(sorted(axes))
    kept = [d for a, d in enumerate(x.shape) if a not in axes]
    if x.size == 0:
        out = np.full(kept, 0 if op == "add" else 1, x.dtype)
    elif math.prod(x.shape[a] for a in axes) == 1:
        out = x.reshape(kept)  # XLA makes a reduction that keeps the element count a reshape
    else:
        out = _tree_reduce(x, axes, op)
    return out.reshape([1 if a in axes else d for a, d in enumerate(x.shape)]) if keepdims else out


def _vecdot(p: dict, x: np.ndarray, y: np.ndarray) -> list:
    """``linalg_core._vecdot_rule`` of real floats: the flushed products, summed as above."""
    dtype = p["dtype"]
    if dtype not in _FLOATS:
        raise NotExact  # complex products; integer dot products are rare enough to compile
    a, b = np.broadcast_arrays(_widened(x, dtype, ordered=True), _widened(y, dtype, ordered=True))
    return [_float_reduce(_flushed(np.multiply, a, b), dtype, (p["axis"],), "add", False)]


def _matmul_sum(p: dict, x: np.ndarray, y: np.ndarray) -> list:
    """``linalg_core._matmul_sum_rule``: each row of ``x`` and column of ``y`` a ``vecdot``."""
    dtype = p["dtype"]
    a, b = _widened(x, dtype, ordered=True), _widened(y, dtype, ordered=True)
    vec_x, vec_y = a.ndim == 1, b.ndim == 1
    rows = (a[None, :] if vec_x else a)[..., :, None, :]
    cols = np.swapaxes(b[:, None] if vec_y else b, -1, -2)[..., None, :, :]
    products = _flushed(np.multiply, rows, cols)
    out = _float_reduce(products, dtype, (products.ndim - 1,), "add", False)
    return [out.reshape(linalg_core._matmul_shape(out.shape, vec_x, vec_y))]


def _cumulative(p: dict, x: np.ndarray) -> list:
    """``statistical._cumulative_rule``: integer accumulations in any order (wrapping as the device
    does); float32/float64 sums and products, and complex sums, by the rule's own steps
    (``_reduce.scan``, Hillis-Steele): at step k every element combined with the one k before it,
    the identity entering at the front, each operation flushed as on the device."""
    dtype, op, axis = p["dtype"], p["op"], p["axis"]
    ufunc = np.add if op == "add" else np.multiply
    identity = dtype.type(0 if op == "add" else 1)
    n = x.shape[axis]
    if _int_like(x.dtype) and dtype.kind in "iu":
        out = ufunc.accumulate(_cast(x, dtype), axis=axis, dtype=dtype)
    elif n <= 1:  # (no step: the conversion alone, which keeps subnormals)
        out = _widened(x, dtype)
    elif dtype in _FLOATS or (op == "add" and dtype.kind == "c" and x.dtype == dtype):
        out = _widened(x, dtype, ordered=True) if dtype in _FLOATS else x
        k = 1
        while k < n:
            shifted = np.full_like(out, identity)
            np.copyto(shifted[(slice(None),) * axis + (slice(k, None),)], out[(slice(None),) * axis + (slice(0, n - k),)])
            out = _flushed(ufunc, out, shifted)
            k *= 2
    else:
        raise NotExact  # float16 (computed in float32 on the device), complex products
    if p["include_initial"]:
        first = np.full(x.shape[:axis] + (1,) + x.shape[axis + 1:], identity, dtype)
        out = np.concatenate([first, out], axis=axis)
    return [np.asarray(out, dtype)]


def _vector_norm(p: dict, x: np.ndarray) -> list:
    """``linalg._vector_norm_rule`` of real floats for ``ord`` 1 (a sum of magnitudes) and 2 (the
    square root of a sum of squares)."""
    if x.dtype not in _FLOATS or p["ord"] not in (1.0, 2.0):
        raise NotExact
    mag = np.abs(_daz(x))
    if p["ord"] == 2.0:
        squares = _flushed(np.multiply, mag, mag)
        return [_flushed(np.sqrt, _float_reduce(squares, x.dtype, p["axes"], "add", p["keepdims"]))]
    return [_float_reduce(mag, x.dtype, p["axes"], "add", p["keepdims"])]


def _moments(p: dict, x: np.ndarray) -> list:
    """``statistical._moments_rule``: the mean is the sum times the reciprocal of the count, rounded
    in ``x``'s dtype (XLA rewrites a division by a constant so), the variance the same of the
    squares of ``x`` less the mean (float32/float64), each operation flushed as on the device."""
    axes, correction = tuple(sorted(p["axes"])), p["correction"]
    count = math.prod(x.shape[a] for a in axes)
    if x.dtype.kind != "f" or not count or float(np.asarray(count, x.dtype)) != count or not np.isfinite(x).all():
        # complex: |x - mean| is a hypot; no elements, NaN or inf: NaN's sign is XLA's (constant
        # folding, simplification of x * 1), not established here
        raise NotExact
    if correction is not None and x.dtype not in _FLOATS:
        raise NotExact
    x = _daz(x)
    one = x.dtype.type(1)
    with np.errstate(divide="ignore"):
        mean = _flushed(np.multiply, _float_reduce(x, x.dtype, axes, "add", True), one / x.dtype.type(count))
        out = mean
        if correction is not None:
            centered = _flushed(np.subtract, x, mean)
            squares = _flushed(np.multiply, centered, centered)
            ss = _float_reduce(squares, x.dtype, axes, "add", True)
            out = _flushed(np.multiply, ss, one / x.dtype.type(max(count - correction, 0)))
            if p["root"]:
                out = _flushed(np.sqrt, out)
    return [out if p["keepdims"] else out.reshape([d for a, d in enumerate(x.shape) if a not in axes])]


REDUCTION_RULES: dict[Any, Callable[..., list]] = {
    statistical._reduce_rule: _reduction,
    statistical._moments_rule: _moments,
    statistical._cumulative_rule: _cumulative,
    linalg_core._vecdot_rule: _vecdot,
    linalg_core._matmul_sum_rule: _matmul_sum,
    linalg._vector_norm_rule: _vector_norm,
}
