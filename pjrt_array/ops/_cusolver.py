"""cuSOLVER on CUDA devices: decompositions lowered to the FFI kernels of jax's CUDA plugin wheel.

XLA's CUDA plugin runs ``cholesky`` and ``triangular_solve`` on cuSOLVER/cuBLAS
itself, but expands ``Eigh`` and ``Qr`` into loops of small HLO ops: a 1000x1000
``eigh`` or ``svd`` takes seconds to compile and to run.  The kernels jax uses
instead live in the ``jax-cuda{12,13}-plugin`` wheel that comes with the PJRT
plugin (``_solver``, ``_linalg``): typed XLA FFI handlers, exported as
capsules.  :func:`serves` registers them with the CUDA client's FFI registry
(``PJRT_FFI_Register_Handler``, platform ``CUDA``) once, when both wheels are
the same release (the handlers and the plugin share the FFI ABI), and the
linalg functions then lower to ``stablehlo.custom_call``:

- ``eigh``/``eigvalsh``: ``syevd`` (Jacobi up to 32x32, divide and conquer above);
- ``svd``/``svdvals``: ``gesvdj`` (Jacobi);
- ``solve``/``inv``/``det``/``slogdet``: ``getrf`` (LU with partial pivoting),
  then the permuted triangular solves, or the pivots' parity and ``U``'s diagonal;
- ``qr``: ``geqrf`` (Householder), then ``orgqr`` forms ``Q``.

The kernels read column-major matrices (the custom call's layouts say so and
XLA transposes where needed).  A kernel that fails (``info != 0``: no
convergence) gives NaNs, as the pure lowering does; a singular ``solve`` gives
inf/NaN entries.  ``PJRT_ARRAY_CUSOLVER=0`` turns this off.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.metadata
import os
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .. import _dtypes
from ._builder import Builder, Rule, Value
from ._ffi_registry import OncePerPlugin
from ._linalg_lower import (adjoint, broadcast_batch, det_from_parts, diagonal, identity, qr_from_reflectors,
                            slice_last, slogdet_from_parts, triangular_solve)
from ._lower import broadcast, const_like
from ._reduce import reduce
from .indexing import take_along_rule

if TYPE_CHECKING:
    from .._devices import Device

__all__ = ["serves", "RULES"]

_PACKAGES = {"jax_cuda13_plugin": "jax-cuda13-pjrt", "jax_cuda12_plugin": "jax-cuda12-pjrt"}
_TARGETS = ("cusolver_syevd_ffi", "cusolver_gesvdj_ffi", "cusolver_getrf_ffi", "cu_lu_pivots_to_permutation",
            "cusolver_geqrf_ffi", "cusolver_orgqr_ffi")
_DTYPES = frozenset(np.dtype(t) for t in ("float32", "float64", "complex64", "complex128"))
_INT32 = np.dtype("int32")

_enabled = os.environ.get("PJRT_ARRAY_CUSOLVER", "1") != "0"


def _capsule_address(capsule: object) -> int:
    """The pointer a PyCapsule holds (an ``XLA_FFI_Handler*``)."""
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype, api.PyCapsule_GetName.argtypes = ctypes.c_char_p, [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    address = api.PyCapsule_GetPointer(capsule, api.PyCapsule_GetName(capsule))
    if not address:
        raise ValueError("an empty capsule")
    return int(address)


def kernel_addresses() -> dict[str, int] | None:
    """The kernels' handler addresses from the first CUDA plugin wheel that matches its PJRT plugin."""
    for package, pjrt in _PACKAGES.items():
        try:
            if importlib.metadata.version(package.replace("_", "-")) != importlib.metadata.version(pjrt):
                continue  # another release's FFI ABI
            found: dict[str, object] = {}
            for module in ("_solver", "_linalg"):
                found.update(importlib.import_module(f"{package}.{module}").registrations())
        except (ImportError, importlib.metadata.PackageNotFoundError, AttributeError, OSError):
            continue
        if all(name in found for name in _TARGETS):
            return {name: _capsule_address(found[name]) for name in _TARGETS}
    return None


