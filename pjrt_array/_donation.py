"""Who may give a buffer away: donation for in-place writes and temporary elision.

A program may take an input buffer as its output's memory (input/output
aliasing, ``tf.aliasing_output`` on ``@main``'s argument) only when nothing
else can ever read that buffer again.  A buffer's holders are counted, not
guessed: the Python references to its :class:`Buffer` (each Array on it, a
dispatch in another thread that is about to execute it, the in-flight queue),
the host views and DLPack capsules pinning it (``Client._pins``), and a
zero-copy upload's numpy array behind it.

Temporary elision follows numpy's rule: an operand of a binary operator that
only the expression being evaluated refers to (the interpreter's operand
stack and the operator's own frame), whose buffer is solely its own and at
least :data:`ELIDE_BYTES` large, gives its buffer to the result when the
shapes and dtypes match.  Nothing observable changes.
"""

from __future__ import annotations

import dis
import sys
from typing import TYPE_CHECKING, Any, Callable, Sequence

from . import _inflight

if TYPE_CHECKING:
    from ._array import Array

__all__ = ["sole_owner", "temporary", "donating_form", "aliased_module", "ELIDE_BYTES"]

#: Temporaries smaller than this are not elided (numpy's threshold: below it a
#: new buffer is as cheap as reuse, and small programs need not compile twice).
ELIDE_BYTES = 256 * 1024

_BINARY_OP = dis.opmap["BINARY_OP"]
# References to an Array that only an expression holds, counted inside ``temporary``:
# the operand stack, the operator method's parameter, ours, and getrefcount's argument.
_TEMPORARY_REFS = 4
#: The same references as the operator method itself counts them (no frame of ``temporary``).
OPERATOR_REFS = _TEMPORARY_REFS - 1


def sole_owner(x: "Array") -> bool:
    """Whether ``x`` (just made by the caller on the buffer) is the only holder of its buffer."""
    if x._sharding is not None:  # one buffer per device: not donated (yet)
        return False
    buf = x._buf
    if getattr(type(buf), "deferred", False):  # a value automatic fusion has not computed yet (_fusion)
        return False
    # Holders counted here: x's slot, our local, getrefcount's argument (+ the in-flight queue).
    expected = 3 + _inflight.holds(x._device, buf)
    if sys.getrefcount(buf) != expected:
        return False
    if buf._host_ref is not None:  # the device memory is a user's numpy array (zero-copy upload)
        return False
    return buf._handle not in buf._client._pins


def temporary(a: Any, b: Any) -> int:
    """Which operand of a binary operator (0 or 1) may donate its buffer to the result, or -1.

    Called straight from the operator method, with the interpreter's BINARY_OP
    as the caller (a C caller such as ``sum()`` may hold references we cannot see).
    """
    if sys.getrefcount(a) == _TEMPORARY_REFS and _large(a):
        return _if_sole(a, 0)
    if sys.getrefcount(b) == _TEMPORARY_REFS and _large(b):
        return _if_sole(b, 1)
    return -1


def _if_sole(x: "Array", k: int) -> int:
    caller = sys._getframe(3)  # _if_sole, temporary, the operator method, its caller
    if caller.f_code.co_code[caller.f_lasti] != _BINARY_OP:
        return -1
    x._buffer  # a stale view re-derives its buffer first
    return k if sole_owner(x) else -1


def _large(x: Any) -> bool:
    if type(x).__name__ != "Array":
        return False
    shape, dtype = x._aval
    n = dtype.itemsize
    for d in shape:
        n *= d
    return n >= ELIDE_BYTES


def donating_form(fname: str) -> Callable[[Any, Any, int], "Array"] | None:
    """The form of namespace function ``fname`` that may donate operand ``k`` (or None)."""
    from .ops.elementwise import DONATING
    return DONATING.get(fname)


def aliased_module(text: str, avals: Sequence[Any], out_avals: Sequence[Any],
                   donate: Sequence[int]) -> tuple[str, tuple[int, ...]]:
    """``@main``'s text with each donated argument aliased to a free output of its shape and dtype.

    Returns the text and the argument indices actually aliased (an argument
    with no matching output is not donated).
    """
    head_end = text.index("{", text.index("func.func public @main"))
    head, body = text[:head_end], text[head_end:]
    free = list(range(len(out_avals)))
    aliased = []
    for i in donate:
        match = next((j for j in free if out_avals[j] == avals[i]), None)
        if match is None:
            continue
        free.remove(match)
        arg = f"%arg{i}: {_type_of(head, i)}"
        head = head.replace(arg, f"{arg} {{tf.aliasing_output = {match} : i32}}", 1)
        aliased.append(i)
    return head + body, tuple(aliased)


def _type_of(head: str, i: int) -> str:
    start = head.index(f"%arg{i}: ") + len(f"%arg{i}: ")
    depth, k = 0, start
    while True:
        c = head[k]
        if c == "<":
            depth += 1
        elif c == ">":
            depth -= 1
            if depth == 0:
                return head[start:k + 1]
        k += 1


def consumed(args: Sequence["Array"], bufs: Sequence[Any], aliased: Sequence[int]) -> int:
    """After an execute that took ``aliased`` arguments' buffers: those Arrays can no longer be
    read.  Returns the in-flight bytes those buffers still counted (they move to the output)."""
    from ._views import DONATED
    moved = 0
    for i in aliased:
        args[i]._buf = DONATED
        moved += _inflight.forget(args[i]._device, bufs[i])
    return moved
