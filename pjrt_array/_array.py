"""The ``Array`` object: a PJRT buffer with its shape, dtype and device.

Arrays are immutable values on the outside; in-place operators and
``__setitem__`` compute a new buffer and rebind the Array to it.  Work is
asynchronous: an Array returned by an operation may still be computing, and
only host reads (``__array__``, ``__float__``, ``__bool__``, printing, DLPack)
wait for it.  On a CPU device a host read is a zero-copy, read-only numpy
view of the buffer's memory that keeps the buffer alive.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from . import _dtypes
from ._devices import Device, as_device
from ._pjrt import Buffer

__all__ = ["Array"]

_API_VERSIONS = ("2021.12", "2022.12", "2023.12", "2024.12", "2025.12")


class Array:
    """An n-dimensional array stored in a PJRT buffer on one device, or split over several
    (``_sharding`` is then its NamedSharding, ``_buffer`` holds one buffer per device and
    ``_device`` is the mesh's first device, where helper values such as scalars are made)."""

    __slots__ = ("_buffer", "_aval", "_device", "_host", "_sharding", "__weakref__")
    # No ``__array_ufunc__``: numpy ufuncs (``np.abs(x)``, ``scipy.special.erf(x)``)
    # compute on the host value from ``__array__`` and return numpy arrays, while
    # numpy's operators (``ndarray + x``, ``np.float64(1) < x``) see the higher
    # priority and defer to our reflected operators, which return Arrays.
    __array_priority__ = 100

    @classmethod
    def _from_buffer(cls, buffer: Buffer, aval: tuple[tuple[int, ...], np.dtype], device: Device) -> "Array":
        self = object.__new__(cls)
        self._buffer = buffer
        self._aval = aval
        self._device = device
        self._host = None
        self._sharding = None
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("Arrays are created with pjrt_array functions, e.g. pjrt_array.asarray(...)")

    def _rebind(self, other: "Array") -> None:
        """Make this Array refer to ``other``'s buffer (in-place operators, setitem)."""
        self._buffer = other._buffer
        self._aval = other._aval
        self._device = other._device
        self._host = None
        self._sharding = other._sharding

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
        if self.ndim != 2:
            raise ValueError(f"x.T requires a 2-D array, got {self.ndim}-D; use matrix_transpose or permute_dims")
        from .ops.manipulation import permute_dims
        return permute_dims(self, (1, 0))

    @property
    def mT(self) -> "Array":
        """Transpose of the last two axes."""
        from .ops.linalg_core import matrix_transpose
        return matrix_transpose(self)

    def __array_namespace__(self, /, *, api_version: str | None = None) -> Any:
        if api_version is not None and api_version not in _API_VERSIONS:
            raise ValueError(f"api_version {api_version!r} is not supported; use one of {_API_VERSIONS}")
        import pjrt_array
        return pjrt_array

    # -- host access ------------------------------------------------------------------
    def _numpy(self) -> np.ndarray:
        """The host value: a zero-copy read-only view on CPU, else a copy (cached)."""
        host = self._host
        if host is None:
            buffer = self._buffer
            host = buffer.numpy_view(known_on_host=True) if self._device.platform == "cpu" else buffer.to_numpy()
            host.flags.writeable = False
            self._host = host
        return host

    def block_until_ready(self) -> "Array":
        """Wait until the array's value is computed; raise the computation's error if any."""
        self._buffer.block_until_ready()
        return self

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        host = self._numpy()
        if copy:
            return np.array(host, dtype=dtype, copy=True)
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
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

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


def _default_device_or_none() -> Device | None:
    from ._devices import _default
    return _default[0] if _default else None


# -- operators ----------------------------------------------------------------------------
# Each operator forwards to the namespace function of the same meaning; the
# functions live in ops/ and are bound here once, after both modules exist.

_SCALARS = (bool, int, float, complex)


def _is_operand(x: object) -> bool:
    return isinstance(x, (Array, *_SCALARS, np.ndarray, np.generic))


def _binary(fname: str, reflected: bool) -> Any:
    def method(self: Array, other: Any) -> Any:
        if not _is_operand(other):
            return NotImplemented
        fn = _FUNCS[fname]
        return fn(other, self) if reflected else fn(self, other)
    return method


def _inplace(fname: str) -> Any:
    def method(self: Array, other: Any) -> Array:
        if not _is_operand(other):
            return NotImplemented
        other_dtype = getattr(other, "dtype", None)
        if other_dtype is not None and (_dtypes.is_integer(other_dtype) or _dtypes.is_bool(other_dtype)) \
                and _dtypes.isdtype(self.dtype, ("real floating", "complex floating")):
            # numpy's in-place rule: an integer operand is cast to the floating left operand
            # (int64 + float32 would promote to float64 and change the dtype).
            other = _FUNCS["astype"](other, self.dtype) if isinstance(other, Array) \
                else np.asarray(other).astype(self.dtype)
        result = _FUNCS[fname](self, other)
        if result.dtype != self.dtype:
            raise TypeError(f"in-place {fname} would change the dtype of the left operand "
                            f"from {self.dtype} to {result.dtype}")
        if result.shape != self.shape:
            raise ValueError(f"in-place {fname} would change the shape of the left operand "
                             f"from {self.shape} to {result.shape}")
        self._rebind(result)
        return self
    return method


def _unary(fname: str) -> Any:
    def method(self: Array) -> Array:
        return _FUNCS[fname](self)
    return method


_BINARY = {
    "add": "add", "sub": "subtract", "mul": "multiply", "truediv": "divide", "floordiv": "floor_divide",
    "mod": "remainder", "pow": "pow", "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor",
    "lshift": "bitwise_left_shift", "rshift": "bitwise_right_shift", "matmul": "matmul",
}
_COMPARE = {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal", "gt": "greater",
            "ge": "greater_equal"}
_UNARY = {"neg": "negative", "pos": "positive", "abs": "abs", "invert": "bitwise_invert"}
_FUNCS: dict[str, Any] = {}

for _d, _f in _BINARY.items():
    setattr(Array, f"__{_d}__", _binary(_f, False))
    setattr(Array, f"__r{_d}__", _binary(_f, True))
    setattr(Array, f"__i{_d}__", _inplace(_f))
for _d, _f in _COMPARE.items():
    setattr(Array, f"__{_d}__", _binary(_f, False))
for _d, _f in _UNARY.items():
    setattr(Array, f"__{_d}__", _unary(_f))


def _getitem(self: Array, key: Any) -> Array:
    return _FUNCS["getitem"](self, key)


def _setitem(self: Array, key: Any, value: Any) -> None:
    self._rebind(_FUNCS["setitem"](self, key, value))


Array.__getitem__ = _getitem  # type: ignore[method-assign]
Array.__setitem__ = _setitem  # type: ignore[method-assign]


OPERATOR_FUNCTIONS = frozenset({*_BINARY.values(), *_COMPARE.values(), *_UNARY.values(), "getitem", "setitem",
                                "astype"})


def bind_functions(namespace: dict[str, Any]) -> None:
    """Called by the package once every namespace function exists."""
    _FUNCS.update({name: namespace[name] for name in OPERATOR_FUNCTIONS if name in namespace})
