"""Meshes, named shardings and the per-device pieces of a sharded Array.

A :class:`Mesh` arranges devices in an n-dimensional grid with named axes; a
:class:`NamedSharding` maps each array dimension to mesh axes (or to None:
not split).  A dimension split over axes of total size ``t`` is cut into
``t`` equal blocks; mesh axes that no dimension uses hold replicas.  A
sharded Array keeps one buffer per mesh device (:class:`ShardedBuffers`);
programs over sharded Arrays are compiled and run by :mod:`._spmd`.

Placement from the host slices the numpy value and uploads each block to its
device.  ``to_device`` between two shardings of the same devices is a
program (XLA moves the data with collectives); anything else goes through
the host.
"""

from __future__ import annotations

import itertools
import math
import operator
from dataclasses import dataclass
from typing import Any, Sequence, Union

import numpy as np

from ._array import Array
from ._devices import Device, all_devices, as_device

__all__ = ["Mesh", "NamedSharding", "Shard", "make_mesh", "to_device", "place", "addressable_shards"]

class Mesh:
    """Devices in a grid with named axes, e.g. ``Mesh([[d0, d1], [d2, d3]], ("x", "y"))``.

    ``devices``: a nested sequence (or numpy object array) of distinct
    :class:`Device` objects of one client; its number of dimensions must equal
    ``len(axis_names)``.
    """

    __slots__ = ("devices", "axis_names", "device_list", "_positions", "_hash")

    def __init__(self, devices: Any, axis_names: Sequence[str]) -> None:
        if isinstance(axis_names, str) or not isinstance(axis_names, Sequence):
            raise TypeError(f"axis_names must be a sequence of strings, got {axis_names!r}")
        names = tuple(axis_names)
        if not all(isinstance(n, str) and n for n in names):
            raise TypeError(f"axis_names must be non-empty strings, got {names!r}")
        if len(set(names)) != len(names):
            raise ValueError(f"axis_names must be distinct, got {names!r}")
        grid = np.array(devices, dtype=object)  # a copy: the mesh never changes under us
        if grid.ndim != len(names):
            raise ValueError(f"devices form a {grid.ndim}-D grid {grid.shape} but {len(names)} axis names "
                             f"were given: {names!r}")
        if grid.size == 0:
            raise ValueError("a mesh needs at least one device")
        flat = tuple(grid.flat)
        for d in flat:
            if not isinstance(d, Device):
                raise TypeError(f"devices must be pjrt_array Devices, got {type(d).__name__}")
            as_device(d, "devices")  # refuses a device of a closed client
        if len(set(flat)) != len(flat):
            raise ValueError("devices of a mesh must be distinct")
        if any(d.client is not flat[0].client for d in flat):
            raise ValueError("devices of a mesh must belong to one client")
        grid.flags.writeable = False
        self.devices = grid
        self.axis_names = names
        self.device_list = flat
        self._positions = {d: i for i, d in enumerate(flat)}
        self._hash = hash((names, grid.shape, flat))

    @property
    def shape(self) -> dict[str, int]:
        """Axis name -> size, in axis order."""
        return dict(zip(self.axis_names, self.devices.shape))

    @property
    def size(self) -> int:
        """The number of devices."""
        return len(self.device_list)

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, Mesh) and other.axis_names == self.axis_names
                                 and other.devices.shape == self.devices.shape
                                 and other.device_list == self.device_list)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        ids = np.vectorize(lambda d: d.id, otypes=[int])(self.devices).tolist()
        return f"Mesh(shape={self.shape}, device_ids={ids})"


def make_mesh(shape: Sequence[int], axis_names: Sequence[str], devices: Sequence[Device] | None = None) -> Mesh:
    """A mesh of ``shape`` over ``devices`` (default: the first ``prod(shape)`` devices of the
    default plugin, in order)."""
    if isinstance(shape, int) or not isinstance(shape, Sequence):
        raise TypeError(f"shape must be a sequence of ints, got {shape!r}")
    dims = tuple(operator.index(s) for s in shape)
    if any(s < 1 for s in dims):
        raise ValueError(f"shape must have positive sizes, got {dims}")
    if isinstance(axis_names, str) or len(axis_names) != len(dims):
        raise ValueError(f"axis_names must name each of the {len(dims)} axes of shape {dims}, got {axis_names!r}")
    n = math.prod(dims)
    if devices is None:
        available = all_devices()
        if len(available) < n:
            raise ValueError(f"a mesh of shape {dims} needs {n} devices; the default plugin has {len(available)}")
        chosen: list[Any] = available[:n]
    else:
        chosen = list(devices)
        if len(chosen) != n:
            raise ValueError(f"a mesh of shape {dims} needs {n} devices, got {len(chosen)}")
    grid = np.empty(n, dtype=object)
    grid[:] = chosen
    return Mesh(grid.reshape(dims), axis_names)


