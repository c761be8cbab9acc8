"""numpy implementations of the rules the first-sight host tier may run (``pjrt_array._host_tier``).

``HOST_RULES`` maps a lowering rule to ``fn(params, *operands) -> list of numpy arrays``, where
``params`` is the rule's keyword parameters and the operands are numpy views of the argument
buffers (read-only; a result may be a view of them: the dispatcher copies results into new
buffers).  Each function gives, bit for bit, what the compiled program of its rule gives, so only
rules with exact semantics are here:

- data movement (reshape, transposes, broadcasts, joins and splits, flips, rolls, tiles, basic and
  advanced indexing, ``take``, ``take_along_axis``, view re-derivation) and ``where``;
- fills (``full``'s broadcast, ``eye``, ``arange`` but in float16 and complex, ``tril``/``triu``,
  ``meshgrid``);
- integer and boolean arithmetic that wraps the same way (``any``/``all``, ``count_nonzero``,
  ``nonzero``, bitwise ops);
- reductions (``_host_reductions``): integer ones; float ones where every order of evaluation gives
  the same bits, else float sums, products, means, variances, ``vecdot`` and ``vector_norm`` in
  XLA:CPU's order;
- element-wise comparisons, ``isnan``/``isinf``/``isfinite``, ``abs``/``negative``, ``sign``,
  ``real``/``imag``/``conj``/``signbit``, ``maximum``/``minimum``, ``clip``, ``diff``, ``sqrt``,
  ``+ - * /`` of real floats (``+ -`` of complex ones) and ``astype``: IEEE operations, correctly
  rounded on both sides, with XLA:CPU's denormal handling emulated (``_flushed``);
- writes (``__setitem__``'s region update and scatter, which the dispatcher runs here without
  donating the target: the result is a new array, as the non-donating program's is);
- integer ``floor_divide``/``remainder`` (floored; 0 for a zero divisor, as numpy gives);
- orders (``sort``, ``argsort``, ``argmax``, ``argmin``, ``searchsorted``, ``unique_*``): XLA:CPU runs programs with denormals
  treated as zero, so a float32/float64 subnormal compares as a zero of its sign there; the keys
  here are compared the same way (``_daz``), and the values moved are the original ones.

Out-of-range integer indices are clamped as XLA's gather and ``dynamic_slice`` clamp them, after
negative ones are wrapped once (``_wrap``), as the rules do.  A case that is not exact on the host
(transcendental functions, a float sum whose partial result is subnormal, a narrowing conversion
near the subnormal range) raises :class:`NotExact` and the dispatcher compiles instead.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .. import _views
from . import _elementwise_rules
from ._host_exact import _FLOATS, NotExact, _cast, _daz, _flushed
from ._host_reductions import REDUCTION_RULES, _reduce
from . import (creation, data_types, elementwise, indexing, linalg, linalg_core, manipulation, searching, sets,
               sorting, statistical, utility)

__all__ = ["HOST_RULES", "NotExact"]

_INDEX = np.dtype(np.int64)
_BOOL = np.dtype(bool)
HostFn = Callable[..., list]


def _wrap(idx: np.ndarray, size: int) -> np.ndarray:
    """Integer indices as int64, negative ones counted from the end once (``_wrap_negative``)."""
    idx = idx.astype(_INDEX)
    return np.where(idx < 0, idx + size, idx)


def _rows(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``take_rows``: ``x[idx]`` along axis 0, indices clamped to the axis; zeros from an empty one."""
    if x.shape[0] == 0:
        return np.zeros(idx.shape + x.shape[1:], x.dtype)
    return np.take(x, np.clip(idx, 0, x.shape[0] - 1), axis=0)


def _linear(coords: list[np.ndarray], sizes: tuple[int, ...]) -> np.ndarray:
    """The row-major flat positions of ``coords`` (int64 arithmetic wraps as on the device)."""
    stride = math.prod(sizes)
    linear = np.zeros((), _INDEX)
    with np.errstate(over="ignore"):
        for k, size in zip(coords, sizes):
            stride //= size if size else 1
            linear = linear + k * np.int64(stride)
    return linear


# -- data movement ---------------------------------------------------------------------------------

def _reshape(p: dict, x: np.ndarray) -> list:
    return [x.reshape(p["shape"])]


