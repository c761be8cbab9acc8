"""The ``linalg`` extension: decompositions, solves, norms — all as StableHLO.

Decompositions use only what every XLA backend has (see ``_linalg_lower``):

- ``qr``: XLA's Householder ``Qr``; ``solve``/``inv`` go through it
  (``x = R⁻¹ Qᴴ b``), which is backward stable and needs no pivoting.
- ``det``/``slogdet``: from the same QR, with ``det(Q)`` the product of the
  reflectors' determinants ``1 - τ·vᴴv``.
- ``svd``: one-sided Jacobi after a Householder QR, with a refinement pass
  (``_svd_jacobi``); backward error and orthogonality match LAPACK's.

Singular input to ``solve``/``inv`` gives ``inf``/``nan`` entries (the standard
leaves this undefined); ``det`` gives 0 and ``slogdet`` gives ``(0, -inf)``.

On CPU devices these pure rules give way to LAPACK custom calls: ``_pick``
asks ``_lapack.serves`` (the one place that decides, docs/linalg.md), and
there numpy's results and ``LinAlgError`` apply.
"""

from __future__ import annotations

import builtins
import math
import operator
from typing import Any, NamedTuple

import numpy as np

from .. import _dtypes
from .._array import Array
from .._dispatch import run as _dispatch_run
from .._tracing import refuse_traced
from . import _cusolver, _lapack
from ._lapack_run import run, run_cached  # _dispatch.run, or LAPACK on the host; LinAlgError as numpy raises it
from ._axes import normalize_axes, normalize_axis
from ._builder import Builder, Rule, Value
from ._linalg_lower import (adjoint, broadcast_batch, cholesky as _chol, det_from_parts, diagonal as _diag, eigh as _eigh,
                            householder_product, identity, keep_band, matmul, qr as _qr,
                            qr_from_reflectors, slogdet_from_parts, triangular_solve)
from ._svd_jacobi import svd_tall
from ._lower import broadcast, broadcast_shapes, clamp_diagonal, const_like, slice_axis, truth
from ._operands import check_array, on_one_device
from ._reduce import reduce

__all__ = ["cholesky", "cross", "det", "diagonal", "eig", "eigh", "eigvals", "eigvalsh", "inv", "matrix_norm", "matrix_power",
           "matrix_rank", "outer", "pinv", "qr", "slogdet", "solve", "svd", "svdvals", "trace", "vector_norm"]

_FLOATING = ("real floating", "complex floating")
_BOOL = np.dtype(bool)


_tuple_new = tuple.__new__  # (a result tuple from run's list without the NamedTuple's ``__new__`` frame)


class EighResult(NamedTuple):
    eigenvalues: Array
    eigenvectors: Array


class EigResult(NamedTuple):
    eigenvalues: Array
    eigenvectors: Array


class QRResult(NamedTuple):
    Q: Array
    R: Array


class SlogdetResult(NamedTuple):
    sign: Array
    logabsdet: Array


class SVDResult(NamedTuple):
    U: Array
    S: Array
    Vh: Array


# -- argument checks ---------------------------------------------------------------------------

def _matrices(x: Any, name: str, square: bool = False) -> Array:
    x = check_array(x)
    if x.ndim < 2:
        raise ValueError(f"{name} needs an array of at least 2 dimensions, got shape {x.shape}")
    if square and x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{name} needs square matrices, got shape {x.shape}")
    if not _dtypes.isdtype(x.dtype, _FLOATING):
        raise TypeError(f"{name} needs a floating-point array, got {x.dtype}")
    return x


def _pick(pure: Rule, lapack: Rule, x: Array, dtype: np.dtype | None = None) -> Rule:
    """``lapack`` where LAPACK serves ``x``'s device for ``dtype`` (default ``x.dtype``), cuSOLVER's rule
    of the same name where cuSOLVER serves it (non-empty matrices), else ``pure``."""
    dtype = x.dtype if dtype is None else dtype
    if _lapack.serves(x._device, dtype):
        return lapack
    if 0 not in x.shape[-2:] and _cusolver.serves(x._device, dtype):
        return _cusolver.RULES.get(lapack.__name__, pure)
    return pure


