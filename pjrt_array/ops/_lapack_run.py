"""Running a LAPACK rule eagerly: on the host directly when that is cheaper, else as its program.

A LAPACK rule's program is one custom call whose Python FFI handler runs a
kernel of ``_lapack`` on views of the operands.  For a small matrix most of its
cost is the program around the kernel: the execute, the handler's callback
and its views (about 15 us against 2-5 us of LAPACK at 8x8).  So where a call
is eager (not traced), on one CPU device, its operands are computed (their
buffers ready) and its operands and results are small (:data:`HOST_MAX_BYTES`),
the same kernel runs here on read-only views of the operands' memory (or their
host values), on the same operands (converted as the rule converts them,
``_lapack.Plan``), into new numpy arrays: the values are those of the program,
bit for bit, and a ``LinAlgError`` raises at the call as it does there.  The
results stay on the host as the Arrays' values until a device use needs a
buffer (``pjrt_array._host_value``): an upload per result would cost more than
LAPACK does at 8x8.  Anything else runs the program; with automatic fusion on,
a LAPACK call ends the thread's segment either way (its error belongs to the call).

The checks and the choice of kernel are made once per kind of call (``_calls``,
and the front ends' ``_lapack.choices``): a cached call reads the operands'
host values, runs the kernel and wraps its results.  A one-matrix call of a kind
served before goes from the front end's key straight there (:func:`run_cached`).
"""

from __future__ import annotations

import functools
import os
from typing import Any, NoReturn, Sequence

import numpy as np

from .. import _fusion
from .._array import Array, host_value_results
from .._devices import Device
from .._host_value import HostValue
from .._dispatch import run as _run
from .._pjrt import Buffer, PjrtError
from .._pjrt.buffer_hot import is_ready
from .._pjrt.extensions.ffi_handler import serve
from .._trace_state import state as _trace_state
from . import _lapack

__all__ = ["run", "run_cached", "set_host_max_bytes", "HOST_MAX_BYTES"]

#: The largest call (bytes of its operands and results) run on the host; 0 turns the host path off.
#: The host path was faster at every size measured (8x8 to 128x128, docs/benchmarks.md); the bound
#: keeps it to calls whose results' later upload (a second copy of each result in memory, once a
#: device use needs it) is small next to LAPACK's time, and whose operands may stay pinned by the
#: host view cached on them (a pinned buffer is never reused by an in-place write).
HOST_MAX_BYTES = int(os.environ.get("PJRT_ARRAY_LAPACK_HOST_BYTES", 1 << 20))
_MAX_CALLS = 1024
# (rule, params, operand avals) -> how to run it on the host, or None where the program runs.
_calls: dict[tuple, Any] = {}
_empty = np.empty
_choices = _lapack.choices  # (the front ends' keys -> the host calls run_cached runs)


class _HostCall:
    """A call the host serves: the kernel, its operands (an argument converted to a dtype, or a
    constant array) and its results' avals."""

    __slots__ = ("kernel", "operands", "constants", "results", "shapes", "dtypes")

    def __init__(self, plan: _lapack.Plan, args: Sequence[Array]) -> None:
        kernel, in_place = _lapack.KERNELS[plan.kernel]
        # kernel(inputs, outputs): an in-place kernel itself, else ``serve`` copying its results in
        self.kernel = kernel if in_place else functools.partial(serve, kernel, in_place=False)
        self.operands: tuple[tuple[int, Any], ...] = tuple(
            (-1, np.asarray(src.value, dtype)) if isinstance(src, _lapack.Const)
            else (src, None if args[src].dtype == dtype else dtype) for src, dtype in plan.operands)
        # Most calls pass the arguments as they are, then constants (``pinv``'s tolerance): those
        # constants, appended to the arguments' values; None where ``operands`` converts or reorders
        n = len(args)
        passed, rest = self.operands[:n], self.operands[n:]
        self.constants: tuple[np.ndarray, ...] | None = None
        if passed == tuple((i, None) for i in range(n)) and all(src < 0 for src, _ in rest):
            self.constants = tuple(value for _, value in rest)
        self.results = tuple((tuple(shape), np.dtype(dtype)) for shape, dtype in plan.results)
        self.shapes = tuple(shape for shape, _ in self.results)
        self.dtypes = tuple(dtype for _, dtype in self.results)


def set_host_max_bytes(limit: int) -> None:
    """The largest call (operand and result bytes) served on the host; 0: always the program."""
    global HOST_MAX_BYTES
    HOST_MAX_BYTES = int(limit)
    _calls.clear()
    _lapack.choices.clear()  # (the front ends' remembered host calls, ``run_cached``)


def _host_call(key: tuple, rule: Any, params: tuple, args: Sequence[Array]) -> _HostCall | None:
    """How the host serves this kind of call (made once per rule, parameters and operand avals);
    None where the program runs it (not a LAPACK rule, or above the size bound)."""
    plan_of = _lapack.PLANS.get(rule)
    call = None
    if plan_of is not None:
        plan = plan_of(*args, **dict(params))
        size = sum(int(np.prod(a.shape)) * a.dtype.itemsize for a in args)
        size += sum(int(np.prod(shape)) * np.dtype(dtype).itemsize for shape, dtype in plan.results)
        call = _HostCall(plan, args) if size <= HOST_MAX_BYTES else None
    if len(_calls) >= _MAX_CALLS:
        _calls.clear()
    _calls[key] = call
    return call


