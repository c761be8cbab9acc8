"""The namespace with every array function jit-wrapped, and a loader that reruns a test module on it.

``JXP`` looks like ``pjrt_array``: each function call is ``jit(f)`` with every
argument that holds no Array static, so the existing tests (numpy is their
oracle) check the traced program of each function against the same
expectations as the eager one.  ``reuse("test_x")`` executes a fresh copy of
``tests/test_x.py`` whose ``xp`` is ``JXP`` and returns its tests and fixtures.
"""

from __future__ import annotations

import importlib.util
import pathlib
import types
from typing import Any

import pjrt_array as xp

# Not wrapped, with the reason.
DATA_DEPENDENT = {  # the output shape depends on the values: refused under jit (tested in test_jit.py)
    "nonzero", "unique_all", "unique_counts", "unique_inverse", "unique_values", "eig", "eigvals",
}
HOST_INTERCHANGE = {"asarray", "from_dlpack"}  # they make device arrays from host data (copy/sharing rules)
NOT_ARRAY_FUNCTIONS = {  # return dtypes, info objects or settings, not arrays
    "isdtype", "result_type", "can_cast", "finfo", "iinfo", "__array_namespace_info__", "plugins",
    "set_default_plugin", "cache_info", "cache_clear", "set_cache_size", "jit", "fori_loop", "while_loop",
    "cond", "ConcretizationError", "Array", "Device",
}
UNWRAPPED = DATA_DEPENDENT | HOST_INTERCHANGE | NOT_ARRAY_FUNCTIONS


def _holds_array(value: Any) -> bool:
    if isinstance(value, xp.Array):
        return True
    if isinstance(value, (tuple, list)):
        return any(_holds_array(v) for v in value)
    return False


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


class _Wrapped:
    """``fn`` called through ``jit`` with the Array-free arguments static."""

    def __init__(self, fn: Any) -> None:
        self._fn = fn
        self._jitted: dict[tuple, Any] = {}
        self.__name__ = getattr(fn, "__name__", "f")
        self.__doc__ = fn.__doc__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.__name__ == "repeat" and len(args) > 1 and isinstance(args[1], xp.Array):
            return self._fn(*args, **kwargs)  # array repeats: data-dependent length
        nums = tuple(i for i, a in enumerate(args) if not _holds_array(a))
        names = tuple(sorted(k for k, v in kwargs.items() if not _holds_array(v)))
        if not all(_hashable(args[i]) for i in nums) or not all(_hashable(kwargs[k]) for k in names):
            return self._fn(*args, **kwargs)  # unhashable host data (lists): a creation from the host
        jitted = self._jitted.get((nums, names))
        if jitted is None:
            jitted = self._jitted[(nums, names)] = xp.jit(self._fn, static_argnums=nums, static_argnames=names)
        return jitted(*args, **kwargs)


def _namespace(module: Any) -> types.SimpleNamespace:
    ns = types.SimpleNamespace()
    for name in dir(module):
        value = getattr(module, name)
        if callable(value) and not isinstance(value, type) and name not in UNWRAPPED and not name.startswith("_"):
            value = _Wrapped(value)
        setattr(ns, name, value)
    return ns


JXP = _namespace(xp)
JXP.linalg = _namespace(xp.linalg)
JXP.fft = _namespace(xp.fft)
JXP.__array_namespace_info__ = xp.__array_namespace_info__


def reuse(module_name: str) -> dict[str, Any]:
    """The tests and fixtures of ``tests/<module_name>.py`` rerun with ``xp`` jit-wrapped."""
    path = pathlib.Path(__file__).with_name(module_name + ".py")
    spec = importlib.util.spec_from_file_location(f"{module_name}__jit", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.xp = JXP
    return {k: v for k, v in vars(module).items() if k.startswith("test_") or hasattr(v, "_pytestfixturefunction")
            or type(v).__name__ == "FixtureFunctionDefinition"}
