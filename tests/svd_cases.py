"""Ill-conditioned SVD test matrices, the error measures, and an extended-precision oracle.

Shared by tests/test_svd_accuracy.py and benchmarks/svd_accuracy.py, which compare
pjrt_array's pure StableHLO SVD with LAPACK's (numpy.linalg.svd) on them.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def _normal(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    z = rng.standard_normal(shape)
    return z + 1j * rng.standard_normal(shape) if np.dtype(dtype).kind == "c" else z


def _orthonormal(rng: np.random.Generator, m: int, n: int, dtype: np.dtype) -> np.ndarray:
    """An m x n matrix with orthonormal columns (m >= n), Haar-distributed."""
    q, r = np.linalg.qr(_normal(rng, (m, n), dtype))
    d = np.diagonal(r)
    return q * (d / np.abs(d))


def graded(m: int, n: int, dtype: np.dtype, seed: int = 0) -> np.ndarray:
    """``D1 Q D2``: a random orthogonal ``Q`` between diagonal scalings 1e-3..1e3 and 0.1..10 (shuffled)."""
    rng = np.random.default_rng(seed)
    d1, d2 = np.logspace(-3, 3, m), np.logspace(-1, 1, n)
    rng.shuffle(d1)
    rng.shuffle(d2)
    q = _orthonormal(rng, max(m, n), max(m, n), dtype)[:m, :n]
    return (d1[:, None] * q * d2[None, :]).astype(dtype)


def column_graded(m: int, n: int, dtype: np.dtype, seed: int = 1) -> np.ndarray:
    """A Gaussian matrix with columns scaled from 1 down to 1e-6."""
    b = _normal(np.random.default_rng(seed), (m, n), dtype)
    return (b * np.logspace(0, -6, n)[None, :]).astype(dtype)


def row_graded(m: int, n: int, dtype: np.dtype, seed: int = 2) -> np.ndarray:
    """A Gaussian matrix with rows scaled from 1e-6 up to 1."""
    b = _normal(np.random.default_rng(seed), (m, n), dtype)
    return (np.logspace(-6, 0, m)[:, None] * b).astype(dtype)


def geometric(m: int, n: int, dtype: np.dtype, seed: int = 3) -> np.ndarray:
    """``U diag(1 .. 1e-6) Vᴴ`` with random orthonormal ``U``, ``V`` (condition 1e6)."""
    rng = np.random.default_rng(seed)
    k = min(m, n)
    u, v = _orthonormal(rng, m, k, dtype), _orthonormal(rng, n, k, dtype)
    return ((u * np.logspace(0, -6, k)) @ np.conj(v.T)).astype(dtype)


def vandermonde7(m: int, n: int, dtype: np.dtype, seed: int = 0) -> np.ndarray:
    """The 7x7 Vandermonde matrix of the points 0..6 (condition 1.6e6; ``m``, ``n``, ``seed`` unused)."""
    return np.vander(np.arange(7.0), 7).astype(dtype)


FAMILIES: dict[str, Callable[..., np.ndarray]] = {
    "graded": graded, "column_graded": column_graded, "row_graded": row_graded, "geometric": geometric,
    "vandermonde7": vandermonde7,
}


def errors(a: np.ndarray, u: np.ndarray, s: np.ndarray, vh: np.ndarray) -> dict[str, float]:
    """Backward error ``|A - U S Vᴴ| / |A|`` and ``|UᴴU - I|``, ``|VᴴV - I|`` (Frobenius, worst of a batch)."""
    k = s.shape[-1]
    wide = np.complex256 if np.iscomplexobj(a) else np.longdouble
    a_, u_, vh_ = a.astype(wide), u.astype(wide), vh.astype(wide)
    rebuilt = (u_[..., :k] * s.astype(np.longdouble)[..., None, :]) @ vh_[..., :k, :]
    norm = lambda x: np.sqrt((np.abs(x) ** 2).sum(axis=(-2, -1)))  # noqa: E731
    eye = lambda n: np.eye(n, dtype=wide)  # noqa: E731
    out = {
        "backward": norm(a_ - rebuilt) / np.maximum(norm(a_), np.finfo(np.longdouble).tiny),
        "orth_u": norm(np.conj(np.swapaxes(u_, -1, -2)) @ u_ - eye(u.shape[-1])),
        "orth_v": norm(vh_ @ np.conj(np.swapaxes(vh_, -1, -2)) - eye(vh.shape[-2])),
    }
    return {key: float(np.max(v)) for key, v in out.items()}


def relative_sv_error(s: np.ndarray, exact: np.ndarray) -> float:
    """The largest ``|s_i - exact_i| / exact_i``."""
    return float(np.max(np.abs(s.astype(np.longdouble) - exact) / exact))


def exact_singular_values(a: np.ndarray) -> np.ndarray:
    """Singular values of one matrix by cyclic one-sided Jacobi in extended precision (long double).

    Slow (Python loops); meant for matrices up to about 30 columns.
    """
    wide = np.complex256 if np.iscomplexobj(a) else np.longdouble
    w = a.astype(wide)
    if w.shape[0] < w.shape[1]:
        w = np.conj(w.T)
    n = w.shape[1]
    tol = np.finfo(np.longdouble).eps * w.shape[0]
    for _ in range(60):
        rotated = False
        for p in range(n - 1):
            for q in range(p + 1, n):
                alpha = np.sum(np.abs(w[:, p]) ** 2)
                beta = np.sum(np.abs(w[:, q]) ** 2)
                gamma = np.sum(np.conj(w[:, p]) * w[:, q])
                g = np.abs(gamma)
                if g <= tol * np.sqrt(alpha * beta):
                    continue
                rotated = True
                zeta = (beta - alpha) / (2 * g)
                t = (1 if zeta >= 0 else -1) / (abs(zeta) + np.sqrt(1 + zeta * zeta))
                c = 1 / np.sqrt(1 + t * t)
                phase = gamma / g
                wp, wq = w[:, p].copy(), w[:, q].copy()
                w[:, p] = c * wp - c * t * np.conj(phase) * wq
                w[:, q] = c * t * phase * wp + c * wq
        if not rotated:
            break
    return np.sort(np.sqrt(np.sum(np.abs(w) ** 2, axis=0)).astype(np.longdouble))[::-1]
