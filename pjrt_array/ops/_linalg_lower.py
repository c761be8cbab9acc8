"""Matrix building blocks for the linalg rules (all batched over leading axes).

Only primitives every XLA backend has are used: ``dot_general``,
``cholesky``, ``triangular_solve`` and the ``Qr``,
``ProductOfElementaryHouseholderReflectors`` and ``Eigh`` custom calls, which
XLA expands itself (no LAPACK needed).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import _dtypes
from ._builder import Builder, Value, tensor_type
from ._lower import constant, dims_attr, i64_array
from ._reduce import reduce

__all__ = ["matmul", "adjoint", "transpose_last", "conj", "qr", "householder_product", "eigh", "cholesky",
           "triangular_solve", "identity", "slice_last", "band_mask", "select", "abs_real", "diagonal"]

_BOOL = np.dtype(bool)


def transpose_last(b: Builder, x: Value) -> Value:
    """Swap the last two axes."""
    perm = list(range(x.ndim))
    perm[-2], perm[-1] = perm[-1], perm[-2]
    shape = tuple(x.shape[p] for p in perm)
    return b.op(f"stablehlo.transpose {x.name}, dims = {dims_attr(perm)} : ({x.type}) -> "
                f"{tensor_type(shape, x.dtype)}", shape, x.dtype)


def conj(b: Builder, x: Value) -> Value:
    """Complex conjugate (identity for real dtypes)."""
    if not _dtypes.is_complex(x.dtype):
        return x
    real = _dtypes.real_dtype(x.dtype)
    rtype = tensor_type(x.shape, real)
    re = b.op(f"stablehlo.real {x.name} : ({x.type}) -> {rtype}", x.shape, real)
    im = b.op(f"stablehlo.imag {x.name} : ({x.type}) -> {rtype}", x.shape, real)
    neg = b.op(f"stablehlo.negate {im.name} : {rtype}", x.shape, real)
    return b.op(f"stablehlo.complex {re.name}, {neg.name} : {x.type}", x.shape, x.dtype)


def adjoint(b: Builder, x: Value) -> Value:
    """Conjugate transpose of the last two axes."""
    return conj(b, transpose_last(b, x))


def matmul(b: Builder, x: Value, y: Value) -> Value:
    """Batched ``x @ y`` for operands of equal rank >= 2 and equal batch shape."""
    batch = list(range(x.ndim - 2))
    shape = x.shape[:-1] + (y.shape[-1],)
    return b.op(f"stablehlo.dot_general {x.name}, {y.name}, batching_dims = {dims_attr(batch)} x "
                f"{dims_attr(batch)}, contracting_dims = [{x.ndim - 1}] x [{y.ndim - 2}] : "
                f"({x.type}, {y.type}) -> {tensor_type(shape, x.dtype)}", shape, x.dtype)


def qr(b: Builder, x: Value) -> tuple[Value, Value]:
    """Householder QR: the packed reflectors/R and the ``taus`` (XLA's ``Qr``)."""
    k = min(x.shape[-2:])
    taus_shape = x.shape[:-2] + (k,)
    packed, taus = b.ops(f"stablehlo.custom_call @Qr({x.name}) : ({x.type}) -> "
                         f"({x.type}, {tensor_type(taus_shape, x.dtype)})",
                         [(x.shape, x.dtype), (taus_shape, x.dtype)])
    return packed, taus


def householder_product(b: Builder, packed: Value, taus: Value) -> Value:
    """The orthonormal ``Q`` (shape of ``packed``) from Householder reflectors."""
    return b.op(f"stablehlo.custom_call @ProductOfElementaryHouseholderReflectors({packed.name}, {taus.name}) : "
                f"({packed.type}, {taus.type}) -> {packed.type}", packed.shape, packed.dtype)


def _eigh_raw(b: Builder, x: Value) -> tuple[Value, Value]:
    real = _dtypes.real_dtype(x.dtype)
    w_shape = x.shape[:-1]
    eps = float(np.finfo(real).eps)
    v, w = b.ops(f'stablehlo.custom_call @Eigh({x.name}) {{backend_config = "1,1,100,{eps!r}"}} : '
                 f"({x.type}) -> ({x.type}, {tensor_type(w_shape, real)})",
                 [(x.shape, x.dtype), (w_shape, real)])
    return w, v


def _refine_eigh(b: Builder, x: Value, v: Value) -> tuple[Value, Value]:
    """One first-order correction of the eigenvectors ``v`` of Hermitian ``x``.

    XLA's Jacobi ``Eigh`` stops when its (cancellation-prone) off-diagonal
    estimate vanishes, leaving off-diagonal terms of about sqrt(eps)·|x|.  With
    ``E = vᴴ x v`` and ``w = diag(E)``, eigenvector ``j`` moves by
    ``Σᵢ E_ij / (w_j - w_i) vᵢ`` (pairs closer than sqrt(eps)·|x| are left alone);
    a QR re-orthonormalizes and the Rayleigh quotients give the eigenvalues.
    """
    real = _dtypes.real_dtype(x.dtype)
    e = matmul(b, adjoint(b, v), matmul(b, x, v))
    diag_e = diagonal(b, e)
    w = b.op(f"stablehlo.real {diag_e.name} : ({diag_e.type}) -> {tensor_type(diag_e.shape, real)}",
             diag_e.shape, real) if _dtypes.is_complex(x.dtype) else diag_e
    n = x.shape[-1]
    dims_row = list(range(w.ndim - 1)) + [w.ndim]
    dims_col = list(range(w.ndim))
    wj = b.op(f"stablehlo.broadcast_in_dim {w.name}, dims = {dims_attr(dims_row)} : ({w.type}) -> "
              f"{tensor_type(x.shape, real)}", x.shape, real)
    wi = b.op(f"stablehlo.broadcast_in_dim {w.name}, dims = {dims_attr(dims_col)} : ({w.type}) -> "
              f"{tensor_type(x.shape, real)}", x.shape, real)
    gap = b.op(f"stablehlo.subtract {wj.name}, {wi.name} : {wj.type}", x.shape, real)
    scale = reduce(b, abs_real(b, w), (w.ndim - 1,), "maximum", keepdims=True)
    thr_c = constant(b, float(np.sqrt(np.finfo(real).eps)), real, scale.shape)
    thr = b.op(f"stablehlo.multiply {scale.name}, {thr_c.name} : {scale.type}", scale.shape, real)
    thr = b.op(f"stablehlo.broadcast_in_dim {thr.name}, dims = {dims_attr(dims_col)} : ({thr.type}) -> "
               f"{tensor_type(x.shape, real)}", x.shape, real) if n else thr
    far = b.op(f"stablehlo.compare GT, {abs_real(b, gap).name}, {thr.name} : ({gap.type}, {gap.type}) -> "
               f"{tensor_type(x.shape, _BOOL)}", x.shape, _BOOL)
    one = constant(b, 1, real, x.shape)
    safe_gap = select(b, far, gap, one)
    ratio = b.op(f"stablehlo.divide {e.name}, {_as(b, safe_gap, x.dtype).name} : {e.type}", x.shape, x.dtype)
    step = select(b, far, ratio, constant(b, 0, x.dtype, x.shape))
    moved = matmul(b, v, b.op(f"stablehlo.add {identity(b, x.shape, x.dtype).name}, {step.name} : {x.type}",
                              x.shape, x.dtype))
    packed, taus = qr(b, moved)
    q = householder_product(b, packed, taus)
    # Householder QR may flip a column's sign (phase): undo it from R's diagonal.
    d = diagonal(b, packed)
    mag = abs_real(b, d)
    phase = b.op(f"stablehlo.divide {d.name}, {_as(b, mag, x.dtype).name} : {d.type}", d.shape, x.dtype)
    phase_b = b.op(f"stablehlo.broadcast_in_dim {phase.name}, dims = {dims_attr(dims_row)} : ({phase.type}) -> "
                   f"{x.type}", x.shape, x.dtype)
    v = b.op(f"stablehlo.multiply {q.name}, {phase_b.name} : {x.type}", x.shape, x.dtype)
    rq = diagonal(b, matmul(b, adjoint(b, v), matmul(b, x, v)))
    w = b.op(f"stablehlo.real {rq.name} : ({rq.type}) -> {tensor_type(rq.shape, real)}", rq.shape, real) \
        if _dtypes.is_complex(x.dtype) else rq
    return w, v


def _as(b: Builder, v: Value, dtype: np.dtype) -> Value:
    if v.dtype == dtype:
        return v
    return b.op(f"stablehlo.convert {v.name} : ({v.type}) -> {tensor_type(v.shape, dtype)}", v.shape, dtype)


def eigh(b: Builder, x: Value) -> tuple[Value, Value]:
    """Eigenvalues (ascending, real) and eigenvectors (columns) of Hermitian ``x`` (lower triangle)."""
    if x.shape[-1] <= 1:
        return _eigh_raw(b, x)
    lower = select(b, band_mask(b, x.shape, None, 0), x, constant(b, 0, x.dtype, x.shape))
    strict = select(b, band_mask(b, x.shape, None, -1), x, constant(b, 0, x.dtype, x.shape))
    hermitian = b.op(f"stablehlo.add {lower.name}, {adjoint(b, strict).name} : {x.type}", x.shape, x.dtype)
    _, v = _eigh_raw(b, hermitian)
    return _refine_eigh(b, hermitian, v)


def cholesky(b: Builder, x: Value) -> Value:
    """Lower Cholesky factor (the upper triangle is zeroed)."""
    low = b.op(f"stablehlo.cholesky {x.name}, lower = true : {x.type}", x.shape, x.dtype)
    return select(b, band_mask(b, x.shape, None, 0), low, constant(b, 0, x.dtype, x.shape))


def triangular_solve(b: Builder, a: Value, rhs: Value, *, lower: bool, transpose: str = "NO_TRANSPOSE",
                     left: bool = True) -> Value:
    """Solve ``op(a) @ x = rhs`` (left) for triangular ``a``."""
    return b.op(f'"stablehlo.triangular_solve"({a.name}, {rhs.name}) {{left_side = {str(left).lower()}, '
                f"lower = {str(lower).lower()}, unit_diagonal = false, "
                f"transpose_a = #stablehlo<transpose {transpose}>}} : ({a.type}, {rhs.type}) -> {rhs.type}",
                rhs.shape, rhs.dtype)


def identity(b: Builder, shape: Sequence[int], dtype: np.dtype) -> Value:
    """Identity matrices of ``shape`` (batched)."""
    shape = tuple(shape)
    one, zero = constant(b, 1, dtype, shape), constant(b, 0, dtype, shape)
    return select(b, band_mask(b, shape, 0, 0), one, zero)


def band_mask(b: Builder, shape: Sequence[int], lo: int | None, hi: int | None) -> Value:
    """True where ``lo <= col - row <= hi`` on the last two axes."""
    shape = tuple(shape)
    i64 = np.dtype("int64")
    rows = b.op(f"stablehlo.iota dim = {len(shape) - 2} : {tensor_type(shape, i64)}", shape, i64)
    cols = b.op(f"stablehlo.iota dim = {len(shape) - 1} : {tensor_type(shape, i64)}", shape, i64)
    diff = b.op(f"stablehlo.subtract {cols.name}, {rows.name} : {rows.type}", shape, i64)
    out = None
    for bound, direction in ((lo, "GE"), (hi, "LE")):
        if bound is None:
            continue
        c = constant(b, bound, i64, shape)
        t = b.op(f"stablehlo.compare {direction}, {diff.name}, {c.name} : ({diff.type}, {diff.type}) -> "
                 f"{tensor_type(shape, _BOOL)}", shape, _BOOL)
        out = t if out is None else b.op(f"stablehlo.and {out.name}, {t.name} : {t.type}", shape, _BOOL)
    return out


def select(b: Builder, mask: Value, x: Value, y: Value) -> Value:
    return b.op(f"stablehlo.select {mask.name}, {x.name}, {y.name} : {mask.type}, {x.type}", x.shape, x.dtype)


def slice_last(b: Builder, x: Value, rows: tuple[int, int], cols: tuple[int, int]) -> Value:
    """``x[..., r0:r1, c0:c1]``."""
    start = [0] * (x.ndim - 2) + [rows[0], cols[0]]
    limit = list(x.shape[:-2]) + [rows[1], cols[1]]
    shape = tuple(l - s for l, s in zip(limit, start))
    return b.op(f'"stablehlo.slice"({x.name}) {{start_indices = {i64_array(start)}, '
                f"limit_indices = {i64_array(limit)}, strides = {i64_array([1] * x.ndim)}}} : "
                f"({x.type}) -> {tensor_type(shape, x.dtype)}", shape, x.dtype)


def abs_real(b: Builder, x: Value) -> Value:
    """``|x|`` with a real dtype."""
    real = _dtypes.real_dtype(x.dtype)
    return b.op(f"stablehlo.abs {x.name} : ({x.type}) -> {tensor_type(x.shape, real)}", x.shape, real)


def diagonal(b: Builder, x: Value, offset: int = 0) -> Value:
    """``x[..., i, i + offset]`` as a vector (batched)."""
    m, n = x.shape[-2:]
    length = max(0, min(m, n - offset) if offset >= 0 else min(m + offset, n))
    kept = select(b, band_mask(b, x.shape, offset, offset), x, constant(b, 0, x.dtype, x.shape))
    if offset >= 0:
        summed = reduce(b, kept, (x.ndim - 2,), "add")  # column j holds x[j - offset, j]
        start = offset
    else:
        summed = reduce(b, kept, (x.ndim - 1,), "add")  # row i holds x[i, i + offset]
        start = -offset
    start = min(start, summed.shape[-1])
    lo = [0] * (summed.ndim - 1) + [start]
    hi = list(summed.shape[:-1]) + [start + length]
    shape = tuple(h - s for h, s in zip(hi, lo))
    return b.op(f'"stablehlo.slice"({summed.name}) {{start_indices = {i64_array(lo)}, '
                f"limit_indices = {i64_array(hi)}, strides = {i64_array([1] * summed.ndim)}}} : "
                f"({summed.type}) -> {tensor_type(shape, x.dtype)}", shape, x.dtype)
