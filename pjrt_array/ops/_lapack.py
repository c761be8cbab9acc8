"""LAPACK on CPU devices: decompositions lowered to custom calls that numpy.linalg serves.

XLA's CPU plugins have no LAPACK, and the pure StableHLO decompositions
(``_linalg_lower``) are 10-300x slower than LAPACK at mid sizes and slow to
compile.  On a CPU device whose plugin has the FFI extension, the linalg
functions instead lower to ``stablehlo.custom_call @pjrt_array_lapack_<kernel>``;
the plugin calls a Python FFI handler (``_pjrt.extensions.ffi_handler``) with
zero-copy numpy views of the operands, and the handler runs ``numpy.linalg``,
i.e. the LAPACK numpy is built with, batched over the leading dimensions by
numpy's own gufunc loops.  numpy.linalg (rather than ``scipy.linalg.lapack``)
keeps the dependencies as they are, batches in C, and gives exactly numpy's
results and errors: where numpy raises ``LinAlgError`` (singular ``solve`` or
``inv``, ``cholesky`` of a matrix that is not positive definite, no
convergence, non-finite ``eig`` input) the execution fails, and the caller
gets ``numpy.linalg.LinAlgError`` (see :func:`run`).

:func:`serves` is the one place that decides between LAPACK and the pure
lowering, per device platform, plugin capability and dtype (docs/linalg.md).
Each ``*_rule`` below takes the same parameters as the pure rule it replaces
in ``ops/linalg.py``, so the choice swaps the rule and nothing else.
"""

from __future__ import annotations

import functools
import importlib
import os
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from .. import _dtypes, _fusion
from .._dispatch import run as _run
from .._trace_state import state as _trace_state
from .._pjrt import PjrtError
from ._builder import Builder, Value
from ._ffi_registry import OncePerPlugin
from ._lower import broadcast_shapes

if TYPE_CHECKING:
    from .._array import Array
    from .._devices import Device

__all__ = ["serves", "set_enabled", "run", "linalg_error", "custom_call", "cholesky_rule", "qr_rule", "eigh_rule",
           "eig_rule", "svd_rule", "rank_rule", "pinv_rule", "solve_rule", "inv_rule", "det_rule", "slogdet_rule"]

_PREFIX = "pjrt_array_lapack_"
# The kernels use numpy 2's linalg (cholesky(upper=), svdvals, rtol=, the standard's 1-D solve).
_NUMPY_2 = int(np.__version__.split(".")[0]) >= 2
_DTYPES = frozenset(np.dtype(t) for t in ("float32", "float64", "complex64", "complex128"))
_LINALG_ERROR = "LinAlgError: "
L = np.linalg


