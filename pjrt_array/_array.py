"""The ``Array`` object: a PJRT buffer with its shape, dtype and device.

Arrays are mutable with numpy's semantics: basic indexing and transposes
return views (``_views``), and ``__setitem__`` and in-place operators write
into the Array's own buffer when nothing else holds it, else into a copy
(``_mutation``).  Work is asynchronous: an Array returned by an operation may
still be computing, and only host reads (``__array__``, ``__float__``,
``__bool__``, printing, DLPack) wait for it.  On a CPU device a host read is
a zero-copy numpy view of the buffer's memory that keeps the buffer alive.
"""

from __future__ import annotations

from sys import getrefcount as _getrefcount
from typing import Any, Callable, ClassVar, Iterator

import numpy as np

from . import _donation, _dtypes, _host_views, _mutation, _views
from ._devices import Device, as_device
from ._pjrt import Buffer
from ._host_value import HOST_DTYPES, HostValue, materialize
from ._trace_state import state as _trace_state

__all__ = ["Array"]

_API_VERSIONS = ("2021.12", "2022.12", "2023.12", "2024.12", "2025.12")


# -- operator forwarding ------------------------------------------------------------------
# Each operator forwards to the namespace function of the same meaning; the
# functions live in ops/ and are bound once both modules exist (bind_functions).

_SCALARS = (bool, int, float, complex)
_small = _donation.SMALL_AVALS
_FUNCS: dict[str, Any] = {}
#: The namespace functions the operators forward to (filled as the class body names them).
OPERATOR_FUNCTIONS: set[str] = {"getitem", "setitem", "astype", "matrix_transpose", "transposed"}


def _is_operand(x: object) -> bool:
    return type(x) is float or isinstance(x, _OPERANDS)


def _binary(fname: str, reflected: bool = False) -> Callable[["Array", Any], Any]:
    OPERATOR_FUNCTIONS.add(fname)

    def method(self: Array, other: Any) -> Any:
        if type(other) is not Array and type(other) is not float and not _is_operand(other):
            return NotImplemented
        # Only an operand no name holds can be a temporary (_donation.temporary decides), and
        # only a large one gives its buffer away.
        if (_getrefcount(self) <= _donation.OPERATOR_REFS and self._aval not in _small) or \
                (_getrefcount(other) <= _donation.OPERATOR_REFS and getattr(other, "_aval", None) not in _small):
            k = _donation.temporary(self, other)
            if k >= 0:  # an operand only this expression holds gives its buffer to the result
                donating = _donation.donating_form(fname)
                if donating is not None:
                    return donating(other, self, 1 - k) if reflected else donating(self, other, k)
        fn = _FUNCS[fname]
        return fn(other, self) if reflected else fn(self, other)
    return method


def _inplace(fname: str) -> Callable[["Array", Any], Any]:
    OPERATOR_FUNCTIONS.add(fname)

    def method(self: Array, other: Any) -> Any:
        if not _is_operand(other):
            return NotImplemented
        _mutation.inplace(self, fname, _FUNCS[fname], _inplace_operand(self, other))
        return self
    return method


def _inplace_operand(x: "Array", other: Any) -> Any:
    """numpy's in-place rule: an integer or boolean operand is cast to a floating left operand
    (``float32 += int64`` would otherwise promote to float64 and change the dtype)."""
    other_dtype = getattr(other, "dtype", None)
    if other_dtype is None or not (_dtypes.is_integer(other_dtype) or _dtypes.is_bool(other_dtype)) \
            or not _dtypes.isdtype(x.dtype, ("real floating", "complex floating")):
        return other
    if isinstance(other, Array):
        return _FUNCS["astype"](other, x.dtype)
    return np.asarray(other).astype(x.dtype)


def _unary(fname: str) -> Callable[["Array"], "Array"]:
    OPERATOR_FUNCTIONS.add(fname)

    def method(self: Array) -> Array:
        # ``-(a + b)``: the operand gives its buffer to the result (a large one; see _binary)
        if self._aval not in _small and _donation.temporary_operand(self):
            donating = _donation.donating_unary(fname)
            if donating is not None:
                return donating(self)
        result: Array = _FUNCS[fname](self)
        return result
    return method


