"""Ops that make or move data: constants, iota, conversions, shapes, slices, gathers, scatters.

Each method checks its static arguments against the operand shapes and infers
the result type.  Ops that would be the identity (a convert to the same dtype,
a reshape to the same shape, an identity permutation, a full slice) return
their operand and emit nothing.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ._core import Core, RegionBody
from ._types import Value, dims_text, i64_text, kind_of, literal, tensor_type

__all__ = ["ShapeOps"]


def _ints(values: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


class ShapeOps(Core):
    """Data creation and movement ops."""

    # -- creation --------------------------------------------------------------------------------

    def constant(self, value: Any, dtype: Any, shape: Sequence[int] = ()) -> Value:
        """A constant of ``dtype``: ``value`` splat to ``shape``, or a numpy array (its own shape)."""
        dtype = np.dtype(dtype)
        if kind_of(dtype) == "?":
            self.fail("constant", f"unsupported dtype {dtype}")
        if isinstance(value, np.ndarray) and value.ndim:
            shape = value.shape
        shape = _ints(shape)
        if any(d < 0 for d in shape):
            self.fail("constant", f"negative dimension in shape {shape}")
        ttype = tensor_type(shape, dtype)
        return self._emit(f"stablehlo.constant dense<{literal(value, dtype)}> : {ttype}", shape, dtype)

    def iota(self, shape: Sequence[int], dim: int, dtype: Any) -> Value:
        """``0, 1, 2, ...`` along ``dim`` of ``shape``, constant along the other axes."""
        dtype, shape = np.dtype(dtype), _ints(shape)
        if not 0 <= dim < len(shape):
            self.fail("iota", f"dim {dim} is out of range for shape {shape}")
        if kind_of(dtype) not in "iufc":
            self.fail("iota", f"needs a numeric dtype, got {dtype}")
        return self._emit(f"stablehlo.iota dim = {int(dim)} : {tensor_type(shape, dtype)}", shape, dtype)

    def replica_id(self) -> Value:
        """The replica's index (``tensor<ui32>``; 0 in a one-device program, but not a constant to
        the compiler)."""
        return self._emit(f"stablehlo.replica_id : {tensor_type((), np.dtype(np.uint32))}", (), np.dtype(np.uint32))

    # -- conversions -----------------------------------------------------------------------------

    def convert(self, x: Value, dtype: Any) -> Value:
        """``x`` as ``dtype`` (the operand itself when equal); complex to real is refused."""
        dtype = np.dtype(dtype)
        self._check_value("convert", x)
        if x.dtype == dtype:
            return x
        if kind_of(x.dtype) == "c" and kind_of(dtype) != "c":
            self.fail("convert", f"complex {x.dtype} to {dtype} drops the imaginary part: take real() first")
        if kind_of(dtype) == "?":
            self.fail("convert", f"unsupported dtype {dtype}")
        return self._emit(f"stablehlo.convert {x.name} : ({x.type}) -> {tensor_type(x.shape, dtype)}",
                          x.shape, dtype)

    def bitcast_convert(self, x: Value, dtype: Any) -> Value:
        """The bits of ``x`` read as ``dtype`` of the same width."""
        dtype = np.dtype(dtype)
        self._check_value("bitcast_convert", x)
        if dtype.itemsize != x.dtype.itemsize or "b" in (kind_of(dtype), kind_of(x.dtype)):
            self.fail("bitcast_convert", f"{x.dtype} and {dtype} differ in bit width")
        return self._emit(f"stablehlo.bitcast_convert {x.name} : ({x.type}) -> {tensor_type(x.shape, dtype)}",
                          x.shape, dtype)

    # -- shapes ------------------------------------------------------------------------------------

    def broadcast_in_dim(self, x: Value, shape: Sequence[int], dims: Sequence[int]) -> Value:
        """``x`` placed in ``shape``: its axis ``i`` becomes axis ``dims[i]`` (size 1 or equal)."""
        op = "broadcast_in_dim"
        self._check_value(op, x)
        shape = _ints(shape)
        dims = self._check_axes(op, dims, len(shape), "dims")
        if len(dims) != x.ndim:
            self.fail(op, f"needs {x.ndim} dims for operand {x.type}, got {list(dims)}")
        for d, t in zip(x.shape, dims):
            if d not in (1, shape[t]):
                self.fail(op, f"operand {x.type} does not fit result shape {shape} with dims {list(dims)}")
        if shape == x.shape and dims == tuple(range(x.ndim)):
            return x
        return self._carry(self._emit(f"stablehlo.broadcast_in_dim {x.name}, dims = {dims_text(dims)} : "
                                      f"({x.type}) -> {tensor_type(shape, x.dtype)}", shape, x.dtype), x)

    def reshape(self, x: Value, shape: Sequence[int]) -> Value:
        """``x`` with a new shape of the same size."""
        self._check_value("reshape", x)
        shape = _ints(shape)
        if shape == x.shape:
            return x
        if math.prod(shape) != math.prod(x.shape) or any(d < 0 for d in shape):
            self.fail("reshape", f"cannot reshape {x.type} to shape {shape}")
        return self._carry(self._emit(f"stablehlo.reshape {x.name} : ({x.type}) -> {tensor_type(shape, x.dtype)}",
                                      shape, x.dtype), x)

    def transpose(self, x: Value, perm: Sequence[int]) -> Value:
        """``x`` with axis ``perm[i]`` moved to position ``i``."""
        self._check_value("transpose", x)
        perm = self._check_axes("transpose", perm, x.ndim, "permutation")
        if len(perm) != x.ndim:
            self.fail("transpose", f"permutation {list(perm)} does not cover the {x.ndim} axes")
        if perm == tuple(range(x.ndim)):
            return x
        shape = tuple(x.shape[p] for p in perm)
        out = self._emit(f"stablehlo.transpose {x.name}, dims = {dims_text(perm)} : ({x.type}) -> "
                         f"{tensor_type(shape, x.dtype)}", shape, x.dtype)
        if self.fold_transposes:
            self._transposes[out.name] = (x, perm, self.lines)
        return self._carry(out, x)

    def reverse(self, x: Value, dims: Sequence[int]) -> Value:
        """``x`` with the order of elements reversed along ``dims``."""
        self._check_value("reverse", x)
        dims = self._check_axes("reverse", dims, x.ndim)
        if not dims:
            return x
        return self._emit(f"stablehlo.reverse {x.name}, dims = {dims_text(dims)} : {x.type}", x.shape, x.dtype)

    # -- slices and joins ----------------------------------------------------------------------------

    def slice(self, x: Value, start: Sequence[int], limit: Sequence[int],
              strides: Sequence[int] | None = None) -> Value:
        """``x[start:limit:strides]`` per axis (``0 <= start <= limit <= size``, strides >= 1)."""
        self._check_value("slice", x)
        start, limit = _ints(start), _ints(limit)
        strides = _ints(strides) if strides is not None else (1,) * x.ndim
        if not len(start) == len(limit) == len(strides) == x.ndim:
            self.fail("slice", f"needs {x.ndim} starts, limits and strides for {x.type}")
        for s, lim, st, d in zip(start, limit, strides, x.shape):
            if not 0 <= s <= lim <= d or st < 1:
                self.fail("slice", f"start {list(start)}, limit {list(limit)}, strides {list(strides)} "
                                   f"do not fit {x.type}")
        shape = tuple(-(-(lim - s) // st) for s, lim, st in zip(start, limit, strides))
        if shape == x.shape:
            return x
        return self._carry(self._emit(f'"stablehlo.slice"({x.name}) {{start_indices = {i64_text(start)}, '
                                      f"limit_indices = {i64_text(limit)}, strides = {i64_text(strides)}}} : "
                                      f"({x.type}) -> {tensor_type(shape, x.dtype)}", shape, x.dtype), x)

    def concatenate(self, parts: Sequence[Value], dim: int) -> Value:
        """``parts`` joined along ``dim`` (one dtype, equal sizes elsewhere)."""
        if not parts:
            self.fail("concatenate", "needs at least one operand")
        first = self._check_value("concatenate", parts[0])
        if not 0 <= dim < first.ndim:
            self.fail("concatenate", f"dim {dim} is out of range for {first.type}")
        for p in parts[1:]:
            self._check_value("concatenate", p)
            if p.dtype != first.dtype or p.ndim != first.ndim or any(
                    a != b for i, (a, b) in enumerate(zip(p.shape, first.shape)) if i != dim):
                self.fail("concatenate", f"{p.type} does not join {first.type} along dim {dim}")
        if len(parts) == 1:
            return first
        shape = list(first.shape)
        shape[dim] = sum(p.shape[dim] for p in parts)
        return self._carry(self._emit(f"stablehlo.concatenate {', '.join(p.name for p in parts)}, dim = {int(dim)} : "
                                      f"({', '.join(p.type for p in parts)}) -> {tensor_type(shape, first.dtype)}",
                                      tuple(shape), first.dtype), *parts)

    def pad(self, x: Value, value: Value, low: Sequence[int], high: Sequence[int],
            interior: Sequence[int] | None = None) -> Value:
        """``x`` padded with the 0-d ``value``: ``low``/``high`` per edge (negative crops), ``interior`` between."""
        self._check_value("pad", x)
        self._check_value("pad", value)
        if value.shape != () or value.dtype != x.dtype:
            self.fail("pad", f"padding value {value.type} must be a 0-d {x.dtype}")
        low, high = _ints(low), _ints(high)
        interior = _ints(interior) if interior is not None else (0,) * x.ndim
        if not len(low) == len(high) == len(interior) == x.ndim or any(i < 0 for i in interior):
            self.fail("pad", f"low {list(low)}, high {list(high)}, interior {list(interior)} do not fit {x.type}")
        shape = tuple(lo + d + max(d - 1, 0) * i + hi for d, lo, hi, i in zip(x.shape, low, high, interior))
        if any(d < 0 for d in shape):
            self.fail("pad", f"negative result shape {shape}")
        return self._emit(f"stablehlo.pad {x.name}, {value.name}, low = {dims_text(low)}, high = {dims_text(high)}, "
                          f"interior = {dims_text(interior)} : ({x.type}, {value.type}) -> "
                          f"{tensor_type(shape, x.dtype)}", shape, x.dtype)

    def dynamic_slice(self, x: Value, starts: Sequence[Value], sizes: Sequence[int]) -> Value:
        """A ``sizes`` block of ``x`` at the 0-d integer ``starts`` (clamped into range)."""
        op = "dynamic_slice"
        self._check_value(op, x)
        sizes = _ints(sizes)
        self._check_starts(op, x, starts)
        if len(sizes) != x.ndim or any(not 0 <= s <= d for s, d in zip(sizes, x.shape)):
            self.fail(op, f"sizes {list(sizes)} do not fit {x.type}")
        out = self._emit(f"stablehlo.dynamic_slice {x.name}, {', '.join(s.name for s in starts)}, "
                         f"sizes = {dims_text(sizes)} : ({x.type}, {', '.join(s.type for s in starts)}) -> "
                         f"{tensor_type(sizes, x.dtype)}", sizes, x.dtype)
        return self._carry(out, x)

    def dynamic_update_slice(self, x: Value, update: Value, starts: Sequence[Value]) -> Value:
        """``x`` with the block ``update`` written at the 0-d integer ``starts`` (clamped into range)."""
        op = "dynamic_update_slice"
        self._check_value(op, x)
        self._check_value(op, update)
        self._check_starts(op, x, starts)
        if update.dtype != x.dtype or update.ndim != x.ndim or any(u > d for u, d in zip(update.shape, x.shape)):
            self.fail(op, f"update {update.type} does not fit {x.type}")
        types = ", ".join([x.type, update.type] + [s.type for s in starts])
        return self._emit(f"stablehlo.dynamic_update_slice {x.name}, {update.name}, "
                          f"{', '.join(s.name for s in starts)} : ({types}) -> {x.type}", x.shape, x.dtype)

    def _check_starts(self, op: str, x: Value, starts: Sequence[Value]) -> None:
        if len(starts) != x.ndim:
            self.fail(op, f"needs {x.ndim} start indices for {x.type}, got {len(starts)}")
        for s in starts:
            self._check_scalar_index(op, s)
            if s.dtype != starts[0].dtype:
                self.fail(op, "start indices must share one integer dtype")

    # -- gather and scatter ---------------------------------------------------------------------------

    def gather(self, x: Value, indices: Value, *, offset_dims: Sequence[int], collapsed_slice_dims: Sequence[int],
               start_index_map: Sequence[int], index_vector_dim: int, slice_sizes: Sequence[int],
               indices_are_sorted: bool = False) -> Value:
        """``stablehlo.gather``: slices of ``slice_sizes`` at the start positions held in ``indices``."""
        op = "gather"
        self._check_value(op, x)
        batch = self._index_batch(op, x, indices, start_index_map, index_vector_dim)
        slice_sizes, offset_dims = _ints(slice_sizes), _ints(offset_dims)
        collapsed = self._check_axes(op, collapsed_slice_dims, x.ndim, "collapsed_slice_dims")
        if len(slice_sizes) != x.ndim or any(not 0 <= s <= d for s, d in zip(slice_sizes, x.shape)) \
                or any(slice_sizes[c] > 1 for c in collapsed):
            self.fail(op, f"slice_sizes {list(slice_sizes)} do not fit {x.type} "
                          f"(collapsed dims {list(collapsed)} need size 1)")
        offsets = [s for i, s in enumerate(slice_sizes) if i not in collapsed]
        rank = len(batch) + len(offsets)
        if len(offset_dims) != len(offsets) or list(offset_dims) != sorted(set(offset_dims)) \
                or any(not 0 <= d < rank for d in offset_dims):
            self.fail(op, f"offset_dims {list(offset_dims)} must be {len(offsets)} sorted dims below {rank}")
        it_off, it_batch = iter(offsets), iter(batch)
        shape = tuple(next(it_off) if d in offset_dims else next(it_batch) for d in range(rank))
        numbers = _dimension_numbers([("offset_dims", offset_dims), ("collapsed_slice_dims", collapsed),
                                      ("start_index_map", _ints(start_index_map))], index_vector_dim)
        return self._emit(f'"stablehlo.gather"({x.name}, {indices.name}) {{dimension_numbers = '
                          f"#stablehlo.gather<{numbers}>, slice_sizes = {i64_text(slice_sizes)}, "
                          f"indices_are_sorted = {str(bool(indices_are_sorted)).lower()}}} : "
                          f"({x.type}, {indices.type}) -> {tensor_type(shape, x.dtype)}", shape, x.dtype)

    def scatter(self, x: Value, indices: Value, updates: Value, combine: RegionBody, *,
                update_window_dims: Sequence[int], inserted_window_dims: Sequence[int],
                scatter_dims_to_operand_dims: Sequence[int], index_vector_dim: int,
                indices_are_sorted: bool = False, unique_indices: bool = False) -> Value:
        """``stablehlo.scatter``: ``x`` with ``updates`` combined in at ``indices``.

        ``combine(b, [old, new])`` returns the stored 0-d value.
        """
        op = "scatter"
        self._check_value(op, x)
        self._check_value(op, updates)
        batch = self._index_batch(op, x, indices, scatter_dims_to_operand_dims, index_vector_dim)
        window, inserted = _ints(update_window_dims), self._check_axes(op, inserted_window_dims, x.ndim,
                                                                        "inserted_window_dims")
        window_bounds = [d for i, d in enumerate(x.shape) if i not in inserted]
        scatter_sizes = [d for i, d in enumerate(updates.shape) if i not in window]
        if updates.dtype != x.dtype or updates.ndim != len(window) + len(batch) or tuple(scatter_sizes) != batch \
                or len(window) != len(window_bounds) \
                or any(updates.shape[w] > bound for w, bound in zip(window, window_bounds)):
            self.fail(op, f"updates {updates.type} do not fit operand {x.type} and indices {indices.type}")
        region, _ = self._region([((), x.dtype), ((), x.dtype)], combine, op, [((), x.dtype)])
        numbers = _dimension_numbers([("update_window_dims", window), ("inserted_window_dims", inserted),
                                      ("scatter_dims_to_operand_dims", _ints(scatter_dims_to_operand_dims))],
                                     index_vector_dim)
        return self._emit(f'"stablehlo.scatter"({x.name}, {indices.name}, {updates.name}) ({region}) '
                          f"{{scatter_dimension_numbers = #stablehlo.scatter<{numbers}>, "
                          f"indices_are_sorted = {str(bool(indices_are_sorted)).lower()}, "
                          f"unique_indices = {str(bool(unique_indices)).lower()}}} : "
                          f"({x.type}, {indices.type}, {updates.type}) -> {x.type}", x.shape, x.dtype)

    def _index_batch(self, op: str, x: Value, indices: Value, index_map: Sequence[int],
                     index_vector_dim: int) -> tuple[int, ...]:
        """The batch shape of ``indices`` (without the index vector axis), after checking the map."""
        self._check_value(op, indices)
        if kind_of(indices.dtype) not in "iu":
            self.fail(op, f"indices must be integers, got {indices.type}")
        if not 0 <= index_vector_dim <= indices.ndim:
            self.fail(op, f"index_vector_dim {index_vector_dim} is out of range for {indices.type}")
        width = indices.shape[index_vector_dim] if index_vector_dim < indices.ndim else 1
        index_map = self._check_axes(op, index_map, x.ndim, "index map")
        if len(index_map) != width:
            self.fail(op, f"index map {list(index_map)} needs {width} entries (the index vector size)")
        return indices.shape[:index_vector_dim] + indices.shape[index_vector_dim + 1:]


def _dimension_numbers(fields: list[tuple[str, tuple[int, ...]]], index_vector_dim: int) -> str:
    """``name = [..], ..., index_vector_dim = k`` (empty lists left out, as MLIR prints them)."""
    parts = [f"{name} = {dims_text(v)}" for name, v in fields if v]
    return ", ".join(parts + [f"index_vector_dim = {int(index_vector_dim)}"])