def _normalize_entry(entry: Any, mesh: Mesh, dim: int) -> Any:
    if entry is None or isinstance(entry, str):
        axes: tuple = () if entry is None else (entry,)
    elif isinstance(entry, (tuple, list)) and all(isinstance(a, str) for a in entry):
        axes = tuple(entry)
    else:
        raise TypeError(f"spec[{dim}] must be a mesh axis name, a tuple of names or None, got {entry!r}")
    for a in axes:
        if a not in mesh.axis_names:
            raise ValueError(f"spec[{dim}] names {a!r}, which is not an axis of the mesh {mesh.axis_names}")
    return None if not axes else axes[0] if len(axes) == 1 else axes


def _axes(entry: Any) -> tuple[str, ...]:
    return () if entry is None else (entry,) if isinstance(entry, str) else entry


class NamedSharding:
    """How an array is split over a mesh: ``spec[i]`` names the mesh axis (or a tuple of axes,
    or None) that array dimension ``i`` is split over; one entry per array dimension."""

    __slots__ = ("mesh", "spec", "_hash", "_tiles")

    def __init__(self, mesh: Mesh, spec: Sequence[Any]) -> None:
        if not isinstance(mesh, Mesh):
            raise TypeError(f"mesh must be a pjrt_array Mesh, got {type(mesh).__name__}")
        if isinstance(spec, str) or not isinstance(spec, Sequence):
            raise TypeError(f"spec must be a tuple with one mesh axis name (or None) per array dimension, "
                            f"got {spec!r}")
        entries = tuple(_normalize_entry(e, mesh, i) for i, e in enumerate(spec))
        used = [a for e in entries for a in _axes(e)]
        if len(set(used)) != len(used):
            raise ValueError(f"spec {entries!r} uses a mesh axis for more than one dimension")
        self.mesh = mesh
        self.spec = entries
        self._hash = hash((mesh, entries))
        self._tiles: np.ndarray | None = None

    # -- geometry ------------------------------------------------------------------------
    @property
    def tile_counts(self) -> tuple[int, ...]:
        """How many blocks each array dimension is cut into."""
        sizes = self.mesh.shape
        return tuple(math.prod(sizes[a] for a in _axes(e)) for e in self.spec)

    @property
    def is_fully_replicated(self) -> bool:
        """True when every device holds the whole array."""
        return all(e is None for e in self.spec)

    def tiles(self) -> np.ndarray:
        """Mesh positions (indices into ``mesh.device_list``) by tile: shape ``tile_counts + (replicas,)``."""
        if self._tiles is None:
            names = self.mesh.axis_names
            order = [names.index(a) for e in self.spec for a in _axes(e)]
            order += [i for i in range(len(names)) if i not in order]
            ids = np.arange(self.mesh.size).reshape(self.mesh.devices.shape).transpose(order)
            self._tiles = ids.reshape(self.tile_counts + (-1,))
        return self._tiles

    def check_shape(self, shape: Sequence[int], argname: str = "x") -> None:
        """ValueError unless an array of ``shape`` can be placed with this sharding (one spec entry
        per dimension, each split dimension divisible by its number of blocks)."""
        if len(shape) != len(self.spec):
            raise ValueError(f"{argname}: the spec {self.spec!r} has {len(self.spec)} entries but the array has "
                             f"{len(shape)} dimensions (shape {tuple(shape)}); give one entry per dimension")
        for i, (size, count) in enumerate(zip(shape, self.tile_counts)):
            if size % count:
                raise ValueError(f"{argname}: dimension {i} of size {size} cannot be split evenly into {count} "
                                 f"blocks (spec entry {self.spec[i]!r})")

    def shard_shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        """The shape of each device's block (XLA pads a dimension that does not divide)."""
        return tuple(-(-size // count) for size, count in zip(shape, self.tile_counts))

    def indices(self, shape: Sequence[int]) -> list[tuple[tuple[slice, ...], int]]:
        """``(index, replica_id)`` of each device's block, in ``mesh.device_list`` order."""
        block = self.shard_shape(shape)
        tiles = self.tiles()
        out: list[Any] = [None] * self.mesh.size
        for coords in itertools.product(*map(range, tiles.shape)):
            index = tuple(slice(min(c * b, n), min((c + 1) * b, n)) for c, b, n in zip(coords, block, shape))
            out[int(tiles[coords])] = (index, coords[-1])
        return out

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, NamedSharding) and other.spec == self.spec
                                 and other.mesh == self.mesh)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"NamedSharding(mesh={self.mesh!r}, spec={self.spec!r})"


#: Where an Array lives: one device, or split over a mesh.
Placement = Union[Device, NamedSharding]


@dataclass(frozen=True)
class Shard:
    """One device's piece of an array: ``data`` is ``x[index]``, held on ``device``."""

    device: Device
    index: tuple[slice, ...]
    replica_id: int
    data: Array


