"""``pjrt_array.jit``: compile a whole Array API function into one program.

The function is traced once per *signature* -- the tree structure of its
arguments, the shape and dtype of each array, the Python type of each scalar,
the device and the static arguments -- with :class:`~pjrt_array._tracing.Tracer`
arguments that go through the ordinary namespace.  The recorded ops become one
``func.func @main`` compiled through the dispatcher's fingerprint and disk
caches.  Later calls with that signature go straight to the executable.

Python scalar arguments are runtime parameters (weakly typed), so a changing
float never recompiles; concrete Arrays the function reads from outside
(closures) are extra parameters, passed with their current value at each call.
"""

from __future__ import annotations

import functools
import inspect
import operator
import threading
from typing import Any, Callable, Sequence

import numpy as np

from . import _dispatch, _pytree, _spmd
from ._array import Array
from ._devices import Device, as_device
from ._host_value import HostValue
from ._pjrt import Buffer, PjrtError, ResourceExhausted
from ._policy import policy_for
from ._sharding import Mesh, NamedSharding
from ._program import main_module
from ._trace_state import state as _trace_state, tracing as _tracing_count
from ._tracing import Trace
from ._views import Marker
from .ops._builder import Builder
from .ops._lapack import linalg_error
from .ops._operands import scalar_array

__all__ = ["jit", "Jitted", "Lowered"]

_SCALARS = (bool, int, float, complex)
_aval_of = operator.attrgetter("_aval")
_wrap = Array._from_buffer
_WEAK_DTYPE = {bool: np.dtype(bool), int: np.dtype("int64"), float: np.dtype("float64"),
               complex: np.dtype("complex128")}


class _Program:
    """One compiled signature: the executable and how to feed it and wrap its results."""

    __slots__ = ("exe", "device", "scalars", "inputs", "out_avals", "out_tree", "passthrough", "donate", "name",
                 "text", "spmd", "mesh", "plain", "launch", "out_aval", "device_handle")

    def __init__(self, exe: Any, device: Device, scalars: list[np.dtype | None], inputs: list[Array],
                 out_avals: list[tuple], out_tree: Any, passthrough: list[tuple[int, int]], donate: list[int],
                 name: str, text: str, mesh: Mesh | None = None, spmd: Any = None) -> None:
        self.exe = exe
        #: the mesh and the SPMD program (``_spmd``) of a signature sharded over a mesh, else None
        self.mesh, self.spmd = mesh, spmd
        self.device = device
        self.scalars = scalars if any(d is not None for d in scalars) else None
        self.inputs = inputs
        self.out_avals = out_avals
        self.out_tree = out_tree
        #: (output leaf, parameter) of results that are an argument or captured Array unchanged:
        #: returned as that very Array, as eager code would.
        self.passthrough = passthrough
        self.donate = donate
        self.name = name
        self.text = text
        # Pre-computed for the cached call of Arrays only (``call_handles``).
        #: whether Arrays alone feed it (no Python-scalar parameter, nothing donated, one device)
        self.plain = self.scalars is None and not donate and spmd is None
        single = out_tree is _pytree.LEAF and not passthrough
        #: the result's aval where the result is one Array computed by the program, else None
        self.out_aval = out_avals[0] if single else None
        self.device_handle = device.handle
        #: where a cached call is the executable's run and one Array (one result, nothing
        #: captured): what ``_entry`` needs for it, in one tuple; else None
        self.launch = (exe.run, self.device_handle, out_avals, self.out_aval, device) \
            if self.plain and single and not inputs else None

    def call_handles(self, handles: list[int], args: Sequence[Array]) -> Any:
        """The cached call of a ``plain`` program: ``handles`` are the buffers of ``args``, Arrays
        on its device, whose Buffers the caller holds until this returns (the hot path: straight
        into the executable's :meth:`~pjrt_array._pjrt.LoadedExecutable.run`)."""
        held = [x._buffer for x in self.inputs]  # the captured Arrays' Buffers, held through the call
        if held:
            handles += [b._handle for b in held]
        try:
            out = self.exe.run(handles, self.device_handle, self.out_avals)
        except PjrtError as exc:
            raise _execution_error(exc, self.device) from None
        aval = self.out_aval
        if aval is not None:
            return _wrap(out[0], aval, self.device)
        return self._results(args, out)

    def __call__(self, leaves: Sequence[Any]) -> Any:
        device = self.device
        if self.mesh is not None:
            return self._call_sharded(leaves, self.mesh)
        # The Buffers (scalars' too) are held until the call returns, not only their handles.
        if self.scalars is None:
            buffers = [x._buffer for x in leaves]
        else:
            buffers = [x._buffer if d is None else scalar_array(x, d, device)._buffer
                       for x, d in zip(leaves, self.scalars)]
        buffers += [x._buffer for x in self.inputs]
        donated = self._donated(leaves) if self.donate else None
        try:
            out = self.exe.run([b._handle for b in buffers], self.device_handle, self.out_avals)
        except PjrtError as exc:
            raise _execution_error(exc, device) from None
        if donated is not None:
            gone = Marker(f"this Array was donated to the jitted function {self.name!r} (donate_argnums) "
                          "and its buffer now holds a result; use that result instead")
            for x in donated:
                x._buf = gone
        return self._results(leaves, out)

    def _call_sharded(self, leaves: Sequence[Any], mesh: Mesh) -> Any:
        """One SPMD execution over the mesh: sharded leaves give their blocks, the others are
        replicated (``_spmd``'s mixing rule); results come back sharded."""
        arrays = list(leaves) if self.scalars is None else [
            x if d is None else scalar_array(x, d, self.device) for x, d in zip(leaves, self.scalars)]
        try:
            out = _spmd.execute(self.spmd, _spmd.arguments([*arrays, *self.inputs], mesh))
        except PjrtError as exc:
            raise _execution_error(exc, self.device) from None
        return _pytree.unflatten(self.out_tree, out)

    def _results(self, leaves: Sequence[Any], out: Sequence[Buffer]) -> Any:
        device = self.device
        arrays = [_wrap(b, aval, device) for b, aval in zip(out, self.out_avals)]
        if self.passthrough:
            sources = [*leaves, *self.inputs]
            for position, param in self.passthrough:
                arrays.insert(position, sources[param])
        return _pytree.unflatten(self.out_tree, arrays)

    def _donated(self, leaves: Sequence[Any]) -> list[Array]:
        """The donated Arrays, checked before the call (their buffers are the plugin's afterwards)."""
        arrays = [leaves[i] for i in self.donate]
        if len({id(x._buffer) for x in arrays}) != len(arrays):
            raise ValueError(f"{self.name}: the same buffer is donated twice")
        for x in arrays:
            # Our cached host view pins the memory; drop it (a view the user still holds keeps
            # the pin, and the plugin then copies instead of reusing the buffer).
            x._host = None
        return arrays


