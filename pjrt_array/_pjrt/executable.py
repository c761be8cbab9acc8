"""Compiled programs: ``PJRT_Executable`` (the program) and ``PJRT_LoadedExecutable``.

``LoadedExecutable.execute`` is the hot path of the whole library.  Each
executable keeps, per thread, a ready-made ``PJRT_LoadedExecutable_Execute_Args``
with its argument and output pointer arrays, so a repeated call fills in
pointers and calls: nothing is allocated but the output handles.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from typing import TYPE_CHECKING, Any, Literal, Sequence, overload

import numpy as np

from . import _abi
from ._api import new_struct
from ._ctypes_util import address, field_types
from ._handles import c_bytes_address, handles, int64s, text
from ._signature import parse_hlo_signature, parse_main_signature
from .buffer import Buffer
from .compile_options import CompileOptions, decode_device_assignment
from .device import Device
from .dtypes import to_numpy_dtype
from ._owned import Owned, invoke
from .errors import ClosedError
from .event import Event
from .named_values import NamedValue, read_named_values

if TYPE_CHECKING:
    from .client import Client

__all__ = ["Executable", "LoadedExecutable"]

_get_ident = threading.get_ident


# Fields PJRT_Executable_GetCompiledMemoryStats_Args gained later (the API
# changelog); an older plugin leaves them zero, which would read as a real 0.
_MEMORY_STATS_SINCE = {"peak_memory_in_bytes": 72, "total_size_in_bytes": 90, "total_allocation_bytes": 104,
                       "indefinite_allocations": 104, "peak_unpadded_heap_bytes": 104}


class Executable(Owned):
    """The compiled program behind a :class:`LoadedExecutable` (owned ``PJRT_Executable*``).

    The CPU plugins' ``PJRT_Executable`` borrows from its loaded executable, so
    it holds that :class:`LoadedExecutable` (keeping it from garbage
    collection) and refuses use once it was closed.
    """

    _field = "executable"
    _what = "Executable"

    def __init__(self, client: "Client", handle: int, loaded: "LoadedExecutable | None" = None) -> None:
        super().__init__(client, handle)
        self._loaded = loaded

    @property
    def handle(self) -> int:
        if self._loaded is not None and not self._loaded._handle:
            raise ClosedError("the LoadedExecutable of this Executable has been closed")
        return super().handle

    def _release(self, handle: int) -> None:
        """``PJRT_Executable_Destroy``."""
        invoke(self._client.api, "PJRT_Executable_Destroy", _abi.PJRT_Executable_Destroy_Args, executable=handle)

    @property
    def name(self) -> str:
        """The program's name (``PJRT_Executable_Name``)."""
        a = self._call("PJRT_Executable_Name", _abi.PJRT_Executable_Name_Args)
        return text(a.executable_name, a.executable_name_size)

    @property
    def num_replicas(self) -> int:
        """The number of replicas it was compiled for (``PJRT_Executable_NumReplicas``)."""
        return int(self._call("PJRT_Executable_NumReplicas", _abi.PJRT_Executable_NumReplicas_Args).num_replicas)

    @property
    def num_partitions(self) -> int:
        """The number of partitions it was compiled for (``PJRT_Executable_NumPartitions``)."""
        return int(self._call("PJRT_Executable_NumPartitions",
                              _abi.PJRT_Executable_NumPartitions_Args).num_partitions)

    @property
    def num_outputs(self) -> int:
        """The number of outputs (``PJRT_Executable_NumOutputs``)."""
        return int(self._call("PJRT_Executable_NumOutputs", _abi.PJRT_Executable_NumOutputs_Args).num_outputs)

    @property
    def output_element_types(self) -> list[_abi.PJRT_Buffer_Type]:
        """The ``PJRT_Buffer_Type`` of each output (``PJRT_Executable_OutputElementTypes``)."""
        a = self._call("PJRT_Executable_OutputElementTypes", _abi.PJRT_Executable_OutputElementTypes_Args)
        raw = (ctypes.c_int * a.num_output_types).from_address(a.output_types) if a.num_output_types else []
        return [_abi.PJRT_Buffer_Type(t) for t in raw]

    @property
    def output_dtypes(self) -> list[np.dtype]:
        return [to_numpy_dtype(t) for t in self.output_element_types]

    @property
    def output_dimensions(self) -> list[tuple[int, ...]]:
        """The shape of each output (``PJRT_Executable_OutputDimensions``)."""
        a = self._call("PJRT_Executable_OutputDimensions", _abi.PJRT_Executable_OutputDimensions_Args)
        sizes = (ctypes.c_size_t * a.num_outputs).from_address(a.dim_sizes) if a.num_outputs else []
        flat = int64s(a.dims, sum(sizes))
        out, start = [], 0
        for n in sizes:
            out.append(tuple(flat[start:start + n]))
            start += n
        return out

    def _strings(self, fn: str, args_type: type, count: str) -> list[str]:
        a = self._call(fn, args_type)
        n = getattr(a, count)
        if not n:
            return []
        sizes = (ctypes.c_size_t * n).from_address(a.memory_kind_sizes)
        return [text(p, s) for p, s in zip(handles(a.memory_kinds, n), sizes)]

    @property
    def output_memory_kinds(self) -> list[str]:
        """The memory kind of each output (``PJRT_Executable_OutputMemoryKinds``)."""
        return self._strings("PJRT_Executable_OutputMemoryKinds", _abi.PJRT_Executable_OutputMemoryKinds_Args,
                             "num_outputs")

    @property
    def parameter_memory_kinds(self) -> list[str]:
        """The memory kind of each parameter (``PJRT_Executable_ParameterMemoryKinds``)."""
        return self._strings("PJRT_Executable_ParameterMemoryKinds",
                             _abi.PJRT_Executable_ParameterMemoryKinds_Args, "num_parameters")

    @property
    def fingerprint(self) -> bytes:
        """An identifier of the compiled program (``PJRT_Executable_Fingerprint``)."""
        a = self._call("PJRT_Executable_Fingerprint", _abi.PJRT_Executable_Fingerprint_Args)
        return ctypes.string_at(a.executable_fingerprint, a.executable_fingerprint_size)

    @property
    def size_of_generated_code_in_bytes(self) -> int:
        """Bytes of machine code (``PJRT_Executable_SizeOfGeneratedCodeInBytes``)."""
        return int(self._call("PJRT_Executable_SizeOfGeneratedCodeInBytes",
                              _abi.PJRT_Executable_SizeOfGeneratedCodeInBytes_Args).size_in_bytes)

    def cost_analysis(self) -> dict[str, NamedValue]:
        """Compiler cost estimates (``PJRT_Executable_GetCostAnalysis``), e.g. ``flops``."""
        a = self._call("PJRT_Executable_GetCostAnalysis", _abi.PJRT_Executable_GetCostAnalysis_Args)
        return read_named_values(a.properties, a.num_properties)

    def compiled_memory_stats(self) -> dict[str, int]:
        """``PJRT_Executable_GetCompiledMemoryStats``: the fields the plugin's API version fills."""
        a = self._call("PJRT_Executable_GetCompiledMemoryStats", _abi.PJRT_Executable_GetCompiledMemoryStats_Args)
        minor = self._client.api.minor
        names = list(field_types(_abi.PJRT_Executable_GetCompiledMemoryStats_Args))[3:]
        return {name: int(getattr(a, name)) for name in names if minor >= _MEMORY_STATS_SINCE.get(name, 0)}

    def optimized_program(self) -> bytes:
        """The optimized program (serialized HloModuleProto on XLA plugins) (``PJRT_Executable_OptimizedProgram``)."""
        program = new_struct(_abi.PJRT_Program)
        fmt = b"hlo"
        program.format = c_bytes_address(fmt)
        program.format_size = len(fmt)
        self._call("PJRT_Executable_OptimizedProgram", _abi.PJRT_Executable_OptimizedProgram_Args,
                   program=ctypes.addressof(program))
        out = ctypes.create_string_buffer(program.code_size)
        program.code = ctypes.addressof(out)
        self._call("PJRT_Executable_OptimizedProgram", _abi.PJRT_Executable_OptimizedProgram_Args,
                   program=ctypes.addressof(program))
        return out.raw[: program.code_size]

    def _owned_bytes(self, fn: str, args_type: type, data: str, size: str, holder: str, deleter: str) -> bytes:
        a = self._call(fn, args_type)
        try:
            return ctypes.string_at(getattr(a, data), getattr(a, size))
        finally:
            ctypes.CFUNCTYPE(None, ctypes.c_void_p)(getattr(a, deleter))(getattr(a, holder))

    def serialize(self) -> bytes:
        """Bytes for :meth:`Client.deserialize_executable`, same plugin and version only
        (``PJRT_Executable_Serialize``)."""
        return self._owned_bytes("PJRT_Executable_Serialize", _abi.PJRT_Executable_Serialize_Args,
                                 "serialized_bytes", "serialized_bytes_size", "serialized_executable",
                                 "serialized_executable_deleter")

    def compile_options(self) -> CompileOptions:
        """The options it was compiled with (``PJRT_Executable_GetCompileOptions``), decoded."""
        return CompileOptions.from_bytes(self._owned_bytes(
            "PJRT_Executable_GetCompileOptions", _abi.PJRT_Executable_GetCompileOptions_Args,
            "serialized_bytes", "serialized_bytes_size", "serialized_compile_options",
            "serialized_compile_options_deleter"))