class Array:
    """An n-dimensional array stored in a PJRT buffer on one device, or split over several
    (``_sharding`` is then its NamedSharding, ``_buffer`` holds one buffer per device and
    ``_device`` is the mesh's first device, where helper values such as scalars are made)."""

    # _buf: the PJRT buffer (read through ``_buffer``, which refreshes a stale view);
    # _base/_view/_version: see ``_views``; _lock: the per-base write lock (``_mutation``);
    # _exposed: the buffer whose memory a writable numpy view may be writing (``_host_views``);
    # _buf may also be a stand-in: a fusion value (``_fusion._Pending``) or a host value
    # (``_host_value.HostValue``, with ``_host`` the value).
    __slots__ = ("_buf", "_aval", "_device", "_host", "_base", "_view", "_version", "_lock", "_exposed",
                 "_sharding", "__weakref__")
    _buf: Any  # a Buffer; for a sharded Array its per-device buffers; or a ``_views`` marker
    _aval: tuple[tuple[int, ...], np.dtype]
    _device: Device
    _host: np.ndarray | None
    _base: "Array | None"
    _view: Any
    _version: int
    _lock: Any
    _exposed: Any
    _sharding: Any
    # No ``__array_ufunc__``: numpy ufuncs (``np.abs(x)``, ``scipy.special.erf(x)``)
    # compute on the host value from ``__array__`` and return numpy arrays, while
    # numpy's operators (``ndarray + x``, ``np.float64(1) < x``) see the higher
    # priority and defer to our reflected operators, which return Arrays.
    __array_priority__ = 100
    #: True for tracers (``_tracing.Tracer``): values of a program being traced.
    _traced: ClassVar[bool] = False

    @staticmethod
    def _from_buffer(buffer: Buffer, aval: tuple[tuple[int, ...], np.dtype], device: Device) -> "Array":
        """An Array on ``buffer`` (:func:`new_array`, defined below the class)."""
        return new_array(buffer, aval, device)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("Arrays are created with pjrt_array functions, e.g. pjrt_array.asarray(...)")

    @property
    def _buffer(self) -> Buffer:
        """The buffer holding the current value (a view re-derives it after its base changed)."""
        base = self._base
        if base is None:
            buf = self._buf
            if buf is not _views.BUSY:
                return buf
        elif self._version == base._version and base._exposed is None:
            return self._buf
        return _views.current_buffer(self)

    # -- operators (forwarded to the namespace functions) ---------------------------------
    __add__, __radd__, __iadd__ = _binary("add"), _binary("add", True), _inplace("add")
    __sub__, __rsub__, __isub__ = _binary("subtract"), _binary("subtract", True), _inplace("subtract")
    __mul__, __rmul__, __imul__ = _binary("multiply"), _binary("multiply", True), _inplace("multiply")
    __truediv__, __rtruediv__, __itruediv__ = _binary("divide"), _binary("divide", True), _inplace("divide")
    __floordiv__, __rfloordiv__, __ifloordiv__ = (_binary("floor_divide"), _binary("floor_divide", True),
                                                  _inplace("floor_divide"))
    __mod__, __rmod__, __imod__ = _binary("remainder"), _binary("remainder", True), _inplace("remainder")
    __pow__, __rpow__, __ipow__ = _binary("pow"), _binary("pow", True), _inplace("pow")
    __and__, __rand__, __iand__ = _binary("bitwise_and"), _binary("bitwise_and", True), _inplace("bitwise_and")
    __or__, __ror__, __ior__ = _binary("bitwise_or"), _binary("bitwise_or", True), _inplace("bitwise_or")
    __xor__, __rxor__, __ixor__ = _binary("bitwise_xor"), _binary("bitwise_xor", True), _inplace("bitwise_xor")
    __lshift__, __rlshift__, __ilshift__ = (_binary("bitwise_left_shift"), _binary("bitwise_left_shift", True),
                                            _inplace("bitwise_left_shift"))
    __rshift__, __rrshift__, __irshift__ = (_binary("bitwise_right_shift"), _binary("bitwise_right_shift", True),
                                            _inplace("bitwise_right_shift"))
    __matmul__, __rmatmul__, __imatmul__ = _binary("matmul"), _binary("matmul", True), _inplace("matmul")
    __eq__, __ne__ = _binary("equal"), _binary("not_equal")
    __lt__, __le__ = _binary("less"), _binary("less_equal")
    __gt__, __ge__ = _binary("greater"), _binary("greater_equal")
    __neg__, __pos__ = _unary("negative"), _unary("positive")
    __abs__, __invert__ = _unary("abs"), _unary("bitwise_invert")

    #: ``x[key]``: ``ops.indexing.getitem`` itself, set by ``bind_functions`` (no wrapper frame:
    #: loops index small arrays a lot)
    __getitem__: Callable[["Array", Any], "Array"]

    def __setitem__(self, key: Any, value: Any) -> None:
        _FUNCS["setitem"](self, key, value)

    # -- attributes -------------------------------------------------------------------
    @property
    def dtype(self) -> np.dtype:
        """Data type of the elements."""
        return self._aval[1]

    @property
    def shape(self) -> tuple[int, ...]:
        """Array dimensions."""
        return self._aval[0]

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self._aval[0])

    @property
    def size(self) -> int:
        """Number of elements."""
        n = 1
        for d in self._aval[0]:
            n *= d
        return n

    @property
    def device(self) -> Any:
        """The device the array lives on; for a sharded array its ``NamedSharding`` (pass it as
        ``device=`` to place other arrays the same way)."""
        return self._device if self._sharding is None else self._sharding

    @property
    def sharding(self) -> Any:
        """The ``NamedSharding`` of a sharded array; None for an array on one device."""
        return self._sharding

    @property
    def addressable_shards(self) -> list[Any]:
        """Each device's piece (``Shard``: ``device``, ``index``, ``replica_id``, ``data``)."""
        from ._sharding import addressable_shards
        return addressable_shards(self)

    @property
    def T(self) -> "Array":
        """Transpose of a 2-D array."""
        if len(self._aval[0]) != 2:
            raise ValueError(f"x.T requires a 2-D array, got {self.ndim}-D; use matrix_transpose or permute_dims")
        return _FUNCS["transposed"](self, (1, 0))  # (bound once: an import here cost ~1 us a call)

    @property
    def mT(self) -> "Array":
        """Transpose of the last two axes."""
        return _FUNCS["matrix_transpose"](self)

    def __array_namespace__(self, /, *, api_version: str | None = None) -> Any:
        if api_version is not None and api_version not in _API_VERSIONS:
            raise ValueError(f"api_version {api_version!r} is not supported; use one of {_API_VERSIONS}")
        import pjrt_array
        return pjrt_array

    # -- host access ------------------------------------------------------------------
    def _host_read(self) -> None:
        """Automatic fusion (``_fusion``): a host read ends this thread's segment, and a deferred
        value gets its computed buffer."""
        recorder = _trace_state.fusion
        if recorder is not None:
            recorder.boundary(self)

    def _numpy(self, ready: bool = False) -> np.ndarray:
        """The host value: a zero-copy read-only view on CPU, else a copy (cached).  ``ready``: the
        caller has seen the buffer computed (no wait)."""
        self._host_read()
        buffer = self._buffer  # first: a stale view re-derives (and drops its cached host view)
        host = self._host
        if host is None:
            host = buffer.numpy_view(known_on_host=True, ready=ready) if self._device.platform == "cpu" \
                else buffer.to_numpy()
            host.flags.writeable = False
            self._host = host
        return host

    def block_until_ready(self) -> "Array":
        """Wait until the array's value is computed; raise the computation's error if any."""
        self._host_read()
        self._buffer.block_until_ready()
        return self

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """The host value; on a CPU device a writable zero-copy view (writes are this Array's values)."""
        if copy:
            return np.array(self._numpy(), dtype=dtype, copy=True)
        self._host_read()
        on_host = self._device.platform == "cpu" and self._sharding is None
        host = _host_views.writable_view(self) if on_host else self._numpy()
        if dtype is not None and np.dtype(dtype) != host.dtype:
            if copy is False:
                raise ValueError("converting to another dtype needs a copy, but copy=False")
            return host.astype(dtype)
        return host

    def _scalar(self, kind: str) -> Any:
        if self.ndim != 0:
            raise TypeError(f"only 0-d arrays can be converted to Python {kind}; this array has shape {self.shape}")
        return self._numpy()[()]

    def __bool__(self) -> bool:
        return bool(self._scalar("bool"))

    def __int__(self) -> int:
        value = self._scalar("int")
        if _dtypes.is_complex(self.dtype):
            raise TypeError("cannot convert a complex array to int")
        return int(value)

    def __float__(self) -> float:
        value = self._scalar("float")
        if _dtypes.is_complex(self.dtype):
            raise TypeError("cannot convert a complex array to float; use real() or abs()")
        return float(value)

    def __complex__(self) -> complex:
        return complex(self._scalar("complex"))

    def __index__(self) -> int:
        if not _dtypes.is_integer(self.dtype):
            raise TypeError(f"only integer arrays can be used as an index, not {self.dtype}")
        return int(self._scalar("int"))

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __iter__(self) -> Iterator["Array"]:
        """The elements along the first axis: rows of an N-d array are views (``self[i]``); the
        elements of a 1-D array on a CPU device are values read from one host read
        (:func:`_host_elements`), as numpy's scalars are."""
        shape = self._aval[0]
        if not shape:
            raise TypeError("iteration over a 0-d array")
        if len(shape) == 1 and not self._traced and self._sharding is None and self._device.platform == "cpu" \
                and self._aval[1] in HOST_DTYPES:
            return _host_elements(self)
        return (self[i] for i in range(shape[0]))

    def __repr__(self) -> str:
        body = np.array2string(self._numpy(), separator=", ", prefix="Array(")
        extra = "" if self._device == _default_device_or_none() else f", device={self._device!r}"
        return f"Array({body}, dtype={self.dtype}{extra})"

    def __str__(self) -> str:
        return str(self._numpy())

    def __hash__(self) -> int:
        raise TypeError("unhashable type: 'Array'")

    # -- DLPack -----------------------------------------------------------------------
    def __dlpack_device__(self) -> tuple[int, int]:
        from ._dlpack import dlpack_device
        return dlpack_device(self._device)

    def __dlpack__(self, *, stream: Any = None, max_version: tuple[int, int] | None = None,
                   dl_device: tuple[int, int] | None = None, copy: bool | None = None) -> Any:
        """Export through DLPack: the buffer's own memory on any device (see ``pjrt_array._dlpack``)."""
        from ._dlpack import export
        self._host_read()
        materialize(self)  # a consumer may write the memory: it must be the buffer's
        return export(self, stream=stream, max_version=max_version, dl_device=dl_device, copy=copy)

    def to_device(self, device: Any, /, *, stream: Any = None) -> "Array":
        """A copy of this array on ``device`` (the array itself if already there); ``device`` may
        be a ``NamedSharding`` (placed or resharded), and a sharded array is gathered to a Device."""
        if stream is not None:
            raise ValueError("stream is not supported")
        if self._sharding is not None or not isinstance(device, (Device, type(None))):
            from ._sharding import move
            return move(self, device)
        device = as_device(device)
        if device == self._device:
            return self
        if device.client is self._device.client:
            buffer = self._buffer.copy_to_device(device.pjrt)
        else:
            buffer = device.client.buffer_from_numpy(self._numpy(), device.pjrt)
        return Array._from_buffer(buffer, self._aval, device)