def _transpose(p: dict, x: np.ndarray) -> list:
    return [np.transpose(x, p["perm"])]


def _matrix_transpose(p: dict, x: np.ndarray) -> list:
    return [np.swapaxes(x, -1, -2)]


def _broadcast(p: dict, x: np.ndarray) -> list:
    return [np.broadcast_to(x, p["shape"])]


def _broadcast_all(p: dict, *xs: np.ndarray) -> list:
    return [np.broadcast_to(x, p["shape"]) for x in xs]


def _concat(p: dict, *parts: np.ndarray) -> list:
    values = [_cast(a, p["dtype"]) for a in parts]
    if p["flat"]:
        values = [a.reshape(-1) for a in values]
    return [np.concatenate(values, p["axis"])]


def _stack(p: dict, *parts: np.ndarray) -> list:
    return [np.stack([_cast(a, p["dtype"]) for a in parts], p["axis"])]


def _unstack(p: dict, x: np.ndarray) -> list:
    return list(np.moveaxis(x, p["axis"], 0))


def _flip(p: dict, x: np.ndarray) -> list:
    return [np.flip(x, p["axes"])]


def _diagonal(p: dict, x: np.ndarray) -> list:
    """``linalg._diagonal_rule``: the band summed across (``_linalg_lower.diagonal``), so a float
    element comes out as ``x + 0`` flushed: -0.0 and subnormals as +0.0."""
    d = np.diagonal(x, p["offset"], -2, -1)
    return [_flushed(np.add, d, np.zeros((), d.dtype)) if d.dtype.kind in "fc" else d]


def _roll(p: dict, x: np.ndarray) -> list:
    shape = x.shape
    y = x.reshape(-1) if p["flat"] else x
    for axis, k in p["shifts"]:
        n = y.shape[axis]
        if n and k % n:
            y = np.roll(y, k % n, axis)
    return [y.reshape(shape)]


def _tile(p: dict, x: np.ndarray) -> list:
    return [np.tile(x, p["reps"])]


def _repeat(p: dict, x: np.ndarray) -> list:
    return [np.repeat(x, p["count"], axis=p["axis"])]


def _basic(x: np.ndarray, ints: tuple[np.ndarray, ...], plan: tuple) -> np.ndarray:
    """``_basic_rule``: integer axes (runtime indices, wrapped once and clamped as by
    ``dynamic_slice``; or static "at"), slices (a negative step reverses, then slices), new axes."""
    axes = [q for q in plan if q[0] != "new"]
    it = iter(ints)
    key: list[slice] = []
    reverse = []
    for a, (q, d) in enumerate(zip(axes, x.shape)):
        if q[0] == "int":
            if d == 0:
                raise NotExact
            i = min(max(int(_wrap(next(it), d)), 0), d - 1)
            key.append(slice(i, i + 1))
        elif q[0] == "at":
            key.append(slice(q[1], q[1] + 1))
        else:
            lo, hi, step = q[1], q[2], q[3]
            if step < 0:
                reverse.append(a)
                lo, hi, step = d - 1 - lo, d - 1 - hi, -step
            key.append(slice(lo, max(hi, lo), step))
    y = np.flip(x, tuple(reverse)) if reverse else x
    y = y[tuple(key)]
    return y.reshape(indexing.basic_result_shape(plan, y.shape))


def _basic_index(p: dict, x: np.ndarray, *ints: np.ndarray) -> list:
    return [_basic(x, ints, p["plan"])]


def _derive(p: dict, x: np.ndarray, *ints: np.ndarray) -> list:
    return [np.transpose(_basic(x, ints, p["plan"]), p["perm"]).reshape(p["shape"])]


def _advanced(p: dict, x: np.ndarray, *idx: np.ndarray) -> list:
    axes = p["axes"]
    shape = np.broadcast_shapes(*(i.shape for i in idx))
    rest = [a for a in range(x.ndim) if a not in axes]
    sizes = tuple(x.shape[a] for a in axes)
    moved = np.transpose(x, list(axes) + rest).reshape((math.prod(sizes),) + tuple(x.shape[a] for a in rest))
    coords = [np.broadcast_to(_wrap(i, size), shape) for i, size in zip(idx, sizes)]
    out = _rows(moved, _linear(coords, sizes))
    if p["front"]:
        return [out]
    first, n_idx = axes[0], len(shape)
    perm = list(range(n_idx, n_idx + first)) + list(range(n_idx)) + list(range(n_idx + first, out.ndim))
    return [np.transpose(out, perm)]


