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
gets ``numpy.linalg.LinAlgError`` (see ``_lapack_run``).  Small eager calls on
computed operands skip the program and run the same kernels on the host
(``_lapack_run``).

:func:`serves` is the one place that decides between LAPACK and the pure
lowering, per device platform, plugin capability and dtype (docs/linalg.md).
Each ``*_rule`` below takes the same parameters as the pure rule it replaces
in ``ops/linalg.py``, so the choice swaps the rule and nothing else.
"""

from __future__ import annotations

import importlib
import math
import os
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Sequence

import numpy as np

from .. import _dtypes
from .._pjrt import PjrtError
from ._builder import Builder, Rule, Value
from ._ffi_registry import OncePerPlugin
from ._lower import broadcast_shapes

if TYPE_CHECKING:
    from .._devices import Device

__all__ = ["serves", "set_enabled", "choices", "remember", "linalg_error", "Plan", "Const", "PLANS", "KERNELS", "custom_call",
           "cholesky_rule", "qr_rule", "eigh_rule", "eig_rule", "svd_rule", "rank_rule", "pinv_rule", "solve_rule",
           "inv_rule", "det_rule", "slogdet_rule"]

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


def _error_state_parts() -> tuple[Any, Any] | None:
    """numpy 2's error state: a context variable holding an extension object, and the function
    making one (private names; None where numpy moved them: np.errstate then, the same state)."""
    try:
        umath = importlib.import_module("numpy._core.umath")
        return umath._extobj_contextvar, umath._make_extobj
    except (ImportError, AttributeError):
        return None


_STATE_PARTS = _error_state_parts()


Views = list[np.ndarray]
Kernel = Callable[[Views, Views], None]


def _errors(fail: Callable[[str, int], None] | None) -> Callable[[Kernel], Kernel]:
    """A decorator running a kernel ``(inputs, results)`` under numpy.linalg's error state around
    its gufuncs (``fail`` raises on LAPACK's failure flag; None: every floating-point condition is
    ignored, as ``_quiet`` does).  The state is made once here and set per call, which costs a
    third of what ``with np.errstate(...)`` does (that makes the state and an object every call)."""
    kwargs: dict[str, Any] = {"all": "ignore"} if fail is None else \
        {"call": fail, "invalid": "call", "over": "ignore", "divide": "ignore", "under": "ignore"}
    if _STATE_PARTS is None:
        return np.errstate(**kwargs)
    variable, make = _STATE_PARTS
    state, enter, leave = make(**kwargs), variable.set, variable.reset

    def decorate(fn: Kernel) -> Kernel:
        def guarded(inputs: Views, results: Views) -> None:
            token = enter(state)
            try:
                fn(inputs, results)
            finally:
                leave(token)
        return guarded
    return decorate


def _single_precision_loops(spec: str) -> dict[str, str]:
    """The ``signature=`` of a numpy.linalg gufunc for float32/complex64 operands (by dtype char),
    ``spec`` with ``x`` the double-precision code.  numpy computes single precision in double:
    those operands need the loop named; double ones pick it themselves (each gufunc has one loop
    per operand dtype), with no ``signature=`` to parse."""
    return {"f": spec.replace("x", "d"), "F": spec.replace("x", "D")}


def _writing(gufunc: Any, spec: str, fail: Callable[[str, int], None] | None,
             check: Callable[[np.ndarray], None] | None = None) -> Kernel:
    """An in-place kernel ``(inputs, results)`` running ``gufunc`` into the result views (after
    ``check`` of the first operand, where given)."""
    signatures = _single_precision_loops(spec)

    @_errors(fail)
    def kernel(inputs: Views, results: Views) -> None:
        if check is not None:
            check(inputs[0])
        signature = signatures.get(inputs[0].dtype.char)
        if signature is None:
            gufunc(*inputs, out=tuple(results))
        else:
            gufunc(*inputs, signature=signature, out=tuple(results))
    return kernel


_putmask = np.putmask


_masks: dict[tuple[int, ...], np.ndarray] = {}


def _below_diagonal(shape: tuple[int, ...]) -> np.ndarray:
    """The entries below the diagonal of the matrices of an array of ``shape`` (a mask of that
    shape, broadcast from one matrix's: made once per shape)."""
    mask = _masks.get(shape)
    if mask is None:
        if len(_masks) >= 64:
            _masks.clear()
        rows, cols = shape[-2:]
        mask = _masks[shape] = np.broadcast_to(np.tri(rows, cols, -1, dtype=bool), shape)
    return mask


def _qr(complete: bool) -> Kernel:
    qr_r_raw, expand, qr_reduced = _G.qr_r_raw, _G.qr_complete if complete else _G.qr_reduced, _G.qr_reduced

    @_errors(_QR_FAILED)
    def kernel(inputs: Views, results: Views) -> None:
        (a,), (q, r) = inputs, results
        # qr_r_raw overwrites its operand with R and the reflectors: a float64/complex128 copy,
        # which is R's own memory where R has its shape and is float64/complex128 (a's dtype, as
        # the plan makes it): no copy of R out of it then.  (The gufuncs have float64 and
        # complex128 loops only, so the work array's dtype picks the loop: no ``signature=``.)
        shape = r.shape
        if shape == a.shape and r.dtype.char in "dD":
            r[...] = a  # (``ndarray.__setitem__`` costs half of ``np.copyto``)
            work = r
        else:
            work = a.astype(np.complex128 if a.dtype.kind == "c" else np.float64)
        tau = qr_r_raw(work)
        # complete mode differs from reduced where Q has more columns than R has rows
        (expand if shape[-2] > shape[-1] else qr_reduced)(work, tau, out=(q,))
        if work is not r:
            r[...] = work[..., :shape[-2], :]
        # R is the upper triangle (np.triu's time would be the kernel's largest part at 8x8;
        # putmask costs less than copyto's ``where=``)
        mask = _masks.get(shape)
        _putmask(r, _below_diagonal(shape) if mask is None else mask, 0.0)
    return kernel


_all = np.logical_and.reduce  # (``ndarray.all`` and ``max`` add a Python frame to the ufunc's reduce)
_vdot = np.vdot
_max = np.maximum.reduce
_count = np.add.reduce  # of booleans: their count, as int64


def _finite(a: np.ndarray) -> bool:
    """Whether every entry of ``a`` is finite.  The sum of the squared magnitudes (one BLAS dot, a
    fraction of ``isfinite`` and its reduction) is finite exactly then, unless it overflows: only
    that case looks at each entry."""
    return math.isfinite(_vdot(a, a).real) or bool(_all(np.isfinite(a), axis=None))


def _all_finite(a: np.ndarray) -> None:
    if not _finite(a):  # numpy.linalg checks before LAPACK, with this message
        raise L.LinAlgError("Array must not contain infs or NaNs")


def _count_above(s: np.ndarray, dtype: np.dtype, rtol: np.ndarray, out: np.ndarray) -> None:
    s = s.astype(dtype, copy=False)
    with np.errstate(all="ignore"):  # (inf * 0 is NaN here, as in numpy, not LAPACK's failure)
        # (the largest by max, not the first: an infinite entry gives NaNs with no LAPACK error)
        tol = _max(s, axis=-1, keepdims=True, initial=0) * rtol[..., np.newaxis]
    out[...] = _count(s > tol, axis=-1)


def _count_one(s: list[float], rtol: float) -> int:
    """``_count_above`` for one matrix's float64 values, as Python floats: the same IEEE double
    operations (max, one product, comparisons) without numpy's per-call costs (3 us of 8 values)."""
    if not s:
        return 0
    total = sum(s)  # NaN exactly where a value is (singular values are >= 0: no inf - inf)
    if total != total:  # numpy's max is NaN then, and no value is above a NaN tolerance
        return 0
    tol = max(s) * rtol  # (numpy's max starts at 0, below every value)
    return len([v for v in s if v > tol])


_SINGULAR_VALUE_LOOPS = _single_precision_loops("x->d")


@_errors(_SVD_NOT_CONVERGED)
def _rank(inputs: Views, results: Views) -> None:
    """numpy.linalg.matrix_rank's steps with a given tolerance: the singular values (svdvals' gufunc
    and cast), then the count above ``rtol`` times the largest."""
    a, rtol = inputs
    signature = _SINGULAR_VALUE_LOOPS.get(a.dtype.char)
    s = _G.svd(a) if signature is None else _G.svd(a, signature=signature)
    if s.ndim == 1 and rtol.ndim == 0 and rtol.dtype == s.dtype:  # one matrix, float64 values
        results[0][...] = _count_one(s.tolist(), float(rtol))
    else:
        _count_above(s, _dtypes.real_dtype(a.dtype), rtol, results[0])


def _solve() -> Kernel:
    """numpy's solve, which (like the standard) takes a 1-D b as one vector for every matrix."""
    matrices, vector = _writing(_G.solve, "xx->x", _SINGULAR), _writing(_G.solve1, "xx->x", _SINGULAR)

    def kernel(inputs: Views, results: Views) -> None:
        (vector if inputs[1].ndim == 1 else matrices)(inputs, results)
    return kernel


def _writing_kernels() -> dict[str, Kernel]:
    return {
        "cholesky_lower": _writing(_G.cholesky_lo, "x->x", _NOT_POSITIVE_DEFINITE),
        "cholesky_upper": _writing(_G.cholesky_up, "x->x", _NOT_POSITIVE_DEFINITE),
        "qr_reduced": _qr(False),
        "qr_complete": _qr(True),
        "eigh": _writing(_G.eigh_lo, "x->dx", _EIG_NOT_CONVERGED),
        "eigvalsh": _writing(_G.eigvalsh_lo, "x->d", _EIG_NOT_CONVERGED),
        "matrix_rank": _rank,
        # (numpy returns real arrays where every eigenvalue is real; the results here are complex
        # either way, and casting those real values to complex gives the gufunc's values)
        "eig": _writing(_G.eig, "x->DD", _EIG_NOT_CONVERGED, _all_finite),
        "eigvals": _writing(_G.eigvals, "x->D", _EIG_NOT_CONVERGED, _all_finite),
        "svd_full": _writing(_G.svd_f, "x->xdx", _SVD_NOT_CONVERGED),
        "svd_reduced": _writing(_G.svd_s, "x->xdx", _SVD_NOT_CONVERGED),
        "svdvals": _writing(_G.svd, "x->d", _SVD_NOT_CONVERGED),
        "solve": _solve(),
        "inv": _writing(_G.inv, "x->x", _SINGULAR),
        "det": _writing(_G.det, "x->x", None),
        "slogdet": _writing(_G.slogdet, "x->xd", None),
    }


# name -> (kernel, whether it is in place: writes the result views itself)
KERNELS: dict[str, tuple[Callable[..., Any], bool]] = {name: (_quiet(fn), False) for name, fn in _NUMPY_LINALG.items()}
if _G is not None:
    KERNELS.update({name: (fn, True) for name, fn in _writing_kernels().items()})

# -- the choice ---------------------------------------------------------------------------------

_enabled = os.environ.get("PJRT_ARRAY_LAPACK", "1") != "0"
_choice: dict[tuple, bool] = {}
#: The front ends' choices (``ops/linalg.py``: checked argument types -> the rule that runs; and
#: (key, parameters, aval, device) -> the host call ``_lapack_run.run_cached`` runs), made from
#: :func:`serves` and so dropped with it.
choices: dict[tuple, Any] = {}
_MAX_CHOICES = 4096


def remember(key: tuple, choice: Any) -> None:
    """Keep a front end's choice (all are dropped at once beyond a bound)."""
    if len(choices) >= _MAX_CHOICES:
        choices.clear()
    choices[key] = choice


def _register_all(ffi: Any) -> None:
    for name, (kernel, in_place) in KERNELS.items():
        ffi.register_python_handler(_PREFIX + name, kernel, in_place=in_place)


_registered = OncePerPlugin(_register_all)


def serves(device: "Device", dtype: np.dtype) -> bool:
    """Whether linalg on ``dtype`` arrays of ``device`` runs LAPACK (else the pure StableHLO lowering).

    LAPACK serves CPU devices (the handlers read host memory) whose plugin has the
    FFI extension, for the dtypes LAPACK has (float32/64, complex64/128), with
    numpy 2 installed, unless ``PJRT_ARRAY_LAPACK=0`` or :func:`set_enabled`
    turned it off.
    """
    key = (device.token, dtype)  # (a Device's own hash is a Python call; its uncommitted twin shares the token)
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
    choices.clear()


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
#
# Each rule is made from a *plan*: the kernel, its operands and its results' types, computed from
# anything with a shape and a dtype (the rule's Values, or the Arrays of a call that
# ``_lapack_run`` serves on the host), so both ways run one kernel on one set of operands.

class Const(NamedTuple):
    """A constant operand of a kernel (a tolerance)."""
    value: float


class Plan(NamedTuple):
    kernel: str
    operands: tuple[tuple[int | Const, np.dtype], ...]  # (argument index or constant, dtype) each
    results: tuple[tuple[tuple[int, ...], np.dtype], ...]
    single: bool  # the rule returns its one result rather than a list


PlanFn = Callable[..., Plan]
#: The plan of each LAPACK rule.
PLANS: dict[Any, PlanFn] = {}


def _rule(plan: PlanFn, name: str) -> Rule:
    def rule(b: Builder, *values: Value, **params: Any) -> Value | list[Value]:
        p = plan(*values, **params)
        operands = [b.constant(src.value, dtype) if isinstance(src, Const) else b.convert(values[src], dtype)
                    for src, dtype in p.operands]
        out = custom_call(b, p.kernel, operands, p.results)
        return out[0] if p.single else out
    rule.__name__ = rule.__qualname__ = name  # _cusolver finds its replacements by these names
    PLANS[rule] = plan
    return rule


def _args(*xs: Any) -> tuple[tuple[int, np.dtype], ...]:
    return tuple((i, x.dtype) for i, x in enumerate(xs))


def _real(x: Any) -> np.dtype:
    return _dtypes.real_dtype(x.dtype)


def _cholesky_plan(x: Any, *, upper: bool) -> Plan:
    return Plan("cholesky_upper" if upper else "cholesky_lower", _args(x), ((x.shape, x.dtype),), True)


def _qr_plan(x: Any, *, complete: bool) -> Plan:
    *batch, m, n = x.shape
    k = m if complete else min(m, n)
    return Plan("qr_complete" if complete else "qr_reduced", _args(x),
                (((*batch, m, k), x.dtype), ((*batch, k, n), x.dtype)), False)


def _eigh_plan(x: Any, *, vectors: bool) -> Plan:
    w = (x.shape[:-1], _real(x))
    if vectors:
        return Plan("eigh", _args(x), (w, (x.shape, x.dtype)), False)
    return Plan("eigvalsh", _args(x), (w,), True)


def _eig_plan(x: Any, *, vectors: bool) -> Plan:
    dtype = _dtypes.complex_dtype_for(_real(x))
    w = (x.shape[:-1], dtype)
    if vectors:
        return Plan("eig", _args(x), (w, (x.shape, dtype)), False)
    return Plan("eigvals", _args(x), (w,), True)


def _svd_plan(x: Any, *, full: bool, vectors: bool) -> Plan:
    *batch, m, n = x.shape
    k = min(m, n)
    s = ((*batch, k), _real(x))
    if not vectors:
        return Plan("svdvals", _args(x), (s,), True)
    u, v = (m, n) if full else (k, k)
    return Plan("svd_full" if full else "svd_reduced", _args(x),
                (((*batch, m, u), x.dtype), s, ((*batch, v, n), x.dtype)), False)


def _with_rtol(kernel: str, x: Any, rtol_v: tuple, rtol: float | None, result: tuple) -> Plan:
    """A plan whose second operand is the relative tolerance: the given array, else the constant
    (default max(M, N)·eps)."""
    real = _real(x)
    if rtol_v:
        tol: int | Const = 1
    else:
        tol = Const(max(x.shape[-2:]) * float(np.finfo(real).eps) if rtol is None else rtol)
    return Plan(kernel, ((0, x.dtype), (tol, real)), (result,), True)


def _rank_plan(x: Any, *rtol_v: Any, rtol: float | None) -> Plan:
    return _with_rtol("matrix_rank", x, rtol_v, rtol, (x.shape[:-2], np.dtype("int64")))


def _pinv_plan(x: Any, *rtol_v: Any, rtol: float | None) -> Plan:
    return _with_rtol("pinv", x, rtol_v, rtol, (x.shape[:-2] + x.shape[-2:][::-1], x.dtype))


def _solve_plan(a: Any, rhs: Any, *, vector: bool) -> Plan:
    dtype = _dtypes.promote_types(a.dtype, rhs.dtype)
    if vector:  # numpy's solve, like the standard, takes a 1-D x2 as one vector for every matrix
        shape = a.shape[:-2] + rhs.shape
    else:
        shape = broadcast_shapes(a.shape[:-2], rhs.shape[:-2]) + rhs.shape[-2:]
    return Plan("solve", ((0, dtype), (1, dtype)), ((shape, dtype),), True)


def _inv_plan(x: Any) -> Plan:
    return Plan("inv", _args(x), ((x.shape, x.dtype),), True)


def _det_plan(x: Any) -> Plan:
    return Plan("det", _args(x), ((x.shape[:-2], x.dtype),), True)


def _slogdet_plan(x: Any) -> Plan:
    return Plan("slogdet", _args(x), ((x.shape[:-2], x.dtype), (x.shape[:-2], _real(x))), False)


cholesky_rule = _rule(_cholesky_plan, "cholesky_rule")
qr_rule = _rule(_qr_plan, "qr_rule")
eigh_rule = _rule(_eigh_plan, "eigh_rule")
eig_rule = _rule(_eig_plan, "eig_rule")
svd_rule = _rule(_svd_plan, "svd_rule")
rank_rule = _rule(_rank_plan, "rank_rule")
pinv_rule = _rule(_pinv_plan, "pinv_rule")
solve_rule = _rule(_solve_plan, "solve_rule")
inv_rule = _rule(_inv_plan, "inv_rule")
det_rule = _rule(_det_plan, "det_rule")
slogdet_rule = _rule(_slogdet_plan, "slogdet_rule")