def _matrix_rule(x: Any, name: str, pure: Rule | None, lapack: Rule, square: bool = False) -> tuple[Array, Any]:
    """``x`` checked as :func:`_matrices` checks it, and the rule :func:`_pick` picks for it (with no
    ``pure`` rule: ``lapack`` where it serves, else None), both remembered per (rule, type of ``x``,
    device) so that a cached call re-derives neither."""
    key = pure or lapack
    if type(x) is Array:
        rule = _lapack.choices.get((key, x._aval, x._device.token))
        if rule is not None:
            return x, rule
    x = _matrices(x, name, square)
    if pure is None:
        rule = lapack if _lapack.serves(x._device, x.dtype) else None
    else:
        rule = _pick(pure, lapack, x)
    _lapack.remember((key, x._aval, x._device.token), rule)
    return x, rule


def _one(rule: Any, params: tuple, *arrays: Array, front: Any = None) -> Array:
    """The one result of a rule with a decomposition in it (``run``: LAPACK on the host or in a
    program, which ends fusion's segment: its error belongs to the call; ``front``: the key
    ``run_cached`` finds a call of this kind under next time)."""
    x = arrays[0]
    if len(arrays) == 1 and x._sharding is None:  # (most calls: no ``on_one_device`` frame)
        return run(rule, params, arrays, x._device, front)[0]
    device, arrays = on_one_device(*arrays)
    return run(rule, params, arrays, device)[0]


def _op(rule: Any, params: tuple, *arrays: Array) -> Array:
    """The one result of a rule with no decomposition in it: an op like any other, which
    automatic fusion may defer."""
    x = arrays[0]
    if len(arrays) == 1 and x._sharding is None:
        return _dispatch_run(rule, params, arrays, x._device)[0]
    device, arrays = on_one_device(*arrays)
    return _dispatch_run(rule, params, arrays, device)[0]


# -- small rule helpers -------------------------------------------------------------------------

def _scale_columns(b: Builder, x: Value, s: Value) -> Value:
    """``x * s[..., None, :]``."""
    dims = list(range(x.ndim - 2)) + [x.ndim - 1]
    return b.multiply(x, b.convert(b.broadcast_in_dim(s, x.shape, dims), x.dtype))


def _qr_solve(b: Builder, a: Value, rhs: Value) -> Value:
    """Solve ``a @ x = rhs`` (square ``a``) through Householder QR."""
    packed, taus = _qr(b, a)
    q = householder_product(b, packed, taus)
    y = matmul(b, adjoint(b, q), rhs)
    return triangular_solve(b, packed, y, lower=False)


# -- decompositions ---------------------------------------------------------------------------

def _cholesky_rule(b: Builder, x: Value, *, upper: bool) -> Value:
    low = _chol(b, x)
    return adjoint(b, low) if upper else low


def cholesky(x: Any, /, *, upper: bool = False) -> Array:
    """Cholesky factor of Hermitian positive-definite matrices (where not positive-definite:
    ``LinAlgError`` with LAPACK on CPU, NaNs elsewhere)."""
    params = (("upper", True),) if upper else (("upper", False),)
    out = run_cached(_cholesky_rule, params, x)
    if out is not None:
        return out[0]
    x, rule = _matrix_rule(x, "cholesky", _cholesky_rule, _lapack.cholesky_rule, square=True)
    return _one(rule, params, x, front=_cholesky_rule)


def _qr_rule(b: Builder, x: Value, *, complete: bool) -> tuple[Value, Value]:
    scaled, scale = _unit_scale(b, x)  # Householder norms of huge entries would overflow
    q, r = qr_from_reflectors(b, *_qr(b, scaled), complete=complete, product=householder_product)
    factor = b.broadcast_in_dim(scale, r.shape, range(scale.ndim))
    return q, b.multiply(r, b.convert(factor, r.dtype))