def _register_all(ffi: Any) -> None:
    addresses = kernel_addresses()
    if addresses is None:
        raise LookupError("no CUDA plugin wheel with the solver kernels of this PJRT plugin's release")
    for name, address in addresses.items():
        ffi.register_handler(name, address, platform_name="CUDA")


_registered = OncePerPlugin(_register_all)


def serves(device: "Device", dtype: np.dtype) -> bool:
    """Whether linalg on ``dtype`` arrays of ``device`` runs the cuSOLVER kernels."""
    return _enabled and device.platform == "cuda" and dtype in _DTYPES and _registered(device.client)


# -- emission ---------------------------------------------------------------------------------

def _layout(ndim: int, matrix: bool) -> list[int]:
    """Minor-to-major axis order: column-major matrices (batch axes major), or row-major."""
    if matrix:
        return [ndim - 2, ndim - 1] + list(range(ndim - 3, -1, -1))
    return list(range(ndim - 1, -1, -1))


def _call(b: Builder, target: str, operands: Sequence[Value], results: Sequence[tuple[tuple[int, ...], np.dtype]],
          *, column_major: bool = True, **attrs: object) -> list[Value]:
    """The custom call of ``target``; operands and results of the operands' top rank are column-major matrices."""
    top = max(v.ndim for v in operands)
    return b.custom_call(target, operands, results, api_version=4, backend_config=dict(attrs),
                         operand_layouts=[_layout(v.ndim, column_major and v.ndim == top) for v in operands],
                         result_layouts=[_layout(len(s), column_major and len(s) == top) for s, _ in results])


def _nan_unless_ok(b: Builder, info: Value, x: Value) -> Value:
    """``x`` where its matrix's kernel succeeded (``info == 0``), NaN elsewhere."""
    ok = b.broadcast_in_dim(b.compare(info, const_like(b, 0, info), "EQ"), x.shape, range(info.ndim))
    return b.select(ok, x, const_like(b, float("nan"), x))


def _real(x: Value) -> np.dtype:
    return _dtypes.real_dtype(x.dtype)


def eigh_rule(b: Builder, x: Value, *, vectors: bool) -> Value | list[Value]:
    batch, n = x.shape[:-2], x.shape[-1]
    v, w, info = _call(b, "cusolver_syevd_ffi", [x],
                       [(x.shape, x.dtype), (batch + (n,), _real(x)), (batch, _INT32)],
                       algorithm=np.uint8(0), lower=True)
    w = _nan_unless_ok(b, info, w)
    return [w, _nan_unless_ok(b, info, v)] if vectors else w


def svd_rule(b: Builder, x: Value, *, full: bool, vectors: bool) -> Value | list[Value]:
    *batch_list, m, n = x.shape
    batch, k = tuple(batch_list), min(m, n)
    # gesvdj has no economy mode for batches of matrices up to 32x32: there it computes full U, V.
    econ = not full and m > 32 and n > 32
    _, s, u, v, info = _call(b, "cusolver_gesvdj_ffi", [x],
                             [(x.shape, x.dtype), (batch + (k,), _real(x)),
                              (batch + (m, k if econ else m), x.dtype), (batch + (n, k if econ else n), x.dtype),
                              (batch, _INT32)],
                             full_matrices=not econ, compute_uv=vectors)
    s = _nan_unless_ok(b, info, s)
    if not vectors:
        return s
    if not full and not econ:
        u, v = slice_last(b, u, (0, m), (0, k)), slice_last(b, v, (0, n), (0, k))
    return [_nan_unless_ok(b, info, u), s, _nan_unless_ok(b, info, adjoint(b, v))]


