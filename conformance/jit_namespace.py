"""``pjrt_array`` with every array function jit-wrapped, for rerunning test suites under jit.

Each call becomes ``jit(f)(...)`` with every argument that holds no Array
static, so a suite checks the traced program of each function against the
same expectations as the eager one::

    PYTHONPATH=. python -m conformance --module conformance.jit_namespace

The functions left eager, with the reason, are in :data:`UNWRAPPED`.
"""

from __future__ import annotations

import builtins
import functools
import types
from typing import Any, Callable

import pjrt_array as _xp
from pjrt_array.jit import _hashable  # what jit itself asks of a static argument

#: Not wrapped: the output shape depends on the values (refused under jit, see docs/jit.md).
DATA_DEPENDENT = {"nonzero", "unique_all", "unique_counts", "unique_inverse", "unique_values", "eig", "eigvals"}
#: Not wrapped: they make device arrays from host data, and their point is the copy/sharing rules.
HOST_INTERCHANGE = {"asarray", "from_dlpack"}
#: Not wrapped: they return dtypes, info objects or settings, not arrays.
NOT_ARRAY_FUNCTIONS = {
    "isdtype", "result_type", "can_cast", "finfo", "iinfo", "__array_namespace_info__", "plugins",
    "set_default_plugin", "cache_info", "cache_clear", "set_cache_size", "jit", "fori_loop", "while_loop",
    "cond", "ConcretizationError", "Array", "Device",
}
UNWRAPPED = DATA_DEPENDENT | HOST_INTERCHANGE | NOT_ARRAY_FUNCTIONS


def _holds_array(value: Any) -> bool:
    if isinstance(value, _xp.Array):
        return True
    if isinstance(value, (tuple, list)):
        return builtins.any(_holds_array(v) for v in value)
    return False


def jit_wrapped(fn: Callable) -> Callable:
    """``fn`` called through ``jit`` with the Array-free arguments static (same signature)."""
    jitted: dict[tuple, Any] = {}

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        if fn.__name__ == "repeat" and len(args) > 1 and isinstance(args[1], _xp.Array):
            return fn(*args, **kwargs)  # an array of repeats: data-dependent length
        nums = tuple(i for i, a in enumerate(args) if not _holds_array(a))
        names = tuple(sorted(k for k, v in kwargs.items() if not _holds_array(v)))
        if not builtins.all(_hashable(args[i]) for i in nums) or \
                not builtins.all(_hashable(kwargs[k]) for k in names):
            return fn(*args, **kwargs)  # unhashable host data (a list): a creation from the host
        f = jitted.get((nums, names))
        if f is None:
            f = jitted[(nums, names)] = _xp.jit(fn, static_argnums=nums, static_argnames=names)
        return f(*args, **kwargs)
    return call


def wrap_namespace(module: Any) -> dict[str, Any]:
    """The public attributes of ``module`` with its array functions jit-wrapped."""
    out = {}
    for name in getattr(module, "__all__", dir(module)):
        value = getattr(module, name)
        if callable(value) and not isinstance(value, type) and name not in UNWRAPPED:
            value = jit_wrapped(value)
        out[name] = value
    return out


# The namespace's names shadow builtins (all, any, abs, ...) from here on: code above uses builtins.
globals().update(wrap_namespace(_xp))
linalg = types.ModuleType("linalg")
linalg.__dict__.update(wrap_namespace(_xp.linalg))
fft = types.ModuleType("fft")
fft.__dict__.update(wrap_namespace(_xp.fft))
__array_api_version__ = _xp.__array_api_version__
__array_namespace_info__ = _xp.__array_namespace_info__