def qr(x: Any, /, *, mode: str = "reduced") -> QRResult:
    """QR decomposition; ``mode`` is ``"reduced"`` or ``"complete"``."""
    params = _QR_MODES.get(mode)
    out = run_cached(_qr_rule, params, x) if params is not None else None
    if out is not None:
        return _tuple_new(QRResult, out)
    x, rule = _matrix_rule(x, "qr", _qr_rule, _lapack.qr_rule)
    if params is None:
        raise ValueError(f"mode must be 'reduced' or 'complete', got {mode!r}")
    return _tuple_new(QRResult, run(rule, params, (x,), x._device, _qr_rule))


_QR_MODES = {"reduced": (("complete", False),), "complete": (("complete", True),)}  # (the rule's parameters)


_VECTORS, _VALUES = (("vectors", True),), (("vectors", False),)  # (eig and eigh's parameters)


def _eigh_rule(b: Builder, x: Value, *, vectors: bool) -> Value | tuple[Value, Value]:
    w, v = _eigh(b, x)
    return (w, v) if vectors else w


def eigh(x: Any, /) -> EighResult:
    """Eigenvalues (ascending) and eigenvectors of Hermitian matrices (lower triangle used)."""
    out = run_cached(_eigh_rule, _VECTORS, x)
    if out is None:
        x, rule = _matrix_rule(x, "eigh", _eigh_rule, _lapack.eigh_rule, square=True)
        out = run(rule, _VECTORS, (x,), x._device, _eigh_rule)
    return _tuple_new(EighResult, out)


def _general_eig(x: Array, vectors: bool) -> tuple[Array, ...]:
    """``eig`` where LAPACK does not serve ``x``: ``numpy.linalg.eig`` on the host.

    A non-symmetric eigensolver needs a shifted Hessenberg QR iteration with
    deflation, which no XLA backend offers as a primitive; until it is written as
    a ``stablehlo.while`` program, devices without LAPACK send the matrices on a
    round trip through the host (the results are put back on ``x``'s device).
    """
    from .creation import asarray
    refuse_traced("linalg.eig/eigvals", "they run on the host with numpy", x)
    dtype = _dtypes.complex_dtype_for(_dtypes.real_dtype(x.dtype))
    host = np.asarray(x)
    if not np.isfinite(host).all():
        raise ValueError("eig needs finite input")
    if vectors:
        w, v = np.linalg.eig(host)
        return asarray(w.astype(dtype), device=x._device), asarray(v.astype(dtype), device=x._device)
    return (asarray(np.linalg.eigvals(host).astype(dtype), device=x._device),)


def eig(x: Any, /) -> EigResult:
    """Eigenvalues and right eigenvectors (columns) of general square matrices, complex-valued.

    LAPACK on CPU devices (its custom call), a host round trip elsewhere (see ``_general_eig``).
    """
    out = run_cached(_lapack.eig_rule, _VECTORS, x)
    if out is None:
        x, rule = _matrix_rule(x, "eig", None, _lapack.eig_rule, square=True)
        if rule is None:
            return EigResult(*_general_eig(x, True))
        out = run(rule, _VECTORS, (x,), x._device, _lapack.eig_rule)
    return _tuple_new(EigResult, out)


def eigvals(x: Any, /) -> Array:
    """Eigenvalues of general square matrices, complex-valued (see ``eig``)."""
    out = run_cached(_lapack.eig_rule, _VALUES, x)
    if out is None:
        x, rule = _matrix_rule(x, "eigvals", None, _lapack.eig_rule, square=True)
        if rule is None:
            return _general_eig(x, False)[0]
        out = run(rule, _VALUES, (x,), x._device, _lapack.eig_rule)
    return out[0]


def eigvalsh(x: Any, /) -> Array:
    """Eigenvalues (ascending) of Hermitian matrices."""
    out = run_cached(_eigh_rule, _VALUES, x)
    if out is not None:
        return out[0]
    x, rule = _matrix_rule(x, "eigvalsh", _eigh_rule, _lapack.eigh_rule, square=True)
    return _one(rule, _VALUES, x, front=_eigh_rule)