def _take(p: dict, x: np.ndarray, idx: np.ndarray) -> list:
    axis = p["axis"]
    out = _rows(np.moveaxis(x, axis, 0), _wrap(idx, x.shape[axis]))
    perm = list(range(idx.ndim, idx.ndim + axis)) + list(range(idx.ndim)) + list(range(idx.ndim + axis, out.ndim))
    return [np.transpose(out, perm)]


def _take_along(p: dict, x: np.ndarray, idx: np.ndarray) -> list:
    axis = p["axis"]
    shape = tuple(idx.shape[a] if a == axis else np.broadcast_shapes((x.shape[a],), (idx.shape[a],))[0]
                  for a in range(x.ndim))
    full = np.broadcast_to(_wrap(idx, x.shape[axis]), shape)
    coords = [full if a == axis else np.broadcast_to(
        np.arange(shape[a], dtype=_INDEX).reshape([-1 if k == a else 1 for k in range(x.ndim)]), shape)
        for a in range(x.ndim)]
    return [_rows(x.reshape(-1), _linear(coords, x.shape))]


def _region(p: dict, x: np.ndarray, value: np.ndarray, *starts: np.ndarray) -> list:
    """``_views.region_rule``: ``value`` (cast, broadcast to the view's shape, laid out as the
    region's box) written into a copy of ``x`` at ``starts``; contiguous boxes start where
    ``dynamic_update_slice`` clamps them, strided ones are in bounds (else: compiled)."""
    v = np.broadcast_to(_cast(value, x.dtype), p["shape"]).reshape(p["walked"])
    if x.ndim == 0:
        return [v]
    v = np.flip(np.transpose(v, p["perm"]).reshape(p["box"]), p["reverse"])
    key = []
    for s, d, n, step in zip(starts, x.shape, p["box"], p["strides"]):
        lo = int(s)
        if step == 1:
            lo = min(max(lo, 0), d - n)
        elif lo < 0 or lo + step * (n - 1) >= d:
            raise NotExact  # the scatter would drop the update
        key.append(slice(lo, lo + step * (n - 1) + 1, step))
    out = x.copy()
    out[tuple(key)] = v
    return [out]


def _scatter(p: dict, x: np.ndarray, positions: np.ndarray, value: np.ndarray) -> list:
    """``indexing._scatter_rule``: ``value`` (cast, broadcast to ``positions``) stored at the flat
    ``positions`` of a copy of ``x``, in order (a repeated position keeps its last value, as the
    CPU scatter's loop leaves it); positions outside ``x`` are dropped."""
    pos = positions.reshape(-1).astype(_INDEX)
    upd = np.broadcast_to(_cast(value, x.dtype), positions.shape).reshape(-1)
    keep = (pos >= 0) & (pos < x.size)
    out = x.reshape(-1).copy()
    out[pos[keep]] = upd[keep]
    return [out.reshape(x.shape)]


def _where(p: dict, c: np.ndarray, x: np.ndarray, y: np.ndarray) -> list:
    dtype = p["dtype"]
    return [np.where(c, _cast(x, dtype), _cast(y, dtype))]


# -- fills ------------------------------------------------------------------------------------------

def _eye(p: dict) -> list:
    return [np.eye(p["n"], p["m"], p["k"], dtype=p["dtype"])]


def _arange(p: dict, start: np.ndarray, step: np.ndarray) -> list:
    """``creation._arange_rule``: ``i * step + start`` in the operands' type (integers wrap; floats in
    float64, each operation rounded and flushed as on the device, then rounded to float32)."""
    dtype, n = p["dtype"], p["n"]
    if dtype.kind in "iu":
        with np.errstate(over="ignore"):
            return [np.arange(n, dtype=_INDEX).astype(dtype) * step + start]  # iota wraps too
    if dtype not in (np.float32, np.float64):
        raise NotExact  # float16: rounded through float32 or not; complex: a complex product
    out = _flushed(np.add, _flushed(np.multiply, np.arange(n, dtype=step.dtype), step), start)
    with np.errstate(over="ignore"):  # beyond float32's range: inf on both sides
        return [_daz(out.astype(dtype))]


