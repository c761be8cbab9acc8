"""Ops with regions or with more than one result, and the linear algebra primitives.

Regions are Python callables ``body(b, args) -> results``: they are traced
into the enclosing builder (names stay unique; a region may use values from
outside it), and their results are checked against the types the op needs.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ._core import Core, RegionBody
from ._types import COMPLEX_OF, REAL_OF, Aval, Value, dims_text, i64_text, kind_of, tensor_type

__all__ = ["StructuredOps"]

_BOOL = np.dtype(bool)
_I32 = np.dtype("int32")
_TRANSPOSE = ("NO_TRANSPOSE", "TRANSPOSE", "ADJOINT")
Branch = RegionBody


def _types(vs: Sequence[Value]) -> str:
    return ", ".join(v.type for v in vs)


def _result_types(avals: Sequence[Aval]) -> str:
    text = ", ".join(tensor_type(s, d) for s, d in avals)
    return text if len(avals) == 1 else f"({text})"


def _attr(value: object) -> str:
    """An MLIR attribute for a Python bool, int, float or str, or a numpy integer (typed by its dtype:
    FFI handlers decode an attribute only at its exact integer type)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, np.integer):
        kind = "ui" if value.dtype.kind == "u" else "i"
        return f"{int(value)} : {kind}{value.dtype.itemsize * 8}"
    if isinstance(value, int):
        return f"{value} : i64"
    if isinstance(value, float):
        return f"{value!r} : f64"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