_new_object = object.__new__


def new_array(buffer: Buffer, aval: tuple[tuple[int, ...], np.dtype], device: Device) -> Array:
    """``Array._from_buffer`` for the Array class itself, as a plain function (one per op's output)."""
    self = _new_object(Array)
    self._buf = buffer
    self._aval = aval
    self._device = device
    self._host = None
    self._base = None
    self._version = 0
    self._lock = None
    self._exposed = None
    self._sharding = None
    return self


def host_value_results(values: list[np.ndarray], avals: tuple[tuple[tuple[int, ...], np.dtype], ...],
                       device: Device, lasting: bool = True) -> list[Array]:
    """Arrays of types ``avals`` on ``device`` whose values are ``values`` (C-contiguous, numpy's own
    dtypes, made by the caller for them: each Array takes its value and makes it read-only),
    uploaded on their first device use (``_host_value``, ``HostValue.lasting``; the host tier's and
    ``ops._lapack_run``'s results)."""
    out = []
    for value, aval in zip(values, avals):
        # write=False: numpy's signature takes it positionally (its stubs do not); the keyword, or
        # ``flags.writeable = ...``, costs twice as much
        value.setflags(False)  # type: ignore[call-arg]
        holder = HostValue(value, aval, device, lasting)  # a Buffer stand-in
        self = new_array(holder, aval, device)  # type: ignore[arg-type]
        self._host = value
        out.append(self)
    return out


