"""The PhaseCompile extension: run a plugin's compiler one phase at a time.

``PhaseCompile.compiler()`` gets the plugin's phase compiler (owned: destroyed
by ``close()``); the compiler lists its phases and runs chosen phases on
serialized ``xla.PjRtPartialProgramProto`` programs, so intermediate artifacts
can be cached or inspected.  Every string array the plugin returns is copied
and then freed with ``PJRT_PhaseCompile_C_Buffers_Destroy``.

The XLA CPU plugins provide this extension without a phase compiler (their
``get_compiler`` slot is null), so :meth:`PhaseCompile.compiler` raises
:class:`Unimplemented` there.
"""

from __future__ import annotations

import ctypes
from typing import Any, Sequence

from .. import _abi
from .._handles import c_bytes_address
from ..compile_options import CompileOptions
from ._base import CStrings, Extension, Owned, any_handle, owned_strings
from ._chain import ExtensionType

__all__ = ["PhaseCompile", "PhaseCompiler"]


class PhaseCompile(Extension):
    """``PJRT_PhaseCompile_Extension``."""

    TYPE = ExtensionType.PJRT_Extension_Type_PhaseCompile
    STRUCT = _abi.PJRT_PhaseCompile_Extension
    NAME = "PhaseCompile"

    def compiler(self) -> "PhaseCompiler":
        """The plugin's phase compiler (``PJRT_PhaseCompile_Get_Compiler``)."""
        a = self._call("phase_compile_get_compiler", self._args(_abi.PJRT_PhaseCompile_Get_Compiler_Args))
        return PhaseCompiler(self, a.phase_compiler)

    def _destroy_compiler(self, handle: int) -> None:
        """``PJRT_PhaseCompile_Destroy_Compiler``."""
        self._call_void("phase_compile_destroy_compiler",
                        self._args(_abi.PJRT_PhaseCompile_Destroy_Compiler_Args, phase_compiler=handle))

    def _free_strings(self, pointers: int | None, sizes: int | None, count: int) -> None:
        """Give string arrays the plugin allocated back (``PJRT_PhaseCompile_C_Buffers_Destroy``)."""
        self._call_void("phase_compile_c_buffers_destroy", self._args(
            _abi.PJRT_PhaseCompile_C_Buffers_Destroy_Args, char_buffers=pointers or 0,
            char_buffer_sizes=sizes or 0, num_char_buffers=count))

    def _take_strings(self, pointers: int | None, sizes: int | None, count: int) -> list[bytes]:
        try:
            return owned_strings(pointers, sizes, count)
        finally:
            if count:
                self._free_strings(pointers, sizes, count)

    def _phase_names(self, compiler: int) -> list[str]:
        """``PJRT_PhaseCompile_Get_PhaseNames`` for a compiler handle."""
        a = self._call("phase_compile_get_phase_names",
                       self._args(_abi.PJRT_PhaseCompile_Get_PhaseNames_Args, phase_compiler=compiler))
        return [s.decode() for s in self._take_strings(a.phase_names, a.phase_names_sizes, a.num_phase_names)]

    def _run_phases(self, compiler: int, programs: Sequence[bytes], phases: Sequence[str],
                    options: CompileOptions, topology: int) -> list[bytes]:
        """``PJRT_PhaseCompile_Run_Phase`` for a compiler handle."""
        inputs = CStrings(programs, "programs")
        names = CStrings(phases, "phases")
        opts = options.to_bytes()
        a = self._call("phase_compile_run_phases", self._args(
            _abi.PJRT_PhaseCompile_Run_Phase_Args, phase_compiler=compiler,
            input_programs=ctypes.addressof(inputs.pointers), input_programs_sizes=ctypes.addressof(inputs.sizes),
            num_input_programs=inputs.count, phases_to_run=ctypes.addressof(names.pointers),
            phases_to_run_sizes=ctypes.addressof(names.sizes), num_phases_to_run=names.count,
            compile_options=c_bytes_address(opts), compile_options_size=len(opts), topology=topology))
        return self._take_strings(a.output_programs, a.output_programs_sizes, a.num_output_programs)


class PhaseCompiler(Owned):
    """A plugin's phase compiler (owned ``PJRT_PhaseCompiler*``)."""

    _what = "PhaseCompiler"

    def __init__(self, extension: PhaseCompile, handle: int) -> None:
        super().__init__(None, handle)
        self._ext = extension

    def _release(self, handle: int) -> None:
        """``PJRT_PhaseCompile_Destroy_Compiler``."""
        self._ext._destroy_compiler(handle)

    def phase_names(self) -> list[str]:
        """The phases in the order they are registered (``PJRT_PhaseCompile_Get_PhaseNames``; the
        plugin's strings are freed with ``PJRT_PhaseCompile_C_Buffers_Destroy``)."""
        return self._ext._phase_names(self.handle)

    def run_phases(self, programs: Sequence[bytes], phases: Sequence[str], topology: Any,
                   options: CompileOptions | None = None) -> list[bytes]:
        """Run ``phases`` on serialized ``PjRtPartialProgramProto`` ``programs`` for a topology.

        Returns the serialized output programs (``PJRT_PhaseCompile_Run_Phase``; the plugin's
        buffers are freed with ``PJRT_PhaseCompile_C_Buffers_Destroy``).
        """
        if options is None:
            options = CompileOptions()
        elif not isinstance(options, CompileOptions):
            raise TypeError(f"options must be CompileOptions, got {type(options).__name__}")
        return self._ext._run_phases(self.handle, programs, phases, options,
                                     any_handle(topology, "topology description", "topology"))
