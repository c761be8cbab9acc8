"""The linear algebra functions of the main namespace: matmul, matrix_transpose, tensordot, vecdot."""

from __future__ import annotations

import functools
import math
import operator
from typing import Any, Sequence

import numpy as np

from .. import _dtypes, _views
from .._array import Array
from .._devices import Device
from .._dispatch import run
from .._trace_state import state as _trace_state, tracing as _tracing
from ._axes import normalize_axis
from ._builder import Builder, Value
from ._host_exact import _FLOATS  # (float32/float64: the dtypes whose sums the host follows)
from ._linalg_lower import broadcast_batch, transpose_last
from ._lower import broadcast, broadcast_shapes, conj
from ._operands import check_array, on_one_device
from ._reduce import reduce

__all__ = ["matmul", "matrix_transpose", "tensordot", "vecdot"]


def _numeric_pair(x1: Any, x2: Any, name: str) -> tuple[Array, Array, np.dtype, Device]:
    x1, x2 = check_array(x1, "x1"), check_array(x2, "x2")
    dtype = _dtypes.promote_types(x1.dtype, x2.dtype)
    if not _dtypes.isdtype(dtype, "numeric"):
        raise TypeError(f"{name} needs numeric arrays, got {x1.dtype} and {x2.dtype}")
    device, (x1, x2) = on_one_device(x1, x2)
    return x1, x2, dtype, device


def _dot(b: Builder, x: Value, y: Value, batch: int, contract: Sequence[tuple[int, int]]) -> Value:
    """``dot_general`` with the first ``batch`` axes batched and ``contract`` pairs summed."""
    bdims = range(batch)
    return b.dot_general(x, y, batch=(bdims, bdims), contract=([c for c, _ in contract], [c for _, c in contract]))


def _matrices(b: Builder, x: Value, y: Value, dtype: np.dtype) -> tuple[Value, Value, bool, bool]:
    """``matmul``'s operands in ``dtype`` as matrices of one batch shape (a 1-D ``x`` a row, a 1-D
    ``y`` a column), and whether each was 1-D."""
    x, y = b.convert(x, dtype), b.convert(y, dtype)
    vec_x, vec_y = x.ndim == 1, y.ndim == 1
    if vec_x:
        x = b.reshape(x, (1,) + x.shape)
    if vec_y:
        y = b.reshape(y, y.shape + (1,))
    x, y = broadcast_batch(b, x, y)
    return x, y, vec_x, vec_y


