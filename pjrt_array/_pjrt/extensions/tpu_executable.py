"""The TPU Executable extension: facts from serialized TPU executables and compilation environments.

TPU plugins only.  Every function takes serialized bytes and returns
serialized bytes owned by the plugin; they are copied and released with the
deleter each result comes with.  The header's ``get_core_program_abi_version``
slot is deprecated (an untyped ``void*``) and not wrapped.
"""

from __future__ import annotations

import ctypes
from typing import Any, Sequence

from .. import _abi
from .._handles import c_bytes_address
from ..named_values import NamedValue, read_named_values
from ._base import CStrings, Extension, c_string, take_bytes
from ._chain import ExtensionType

__all__ = ["TpuExecutable"]


class TpuExecutable(Extension):
    """``PJRT_TpuExecutable_Extension``."""

    TYPE = ExtensionType.PJRT_Extension_Type_TpuExecutable
    STRUCT = _abi.PJRT_TpuExecutable_Extension
    NAME = "TPU Executable"

    def _from_executable(self, slot: str, serialized_executable: bytes, out: str) -> bytes:
        data = c_string(serialized_executable, "serialized_executable")
        a = self._call(slot, self._slot_args(slot, serialized_executable=c_bytes_address(data),
                                             serialized_executable_size=len(data)))
        return take_bytes(getattr(a, out), getattr(a, f"{out}_size"), getattr(a, f"{out}_ptr"),
                          getattr(a, f"{out}_deleter"))

    def target_arguments(self, serialized_executable: bytes) -> bytes:
        """The compiler target arguments of an executable (``PJRT_TpuExecutable_GetTargetArguments``)."""
        return self._from_executable("get_target_arguments", serialized_executable, "target_arguments")

    def hlo_module_with_config(self, serialized_executable: bytes) -> bytes:
        """The executable's serialized ``HloModuleProtoWithConfig``
        (``PJRT_TpuExecutable_GetHloModuleWithConfig``)."""
        return self._from_executable("get_hlo_module_with_config", serialized_executable, "hlo_module_with_config")

    def compiled_memory_stats(self, serialized_executable: bytes) -> bytes:
        """The executable's serialized ``CompiledMemoryStatsProto``
        (``PJRT_TpuExecutable_GetCompiledMemoryStats``)."""
        return self._from_executable("get_compiled_memory_stats", serialized_executable, "compiled_memory_stats")

    def run_hlo_cost_analysis(self, target_arguments: bytes, hlo_modules: Sequence[bytes]) -> dict[str, NamedValue]:
        """Cost analysis of serialized ``HloModuleProtoWithConfig`` modules
        (``PJRT_TpuExecutable_RunHloCostAnalysis``)."""
        target = c_string(target_arguments, "target_arguments")
        modules = CStrings(hlo_modules, "hlo_modules")
        a = self._call("run_hlo_cost_analysis", self._slot_args(
            "run_hlo_cost_analysis", target_arguments=c_bytes_address(target), target_arguments_size=len(target),
            hlo_module=ctypes.addressof(modules.pointers), hlo_module_size=ctypes.addressof(modules.sizes),
            num_hlo_modules=modules.count))
        try:
            return read_named_values(a.analysis_results, a.num_analysis_results)
        finally:
            if a.analysis_results_deleter:
                a.analysis_results_deleter(a.analysis_results_ptr)

    def set_tpu_compilation_env(self, compilation_environments: bytes) -> bytes:
        """Serialized ``CompilationEnvironmentsProto`` with the TPU environment set
        (``PJRT_TpuExecutable_SetTpuCompilationEnv``)."""
        envs = c_string(compilation_environments, "compilation_environments")
        a = self._call("set_tpu_compilation_env", self._slot_args(
            "set_tpu_compilation_env", serialized_compilation_environments=c_bytes_address(envs),
            serialized_compilation_environments_size=len(envs)))
        return take_bytes(a.result_compilation_environments, a.result_compilation_environments_size,
                          a.result_compilation_environments_ptr, a.result_compilation_environments_deleter)

    def tpu_compilation_env_field(self, compilation_environments: bytes, field_name: str) -> str:
        """One field of the TPU compilation environment, as text
        (``PJRT_TpuExecutable_GetTpuCompilationEnvFieldAsString``)."""
        envs = c_string(compilation_environments, "compilation_environments")
        name = c_string(field_name, "field_name")
        a = self._call("get_tpu_compilation_env_field_as_string", self._slot_args(
            "get_tpu_compilation_env_field_as_string", serialized_compilation_environments=c_bytes_address(envs),
            serialized_compilation_environments_size=len(envs), field_name=c_bytes_address(name),
            field_name_size=len(name)))
        return take_bytes(a.field_value, a.field_value_size, a.field_value_ptr, a.field_value_deleter).decode(
            "utf-8", "replace")

    def is_tpu_predetermined_error(self, serialized_status: bytes) -> bool:
        """Whether a serialized status is one of the TPU's predetermined errors
        (``PJRT_TpuExecutable_IsTpuPredeterminedError``)."""
        status = c_string(serialized_status, "serialized_status")
        a: Any = self._call("is_tpu_predetermined_error", self._slot_args(
            "is_tpu_predetermined_error", serialized_status=c_bytes_address(status),
            serialized_status_size=len(status)))
        return bool(a.is_predetermined)