class _ExecuteBlock:
    """The reusable argument block of one executable on one thread."""

    __slots__ = ("args", "outs", "call", "address", "nargs", "nouts", "device", "_keep")

    def __init__(self, exe: "LoadedExecutable", nargs: int, nouts: int) -> None:
        self.args = (ctypes.c_void_p * max(nargs, 1))()
        # size_t, not void*: output handles read back as ints on the hot path (a null one reads
        # as 0, which the handle wrappers treat as closed; it is never dereferenced).
        self.outs = (ctypes.c_size_t * max(nouts, 1))()
        arg_lists = (ctypes.c_void_p * 1)(ctypes.addressof(self.args))
        out_lists = (ctypes.c_void_p * 1)(ctypes.addressof(self.outs))
        options = new_struct(_abi.PJRT_ExecuteOptions)
        self.call = new_struct(_abi.PJRT_LoadedExecutable_Execute_Args)
        self.call.executable = exe._handle
        self.call.options = ctypes.addressof(options)
        self.call.argument_lists = ctypes.addressof(arg_lists)
        self.call.num_devices = 1
        self.call.num_args = nargs
        self.call.output_lists = ctypes.addressof(out_lists)
        self.address = ctypes.addressof(self.call)
        self.nargs = nargs
        self.nouts = nouts
        self.device = 0  # the execute_device currently in ``call``
        self._keep = (arg_lists, out_lists, options)