def _unit_scale(b: Builder, x: Value) -> tuple[Value, Value]:
    """``x / scale`` and ``scale = max|x|`` per matrix (1 for zero matrices): keeps ``xᴴx`` finite."""
    mag = b.abs(x)
    scale = reduce(b, mag, (x.ndim - 2, x.ndim - 1), "maximum", keepdims=True)
    scale = b.select(b.compare(scale, const_like(b, 0, scale), "EQ"), const_like(b, 1, scale), scale)
    scaled = b.divide(x, b.convert(broadcast(b, scale, x.shape), x.dtype))
    return scaled, b.reshape(scale, x.shape[:-2])


def _svd_rule(b: Builder, x: Value, *, full: bool, vectors: bool) -> tuple[Value, ...] | Value:
    out = _svd(b, x, full, vectors)
    return out if vectors else out[0]


def _svd(b: Builder, x: Value, full: bool, vectors: bool) -> tuple[Value, ...]:
    """(U, S, Vh), or (S,) without ``vectors``.

    Like numpy.linalg, narrower dtypes are computed in double precision and the
    results rounded back: that is the accuracy numpy users get for float32.
    """
    wide = np.dtype(np.complex128 if _dtypes.is_complex(x.dtype) else np.float64)
    out = _svd_wide(b, b.convert(x, wide), full, vectors)
    real = _dtypes.real_dtype(x.dtype)
    if not vectors:
        return (b.convert(out[0], real),)
    u, s, vh = out
    return b.convert(u, x.dtype), b.convert(s, real), b.convert(vh, x.dtype)


def _svd_wide(b: Builder, x: Value, full: bool, vectors: bool) -> tuple[Value, ...]:
    m, n = x.shape[-2:]
    x, scale = _unit_scale(b, x)
    out = svd_tall(b, x if m >= n else adjoint(b, x), full, vectors)  # xᴴ = U' S V'ᴴ: x = V' S U'ᴴ
    s = out[1] if vectors else out[0]
    dims = list(range(s.ndim - 1))
    s = b.multiply(s, b.broadcast_in_dim(scale, s.shape, dims))
    if not vectors:
        return (s,)
    if m >= n:
        return out[0], s, out[2]
    return adjoint(b, out[2]), s, adjoint(b, out[0])


def svd(x: Any, /, *, full_matrices: bool = True) -> SVDResult:
    """Singular value decomposition ``x = U @ diag(S) @ Vh`` (S descending)."""
    params = (("full", True), ("vectors", True)) if full_matrices else (("full", False), ("vectors", True))
    out = run_cached(_svd_rule, params, x)
    if out is None:
        x, rule = _matrix_rule(x, "svd", _svd_rule, _lapack.svd_rule)
        out = run(rule, params, (x,), x._device, _svd_rule)
    return _tuple_new(SVDResult, out)


def svdvals(x: Any, /) -> Array:
    """Singular values, descending."""
    params = (("full", False), ("vectors", False))
    out = run_cached(_svd_rule, params, x)
    if out is not None:
        return out[0]
    x, rule = _matrix_rule(x, "svdvals", _svd_rule, _lapack.svd_rule)
    return _one(rule, params, x, front=_svd_rule)


def _cutoff(b: Builder, s: Value, rtol: float | None, rtol_v: Value | None, m: int, n: int) -> Value:
    """Singular values above ``rtol * max(s)`` (per matrix), as a boolean mask."""
    smax = reduce(b, s, (s.ndim - 1,), "maximum", keepdims=True)
    if rtol_v is not None:
        tol = broadcast(b, b.convert(rtol_v, s.dtype), smax.shape[:-1])
        tol = b.reshape(tol, smax.shape)
    else:
        value = builtins.max(m, n) * float(np.finfo(s.dtype).eps) if rtol is None else rtol
        tol = b.constant(value, s.dtype, smax.shape)
    return b.compare(s, broadcast(b, b.multiply(tol, smax), s.shape), "GT")