def _quiet(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with floating-point warnings off: a warning raised on the plugin's thread (or made an
    error by a warnings filter) has no caller to reach; the pure lowering never warns either."""
    def kernel(*args: np.ndarray) -> Any:
        with np.errstate(all="ignore"):
            return fn(*args)
    return kernel


# The handlers, by kernel name: numpy inputs -> numpy outputs, in the custom call's operand order.
_NUMPY_LINALG: dict[str, Callable[..., Any]] = {
    "cholesky_lower": L.cholesky,
    "cholesky_upper": lambda a: L.cholesky(a, upper=True),
    "qr_reduced": lambda a: tuple(L.qr(a, mode="reduced")),
    "qr_complete": lambda a: tuple(L.qr(a, mode="complete")),
    "eigh": lambda a: tuple(L.eigh(a)),
    "eigvalsh": L.eigvalsh,
    "eig": lambda a: tuple(L.eig(a)),
    "eigvals": L.eigvals,
    "svd_full": lambda a: tuple(L.svd(a, full_matrices=True)),
    "svd_reduced": lambda a: tuple(L.svd(a, full_matrices=False)),
    "svdvals": L.svdvals,
    "solve": L.solve,
    "inv": L.inv,
    "det": L.det,
    "slogdet": lambda a: tuple(L.slogdet(a)),
    "pinv": lambda a, rtol: L.pinv(a, rtol=rtol),
    "matrix_rank": lambda a, rtol: L.matrix_rank(a, rtol=rtol),
}

# -- kernels that write the results' memory ------------------------------------------------------
#
# numpy.linalg's functions are thin Python wrappers around LAPACK gufuncs (numpy.linalg._umath_linalg):
# they pick the loop (float64 or complex128: numpy computes float32 in double precision too), set
# an error state that turns LAPACK's failure flag into LinAlgError, and cast the results.  On a
# small matrix the wrapper, the result arrays and the copy into XLA's buffers cost several times
# LAPACK's own time, so where the gufuncs are there, the kernels call them with ``out=`` the
# result views, under numpy's own error states (same results, same errors and messages).

def _gufuncs() -> Any:
    try:
        return importlib.import_module("numpy.linalg._umath_linalg")
    except ImportError:  # numpy moved its private module: the public functions above serve
        return None


_G = _gufuncs()


def _failure(message: str) -> Callable[[str, int], None]:
    def fail(_kind: str, _flag: int) -> None:
        raise L.LinAlgError(message)
    return fail


_SINGULAR = _failure("Singular matrix")
_NOT_POSITIVE_DEFINITE = _failure("Matrix is not positive definite")
_EIG_NOT_CONVERGED = _failure("Eigenvalues did not converge")
_SVD_NOT_CONVERGED = _failure("SVD did not converge")
_QR_FAILED = _failure("Incorrect argument found while performing QR factorization")


def _errors(fail: Callable[[str, int], None] | None) -> np.errstate:
    """numpy.linalg's error state around a gufunc (``fail`` raises on LAPACK's failure flag;
    None: every floating-point condition is ignored, as ``_quiet`` does)."""
    if fail is None:
        return np.errstate(all="ignore")
    return np.errstate(call=fail, invalid="call", over="ignore", divide="ignore", under="ignore")


def _loop(spec: str, x: np.ndarray) -> str:
    """The gufunc loop of numpy.linalg for ``x``: ``spec`` with ``x`` the float64/complex128 code."""
    return spec.replace("x", "D" if x.dtype.kind == "c" else "d")


Views = list[np.ndarray]


def _writing(gufunc: Any, spec: str, fail: Callable[[str, int], None] | None) -> Callable[[Views, Views], None]:
    """An in-place kernel ``(inputs, results)`` running ``gufunc`` into the result views."""
    def kernel(inputs: Views, results: Views) -> None:
        with _errors(fail):
            gufunc(*inputs, signature=_loop(spec, inputs[0]), out=tuple(results))
    return kernel


def _solve(inputs: Views, results: Views) -> None:
    a, b = inputs
    # numpy's solve, like the standard, takes a 1-D b as one vector for every matrix
    with _errors(_SINGULAR):
        (_G.solve1 if b.ndim == 1 else _G.solve)(a, b, signature=_loop("xx->x", a), out=(results[0],))


@functools.lru_cache(maxsize=64)
def _below_diagonal(shape: tuple[int, int]) -> np.ndarray:
    return np.tri(*shape, -1, dtype=bool)


def _qr(complete: bool) -> Callable[[Views, Views], None]:
    def kernel(inputs: Views, results: Views) -> None:
        (a,), (q, r) = inputs, results
        # qr_r_raw overwrites its operand with R and the reflectors: a float64/complex128 copy
        work = a.astype(np.complex128 if a.dtype.kind == "c" else np.float64)
        with _errors(_QR_FAILED):
            tau = _G.qr_r_raw(work, signature=_loop("x->x", a))
            expand = _G.qr_complete if complete and a.shape[-2] > a.shape[-1] else _G.qr_reduced
            expand(work, tau, signature=_loop("xx->x", a), out=(q,))
        # R is the upper triangle (np.triu's time would be the kernel's largest part at 8x8)
        np.copyto(r, work[..., :r.shape[-2], :], casting="same_kind")
        np.copyto(r, 0, where=_below_diagonal(r.shape[-2:]))
    return kernel


def _writing_kernels() -> dict[str, Callable[[Views, Views], None]]:
    return {
        "cholesky_lower": _writing(_G.cholesky_lo, "x->x", _NOT_POSITIVE_DEFINITE),
        "cholesky_upper": _writing(_G.cholesky_up, "x->x", _NOT_POSITIVE_DEFINITE),
        "qr_reduced": _qr(False),
        "qr_complete": _qr(True),
        "eigh": _writing(_G.eigh_lo, "x->dx", _EIG_NOT_CONVERGED),
        "eigvalsh": _writing(_G.eigvalsh_lo, "x->d", _EIG_NOT_CONVERGED),
        "svd_full": _writing(_G.svd_f, "x->xdx", _SVD_NOT_CONVERGED),
        "svd_reduced": _writing(_G.svd_s, "x->xdx", _SVD_NOT_CONVERGED),
        "svdvals": _writing(_G.svd, "x->d", _SVD_NOT_CONVERGED),
        "solve": _solve,
        "inv": _writing(_G.inv, "x->x", _SINGULAR),
        "det": _writing(_G.det, "x->x", None),
        "slogdet": _writing(_G.slogdet, "x->xd", None),
    }


# name -> (kernel, whether it is in place: writes the result views itself)
_KERNELS: dict[str, tuple[Callable[..., Any], bool]] = {name: (_quiet(fn), False) for name, fn in _NUMPY_LINALG.items()}
if _G is not None:
    _KERNELS.update({name: (fn, True) for name, fn in _writing_kernels().items()})

# -- the choice ---------------------------------------------------------------------------------

_enabled = os.environ.get("PJRT_ARRAY_LAPACK", "1") != "0"
_choice: dict[tuple, bool] = {}


def _register_all(ffi: Any) -> None:
    for name, (kernel, in_place) in _KERNELS.items():
        ffi.register_python_handler(_PREFIX + name, kernel, in_place=in_place)


_registered = OncePerPlugin(_register_all)


def serves(device: "Device", dtype: np.dtype) -> bool:
    """Whether linalg on ``dtype`` arrays of ``device`` runs LAPACK (else the pure StableHLO lowering).

    LAPACK serves CPU devices (the handlers read host memory) whose plugin has the
    FFI extension, for the dtypes LAPACK has (float32/64, complex64/128), with
    numpy 2 installed, unless ``PJRT_ARRAY_LAPACK=0`` or :func:`set_enabled`
    turned it off.
    """
    key = (device, dtype)
    choice = _choice.get(key)
    if choice is None:
        choice = _choice[key] = (_enabled and _NUMPY_2 and device.platform == "cpu" and dtype in _DTYPES
                                 and _registered(device.client))
    return choice


def set_enabled(enabled: bool) -> None:
    """Turn the LAPACK kernels on or off for later calls (off: the pure lowering everywhere)."""
    global _enabled
    _enabled = bool(enabled)
    _choice.clear()


def run(rule: Any, params: tuple, args: Sequence["Array"], device: "Device") -> list["Array"]:
    """``_dispatch.run``, with a LAPACK kernel's ``LinAlgError`` raised as ``numpy.linalg.LinAlgError``.

    The CPU plugins execute these programs on the calling thread, so the error
    arrives here; one that arrives later (an execution queued behind unfinished
    inputs) is raised at the next host read as ``InvalidArgument`` (a
    ValueError, as LinAlgError is) with the same message.
    """
    try:
        if _trace_state.fusion is None:
            return _run(rule, params, args, device)
        with _fusion.eagerly():  # automatic fusion never defers a kernel whose error belongs to the call
            return _run(rule, params, args, device)
    except PjrtError as exc:
        error = linalg_error(exc)
        if error is not None:
            raise error from None
        raise


def linalg_error(exc: PjrtError) -> "np.linalg.LinAlgError | None":
    """The ``numpy.linalg.LinAlgError`` a failed execution stands for when a LAPACK kernel
    raised it (eagerly or inside a jitted program); None for any other failure."""
    if _LINALG_ERROR in exc.message:
        return L.LinAlgError(exc.message.split(_LINALG_ERROR, 1)[1])
    return None


# -- emission ---------------------------------------------------------------------------------

def _row_major(shapes: Sequence[tuple[int, ...]]) -> list[list[int]]:
    """Row-major layouts: the handlers view buffers as C-contiguous numpy arrays."""
    return [list(range(len(s) - 1, -1, -1)) for s in shapes]


def custom_call(b: Builder, kernel: str, operands: Sequence[Value],
                results: Sequence[tuple[tuple[int, ...], np.dtype]]) -> list[Value]:
    """Emit the custom call of ``kernel`` on ``operands``; returns its results (shape, dtype as given)."""
    return b.custom_call(f"{_PREFIX}{kernel}", operands, results, api_version=4,
                         operand_layouts=_row_major([v.shape for v in operands]),
                         result_layouts=_row_major([s for s, _ in results]))


# -- rules (parameters as in ops/linalg.py's pure rules) -----------------------------------------

def _real(x: Value) -> np.dtype:
    return _dtypes.real_dtype(x.dtype)


def cholesky_rule(b: Builder, x: Value, *, upper: bool) -> Value:
    return custom_call(b, "cholesky_upper" if upper else "cholesky_lower", [x], [(x.shape, x.dtype)])[0]


def qr_rule(b: Builder, x: Value, *, complete: bool) -> list[Value]:
    *batch, m, n = x.shape
    k = m if complete else min(m, n)
    return custom_call(b, "qr_complete" if complete else "qr_reduced", [x],
                       [((*batch, m, k), x.dtype), ((*batch, k, n), x.dtype)])


def eigh_rule(b: Builder, x: Value, *, vectors: bool) -> Value | list[Value]:
    w = (x.shape[:-1], _real(x))
    if vectors:
        return custom_call(b, "eigh", [x], [w, (x.shape, x.dtype)])
    return custom_call(b, "eigvalsh", [x], [w])[0]


def eig_rule(b: Builder, x: Value, *, vectors: bool) -> Value | list[Value]:
    dtype = _dtypes.complex_dtype_for(_real(x))
    w = (x.shape[:-1], dtype)
    if vectors:
        return custom_call(b, "eig", [x], [w, (x.shape, dtype)])
    return custom_call(b, "eigvals", [x], [w])[0]


def svd_rule(b: Builder, x: Value, *, full: bool, vectors: bool) -> Value | list[Value]:
    *batch, m, n = x.shape
    k = min(m, n)
    s = ((*batch, k), _real(x))
    if not vectors:
        return custom_call(b, "svdvals", [x], [s])[0]
    u, v = (m, n) if full else (k, k)
    return custom_call(b, "svd_full" if full else "svd_reduced", [x],
                       [((*batch, m, u), x.dtype), s, ((*batch, v, n), x.dtype)])


def _rtol(b: Builder, x: Value, rtol_v: tuple[Value, ...], rtol: float | None) -> Value:
    """The relative tolerance as an operand: the given array, else the constant (default max(M, N)·eps)."""
    real = _real(x)
    if rtol_v:
        return b.convert(rtol_v[0], real)
    value = max(x.shape[-2:]) * float(np.finfo(real).eps) if rtol is None else rtol
    return b.constant(value, real)


def rank_rule(b: Builder, x: Value, *rtol_v: Value, rtol: float | None) -> Value:
    return custom_call(b, "matrix_rank", [x, _rtol(b, x, rtol_v, rtol)], [(x.shape[:-2], np.dtype("int64"))])[0]


def pinv_rule(b: Builder, x: Value, *rtol_v: Value, rtol: float | None) -> Value:
    shape = x.shape[:-2] + x.shape[-2:][::-1]
    return custom_call(b, "pinv", [x, _rtol(b, x, rtol_v, rtol)], [(shape, x.dtype)])[0]


def solve_rule(b: Builder, a: Value, rhs: Value, *, vector: bool) -> Value:
    dtype = _dtypes.promote_types(a.dtype, rhs.dtype)
    if vector:  # numpy's solve, like the standard, takes a 1-D x2 as one vector for every matrix
        shape = a.shape[:-2] + rhs.shape
    else:
        shape = broadcast_shapes(a.shape[:-2], rhs.shape[:-2]) + rhs.shape[-2:]
    return custom_call(b, "solve", [b.convert(a, dtype), b.convert(rhs, dtype)], [(shape, dtype)])[0]


def inv_rule(b: Builder, x: Value) -> Value:
    return custom_call(b, "inv", [x], [(x.shape, x.dtype)])[0]


def det_rule(b: Builder, x: Value) -> Value:
    return custom_call(b, "det", [x], [(x.shape[:-2], x.dtype)])[0]


def slogdet_rule(b: Builder, x: Value) -> list[Value]:
    return custom_call(b, "slogdet", [x], [(x.shape[:-2], x.dtype), (x.shape[:-2], _real(x))])

