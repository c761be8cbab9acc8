"""The parameter types of ``@main`` in StableHLO text, for checking execute arguments."""

from __future__ import annotations

import re

import ml_dtypes  # noqa: F401 - registers bfloat16 with numpy's dtype lookup
import numpy as np

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
        dims, elem = _BODY_RE.match(body).groups()
        if elem not in MLIR_ELEMENT_TYPES:
            return None
        out.append((tuple(int(d) for d in dims.split("x") if d), np.dtype(MLIR_ELEMENT_TYPES[elem])))
    if len(out) != params.count("%"):
        return None  # a non-tensor or dynamic parameter: leave checking to the plugin
    return out
