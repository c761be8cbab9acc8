"""Matrix building blocks for the linalg rules (all batched over leading axes).

Only primitives every XLA backend has are used: ``dot_general``,
``cholesky``, ``triangular_solve`` and the ``Qr``,
``ProductOfElementaryHouseholderReflectors`` and ``Eigh`` custom calls, which
XLA expands itself (no LAPACK needed).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .. import _dtypes
from ._builder import Builder, Value
from ._lower import band_mask, broadcast, broadcast_shapes, conj, const_like
from ._reduce import reduce

__all__ = ["matmul", "adjoint", "transpose_last", "broadcast_batch", "qr", "householder_product", "eigh", "cholesky",
           "triangular_solve", "identity", "slice_last", "keep_band", "diagonal", "unit_phase", "det_from_parts",
           "slogdet_from_parts", "pad_columns", "qr_from_reflectors"]


def transpose_last(b: Builder, x: Value) -> Value:
    """Swap the last two axes."""
    perm = list(range(x.ndim))
    perm[-2], perm[-1] = perm[-1], perm[-2]
    return b.transpose(x, perm)


def broadcast_batch(b: Builder, x: Value, y: Value) -> tuple[Value, Value]:
    """Matrices ``x`` and ``y`` (rank >= 2) broadcast to one batch shape."""
    batch = broadcast_shapes(x.shape[:-2], y.shape[:-2])
    return broadcast(b, x, batch + x.shape[-2:]), broadcast(b, y, batch + y.shape[-2:])


def adjoint(b: Builder, x: Value) -> Value:
    """Conjugate transpose of the last two axes."""
    return conj(b, transpose_last(b, x))


def matmul(b: Builder, x: Value, y: Value) -> Value:
    """Batched ``x @ y`` for operands of equal rank >= 2 and equal batch shape."""
    batch = range(x.ndim - 2)
    return b.dot_general(x, y, batch=(batch, batch), contract=([x.ndim - 1], [y.ndim - 2]))


def qr(b: Builder, x: Value) -> tuple[Value, Value]:
    """Householder QR: the packed reflectors/R and the ``taus`` (XLA's ``Qr``)."""
    taus_shape = x.shape[:-2] + (min(x.shape[-2:]),)
    packed, taus = b.custom_call("Qr", [x], [x.aval, (taus_shape, x.dtype)])
    return packed, taus


def householder_product(b: Builder, packed: Value, taus: Value) -> Value:
    """The orthonormal ``Q`` (shape of ``packed``) from Householder reflectors."""
    return b.custom_call("ProductOfElementaryHouseholderReflectors", [packed, taus], [packed.aval])[0]


def _eigh_raw(b: Builder, x: Value) -> tuple[Value, Value]:
    real = _dtypes.real_dtype(x.dtype)
    eps = float(np.finfo(real).eps)
    v, w = b.custom_call("Eigh", [x], [x.aval, (x.shape[:-1], real)], backend_config=f"1,1,100,{eps!r}")
    return w, v


def _rayleigh(b: Builder, x: Value, v: Value) -> Value:
    """The real diagonal of ``vᴴ x v``."""
    d = diagonal(b, matmul(b, adjoint(b, v), matmul(b, x, v)))
    return b.real(d) if _dtypes.is_complex(x.dtype) else d


def _refine_eigh(b: Builder, x: Value, v: Value) -> tuple[Value, Value]:
    """One first-order correction of the eigenvectors ``v`` of Hermitian ``x`` (at least 2x2).

    XLA's Jacobi ``Eigh`` stops when its (cancellation-prone) off-diagonal
    estimate vanishes, leaving off-diagonal terms of about sqrt(eps)·|x|.  With
    ``E = vᴴ x v`` and ``w = diag(E)``, eigenvector ``j`` moves by
    ``Σᵢ E_ij / (w_j - w_i) vᵢ`` (pairs closer than sqrt(eps)·|x| are left alone);
    a QR re-orthonormalizes and the Rayleigh quotients give the eigenvalues.
    """
    real = _dtypes.real_dtype(x.dtype)
    e = matmul(b, adjoint(b, v), matmul(b, x, v))
    d = diagonal(b, e)
    w = b.real(d) if _dtypes.is_complex(x.dtype) else d
    dims_row = list(range(w.ndim - 1)) + [w.ndim]
    dims_col = list(range(w.ndim))
    gap = b.subtract(b.broadcast_in_dim(w, x.shape, dims_row), b.broadcast_in_dim(w, x.shape, dims_col))
    scale = reduce(b, b.abs(w), (w.ndim - 1,), "maximum", keepdims=True)
    thr = b.multiply(scale, b.constant(float(np.sqrt(np.finfo(real).eps)), real, scale.shape))
    far = b.compare(b.abs(gap), b.broadcast_in_dim(thr, x.shape, dims_col), "GT")
    ratio = b.divide(e, b.convert(b.select(far, gap, const_like(b, 1, gap)), x.dtype))
    step = b.select(far, ratio, const_like(b, 0, ratio))
    packed, taus = qr(b, matmul(b, v, b.add(identity(b, x.shape, x.dtype), step)))
    q = householder_product(b, packed, taus)
    # Householder QR may flip a column's sign (phase): undo it from R's diagonal.
    d = diagonal(b, packed)
    phase = b.divide(d, b.convert(b.abs(d), x.dtype))
    v = b.multiply(q, b.broadcast_in_dim(phase, x.shape, dims_row))
    return _rayleigh(b, x, v), v


def eigh(b: Builder, x: Value) -> tuple[Value, Value]:
    """Eigenvalues (ascending, real) and eigenvectors (columns) of Hermitian ``x`` (lower triangle)."""
    if x.shape[-1] <= 1:
        return _eigh_raw(b, x)
    hermitian = b.add(keep_band(b, x, None, 0), adjoint(b, keep_band(b, x, None, -1)))
    _, v = _eigh_raw(b, hermitian)
    return _refine_eigh(b, hermitian, v)


def cholesky(b: Builder, x: Value) -> Value:
    """Lower Cholesky factor (the upper triangle is zeroed)."""
    return keep_band(b, b.cholesky(x, lower=True), None, 0)


def triangular_solve(b: Builder, a: Value, rhs: Value, *, lower: bool, transpose: str = "NO_TRANSPOSE",
                     left: bool = True) -> Value:
    """Solve ``op(a) @ x = rhs`` (left) for triangular ``a``."""
    return b.triangular_solve(a, rhs, left_side=left, lower=lower, transpose_a=transpose)


def identity(b: Builder, shape: Sequence[int], dtype: np.dtype) -> Value:
    """Identity matrices of ``shape`` (batched)."""
    shape = tuple(shape)
    return b.select(band_mask(b, shape, 0, 0), b.constant(1, dtype, shape), b.constant(0, dtype, shape))


def keep_band(b: Builder, x: Value, lo: int | None, hi: int | None) -> Value:
    """``x`` where ``lo <= col - row <= hi`` on the last two axes, zero elsewhere."""
    return b.select(band_mask(b, x.shape, lo, hi), x, const_like(b, 0, x))


def slice_last(b: Builder, x: Value, rows: tuple[int, int], cols: tuple[int, int]) -> Value:
    """``x[..., r0:r1, c0:c1]``."""
    start = [0] * (x.ndim - 2) + [rows[0], cols[0]]
    limit = list(x.shape[:-2]) + [rows[1], cols[1]]
    return b.slice(x, start, limit)


def diagonal(b: Builder, x: Value, offset: int = 0) -> Value:
    """``x[..., i, i + offset]`` as a vector (batched)."""
    m, n = x.shape[-2:]
    length = max(0, min(m, n - offset) if offset >= 0 else min(m + offset, n))
    kept = keep_band(b, x, offset, offset)
    if offset >= 0:
        summed = reduce(b, kept, (x.ndim - 2,), "add")  # column j holds x[j - offset, j]
        start = offset
    else:
        summed = reduce(b, kept, (x.ndim - 1,), "add")  # row i holds x[i, i + offset]
        start = -offset
    start = min(start, summed.shape[-1])
    lo = [0] * (summed.ndim - 1) + [start]
    hi = list(summed.shape[:-1]) + [start + length]
    return b.slice(summed, lo, hi)


def unit_phase(b: Builder, d: Value) -> Value:
    """``d / |d|`` (1 where ``d == 0``), in ``d``'s dtype."""
    mag = b.abs(d)
    is_zero = b.compare(mag, const_like(b, 0, mag), "EQ")
    phase = b.divide(d, b.convert(b.select(is_zero, const_like(b, 1, mag), mag), d.dtype))
    return b.select(is_zero, const_like(b, 1, d), phase)


def det_from_parts(b: Builder, det_q: Value, d: Value) -> Value:
    """``det(x)`` for ``x = Q T`` with triangular ``T``: ``det(Q)`` times the product of ``T``'s diagonal ``d``."""
    return b.multiply(det_q, reduce(b, d, (d.ndim - 1,), "multiply"))


def slogdet_from_parts(b: Builder, det_q: Value, d: Value) -> tuple[Value, Value]:
    """(sign, log|det|) for ``x = Q T`` as in :func:`det_from_parts` (``det(Q)`` of unit modulus)."""
    mag = b.abs(d)
    logabs = reduce(b, b.log(mag), (d.ndim - 1,), "add")
    phase = reduce(b, unit_phase(b, d), (d.ndim - 1,), "multiply")
    sign = b.multiply(det_q, phase)
    singular = reduce(b, b.compare(mag, const_like(b, 0, mag), "EQ"), (d.ndim - 1,), "or")
    sign = b.select(singular, const_like(b, 0, sign), sign)
    if not _dtypes.is_complex(d.dtype):
        # A real sign is exactly ±1.
        pos = b.compare(sign, const_like(b, 0, sign), "GE")
        unit = b.select(pos, const_like(b, 1, sign), const_like(b, -1, sign))
        sign = b.select(singular, sign, unit)
    return sign, logabs


def pad_columns(b: Builder, x: Value, cols: int) -> Value:
    """``x`` with zero columns appended up to ``cols``."""
    if x.shape[-1] == cols:
        return x
    high = [0] * (x.ndim - 1) + [cols - x.shape[-1]]
    return b.pad(x, b.constant(0, x.dtype), [0] * x.ndim, high)


def qr_from_reflectors(b: Builder, packed: Value, taus: Value, *, complete: bool,
                       product: Callable[[Builder, Value, Value], Value]) -> tuple[Value, Value]:
    """``(Q, R)`` (reduced, or ``complete``) from a Householder QR's packed factors and ``taus``;
    ``product(b, reflectors, taus)`` forms ``Q`` from reflectors given as columns."""
    m, n = packed.shape[-2:]
    r = keep_band(b, packed, 0, None)
    if m <= n:
        return product(b, slice_last(b, packed, (0, m), (0, m)), taus), r
    if complete:
        return product(b, pad_columns(b, packed, m), taus), r
    return product(b, packed, taus), slice_last(b, r, (0, n), (0, n))
