"""Tracing: Arrays that record operations into one program instead of running them.

A :class:`Tracer` is an ``Array`` whose value is an SSA value of a program
being built.  It goes through the same public functions, methods and
operators as a concrete Array; the one difference is in ``_dispatch.run``,
which hands the op to the active :class:`Trace` of the thread: the trace calls
the very same lowering rule on its builder and wraps the results as tracers.

Traces nest.  The root trace is a whole ``@main``: its parameters are the
traced arguments plus every concrete Array the function touched (closures,
uploads), passed again at each call.  A child trace is a region of a loop or a
branch; ``explicit`` children (``while`` regions) turn outer values into block
arguments, the others (``if`` branches) refer to enclosing values directly.

Python scalars passed to a traced function are *weak* tracers: they take part
in promotion like the Python scalar they stand for (``x32 * s`` stays
float32), and an op whose inputs are all weak and whose result has the
default dtype of its kind is weak as well.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Sequence

import numpy as np

from . import _dtypes, _traced_views
from ._array import Array
from ._devices import Device
from ._trace_state import enter, leave, state
from .ops._builder import Builder, Value

__all__ = ["Tracer", "Trace", "ConcretizationError", "refuse_traced", "weak_operands"]

_SCALARS = (bool, int, float, complex)
_WEAK_ORDER = (bool, int, float, complex)
_DEFAULT_OF_KIND = {bool: np.dtype(bool), int: _dtypes.DEFAULT_INT, float: _dtypes.DEFAULT_FLOAT,
                    complex: _dtypes.DEFAULT_COMPLEX}
_KIND_OF_DEFAULT = {d: k for k, d in _DEFAULT_OF_KIND.items()}
_REMEDY = ("Pass the value as a static argument (jit's static_argnums/static_argnames), choose element-wise "
           "with where(), or use pjrt_array.cond / while_loop / fori_loop for control flow.")


class ConcretizationError(TypeError):
    """A traced function needed the value of a traced array (known only when the program runs)."""


def refuse_traced(function: str, reason: str, *arrays: Any) -> None:
    """Raise ConcretizationError when ``function`` runs inside a trace (its output needs the data)."""
    trace = state.trace
    if trace is None:
        trace = next((a._trace for a in arrays if isinstance(a, Tracer)), None)
    if trace is not None:
        raise ConcretizationError(
            f"{function} cannot be traced inside {trace.name!r}: {reason}. Call it outside the jitted "
            "function, or use a fixed-size alternative (e.g. where() with a mask).")


def _escaped(self: "Tracer") -> Any:
    raise ConcretizationError(
        f"a traced array of {self._trace.name!r} was used outside its trace (it escaped, e.g. through a "
        "global or a list kept after the call); return it from the function instead")


class Tracer(Array):
    """An Array standing for a value of a program being traced."""

    __slots__ = ("_trace", "_value", "_weak")
    _traced = True
    _trace: "Trace"
    _value: Value
    _weak: type | None
    # The buffer does not exist: any eager use of a tracer ends here with a clear error.
    _buffer = property(_escaped)

    @classmethod
    def _new(cls, trace: "Trace", value: Value, device: Device, weak: type | None = None) -> "Tracer":
        self = object.__new__(cls)
        self._trace = trace
        self._value = value
        self._aval = (value.shape, value.dtype)
        self._device = device
        self._sharding = None
        self._weak = weak
        self._host = None
        self._base = None  # set when the tracer is a view (``_views.attach``)
        self._version = 0
        self._lock = None
        self._exposed = None
        return self

    def _rebind(self, other: Array) -> None:
        t = other if isinstance(other, Tracer) else self._trace.lift(other)
        self._trace, self._value, self._aval = t._trace, t._value, t._aval
        self._device, self._weak = t._device, t._weak

    def _concrete(self, operation: str) -> Any:
        raise ConcretizationError(
            f"{operation} needs the value of a traced array of shape {self.shape} and dtype {self.dtype} "
            f"inside the traced function {self._trace.name!r}, but its value is only known when the "
            f"compiled program runs. {_REMEDY}")

    def _numpy(self, ready: bool = False) -> np.ndarray:
        return self._concrete("reading the array on the host")

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return self._concrete("__array__ (conversion to numpy)")

    def __bool__(self) -> bool:
        return self._concrete("bool() (e.g. an `if` or `while` on an array)")

    def __int__(self) -> int:
        return self._concrete("int()")

    def __float__(self) -> float:
        return self._concrete("float()")

    def __complex__(self) -> complex:
        return self._concrete("complex()")

    def __index__(self) -> int:
        return self._concrete("__index__ (an array used as a Python integer, e.g. a shape or range bound)")

    def __dlpack__(self, **kwargs: Any) -> Any:
        return self._concrete("__dlpack__ (DLPack export)")

    def __repr__(self) -> str:
        weak = ", weak" if self._weak else ""
        return f"Tracer(shape={self.shape}, dtype={self.dtype}{weak}, traced in {self._trace.name!r})"

    __str__ = __repr__

    def block_until_ready(self) -> "Tracer":
        return self

    def to_device(self, device: Device, /, *, stream: Any = None) -> "Tracer":
        if device != self._device:
            raise ValueError(f"to_device({device!r}) inside the traced function {self._trace.name!r}: a "
                             f"traced program runs on one device ({self._device!r}); move arrays outside it")
        return self


class Trace:
    """The program a traced function is recorded into (or a region of it)."""

    def __init__(self, builder: Builder, device: Device, name: str, parent: "Trace | None" = None,
                 explicit: bool = False) -> None:
        self.builder = builder
        self.device = device
        self.name = name
        self.parent = parent
        self.explicit = explicit
        self.alive = True
        self.params: list[Value] = []        # root: the @main parameters, in order
        self.inputs: list[Array] = []        # root: concrete Arrays passed as extra parameters
        #: explicit children: (outer value, block argument) of each captured enclosing value
        self.captures: list[tuple[Value, Value]] = []
        self._captured: dict[int, tuple[Any, Value]] = {}
        self._constants: dict[tuple, Tracer] = {}

    # -- activation -------------------------------------------------------------------
    @contextlib.contextmanager
    def active(self) -> Iterator["Trace"]:
        saved = enter(self)
        try:
            yield self
        finally:
            leave(saved)

    def child(self, what: str, *, explicit: bool) -> "Trace":
        return Trace(self.builder, self.device, f"{what} in {self.name}", self, explicit)

    def parameter(self, shape: tuple[int, ...], dtype: np.dtype, weak: type | None = None) -> Tracer:
        """A new @main parameter (root) as a tracer."""
        value = Value(self.builder.fresh(), shape, dtype)
        self.params.append(value)
        return Tracer._new(self, value, self.device, weak)

    # -- values -----------------------------------------------------------------------
    def _is_ancestor(self, other: "Trace") -> bool:
        t = self.parent
        while t is not None:
            if t is other:
                return True
            t = t.parent
        return False

    def value_of(self, x: Array) -> Value:
        """The SSA value of ``x`` in this trace (capturing outer values and concrete Arrays)."""
        if isinstance(x, Tracer):
            if x._base is not None:
                _traced_views.refresh(x)  # a view whose base was written since
            if x._trace is self:
                return x._value
            if not x._trace.alive or not self._is_ancestor(x._trace):
                _escaped(x)
        found = self._captured.get(id(x))
        if found is not None:
            return found[1]
        if self.parent is None:
            if x._sharding is not None:
                raise TypeError(f"{self.name}: a sharded Array cannot be captured by a traced function yet")
            self._check_device(x._device)
            value = Value(self.builder.fresh(), x.shape, x.dtype)
            self.params.append(value)
            self.inputs.append(x)
        elif not self.explicit:
            value = self.parent.value_of(x)
        else:
            outer = self.parent.value_of(x)
            value = Value(self.builder.fresh(), outer.shape, outer.dtype)
            self.captures.append((outer, value))
        self._captured[id(x)] = (x, value)  # holding x keeps its id unique
        return value

    def lift(self, x: Any) -> Tracer:
        """``x`` (tracer, concrete Array or Python scalar) as a tracer of this trace."""
        if isinstance(x, Tracer) and x._trace is self:
            return x
        if isinstance(x, Array):
            return Tracer._new(self, self.value_of(x), self.device, getattr(x, "_weak", None))
        if isinstance(x, _SCALARS):
            return self.constant(x, _dtypes.default_dtype_of(x), weak=type(x))
        raise TypeError(f"{self.name}: expected an array or a Python scalar, got {type(x).__name__}")

    def constant(self, value: Any, dtype: np.dtype, weak: type | None = None) -> Tracer:
        """A literal constant of the program (Python scalars written inside the traced code)."""
        key = (type(value), value.hex() if isinstance(value, float) else value, dtype, weak)
        found = self._constants.get(key)
        if found is None:
            found = self._constants[key] = Tracer._new(
                self, self.builder.constant(value, dtype), self.device, weak)
        return found

    def _check_device(self, device: Device) -> None:
        if device is not self.device and device != self.device:
            raise ValueError(f"{self.name} is traced for {self.device!r}, but an operation uses an array on "
                             f"{device!r}; move it with to_device() before the call")

    # -- operations -------------------------------------------------------------------
    def emit(self, rule: Any, params: tuple, args: Sequence[Array], device: Device) -> list[Array]:
        """Record ``rule`` applied to ``args`` (the traced counterpart of executing it)."""
        self._check_device(device)
        values = [self.value_of(a) for a in args]
        out = self.builder.apply(rule, *values, **dict(params))
        results = list(out) if isinstance(out, (tuple, list)) else [out]
        weak = bool(args) and all(getattr(a, "_weak", None) for a in args)
        return [Tracer._new(self, v, self.device, _KIND_OF_DEFAULT.get(v.dtype) if weak else None)
                for v in results]


def _weak_kind(x: Any) -> type | None:
    if isinstance(x, Tracer):
        return x._weak
    if isinstance(x, _SCALARS):
        return bool if isinstance(x, bool) else type(x)
    return None


def weak_operands(x1: Any, x2: Any) -> tuple[Array, Array, np.dtype]:
    """``binary_operands`` when a weak tracer (a traced Python scalar) takes part."""
    from .ops.data_types import astype
    trace = state.trace
    k1, k2 = _weak_kind(x1), _weak_kind(x2)
    if k1 is not None and k2 is not None:
        kind = max(k1, k2, key=_WEAK_ORDER.index)
        dtype = _DEFAULT_OF_KIND[kind]
    else:
        array, weak = (x2, k1) if k1 is not None else (x1, k2)
        assert weak is not None  # one operand is a weak tracer
        kind = weak
        if not isinstance(array, Array):
            from .ops.creation import asarray
            array = asarray(array)
        dtype = _dtypes.result_type(array.dtype, kind(0))

    def operand(x: Any) -> Array:
        if isinstance(x, _SCALARS):
            _dtypes.check_scalar_fits(x, dtype, "x")
            return trace.constant(x, dtype, weak=_weak_kind(x))
        if not isinstance(x, Array):
            from .ops.creation import asarray
            x = asarray(x)
        return x if x.dtype == dtype else astype(x, dtype)
    return operand(x1), operand(x2), dtype
