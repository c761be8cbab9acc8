"""Automatic fusion of eager code: op sequences that repeat run as one compiled program.

Each thread cuts its stream of ops into *segments*: a segment ends at a host
read (``Array._numpy``, ``block_until_ready``), when the ops move to another
device, and at a size bound (after ``_BOUND`` ops, at the next op that starts
the way the segment started, so that loop iterations line up; at ``2 * _BOUND``
ops regardless).  A segment's *signature* is the sequence of the dispatcher's
cache entries of its ops (one per rule, parameters and input avals), so
recording costs one list append per op.

* A segment whose first op starts no known hot signature runs eagerly, exactly
  as without fusion (run-once code pays the append and nothing else).
* Once a signature has been seen twice and often enough for a fused program
  to pay back (sightings times the dispatches and memory passes it saves reach
  ``_SAVED``), a segment
  starting with its first op is *deferred*: each op returns Arrays whose buffer is a :class:`_Pending`
  stand-in, and the op is recorded as a node (rule, parameters, which inputs
  are outside buffers and which are earlier nodes' outputs).
* When a deferred segment ends -- or anything touches a pending buffer -- it
  is flushed.  Only outputs still referenced are computed.  A graph
  (signature, wiring, live outputs) whose signature has recurred is compiled
  once as one ``@main`` -- the same lowering rules written into one builder,
  through the dispatcher's compile path -- on a background thread; until that
  executable is ready the graph replays op by op with the per-op executables.

Python scalars reach ops as cached 0-d Arrays, so they are parameters of the
fused program: a changing float never recompiles.  Shape and dtype errors
still come from the call (the front end and the per-op entry run at record
time); execution errors surface when the segment flushes, at the host read.
"""

from __future__ import annotations

import os
import sys
import threading
from itertools import compress as _compress
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Sequence

import numpy as np

from . import _dispatch
from ._array import Array, new_array as _new_array
from ._host_value import HostValue, materialize
from ._pjrt import Buffer, ResourceExhausted
from ._policy import policy_for
from ._program import block_argument, main_module
from ._trace_state import _State, state
from ._views import BUSY as _BUSY
from .ops._builder import Builder

__all__ = ["set_fusion", "fusion_enabled", "configure", "settle", "eagerly", "info", "clear", "wait_for_compiles"]

_BOUND = 64           # ops per segment before the stream is cut (see the module docstring)
_HOT = 2              # a signature seen this many times makes its first op start deferred segments...
# ...once its sightings times the dispatches one execute would have saved (its ops less one) reach
# this.  A fused compile (10-60 ms) costs what 700-4000 dispatches of ~15 us do; compiling once the
# dispatches paid for so far reach a fraction of that bounds the waste (ski rental) when code stops
# repeating, as test-suite-like code does after a few repeats (array-api-extra's own tests spent a
# third of their CPU time compiling fused graphs at 2 sightings; docs/downstream.md).  A 9-op loop
# body on small arrays is hot after 32 iterations.  An op's output also costs a pass over memory
# that fusion saves: every _BYTES_PER_DISPATCH of it counts as one more dispatch saved (a write and
# a read of 128 KiB take about one dispatch's time here), so a body over 4M-element arrays is hot
# at its second sighting (Monte Carlo on 4M normals ran 2.3x slower waiting for the 32nd).
_SAVED = 256
_BYTES_PER_DISPATCH = 1 << 17
_OPS_PER_SAVED = 8    # a graph's compile costs another _SAVED per this many ops that are not element-wise
_elementwise: frozenset | None = None  # the element-wise rules (``_compile_cost``; set at first use)
_MAX_SIGNATURES = 8192  # remembered signature counts (dropped all at once beyond this)
_MAX_GRAPHS = 1024     # fused programs kept

_counts: dict[tuple, int] = {}   # signature -> times seen
_hot: set[Any] = set()           # first entries of hot signatures
_programs: dict[tuple, Any] = {}  # graph -> _Fused, a Future while compiling, _FAILED, or _SEEN once
_FAILED = object()
_SEEN = object()
_stats = {"graphs": 0, "compiles": 0, "hits": 0, "replays": 0, "failures": 0, "deferred_ops": 0}
_worker: ThreadPoolExecutor | None = None
_futures: list[Future] = []
_guard = threading.Lock()
_enabled = False


