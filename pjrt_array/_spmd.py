"""Programs over sharded Arrays: one SPMD executable for every device of a mesh.

``run_sharded`` is where ``_dispatch.run`` sends an op with a sharded
argument (or a ``NamedSharding`` as its device).  The one-op module gets an
``mhlo.sharding`` attribute on each of ``@main``'s arguments (and on its
results when an output sharding is asked for), and is compiled with
``num_partitions`` = mesh size and ``use_spmd_partitioning``: XLA's
partitioner splits the computation and inserts the collectives.  Where no
output sharding is asked for, XLA chooses it; it is read back from the
optimized program (``HloModuleProto.spmd_output_sharding``) and expressed as
a ``NamedSharding`` on the arguments' mesh (or, when no spec of that mesh
describes it, on a mesh of the same devices shaped like XLA's tiles).

The rule for mixing: a single-device Array (and so any Python scalar or numpy
value) combined with sharded Arrays is replicated: copied to every device of
the mesh (copies of arrays of up to 1024 elements are kept for reuse).  Sharded Arrays combined in one op must live on the same set of
devices.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import weakref
from dataclasses import replace
from typing import Any, Sequence

import numpy as np

from ._array import Array
from ._devices import Device
from ._pjrt import LoadedExecutable, Unimplemented
from ._pjrt._signature import _field
from ._pjrt.compile_options import _fields, _read_varint
from ._sharding import Mesh, NamedSharding, shard_buffers, wrap
from .ops._builder import Rule, build_module

__all__ = ["run_sharded", "reshard", "annotate_main", "parse_op_sharding", "common_device", "clear", "compile_module",
           "mesh_of", "arguments", "execute", "annotate", "sharding_attr"]

Aval = tuple[tuple[int, ...], np.dtype]
_REPLICATED = "{replicated}"
_CACHED_REPLICA_ELEMENTS = 1024


class _Program:
    """A compiled SPMD program: executable, output avals and shardings, the partition that
    each position of the executable's device list runs, and for each output where in that
    list the buffer of each of its mesh's devices comes from."""

    __slots__ = ("exe", "out_avals", "out_shardings", "partitions", "out_positions")

    def __init__(self, exe: LoadedExecutable, out_avals: list[Aval], out_shardings: list[NamedSharding],
                 partitions: list[int], order: tuple[Device, ...]) -> None:
        self.exe = exe
        self.out_avals = out_avals
        self.out_shardings = out_shardings
        self.partitions = partitions
        where = {order[p]: j for j, p in enumerate(partitions)}
        self.out_positions = [[where[d] for d in s.mesh.device_list] for s in out_shardings]


_programs: dict[tuple, _Program] = {}
_replicas: "weakref.WeakKeyDictionary[Any, dict[Device, Any]]" = weakref.WeakKeyDictionary()


def clear() -> None:
    """Forget the compiled SPMD programs and replicated copies (``cache_clear``)."""
    _programs.clear()
    _replicas.clear()


def common_device(arrays: Sequence[Array]) -> Device:
    """The device ops on ``arrays`` (some sharded) are dispatched with: the first mesh's first
    device.  ValueError when sharded arrays live on different sets of devices."""
    meshes = [a._sharding.mesh for a in arrays if a._sharding is not None]
    _check_same_devices(meshes)
    return meshes[0].device_list[0]


def _check_same_devices(meshes: Sequence[Mesh]) -> None:
    first = set(meshes[0].device_list)
    for m in meshes[1:]:
        if m is not meshes[0] and set(m.device_list) != first:
            raise ValueError(f"sharded arrays live on different devices ({meshes[0]!r} and {m!r}); "
                             "reshard one with to_device(x, sharding) first")


def _replicated(x: Array, order: tuple[Device, ...]) -> list[Any]:
    """``x``'s buffer copied to every device of ``order``.  The copies of small arrays (cached
    scalars above all) are kept, keyed weakly by the buffer, so they are copied once; large
    ones are copied per op rather than held in memory several times over."""
    source = x._buffer
    if order[0].client is not x._device.client:
        raise ValueError(f"{x._device!r} belongs to another client than the mesh's devices")
    copies = _replicas.get(source)
    if copies is None:
        copies = {}
        if x.size <= _CACHED_REPLICA_ELEMENTS:
            _replicas[source] = copies
    for d in order:
        if d != x._device and d not in copies:
            copies[d] = source.copy_to_device(d.pjrt)
    return [source if d == x._device else copies[d] for d in order]


