"""The Triton extension (``PJRT_Triton``): compile a Triton kernel with the plugin's compiler.

GPU plugins only.  The plugin allocates the result strings with C++
``new[]``, which only the plugin could free; they are copied and, being
small, left allocated.  The args block gets spare room behind it because
newer plugins write result fields our (older) struct does not have.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

from .. import _abi
from .._handles import c_bytes_address
from ._base import Extension, c_string
from ._chain import ExtensionType

__all__ = ["Triton", "TritonKernel"]

# Newer headers append result fields (cluster dims); plugins fill them regardless.
_SPARE_BYTES = 256


@dataclass(frozen=True)
class TritonKernel:
    """A compiled kernel: assembly text (PTX) or a path to a code object (HSACO), and its shared memory."""

    asm: bytes
    path: str
    shared_memory_bytes: int


class Triton(Extension):
    """``PJRT_Triton``."""

    TYPE = ExtensionType.PJRT_Extension_Type_Triton
    STRUCT = _abi.PJRT_Triton
    NAME = "Triton"

    def compile(self, module: str | bytes, arch_name: str, *, num_warps: int = 4, num_ctas: int = 1,
                num_stages: int = 3) -> TritonKernel:
        """Compile a Triton MLIR ``module`` for ``arch_name`` (e.g. ``"90"`` or ``"gfx942"``)
        (``PJRT_Triton_Compile``)."""
        code = c_string(module, "module")
        arch = c_string(arch_name, "arch_name")
        for name, value in (("num_warps", num_warps), ("num_ctas", num_ctas), ("num_stages", num_stages)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        room = ctypes.create_string_buffer(ctypes.sizeof(_abi.PJRT_Triton_Compile_Args) + _SPARE_BYTES)
        args = _abi.PJRT_Triton_Compile_Args.from_buffer(room)
        args.struct_size = _abi.PJRT_Triton_Compile_Args_STRUCT_SIZE
        args.module, args.module_size = c_bytes_address(code), len(code)
        args.arch_name, args.arch_name_size = c_bytes_address(arch), len(arch)
        args.num_warps, args.num_ctas, args.num_stages = num_warps, num_ctas, num_stages
        self._call("compile", args)
        asm = ctypes.string_at(args.out_asm, args.out_asm_size) if args.out_asm else b""
        path = ctypes.string_at(args.out_path, args.out_path_size).decode() if args.out_path else ""
        return TritonKernel(asm, path, int(args.out_smem_bytes))