class ShardedBuffers:
    """The buffers of a sharded Array, one per mesh device (``mesh.device_list`` order).

    It stands where a single-device Array keeps its Buffer, and answers the
    calls Array makes on it (host reads and waiting).
    """

    __slots__ = ("sharding", "aval", "buffers")

    def __init__(self, sharding: NamedSharding, aval: tuple[tuple[int, ...], np.dtype], buffers: Sequence[Any]) -> None:
        self.sharding = sharding
        self.aval = aval
        self.buffers = tuple(buffers)

    @property
    def _handle(self) -> int:
        # Code that is not sharding-aware reaches for the one buffer of an Array: say why not.
        raise TypeError("this operation does not support sharded arrays (one buffer per device); "
                        "gather with x.to_device(device) first")

    handle = _handle

    def block_until_ready(self) -> "ShardedBuffers":
        for b in self.buffers:
            b.block_until_ready()
        return self

    def to_numpy(self) -> np.ndarray:
        """The whole array on the host, assembled from one replica of every block."""
        shape, dtype = self.aval
        out = np.empty(shape, dtype)
        for buffer, device, (index, replica) in zip(self.buffers, self.sharding.mesh.device_list,
                                                     self.sharding.indices(shape)):
            if replica == 0:
                out[index] = _trimmed(_host_block(buffer, device), index)
        return out

    def numpy_view(self, *, known_on_host: bool = False, ready: bool = False) -> np.ndarray:
        """Same as :meth:`to_numpy`: the blocks are separate buffers, so a host read is a copy
        (``Buffer.numpy_view``'s arguments are accepted, and change nothing)."""
        return self.to_numpy()


def _host_block(buffer: Any, device: Device) -> np.ndarray:
    return buffer.numpy_view(known_on_host=True) if device.platform == "cpu" else buffer.to_numpy()


def _trimmed(block: np.ndarray, index: tuple[slice, ...]) -> np.ndarray:
    """A (padded) block cut to the extent of ``index``."""
    return block[tuple(slice(0, s.stop - s.start) for s in index)]


def shard_buffers(x: Array) -> tuple[Any, ...]:
    """The per-device buffers of a sharded Array (``mesh.device_list`` order)."""
    held = x._buffer
    if not isinstance(held, ShardedBuffers):
        raise TypeError("expected a sharded Array")
    return held.buffers


def wrap(buffers: Sequence[Any], aval: tuple[tuple[int, ...], np.dtype], sharding: NamedSharding) -> Array:
    """A sharded Array over ``buffers`` (``mesh.device_list`` order)."""
    out = Array._from_buffer(ShardedBuffers(sharding, aval, buffers), aval,  # type: ignore[arg-type]
                             sharding.mesh.device_list[0])
    out._sharding = sharding
    return out


def place(value: np.ndarray, sharding: NamedSharding, argname: str = "x") -> Array:
    """Upload the host array ``value``: each device receives its block."""
    sharding.check_shape(value.shape, argname)
    buffers = []
    for device, (index, _) in zip(sharding.mesh.device_list, sharding.indices(value.shape)):
        block = np.asarray(value[index])
        if not block.flags.c_contiguous:
            block = block.copy()
        buffers.append(device.client.buffer_from_numpy(block, device.pjrt))
    return wrap(buffers, (tuple(value.shape), value.dtype), sharding)


def to_device(x: Any, device: Any, /, *, stream: Any = None) -> Array:
    """``x`` on ``device``: a :class:`Device` (gathers a sharded array there) or a
    :class:`NamedSharding` (places or reshards)."""
    if not isinstance(x, Array):
        raise TypeError(f"x must be a pjrt_array Array, got {type(x).__name__}")
    return x.to_device(device, stream=stream)


def move(x: Array, device: Any) -> Array:
    """``Array.to_device`` where ``x`` is sharded or ``device`` is a NamedSharding."""
    if isinstance(device, NamedSharding):
        if x._sharding == device:
            return x
        device.check_shape(x.shape)
        if x._sharding is not None and x._sharding.mesh.device_list[0].client is device.mesh.device_list[0].client \
                and set(x._sharding.mesh.device_list) == set(device.mesh.device_list):
            from ._spmd import reshard
            return reshard(x, device)
        return place(x._numpy(), device)
    target = as_device(device)
    buffer = target.client.buffer_from_numpy(x._numpy(), target.pjrt)
    return Array._from_buffer(buffer, x._aval, target)


def addressable_shards(x: Array) -> list[Shard]:
    """Each device's piece of ``x`` (one for a single-device array)."""
    sharding = x._sharding
    if sharding is None:
        return [Shard(x._device, tuple(slice(0, n) for n in x.shape), 0, x)]
    shards = []
    buffers = shard_buffers(x)
    for buffer, device, (index, replica) in zip(buffers, sharding.mesh.device_list, sharding.indices(x.shape)):
        extent = tuple(s.stop - s.start for s in index)
        data = Array._from_buffer(buffer, (tuple(buffer.shape), x.dtype), device)
        if data.shape != extent:  # XLA padded an uneven block: cut the padding off
            data = data[tuple(slice(0, n) for n in extent)]
        shards.append(Shard(device, index, int(replica), data))
    return shards
