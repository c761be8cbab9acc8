"""SVD by one-sided (Hestenes) Jacobi in StableHLO: the pure lowering of ``svd``/``svdvals``.

For ``a`` (m x n, m >= n; the caller transposes wide matrices):

1. Rows and columns sorted by descending norm (a cheap stand-in for
   pivoting), then Householder QR: ``Pᵣ a P = Q R``.
2. One-sided Jacobi on ``Rᴴ``: rotations of column pairs until every pair is
   orthogonal to ``tol`` relative to the columns' norms (sqrt(eps) when a
   refinement pass follows, else eps·sqrt(n)).  Columns
   are kept as the rows of ``Y = Wᴴ`` (contiguous along the last axis) and the
   rotations are accumulated in ``Z = Vᴴ``.  A round rotates n/2 disjoint pairs
   at once (rows ``i`` and ``i + n/2``); between rounds the rows move as in a
   round-robin tournament (row 0 stays, the others rotate one place), so
   ``n - 1`` rounds pair every two rows once (a sweep) and restore the order.
   An odd ``n`` gets a zero row at the fixed place 0, which no rotation touches.
3. Refinement: rounding in thousands of rotations leaves ``Z`` off unitary by
   ~sqrt(rotations)·eps and the backward error follows it.  One Newton-Schulz
   step makes ``Z`` unitary to eps, ``Y = Z R`` is recomputed by a matmul, and a
   second Jacobi pass from the identity (2-4 sweeps of small rotations, whose
   rounding stays small) finishes.  Backward error and orthogonality then match
   LAPACK's (docs/linalg.md has the table).
4. ``Rᴴ = U₁ S Z`` with ``S`` the row norms of ``Y`` (sorted descending) and
   ``U₁`` from a Householder QR of ``Yᴴ`` (orthonormal even where singular
   values vanish), so ``a = (Pᵣᵀ Q Zᴴ) S (P U₁)ᴴ``.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _dtypes
from ._builder import Builder, Value
from ._linalg_lower import (adjoint, diagonal, householder_product, identity, keep_band, matmul, pad_columns, qr,
                            slice_last, unit_phase)
from ._lower import const_like, conj
from ._reduce import reduce
from .sorting import sort_values

__all__ = ["svd_tall"]

_INDEX = np.dtype("int64")
_BOOL = np.dtype(bool)
MAX_SWEEPS = 30  # Jacobi converges quadratically; this only bounds pathological input


def _squares(b: Builder, y: Value) -> Value:
    """``|y|²`` elementwise (real)."""
    if _dtypes.is_complex(y.dtype):
        re, im = b.real(y), b.imag(y)
        return b.add(b.multiply(re, re), b.multiply(im, im))
    return b.multiply(y, y)


def _sq_norms(b: Builder, y: Value, axis: int = -1) -> Value:
    """Squared Euclidean norms along ``axis`` of ``y`` (the rows' norms by default; real)."""
    return reduce(b, _squares(b, y), (axis % y.ndim,), "add")


def _along_rows(b: Builder, v: Value, like: Value) -> Value:
    """Per-row values ``v`` (shape ``like.shape[:-1]``) broadcast along the rows of ``like``, in its dtype."""
    return b.broadcast_in_dim(b.convert(v, like.dtype), like.shape, range(like.ndim - 1))


def _rotation(b: Builder, top: Value, bot: Value, tol: float) -> tuple[Value, Value, Value, Value]:
    """The rotations that make rows ``top[i]`` and ``bot[i]`` orthogonal, and whether any was needed.

    With ``α = |t|²``, ``β = |u|²``, ``γ = t·conj(u) = |γ|·φ`` a pair is rotated if
    ``|γ| > tol·sqrt(αβ)``: ``t' = c·t - s·φ·u``, ``u' = s·conj(φ)·t + c·u`` with
    ``ζ = (β - α) / 2|γ|``, ``τ = sign(ζ) / (|ζ| + sqrt(1 + ζ²))``, ``c = 1/sqrt(1 + τ²)``,
    ``s = c·τ`` (the smaller of the two angles that diagonalize the pair's Gram matrix).
    Returns ``c``, ``s·φ``, ``s·conj(φ)`` (per pair) and the flag.
    """
    # One variadic reduce (one pass over the rows) for the three sums.
    sums = [_squares(b, top), _squares(b, bot), b.multiply(top, conj(b, bot))]
    inits = [b.constant(0, v.dtype) for v in sums]
    alpha, beta, gamma = b.reduce(sums, inits, (top.ndim - 1,), lambda r, v: [r.add(v[i], v[i + 3]) for i in range(3)])
    g = b.abs(gamma)
    one, zero = const_like(b, 1, g), const_like(b, 0, g)
    # NaN compares false: a NaN pair is never rotated, so NaN input cannot keep the loop going.
    rotate = b.compare(g, b.multiply(const_like(b, tol, g), b.sqrt(b.multiply(alpha, beta))), "GT")
    g_safe = b.select(rotate, g, one)
    zeta = b.divide(b.subtract(beta, alpha), b.add(g_safe, g_safe))
    mag = b.abs(zeta)
    big = b.compare(mag, one, "GT")
    # |ζ| + sqrt(1 + ζ²) without overflow for huge |ζ|: |ζ|·(1 + sqrt(1 + ζ⁻²)).
    inv = b.divide(one, b.select(big, mag, one))
    denom = b.select(big, b.multiply(mag, b.add(one, b.sqrt(b.add(one, b.multiply(inv, inv))))),
                     b.add(mag, b.sqrt(b.add(one, b.multiply(zeta, zeta)))))
    sign = b.select(b.compare(zeta, zero, "GE"), one, b.negate(one))
    tau = b.divide(sign, denom)
    c = b.rsqrt(b.add(one, b.multiply(tau, tau)))
    s = b.multiply(c, tau)
    c, s = b.select(rotate, c, one), b.select(rotate, s, zero)
    if _dtypes.is_complex(gamma.dtype):
        phase = b.divide(gamma, b.convert(g_safe, gamma.dtype))
        s_c = b.convert(s, gamma.dtype)
        s_phase, s_conj = b.multiply(s_c, phase), b.multiply(s_c, conj(b, phase))
    else:
        s_phase = b.multiply(s, b.sign(gamma))
        s_conj = s_phase
    any_rotated = reduce(b, rotate, tuple(range(rotate.ndim)), "or")
    return c, s_phase, s_conj, any_rotated


def _halves(b: Builder, y: Value) -> tuple[Value, Value]:
    k = y.shape[-2] // 2
    return slice_last(b, y, (0, k), (0, y.shape[-1])), slice_last(b, y, (k, 2 * k), (0, y.shape[-1]))


def _round_robin(b: Builder, top: Value, bot: Value) -> Value:
    """The rows of the next round: ``top[0]`` stays, the other rows move one place around the circle."""
    k = top.shape[-2]
    if k == 1:
        return b.concatenate([top, bot], top.ndim - 2)
    width = top.shape[-1]
    rows = lambda x, lo, hi: slice_last(b, x, (lo, hi), (0, width))  # noqa: E731
    parts = [rows(top, 0, 1), rows(bot, 0, 1), rows(top, 1, k - 1), rows(bot, 1, k), rows(top, k - 1, k)]
    return b.concatenate([p for p in parts if p.shape[-2]], top.ndim - 2)


def _rotate_rows(b: Builder, y: Value, c: Value, s_phase: Value, s_conj: Value) -> tuple[Value, Value]:
    top, bot = _halves(b, y)
    cr = _along_rows(b, c, top)
    new_top = b.subtract(b.multiply(cr, top), b.multiply(_along_rows(b, s_phase, top), bot))
    new_bot = b.add(b.multiply(_along_rows(b, s_conj, top), top), b.multiply(cr, bot))
    return new_top, new_bot


def _jacobi(b: Builder, mats: list[Value], tol: float) -> list[Value]:
    """Rotate the rows of ``mats[0]`` (even count) until pairwise orthogonal; the other ``mats`` get
    the same rotations."""
    n = mats[0].shape[-2]
    k = len(mats)

    def one_round(r: Builder, state: list[Value]) -> list[Value]:
        count, flag = state[k:]
        top, bot = _halves(r, state[0])
        c, s_phase, s_conj, rotated = _rotation(r, top, bot, tol)
        moved = [_round_robin(r, *_rotate_rows(r, m, c, s_phase, s_conj)) for m in state[:k]]
        return moved + [r.add(count, r.constant(1, _INDEX)), r.or_(flag, rotated)]

    def one_sweep(r: Builder, state: list[Value]) -> list[Value]:
        init = state[:k] + [r.constant(0, _INDEX), r.constant(False, _BOOL)]
        out = r.while_(init, lambda q, s: [q.compare(s[k], q.constant(n - 1, _INDEX), "LT")], one_round)
        return out[:k] + [r.add(state[k], r.constant(1, _INDEX)), out[-1]]

    def more(r: Builder, state: list[Value]) -> list[Value]:
        return [r.and_(r.compare(state[k], r.constant(MAX_SWEEPS, _INDEX), "LT"), state[-1])]

    return b.while_(list(mats) + [b.constant(0, _INDEX), b.constant(True, _BOOL)], more, one_sweep)[:k]


def _pad_rows(b: Builder, y: Value, *squares: Value) -> list[Value]:
    """An even number of rows: a zero row in front of ``y``, a unit row and column in front of ``squares``."""
    nd = y.ndim
    out = [b.pad(y, b.constant(0, y.dtype), [0] * (nd - 2) + [1, 0], [0] * nd)]
    for z in squares:
        z = b.pad(z, b.constant(0, z.dtype), [0] * (nd - 2) + [1, 1], [0] * nd)
        corner = b.pad(b.constant(1, z.dtype, z.shape[:-2] + (1, 1)), b.constant(0, z.dtype),
                       [0] * nd, [0] * (nd - 2) + [z.shape[-2] - 1, z.shape[-1] - 1])
        out.append(b.add(z, corner))
    return out


def _unpad_rows(b: Builder, y: Value, n: int, *, column: bool) -> Value:
    """Drop the padding row (and, with ``column``, the padding column) that ``_pad_rows`` added."""
    return slice_last(b, y, (1, n + 1), (1, n + 1) if column else (0, y.shape[-1]))


def _tight(y: Value) -> float:
    """The final tolerance: eps·sqrt(row length), about the rounding error of a row's dot product."""
    return float(np.finfo(_dtypes.real_dtype(y.dtype)).eps) * math.sqrt(y.shape[-1])


def _orthogonal_rows(b: Builder, y: Value, *squares: Value, tol: float) -> list[Value]:
    """``_jacobi`` on any number of rows of ``y``; the square ``squares`` get the same rotations."""
    n = y.shape[-2]
    if n < 2:
        return [y, *squares]
    if n % 2 == 0:
        return _jacobi(b, [y, *squares], tol)
    out = _jacobi(b, _pad_rows(b, y, *squares), tol)
    return [_unpad_rows(b, out[0], n, column=False)] + [_unpad_rows(b, z, n, column=True) for z in out[1:]]


def _rotated(b: Builder, y: Value, tol: float) -> list[Value]:
    """``_orthogonal_rows`` of ``y`` with the rotations accumulated from the identity: ``[Z y, Z]``."""
    return _orthogonal_rows(b, y, identity(b, y.shape[:-1] + (y.shape[-2],), y.dtype), tol=tol)


def _newton_schulz(b: Builder, z: Value) -> Value:
    """One step towards the nearest unitary matrix: ``z + (I - z zᴴ) z / 2``."""
    eye = identity(b, z.shape, z.dtype)
    defect = b.subtract(eye, matmul(b, z, adjoint(b, z)))
    half = b.constant(0.5, z.dtype, z.shape)
    return b.add(z, b.multiply(half, matmul(b, defect, z)))


def _descending(b: Builder, norms: Value, axis: int, *mats: Value) -> list[Value]:
    """``norms`` (batch + (n,)) sorted descending, and ``mats`` (batch + 2 axes) permuted alike along ``axis``."""
    keys = b.negate(norms)
    out = [sort_values(b, [keys, norms], norms.ndim - 1)[1]]
    for m in mats:
        dims = list(range(m.ndim - 2)) + [axis]
        out.append(sort_values(b, [b.broadcast_in_dim(keys, m.shape, dims), m], axis)[1])
    return out


def svd_tall(b: Builder, a: Value, full: bool, vectors: bool) -> tuple[Value, ...]:
    """``(U, s, Vh)`` with ``a = U diag(s) Vh`` (s descending), or ``(s,)``; ``a`` is m x n with m >= n."""
    m, n = a.shape[-2:]
    batch = a.shape[:-2]
    real = _dtypes.real_dtype(a.dtype)
    if n == 0:
        s = b.constant(0, real, batch + (0,))
        if not vectors:
            return (s,)
        u = identity(b, batch + (m, m), a.dtype) if full else b.constant(0, a.dtype, batch + (m, 0))
        return u, s, b.constant(0, a.dtype, batch + (0, 0))
    rows, cols = a.ndim - 2, a.ndim - 1
    # Rows and columns sorted by descending norm: Householder QR is then backward stable row-wise
    # too (Cox & Higham), which graded matrices need.
    row_norms, col_norms = b.sqrt(_sq_norms(b, a, cols)), b.sqrt(_sq_norms(b, a, rows))
    row_perm, col_perm = _permutation(b, row_norms), _permutation(b, col_norms)
    a = _descending(b, row_norms, rows, a)[1]
    packed, taus = qr(b, _descending(b, col_norms, cols, a)[1])
    r = keep_band(b, slice_last(b, packed, (0, n), (0, n)), 0, None)
    if not vectors:
        (y,) = _orthogonal_rows(b, r, tol=_tight(r))
        return (_descending(b, b.sqrt(_sq_norms(b, y)), rows)[0],)
    # The first pass need not go below sqrt(eps): the refinement pass converges from there.
    sqrt_eps = math.sqrt(float(np.finfo(real).eps))
    _, z = _rotated(b, r, sqrt_eps)
    if n > 1:
        z = _newton_schulz(b, z)
        y, z2 = _rotated(b, matmul(b, z, r), _tight(r))
        z = matmul(b, z2, z)
    else:
        y = r
    s, y, z = _descending(b, b.sqrt(_sq_norms(b, y)), rows, y, z)
    # Left vectors: Q Zᴴ (Q's trailing m - n columns complete U when full).
    q = householder_product(b, pad_columns(b, packed, m) if full else packed, taus)
    q_lead = slice_last(b, q, (0, m), (0, n))
    u = matmul(b, q_lead, adjoint(b, z))
    if full and m > n:
        u = b.concatenate([u, slice_last(b, q, (0, m), (n, m))], u.ndim - 1)
    u = _unpermute(b, u, row_perm, rows)
    # Right vectors: U₁ from the QR of Yᴴ (phases from R's diagonal), then rows back in a's column order.
    w_packed, w_taus = qr(b, adjoint(b, y))
    u1 = householder_product(b, w_packed, w_taus)
    phase = unit_phase(b, diagonal(b, w_packed))
    dims = list(range(rows)) + [cols]
    vh = adjoint(b, b.multiply(u1, b.broadcast_in_dim(phase, u1.shape, dims)))
    return u, s, _unpermute(b, vh, col_perm, cols)


def _permutation(b: Builder, norms: Value) -> Value:
    """The indices that sort ``norms`` descending (stable), as in ``_descending``."""
    keys = b.negate(norms)
    return sort_values(b, [keys, b.iota(keys.shape, keys.ndim - 1, _INDEX)], keys.ndim - 1)[1]


def _unpermute(b: Builder, x: Value, perm: Value, axis: int) -> Value:
    """``x`` with slice ``i`` along ``axis`` moved to place ``perm[i]`` (undoes a sort by ``perm``)."""
    dims = list(range(x.ndim - 2)) + [axis]
    return sort_values(b, [b.broadcast_in_dim(perm, x.shape, dims), x], axis)[1]