def _read_operand(a: Array, recorder: Any) -> np.ndarray | None:
    """``a``'s value on the host (cached on it: a later call reads it for free), waiting for it
    when it is still being computed: whether the host or the program serves a call must not depend
    on timing (their kernels round differently).  None: another thread's fusion segment has yet to
    compute it (the program waits for it, as every op does)."""
    buf = a._buffer  # first: a stale view re-derives its buffer (and drops its host view)
    host = a._host
    if host is None:
        if recorder is not None and type(buf) is not Buffer:
            _fusion.settle((a,))  # a deferred operand gets its computed buffer
            buf = a._buffer
        if type(buf) is not HostValue and type(buf) is not Buffer:
            return None
        host = a._numpy(ready=type(buf) is HostValue or is_ready(buf._client.api, buf.handle))
    return host


def _on_host(rule: Any, params: tuple, args: Sequence[Array], device: Device,
             front: Any = None) -> list[Array] | None:
    """The call run on the host; None where the program must run it.  ``front``: the front end's
    key of a one-operand call, under which a call served here is remembered (:func:`run_cached`)."""
    if len(args) == 1:
        a = args[0]
        if a._sharding is not None:
            return None
        key: tuple = (rule, params, a._aval)
    else:
        for a in args:
            if a._sharding is not None:
                return None
        key = (rule, params, *[a._aval for a in args])
    call = _calls.get(key, _calls)
    if call is _calls:
        call = _host_call(key, rule, params, args)
    if call is None:  # not a LAPACK rule, or above the bound: nothing is read here
        return None
    recorder = _trace_state.fusion
    if recorder is not None:
        recorder.boundary()  # the segment ends here, as it does for the program (``run``)
    values = []
    for a in args:
        host = a._host
        if host is None or a._base is not None:  # (a view's cached value may be stale)
            host = _read_operand(a, recorder)
            if host is None:
                return None
        values.append(host)
    if front is not None and len(args) == 1:
        _lapack.remember((front, params, a._aval, device.token), call)
    return _compute(call, values, device)


def run_cached(key: Any, params: tuple, x: Any) -> list[Array] | None:
    """The results of a one-operand call of a kind the host served before (its ``_HostCall``,
    remembered by :func:`run` under the front end's ``key`` with ``params``): straight to its
    kernel, what ``run`` does less the checks and look-ups.  None where ``run`` must decide
    (nothing remembered, a trace, a sharded operand, an operand not readable here)."""
    if type(x) is not Array:
        return None
    call = _choices.get((key, params, x._aval, x._device.token))
    if call is None or _trace_state.trace is not None or x._sharding is not None:
        return None
    recorder = _trace_state.fusion
    if recorder is not None:
        recorder.boundary()
    host = x._host
    if host is None or x._base is not None:
        try:
            host = _read_operand(x, recorder)
        except PjrtError as exc:  # the operand's computation failed: its error, as ``run`` raises it
            _raise(exc)
        if host is None:
            return None
    return _compute(call, [host], x._device)


def _raise(exc: PjrtError) -> NoReturn:
    """Raise ``exc`` as the ``numpy.linalg.LinAlgError`` a kernel's failure stands for, else as it is."""
    error = _lapack.linalg_error(exc)
    if error is not None:
        raise error from None
    raise exc


def _compute(call: _HostCall, values: list[np.ndarray], device: Device) -> list[Array]:
    """The kernel of ``call`` on the operands' host values, into new Arrays holding its results."""
    constants = call.constants
    if constants is None:
        values = [values[src] if cast is None else values[src].astype(cast) if src >= 0 else cast
                  for src, cast in call.operands]
    elif constants:
        values += constants
    shapes, dtypes = call.shapes, call.dtypes
    if len(shapes) == 1:  # (most calls: half of what ``map`` costs for one result)
        outputs = [_empty(shapes[0], dtypes[0])]
    else:
        outputs = list(map(_empty, shapes, dtypes))
    call.kernel(values, outputs)  # a LinAlgError raises here, at the call
    # The results stay here until a device use needs them (``pjrt_array._host_value``)
    return host_value_results(outputs, call.results, device)


def run(rule: Any, params: tuple, args: Sequence[Array], device: Any, front: Any = None) -> list[Array]:
    """``_dispatch.run`` for linalg's rules: a LAPACK rule's kernel on the host where that serves
    (see the module's docstring), else the program, with a kernel's ``LinAlgError`` raised as
    ``numpy.linalg.LinAlgError``.  (Functions with no decomposition in them, ``diagonal``,
    ``trace``, the Frobenius norm..., dispatch like any other op instead: ``ops/linalg.py: _op``.)
    ``front``: the front end's key of a one-operand call (see :func:`run_cached`).

    The CPU plugins execute these programs on the calling thread, so the error
    arrives here; one that arrives later (an execution queued behind unfinished
    inputs) is raised at the next host read as ``InvalidArgument`` (a
    ValueError, as LinAlgError is) with the same message.
    """
    try:
        if _trace_state.trace is None and type(device) is Device:  # (``_calls`` knows the LAPACK rules)
            out = _on_host(rule, params, args, device, front)
            if out is not None:
                return out
        if _trace_state.fusion is None:
            return _run(rule, params, args, device)
        with _fusion.eagerly():  # automatic fusion never defers a kernel whose error belongs to the call
            return _run(rule, params, args, device)
    except PjrtError as exc:
        _raise(exc)