def _rank_rule(b: Builder, x: Value, *rtol_v: Value, rtol: float | None) -> Value:
    m, n = x.shape[-2:]
    (s,) = _svd(b, x, False, False)
    keep = _cutoff(b, s, rtol, rtol_v[0] if rtol_v else None, m, n)
    return reduce(b, b.convert(keep, np.dtype("int64")), (s.ndim - 1,), "add")


_DEFAULT_RTOL = ((("rtol", None),), ())  # (the parameters and extra operands of rtol=None, made once)


def _rtol_args(x: Array, rtol: Any) -> tuple[tuple, tuple[Array, ...]]:
    if rtol is None:
        return _DEFAULT_RTOL
    if isinstance(rtol, (int, float)) and not isinstance(rtol, bool):
        return (("rtol", float(rtol)),), ()
    rtol = check_array(rtol, "rtol")
    if rtol.shape and broadcast_shapes(rtol.shape, x.shape[:-2]) != x.shape[:-2]:
        raise ValueError(f"rtol of shape {rtol.shape} does not broadcast to the batch shape {x.shape[:-2]}")
    return (("rtol", None),), (rtol,)


def matrix_rank(x: Any, /, *, rtol: Any = None) -> Array:
    """Number of singular values above ``rtol * largest`` (default rtol: max(M, N) * eps)."""
    if rtol is None:
        out = run_cached(_rank_rule, _DEFAULT_RTOL[0], x)
        if out is not None:
            return out[0]
    x, rule = _matrix_rule(x, "matrix_rank", _rank_rule, _lapack.rank_rule)
    params, extra = _rtol_args(x, rtol)
    return _one(rule, params, x, *extra, front=_rank_rule)


def _pinv_rule(b: Builder, x: Value, *rtol_v: Value, rtol: float | None) -> Value:
    m, n = x.shape[-2:]
    u, s, vh = _svd(b, x, False, True)
    keep = _cutoff(b, s, rtol, rtol_v[0] if rtol_v else None, m, n)
    one = const_like(b, 1, s)
    inv = b.select(keep, b.divide(one, b.select(keep, s, one)), const_like(b, 0, s))
    return matmul(b, _scale_columns(b, adjoint(b, vh), inv), adjoint(b, u))


def pinv(x: Any, /, *, rtol: Any = None) -> Array:
    """Moore-Penrose pseudo-inverse (singular values below ``rtol * largest`` dropped)."""
    if rtol is None:
        out = run_cached(_pinv_rule, _DEFAULT_RTOL[0], x)
        if out is not None:
            return out[0]
    x, rule = _matrix_rule(x, "pinv", _pinv_rule, _lapack.pinv_rule)
    params, extra = _rtol_args(x, rtol)
    return _one(rule, params, x, *extra, front=_pinv_rule)


# -- solves, inverses, determinants -------------------------------------------------------------

def _solve_rule(b: Builder, a: Value, rhs: Value, *, vector: bool) -> Value:
    if vector:
        rhs = b.reshape(rhs, rhs.shape + (1,))
    a, rhs = broadcast_batch(b, a, rhs)
    dtype = _dtypes.promote_types(a.dtype, rhs.dtype)
    out = _qr_solve(b, b.convert(a, dtype), b.convert(rhs, dtype))
    if vector:
        out = b.reshape(out, out.shape[:-1])
    return out


def solve(x1: Any, x2: Any, /) -> Array:
    """Solve ``x1 @ x = x2`` for square ``x1`` (``x2`` a vector when 1-D)."""
    if type(x1) is Array and type(x2) is Array:  # the checks and choice below, remembered per types
        found = _lapack.choices.get((_solve_rule, x1._aval, x2._aval, x1._device.token))
        if found is not None:
            return _one(*found, x1, x2)
    rule, params = _solve_checked(x1, x2)
    return _one(rule, params, x1, x2)


