"""Structured control flow: ``fori_loop``, ``while_loop`` and ``cond``.

Eagerly they are plain Python loops and branches.  While tracing they become
one ``stablehlo.while`` or ``stablehlo.if``: the body is traced once into a
region, so a 10 000-step loop compiles as fast as a 1-step one.  Loop state
(``init``) and branch results may be any tree of tuples, lists and dicts of
arrays and Python scalars; a body must return the same structure with the same
shapes and dtypes.
"""

from __future__ import annotations

import operator
from typing import Any, Callable, Sequence

import numpy as np

from . import _pytree
from ._array import Array
from ._program import block_argument, collect, if_op, while_op
from ._trace_state import state
from ._tracing import Trace, Tracer

__all__ = ["fori_loop", "while_loop", "cond"]

_BOOL = np.dtype(bool)


def _leaves(tree: Any) -> tuple[Any, list[Any]]:
    leaves: list[Any] = []
    return _pytree.flatten(tree, leaves), leaves


def _predicate(trace: Trace, pred: Any, what: str) -> Array:
    """``pred`` as a 0-d boolean tracer (numbers compare with zero, as ``bool()`` does)."""
    p: Array = trace.lift(pred)
    if p.shape != ():
        raise TypeError(f"{what} must be a scalar (0-d) predicate, got shape {p.shape}")
    if p.dtype != _BOOL:
        from .ops.elementwise import not_equal
        p = not_equal(p, 0)
    return p


def _check_same(what: str, tree: Any, expected_tree: Any, values: Sequence[Any], expected: Sequence[Any]) -> None:
    if tree != expected_tree:
        raise TypeError(f"{what} must have the structure of the loop state/other branch "
                        f"({expected_tree}), got {tree}")
    for i, (v, e) in enumerate(zip(values, expected)):
        if (v.shape, v.dtype) != (e.shape, e.dtype):
            raise TypeError(f"{what}: leaf {i} has shape {v.shape} and dtype {v.dtype}, but must keep "
                            f"shape {e.shape} and dtype {e.dtype} (convert with astype)")


def _region(trace: Trace, what: str, carry: Sequence[Tracer], tree: Any, fn: Callable[[Any], Any],
            ) -> tuple[Trace, list, list[str], Any, list[Tracer]]:
    """Trace ``fn(state)`` into a while region whose block arguments are fresh copies of ``carry``."""
    child = trace.child(what, explicit=True)
    with child.active(), collect(trace.builder) as lines:
        args = [block_argument(trace.builder, c.shape, c.dtype) for c in carry]
        inner = [Tracer._new(child, a, trace.device, c._weak) for a, c in zip(args, carry)]
        out_tree, out = _leaves(fn(_pytree.unflatten(tree, inner)))
        out = [child.lift(x) for x in out]
        for x in out:
            child.value_of(x)
    return child, args, lines, out_tree, out


def _traced_while(trace: Trace, cond_fun: Callable, body_fun: Callable, init: Any) -> Any:
    tree, leaves = _leaves(init)
    carry = [trace.lift(x) for x in leaves]
    cond_trace, cond_args, cond_lines, _, (pred,) = _region(
        trace, "while_loop cond", carry, tree, lambda s: _predicate(state.trace, cond_fun(s), "cond_fun's result"))
    body_trace, body_args, body_lines, out_tree, out = _region(trace, "while_loop body", carry, tree, body_fun)
    _check_same("body_fun's result", out_tree, tree, out, carry)
    body_out = [body_trace.value_of(x) for x in out]
    # Outer values either region reads become extra carries that the body passes through.
    outer: list[Any] = []
    for region in (cond_trace, body_trace):
        for o, _ in region.captures:
            if all(o.name != p.name for p in outer):
                outer.append(o)
    b = trace.builder

    def arguments(region: Trace, args: list) -> list:
        mine = {o.name: v for o, v in region.captures}
        return args + [mine.get(o.name) or block_argument(b, o.shape, o.dtype) for o in outer]
    cond_block = arguments(cond_trace, cond_args)
    body_block = arguments(body_trace, body_args)
    init_values = [trace.value_of(c) for c in carry] + outer
    results = while_op(b, init_values, (cond_block, cond_lines, cond_trace.value_of(pred)),
                       (body_block, body_lines, body_out + body_block[len(carry):]))
    final = [Tracer._new(trace, v, trace.device, c._weak) for v, c in zip(results, carry)]
    return _pytree.unflatten(tree, final)


def while_loop(cond_fun: Callable[[Any], Any], body_fun: Callable[[Any], Any], init_val: Any) -> Any:
    """``while cond_fun(val): val = body_fun(val)``; returns the final ``val``.

    Traced (inside :func:`~pjrt_array.jit`) it is one ``stablehlo.while``: the body is
    compiled once, never unrolled.
    """
    trace = state.trace
    if trace is None:
        val = init_val
        while bool(cond_fun(val)):
            val = body_fun(val)
        return val
    return _traced_while(trace, cond_fun, body_fun, init_val)


def fori_loop(lower: Any, upper: Any, body_fun: Callable[[Any, Any], Any], init_val: Any) -> Any:
    """``for i in range(lower, upper): val = body_fun(i, val)``; returns the final ``val``.

    ``lower``/``upper`` are integers or 0-d integer arrays.  Eagerly ``i`` is a Python int;
    traced it is a 0-d integer array (weakly typed when the bounds are Python ints).
    """
    trace = state.trace
    for name, bound in (("lower", lower), ("upper", upper)):
        if isinstance(bound, Array):
            if bound.ndim != 0 or bound.dtype.kind not in "iu":
                raise TypeError(f"{name} must be an integer or a 0-d integer array, got {bound.dtype}{bound.shape}")
        else:
            operator.index(bound)
    if trace is None:
        val = init_val
        for i in range(int(lower), int(upper)):
            val = body_fun(i, val)
        return val
    if not isinstance(lower, Array) and not isinstance(upper, Array):
        lower, upper = operator.index(lower), operator.index(upper)
    start = trace.lift(lower)

    def cond_fun(s: tuple) -> Any:
        return s[0] < upper

    def body(s: tuple) -> tuple:
        i, val = s
        return i + 1, body_fun(i, val)
    return _traced_while(trace, cond_fun, body, (start, init_val))[1]


def cond(pred: Any, true_fun: Callable[..., Any], false_fun: Callable[..., Any], *operands: Any) -> Any:
    """``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``.

    Traced it is one ``stablehlo.if`` (both branches are traced; they must return the
    same structure, shapes and dtypes).
    """
    trace = state.trace
    if trace is None:
        return true_fun(*operands) if bool(pred) else false_fun(*operands)
    p = _predicate(trace, pred, "pred")
    branches = []
    for what, fn in (("cond true_fun", true_fun), ("cond false_fun", false_fun)):
        child = trace.child(what, explicit=False)
        with child.active(), collect(trace.builder) as lines:
            tree, out = _leaves(fn(*operands))
            out = [child.lift(x) for x in out]
            values = [child.value_of(x) for x in out]
        branches.append((tree, out, lines, values))
    (t_tree, t_out, t_lines, t_values), (f_tree, f_out, f_lines, f_values) = branches
    _check_same("false_fun's result", f_tree, t_tree, f_out, t_out)
    results = if_op(trace.builder, trace.value_of(p), (t_lines, t_values), (f_lines, f_values))
    final = [Tracer._new(trace, v, trace.device, a._weak if a._weak == b._weak else None)
             for v, a, b in zip(results, t_out, f_out)]
    return _pytree.unflatten(t_tree, final)