@functools.lru_cache(maxsize=1024)
def _hlo_sharding(sharding: NamedSharding, ndim: int, mesh: Mesh) -> str:
    """The HLO sharding text of ``sharding`` in a program whose partitions are ``mesh``'s devices."""
    if ndim == 0 or sharding.is_fully_replicated:
        return _REPLICATED
    tiles = sharding.tiles()
    devices = sharding.mesh.device_list
    ids = [mesh._positions[devices[int(m)]] for m in tiles.flat]
    replicas = tiles.shape[-1]
    dims = tiles.shape if replicas > 1 else tiles.shape[:-1]
    suffix = " last_tile_dim_replicate" if replicas > 1 else ""
    return "{devices=[" + ",".join(map(str, dims)) + "]" + ",".join(map(str, ids)) + suffix + "}"


_MAIN_RE = re.compile(r"^(\s*func\.func public @main)\((.*)\) -> \((.*)\) \{$", re.MULTILINE)


def annotate_main(text: str, arg_shardings: Sequence[str], result_shardings: Sequence[str | None] | None) -> str:
    """``text`` with ``mhlo.sharding`` attributes on ``@main``'s arguments (and results)."""
    m = _MAIN_RE.search(text)
    if m is None:
        raise ValueError("the module has no one-line @main signature to annotate")
    params = m.group(2).split(", ") if m.group(2) else []
    results = m.group(3).split(", ") if m.group(3) else []
    if len(params) != len(arg_shardings) or (result_shardings is not None and len(results) != len(result_shardings)):
        raise ValueError("one sharding per argument (and per result) is needed")
    params = [f'{p} {{mhlo.sharding = "{s}"}}' for p, s in zip(params, arg_shardings)]
    if result_shardings is not None:  # a None entry leaves that result's sharding to XLA
        results = [r if s is None else f'{r} {{mhlo.sharding = "{s}"}}' for r, s in zip(results, result_shardings)]
    header = f"{m.group(1)}({', '.join(params)}) -> ({', '.join(results)}) {{"
    return text[: m.start()] + header + text[m.end():]


# -- reading XLA's chosen shardings (xla.OpSharding, by field number) ---------------------------
_TYPE, _TILE_DIMS, _TILE_DEVICES, _TUPLE, _REPLICATE_LAST = 1, 3, 4, 5, 6
_LAST_TILE_DIMS, _IOTA_DIMS, _IOTA_PERM = 8, 9, 10
_REPLICATED_TYPE, _TUPLE_TYPE, _OTHER_TYPE = 0, 2, 3


def _ints(fields: list, number: int) -> list[int]:
    out: list[int] = []
    for n, wire, value in fields:
        if n != number:
            continue
        if wire == 0:
            out.append(value)
        else:
            pos = 0
            while pos < len(value):
                v, pos = _read_varint(value, pos)
                out.append(v)
    return out


def parse_op_sharding(data: bytes) -> np.ndarray | list | None:
    """An ``xla.OpSharding``: None for replicated, a list for a tuple, else the partition ids
    by tile, shape ``tile counts + (replicas,)``."""
    fields = list(_fields(data))
    kind = next((v for n, w, v in fields if n == _TYPE and w == 0), _REPLICATED_TYPE)
    if kind == _REPLICATED_TYPE:
        return None
    if kind == _TUPLE_TYPE:
        return [parse_op_sharding(bytes(v)) for n, w, v in fields if n == _TUPLE and w == 2]
    if kind != _OTHER_TYPE or any(t != _REPLICATED_TYPE for t in _ints(fields, _LAST_TILE_DIMS)):
        raise NotImplementedError(f"XLA chose a sharding of type {kind!r} for an output, which a "
                                  "NamedSharding cannot describe")
    dims = _ints(fields, _TILE_DIMS)
    iota = _ints(fields, _IOTA_DIMS)
    if iota:
        perm = _ints(fields, _IOTA_PERM) or list(range(len(iota)))
        ids = np.arange(math.prod(iota)).reshape(iota).transpose(perm).reshape(dims)
    else:
        ids = np.array(_ints(fields, _TILE_DEVICES)).reshape(dims)
    replicated_last = any(v for n, w, v in fields if n == _REPLICATE_LAST and w == 0) or _ints(fields, _LAST_TILE_DIMS)
    return ids if replicated_last else ids[..., np.newaxis]