def _solve_checked(x1: Any, x2: Any) -> tuple[Rule, tuple]:
    """``solve``'s checks of its arguments, and the rule and parameters it runs."""
    x1 = _matrices(x1, "solve", square=True)
    x2 = check_array(x2, "x2")
    if not _dtypes.isdtype(x2.dtype, _FLOATING):
        raise TypeError(f"solve needs floating-point arrays, got {x2.dtype}")
    vector = x2.ndim == 1
    rows = x2.shape[0] if vector else (x2.shape[-2] if x2.ndim >= 2 else None)
    if rows != x1.shape[-1]:
        raise ValueError(f"solve: x2 of shape {x2.shape} does not match x1 of shape {x1.shape}")
    if not vector:
        broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
    rule = _pick(_solve_rule, _lapack.solve_rule, x1, _dtypes.promote_types(x1.dtype, x2.dtype))
    found = rule, (("vector", vector),)
    _lapack.remember((_solve_rule, x1._aval, x2._aval, x1._device.token), found)
    return found


def _inv_rule(b: Builder, x: Value) -> Value:
    return _qr_solve(b, x, identity(b, x.shape, x.dtype))


def inv(x: Any, /) -> Array:
    """Inverse of square matrices (singular input: ``LinAlgError`` with LAPACK on CPU, inf/nan elsewhere)."""
    out = run_cached(_inv_rule, (), x)
    if out is not None:
        return out[0]
    x, rule = _matrix_rule(x, "inv", _inv_rule, _lapack.inv_rule, square=True)
    return _one(rule, (), x, front=_inv_rule)


def _det_parts(b: Builder, x: Value) -> tuple[Value, Value]:
    """``det(Q)`` (unit modulus) and the diagonal of ``R`` for ``x = QR``."""
    packed, taus = _qr(b, x)
    n = x.shape[-1]
    mag = b.abs(keep_band(b, packed, None, -1))
    norms = reduce(b, b.multiply(mag, mag), (x.ndim - 2,), "add")  # |v_i|² - 1 per column
    vnorm = b.convert(b.add(norms, const_like(b, 1, norms)), x.dtype)
    # det(I - τ v vᴴ) = 1 - τ vᴴv (matrix determinant lemma).
    factors = b.subtract(const_like(b, 1, taus), b.multiply(taus, vnorm))
    det_q = reduce(b, factors, (taus.ndim - 1,), "multiply") if n else b.constant(1, x.dtype, x.shape[:-2])
    return det_q, _diag(b, packed)


def _det_rule(b: Builder, x: Value) -> Value:
    return det_from_parts(b, *_det_parts(b, x))


def det(x: Any, /) -> Array:
    """Determinant of square matrices."""
    out = run_cached(_det_rule, (), x)
    if out is not None:
        return out[0]
    x, rule = _matrix_rule(x, "det", _det_rule, _lapack.det_rule, square=True)
    return _one(rule, (), x, front=_det_rule)


def _slogdet_rule(b: Builder, x: Value) -> tuple[Value, Value]:
    return slogdet_from_parts(b, *_det_parts(b, x))


def slogdet(x: Any, /) -> SlogdetResult:
    """Sign (unit modulus, 0 if singular) and natural log of |det| of square matrices."""
    out = run_cached(_slogdet_rule, (), x)
    if out is None:
        x, rule = _matrix_rule(x, "slogdet", _slogdet_rule, _lapack.slogdet_rule, square=True)
        out = run(rule, (), (x,), x._device, _slogdet_rule)
    return _tuple_new(SlogdetResult, out)


def _power_rule(b: Builder, x: Value, *, n: int, inverse: Rule | None) -> Value:
    if inverse is not None:  # given exactly when n < 0
        x = inverse(b, x)
        n = -n
    result = None
    base = x
    while n:
        if n & 1:
            result = base if result is None else matmul(b, result, base)
        n >>= 1
        if n:
            base = matmul(b, base, base)
    return result if result is not None else identity(b, x.shape, x.dtype)