def _tri(p: dict, x: np.ndarray) -> list:
    rows, cols = x.shape[-2:]
    diff = np.arange(cols, dtype=_INDEX)[None, :] - np.arange(rows, dtype=_INDEX)[:, None]
    keep = np.ones(diff.shape, _BOOL)
    if p["lo"] is not None:
        keep &= diff >= p["lo"]
    if p["hi"] is not None:
        keep &= diff <= p["hi"]
    return [np.where(keep, x, np.zeros((), x.dtype))]


def _meshgrid(p: dict, *xs: np.ndarray) -> list:
    return list(np.meshgrid(*xs, indexing=p["indexing"]))


# -- integer arithmetic -------------------------------------------------------------------------------

def _astype(p: dict, x: np.ndarray) -> list:
    dtype = p["dtype"]
    if dtype == _BOOL:
        return [_daz(x) != 0]  # a subnormal is false on the device
    if x.dtype == _BOOL and dtype.kind in "fc":
        return [x.astype(dtype)]
    if x.dtype.kind == "f" and dtype.kind in "iu":
        return [_truncated(x, dtype)]
    if x.dtype.kind == dtype.kind == "f" and {x.dtype.itemsize, dtype.itemsize} != {2, 8}:
        if dtype == np.float32 and x.dtype == np.float64 and _near_subnormal(x, dtype):
            raise NotExact  # whether the device detects tininess before or after rounding is not established
        return [_flushed(lambda a: a.astype(dtype), x)]  # one correct rounding on both sides
    if x.dtype.kind in "iu" and dtype in _FLOATS and not (x.dtype == np.uint64 and dtype == np.float32):
        return [x.astype(dtype)]  # correctly rounded on both sides (uint64 -> float32 is lowered in two steps)
    return [_cast(x, dtype)]


def _near_subnormal(x: np.ndarray, dtype: np.dtype) -> bool:
    """Whether a value of ``x`` below ``dtype``'s smallest normal rounds up to it (flushed to zero
    or not depending on whether tininess is detected before or after rounding)."""
    tiny = np.finfo(dtype).tiny
    a = np.abs(x)
    with np.errstate(over="ignore"):
        return bool(((a < tiny) & (a.astype(dtype) == tiny)).any())