class _Pending:
    """The buffer of an Array computed by a deferred segment: any use flushes the segment."""

    __slots__ = ("seg", "index", "buffer", "__weakref__")
    deferred = True  # what _donation checks: a pending value is never donated (nor inspected)

    def __init__(self, seg: "_Segment", index: int) -> None:
        self.seg = seg
        self.index = index
        self.buffer: Buffer | None = None

    def get(self) -> Buffer:
        if self.buffer is None:
            self.seg.flush()
            if self.buffer is None:  # the segment failed to run: every value of it says why
                raise RuntimeError("this array's deferred computation failed") from self.seg.error
        return self.buffer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


_new_pending = object.__new__  # a _Pending without a Python ``__init__`` call (one per deferred op)
_getrefcount = sys.getrefcount


_DEAD_REFS = 1 << 30  # set below, by measuring


def _live(outs: list[_Pending]) -> list[int]:
    """The positions of the pendings that something besides ``outs`` still holds (iterated in C:
    a segment ends every ~64 ops)."""
    return list(_compress(range(len(outs)), map(_DEAD_REFS.__lt__, map(_getrefcount, outs))))


def _dead_refs() -> int:
    """What ``getrefcount`` reports inside ``_live`` for a pending only ``outs`` holds (the list
    and what ``map`` holds while it calls: measured, not assumed)."""
    global _DEAD_REFS
    for guess in range(1, 8):
        _DEAD_REFS = guess
        if not _live([_new_pending(_Pending)]):
            return guess
    raise RuntimeError("cannot calibrate the pending buffers' reference counts")


_DEAD_REFS = _dead_refs()


class eagerly:
    """Ops inside run at their call, never deferred (LAPACK kernels: their LinAlgError must reach
    the call); the thread's segment ends first.  A class rather than a generator: it is entered
    at every LAPACK call, and this costs a third as much."""

    __slots__ = ("recorder",)

    def __enter__(self) -> None:
        recorder = self.recorder = state.fusion
        if recorder is not None:
            recorder.boundary()
            state.fusion = None

    def __exit__(self, *exc: object) -> None:
        if self.recorder is not None:
            state.fusion = self.recorder


def settle(arrays: Sequence[Array], host_values: bool = False) -> None:
    """Give each Array with a pending buffer its computed buffer (for code that needs a real
    ``Buffer`` object, e.g. the SPMD path, not just its handle); with ``host_values``, each
    Array on a host value (``_host_value``) its upload too."""
    for a in arrays:
        b = a._buffer
        if type(b) is _Pending:
            a._buf = b.get()
        elif host_values and type(b) is HostValue:
            materialize(a)


class _Fused:
    """A compiled graph: the executable and the avals of its outputs; for a graph compiled with
    a new graph's cheaper options, what compiling it again takes, and its runs until then."""

    __slots__ = ("exe", "out_avals", "passthrough", "runs_left", "nodes", "avals", "live")

    def __init__(self, exe: Any, out_avals: list, passthrough: dict[int, int]) -> None:
        self.exe = exe
        self.out_avals = out_avals
        self.passthrough = passthrough  # result position -> parameter it is, unchanged
        self.runs_left = 0  # fused runs until it is compiled again; 0: compiled for good
        self.nodes: list[tuple] | None = None  # with ``avals`` and ``live``: ``_compile``'s arguments
        self.avals: list[tuple] = []
        self.live: list[int] = []