class LoadedExecutable(Owned):
    """A program loaded on a client's devices (owned ``PJRT_LoadedExecutable*``).

    Facts about outputs and parameters are read from the plugin when first
    asked for: the unchecked :meth:`execute_handles` needs only the output
    count, so loading an executable from the disk cache costs no more than
    the plugin's deserialization.
    """

    _field = "executable"
    _what = "LoadedExecutable"

    def __init__(self, client: "Client", handle: int, program: str | None = None) -> None:
        super().__init__(client, handle)
        client._executables.add(handle)  # Client.close destroys what is still registered
        self._execute = client.api.raw("PJRT_LoadedExecutable_Execute")
        self._blocks: dict[int, _ExecuteBlock] = {}
        self._program = program  # the MLIR text it was compiled from, parsed only for `signature`

    @functools.cached_property
    def _outputs(self) -> tuple[list[np.dtype], list[tuple[int, ...] | None]]:
        with self.executable as exe:
            shapes: list[tuple[int, ...] | None] = list(exe.output_dimensions)
            if exe.num_partitions > 1:
                # An SPMD program: OutputDimensions are the global shapes, but each device's
                # buffers hold blocks (their shapes are read from the buffers).
                shapes = [None] * len(shapes)
            return exe.output_dtypes, shapes

    @functools.cached_property
    def output_dtypes(self) -> list[np.dtype]:
        """The dtype of each output."""
        return self._outputs[0]

    @functools.cached_property
    def output_shapes(self) -> list[tuple[int, ...] | None]:
        """The shape of each output (None for the per-device blocks of an SPMD program)."""
        return self._outputs[1]

    @functools.cached_property
    def num_outputs(self) -> int:
        """The number of outputs."""
        with self.executable as exe:
            return exe.num_outputs

    @functools.cached_property
    def signature(self) -> list[tuple[tuple[int, ...], np.dtype]] | None:
        """``[(shape, dtype)]`` of the parameters when known (from the MLIR text, else from the
        optimized HLO), so that :meth:`execute` refuses bad arguments before the call."""
        program, self._program = self._program, None
        with self.executable as exe:
            if exe.num_partitions > 1:
                program = None  # SPMD: @main's types are global, the partitioned program's per device
            if program is not None:
                return parse_main_signature(program)
            if not self._client.api.has("PJRT_Executable_OptimizedProgram"):
                return None
            return parse_hlo_signature(exe.optimized_program())

    # -- creation --------------------------------------------------------------------------
    @classmethod
    def compile(cls, client: "Client", program: str | bytes, options: CompileOptions | None = None,
                format: str = "mlir") -> "LoadedExecutable":
        """``PJRT_Client_Compile``; a malformed program raises with the plugin's diagnostics."""
        if isinstance(program, str):
            code = program.encode()
        elif isinstance(program, (bytes, bytearray, memoryview)):
            code = bytes(program)
        else:
            raise TypeError(f"program must be str or bytes, got {type(program).__name__}")
        if format not in ("mlir", "hlo", "hlo_with_config"):
            raise ValueError(f"format must be 'mlir', 'hlo' or 'hlo_with_config', got {format!r}")
        if options is None:
            options = CompileOptions()
        elif not isinstance(options, CompileOptions):
            raise TypeError(f"options must be CompileOptions, got {type(options).__name__}")
        opts = options.to_bytes()
        fmt = format.encode()
        prog = new_struct(_abi.PJRT_Program)
        prog.code = c_bytes_address(code)
        prog.code_size = len(code)
        prog.format = c_bytes_address(fmt)
        prog.format_size = len(fmt)
        args = new_struct(_abi.PJRT_Client_Compile_Args)
        args.client = client.handle
        args.program = ctypes.addressof(prog)
        args.compile_options = c_bytes_address(opts)
        args.compile_options_size = len(opts)
        client.api.call("PJRT_Client_Compile", args)
        return cls(client, args.executable, code.decode("utf-8", "replace") if format == "mlir" else None)

    @classmethod
    def deserialize(cls, client: "Client", data: bytes) -> "LoadedExecutable":
        """``PJRT_Executable_DeserializeAndLoad``."""
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"data must be bytes, got {type(data).__name__}")
        data = bytes(data)
        args = new_struct(_abi.PJRT_Executable_DeserializeAndLoad_Args)
        args.client = client.handle
        args.serialized_executable = c_bytes_address(data)
        args.serialized_executable_size = len(data)
        client.api.call("PJRT_Executable_DeserializeAndLoad", args)
        return cls(client, args.loaded_executable)

    # -- ownership -------------------------------------------------------------------------
    def _release(self, handle: int) -> None:
        """``PJRT_LoadedExecutable_Destroy``."""
        self._client._executables.discard(handle)
        self._blocks = {}
        invoke(self._client.api, "PJRT_LoadedExecutable_Destroy", _abi.PJRT_LoadedExecutable_Destroy_Args,
               executable=handle)

    @property
    def executable(self) -> Executable:
        """The underlying :class:`Executable`, a new owned handle each time
        (``PJRT_LoadedExecutable_GetExecutable``)."""
        a = invoke(self._client.api, "PJRT_LoadedExecutable_GetExecutable",
                   _abi.PJRT_LoadedExecutable_GetExecutable_Args, loaded_executable=self.handle)
        return Executable(self._client, a.executable, self)

    @property
    def fingerprint(self) -> bytes:
        """Deprecated in favour of ``executable.fingerprint`` (``PJRT_LoadedExecutable_Fingerprint``)."""
        a = self._call("PJRT_LoadedExecutable_Fingerprint", _abi.PJRT_LoadedExecutable_Fingerprint_Args)
        return ctypes.string_at(a.executable_fingerprint, a.executable_fingerprint_size)

    def device_assignment(self) -> tuple[tuple[int, ...], ...]:
        """Device ids ``[replica][partition]`` it runs on (``PJRT_LoadedExecutable_GetDeviceAssignment``)."""
        a = self._call("PJRT_LoadedExecutable_GetDeviceAssignment",
                       _abi.PJRT_LoadedExecutable_GetDeviceAssignment_Args)
        try:
            return decode_device_assignment(ctypes.string_at(a.serialized_bytes, a.serialized_bytes_size))
        finally:
            if a.serialized_device_assignment_deleter:
                ctypes.CFUNCTYPE(None, ctypes.c_void_p)(a.serialized_device_assignment_deleter)(
                    a.serialized_device_assignment)

    def addressable_device_logical_ids(self) -> list[tuple[int, int]]:
        """``(replica, partition)`` of each addressable device
        (``PJRT_LoadedExecutable_AddressableDeviceLogicalIds``)."""
        a = self._call("PJRT_LoadedExecutable_AddressableDeviceLogicalIds",
                       _abi.PJRT_LoadedExecutable_AddressableDeviceLogicalIds_Args)
        n = a.num_addressable_device_logical_ids
        if not n:
            return []
        ids = (_abi.PJRT_LogicalDeviceIds * n).from_address(a.addressable_device_logical_ids)
        return [(int(i.replica), int(i.partition)) for i in ids]

    def addressable_devices(self) -> list[Device]:
        """The devices it runs on (``PJRT_LoadedExecutable_AddressableDevices``)."""
        a = self._call("PJRT_LoadedExecutable_AddressableDevices", _abi.PJRT_LoadedExecutable_AddressableDevices_Args)
        return [Device(self._client, h) for h in handles(a.addressable_devices, a.num_addressable_devices)]

    def delete(self) -> None:
        """Free the executable's device resources (``PJRT_LoadedExecutable_Delete``)."""
        self._call("PJRT_LoadedExecutable_Delete", _abi.PJRT_LoadedExecutable_Delete_Args)

    @property
    def is_deleted(self) -> bool:
        """Whether :meth:`delete` freed it (``PJRT_LoadedExecutable_IsDeleted``)."""
        return bool(self._call("PJRT_LoadedExecutable_IsDeleted", _abi.PJRT_LoadedExecutable_IsDeleted_Args).is_deleted)

    # -- execution -------------------------------------------------------------------------
    def _check_arguments(self, buffers: Sequence[Buffer]) -> None:
        for i, b in enumerate(buffers):
            if not isinstance(b, Buffer):
                raise TypeError(f"argument {i}: expected a Buffer, got {type(b).__name__}")
            if b._client is not self._client:
                raise ValueError(f"argument {i}: the buffer belongs to another client")
        if self.signature is None:
            return
        if len(buffers) != len(self.signature):
            raise TypeError(f"the program takes {len(self.signature)} arguments, got {len(buffers)}")
        for i, (b, (shape, dtype)) in enumerate(zip(buffers, self.signature)):
            if b.dtype != dtype or b.shape != shape:
                raise TypeError(f"argument {i}: expected {dtype}{list(shape)}, got {b.dtype}{list(b.shape)}")

    def execute(self, buffers: Sequence[Buffer], *, device: Device | None = None) -> list[Buffer]:
        """Run on one device (``PJRT_LoadedExecutable_Execute``); returns the output buffers at once
        (work is asynchronous).

        Arguments are checked (client, count, dtype, shape where known) before
        the call.  ``device`` selects the device of a portable executable.
        """
        self._check_arguments(buffers)
        if device is not None and device._client is not self._client:
            raise ValueError("device belongs to another client")
        return self.run([b.handle for b in buffers], device.handle if device else 0,
                        list(zip(self.output_shapes, self.output_dtypes)))

    def execute_handles(self, arg_handles: Sequence[int], device_handle: int = 0) -> list[int]:
        """The unchecked path with raw ``PJRT_Buffer*`` out (:meth:`run` without wrapping).

        The caller owns the returned handles (wrap them in :class:`Buffer`).
        """
        return self.run(arg_handles, device_handle, None)

    def run(self, arg_handles: Sequence[int], device_handle: int,
            out_avals: Sequence[tuple[tuple[int, ...] | None, np.dtype]] | None) -> list[Any]:
        """The unchecked hot path every caller shares: execute on one device and own the outputs.

        ``arg_handles``: raw ``PJRT_Buffer*`` of the arguments; the caller holds their
        :class:`Buffer` objects until this returns (another thread may drop them meanwhile).
        ``device_handle``: the ``PJRT_Device*`` to run on (0: the executable's own).
        ``out_avals``: ``(shape, dtype)`` of each output, given to the output :class:`Buffer`
        objects this returns (a None shape is read from the buffer when asked); None returns
        the raw output handles instead.
        Nothing is built per call: the argument block, the output array and the execute
        struct are made once per executable and thread (:class:`_ExecuteBlock`).  A plugin
        error is raised as its :class:`PjrtError` subclass.
        """
        block = self._blocks.get(_get_ident())
        n = len(arg_handles)
        # A block is sized by the call that built it; a call with another
        # argument count gets a new one (the plugin rejects a wrong count).
        if block is None or block.nargs != n:
            block = self._new_block(n)
        if n == 2:
            block.args[0], block.args[1] = arg_handles
        elif n == 1:
            block.args[0] = arg_handles[0]
        else:
            block.args[:n] = arg_handles  # type: ignore[call-overload]  # mypy's ctypes plugin wants a list
        if block.device != device_handle:
            block.call.execute_device = block.device = device_handle
        err = self._execute(block.address)
        if err:
            self._client.api.check(err)
        if out_avals is None:
            return block.outs[: block.nouts]
        if block.nouts == 1:
            aval = out_avals[0]
            return [Buffer(self._client, block.outs[0], aval[1], aval[0])]
        client = self._client
        return [Buffer(client, h, aval[1], aval[0]) for h, aval in zip(block.outs[: block.nouts], out_avals)]

    def _new_block(self, nargs: int) -> _ExecuteBlock:
        """This thread's execute block for ``nargs`` arguments (ClosedError once closed)."""
        if self._client._closed or not self._handle:
            self.handle  # raises ClosedError
        block = self._blocks[_get_ident()] = _ExecuteBlock(self, nargs, self.num_outputs)
        return block

    @overload
    def execute_sharded(self, argument_lists: Sequence[Sequence[Buffer]], with_events: Literal[False] = False, *,
                        non_donatable: Sequence[int] = (), context: Any = None, send: Any = None,
                        recv: Any = None) -> list[list[Buffer]]: ...

    @overload
    def execute_sharded(self, argument_lists: Sequence[Sequence[Buffer]], with_events: Literal[True], *,
                        non_donatable: Sequence[int] = (), context: Any = None, send: Any = None,
                        recv: Any = None) -> tuple[list[list[Buffer]], list[Event]]: ...

    def execute_sharded(self, argument_lists: Sequence[Sequence[Buffer]], with_events: bool = False, *,
                        non_donatable: Sequence[int] = (), context: Any = None, send: Any = None,
                        recv: Any = None) -> list[list[Buffer]] | tuple[list[list[Buffer]], list[Event]]:
        """Run on every addressable device (``PJRT_LoadedExecutable_Execute``): one argument list per
        device, in device order.

        ``non_donatable``: argument indices the program must not donate; ``context``: an
        :class:`ExecuteContext`; ``send``/``recv``: host channel handlers (see
        :mod:`pjrt_array._pjrt.host_callbacks`); with handlers the call waits for completion,
        so they can never run after their Python objects are gone.
        """
        ndev = len(argument_lists)
        nargs = len(argument_lists[0]) if ndev else 0
        for lst in argument_lists:
            if len(lst) != nargs:
                raise ValueError("every device needs the same number of arguments")
            self._check_arguments(lst)
        arg_arrays = [(ctypes.c_void_p * max(nargs, 1))(*[b.handle for b in lst]) for lst in argument_lists]
        out_arrays = [(ctypes.c_void_p * max(self.num_outputs, 1))() for _ in range(ndev)]
        arg_lists = (ctypes.c_void_p * max(ndev, 1))(*[ctypes.addressof(a) for a in arg_arrays])
        out_lists = (ctypes.c_void_p * max(ndev, 1))(*[ctypes.addressof(a) for a in out_arrays])
        events = (ctypes.c_void_p * max(ndev, 1))()
        options = new_struct(_abi.PJRT_ExecuteOptions)
        keep = (ctypes.c_int64 * max(len(non_donatable), 1))(*[int(i) for i in non_donatable])
        options.non_donatable_input_indices = ctypes.addressof(keep)
        options.num_non_donatable_input_indices = len(non_donatable)
        if context is not None:
            options.context = context.handle
        callbacks = None
        if send or recv:
            from .host_callbacks import HostCallbacks
            callbacks = HostCallbacks(self._client, send, recv, ndev)
            callbacks.fill(options)
        args = new_struct(_abi.PJRT_LoadedExecutable_Execute_Args)
        args.executable = self.handle
        args.options = ctypes.addressof(options)
        args.argument_lists = ctypes.addressof(arg_lists)
        args.num_devices = ndev
        args.num_args = nargs
        args.output_lists = ctypes.addressof(out_lists)
        if with_events or callbacks is not None:
            args.device_complete_events = ctypes.addressof(events)
        self._client.api.call("PJRT_LoadedExecutable_Execute", args)
        results = [[Buffer(self._client, address(h, "execute output buffer"), d, s) for h, d, s in
                    zip(out[: self.num_outputs], self.output_dtypes, self.output_shapes)] for out in out_arrays]
        done = [Event(self._client.api, address(e, "execute completion event")) for e in events[:ndev]] \
            if args.device_complete_events else []
        if callbacks is not None:
            for event in done:
                event.wait()  # the handlers must outlive every call the plugin makes to them
        if with_events:
            return results, done
        return results

    def __repr__(self) -> str:
        return "<pjrt LoadedExecutable closed>" if not self._handle else \
            f"<pjrt LoadedExecutable outputs={self.num_outputs}>"
