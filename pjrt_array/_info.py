"""``__array_namespace_info__``: what this namespace and its devices support."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _dtypes
from ._devices import Device, all_devices, as_device, default_device

__all__ = ["__array_namespace_info__", "Info"]

_KINDS = ("bool", "signed integer", "unsigned integer", "integral", "real floating", "complex floating",
          "numeric")


class Devices(tuple):
    """The devices: a tuple, as the 2025.12 standard says (2024.12 said a list).  Code written for
    the list (SciPy's tests write ``devices() + [None]``) still concatenates: ``+`` with a list
    gives a list."""

    def __add__(self, other: Any) -> Any:
        if isinstance(other, list):
            return list(self) + other
        return tuple(self) + other


class Info:
    """The inspection object returned by ``__array_namespace_info__()``."""

    def capabilities(self) -> dict[str, Any]:
        return {"boolean indexing": True, "data-dependent shapes": True, "max dimensions": 64}

    def default_device(self) -> Device:
        return default_device()

    def devices(self) -> "Devices":
        return Devices(all_devices())

    def default_dtypes(self, *, device: Device | None = None) -> dict[str, np.dtype]:
        as_device(device)
        return {"real floating": _dtypes.DEFAULT_FLOAT, "complex floating": _dtypes.DEFAULT_COMPLEX,
                "integral": _dtypes.DEFAULT_INT, "indexing": _dtypes.DEFAULT_INDEX}

    def dtypes(self, *, device: Device | None = None, kind: Any = None) -> dict[str, np.dtype]:
        as_device(device)
        if kind is not None and not isinstance(kind, (str, tuple)):
            raise TypeError(f"kind must be None, a string or a tuple of strings, got {kind!r}")
        if isinstance(kind, str) and kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS} or a tuple of them, got {kind!r}")
        out = {}
        for dt in _dtypes.REQUIRED_DTYPES:
            if kind is None or _dtypes.isdtype(dt, kind):
                out[dt.name] = dt
        return out


def __array_namespace_info__() -> Info:
    """Inspection utilities of the pjrt_array namespace."""
    return Info()