class _Segment:
    """The ops of one deferred segment, recorded as a graph."""

    __slots__ = ("device", "lock", "nodes", "track", "params", "avals", "param_ids", "committed", "outs", "closed",
                 "error", "fused")

    def __init__(self, device: Any) -> None:
        self.device = device
        self.lock = threading.Lock()
        self.nodes: list[tuple] = []     # (entry, rule, params, input refs, first output index, out avals)
        # The _Track this segment follows while every node so far is that track's node (then the
        # track's nodes, one object each, are what ``nodes`` holds); after the flush, its own.
        self.track: _Track | None = None
        self.params: list[Buffer] = []   # outside buffers read by the segment, in first-use order
        self.avals: list[tuple] = []
        self.param_ids: dict[int, int] = {}
        self.committed = 0               # parameters of the recorded ops (see ``_Recorder.op``)
        # Every node output's _Pending, held strongly: one whose only holder left is this list
        # (its Array is gone) is dead at the flush (a weak reference per op cost more).
        self.outs: list[_Pending] = []
        self.closed = False
        self.error: BaseException | None = None
        self.fused = False  # whether a fused program computed it

    def signature(self) -> tuple:
        """The ops' dispatcher entries, in order (what the recorder counts)."""
        return tuple([node[0] for node in self.nodes])

    def flush(self) -> None:
        """Compute the outputs still referenced (fused if compiled, else op by op)."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            outs = self.outs
            live = _live(outs)
            try:
                if live:
                    n = self.committed
                    self._compute(live, [outs[i] for i in live], self.params[:n], self.avals[:n])
            except BaseException as exc:  # raised here (at the read that flushed) and kept for the others
                self.error = exc
                raise
            finally:
                # The nodes stay for the recorder to count the signature; the buffers go.
                self.params, self.param_ids, self.outs = [], {}, []

    def _compute(self, live: list[int], pendings: list[_Pending], params: list[Buffer], avals: list[tuple]) -> None:
        _stats["deferred_ops"] += len(self.nodes)
        # The graph: each op's entry and where its inputs come from, and which outputs are live.
        track = self.track
        if track is None:
            track = self.track = _track_of(self.nodes)
        elif len(track.nodes) != len(self.nodes):  # ended early on its track: the longer track stays the one
            track = _track_of(self.nodes)          # the next segment is expected to follow
        graph = (track, tuple(live), tuple(avals))
        program = _programs.get(graph)
        # A deferred graph compiles when it recurs (its first op already started a hot signature,
        # but the outputs still read and the parameters' types vary: in scipy.stats' tests 86 of
        # 228 graphs compiled at their first sighting never ran again); one op is already one
        # executable: only longer graphs are worth a compile.
        if program is None and len(self.nodes) > 1 and _counts.get(self.signature(), 0) >= 1:
            _seen_once(graph)
        elif program is _SEEN:
            program = _submit(graph, self.nodes, avals, live, self.device)
        if type(program) is _Fused:
            _stats["hits"] += 1
            self.fused = True
            buffers = _run_fused(program, params, self.device)
            if program.runs_left > 0:
                program.runs_left -= 1
                if program.runs_left <= 0:  # (threads may race here: ``_recompile`` acts once)
                    _recompile(graph, program, self.device)
        else:
            _stats["replays"] += 1
            buffers = _replay(self.nodes, params, live, self.device)
        for p, b in zip(pendings, buffers):
            p.buffer = b


def _needed(nodes: Sequence[tuple], live: Sequence[int]) -> list[tuple]:
    """The nodes that the live outputs depend on, in order."""
    want = set(live)
    keep = []
    for node in reversed(nodes):
        refs, start, out_avals = node[3:]
        if any(start + j in want for j in range(len(out_avals))):
            keep.append(node)
            want.update(r for r in refs if r >= 0)
    keep.reverse()
    return keep


def _replay(nodes: Sequence[tuple], params: Sequence[Buffer], live: Sequence[int], device: Any) -> list[Buffer]:
    """Execute the needed nodes one by one with their per-op executables."""
    nodes = _needed(nodes, live)
    uses: dict[int, int] = {i: 1 for i in live}
    for _, _, _, refs, _, _ in nodes:
        for r in refs:
            if r >= 0:
                uses[r] = uses.get(r, 0) + 1
    values: dict[int, Buffer] = {}
    result: dict[int, Buffer] = {}
    handle = device.handle
    for entry, _, _, refs, start, out_avals in nodes:
        handles = [params[-1 - r]._handle if r < 0 else values[r]._handle for r in refs]
        try:
            out = entry.exe.run(handles, handle, out_avals)
        except ResourceExhausted as exc:
            raise device.out_of_memory(exc) from None
        for j, b in enumerate(out):
            if start + j in uses:
                values[start + j] = b
        for r in refs:  # free intermediates after their last use
            if r >= 0:
                uses[r] -= 1
                if uses[r] == 0:
                    del values[r]
        for j in range(len(out)):
            if start + j in live and start + j in values:
                result[start + j] = values[start + j]
    return [result[i] for i in live]


def _run_fused(program: _Fused, params: Sequence[Buffer], device: Any) -> list[Buffer]:
    try:
        buffers = program.exe.run([b._handle for b in params], device.handle, program.out_avals)
    except ResourceExhausted as exc:
        raise device.out_of_memory(exc) from None
    for position, param in program.passthrough.items():
        buffers.insert(position, params[param])
    return buffers


# float32/float64 products read by a later node pass through ``_Rounding`` (float16/bfloat16 math is
# done in float32 and rounded at every op by XLA:CPU already).
_ROUNDED_BITS: dict[np.dtype, np.dtype] = {np.dtype(np.float32): np.dtype(np.uint32), np.dtype(np.float64): np.dtype(np.uint64)}


class _Rounding:
    """Keeps a fused graph's arithmetic that of its ops run one by one.

    XLA:CPU contracts a multiply and an add in one kernel into a fused multiply-add (one rounding
    instead of two; ``jax.jit(lambda p, n, m: p * n + m)(0.1, 5.0, 0.9)`` is 1.4000000000000001,
    numpy's 1.4). Eagerly each op is its own program and rounds, so without this a value would
    change in its last bit once its op sequence got hot and ran fused (SciPy's ``iqr(arange(5),
    rng=(10, 50))`` gave 1.6 alone and 1.5999999999999999 after other tests). A product that one
    node makes and another reads goes through ``bits ^ replica_id``: replica_id is 0 here, but not
    a constant XLA or LLVM can fold, and no multiply-add contracts across an integer op."""

    def __init__(self, b: Builder) -> None:
        self.b = b
        self.zero: dict[tuple, Any] = {}      # (shape, bits dtype) -> the opaque zero
        self.done: dict[int, Any] = {}        # node value index -> its rounded value

    def __call__(self, index: int, v: Any) -> Any:
        bits = _ROUNDED_BITS.get(v.dtype)
        if bits is None:
            return v
        found = self.done.get(index)
        if found is None:
            found = self.done[index] = self._round(v, bits) if self.b.is_product(v) else v
        return found

    def _round(self, v: Any, bits: np.dtype) -> Any:
        b = self.b
        zero = self.zero.get((v.shape, bits))
        if zero is None:
            scalar = self.zero.get(((), bits))
            if scalar is None:
                scalar = self.zero[(), bits] = b.convert(b.replica_id(), bits)
            zero = self.zero[v.shape, bits] = b.broadcast_in_dim(scalar, v.shape, ())
        return b.bitcast_convert(b.xor(b.bitcast_convert(v, bits), zero), v.dtype)


def _build(nodes: Sequence[tuple], avals: Sequence[tuple], live: Sequence[int]) -> tuple[str, list, dict, Builder]:
    """The fused module: the needed nodes' rules written into one builder (returned too: the
    compile policy reads what it found in the graph)."""
    b = Builder()
    args = [block_argument(b, shape, dtype) for shape, dtype in avals]
    values: dict[int, Any] = {}
    rounded = _Rounding(b)
    for _, rule, params, refs, start, _ in _needed(nodes, live):
        out = rule(b, *[args[-1 - r] if r < 0 else rounded(r, values[r]) for r in refs], **dict(params))
        for j, v in enumerate(out if isinstance(out, (tuple, list)) else [out]):
            values[start + j] = v
    arg_index = {a.name: i for i, a in enumerate(args)}
    results, passthrough = [], {}
    for position, i in enumerate(live):
        v = values[i]
        if v.name in arg_index:
            passthrough[position] = arg_index[v.name]
        else:
            results.append(v)
    return main_module(b, args, results), [(r.shape, r.dtype) for r in results], passthrough, b


def _compile(graph: tuple, nodes: Sequence[tuple], avals: Sequence[tuple], live: Sequence[int], device: Any,
             hot: bool = False) -> None:
    """Compile ``graph`` and install it: first with the policy's options for a new graph, which
    for a small one are cheap ones; again with a proven graph's (``hot``) once it has run often
    enough fused (``CompilePolicy.graph_recompile_runs``, counted down in ``_Fused.runs_left``)."""
    try:
        text, out_avals, passthrough, b = _build(nodes, avals, live)
        policy = policy_for(device.client)
        flags = {"index_reduction": b.has_index_reduction, "narrow_dot": b.has_narrow_dot}
        options = policy.graph_options(device.id, [*avals, *out_avals], hot=hot, **flags)
        exe = _dispatch.compile_text(device.client, text, options)
    except Exception:  # a graph the compiler refuses keeps running as it did
        _stats["failures"] += 1
        if not hot:
            _programs[graph] = _FAILED
        return
    _stats["compiles"] += 1
    fused = _Fused(exe, out_avals, passthrough)
    if not hot:
        fused.runs_left = policy.graph_recompile_runs([*avals, *out_avals])
        if fused.runs_left:
            fused.nodes, fused.avals, fused.live = list(nodes), list(avals), list(live)
    with _guard:
        if hot and graph not in _programs:  # forgotten meanwhile: it starts over if it recurs
            return
        _programs[graph] = fused


def _recompile(graph: tuple, program: _Fused, device: Any) -> None:
    """Compile a graph that has run often enough fused again, with a proven graph's options, in
    the background; ``program`` serves it until that is done."""
    with _guard:
        nodes, program.nodes = program.nodes, None  # (once)
        if nodes is not None:
            _background(_compile, graph, nodes, program.avals, program.live, device, True)


def _seen_once(graph: tuple) -> None:
    with _guard:
        if len(_programs) >= _MAX_GRAPHS:  # the oldest graph goes (as in ``_submit``)
            _programs.pop(next(iter(_programs)))
        _programs.setdefault(graph, _SEEN)


def _submit(graph: tuple, nodes: Sequence[tuple], avals: Sequence[tuple], live: Sequence[int], device: Any) -> Any:
    """Start compiling ``graph`` in the background (once); returns the placeholder."""
    with _guard:
        found = _programs.get(graph)
        if found is not None and found is not _SEEN:
            return found
        if len(_programs) >= _MAX_GRAPHS:  # the oldest graph goes (it compiles again if it recurs)
            _programs.pop(next(iter(_programs)))
        _stats["graphs"] += 1
        future = _background(_compile, graph, list(nodes), list(avals), list(live), device)
        # the future stays the placeholder until _compile replaces it
        if _programs.get(graph, _SEEN) is _SEEN:
            _programs[graph] = future
        return _programs[graph]


def _background(fn: Any, *args: Any) -> Future:
    """``fn(*args)`` on the compile thread (``wait_for_compiles`` waits for it); ``_guard`` held."""
    global _worker
    if _worker is None:
        _worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pjrt_array-fusion")
    future = _worker.submit(fn, *args)
    _futures.append(future)
    if len(_futures) > 64:
        _futures[:] = [f for f in _futures if not f.done()]
    return future


class _Track:
    """The nodes of a recorded graph, one object per distinct wiring (entries and input refs): the
    key of the graph's fused programs (hashed by identity, not by its nodes), and what the next
    deferred segment starting with its first op is expected to repeat (``_Recorder.follow``)."""

    __slots__ = ("nodes",)

    def __init__(self, nodes: list[tuple]) -> None:
        self.nodes = nodes


_tracks: dict[tuple, _Track] = {}  # wiring -> its track
_last: dict[Any, _Track] = {}      # first entry -> the track of the last segment that started with it
# track -> the track of the segment that came after it last time: a loop whose period does not line
# up with the segment bound cuts its stream into several graphs that start with the same op (RK4:
# 4-10), and they come in the same order every time.  (A table, not an attribute: cleared with the
# tracks, it cannot chain every track ever made into one list that stays alive.)
_after: dict[_Track, _Track] = {}


def _track_of(nodes: list[tuple]) -> _Track:
    """The track of ``nodes``' wiring (made at its first sighting)."""
    wiring = tuple([x for node in nodes for x in (node[0], *node[3])])
    track = _tracks.get(wiring)
    if track is None:
        if len(_tracks) >= _MAX_GRAPHS:  # forgotten all at once (a graph keyed by a forgotten track
            _tracks.clear()              # compiles again if it recurs, from the fingerprint cache)
            _last.clear()
            _after.clear()
        track = _tracks[wiring] = _Track(list(nodes))  # (a copy: a racing op may still add to ``nodes``)
    return track


