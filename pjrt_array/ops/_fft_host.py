"""Eager FFTs of small arrays on CPU devices: numpy.fft on the host, no program.

Each new transform length is a new XLA program (about 13 ms of compile on the
CPU plugins), while numpy's pocketfft needs none; SciPy's signal tests called
FFTs on ~6,500 distinct shapes.  XLA's FFT and numpy's round differently (about
1 ulp in most cases), so the first-sighting host tier (``_host_tier``, exact
only) cannot take them.  Instead, as small LAPACK calls do (``_lapack_run``),
an eager FFT of a small operand on one CPU device *always* runs numpy.fft on
the operand's host value: its results are numpy's bits at every call, whatever
was compiled before, and stay on the host as the Arrays' values until a device
use needs a buffer (``pjrt_array._host_value``).  Under a trace (jit), on other
platforms, for sharded operands and above :data:`HOST_MAX_BYTES` the compiled
path runs as before, with XLA's bits.
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable

import numpy as np

from .._array import Array, host_value_results
from .._devices import Device
from .._trace_state import state as _trace_state

__all__ = ["run", "set_host_max_bytes", "HOST_MAX_BYTES"]

#: The largest call (bytes of its operand and result) run on the host; 0 turns the host path off.
#: numpy's FFT, its result's upload included, took at most the cached program's time (waited for)
#: at every size measured up to 2 MiB (docs/fft.md); the bound keeps to calls whose result's later
#: upload (a second copy in memory once a device use needs it) is small, as LAPACK's does
#: (``_lapack_run.HOST_MAX_BYTES``).
HOST_MAX_BYTES = int(os.environ.get("PJRT_ARRAY_FFT_HOST_BYTES", 1 << 20))

# numpy.fft computes float16 in single precision; bfloat16 (ml_dtypes) it does not take.  The
# compiled path converts both to complex64: the host path hands numpy float32 for them.
_WIDEN = {np.dtype("float16"): np.dtype("float32")}
try:
    import ml_dtypes

    _WIDEN[np.dtype(ml_dtypes.bfloat16)] = np.dtype("float32")
except ImportError:  # pragma: no cover - ml_dtypes ships with the package's dependencies
    pass


def set_host_max_bytes(limit: int) -> None:
    """The largest FFT (operand and result bytes) served on the host; 0: always the program."""
    global HOST_MAX_BYTES
    HOST_MAX_BYTES = int(limit)


def run(x: Array, aval: tuple[tuple[int, ...], np.dtype], call: Callable[[np.ndarray], np.ndarray]) -> Array | None:
    """``call`` (a numpy.fft function with the front end's arguments bound) on ``x``'s host value, as
    an Array of type ``aval`` (the compiled path's result type) held on the host; None where the
    compiled path must run (a trace, a tracer, a sharded operand, not a CPU device, too large)."""
    if type(x) is not Array or _trace_state.trace is not None or x._sharding is not None:
        return None
    device = x._device
    if type(device) is not Device or device.platform != "cpu":
        return None
    shape, dtype = aval
    if math.prod(x.shape) * x.dtype.itemsize + math.prod(shape) * dtype.itemsize > HOST_MAX_BYTES:
        return None
    host = x._numpy()  # (ends automatic fusion's segment: a deferred operand is computed first)
    wide = _WIDEN.get(host.dtype)
    operand = host if wide is None else host.astype(wide)
    out = call(operand)
    if out.dtype != dtype or not out.flags.c_contiguous:
        out = np.ascontiguousarray(out, dtype)
    return host_value_results([out], (aval,), device)[0]
