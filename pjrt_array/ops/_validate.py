"""Validation of shapes, sizes and counts before anything reaches the plugin.

The XLA plugins abort the process (not an error: ``abort()``) when a tensor
type's byte size overflows int64 ("overflow in static extent product"), and
their parser rejects dimensions beyond int64 with an opaque message.  Every
public function normalizes its shape/count arguments here and checks the
result's size, naming the argument; :func:`check_program` is the backstop the
dispatcher runs on every program it is about to compile (once per program,
never on a cache hit), so a size that no wrapper anticipated (a broadcast, an
intermediate of a lowering) is still a Python exception.

Sizes follow numpy's rule: the product of the non-zero dimensions times the
item size must fit int64 (``ValueError``, as numpy's "array is too big"); a
result larger than the device can hold is a ``MemoryError``.  Empty arrays are
measured the same way: XLA:CPU's work for an empty ``(2**31, 0, 4)`` array
grows with the product of its non-zero dimensions (measured: about 5 bytes
each, then ``std::bad_alloc`` aborts the process).  The device
bound is its reported ``bytes_limit``, else the host's physical memory, and
for CPU devices also the host memory free at the time;
``PJRT_ARRAY_MEMORY_LIMIT`` (bytes) lowers it.
"""

from __future__ import annotations

import operator
import os
import re
from typing import Any, Iterable, Sequence

import numpy as np

from .._devices import Device

__all__ = ["MAX_BYTES", "shape_arg", "count_arg", "check_size", "check_program", "device_capacity",
           "shape_key", "recall", "remember"]

MAX_BYTES = 2**63 - 1
Aval = tuple[tuple[int, ...], np.dtype]
_SMALL_BYTES = 1 << 26
_capacity: dict[Any, int] = {}


def shape_arg(shape: Any, argname: str = "shape") -> tuple[int, ...]:
    """An int or a sequence of non-negative ints as a shape tuple (TypeError/ValueError naming ``argname``)."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"{argname} must be an int or a sequence of ints, got {shape!r}") from None
    for d in dims:
        if d < 0:
            raise ValueError(f"{argname} must not have negative dimensions, got {dims}")
        if d > MAX_BYTES:
            raise ValueError(f"{argname}: dimension {d} does not fit int64 (array is too big)")
    return dims


def count_arg(value: Any, argname: str, minimum: int = 0) -> int:
    """An integer count of at least ``minimum`` that fits int64."""
    try:
        n = operator.index(value)
    except TypeError:
        raise TypeError(f"{argname} must be an integer, got {type(value).__name__}") from None
    if n < minimum:
        raise ValueError(f"{argname} must be at least {minimum}, got {n}")
    if n > MAX_BYTES:
        raise ValueError(f"{argname}={n} does not fit int64 (array is too big)")
    return n


def _nonzero_product(shape: Iterable[int]) -> int:
    n = 1
    for d in shape:
        if d:
            n *= d
    return n


def _bytes_limit(device: Any) -> int:
    """The device's fixed bound: its reported ``bytes_limit``, else the host's physical memory (cached)."""
    limit = _capacity.get(device)
    if limit is None:
        limit = int(device.memory_stats().get("bytes_limit") or 0)
        if not limit:
            limit = _sysconf_bytes("SC_PHYS_PAGES")
        _capacity[device] = limit
    override = os.environ.get("PJRT_ARRAY_MEMORY_LIMIT")
    return min(limit, int(override)) if override else limit


def _sysconf_bytes(name: str) -> int:
    try:
        return os.sysconf(name) * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return MAX_BYTES


def device_capacity(device: Any) -> int:
    """The most bytes a new array on ``device`` may take now (see the module docstring).

    On a CPU device this is also bounded by the host memory free at the
    moment: the kernel would rather kill the process than
    fail an allocation it overcommitted."""
    limit = _bytes_limit(device)
    if device.platform == "cpu":
        limit = min(limit, _sysconf_bytes("SC_AVPHYS_PAGES"))
    return limit


def _exceeds_device(nbytes: int, device: Any) -> bool:
    # Small arrays never ask the system (this runs on every creation call).
    return nbytes > _SMALL_BYTES and nbytes > device_capacity(device)


def _memory_error(message: str, device: Any) -> MemoryError:
    """A MemoryError carrying ``.device`` and ``.memory_stats``, like the plugin's out-of-memory errors."""
    exc = MemoryError(message)
    exc.device = device  # type: ignore[attr-defined]
    exc.memory_stats = device.memory_stats()  # type: ignore[attr-defined]
    return exc