def _commit(seg: _Segment, node: tuple, new: list | None, device: Any) -> list[Array] | None:
    """Add ``node`` (and the parameters ``new`` it adds) to ``seg``; its outputs are Arrays of
    pending buffers.  None: another thread's flush closed ``seg`` first (the op runs eagerly).

    Without the segment's lock (it cost 7 % of a deferred op): only the recording thread adds to a
    segment, and a flush closes it before reading anything.  So when ``seg`` is still open after
    the node and its pendings are in, any flush comes later and sees them; when it closed
    meanwhile, the flush may or may not have seen them: once it is done (its lock), the outputs
    either have their buffers or the op runs eagerly.  (This relies on the GIL ordering these
    steps, as the rest of the recorder does.)"""
    # A flush closes the segment before it replaces these lists: read first, they are the ones
    # it reads (or it has closed the segment already).
    outs, params, ids, avals = seg.outs, seg.params, seg.param_ids, seg.avals
    if seg.closed:
        return None
    if new is not None:  # registered here: the flush reads only committed parameters
        for b, aval in new:
            ids[id(b)] = len(params)
            params.append(b)
            avals.append(aval)
        seg.committed = len(params)
    seg.nodes.append(node)
    start, out_avals = node[4], node[5]
    for _ in out_avals:
        p = _new_pending(_Pending)
        p.seg = seg
        p.index = start
        p.buffer = None
        outs.append(p)
        start += 1
    if seg.closed and not _computed(seg, outs[node[4]:start]):
        return None
    if len(out_avals) == 1:
        return [_new_array(p, out_avals[0], device)]  # type: ignore[arg-type]  # a Buffer stand-in
    return [_new_array(q, aval, device) for q, aval in zip(outs[node[4]:start], out_avals)]  # type: ignore[arg-type]