def matrix_power(x: Any, n: int, /) -> Array:
    """``x`` raised to the integer power ``n`` (negative: of the inverse)."""
    x = check_array(x)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"matrix_power needs square matrices, got shape {x.shape}")
    n = operator.index(n)
    if n < 0 and not _dtypes.isdtype(x.dtype, _FLOATING):
        raise TypeError("matrix_power with a negative exponent needs a floating-point array")
    inverse = _pick(_inv_rule, _lapack.inv_rule, x) if n < 0 else None  # a positive power has no inverse in it
    params = (("n", n), ("inverse", inverse))
    return _op(_power_rule, params, x) if inverse is None else _one(_power_rule, params, x)


# -- norms, traces, products --------------------------------------------------------------------

def _vector_norm_rule(b: Builder, x: Value, *, axes: tuple[int, ...], keepdims: bool, ord: float) -> Value:
    mag = b.abs(x)
    if ord == math.inf:
        return reduce(b, mag, axes, "maximum", keepdims)
    if ord == -math.inf:
        return reduce(b, mag, axes, "minimum", keepdims)
    if ord == 0:
        return reduce(b, b.convert(truth(b, mag), mag.dtype), axes, "add", keepdims)
    if ord == 1:
        return reduce(b, mag, axes, "add", keepdims)
    if ord == 2:
        total = reduce(b, b.multiply(mag, mag), axes, "add", keepdims)
        return b.sqrt(total)
    total = reduce(b, b.power(mag, const_like(b, ord, mag)), axes, "add", keepdims)
    return b.power(total, const_like(b, 1.0 / ord, total))


def vector_norm(x: Any, /, *, axis: Any = None, keepdims: bool = False, ord: float = 2) -> Array:
    """Vector p-norm over ``axis`` (all axes when None)."""
    x = check_array(x)
    if not _dtypes.isdtype(x.dtype, _FLOATING):
        raise TypeError(f"vector_norm needs a floating-point array, got {x.dtype}")
    if not isinstance(ord, (int, float)) or isinstance(ord, bool):
        raise TypeError(f"ord must be a number, got {ord!r}")
    axes = normalize_axes(axis, x.ndim)
    return _op(_vector_norm_rule, (("axes", axes), ("keepdims", bool(keepdims)), ("ord", float(ord))), x)


def _matrix_norm_rule(b: Builder, x: Value, *, keepdims: bool, ord: Any, svd: Rule) -> Value:
    rows, cols = x.ndim - 2, x.ndim - 1
    if ord == "fro":
        out = _vector_norm_rule(b, x, axes=(rows, cols), keepdims=False, ord=2)
    elif ord in ("nuc", 2, -2):
        s = svd(b, x, full=False, vectors=False)
        op = {"nuc": "add", 2: "maximum", -2: "minimum"}[ord]
        out = reduce(b, s, (s.ndim - 1,), op)
    else:
        mag = b.abs(x)
        summed_axis, then = (rows, "maximum" if ord == 1 else "minimum") if ord in (1, -1) else \
            (cols, "maximum" if ord == math.inf else "minimum")
        out = reduce(b, reduce(b, mag, (summed_axis,), "add"), (x.ndim - 2,), then)
    if keepdims:
        out = b.reshape(out, out.shape + (1, 1))
    return out


