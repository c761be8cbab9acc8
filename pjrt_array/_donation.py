"""Who may give a buffer away: donation for in-place writes and temporary elision.

A program may take an input buffer as its output's memory (input/output
aliasing, ``tf.aliasing_output`` on ``@main``'s argument) only when nothing
else can ever read that buffer again.  A buffer's holders are counted, not
guessed: the Python references to its :class:`Buffer` (each Array on it, a
dispatch in another thread that is about to execute it, the in-flight queue),
the host views and DLPack capsules pinning it (``Client._pins``), and a
zero-copy upload's numpy array behind it.

Temporary elision follows numpy's rule: an operand of an operator that only
the expression being evaluated refers to (the interpreter's operand stack and
the operator's own frame), whose buffer is solely its own and at least
:data:`ELIDE_BYTES` large, gives its buffer to the result when the shapes and
dtypes match.  The same holds for the argument of a one-operand namespace
function called from Python code (``exp(a + b)``): the interpreter moves its
reference into the callee's frame, so only the call holds it.  Nothing
observable changes.

The rule reads reference counts, so it depends on how the interpreter holds
references: it is checked on CPython 3.11 to 3.13.  From 3.14 the operand
stack may hold borrowed references (uncounted), which would make a named
variable look like a temporary, so elision is off there (:data:`ELIDES`).
"""

from __future__ import annotations

import dis
import sys
from typing import TYPE_CHECKING, Any, Callable, Sequence

from . import _inflight

if TYPE_CHECKING:
    from ._array import Array

__all__ = ["SMALL_AVALS", "sole_owner", "temporary", "temporary_operand", "temporary_argument", "donating_form",
           "donating_unary", "aliased_module", "ELIDE_BYTES", "ELIDES"]

#: Temporaries smaller than this are not elided (numpy's threshold: below it a
#: new buffer is as cheap as reuse, and small programs need not compile twice).
ELIDE_BYTES = 256 * 1024
#: Whether this interpreter holds references the way the elision rule counts them.
ELIDES = (3, 11) <= sys.version_info[:2] < (3, 14)

_BINARY_OP = dis.opmap.get("BINARY_OP")
_UNARY_OPS = frozenset(dis.opmap[name] for name in ("UNARY_NEGATIVE", "UNARY_INVERT") if name in dis.opmap)
_CALL = dis.opmap.get("CALL")
_CACHE = dis.opmap.get("CACHE")
# References to an Array that only an expression holds, counted inside ``temporary`` and
# ``temporary_operand``: the operand stack, the operator method's parameter, ours, and
# getrefcount's argument.
_TEMPORARY_REFS = 4
#: The same references as the operator method itself counts them (no frame of ``temporary``).
OPERATOR_REFS = _TEMPORARY_REFS - 1
# The same inside ``temporary_argument``: the function's parameter (the caller's stack
# reference moved into it), ours, and getrefcount's argument.
_ARGUMENT_REFS = 3
#: The same as the one-operand function itself counts them (no frame of ``temporary_argument``).
FUNCTION_REFS = _ARGUMENT_REFS - 1


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
    if not ELIDES:
        return -1
    if sys.getrefcount(a) == _TEMPORARY_REFS and _large(a):
        return 0 if _called_by((_BINARY_OP,)) and _sole(a) else -1
    if sys.getrefcount(b) == _TEMPORARY_REFS and _large(b):
        return 1 if _called_by((_BINARY_OP,)) and _sole(b) else -1
    return -1


def temporary_operand(x: Any) -> bool:
    """Whether the operand of a unary operator (``-x``, ``~x``) is referenced only by the
    expression, so its buffer may become the result's.  Called straight from the operator method."""
    return (ELIDES and sys.getrefcount(x) == _TEMPORARY_REFS and _large(x)
            and _called_by(_UNARY_OPS) and _sole(x))


def temporary_argument(x: Any) -> bool:
    """Whether the argument of a one-operand namespace function called from Python code
    (``exp(a + b)``) is referenced only by that call.  Called straight from the function."""
    return (ELIDES and sys.getrefcount(x) == _ARGUMENT_REFS and _large(x)
            and _called_by((_CALL,)) and _sole(x))


def _called_by(opcodes: Any) -> bool:
    """Whether the code that called the operator method or function that asks (two frames
    above our caller) is Python code executing one of ``opcodes`` (a C caller such as ``sum()``
    or ``map()`` may hold references we cannot see)."""
    frame = sys._getframe(3)  # _called_by, temporary*, the operator method or function, its caller
    code, i = frame.f_code.co_code, frame.f_lasti
    while i > 0 and code[i] == _CACHE:  # during a call the frame may point at the call's cache entries
        i -= 2
    return code[i] in opcodes


def _sole(x: "Array") -> bool:
    x._buffer  # a stale view re-derives its buffer first
    return sole_owner(x)


#: Avals found below :data:`ELIDE_BYTES`: an operator skips ``temporary`` for an operand of one
#: (most operands of a loop over small arrays; the check would cost more than the op's front end).
SMALL_AVALS: set[Any] = set()


def _large(x: Any) -> bool:
    if type(x).__name__ != "Array":
        return False
    shape, dtype = x._aval
    n = dtype.itemsize
    for d in shape:
        n *= d
    if n < ELIDE_BYTES:
        if len(SMALL_AVALS) >= 4096:
            SMALL_AVALS.clear()
        SMALL_AVALS.add(x._aval)
        return False
    return True


def donating_form(fname: str) -> Callable[[Any, Any, int], "Array"] | None:
    """The form of binary namespace function ``fname`` that may donate operand ``k`` (or None)."""
    from .ops.elementwise import DONATING
    return DONATING.get(fname)


def donating_unary(fname: str) -> Callable[["Array"], "Array"] | None:
    """The form of unary namespace function ``fname`` that may donate its operand (or None)."""
    from .ops.elementwise import DONATING_UNARY
    return DONATING_UNARY.get(fname)


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