def _computed(seg: _Segment, pendings: list[_Pending]) -> bool:
    """Whether the flush that closed ``seg`` computed ``pendings`` (waiting for it to end)."""
    with seg.lock:
        return all(p.buffer is not None for p in pendings)


class _Recorder:
    """One thread's op stream: the current segment's signature, eager or deferred."""

    __slots__ = ("entries", "device", "seg", "first", "track", "previous")

    def __init__(self) -> None:
        self.entries: list[Any] = []  # the eager segment's entries (a deferred one has its nodes)
        self.device: Any = None
        self.seg: _Segment | None = None
        self.first: Any = None        # the segment's first entry
        # The track the open deferred segment follows (its ``track``, kept here too: ``run`` reads
        # it at every op to decide whether to try ``follow``).
        self.track: _Track | None = None
        self.previous: _Track | None = None  # the track of the segment before (``_after``)

    def op(self, entry: Any, rule: Any, params: tuple, args: Sequence[Array], device: Any,
           out_avals: list) -> list[Array] | None:
        """Note an op about to run; returns its deferred outputs, or None to run it eagerly.

        ``out_avals``: the outputs' types (an element-wise entry compiled for a flat element count
        serves every shape of that count: the shapes come from here).  An op of a segment that
        follows a track came through ``follow`` first: here it is recorded the general way (its
        wiring worked out, its node made) and the segment leaves the track."""
        seg = self.seg
        if seg is None or seg.closed or device is not seg.device or not _enabled or (  # closed: a value was needed
                len(seg.nodes) >= _BOUND and (entry is self.first or len(seg.nodes) >= 2 * _BOUND)):
            seg = self._next(entry, device)
            if seg is None:
                return None
        # The inputs' wiring: only this thread adds to the segment, and a stale view re-derives
        # its buffer with ops of its own.  (What ``Array._buffer`` does, inline: a base's buffer is
        # its ``_buf`` unless a writer holds it.)  A flush from another thread meanwhile closes
        # the segment: the op then runs eagerly (``_commit``).
        known, ids = seg.params, seg.param_ids
        refs = []
        new: list[tuple[Buffer, tuple]] | None = None
        for a in args:
            b = a._buf
            if a._base is not None or b is _BUSY:
                b = a._buffer
            if type(b) is _Pending:
                if b.seg is seg:
                    refs.append(b.index)
                    continue
                if b.buffer is None:  # another segment's value, not computed yet: compute it first
                    b.get()
                b = b.buffer
            k = ids.get(id(b))
            if k is None:  # a parameter this op adds (``_commit`` registers it)
                if new is None:
                    new = []
                k = len(known) + next((j for j, (c, _) in enumerate(new) if c is b), len(new))
                if k == len(known) + len(new):
                    new.append((b, a._aval))
            refs.append(-1 - k)
        node = (entry, rule, params, tuple(refs), len(seg.outs), out_avals)
        track = seg.track
        if track is not None and (seg.nodes or node != track.nodes[0]):  # not (or no longer) the track's op
            self.track = seg.track = None
        return _commit(seg, node, new, device)

    def follow(self, key: tuple, args: Sequence[Array], device: Any, out_shape: tuple | None) -> list[Array] | None:
        """The next op of a deferred segment that follows a track (``_Track``): when it is the
        track's next op -- the same dispatcher key, output shapes and inputs (the same outputs of
        this segment, the same outside buffers) -- it is recorded as the track's node, without the
        dispatcher's look-up.  Otherwise the segment leaves the track and None sends the op the
        general way (``_dispatch.run``, then ``op``)."""
        seg, track = self.seg, self.track
        if seg is None or track is None:  # (``run`` asks only while a track is followed)
            return None
        pos = len(seg.nodes)
        nodes = track.nodes
        if pos == len(nodes):  # the whole track so far: the segment ends here or leaves it (``op``)
            return None
        if _enabled and device is seg.device:
            node = nodes[pos]
            entry = node[0]
            outs, params = seg.outs, seg.params  # (before ``closed``: a flush closes, then replaces them)
            if entry.key == key and (out_shape is None or node[5][0][0] == out_shape) and (
                    pos < _BOUND or (entry is not self.first and pos < 2 * _BOUND)) and not seg.closed:  # (op's cut)
                new: list[tuple[Buffer, tuple]] | None = None
                for a, r in zip(args, node[3]):
                    b = a._buf
                    if a._base is not None or b is _BUSY:
                        b = a._buffer
                    if r >= 0:  # this segment's output r
                        if b is outs[r]:
                            continue
                        break
                    if type(b) is _Pending:
                        if b.seg is seg:
                            break
                        if b.buffer is None:
                            b.get()
                        b = b.buffer
                    k = -1 - r
                    if k < len(params):  # the outside buffer k
                        if params[k] is b:
                            continue
                        break
                    # a parameter this op adds: the next one, and not one the segment has already
                    j = k - len(params)
                    if new is None:
                        new = []
                    if j < len(new):
                        if new[j][0] is b:
                            continue
                        break
                    if j != len(new) or id(b) in seg.param_ids or (new and any(c is b for c, _ in new)):
                        break
                    new.append((b, a._aval))
                else:
                    result = _commit(seg, node, new, device)
                    if result is not None:
                        return result
        self.track = seg.track = None
        return None

    def _next(self, entry: Any, device: Any) -> "_Segment | None":
        """An op that is not one more of an open deferred segment: it extends the eager segment
        (None), or ends the segment and starts the next, deferred (returned) or eager (None)."""
        if not _enabled:
            self.end()
            del state.fusion
            return None
        if self.seg is None:
            entries = self.entries
            n = len(entries)
            if n and (device is not self.device or (n >= _BOUND and (entry is self.first or n >= 2 * _BOUND))):
                self.end()
            elif n:
                entries.append(entry)
                return None
        else:
            self.end()
        self.device, self.first = device, entry
        if (entry in _hot or not _HOT) and not entry.aliased:  # a donating op runs eagerly
            seg = self.seg = _Segment(device)
            previous = self.previous
            track = None if previous is None else _after.get(previous)
            if track is None or track.nodes[0][0] is not entry:
                track = _last.get(entry)
            self.track = seg.track = track
            return seg
        self.entries.append(entry)
        return None

    def deferring(self) -> bool:
        """Whether a deferred segment is open (its ops never donate buffers)."""
        seg = self.seg
        return seg is not None and not seg.closed

    def end(self) -> None:
        """Close the current segment: flush it if deferred, and count its signature (not when a
        fused program ran it: its first op is hot already, and counting costs two hashes of it)."""
        seg = self.seg
        if seg is None:
            signature = tuple(self.entries)
        else:
            seg.flush()
            signature = () if seg.fused else seg.signature()
            track = seg.track if seg.nodes else None  # (none: another thread's flush came first)
            if track is not None:  # the next segment starting like it is expected to follow it
                _last[seg.nodes[0][0]] = track
                if self.previous is not None:
                    _after[self.previous] = track
            self.previous = track
        self.entries, self.seg, self.track = [], None, None
        if len(signature) < 2:  # one op is one executable already: nothing to fuse
            return
        count = _counts.get(signature, 0) + 1
        if len(_counts) >= min(_MAX_SIGNATURES, _dispatch.cache_size()):
            # The counts hold the dispatcher's entries (and so their executables): they are
            # bounded like its cache and forgotten all at once, with the hot first ops.
            _counts.clear()
            _hot.clear()
            _last.clear()
            _after.clear()
        _counts[signature] = count
        if count >= _HOT and signature[0] not in _hot and count * _saved_per_run(signature) >= _compile_cost(signature):
            _hot.add(signature[0])

    def boundary(self, array: Array | None = None) -> None:
        """A host read (of ``array``): the segment ends here."""
        self.end()
        if array is not None:
            settle((array,))