def matrix_norm(x: Any, /, *, keepdims: bool = False, ord: Any = "fro") -> Array:
    """Matrix norm of the last two axes: 'fro', 'nuc', 1, -1, 2, -2, inf or -inf."""
    x = _matrices(x, "matrix_norm")
    if ord not in ("fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf) or isinstance(ord, bool):
        raise ValueError(f"unsupported matrix norm order {ord!r}")
    if ord != "fro" and 0 in x.shape[-2:]:
        raise ValueError(f"matrix_norm of order {ord!r} is not defined for empty matrices")
    key = float(ord) if isinstance(ord, (int, float)) and abs(ord) == math.inf else ord
    svd = _pick(_svd_rule, _lapack.svd_rule, x) if ord in ("nuc", 2, -2) else None
    params = (("keepdims", bool(keepdims)), ("ord", key), ("svd", svd))
    return _op(_matrix_norm_rule, params, x) if svd is None else _one(_matrix_norm_rule, params, x)


def _diagonal_rule(b: Builder, x: Value, *, offset: int) -> Value:
    return _diag(b, x, offset)


def diagonal(x: Any, /, *, offset: int = 0) -> Array:
    """The ``offset``-th diagonal of the last two axes."""
    x = check_array(x)
    if x.ndim < 2:
        raise ValueError(f"diagonal needs an array of at least 2 dimensions, got shape {x.shape}")
    return _op(_diagonal_rule, (("offset", clamp_diagonal(offset, *x.shape[-2:])),), x)


def _trace_rule(b: Builder, x: Value, *, offset: int, dtype: np.dtype) -> Value:
    d = _diag(b, b.convert(x, dtype), offset)
    return reduce(b, d, (d.ndim - 1,), "add")


def trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Array:
    """Sum of the ``offset``-th diagonal (integers accumulate as in ``sum``)."""
    x = check_array(x)
    if x.ndim < 2:
        raise ValueError(f"trace needs an array of at least 2 dimensions, got shape {x.shape}")
    from .statistical import _accumulator_dtype
    out_dtype = _accumulator_dtype(x, dtype, "trace")
    return _op(_trace_rule, (("offset", clamp_diagonal(offset, *x.shape[-2:])), ("dtype", out_dtype)), x)


def _cross_rule(b: Builder, x: Value, y: Value, *, axis: int, dtype: np.dtype) -> Value:
    shape = broadcast_shapes(x.shape, y.shape)
    x, y = broadcast(b, b.convert(x, dtype), shape), broadcast(b, b.convert(y, dtype), shape)
    ax = axis % len(shape)
    xs = [slice_axis(b, x, ax, i, i + 1) for i in range(3)]
    ys = [slice_axis(b, y, ax, i, i + 1) for i in range(3)]
    parts = [b.subtract(b.multiply(xs[i], ys[j]), b.multiply(xs[j], ys[i])) for i, j in ((1, 2), (2, 0), (0, 1))]
    return b.concatenate(parts, ax)


def cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Array:
    """Cross product of 3-element vectors along ``axis``."""
    x1, x2 = check_array(x1, "x1"), check_array(x2, "x2")
    if not _dtypes.isdtype(x1.dtype, "numeric") or not _dtypes.isdtype(x2.dtype, "numeric"):
        raise TypeError("cross needs numeric arrays")
    shape = broadcast_shapes(x1.shape, x2.shape)  # ValueError for incompatible shapes
    # The axis counts from the end, so arrays of different rank agree on it.
    neg = normalize_axis(axis, builtins.min(x1.ndim, x2.ndim)) - builtins.min(x1.ndim, x2.ndim)
    if x1.shape[neg] != 3 or x2.shape[neg] != 3:
        raise ValueError(f"cross needs 3 elements along axis {axis}, got shapes {x1.shape} and {x2.shape}")
    a = neg % len(shape)
    dtype = _dtypes.promote_types(x1.dtype, x2.dtype)
    return _op(_cross_rule, (("axis", a), ("dtype", dtype)), x1, x2)


def _outer_rule(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
    shape = (x.shape[0], y.shape[0])
    return b.multiply(b.broadcast_in_dim(b.convert(x, dtype), shape, [0]),
                      b.broadcast_in_dim(b.convert(y, dtype), shape, [1]))


def outer(x1: Any, x2: Any, /) -> Array:
    """Outer product of two 1-D arrays."""
    x1, x2 = check_array(x1, "x1"), check_array(x2, "x2")
    if x1.ndim != 1 or x2.ndim != 1:
        raise ValueError(f"outer needs 1-D arrays, got shapes {x1.shape} and {x2.shape}")
    dtype = _dtypes.promote_types(x1.dtype, x2.dtype)
    if dtype == _BOOL:
        raise TypeError("outer needs numeric arrays")
    return _op(_outer_rule, (("dtype", dtype),), x1, x2)
