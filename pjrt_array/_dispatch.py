"""The hot path: cache key -> loaded executable -> execute -> Arrays.

``run(rule, params, args, device)`` looks the tuple key
``(rule, params, device, input avals...)`` up in a dict: a hit goes straight
to the executable's pre-built execute block and never builds text.  A miss
lowers the rule to a module and fingerprints it (sha256 of module text,
compile options and the plugin build, see ``_policy``); the executable then comes
from memory, else from the on-disk cache (``_disk_cache``), else from the
compiler -- except at the first sightings of a small exact op on a CPU device,
which run in numpy without a compile (``_host_tier``).  Compilation of one
fingerprint happens once even when several threads miss together.  Both in-memory caches are bounded, least recently
used first out (``set_cache_size``).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from . import _disk_cache, _donation, _host_tier, _inflight
from ._array import Array
from ._devices import Device
from ._digest import sha256
from ._host_value import HostValue
from ._pjrt import CompileOptions, LoadedExecutable, PjrtError, ResourceExhausted
from ._policy import CompilePolicy, policy_for
from ._trace_state import state as _trace_state, tracing as _tracing
from .ops._builder import Rule, build_module
from .ops._validate import check_program

if TYPE_CHECKING:
    from ._sharding import Placement

__all__ = ["run", "run_elementwise", "flat_aval", "cache_info", "cache_clear", "compile_rule", "compile_text",
           "set_cache_size"]

Aval = tuple[tuple[int, ...], np.dtype]


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    compiles: int = 0
    fingerprint_hits: int = 0
    disk_hits: int = 0
    compile_time: float = 0.0
    disk_load_time: float = 0.0


class _Entry:
    __slots__ = ("exe", "out_avals", "out_bytes", "aliased", "key", "_shaped")

    def __init__(self, exe: LoadedExecutable, out_avals: list[Aval], aliased: tuple[int, ...] = (),
                 reused_bytes: int = 0) -> None:
        self.exe = exe
        self.out_avals = out_avals
        # New memory the outputs take: an output aliasing a donated argument takes none (``run``
        # adds what that argument still counted in flight).
        self.out_bytes = sum(math.prod(shape) * dtype.itemsize for shape, dtype in out_avals) - reused_bytes
        self.aliased = aliased  # arguments whose buffers the program takes (donation)
        self.key: tuple = ()    # its key in the cache (``run`` sets it; fusion's tracks compare it)
        self._shaped: dict[tuple[int, ...], list[Aval]] = {}

    def shaped(self, shape: tuple[int, ...]) -> list[Aval]:
        """The output avals with ``shape`` (a flat element-count program run on that shape), made
        once per shape."""
        found = self._shaped.get(shape)
        if found is None:
            if len(self._shaped) >= 64:
                self._shaped.clear()
            found = self._shaped[shape] = [(shape, d) for _, d in self.out_avals]
        return found


_entries: "OrderedDict[tuple, _Entry]" = OrderedDict()
# Executables belong to the client that loaded them: two clients of one plugin
# share fingerprints (and the disk cache) but never each other's executables.
_by_fingerprint: "OrderedDict[tuple[Any, str], LoadedExecutable]" = OrderedDict()
_compile_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()
_stats = CacheStats()
_max_entries = int(os.environ.get("PJRT_ARRAY_CACHE_ENTRIES", 4096))
_disk = _disk_cache.default_cache()


def set_cache_size(max_entries: int) -> None:
    """Bound the in-memory executable caches (least recently used entries go first)."""
    global _max_entries
    if max_entries < 1:
        raise ValueError(f"max_entries must be positive, got {max_entries}")
    _max_entries = int(max_entries)
    _trim()


def cache_size() -> int:
    """The bound of the in-memory executable caches (``set_cache_size``)."""
    return _max_entries


def _trim() -> None:
    with _locks_guard:
        while len(_entries) > _max_entries:
            _entries.popitem(last=False)
        while len(_by_fingerprint) > _max_entries:
            _by_fingerprint.popitem(last=False)


def _load_or_compile(client: Any, policy: CompilePolicy, text: str, options: CompileOptions,
                     fingerprint: str) -> LoadedExecutable:
    """The executable from the disk cache, else freshly compiled (and stored there)."""
    folder = None
    if _disk is not None:
        folder = _disk.folder(policy.label, policy.build_key)
        payload = _disk.get(folder, fingerprint)
        if payload is not None:
            start = time.perf_counter()
            try:
                exe = client.deserialize_executable(payload)
            except PjrtError:
                exe = None  # written by an incompatible build after all: recompile and replace
            if exe is not None:
                _stats.disk_load_time += time.perf_counter() - start
                _stats.disk_hits += 1
                return exe
    start = time.perf_counter()
    exe = policy.compile(client, text, options)
    _stats.compile_time += time.perf_counter() - start
    _stats.compiles += 1
    if _disk is not None and folder is not None:
        _disk.put_soon(folder, fingerprint, lambda: _serialized(exe))
    return exe


def _serialized(exe: LoadedExecutable) -> bytes | None:
    try:
        return exe.executable.serialize()
    except PjrtError:
        return None  # a plugin without serialization still runs, uncached


def compile_rule(rule: Rule, params: tuple, avals: Sequence[Aval], device: "Device",
                 donate: tuple[int, ...] = ()) -> _Entry:
    """Lower, fingerprint and compile (or find) the program of one op (``donate``: see ``run``)."""
    text, out_avals = checked_module(rule, params, avals, device)
    aliased: tuple[int, ...] = ()
    if donate:
        text, aliased = _donation.aliased_module(text, avals, out_avals, donate)
    reused = sum(math.prod(avals[i][0]) * avals[i][1].itemsize for i in aliased)
    return _Entry(compile_text(device.client, text, _options(device, avals)), out_avals, aliased, reused)


def checked_module(rule: Rule, params: tuple, avals: Sequence[Aval], device: "Device") -> tuple[str, list[Aval]]:
    """The module of one op and its output avals, refused (``check_program``) when a value in it
    does not fit int64 or the results do not fit the device: every op is checked before it runs,
    compiled or on the host (``_host_tier``)."""
    text, out_avals = build_module(rule, dict(params), avals)
    check_program(text, avals, out_avals, device, getattr(rule, "__name__", "op").strip("_").removesuffix("_rule"))
    return text, out_avals


def _options(device: Device, avals: Sequence[Aval]) -> CompileOptions:
    """The compile options of a one-device program on ``device`` (its plugin's policy decides)."""
    return policy_for(device.client).options(device.id, avals)


def compile_text(client: Any, text: str, options: CompileOptions) -> LoadedExecutable:
    """The executable of a module: from memory by fingerprint, else the disk cache, else compiled."""
    policy = policy_for(client)
    digest = sha256()
    digest.update(text.encode())
    digest.update(options.to_bytes())
    digest.update(policy.build_key.encode())
    fingerprint = digest.hexdigest()
    memo = (client, fingerprint)
    exe = _by_fingerprint.get(memo)
    if exe is None:
        with _locks_guard:
            lock = _compile_locks.setdefault(fingerprint, threading.Lock())
        with lock:
            exe = _by_fingerprint.get(memo)
            if exe is None:
                exe = _load_or_compile(client, policy, text, options, fingerprint)
                _by_fingerprint[memo] = exe
            else:
                _stats.fingerprint_hits += 1
        with _locks_guard:
            _compile_locks.pop(fingerprint, None)
    else:
        _stats.fingerprint_hits += 1
        try:
            _by_fingerprint.move_to_end(memo)
        except KeyError:  # evicted by another thread meanwhile
            pass
    return exe


def run(rule: Rule, params: tuple, args: Sequence[Array], device: "Placement",
        donate: tuple[int, ...] = (), avals: tuple[Aval, ...] | None = None,
        out_shape: tuple[int, ...] | None = None) -> list[Array]:
    """Execute ``rule`` on ``args`` (all on ``device``); returns the output Arrays.

    ``params`` is a hashable tuple of ``(name, value)`` pairs passed to the rule.
    ``donate``: indices of arguments whose buffers the program may take for an
    output of the same shape and dtype (the caller has checked that nothing
    else holds them, ``_donation``); a taken argument can no longer be read.
    ``avals`` (default: the arguments') are the parameter types the program is
    compiled for, and ``out_shape`` replaces its results' shape (see
    :func:`run_elementwise`).
    While a trace is active on this thread the op is recorded into it instead
    (``_tracing.Trace.emit``: the same rule, written into the traced program).
    A sharded argument, or a ``NamedSharding`` as ``device``, makes it an SPMD
    program over the mesh (``_spmd.run_sharded``).  With automatic fusion on,
    the thread's recorder may defer the op into a graph (``_fusion``).
    """
    if _tracing[0]:
        trace = _trace_state.trace
        if trace is not None:
            return trace.emit(rule, params, args, device)
    # The key holds the device's token, not the Device (whose hash is a Python call).
    n = len(args)
    if type(device) is not Device:
        return _run_sharded(rule, params, args, device)
    if avals is not None:  # run_elementwise's flat types (it passes no sharded operand)
        key: tuple = (rule, params, device.token, *avals)
    elif n == 2:
        a0, a1 = args
        if a0._sharding is not None or a1._sharding is not None:
            return _run_sharded(rule, params, args, device)
        key = (rule, params, device.token, a0._aval, a1._aval)
        # Operands whose values are on the host (an iteration's elements, scalars): computed there
        # (``_host_tier.on_host_values``, ``HostValue.lasting``); a device Array has no cached host
        # value unless read.
        if a0._host is not None and a1._host is not None and not donate and _host_tier._enabled and (
                (type(b0 := a0._buf) is HostValue and b0.lasting) or (type(b1 := a1._buf) is HostValue and b1.lasting)):
            host = _host_tier.on_host_values(key, rule, params, args, device)
            if host is not None:
                return host
    elif n == 1:
        a0 = args[0]
        if a0._sharding is not None:
            return _run_sharded(rule, params, args, device)
        key = (rule, params, device.token, a0._aval)
        if type(b0 := a0._buf) is HostValue and b0.lasting and not donate and _host_tier._enabled:
            host = _host_tier.on_host_values(key, rule, params, args, device)
            if host is not None:
                return host
    else:
        parts = [rule, params, device.token]
        for a in args:
            if a._sharding is not None:
                return _run_sharded(rule, params, args, device)
            parts.append(a._aval)
        key = tuple(parts)
    recorder = _trace_state.fusion
    if donate:
        if recorder is not None and recorder.deferring():
            donate = ()  # a deferred op is part of a graph: no buffer is handed over
        else:
            key += (donate,)
    elif recorder is not None and recorder.track is not None:
        # A deferred segment repeating a graph it recorded before: its next op, when it is this
        # one, is recorded from that graph without the look-up below (``_fusion``)
        deferred = recorder.follow(key, args, device, out_shape)
        if deferred is not None:
            return deferred
    entry = _entries.get(key)
    if entry is None:
        # A small exact op seen for the first time: numpy, no compile (a donating call, a write or
        # an elided temporary, writes into the donated memory there).
        if _host_tier._enabled:
            host = _host_tier.first_sight(key, rule, params, args, device, avals, out_shape, donate)
            if host is not None:
                return host
        _stats.misses += 1
        compiled = avals if avals is not None else [a._aval for a in args]
        entry = _entries[key] = compile_rule(rule, params, compiled, device, donate)
        entry.key = key
        if len(_entries) > _max_entries:
            _trim()
    else:
        _stats.hits += 1
        try:
            _entries.move_to_end(key)
        except KeyError:  # evicted by another thread meanwhile; the entry we hold still works
            pass
    out_avals = entry.out_avals if out_shape is None else entry.shaped(out_shape)
    if recorder is not None:  # automatic fusion (_fusion): the op may be deferred into a graph
        deferred = recorder.op(entry, rule, params, args, device, out_avals)
        if deferred is not None:
            return deferred
        if entry.aliased:
            from ._fusion import settle
            settle(args)  # a donated argument must be a computed Buffer (see _donation.consumed)
    # The Buffers (not only their handles) are held until execute returns: another
    # thread may drop an argument's Array meanwhile.
    if n == 2:
        b0, b1 = bufs = [args[0]._buffer, args[1]._buffer]
        handles = [b0._handle, b1._handle]
    elif n == 1:
        bufs = [args[0]._buffer]
        handles = [bufs[0]._handle]
    else:
        bufs = [a._buffer for a in args]
        handles = [b._handle for b in bufs]
    try:
        out = entry.exe.run(handles, device.handle, out_avals)
    except ResourceExhausted as exc:
        raise device.out_of_memory(exc) from None
    moved = _donation.consumed(args, bufs, entry.aliased) if entry.aliased else 0
    wrap = Array._from_buffer
    if len(out) == 1:
        first = out[0]
        _inflight.note(device, first, entry.out_bytes + moved)
        return [wrap(first, out_avals[0], device)]
    if out:
        _inflight.note(device, out[0], entry.out_bytes + moved)
    return [wrap(b, aval, device) for b, aval in zip(out, out_avals)]


def _run_sharded(rule: Rule, params: tuple, args: Sequence[Array], device: "Placement") -> list[Array]:
    """An SPMD program over the mesh of ``device`` or of the sharded arguments (``_spmd``)."""
    from ._fusion import settle
    from ._spmd import run_sharded
    settle(args, host_values=True)  # the SPMD path takes Buffer objects: deferred values are computed first
    return run_sharded(rule, params, args, device)


# Platforms whose plugins run a program on any buffer of the parameter's byte size
# (checked on both XLA CPU plugins), so a shape-agnostic program may be compiled
# for the flat element count and run on buffers of any shape with that count.
_FLAT_PLATFORMS = frozenset({"cpu"})
_flat_avals: dict[Aval, Aval] = {}


def flat_aval(x: Array) -> Aval | None:
    """``x``'s aval with its shape flattened to the element count, where a program may run on
    ``x``'s buffer as if it were flat (an unsharded array of 2 or more dimensions on a device
    of ``_FLAT_PLATFORMS``); None elsewhere."""
    aval = x._aval
    if len(aval[0]) < 2 or x._sharding is not None or x._device.platform not in _FLAT_PLATFORMS:
        return None
    flat = _flat_avals.get(aval)
    if flat is None:
        if len(_flat_avals) >= _max_entries:
            _flat_avals.clear()
        flat = _flat_avals[aval] = ((math.prod(aval[0]),), aval[1])
    return flat


def run_elementwise(rule: Rule, params: tuple, args: Sequence[Array], device: "Placement",
                    donate: tuple[int, ...] = ()) -> Array:
    """``run`` for an element-wise rule (one result, computed element by element).

    Where the operands share one shape (0-d operands broadcast), the program is
    compiled for the flat element count: every shape of that count reuses it,
    so a never-seen shape usually costs no compile.  ``donate``: see ``run``.
    """
    shape: tuple[int, ...] = ()
    for a in args:
        s = a._aval[0]
        if s and s != shape:
            if shape:
                return run(rule, params, args, device, donate)[0]
            shape = s
    if len(shape) < 2:  # 0-d and 1-d operands: their own types are already the flat ones
        return run(rule, params, args, device, donate)[0]
    avals = []
    for a in args:
        flat = flat_aval(a) if a._aval[0] else (a._aval if a._sharding is None else None)
        if flat is None or type(device) is not Device:
            return run(rule, params, args, device, donate)[0]
        avals.append(flat)
    return run(rule, params, args, device, donate, avals=tuple(avals), out_shape=shape)[0]


def cache_info() -> dict[str, Any]:
    """Statistics of the executable caches.

    ``hits``/``misses``: lookups of the per-call key in memory (an op that fusion records along
    a graph it repeats is checked against that graph instead, and counts as neither); on a miss the
    executable came from memory by fingerprint (``fingerprint_hits``), from
    the disk cache (``disk_hits``) or from the compiler (``compiles``).
    Times are in seconds.  ``host_runs``: first sightings of a key run on the host
    instead of compiled (``_host_tier``); ``host_declined``: first sightings that
    compiled because that case is not exact on the host.  ``fused_*``: automatic fusion (docs/fusion.md):
    graphs sent to the compiler (``fused_graphs``), fused executables obtained
    (``fused_compiles``), segments run by a fused program (``fused_hits``) or
    op by op (``fused_replays``), graphs the compiler refused
    (``fused_failures``) and ops that were deferred (``fused_deferred_ops``).
    """
    from . import _fusion
    return {
        "hits": _stats.hits, "misses": _stats.misses, "fingerprint_hits": _stats.fingerprint_hits,
        "disk_hits": _stats.disk_hits, "compiles": _stats.compiles, "compile_time": _stats.compile_time,
        "disk_load_time": _stats.disk_load_time, "entries": len(_entries), "executables": len(_by_fingerprint),
        "max_entries": _max_entries,
        "disk_dir": None if _disk is None or _disk.refused else str(_disk.root),  # None: no disk cache in use
        **_host_tier.info(), **_fusion.info(),
    }


def cache_clear(*, disk: bool = False) -> None:
    """Drop the in-memory executables (and the on-disk ones with ``disk=True``); reset statistics."""
    global _stats
    from . import _fusion
    _entries.clear()
    _by_fingerprint.clear()
    _stats = CacheStats()
    _host_tier.clear()
    _fusion.clear()
    from ._spmd import clear
    clear()
    if disk and _disk is not None:
        _disk.flush()  # a queued write would otherwise land after the clear
        _disk.clear()