def _compile_cost(signature: tuple) -> int:
    """A fused compile's cost in dispatches: ``_SAVED``, and as much again per ``_OPS_PER_SAVED``
    distinct ops that are not element-wise (the compile grows with those: in array-api-extra's
    tests two 66-op graphs of indexing, ``where`` and reductions took 0.5-1 s each and one 18-op
    graph 0.35 s, against 50-250 ms for 2 to 5 ops; those four graphs, hot at their fourth
    sighting, ran fused twice in all).  Element-wise ops fuse into one loop and cost the compile
    little (64 of them: 60 ms), and one op repeated (a loop of ``argmax``, ``sum`` or ``M @ v``) is
    one kind of kernel: those keep the bar."""
    global _elementwise
    if _elementwise is None:
        from .ops.elementwise import RULES
        _elementwise = frozenset(RULES.values())
    heavy = len({entry for entry in signature if entry.key[:1] and entry.key[0] not in _elementwise})
    return _SAVED * (1 + heavy // _OPS_PER_SAVED)


def _saved_per_run(signature: tuple) -> int:
    """The dispatches one fused execute saves over running ``signature``'s ops one by one: one per
    op but the last, and one per ``_BYTES_PER_DISPATCH`` of their outputs (memory passes saved)."""
    return sum(1 + max(0, entry.out_bytes) // _BYTES_PER_DISPATCH for entry in signature[:-1])


class _Start:
    """The class-level ``state.fusion`` while fusion is on: gives each thread its own recorder."""

    track = None

    def deferring(self) -> bool:
        return False

    def op(self, entry: Any, rule: Any, params: tuple, args: Sequence[Array], device: Any,
           out_avals: list) -> list[Array] | None:
        recorder = state.fusion = _Recorder()
        return recorder.op(entry, rule, params, args, device, out_avals)

    def boundary(self, array: Array | None = None) -> None:
        if array is not None:
            settle((array,))  # a value another thread deferred


def set_fusion(enabled: bool) -> None:
    """Turn automatic fusion of repeated eager op sequences on or off (all threads)."""
    global _enabled
    recorder = state.fusion
    if recorder is not None:
        recorder.boundary()
    _enabled = bool(enabled)
    _State.fusion = _Start() if _enabled else None


def configure(*, hot: int | None = None, bound: int | None = None, saved: int | None = None
              ) -> tuple[int, int, int]:
    """Tune the policy (tests, benchmarks): ``hot`` is how many sightings of a signature make
    segments starting like it deferred and its graphs compiled (0: defer every segment, compile
    graphs seen before), provided sightings times the dispatches saved (ops - 1, plus memory
    passes) reach ``saved``; ``bound`` is the segment size.  Returns the previous ``(hot, bound, saved)``."""
    global _HOT, _BOUND, _SAVED
    previous = (_HOT, _BOUND, _SAVED)
    if saved is not None:
        _SAVED = int(saved)
    if hot is not None:
        _HOT = int(hot)
    if bound is not None:
        if bound < 1:
            raise ValueError(f"bound must be positive, got {bound}")
        _BOUND = int(bound)
    return previous


def defers_every_segment() -> bool:
    """Whether fusion defers every segment from its first op on (``configure(hot=0)``): the host
    tier then leaves new ops to it (``_host_tier``)."""
    return _enabled and not _HOT


def fusion_enabled() -> bool:
    """Whether automatic fusion is on."""
    return _enabled


def wait_for_compiles() -> None:
    """Block until the background compiles submitted so far are done (tests, benchmarks)."""
    with _guard:
        futures = list(_futures)
    for f in futures:
        f.result()


def info() -> dict[str, int]:
    """Fusion statistics for ``cache_info()``."""
    return {"fused_graphs": _stats["graphs"], "fused_compiles": _stats["compiles"], "fused_hits": _stats["hits"],
            "fused_replays": _stats["replays"], "fused_failures": _stats["failures"],
            "fused_deferred_ops": _stats["deferred_ops"]}


def clear() -> None:
    """Forget signatures and fused programs; reset the statistics."""
    wait_for_compiles()
    _counts.clear()
    _hot.clear()
    _programs.clear()
    _tracks.clear()
    _last.clear()
    _after.clear()
    for k in _stats:
        _stats[k] = 0


set_fusion(os.environ.get("PJRT_ARRAY_FUSION", "1").strip().lower() not in ("0", "false", "off", "no"))