def _too_big(nbytes: int, device: Any) -> str:
    return f"more than {device!r} can hold now ({device_capacity(device)} bytes)"


def check_size(shape: Sequence[int], dtype: np.dtype, argname: str, device: Any = None) -> None:
    """ValueError when an array of ``shape`` and ``dtype`` overflows int64 bytes; MemoryError
    when it is larger than ``device`` can hold (a sharding's devices are not asked)."""
    nbytes = _nonzero_product(shape) * np.dtype(dtype).itemsize
    if nbytes > MAX_BYTES or any(d > MAX_BYTES for d in shape):
        raise ValueError(f"{argname}: an array of shape {_dims(shape)} and dtype {np.dtype(dtype)} is too big "
                         f"({_count(nbytes)} bytes do not fit int64)")
    if isinstance(device, Device) and _exceeds_device(nbytes, device):
        raise _memory_error(f"{argname}: an array of shape {tuple(shape)} and dtype {np.dtype(dtype)} needs "
                            f"{nbytes} bytes, {_too_big(nbytes, device)}", device)


# -- remembered checks ---------------------------------------------------------------------------
# A front end called again with the arguments it checked before (``zeros(n)`` in a loop) looks its
# checked arguments up instead of checking them again.

_REMEMBERED = 512  # checks per front end


def shape_key(shape: Any) -> Any:
    """``shape`` as part of a key remembering a check of it, with its elements' types: values equal
    across types are not checked alike (``(3.0,)`` is refused where ``(3,)`` is not)."""
    return (shape, tuple(map(type, shape))) if type(shape) is tuple else (shape, type(shape))


def recall(cache: dict, key: tuple) -> Any:
    """What ``cache`` remembers under ``key``; None when nothing, or when ``key`` is unhashable (a
    list shape, an Array argument: checked every call)."""
    try:
        return cache.get(key)
    except TypeError:
        return None


def remember(cache: dict, key: tuple, checked: Any, shape: Sequence[int], dtype: np.dtype) -> None:
    """Remember ``checked`` under ``key``, unless ``key`` is unhashable or the array is big enough
    for its size check to ask the system (the memory free then changes)."""
    if _nonzero_product(shape) * dtype.itemsize > _SMALL_BYTES:
        return
    if len(cache) >= _REMEMBERED:
        cache.clear()
    try:
        cache[key] = checked
    except TypeError:
        pass


def _count(n: int) -> str:
    """``n``, or its order of magnitude when it has more digits than anyone reads."""
    digits = str(n)
    return digits if len(digits) <= 24 else f"~1e{len(digits) - 1}"


def _dims(shape: Sequence[int]) -> str:
    return "(" + ", ".join(_count(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


# ``tensor<2x3xf32>``, ``tensor<complex<f64>>``: dimensions and element type of every type in a program.
_TENSOR = re.compile(r"tensor<((?:\d+x)*)(i\d+|ui\d+|bf16|f\d+|complex<f\d+>)>")
_BITS = re.compile(r"(\d+)")


def _itemsize(element: str) -> int:
    bits = int(_BITS.search(element).group(1))  # type: ignore[union-attr]
    return max(1, bits // 8) * (2 if element.startswith("complex") else 1)


def check_program(text: str, avals: Sequence[Aval], out_avals: Sequence[Aval], device: Any, opname: str) -> None:
    """Refuse a program with a tensor the plugin cannot represent, or results the device cannot hold.

    ``avals`` (the operands) only serve the message."""
    where = f"{opname} on operands of shapes {[s for s, _ in avals]}"
    for dims, element in set(_TENSOR.findall(text)):
        shape = tuple(int(d) for d in dims.split("x") if d)
        nbytes = _nonzero_product(shape) * _itemsize(element)
        if nbytes > MAX_BYTES or any(d > MAX_BYTES for d in shape):
            raise ValueError(f"{where}: a {_dims(shape)} {element} value is too big "
                             f"({_count(nbytes)} bytes do not fit int64)")
    total = sum(_nonzero_product(s) * d.itemsize for s, d in out_avals)
    if _exceeds_device(total, device):
        raise _memory_error(f"{where}: the results {[s for s, _ in out_avals]} need {total} bytes, "
                            f"{_too_big(total, device)}", device)