def _output_tiles(exe: LoadedExecutable, count: int) -> list[np.ndarray | None]:
    """XLA's sharding of each output: partition ids by tile (None: replicated)."""
    executable = exe.executable
    try:
        hlo = executable.optimized_program()
    finally:
        executable.close()
    module = _field(hlo, 1)
    sharding = _field(module, 12) if module is not None else None
    parsed = parse_op_sharding(sharding) if sharding else None
    if isinstance(parsed, list):
        return parsed
    return [parsed] * count  # one sharding given for all outputs


def _specs(mesh: Mesh, ndim: int) -> Any:
    """Every spec of ``ndim`` entries over ``mesh`` (each axis on one dimension or none)."""
    names = mesh.axis_names
    for where in itertools.product(range(-1, ndim), repeat=len(names)):
        groups = [[a for a, w in zip(names, where) if w == d] for d in range(ndim)]
        for orders in itertools.product(*[list(itertools.permutations(g)) for g in groups]):
            yield tuple(None if not o else o[0] if len(o) == 1 else o for o in orders)


def _tile_key(tiles: np.ndarray, devices: Sequence[Device]) -> tuple:
    """Tiles as device ids, replica groups unordered: two shardings are the same iff equal."""
    flat = tiles.reshape(-1, tiles.shape[-1])
    return tiles.shape[:-1], tuple(tuple(sorted(devices[int(p)].id for p in row)) for row in flat)


def _as_named(tiles: np.ndarray | None, ndim: int, mesh: Mesh, order: tuple[Device, ...]) -> NamedSharding:
    """A NamedSharding for XLA's tiles (partition ids): on ``mesh`` where a spec fits, else on a
    mesh of the same devices shaped like the tiles."""
    if tiles is None or ndim == 0:
        return NamedSharding(mesh, (None,) * ndim)
    target = _tile_key(tiles, order)
    for spec in _specs(mesh, ndim):
        candidate = NamedSharding(mesh, spec)
        if candidate.tile_counts == target[0] and _tile_key(candidate.tiles(), mesh.device_list) == target:
            return candidate
    grid = np.empty(tiles.shape, dtype=object)
    for index, p in np.ndenumerate(tiles):
        grid[index] = order[int(p)]
    names = tuple(f"tile{i}" for i in range(ndim)) + ("replica",)
    return NamedSharding(Mesh(grid, names), names[:-1])


# -- compiling and running ------------------------------------------------------------------
def _compile(rule: Rule, params: tuple, avals: list[Aval], arg_hlo: list[str], out: list[NamedSharding] | None,
             mesh: Mesh) -> _Program:
    from ._dispatch import _options
    text, out_avals = build_module(rule, dict(params), avals)
    return compile_module(text, out_avals, arg_hlo, out, mesh, _options(mesh.device_list[0], avals))


def compile_module(text: str, out_avals: list[Aval], arg_hlo: list[str],
                   out: "Sequence[NamedSharding | None] | None", mesh: Mesh, options: Any) -> _Program:
    """Compile the one-device module ``text`` as an SPMD program over ``mesh``: ``arg_hlo`` are
    its arguments' HLO shardings, ``out`` the results' (one for all, one per result, None
    entries or None for all: as XLA chooses), ``options`` the one-device compile options."""
    from ._dispatch import compile_text
    order = mesh.device_list
    requested: list[NamedSharding | None] = [None] * len(out_avals) if out is None else \
        list(out) * len(out_avals) if len(out) == 1 else list(out)
    for (shape, _), r in zip(out_avals, requested):
        if r is not None:
            r.check_shape(shape, "result")
    annotated = annotate(text, out_avals, arg_hlo, requested, mesh)
    options = replace(options, num_partitions=len(order), use_spmd_partitioning=True,
                      device_assignment=(tuple(d.id for d in order),), compile_portable_executable=False,
                      allow_spmd_sharding_propagation_to_output=tuple(r is None for r in requested))
    exe = compile_text(order[0].client, annotated, options)
    if any(r is None for r in requested):
        try:
            tiles = _output_tiles(exe, len(out_avals))
        except NotImplementedError:
            # XLA chose an output sharding no NamedSharding describes (e.g. a manual one):
            # ask for replicated outputs instead (XLA gathers them in the program).
            replicated = [r or NamedSharding(mesh, (None,) * len(shape)) for (shape, _), r in zip(out_avals, requested)]
            return compile_module(text, out_avals, arg_hlo, replicated, mesh, options)
        requested = [r or _as_named(t, len(shape), mesh, order)
                     for r, t, (shape, _) in zip(requested, tiles, out_avals)]
    try:
        partitions = [p for _, p in exe.addressable_device_logical_ids()]
    except Unimplemented:  # (PJRT API < 0.96) one replica over ``order``: partition i runs on order[i]
        partitions = list(range(len(order)))
    return _Program(exe, out_avals, requested, partitions, order)  # type: ignore[arg-type]


