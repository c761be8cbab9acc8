"""``PJRT_NamedValue`` lists: Python dicts to C arrays and back."""

from __future__ import annotations

import ctypes
from typing import Mapping, Sequence, Union

from . import _abi
from ._api import struct_size

NamedValue = Union[str, bool, int, float, Sequence[int]]
_T = _abi.PJRT_NamedValue_Type


def read_named_values(address: int | None, count: int) -> dict[str, NamedValue]:
    """Decode ``count`` ``PJRT_NamedValue`` structs at ``address`` into a dict."""
    if not address or not count:
        return {}
    values = (_abi.PJRT_NamedValue * count).from_address(address)
    out: dict[str, NamedValue] = {}
    for nv in values:
        name = ctypes.string_at(nv.name, nv.name_size).decode()
        if nv.type == _T.PJRT_NamedValue_kString:
            out[name] = ctypes.string_at(nv.string_value, nv.value_size).decode("utf-8", "replace")
        elif nv.type == _T.PJRT_NamedValue_kInt64:
            out[name] = int(nv.int64_value)
        elif nv.type == _T.PJRT_NamedValue_kInt64List:
            out[name] = list((ctypes.c_int64 * nv.value_size).from_address(nv.int64_array_value)) \
                if nv.value_size else []
        elif nv.type == _T.PJRT_NamedValue_kFloat:
            out[name] = float(nv.float_value)
        elif nv.type == _T.PJRT_NamedValue_kBool:
            out[name] = bool(nv.bool_value)
    return out


class NamedValueArray:
    """A C array of ``PJRT_NamedValue`` built from a dict; keeps its memory alive."""

    def __init__(self, options: Mapping[str, NamedValue] | None) -> None:
        options = dict(options or {})
        self.count = len(options)
        self.array = (_abi.PJRT_NamedValue * max(self.count, 1))()
        self._keep: list[object] = []
        for nv, (name, value) in zip(self.array, options.items()):
            if not isinstance(name, str):
                raise TypeError(f"option names must be str, got {name!r}")
            key = name.encode()
            self._keep.append(key)
            nv.struct_size = struct_size(_abi.PJRT_NamedValue)
            nv.name = ctypes.cast(ctypes.c_char_p(key), ctypes.c_void_p).value
            nv.name_size = len(key)
            self._set(nv, name, value)

    def _set(self, nv: _abi.PJRT_NamedValue, name: str, value: NamedValue) -> None:
        if isinstance(value, bool):
            nv.type, nv.bool_value, nv.value_size = _T.PJRT_NamedValue_kBool, value, 1
        elif isinstance(value, int):
            nv.type, nv.int64_value, nv.value_size = _T.PJRT_NamedValue_kInt64, value, 1
        elif isinstance(value, float):
            nv.type, nv.float_value, nv.value_size = _T.PJRT_NamedValue_kFloat, value, 1
        elif isinstance(value, str):
            data = value.encode()
            self._keep.append(data)
            nv.type = _T.PJRT_NamedValue_kString
            nv.string_value = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value
            nv.value_size = len(data)
        elif isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            arr = (ctypes.c_int64 * max(len(value), 1))(*value)
            self._keep.append(arr)
            nv.type = _T.PJRT_NamedValue_kInt64List
            nv.int64_array_value = ctypes.addressof(arr)
            nv.value_size = len(value)
        else:
            raise TypeError(
                f"option {name!r}: value {value!r} must be str, bool, int, float or a list of int"
            )

    @property
    def address(self) -> int:
        return ctypes.addressof(self.array)