def _host_elements(x: Array) -> Iterator[Array]:
    """The elements of the 1-D CPU Array ``x``: 0-d Arrays holding copies of its host value's
    elements (``_host_value``: uploaded only if a device op needs one), read once instead of one
    device ``x[i]`` each.  A write to ``x`` meanwhile (a new buffer, or its cached host view
    dropped: ``_mutation``) is seen by the elements after it: the host value is read again."""
    aval = ((), x._aval[1])
    device = x._device
    host = x._numpy()  # (a fusion value is computed here; a stale view re-derives)
    buf = x._buffer
    for i in range(x._aval[0][0]):
        if x._buffer is not buf or x._host is not host:
            host = x._numpy()
            buf = x._buffer
        value = host[i, ...].copy()  # a 0-d array (``host[i]`` is a numpy scalar)
        value.setflags(False)  # (positional: see host_value_results)
        element = new_array(HostValue(value, aval, device), aval, device)  # type: ignore[arg-type]
        element._host = value
        yield element


_OPERANDS = (Array, *_SCALARS, np.ndarray, np.generic)


def _default_device_or_none() -> Device | None:
    from ._devices import _default
    return _default[0] if _default else None


def bind_functions(namespace: dict[str, Any]) -> None:
    """Called by the package once every namespace function exists."""
    _FUNCS.update({name: namespace[name] for name in OPERATOR_FUNCTIONS if name in namespace})
    Array.__getitem__ = _FUNCS["getitem"]