def annotate(text: str, out_avals: Sequence[Aval], arg_hlo: Sequence[str],
             out: Sequence["NamedSharding | None"], mesh: Mesh) -> str:
    """``text`` with the HLO shardings of its arguments and of the results ``out`` asks for."""
    out_hlo = None if all(r is None for r in out) else \
        [None if r is None else _hlo_sharding(r, len(shape), mesh) for (shape, _), r in zip(out_avals, out)]
    return annotate_main(text, arg_hlo, out_hlo)


def sharding_attr(sharding: NamedSharding | None, ndim: int, mesh: Mesh) -> str:
    """The HLO sharding of an argument in a program over ``mesh`` (None: a replicated one)."""
    return _REPLICATED if sharding is None else _hlo_sharding(sharding, ndim, mesh)


def mesh_of(args: Sequence[Array], extra: Sequence[Mesh] = ()) -> Mesh | None:
    """The mesh a program over ``args`` runs on: the sharded arguments' (which must share their
    devices), else the first of ``extra``; None when there is none."""
    meshes = [a._sharding.mesh for a in args if a._sharding is not None] + list(extra)
    if not meshes:
        return None
    _check_same_devices(meshes)
    return meshes[0]


def arguments(args: Sequence[Array], mesh: Mesh) -> list[Sequence[Any]]:
    """Each argument's buffers in ``mesh.device_list`` order (single-device ones replicated: the
    mixing rule)."""
    order = mesh.device_list
    per_arg: list[Sequence[Any]] = []
    for a in args:
        s = a._sharding
        if s is None:
            per_arg.append(_replicated(a, order))
        else:
            buffers: Sequence[Any] = shard_buffers(a)
            if s.mesh.device_list != order:  # another mesh of the same devices
                by_device = dict(zip(s.mesh.device_list, buffers))
                buffers = [by_device[d] for d in order]
            per_arg.append(buffers)
    return per_arg


def execute(program: _Program, per_arg: Sequence[Sequence[Any]]) -> list[Array]:
    """Run ``program`` on its mesh with each argument's buffers (mesh order); the sharded results."""
    lists = [[buffers[p] for buffers in per_arg] for p in program.partitions]
    outs = program.exe.execute_sharded(lists)
    return [wrap([outs[j][k] for j in positions], aval, sharding) for k, (aval, sharding, positions)
            in enumerate(zip(program.out_avals, program.out_shardings, program.out_positions))]


def run_sharded(rule: Rule, params: tuple, args: Sequence[Array], device: Any) -> list[Array]:
    """Run ``rule`` as an SPMD program over the mesh of the sharded arguments (or of ``device``,
    a NamedSharding the outputs are placed with)."""
    requested = [device] if isinstance(device, NamedSharding) else None
    mesh = mesh_of(args, [device.mesh] if requested else [])
    if mesh is None:
        raise TypeError(f"device must be a pjrt_array Device or a NamedSharding, got {type(device).__name__}")
    per_arg = arguments(args, mesh)
    arg_hlo = [sharding_attr(a._sharding, a.ndim, mesh) for a in args]
    avals = [a._aval for a in args]
    key = (rule, params, mesh, *avals, *arg_hlo, device if requested else None)
    program = _programs.get(key)
    if program is None:
        from ._dispatch import cache_info
        if len(_programs) >= cache_info()["max_entries"]:
            del _programs[next(iter(_programs))]  # the oldest first
        program = _programs[key] = _compile(rule, params, avals, arg_hlo, requested, mesh)
    return execute(program, per_arg)


def _identity(b: Any, x: Any) -> Any:
    return x


def reshard(x: Array, sharding: NamedSharding) -> Array:
    """``x`` (sharded) with ``sharding`` over the same devices: a program moves the blocks."""
    return run_sharded(_identity, (), (x,), sharding)[0]