class StructuredOps(Core):
    """dot_general, reduce, sort, while/if/case, fft, custom_call, cholesky, triangular_solve."""

    def dot_general(self, x: Value, y: Value, *, batch: tuple[Sequence[int], Sequence[int]] = ((), ()),
                    contract: tuple[Sequence[int], Sequence[int]]) -> Value:
        """Sum of products over the ``contract`` axis pairs, batched over the ``batch`` pairs.

        The result axes are: the batch axes, then ``x``'s free axes, then ``y``'s.  The precision
        is HIGHEST: a GPU would otherwise multiply float32 in TF32 (10-bit mantissas), 1e-3
        relative error where numpy users expect float32's 1e-7.
        """
        op = "dot_general"
        self._check_value(op, x)
        self._check_value(op, y)
        if x.dtype != y.dtype:
            self.fail(op, f"operand dtypes differ: {x.type} and {y.type}")
        self._check_kind(op, x, "any")
        xb, yb = (self._check_axes(op, d, v.ndim, "batching dims") for d, v in zip(batch, (x, y)))
        xc, yc = (self._check_axes(op, d, v.ndim, "contracting dims") for d, v in zip(contract, (x, y)))
        if len(xb) != len(yb) or len(xc) != len(yc) or set(xb) & set(xc) or set(yb) & set(yc) \
                or any(x.shape[i] != y.shape[j] for i, j in zip(xb + xc, yb + yc)):
            self.fail(op, f"{x.type} and {y.type} do not pair up over batching dims {list(xb)} x {list(yb)}, "
                          f"contracting dims {list(xc)} x {list(yc)}")
        x, xb, xc = self._untransposed(x, xb, xc)
        y, yb, yc = self._untransposed(y, yb, yc)
        free_x = [d for i, d in enumerate(x.shape) if i not in xb and i not in xc]
        free_y = [d for i, d in enumerate(y.shape) if i not in yb and i not in yc]
        shape = tuple(x.shape[i] for i in xb) + tuple(free_x) + tuple(free_y)
        lanes = 32 // x.dtype.itemsize  # elements in a 256-bit vector
        extent = math.prod(x.shape[i] for i in xc)
        if x.dtype.kind == "f" and extent % lanes == 0 and extent % (2 * lanes):
            self.has_narrow_dot = True
        return self._emit(f"stablehlo.dot_general {x.name}, {y.name}, batching_dims = {dims_text(xb)} x "
                          f"{dims_text(yb)}, contracting_dims = {dims_text(xc)} x {dims_text(yc)}, "
                          f"precision = [HIGHEST, HIGHEST] : "
                          f"({x.type}, {y.type}) -> {tensor_type(shape, x.dtype)}", shape, x.dtype)

    def _untransposed(self, v: Value, batch: tuple[int, ...], contract: tuple[int, ...]
                      ) -> tuple[Value, tuple[int, ...], tuple[int, ...]]:
        """A dot operand ``v`` and its batching and contracting dims, read from the operand of the
        transpose that made ``v`` where its free dims keep their order there (the result is the
        same).  XLA:CPU fuses a transpose into the dot that reads it, and that dot then reads its
        lhs across rows one element at a time: ``x.T @ v`` of a 1000x10 ``x`` in a logistic
        regression step took 3/4 of the step (the loop 0.90 -> 0.69 ms)."""
        found = self.transposed_source(v)
        if found is None:
            return v, batch, contract
        source, perm = found
        free = [perm[i] for i in range(v.ndim) if i not in batch and i not in contract]
        if free != sorted(free):
            return v, batch, contract
        return source, tuple(perm[i] for i in batch), tuple(perm[i] for i in contract)

    # -- ops with regions --------------------------------------------------------------------------

    def reduce(self, operands: Sequence[Value], inits: Sequence[Value], dims: Sequence[int],
               body: RegionBody) -> list[Value]:
        """Reduce ``operands`` (one shape) over ``dims`` from the 0-d ``inits``.

        ``body(b, [acc_0, .., acc_n-1, x_0, .., x_n-1])`` returns the n combined 0-d values.
        """
        op = "reduce"
        if not operands or len(operands) != len(inits):
            self.fail(op, f"needs as many inits as operands, got {len(operands)} and {len(inits)}")
        first = self._check_value(op, operands[0])
        for v, init in zip(operands, inits):
            self._check_value(op, v)
            self._check_value(op, init)
            if v.shape != first.shape or init.shape != () or init.dtype != v.dtype:
                self.fail(op, f"operand {v.type} and init {init.type} do not match {first.type}")
        dims = self._check_axes(op, dims, first.ndim)
        if len(operands) > 1 and any(v.dtype.kind in "iu" for v in operands):
            self.has_index_reduction = True
        scalars = [((), v.dtype) for v in operands]
        region, _ = self._region(scalars + scalars, body, op, scalars)
        shape = tuple(d for i, d in enumerate(first.shape) if i not in dims)
        results = [(shape, v.dtype) for v in operands]
        names = ", ".join(v.name for v in list(operands) + list(inits))
        return self._emit_multi(f'"stablehlo.reduce"({names}) ({region}) {{dimensions = {i64_text(dims)}}} : '
                                f"({_types(list(operands) + list(inits))}) -> {_result_types(results)}", results)

    def optimization_barrier(self, values: Sequence[Value]) -> list[Value]:
        """``values`` unchanged, at a point XLA neither fuses nor moves operations across."""
        op = "optimization_barrier"
        if not values:
            self.fail(op, "needs at least one value")
        for v in values:
            self._check_value(op, v)
        return self._emit_multi(f"stablehlo.optimization_barrier {', '.join(v.name for v in values)} : "
                                f"{_types(values)}", [(v.shape, v.dtype) for v in values])

    def sort(self, operands: Sequence[Value], dim: int, comparator: RegionBody, *,
             is_stable: bool = True) -> list[Value]:
        """Sort ``operands`` (one shape) together along ``dim``.

        ``comparator(b, [lhs_0, rhs_0, lhs_1, rhs_1, ...])`` returns a 0-d boolean: lhs before rhs.
        """
        op = "sort"
        if not operands:
            self.fail(op, "needs at least one operand")
        first = self._check_value(op, operands[0])
        for v in operands:
            self._check_value(op, v)
            if v.shape != first.shape:
                self.fail(op, f"operand shapes differ: {first.type} and {v.type}")
        if not 0 <= dim < first.ndim:
            self.fail(op, f"dimension {dim} is out of range for {first.type}")
        region, _ = self._region([((), v.dtype) for v in operands for _ in (0, 1)], comparator, op, [((), _BOOL)])
        results = [v.aval for v in operands]
        return self._emit_multi(f'"stablehlo.sort"({", ".join(v.name for v in operands)}) ({region}) '
                                f"{{dimension = {int(dim)} : i64, is_stable = {str(bool(is_stable)).lower()}}} : "
                                f"({_types(operands)}) -> {_result_types(results)}", results)

    def while_(self, init: Sequence[Value], cond: RegionBody, body: RegionBody) -> list[Value]:
        """Loop: while ``cond(b, state)`` returns a true 0-d boolean, ``state = body(b, state)``."""
        op = "while"
        if not init:
            self.fail(op, "needs at least one loop value")
        for v in init:
            self._check_value(op, v)
        avals = [v.aval for v in init]
        cond_text, _ = self._region(avals, cond, op, [((), _BOOL)])
        body_text, _ = self._region(avals, body, op, avals)
        return self._emit_multi(f'"stablehlo.while"({", ".join(v.name for v in init)}) ({cond_text}, {body_text}) : '
                                f"({_types(init)}) -> {_result_types(avals)}", avals)

    def if_(self, pred: Value, true_branch: Branch, false_branch: Branch) -> list[Value]:
        """The results of ``true_branch(b, [])`` if the 0-d boolean ``pred`` holds, else of ``false_branch``."""
        self._check_value("if", pred)
        if pred.shape != () or pred.dtype != _BOOL:
            self.fail("if", f"predicate must be a 0-d boolean, got {pred.type}")
        return self._branches("if", pred, [true_branch, false_branch])

    def case(self, index: Value, branches: Sequence[Branch]) -> list[Value]:
        """The results of ``branches[index](b, [])`` (an out-of-range 0-d int32 index runs the last)."""
        self._check_value("case", index)
        if index.shape != () or index.dtype != _I32:
            self.fail("case", f"index must be a 0-d int32, got {index.type}")
        if not branches:
            self.fail("case", "needs at least one branch")
        return self._branches("case", index, list(branches))

    def _branches(self, op: str, selector: Value, branches: list[Branch]) -> list[Value]:
        first_text, first = self._region([], branches[0], op)
        avals = [r.aval for r in first]
        texts = [first_text] + [self._region([], br, op, avals)[0] for br in branches[1:]]
        return self._emit_multi(f'"stablehlo.{op}"({selector.name}) ({", ".join(texts)}) : '
                                f"({selector.type}) -> ({', '.join(tensor_type(s, d) for s, d in avals)})", avals)

    # -- transforms and linear algebra -----------------------------------------------------------------

    def fft(self, x: Value, kind: str, length: Sequence[int]) -> Value:
        """``stablehlo.fft`` of ``kind`` FFT, IFFT, RFFT or IRFFT over the trailing ``length`` axes."""
        op = "fft"
        self._check_value(op, x)
        length = tuple(int(n) for n in length)
        k = len(length)
        if not 1 <= k <= min(3, x.ndim) or any(n < 0 for n in length):
            self.fail(op, f"length {list(length)} does not fit {x.type}")
        lead, tail = x.shape[:-k], x.shape[-k:]
        if kind in ("FFT", "IFFT"):
            self._check_kind(op, x, "complex")
            want, shape, dtype = length, x.shape, x.dtype
        elif kind == "RFFT":
            if x.dtype not in COMPLEX_OF:
                self.fail(op, f"RFFT needs float32 or float64 input, got {x.type}")
            dtype = COMPLEX_OF[x.dtype]
            want, shape = length, lead + length[:-1] + (length[-1] // 2 + 1,)
        elif kind == "IRFFT":
            self._check_kind(op, x, "complex")
            dtype = REAL_OF[x.dtype]
            want, shape = length[:-1] + (length[-1] // 2 + 1,), lead + length
        else:
            self.fail(op, f"type must be FFT, IFFT, RFFT or IRFFT, got {kind!r}")
        if tail != want:
            self.fail(op, f"{kind} of length {list(length)} needs trailing sizes {list(want)}, got {x.type}")
        return self._emit(f"stablehlo.fft {x.name}, type = {kind}, length = {dims_text(length)} : ({x.type}) -> "
                          f"{tensor_type(shape, dtype)}", shape, dtype)

    def _check_matrices(self, op: str, x: Value, square: bool) -> None:
        self._check_value(op, x)
        self._check_kind(op, x, "inexact")
        if x.ndim < 2 or square and x.shape[-1] != x.shape[-2]:
            self.fail(op, f"needs {'square ' if square else ''}matrices, got {x.type}")

    def cholesky(self, x: Value, *, lower: bool = True) -> Value:
        """Cholesky factor of Hermitian positive-definite matrices (the other triangle is unspecified)."""
        self._check_matrices("cholesky", x, True)
        return self._emit(f"stablehlo.cholesky {x.name}, lower = {str(bool(lower)).lower()} : {x.type}",
                          x.shape, x.dtype)

    def triangular_solve(self, a: Value, rhs: Value, *, left_side: bool, lower: bool, unit_diagonal: bool = False,
                         transpose_a: str = "NO_TRANSPOSE") -> Value:
        """Solve ``op(a) @ x = rhs`` (``left_side``) or ``x @ op(a) = rhs`` for triangular ``a``."""
        op = "triangular_solve"
        self._check_matrices(op, a, True)
        self._check_matrices(op, rhs, False)
        n = rhs.shape[-2] if left_side else rhs.shape[-1]
        if rhs.dtype != a.dtype or rhs.shape[:-2] != a.shape[:-2] or n != a.shape[-1]:
            self.fail(op, f"a {a.type} does not fit rhs {rhs.type} (left_side={left_side})")
        if transpose_a not in _TRANSPOSE:
            self.fail(op, f"transpose_a must be one of {_TRANSPOSE}, got {transpose_a!r}")
        return self._emit(f'"stablehlo.triangular_solve"({a.name}, {rhs.name}) {{left_side = '
                          f"{str(bool(left_side)).lower()}, lower = {str(bool(lower)).lower()}, unit_diagonal = "
                          f"{str(bool(unit_diagonal)).lower()}, transpose_a = #stablehlo<transpose {transpose_a}>}} : "
                          f"({a.type}, {rhs.type}) -> {rhs.type}", rhs.shape, rhs.dtype)

    def custom_call(self, target: str, operands: Sequence[Value], results: Sequence[Aval], *,
                    backend_config: str | dict[str, object] | None = None, api_version: int | None = None,
                    has_side_effect: bool = False, operand_layouts: Sequence[Sequence[int]] | None = None,
                    result_layouts: Sequence[Sequence[int]] | None = None) -> list[Value]:
        """``stablehlo.custom_call @target``: results of the given types (nothing to infer).

        ``backend_config`` is an opaque string, or a dict of bool/int/float/str attributes
        (the typed FFI form, with ``api_version=4``).  Layouts are minor-to-major axis
        orders, one per operand/result (``[1, 0]`` is row-major for a matrix).
        """
        op = f"custom_call @{target}"
        if not target.isidentifier():
            self.fail(op, "the target must be an identifier")
        for v in operands:
            self._check_value(op, v)
        avals = [(tuple(int(n) for n in s), np.dtype(d)) for s, d in results]
        if not avals or any(kind_of(d) == "?" or any(n < 0 for n in s) for s, d in avals):
            self.fail(op, f"invalid result types {results!r}")
        attrs = []
        if isinstance(backend_config, dict):
            attrs.append("backend_config = {" + ", ".join(f"{k} = {_attr(v)}" for k, v in backend_config.items()) + "}")
        elif backend_config is not None:
            attrs.append(f"backend_config = {_attr(str(backend_config))}")
        if api_version is not None:
            attrs.append(f"api_version = {int(api_version)} : i32")
        if has_side_effect:
            attrs.append("has_side_effect = true")
        for name, layouts, shapes in (("operand_layouts", operand_layouts, [v.shape for v in operands]),
                                      ("result_layouts", result_layouts, [s for s, _ in avals])):
            if layouts is not None:
                attrs.append(f"{name} = {self._layouts(op, name, layouts, shapes)}")
        attr_text = " {" + ", ".join(attrs) + "}" if attrs else ""
        return self._emit_multi(f"stablehlo.custom_call @{target}({', '.join(v.name for v in operands)}){attr_text} : "
                                f"({_types(operands)}) -> {_result_types(avals)}", avals)

    def _layouts(self, op: str, name: str, layouts: Sequence[Sequence[int]], shapes: Sequence[tuple[int, ...]]) -> str:
        if len(layouts) != len(shapes) or any(sorted(lay) != list(range(len(s))) for lay, s in zip(layouts, shapes)):
            self.fail(op, f"{name} {[list(lay) for lay in layouts]} must be one axis order per value of ranks "
                          f"{[len(s) for s in shapes]}")
        return "[" + ", ".join(f"dense<{dims_text(lay)}> : tensor<{len(lay)}xindex>" for lay in layouts) + "]"