class Lowered:
    """A traced signature: its StableHLO text (a portable module) and a way to compile it."""

    def __init__(self, jitted: "Jitted", key: tuple, parts: dict[str, Any]) -> None:
        self._jitted, self._key, self._parts = jitted, key, parts

    def as_text(self) -> str:
        """The StableHLO module; parameters are the array leaves of the arguments in order (Python
        scalars as 0-d int64/float64/complex128/bool), then any concrete Arrays the function captured."""
        return self._parts["text"]

    def compile(self) -> "Compiled":
        """Compile (or find) the executable; calls with this signature then skip tracing."""
        return Compiled(self._jitted, self._key, self._jitted._install(self._key, self._parts))


class Compiled:
    """The executable of one signature, callable with arguments of that signature."""

    def __init__(self, jitted: "Jitted", key: tuple, program: _Program) -> None:
        self._jitted, self._key, self._program = jitted, key, program

    def as_text(self) -> str:
        return self._program.text

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        key, leaves = self._jitted._signature(args, kwargs)
        if key != self._key:
            raise TypeError(f"{self._jitted._name}: these arguments do not match the compiled signature "
                            "(shapes, dtypes, tree structure, static values or placement differ)")
        return self._program(leaves)


class Jitted:
    """A function compiled per signature (see :func:`jit`)."""

    def __init__(self, fun: Callable, static_argnums: int | Sequence[int], static_argnames: str | Sequence[str],
                 donate_argnums: int | Sequence[int], device: Device | None, in_shardings: Any = None,
                 out_shardings: Any = None) -> None:
        functools.update_wrapper(self, fun)
        self._fun = fun
        self._name = getattr(fun, "__qualname__", None) or getattr(fun, "__name__", None) or repr(fun)
        self._device = None if device is None else as_device(device)
        nums, names = set(_ints(static_argnums, "static_argnums")), set(_names(static_argnames))
        try:
            parameters = list(inspect.signature(fun).parameters.values())
        except (TypeError, ValueError):
            parameters = []
        positional = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        nums |= {i for i, n in enumerate(positional) if n in names}
        names |= {positional[i] for i in nums if 0 <= i < len(positional)}
        self._device_pos = positional.index("device") if "device" in positional else None
        self._static_nums = frozenset(nums)
        self._static_names = frozenset(names)
        self._donate = frozenset(_ints(donate_argnums, "donate_argnums"))
        if self._donate & self._static_nums:
            raise ValueError(f"arguments {sorted(self._donate & self._static_nums)} cannot be both static and donated")
        self._in_shardings, self._out_shardings = in_shardings, out_shardings
        #: the mesh the shardings asked for name (a program over it even without sharded arguments)
        self._mesh = _mesh_of_spec(in_shardings, "in_shardings") or _mesh_of_spec(out_shardings, "out_shardings")
        if self._mesh is not None and self._device is not None:
            raise ValueError("jit: give either device= or in_shardings/out_shardings, not both")
        # Calls with only Arrays, positionally, use a shorter key.
        self._plain = not nums and not names and not self._donate and self._mesh is None
        self._programs: dict[tuple, _Program] = {}
        self._fast: dict[tuple, _Program] = {}  # avals of all-Array positional calls -> program
        self._locks: dict[tuple, threading.Lock] = {}
        self._guard = threading.Lock()
        self._stats = {"traces": 0, "compiles": 0, "misses": 0}
        self._hits = [0]  # not in ``_stats``: counted on the hot path (a list item is the cheapest)

    def __repr__(self) -> str:
        return f"<jitted {self._name}>"

    # -- calling ---------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The general call (any arguments, any tree); the function ``jit`` returns tries the
        cached call of Arrays first (:func:`_entry`).  While tracing, a call inlines."""
        if _tracing_count[0] and _trace_state.trace is not None:
            return self._fun(*args, **kwargs)  # nested jit: part of the enclosing program
        key, leaves = self._signature(args, kwargs)
        program = self._programs.get(key)
        if program is None:
            program = self._miss(key, args, kwargs)
        else:
            self._hits[0] += 1
        if self._plain and not kwargs and program.plain and \
                all(type(a) is Array and a._sharding is None for a in args):
            self._fast[tuple([a._aval for a in args])] = program
        return program(leaves)

    def _signature(self, args: tuple, kwargs: dict) -> tuple[tuple, list[Any]]:
        """The cache key of a call and the flat list of its dynamic leaves."""
        if self._in_shardings is not None:
            args = self._placed(args)
        dynamic_args = tuple(a for i, a in enumerate(args) if i not in self._static_nums)
        dynamic_kwargs = {k: v for k, v in kwargs.items() if k not in self._static_names}
        # The type is part of a static's identity: 3, 3.0 and True are equal but trace differently.
        statics = tuple((i, type(a), a) for i, a in enumerate(args) if i in self._static_nums) + \
            tuple((k, type(kwargs[k]), kwargs[k]) for k in sorted(kwargs) if k in self._static_names)
        try:
            hash(statics)
        except TypeError:
            bad = next(n for n, _, v in statics if not _hashable(v))
            raise TypeError(f"{self._name}: static argument {bad!r} must be hashable") from None
        leaves: list[Any] = []
        tree = _pytree.flatten((dynamic_args, dynamic_kwargs), leaves)
        sharded = [x for x in leaves if isinstance(x, Array) and x._sharding is not None]
        mesh = _spmd.mesh_of(sharded, [self._mesh]) if self._mesh else _spmd.mesh_of(sharded) if sharded else None
        if mesh is not None:
            if self._device is not None:
                raise ValueError(f"{self._name}: jit(device={self._device!r}) got sharded arguments; drop device= "
                                 "(the program runs on their mesh) or gather them with to_device()")
            return self._sharded_signature(tree, statics, leaves, mesh)
        device = self._device
        if device is None:  # the committed arguments' device: uncommitted ones move there (guide, "Devices")
            device = next((x._device for x in leaves if isinstance(x, Array) and x._device.committed), None)
        descs: list[Any] = []
        for i, x in enumerate(leaves):
            if isinstance(x, Array):
                if device is None:
                    device = x._device
                elif x._device is not device and x._device != device:
                    if self._device is None and (x._device.committed or not device.committed):
                        raise ValueError(f"{self._name}: arguments on different devices ({device!r} and "
                                         f"{x._device!r}); move them with to_device() or pass jit(device=...)")
                    x = leaves[i] = x.to_device(device)
                descs.append(x._aval)
            elif isinstance(x, _SCALARS):
                descs.append(bool if isinstance(x, bool) else type(x))
            elif isinstance(x, (np.ndarray, np.generic)):
                from .ops.creation import asarray
                x = leaves[i] = asarray(x, device=device)
                device = x._device
                descs.append(x._aval)
            else:
                raise TypeError(f"{self._name}: arguments must be arrays, Python scalars or tuples/lists/dicts "
                                f"of them (or static), got {type(x).__name__}")
        if device is None:
            # No array argument: a ``device`` argument of the function chooses, else the default.
            chosen, pos = kwargs.get("device"), self._device_pos
            if chosen is None and pos is not None and pos < len(args):
                chosen = args[pos]
            device = chosen if isinstance(chosen, Device) else as_device(None)
        # Devices compare equal to their uncommitted twins: the key tells them apart, so that
        # the outputs are placed as this call's arguments are.
        return (tree, statics, device, None, *descs, device.committed), leaves

    def _sharded_signature(self, tree: Any, statics: tuple, leaves: list[Any], mesh: Mesh) -> tuple[tuple, list[Any]]:
        """The key of a call over ``mesh``: each array leaf's aval and sharding (None: replicated
        from one device, the mixing rule of sharded ops)."""
        from .ops.creation import asarray
        descs: list[Any] = []
        for i, x in enumerate(leaves):
            if isinstance(x, Array):
                descs.append((x._aval, x._sharding))
            elif isinstance(x, _SCALARS):
                descs.append(bool if isinstance(x, bool) else type(x))
            elif isinstance(x, (np.ndarray, np.generic)):
                x = leaves[i] = asarray(x, device=mesh.device_list[0])
                descs.append((x._aval, None))
            else:
                raise TypeError(f"{self._name}: arguments must be arrays, Python scalars or tuples/lists/dicts "
                                f"of them (or static), got {type(x).__name__}")
        return (tree, statics, mesh.device_list[0], mesh, *descs), leaves

    def _placed(self, args: tuple) -> tuple:
        """``args`` with the array leaves of each dynamic positional argument placed as
        ``in_shardings`` asks (a leaf already so placed is kept; Python scalars stay scalars)."""
        from .ops.creation import asarray
        dynamic = [i for i in range(len(args)) if i not in self._static_nums]
        spec = self._in_shardings
        if isinstance(spec, (tuple, list)) and len(spec) != len(dynamic):
            raise ValueError(f"{self._name}: in_shardings has {len(spec)} entries but the call has {len(dynamic)} "
                             "dynamic positional arguments (one entry each, or one sharding for all)")
        out = list(args)
        for n, i in enumerate(dynamic):
            entry = spec[n] if isinstance(spec, (tuple, list)) else spec
            leaves: list[Any] = []
            tree = _pytree.flatten(args[i], leaves)
            wanted = _pytree.broadcast_prefix(entry, args[i], "in_shardings")
            leaves = [x if s is None or isinstance(x, _SCALARS) else
                      x if isinstance(x, Array) and x._sharding == s else
                      x.to_device(s) if isinstance(x, Array) else asarray(x, device=s)
                      for x, s in zip(leaves, wanted)]
            out[i] = _pytree.unflatten(tree, leaves)
        return tuple(out)

    def _miss(self, key: tuple, args: tuple, kwargs: dict) -> _Program:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one trace and one compile per signature, however many threads miss together
            program = self._programs.get(key)
            if program is None:
                self._stats["misses"] += 1
                program = self._install(key, self._trace(args, kwargs))
            else:
                self._hits[0] += 1
        return program

    # -- tracing -----------------------------------------------------------------------------
    def _trace(self, args: tuple, kwargs: dict) -> dict[str, Any]:
        """Trace one signature into a module; returns what compiling and calling need."""
        key, leaves = self._signature(args, kwargs)
        device, mesh = key[2], key[3]
        builder = Builder()
        builder.fold_transposes = True  # jit's results need not match op-by-op runs bit for bit
        trace = Trace(builder, device, self._name)
        scalars: list[np.dtype | None] = []
        with trace.active():
            tracers = []
            for x in leaves:
                if isinstance(x, Array):
                    tracers.append(trace.parameter(x.shape, x.dtype))
                    scalars.append(None)
                else:
                    kind = bool if isinstance(x, bool) else type(x)
                    tracers.append(trace.parameter((), _WEAK_DTYPE[kind], weak=kind))
                    scalars.append(_WEAK_DTYPE[kind])
            dynamic_args, dynamic_kwargs = _pytree.unflatten(_pytree.flatten(
                (tuple(a for i, a in enumerate(args) if i not in self._static_nums),
                 {k: v for k, v in kwargs.items() if k not in self._static_names}), []), tracers)
            it = iter(dynamic_args)
            call_args = [a if i in self._static_nums else next(it) for i, a in enumerate(args)]
            call_kwargs = {k: (v if k in self._static_names else dynamic_kwargs[k]) for k, v in kwargs.items()}
            out = self._fun(*call_args, **call_kwargs)
            out_leaves: list[Any] = []
            out_tree = _pytree.flatten(out, out_leaves)
            try:
                values = [trace.value_of(trace.lift(x)) for x in out_leaves]
            except TypeError:
                bad = next(x for x in out_leaves if not isinstance(x, (Array, *_SCALARS)))
                raise TypeError(f"{self._name} must return arrays, Python scalars or tuples/lists/dicts of "
                                f"them, got {type(bad).__name__}") from None
        trace.alive = False
        # Over a mesh every result is the program's (placed as out_shardings asks) and nothing is donated.
        donate = self._donated_leaves(args, kwargs) if mesh is None else []
        param_index = {p.name: i for i, p in enumerate(trace.params)}
        results, passthrough = [], []
        for position, v in enumerate(values):
            i = None if mesh is not None else param_index.get(v.name)
            if i is not None and (i >= len(scalars) or scalars[i] is None) and i not in donate:
                passthrough.append((position, i))
            else:
                results.append(v)
        aliases: dict[int, int] = {}
        for i in donate:
            for j, r in enumerate(results):
                if j not in aliases.values() and (r.shape, r.dtype) == (trace.params[i].shape,
                                                                         trace.params[i].dtype):
                    aliases[i] = j
                    break
        self._stats["traces"] += 1
        text = main_module(builder, trace.params, results, aliases)
        sharded: dict[str, Any] = {"mesh": mesh}
        if mesh is not None:
            out_avals = [(r.shape, r.dtype) for r in results]
            sharded["out_shardings"] = [None] * len(results) if self._out_shardings is None else \
                _pytree.broadcast_prefix(self._out_shardings, out, "out_shardings")
            sharded["arg_hlo"] = [_spmd.sharding_attr(x._sharding if isinstance(x, Array) else None, p.ndim, mesh)
                                  for x, p in zip([*leaves, *trace.inputs], trace.params)]
            sharded["plain_text"] = text
            text = _spmd.annotate(text, out_avals, sharded["arg_hlo"], sharded["out_shardings"], mesh)
        return {**sharded, "text": text, "device": device, "index_reduction": builder.has_index_reduction,
                "narrow_dot": builder.has_narrow_dot,
                "avals": [(p.shape, p.dtype) for p in trace.params], "scalars": scalars,
                "inputs": trace.inputs, "out_avals": [(r.shape, r.dtype) for r in results],
                "out_tree": out_tree, "passthrough": passthrough, "donate": sorted(aliases), "key": key}

    def _donated_leaves(self, args: tuple, kwargs: dict) -> list[int]:
        """Indices (among the dynamic leaves) of the Array leaves of donated arguments."""
        if not self._donate:
            return []
        out, index = [], 0
        for i, a in enumerate(args):
            if i in self._static_nums:
                continue
            leaves: list[Any] = []
            _pytree.flatten(a, leaves)
            if i in self._donate:
                out += [index + k for k, x in enumerate(leaves) if isinstance(x, Array)]
            index += len(leaves)
        return out

    def _install(self, key: tuple, parts: dict[str, Any]) -> _Program:
        device, mesh = parts["device"], parts["mesh"]
        options = policy_for(device.client).program_options(device.id, index_reduction=parts["index_reduction"],
                                                             narrow_dot=parts["narrow_dot"])
        spmd = None
        if mesh is None:
            exe = _dispatch.compile_text(device.client, parts["text"], options)
        else:
            spmd = _spmd.compile_module(parts["plain_text"], parts["out_avals"], parts["arg_hlo"],
                                        parts["out_shardings"], mesh, options)
            exe = spmd.exe
        self._stats["compiles"] += 1
        program = _Program(exe, parts["device"], parts["scalars"], parts["inputs"], parts["out_avals"],
                           parts["out_tree"], parts["passthrough"], parts["donate"], self._name, parts["text"],
                           mesh, spmd)
        self._programs[key] = program
        return program

    # -- introspection -----------------------------------------------------------------------
    def lower(self, *args: Any, **kwargs: Any) -> Lowered:
        """Trace for the signature of these arguments (without compiling)."""
        parts = self._trace(args, kwargs)
        return Lowered(self, parts["key"], parts)

    def cache_info(self) -> dict[str, int]:
        """``traces`` (signatures traced), ``compiles`` (executables obtained), ``hits``/``misses``
        (calls served by a cached executable / that had to trace), ``entries`` (signatures cached)."""
        return {**self._stats, "hits": self._hits[0], "entries": len(self._programs)}

    def cache_clear(self) -> None:
        """Forget every compiled signature (the dispatcher's executable caches are kept)."""
        self._programs.clear()
        self._fast.clear()


def _execution_error(exc: PjrtError, device: Device) -> Exception:
    """What a failed execution raises: MemoryError-like details when the device ran out,
    numpy's LinAlgError when a LAPACK kernel failed (as eagerly), else the plugin's error."""
    if isinstance(exc, ResourceExhausted):
        return device.out_of_memory(exc)
    return linalg_error(exc) or exc


def _mesh_of_spec(spec: Any, argname: str) -> Mesh | None:
    """The mesh of the first NamedSharding in ``spec`` (a sharding, None, or tuples/lists/dicts of
    them); every sharding in it must be on the same devices.  TypeError for anything else."""
    found: list[NamedSharding] = []

    def walk(s: Any) -> None:
        if isinstance(s, NamedSharding):
            found.append(s)
        elif isinstance(s, dict):
            for v in s.values():
                walk(v)
        elif isinstance(s, (tuple, list)):
            for v in s:
                walk(v)
        elif s is not None:
            raise TypeError(f"{argname} must be a NamedSharding, None, or tuples/lists/dicts of them, "
                            f"got {type(s).__name__}")
    walk(spec)
    if not found:
        return None
    meshes = [s.mesh for s in found]
    if any(set(m.device_list) != set(meshes[0].device_list) for m in meshes):
        raise ValueError(f"{argname}: all shardings must be over the same devices")
    return meshes[0]


def _ints(values: Any, argname: str) -> tuple[int, ...]:
    values = (values,) if isinstance(values, int) else tuple(values)
    for v in values:
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise TypeError(f"{argname} must be non-negative ints, got {v!r}")
    return values


def _names(values: Any) -> tuple[str, ...]:
    values = (values,) if isinstance(values, str) else tuple(values)
    for v in values:
        if not isinstance(v, str):
            raise TypeError(f"static_argnames must be strings, got {v!r}")
    return values


def _hashable(v: Any) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True


_COMPUTED = (Buffer, HostValue)  # the buffers a cached call reads by their handle


def _own_buffer(a: Array) -> bool:
    """Whether ``a._buf`` is its computed, current buffer (not a view of another Array's, a
    value fusion has yet to compute, nor a donated one's marker; a host value uploads on its
    first read, ``_host_value``): the cached call reads it."""
    return a._base is None and type(a._buf) in _COMPUTED


def _entry(jitted: Jitted) -> Callable:
    """The function :func:`jit` returns (with ``lower``, ``cache_info`` and ``cache_clear``).

    Where ``jitted`` has no static or donated arguments and no shardings, a call with Arrays
    alone, by position, is keyed by their avals (one and two arguments are spelled out: this
    is the hot path), and the program of that key serves it when each is a plain Array (not a
    tracer) with its own computed buffer on the program's device; anything else takes
    ``jitted``'s general call.
    A closure rather than ``Jitted.__call__``: calling a function costs less than calling an
    instance.
    """
    fast, general, state, plain, hits = jitted._fast, jitted.__call__, _trace_state, jitted._plain, jitted._hits
    tracing = _tracing_count
    # The avals (by identity) and program of the latest one- and two-Array hit: a loop passes
    # the same aval objects call after call, and a tuple of avals costs ~0.2 us to hash (numpy
    # dtypes do not cache their hash).  One tuple each, replaced whole (atomic for threads).
    last1: list[tuple] = [(None, None)]
    last2: list[tuple] = [(None, None, None)]

    def call(*args: Any, **kwargs: Any) -> Any:
        if not kwargs and plain and (not tracing[0] or state.trace is None):
            n = len(args)
            handles = None  # set where the cached call serves; the Buffers stay held in locals
            if n == 2:
                a, b = args
                if type(a) is type(b) is Array:
                    ka, kb, program = last2[0]
                    if a._aval is not ka or b._aval is not kb:
                        program = fast.get((a._aval, b._aval))
                        if program is not None:
                            last2[0] = (a._aval, b._aval, program)
                    if program is not None and a._device is program.device is b._device and \
                            a._sharding is b._sharding is None and a._base is b._base is None:
                        ba, bb = a._buf, b._buf
                        if type(ba) in _COMPUTED and type(bb) in _COMPUTED:
                            handles = [ba._handle, bb._handle]
            elif n == 1:
                a = args[0]
                if type(a) is Array:
                    ka, program = last1[0]
                    if a._aval is not ka:
                        program = fast.get((a._aval,))
                        if program is not None:
                            last1[0] = (a._aval, program)
                    if program is not None and a._device is program.device and a._sharding is None and \
                            a._base is None:
                        ba = a._buf
                        if type(ba) in _COMPUTED:
                            handles = [ba._handle]
            elif all(type(a) is Array for a in args):
                program = fast.get(tuple(map(_aval_of, args)))
                if program is not None and all(a._device is program.device and a._sharding is None and
                                               _own_buffer(a) for a in args):
                    buffers = [a._buf for a in args]
                    handles = [b._handle for b in buffers]
            if handles is not None:
                hits[0] += 1
                launch = program.launch
                if launch is not None:
                    run, device_handle, out_avals, aval, device = launch
                    try:
                        out = run(handles, device_handle, out_avals)
                    except PjrtError as exc:
                        raise _execution_error(exc, device) from None
                    return _wrap(out[0], aval, device)
                return program.call_handles(handles, args)
        return general(*args, **kwargs)

    def cache_clear() -> None:
        jitted.cache_clear()
        last1[0], last2[0] = (None, None), (None, None, None)

    functools.update_wrapper(call, jitted._fun)
    call.lower, call.cache_info, call.cache_clear = jitted.lower, jitted.cache_info, cache_clear  # type: ignore[attr-defined]
    return call


def jit(fun: Callable | None = None, /, *, static_argnums: int | Sequence[int] = (),
        static_argnames: str | Sequence[str] = (), donate_argnums: int | Sequence[int] = (),
        device: Device | None = None, in_shardings: Any = None, out_shardings: Any = None) -> Any:
    """Compile ``fun`` into one program per signature; usable as ``@jit`` and ``@jit(...)``.

    ``static_argnums``/``static_argnames``: arguments that are Python values baked into the
    program (hashable; a new value traces again).  ``donate_argnums``: positional arguments
    whose Arrays give their buffers to the outputs (invalid afterwards).  ``device``: where
    the program runs (arguments elsewhere are copied there); by default the arguments'.
    ``in_shardings``: a NamedSharding for every array of the dynamic positional arguments,
    or one entry per such argument (a NamedSharding, None to keep the argument as it is, or
    a tuple/list/dict prefix of the argument); arguments are placed so before the call.
    ``out_shardings``: a NamedSharding for every result, or a prefix of the result's
    structure (None entries: as XLA chooses).  With sharded arguments or either of these the
    program is one SPMD program over the mesh (docs/sharding.md).
    """
    def wrap(f: Callable) -> Callable:
        if not callable(f):
            raise TypeError(f"jit needs a callable, got {type(f).__name__}")
        jitted = Jitted(f, static_argnums, static_argnames, donate_argnums, device, in_shardings, out_shardings)
        return _entry(jitted)
    return wrap if fun is None else wrap(fun)
