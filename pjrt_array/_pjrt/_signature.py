"""The parameter types of a program, for checking execute arguments before the call.

Read from ``@main`` in StableHLO text, or, for a program without text (a
deserialized executable, HLO input), from the ``host_program_shape`` of the
optimized ``HloModuleProto`` the plugin reports.
"""

from __future__ import annotations

import re

import ml_dtypes  # noqa: F401 - registers bfloat16 with numpy's dtype lookup
import numpy as np

from .compile_options import _fields, _read_varint

_MAIN_RE = re.compile(r"func\.func\s+(?:public\s+)?@main\s*\(")
_ARG_RE = re.compile(r"%[\w.]+\s*:\s*tensor<")
_BODY_RE = re.compile(r"^((?:\d+x)*)(.+)$")

#: MLIR element type -> numpy dtype name.
MLIR_ELEMENT_TYPES = {
    "i1": "bool", "i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64",
    "ui8": "uint8", "ui16": "uint16", "ui32": "uint32", "ui64": "uint64",
    "f16": "float16", "bf16": "bfloat16", "f32": "float32", "f64": "float64",
    "complex<f32>": "complex64", "complex<f64>": "complex128",
}


def _closing(text: str, start: int, open_: str, close: str) -> int:
    """Index just past the bracket that closes the one opened before ``start``."""
    depth, i = 1, start
    while i < len(text) and depth:
        depth += (text[i] == open_) - (text[i] == close)
        i += 1
    return i


def parse_main_signature(text: str) -> list[tuple[tuple[int, ...], np.dtype]] | None:
    """``[(shape, dtype)]`` of ``@main``'s parameters, or None when not statically known."""
    m = _MAIN_RE.search(text)
    if m is None:
        return None
    params = text[m.end(): _closing(text, m.end(), "(", ")") - 1]
    out = []
    for arg in _ARG_RE.finditer(params):
        body = params[arg.end(): _closing(params, arg.end(), "<", ">") - 1]
        parts = _BODY_RE.match(body)
        if parts is None:
            return None  # an empty tensor<> type: leave it to the plugin
        dims, elem = parts.groups()
        if elem not in MLIR_ELEMENT_TYPES:
            return None
        out.append((tuple(int(d) for d in dims.split("x") if d), np.dtype(MLIR_ELEMENT_TYPES[elem])))
    if len(out) != params.count("%"):
        return None  # a non-tensor or dynamic parameter: leave checking to the plugin
    return out


#: XLA ``PrimitiveType`` (xla_data.proto) -> numpy dtype name, for the types a
#: parameter check needs; a parameter of any other type disables the check.
HLO_ELEMENT_TYPES = {
    1: "bool", 2: "int8", 3: "int16", 4: "int32", 5: "int64", 6: "uint8", 7: "uint16", 8: "uint32",
    9: "uint64", 10: "float16", 11: "float32", 12: "float64", 15: "complex64", 16: "bfloat16",
    18: "complex128",
}
_LEN = 2


def _field(data: bytes, number: int) -> bytes | None:
    """The first length-delimited field ``number`` of a message."""
    return next((v for n, w, v in _fields(data) if n == number and w == _LEN and isinstance(v, bytes)), None)


def _hlo_parameter(shape: bytes) -> tuple[tuple[int, ...], np.dtype] | None:
    """``(dims, dtype)`` of a static array ``ShapeProto``; None for anything else."""
    element, dims = None, []
    for number, wire, value in _fields(shape):  # a varint's value is an int, other values bytes
        if number == 2 and isinstance(value, int):
            element = value
        elif number == 3 and isinstance(value, int):
            dims.append(value)
        elif number == 3 and wire == _LEN and isinstance(value, bytes):  # packed repeated int64
            pos = 0
            while pos < len(value):
                dim, pos = _read_varint(value, pos)
                dims.append(dim)
        elif number == 6 and (any(value) if isinstance(value, bytes) else value):
            return None  # a dynamic dimension
    if element is None or element not in HLO_ELEMENT_TYPES:
        return None
    return tuple(dims), np.dtype(HLO_ELEMENT_TYPES[element])


def parse_hlo_signature(hlo: bytes) -> list[tuple[tuple[int, ...], np.dtype]] | None:
    """``[(shape, dtype)]`` of the entry parameters of a serialized ``HloProto``.

    ``HloProto.hlo_module`` (1) -> ``HloModuleProto.host_program_shape`` (4) ->
    ``ProgramShapeProto.parameters`` (1).  None where any parameter is not a
    static array of a known type, or the bytes are not such a message.
    """
    try:
        module = _field(hlo, 1)
        program_shape = _field(module, 4) if module is not None else None
        if program_shape is None:
            return None
        params = [_hlo_parameter(v) for n, w, v in _fields(program_shape)
                  if n == 1 and w == _LEN and isinstance(v, bytes)]
    except ValueError:  # not a well-formed message
        return None
    known = [p for p in params if p is not None]
    return known if len(known) == len(params) else None