def _lu(b: Builder, x: Value) -> tuple[Value, Value]:
    """Packed ``L\\U`` of ``P x = L U`` and the 0-based LAPACK row swaps (pivots)."""
    batch, n = x.shape[:-2], x.shape[-1]
    lu, pivots, _ = _call(b, "cusolver_getrf_ffi", [x], [(x.shape, x.dtype), (batch + (n,), _INT32), (batch, _INT32)])
    return lu, b.subtract(pivots, const_like(b, 1, pivots))


def _lu_solve(b: Builder, a: Value, rhs: Value) -> Value:
    """Solve ``a @ x = rhs`` for matrices of one batch shape through LU with partial pivoting."""
    lu, pivots = _lu(b, a)
    perm = _call(b, "cu_lu_pivots_to_permutation", [pivots], [(pivots.shape, _INT32)], column_major=False)[0]
    permuted = take_along_rule(b, rhs, b.reshape(perm, perm.shape + (1,)), axis=rhs.ndim - 2)
    y = b.triangular_solve(lu, permuted, left_side=True, lower=True, unit_diagonal=True)
    return triangular_solve(b, lu, y, lower=False)


def solve_rule(b: Builder, a: Value, rhs: Value, *, vector: bool) -> Value:
    dtype = _dtypes.promote_types(a.dtype, rhs.dtype)
    a, rhs = b.convert(a, dtype), b.convert(rhs, dtype)
    if vector:  # one vector for every matrix, as numpy and the standard take a 1-D x2
        n = rhs.shape[0]
        column = broadcast(b, b.reshape(rhs, (n, 1)), a.shape[:-2] + (n, 1))
        out = _lu_solve(b, a, column)
        return b.reshape(out, out.shape[:-1])
    a, rhs = broadcast_batch(b, a, rhs)
    return _lu_solve(b, a, rhs)


def inv_rule(b: Builder, x: Value) -> Value:
    return _lu_solve(b, x, identity(b, x.shape, x.dtype))


def _det_parts(b: Builder, x: Value) -> tuple[Value, Value]:
    """``det(P)`` (+-1: the parity of the row swaps) and ``U``'s diagonal."""
    lu, pivots = _lu(b, x)
    swapped = b.convert(b.compare(pivots, b.iota(pivots.shape, pivots.ndim - 1, _INT32), "NE"), _INT32)
    odd = b.remainder(reduce(b, swapped, (swapped.ndim - 1,), "add"), b.constant(2, _INT32, x.shape[:-2]))
    sign = b.subtract(b.constant(1, x.dtype, odd.shape), b.convert(b.multiply(odd, const_like(b, 2, odd)), x.dtype))
    return sign, diagonal(b, lu)


def det_rule(b: Builder, x: Value) -> Value:
    return det_from_parts(b, *_det_parts(b, x))


def slogdet_rule(b: Builder, x: Value) -> tuple[Value, Value]:
    return slogdet_from_parts(b, *_det_parts(b, x))


def _orgqr(b: Builder, reflectors: Value, taus: Value) -> Value:
    return _call(b, "cusolver_orgqr_ffi", [reflectors, taus], [reflectors.aval])[0]


def qr_rule(b: Builder, x: Value, *, complete: bool) -> list[Value]:
    taus = (x.shape[:-2] + (min(x.shape[-2:]),), x.dtype)
    packed, tau = _call(b, "cusolver_geqrf_ffi", [x], [x.aval, taus])
    return list(qr_from_reflectors(b, packed, tau, complete=complete, product=_orgqr))


# The rules by the name of the LAPACK rule each replaces (ops/_lapack.py); the rest stay pure.
RULES: dict[str, Rule] = {"eigh_rule": eigh_rule, "svd_rule": svd_rule, "qr_rule": qr_rule, "solve_rule": solve_rule,
                          "inv_rule": inv_rule, "det_rule": det_rule, "slogdet_rule": slogdet_rule}