def _matmul_rule(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
    x, y, vec_x, vec_y = _matrices(b, x, y, dtype)
    out = _dot(b, x, y, x.ndim - 2, [(x.ndim - 1, y.ndim - 2)])
    return b.reshape(out, _matmul_shape(out.shape, vec_x, vec_y))


def _matmul_sum_rule(b: Builder, x: Value, y: Value, *, dtype: np.dtype) -> Value:
    """``matmul`` as ``vecdot`` computes it: the products, each rounded, summed over the contracted
    axis by ``_reduce.reduce`` (in XLA:CPU's order, which the host tier follows bit for bit:
    ``_host_reductions``).  For small real-float operands on a CPU, outside a trace
    (``_MATMUL_SUM_MAX``): a ``dot_general`` has no exact host version, so each new shape compiled
    one (282 programs in scikit-learn's array-API tests); this form runs in numpy at a new shape's
    first sightings."""
    x, y, vec_x, vec_y = _matrices(b, x, y, dtype)
    *batch, m, k = x.shape
    n = y.shape[-1]
    full = (*batch, m, n, k)
    rows = b.broadcast_in_dim(x, full, [*range(len(batch)), len(batch), len(batch) + 2])
    cols = b.broadcast_in_dim(y, full, [*range(len(batch)), len(batch) + 2, len(batch) + 1])
    out = reduce(b, b.multiply(rows, cols), (len(full) - 1,), "add")
    return b.reshape(out, _matmul_shape(out.shape, vec_x, vec_y))


def _matmul_shape(shape: tuple[int, ...], vec_x: bool, vec_y: bool) -> tuple[int, ...]:
    """The result shape of a matrix product computed with 1-D operands made matrices: their
    added axes dropped, as numpy does."""
    return shape[:-2] + (() if vec_x else shape[-2:-1]) + (() if vec_y else shape[-1:])


# The products summed on a CPU (``_matmul_sum_rule``) up to this many of them (the batch's included):
# there a compiled call costs what the dot's does (7-13 us, 16 to 4,096 products, float64), while
# at 10,000-16,000 products it took 2x (17-25 against 8-11 us); 250 of scikit-learn's 282 new
# shapes are within it.  (The host follows reductions below ``_reduce._STAGED_MIN`` only.)
_MATMUL_SUM_MAX = 4096


@functools.lru_cache(maxsize=1024)
def _matmul_plan(aval1: tuple, aval2: tuple, eager_cpu: bool) -> tuple[Any, tuple]:
    """The rule and parameters of ``matmul`` on operands of these types, checked once per pair;
    ``eager_cpu``: an untraced call on one CPU device, where the host tier may run it."""
    (shape1, d1), (shape2, d2) = aval1, aval2
    dtype = _dtypes.promote_types(d1, d2)
    if not _dtypes.isdtype(dtype, "numeric"):
        raise TypeError(f"matmul needs numeric arrays, got {d1} and {d2}")
    if not shape1 or not shape2:
        raise ValueError("matmul does not accept 0-d arrays")
    k1 = shape1[-1]
    k2 = shape2[0] if len(shape2) == 1 else shape2[-2]
    if k1 != k2:
        raise ValueError(f"matmul: shapes {shape1} and {shape2} do not align ({k1} != {k2})")
    batch = broadcast_shapes(shape1[:-2], shape2[:-2])
    products = math.prod(batch) * (shape1[-2] if len(shape1) > 1 else 1) * k1 * (shape2[-1] if len(shape2) > 1 else 1)
    small = eager_cpu and dtype in _FLOATS and products <= _MATMUL_SUM_MAX
    return (_matmul_sum_rule if small else _matmul_rule), (("dtype", dtype),)


def matmul(x1: Any, x2: Any, /) -> Array:
    """Matrix product with numpy's rules for 1-D operands and broadcast batch axes."""
    if type(x1) is not Array or type(x2) is not Array:
        x1, x2 = check_array(x1, "x1"), check_array(x2, "x2")
    device = x1._device
    if device is not x2._device or x1._sharding is not None or x2._sharding is not None:
        device, (x1, x2) = on_one_device(x1, x2)
    # The products summed where the host tier can run them: not in a trace (jit keeps the dot, which
    # XLA fuses with transposes), nor sharded (a NamedSharding placement).
    eager_cpu = type(device) is Device and device.platform == "cpu" and not (_tracing[0] and _trace_state.trace)
    rule, params = _matmul_plan(x1._aval, x2._aval, eager_cpu)
    return run(rule, params, (x1, x2), device)[0]


def _mt_rule(b: Builder, x: Value) -> Value:
    return transpose_last(b, x)


def matrix_transpose(x: Any, /) -> Array:
    """Transpose of the last two axes."""
    x = check_array(x)
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose needs at least 2 dimensions, got shape {x.shape}")
    perm = (*range(x.ndim - 2), x.ndim - 1, x.ndim - 2)
    return _views.attach(run(_mt_rule, (), (x,), x._device)[0], x, "permute", perm)


def _tensordot_rule(b: Builder, x: Value, y: Value, *, pairs: tuple[tuple[int, int], ...], dtype: np.dtype) -> Value:
    return _dot(b, b.convert(x, dtype), b.convert(y, dtype), 0, pairs)


def tensordot(x1: Any, x2: Any, /, *, axes: Any = 2) -> Array:
    """Sum of products over ``axes`` (an int N, or two sequences of axes)."""
    x1, x2, dtype, device = _numeric_pair(x1, x2, "tensordot")
    if isinstance(axes, int) and not isinstance(axes, bool):
        n = operator.index(axes)
        if n < 0 or n > x1.ndim or n > x2.ndim:
            raise ValueError(f"axes={n} is out of range for shapes {x1.shape} and {x2.shape}")
        a1, a2 = list(range(x1.ndim - n, x1.ndim)), list(range(n))
    else:
        try:
            a1, a2 = (list(a) if isinstance(a, (list, tuple)) else [a] for a in axes)
        except (TypeError, ValueError):
            raise TypeError(f"axes must be an int or a pair of sequences, got {axes!r}") from None
        if len(a1) != len(a2):
            raise ValueError("axes: both sequences must have the same length")
        a1 = [normalize_axis(a, x1.ndim, "axes") for a in a1]
        a2 = [normalize_axis(a, x2.ndim, "axes") for a in a2]
    for p, q in zip(a1, a2):
        if x1.shape[p] != x2.shape[q]:
            raise ValueError(f"tensordot: axis {p} of x1 ({x1.shape[p]}) and axis {q} of x2 ({x2.shape[q]}) differ")
    return run(_tensordot_rule, (("pairs", tuple(zip(a1, a2))), ("dtype", dtype)), (x1, x2), device)[0]


def _vecdot_rule(b: Builder, x: Value, y: Value, *, axis: int, dtype: np.dtype) -> Value:
    shape = broadcast_shapes(x.shape, y.shape)
    x = broadcast(b, conj(b, b.convert(x, dtype)), shape)
    y = broadcast(b, b.convert(y, dtype), shape)
    return reduce(b, b.multiply(x, y), (axis % len(shape),), "add")


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Array:
    """Dot product of vectors along ``axis`` (the first operand conjugated)."""
    x1, x2, dtype, device = _numeric_pair(x1, x2, "vecdot")
    shape = broadcast_shapes(x1.shape, x2.shape)
    if not shape:
        raise ValueError("vecdot needs arrays of at least one dimension")
    a = normalize_axis(axis, len(shape))
    neg = a - len(shape)
    if -neg > x1.ndim or -neg > x2.ndim or x1.shape[neg] != x2.shape[neg]:
        raise ValueError(f"vecdot: axis {axis} does not have one size in shapes {x1.shape} and {x2.shape}")
    return run(_vecdot_rule, (("axis", a), ("dtype", dtype)), (x1, x2), device)[0]