def _truncated(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Floats to integers, rounded toward zero, where every value fits ``dtype`` (the device
    saturates the others and numpy does not define them)."""
    with np.errstate(invalid="ignore"):
        t = np.trunc(x.astype(np.float64))
        bits = dtype.itemsize * 8
        low, high = (-(2.0 ** (bits - 1)), 2.0 ** (bits - 1)) if dtype.kind == "i" else (0.0, 2.0 ** bits)
        if not ((t >= low) & (t < high)).all():
            raise NotExact
    return t.astype(dtype)


def _copy(p: dict, x: np.ndarray) -> list:
    """``x | False`` or ``x + 0``, which XLA simplifies to ``x``: every bit kept (-0.0, subnormals)."""
    return [x]


def _truth(p: dict, x: np.ndarray) -> list:
    return [_reduce(_daz(x) != 0, p["axes"], p["op"], p["keepdims"])]  # a subnormal is false on the device


# -- element-wise ------------------------------------------------------------------------------------
# The rules convert the operands to the params' dtype and broadcast them (``_prepare``).

def _operands(p: dict, *xs: np.ndarray) -> list[np.ndarray]:
    return [_cast(x, p["dtype"]) for x in xs]


def _compare(ufunc: np.ufunc) -> HostFn:
    def host(p: dict, x: np.ndarray, y: np.ndarray) -> list:
        with np.errstate(invalid="ignore"):
            return [ufunc(*[_daz(v) for v in _operands(p, x, y)])]
    return host


def _arith(ufunc: np.ufunc, floats: str) -> HostFn:
    """``ufunc`` on integers (wrapping) and on the float kinds in ``floats`` (flushed as on the device)."""
    def host(p: dict, x: np.ndarray, y: np.ndarray) -> list:
        a, b = _operands(p, x, y)
        if a.dtype.kind in "iu":
            with np.errstate(over="ignore"):
                return [ufunc(a, b)]
        if a.dtype.kind not in floats:
            raise NotExact
        return [_flushed(ufunc, a, b)]
    return host


def _int_only(ufunc: np.ufunc) -> HostFn:
    def host(p: dict, *xs: np.ndarray) -> list:
        values = _operands(p, *xs)
        if values[0].dtype.kind not in "biu":
            raise NotExact
        with np.errstate(over="ignore"):
            return [ufunc(*values)]
    return host


def _division(which: int) -> HostFn:
    """``floor_divide`` (``which`` 0) and ``remainder`` (1).  Integers: numpy floors as the rule
    does, gives 0 for a zero divisor and wraps ``MIN // -1`` to ``MIN`` (remainder 0) as XLA's
    division does.  float32/float64: the rule's own sequence (``_float_mod``)."""
    ufunc = (np.floor_divide, np.remainder)[which]

    def host(p: dict, x: np.ndarray, y: np.ndarray) -> list:
        a, b = _operands(p, x, y)
        if a.dtype.kind in "iu":
            with np.errstate(all="ignore"):
                return [ufunc(a, b)]
        if a.dtype not in _FLOATS:
            raise NotExact  # float16 (computed through float32 op by op on the device): not checked
        return [_float_mod(a, b)[which]]
    return host


def _subnormal(a: np.ndarray) -> bool:
    return bool(((np.abs(a) < np.finfo(a.dtype).tiny) & (a != 0)).any())


def _float_mod(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``_elementwise_rules._float_mod`` op for op: ``fmod`` (exact), then IEEE subtractions,
    divisions and additions rounded and flushed as on the device, compares and selects.  Subnormal
    operands or remainders decline: ``fmod`` is a library call whose reading of them under the
    device's denormals-are-zero mode is not established."""
    if _subnormal(x) or _subnormal(y):
        raise NotExact
    zero = np.zeros((), x.dtype)
    with np.errstate(all="ignore"):
        mod = np.fmod(x, y)
        if _subnormal(mod):
            raise NotExact
        fix = (mod != 0) & (np.signbit(mod) != np.signbit(y))
        div = _flushed(np.divide, _flushed(np.subtract, x, mod), y)
        div = np.where(fix, _flushed(np.subtract, div, np.ones((), x.dtype)), div)
        mod = np.where(fix, _flushed(np.add, mod, y), mod)
        mod = np.where(_daz(mod) == 0, np.copysign(zero, y), mod)
        floored = np.floor(_daz(div))
        up = _flushed(np.subtract, div, floored) > 0.5
        floored = np.where(up, _flushed(np.add, floored, np.ones((), x.dtype)), floored)
        quotient = _flushed(np.divide, x, y)
        floored = np.where(_daz(div) == 0, np.copysign(zero, quotient), floored)
        direct = (y == 0) | np.isinf(x) | np.isinf(y)
        return np.where(direct, quotient, floored), mod


def _rounding(ufunc: np.ufunc) -> HostFn:
    """``floor``/``ceil``/``trunc``/``round`` (halves to even): exact on both sides, subnormals
    read as zeros of their sign (``floor(-tiny)`` is -0.0 on the device); the identity on
    integers; complex ``round`` rounds each part."""
    def host(p: dict, x: np.ndarray) -> list:
        if x.dtype.kind not in "fc":
            return [x]
        return [_flushed(ufunc, x)]
    return host


def _copysign(p: dict, x: np.ndarray, y: np.ndarray) -> list:
    """``|x|`` with ``y``'s sign bit (both bit operations on the device: a subnormal ``x`` would
    keep its bits there, which is not established: declined)."""
    a, b = _operands(p, x, y)
    if a.dtype not in _FLOATS or _subnormal(a):
        raise NotExact
    return [np.copysign(a, b)]


def _logical(ufunc: np.ufunc) -> HostFn:
    def host(p: dict, x: np.ndarray, y: np.ndarray) -> list:
        return [ufunc(*[_daz(v) != 0 for v in _operands(p, x, y)])]
    return host


def _classify(ufunc: np.ufunc) -> HostFn:
    def host(p: dict, x: np.ndarray) -> list:
        return [ufunc(x) if x.dtype.kind in "fc" else np.full(x.shape, ufunc is np.isfinite)]
    return host


def _clip(p: dict, x: np.ndarray, *bounds: np.ndarray) -> list:
    """``_elementwise_rules.clip``: selects (values moved, not rounded) where ``x`` lies beyond a
    bound (compared as the device compares, subnormals as zeros) or the bound is NaN."""
    shape = np.broadcast_shapes(x.shape, *(v.shape for v in bounds))
    out = np.broadcast_to(x, shape)
    for name, bound in zip(p["which"], bounds):
        bound = np.broadcast_to(bound, shape)
        with np.errstate(invalid="ignore"):
            beyond = np.less(_daz(out), _daz(bound)) if name == "min" else np.greater(_daz(out), _daz(bound))
        if x.dtype.kind == "f":
            beyond |= np.isnan(bound)
        out = np.where(beyond, bound, out)
    return [out]


def _diff(p: dict, *parts: np.ndarray) -> list:
    """``utility._diff_rule``: ``n`` differences of neighbours (booleans: "not equal"), each an
    IEEE subtraction flushed as on the device (integers wrap)."""
    axis = p["axis"]
    x = np.concatenate(parts, axis)
    for _ in range(p["n"]):
        length = x.shape[axis]
        if length == 0:
            break
        hi, lo = np.take(x, range(1, length), axis), np.take(x, range(length - 1), axis)
        if x.dtype == _BOOL:
            x = hi != lo
        elif x.dtype.kind in "iu":
            with np.errstate(over="ignore"):
                x = hi - lo
        else:
            x = _flushed(np.subtract, hi, lo)
    return [x]


def _sqrt(p: dict, x: np.ndarray) -> list:
    """IEEE's correctly rounded square root (float32 and float64; float16 goes through float32
    on the device)."""
    (a,) = _operands(p, x)
    if a.dtype not in _FLOATS:
        raise NotExact
    return [_flushed(np.sqrt, a)]


def _abs(p: dict, x: np.ndarray) -> list:
    if x.dtype.kind == "c":
        raise NotExact  # a hypot on the device
    with np.errstate(over="ignore"):
        return [np.abs(x) if x.dtype.kind in "if" else x]


def _negative(p: dict, x: np.ndarray) -> list:
    (a,) = _operands(p, x)
    with np.errstate(over="ignore"):
        return [np.negative(a)]


def _real(p: dict, x: np.ndarray) -> list:
    return [x.real if x.dtype.kind == "c" else x]


def _imag(p: dict, x: np.ndarray) -> list:
    return [x.imag if x.dtype.kind == "c" else np.zeros(x.shape, x.dtype)]


def _conj(p: dict, x: np.ndarray) -> list:
    return [np.conj(x) if x.dtype.kind == "c" else x]  # the imaginary part's sign bit flipped


def _signbit(p: dict, x: np.ndarray) -> list:
    return [np.signbit(x) if x.dtype.kind in "fi" else np.zeros(x.shape, _BOOL)]


def _sign(p: dict, x: np.ndarray) -> list:
    """Real ``sign``: 0 at zero (a subnormal is a zero on the device), +-1 elsewhere; NaN (whose
    bits the device's sign may change) and complex values compile."""
    if x.dtype.kind == "c" or x.dtype == _BOOL or (x.dtype.kind == "f" and np.isnan(x).any()):
        raise NotExact
    keys = _daz(x)
    return [np.where(keys == 0, np.zeros((), x.dtype), np.sign(keys))]


def _extremum(ufunc: np.ufunc, direction: Callable[..., np.ndarray]) -> HostFn:
    """``maximum``/``minimum``: integers as numpy; floats as the rule selects, ``x`` where
    ``x > y`` (``<`` for minimum, subnormals compared as zeros) or ``x`` is NaN, else ``y``."""
    def host(p: dict, x: np.ndarray, y: np.ndarray) -> list:
        a, b = _operands(p, x, y)
        if a.dtype.kind in "biu":
            return [ufunc(a, b)]
        if a.dtype.kind != "f":
            raise NotExact
        with np.errstate(invalid="ignore"):
            return [np.where(direction(_daz(a), _daz(b)) | np.isnan(a), a, b)]
    return host


def _square(p: dict, x: np.ndarray) -> list:
    """``x * x``: integers wrap, real floats as ``multiply`` (complex products compile)."""
    return _ELEMENTWISE["multiply"](p, x, x)


def _invert(p: dict, x: np.ndarray) -> list:
    return [np.invert(x)]


def _logical_not(p: dict, x: np.ndarray) -> list:
    return [_daz(x) == 0]


_ELEMENTWISE: dict[str, HostFn] = {
    "equal": _compare(np.equal), "not_equal": _compare(np.not_equal), "less": _compare(np.less),
    "less_equal": _compare(np.less_equal), "greater": _compare(np.greater),
    "greater_equal": _compare(np.greater_equal),
    "add": _arith(np.add, "fc"), "subtract": _arith(np.subtract, "fc"), "multiply": _arith(np.multiply, "f"),
    "divide": _arith(np.divide, "f"),
    "floor_divide": _division(0), "remainder": _division(1), "copysign": _copysign,
    "floor": _rounding(np.floor), "ceil": _rounding(np.ceil), "trunc": _rounding(np.trunc),
    "round": _rounding(np.rint), "square": _square,
    "bitwise_and": _int_only(np.bitwise_and), "bitwise_or": _int_only(np.bitwise_or),
    "bitwise_xor": _int_only(np.bitwise_xor), "maximum": _extremum(np.maximum, np.greater), "minimum": _extremum(np.minimum, np.less),
    "logical_and": _logical(np.logical_and), "logical_or": _logical(np.logical_or),
    "logical_xor": _logical(np.logical_xor),
    "isnan": _classify(np.isnan), "isinf": _classify(np.isinf), "isfinite": _classify(np.isfinite),
    "abs": _abs, "negative": _negative, "sqrt": _sqrt, "real": _real, "imag": _imag, "conj": _conj, "sign": _sign,
    "signbit": _signbit, "bitwise_invert": _invert, "logical_not": _logical_not,
}


def _count_nonzero(p: dict, x: np.ndarray) -> list:
    return [np.sum(_daz(x) != 0, axis=p["axes"], keepdims=p["keepdims"], dtype=_INDEX)]


def _nonzero(p: dict, x: np.ndarray) -> list:
    """``_nonzero_rule``: the first ``count`` flat positions of the nonzero elements (then the
    element count, for a count beyond them), as one index array per axis."""
    n, count = x.size, p["count"]
    found = np.flatnonzero(_daz(x) != 0)
    first = np.concatenate([found, np.full(max(0, n - found.size), n, _INDEX)])[:count].astype(_INDEX)
    outs, stride = [], n
    for d in x.shape:
        stride //= d if d else 1
        outs.append(first // stride % d)
    return outs


# -- orders -------------------------------------------------------------------------------------------

def _stable_order(keys: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """``_sort_rule``'s permutation: a stable ascending sort (NaN last), and for ``descending`` the
    reverse of the stable sort of the reversed keys."""
    if descending:
        n = keys.shape[axis]
        return n - 1 - np.flip(np.argsort(np.flip(keys, axis), axis=axis, kind="stable"), axis)
    return np.argsort(keys, axis=axis, kind="stable")


def _sort(p: dict, x: np.ndarray) -> list:
    axis = p["axis"]
    order = _stable_order(_daz(x), axis, p["descending"])
    return [order.astype(_INDEX) if p["indices"] else np.take_along_axis(x, order, axis)]


def _arg(p: dict, x: np.ndarray) -> list:
    fn = np.argmax if p["largest"] else np.argmin
    return [np.asarray(fn(_daz(x), axis=p["axis"], keepdims=p["keepdims"]), _INDEX)]


def _less(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``_order.less`` on flushed keys: the total order, NaN after every number (complex:
    lexicographic on the parts)."""
    if x.dtype.kind == "c":
        re_eq = (x.real == y.real) | (np.isnan(x.real) & np.isnan(y.real))
        return _less(x.real, y.real) | (re_eq & _less(x.imag, y.imag))
    if x.dtype.kind != "f":
        return x < y
    return (x < y) | ((x == x) & (y != y))


def _searchsorted(p: dict, sorted_: np.ndarray, v: np.ndarray) -> list:
    """``searching._searchsorted_rule``'s bisection, step for step (so an unsorted ``sorted_``
    gives what the program gives too)."""
    dtype = p["dtype"]
    s, v = _daz(_cast(sorted_, dtype)), _daz(_cast(v, dtype))
    n = s.shape[0]
    lo, hi = np.zeros(v.shape, _INDEX), np.full(v.shape, n, _INDEX)
    with np.errstate(invalid="ignore"):
        for _ in range(n.bit_length()):
            mid = (lo + hi) >> 1
            x = s[np.minimum(mid, n - 1)]
            after = _less(x, v) if p["side"] == "left" else ~_less(v, x)
            active = lo < hi
            lo = np.where(active & after, mid + 1, lo)
            hi = np.where(active & ~after, mid, hi)
    return [lo]


def _runs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``sets._runs``: the flat values in the stable sort's order, their positions, and where a
    run of equal values (total order on flushed keys; each NaN a run of its own) starts."""
    flat = x.reshape(-1)
    keys = _daz(flat)
    perm = _stable_order(keys, 0, False).astype(_INDEX)
    ordered = keys[perm]
    first = np.ones(flat.shape, _BOOL)
    if flat.size:
        a, b = ordered[1:], ordered[:-1]
        if a.dtype.kind == "c":
            same = ((a.real == b.real) | (np.isnan(a.real) & np.isnan(b.real))) & \
                ((a.imag == b.imag) | (np.isnan(a.imag) & np.isnan(b.imag)))
        else:
            same = (a == b) | ((a != a) & (b != b))
        first[1:] = ~same | (a != a)
    return flat[perm], perm, first


def _unique_count(p: dict, x: np.ndarray) -> list:
    return [np.asarray(np.count_nonzero(_runs(x)[2]), _INDEX)]


def _unique(p: dict, x: np.ndarray) -> list:
    """``sets._unique_rule``: the first ``k`` runs' values, first positions and lengths, and each
    element's run number."""
    values, perm, first = _runs(x)
    n, k = values.size, p["k"]
    starts_all = np.concatenate([np.flatnonzero(first), np.full(n - np.count_nonzero(first), n)]).astype(_INDEX)
    starts = starts_all[:k]
    counts = np.concatenate([starts_all[1:], [n]]).astype(_INDEX)[:k] - starts
    inverse = np.empty(n, _INDEX)
    inverse[perm] = np.cumsum(first, dtype=_INDEX) - 1
    return [_rows(values, starts), _rows(perm, starts), inverse.reshape(x.shape), counts]


HOST_RULES: dict[Any, HostFn] = {
    manipulation._reshape_rule: _reshape,
    manipulation._transpose_rule: _transpose,
    linalg_core._mt_rule: _matrix_transpose,
    linalg._diagonal_rule: _diagonal,
    manipulation._broadcast_rule: _broadcast,
    creation._broadcast_rule: _broadcast,
    manipulation._broadcast_all_rule: _broadcast_all,
    manipulation._concat_rule: _concat,
    manipulation._stack_rule: _stack,
    manipulation._unstack_rule: _unstack,
    manipulation._flip_rule: _flip,
    manipulation._roll_rule: _roll,
    manipulation._tile_rule: _tile,
    manipulation._repeat_rule: _repeat,
    indexing._basic_rule: _basic_index,
    indexing._advanced_rule: _advanced,
    indexing._take_rule: _take,
    indexing.take_along_rule: _take_along,
    _views._derive_rule: _derive,
    searching._where_rule: _where,
    _views.region_rule: _region,
    indexing._scatter_rule: _scatter,
    searching._searchsorted_rule: _searchsorted,
    sets._count_rule: _unique_count,
    sets._unique_rule: _unique,
    creation._eye_rule: _eye,
    creation._arange_rule: _arange,
    creation._tri_rule: _tri,
    creation._meshgrid_rule: _meshgrid,
    data_types._astype_rule: _astype,
    data_types._copy_rule: _copy,
    **REDUCTION_RULES,
    utility._truth_rule: _truth,
    sorting._sort_rule: _sort,
    searching._arg_rule: _arg,
    searching._count_rule: _count_nonzero,
    searching._nonzero_rule: _nonzero,
    utility._diff_rule: _diff,
    _elementwise_rules.clip: _clip,
    **{elementwise.RULES[name]: fn for name, fn in _ELEMENTWISE.items()},
}
