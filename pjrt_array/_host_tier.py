"""The first-sight host tier: a small op's first calls on a new key run in numpy, not compiled.

Why.  Test-suite-like code calls each op once or twice on a shape of its own, so
nearly every call is a new ``(rule, params, avals)`` key, and a new key costs a
compile: 10-13 ms of CPU on the XLA CPU plugins, almost all of it fixed cost
inside the plugin (MLIR context and dialects, the LLVM target machine; compile
options do not change it).  array-api-extra's own tests compiled 2,182 per-op
programs (42 s of CPU) where array-api-strict's whole run took 8 s.

What.  When a key misses the executable cache (``_dispatch.run``), its rule has
a host implementation (``ops._host_rules.HOST_RULES``: only rules whose numpy
version is bit-identical to the compiled program), the device is a CPU and the
operands and results are not large (``PJRT_ARRAY_HOST_TIER_BYTES``, 64 MiB in all by
default), each of the first ``sightings`` (256; fewer for larger operands, one from 8 MiB) calls of the
key, until its host runs took as long as a compile (``_COMPILE_SECONDS``):

1. builds and checks the op's module as a compile would (``_dispatch.checked_module``:
   the same output types, the same errors, sizes beyond int64 refused), without
   compiling it;
2. reads each operand as a zero-copy numpy view of its current buffer (a stale
   view re-derives first; the view waits until the buffer is computed, and a
   program never writes a buffer it did not create, so the read cannot race).
   The view is made once per buffer and pins nothing (``Buffer.transient_view``):
   this call holds the buffers, and nothing derived from the view outlives it;
3. runs the host function and keeps each result as a host value
   (``_host_value.HostValue``): a copy the new Array owns (nothing, not even the
   operand a numpy reshape was a view of, aliases it), uploaded on its first
   device use.  The next host run, or a host read (``float``, ``bool``, printing),
   reads it where it is: a chain of host runs uploads nothing (a host run cost
   25-35 us with its upload, 15-17 us without).  Ops on it take the usual path
   (it is not ``lasting``: :func:`on_host_values` leaves it alone).

The key is remembered with its count and output types (``_seen``); the call
after the last host run compiles as before, so code that repeats pays one
compile and runs compiled from then on.  Why 256: a host run costs 15-45 us
more than a compiled call of a small op (3-6 us), a compile 10-20 ms, so 256
host runs cost about one compile: renting until the rent paid equals the price,
which never costs more than twice the better choice made in hindsight (fusion's
``_SAVED`` is the same bound).  Keys of more than 32 KiB of operands and
results get proportionally fewer (8 at 1 MiB, one from 8 MiB): their host runs cost
more.  Test suites repeat a key a few to a few hundred times (an assertion
helper's checks on one shape, a parametrized test's cases): array-api-extra's
tests compiled 2,182 per-op programs without this tier, 1,643 with one host run
per key and 1,261 with eight (data movement, fills, orders and integer rules only
at the time), 1,024 with eight once the element-wise rules came, 678 with 32,
383 once writes, ``arange``, ``searchsorted``, ``unique_*`` and copies joined,
and 81 with 256 and the value-checked float cases (docs/downstream.md).  A
hot loop pays up to 256 host runs per key once, and is fused once its ops have
compiled.

What it leaves alone.  Traced ops (``jit``) are emitted before the dispatcher
looks at its cache; sharded operands and non-CPU devices compile as before.  A
donating call (a write's update of its target, an operator on a temporary) runs
here too: its result is written into the donated buffer's memory (after the
programs already queued, which may read it, are done), which the result then
owns, as the donating program's does; the write machinery (``_mutation.write``)
installs it in the base as it installs that program's result, so views and the
base see the write alike.  Its key is the donating call's, so the call after
its last host run compiles the donating program.  Every op
while fusion defers every segment (``_fusion.configure(hot=0)``) compiles.
Otherwise a host run ends the thread's segment, as a host read does, so a
fusion signature only ever holds compiled entries: a deferred segment (one that
started like a hot signature) that reaches a key with no executable is computed
there, operands still pending from an earlier segment are computed too (``fusion.settle``),
and the op runs on the host.  (Compiling it instead, as the tier did at
first, compiled a program per op of segments that then matched no hot
signature: 188 of scipy.special's 462 per-op compiles.)  A result
is a fresh Array, which callers that make views (transposes, basic indexing)
attach exactly as they attach a compiled result.

Ops on host values (:func:`on_host_values`).  The same rules serve, at every call, one- and
two-operand ops whose operands are small host values (an iteration's elements, scalars), one at
least living on the host only (``HostValue.lasting``): their results are host values again
(docs/host_tier.md).

``PJRT_ARRAY_HOST_TIER=0`` (at import) or :func:`set_host_tier` turns it off
(``PJRT_ARRAY_HOST_TIER=N`` or ``set_host_tier(True, sightings=N)``: N host runs per key);
``cache_info()["host_runs"]`` counts host runs, ``["host_declined"]`` first
sightings that compiled because the case was not exact on the host (e.g. a
float conversion).
"""

from __future__ import annotations

import math
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from . import _inflight
from ._array import Array, host_value_results
from ._host_value import HOST_DTYPES, upload
from ._pjrt import Buffer, ResourceExhausted
from ._policy import policy_for as _policy_for
from ._trace_state import state as _trace_state

if TYPE_CHECKING:
    from ._devices import Device

__all__ = ["first_sight", "on_host_values", "set_host_tier", "host_tier_enabled", "info", "clear"]

_DTYPES = HOST_DTYPES  # numpy's own dtypes (ml_dtypes' and sub-byte ones are left to the compiler)
_MAX_SEEN = 1 << 14  # remembered keys (forgotten all at once beyond this: a key then runs on the host again)

# Default: a key of small operands runs on the host this many times, then compiles.  A host run
# costs 15-45 us more than a compiled call (views, the rule, the upload; a compiled call of a small op
# is 3-6 us), a compile 10-20 ms: 256 host runs cost about one compile, renting until the rent paid
# equals the price (never more than twice the better choice made in hindsight).  Keys with more
# than _FULL_RATE_BYTES of operands and results get proportionally fewer: their host runs cost more
# (a copy of the result, numpy's op against XLA's), down to 8 at 1 MiB and one from 8 MiB.
_SIGHTINGS = 256
_FULL_RATE_BYTES = 32 << 10
# A key also stops renting once its host runs took as long as a small program's compile (10-13 ms
# on the XLA CPU plugins; ``_Sighting.pay``): where a host run costs 100-250 us (complex operands, masked
# writes, a bucket program's padded run and round trip, as in scipy.special's logsumexp tests)
# rather than the 15-45 us the count assumes, it compiles after 50-120 runs instead of 256.
_COMPILE_SECONDS = 0.012
_clock = time.perf_counter


def _setting(text: str) -> int:
    """``PJRT_ARRAY_HOST_TIER``: off (0, false, off, no), on (1... : the default sightings) or a count."""
    text = text.strip().lower()
    if text in ("0", "false", "off", "no"):
        return 0
    if text in ("", "1", "true", "on", "yes"):
        return _SIGHTINGS
    return max(0, int(text))


_sightings = _setting(os.environ.get("PJRT_ARRAY_HOST_TIER", ""))
_enabled = _sightings > 0
# Operands and results in all.  Measured per call, host run / compiled call (ms): 8 KiB 0.03-0.10 /
# 0.01-0.03, 128 KiB 0.11-0.19 / 0.05-0.10 (sort 1.3 / 3.7).  Beyond 1 MiB a first call compiled at
# full optimization (20-40 ms) where a suite uses the array once or twice: two calls of 15 ops on
# 2**17 float64 elements took 1-3 ms on the host against 19-95 ms (sums about even); at 2**20 and
# 2**21, where a key gets one host run and its second call compiles, 0.6-1.5x
# (benchmarks/host_tier_large.py).  A loop on large arrays pays one host run per key.
_max_bytes = int(os.environ.get("PJRT_ARRAY_HOST_TIER_BYTES", 64 << 20))


class _Sighting:
    """What the tier remembers of a key: its host runs so far (``runs``) and their time in seconds
    (``rent``), the output avals (None: never on the host), the host runs allowed (``limit``), its
    bucket's element count (0: none) and its host function (None once it declined: the bucket
    program from then on)."""

    __slots__ = ("runs", "rent", "outs", "limit", "bucket", "fn")

    def __init__(self, outs: list | None, limit: int, bucket: int, fn: Any) -> None:
        self.runs, self.rent = 0, 0.0
        self.outs, self.limit, self.bucket, self.fn = outs, limit, bucket, fn

    def pay(self, start: float) -> None:
        """Add a host run that began at ``start``; once the rent reaches the price of a compile
        (``_COMPILE_SECONDS``), the key's next call compiles."""
        self.rent += _clock() - start
        if self.rent >= _COMPILE_SECONDS:
            self.limit = self.runs


_seen: dict[tuple, _Sighting] = {}
_stats = {"runs": 0, "declined": 0, "bucketed": 0, "value_runs": 0}
# Bucket sizes: 64, 4096, then the policy's small-program count (65,536).  scipy.special's tests
# call exp, log, ... on counts from 1 to 65,536 in four dtypes: powers of two took only 30 -> 25
# compiles off each function, 64 * 8**k 30 -> 21; three buckets per dtype bound it at 12.  Padding
# costs at most 64x the op's own work (exp over 65,536 float64: 0.5 ms, against 10-20 ms per
# compile; such keys get 128 runs, fewer beyond: ``_FULL_RATE_BYTES``).
_MIN_BUCKET, _BUCKET_GROWTH = 64, 64
_bucket_programs: dict[tuple, Any] = {}  # (rule, params, bucket, operand dtypes, device) -> _dispatch._Entry
_MAX_BUCKET_PROGRAMS = 1024  # (forgotten all at once beyond this, as ``_seen``)
_stats_lock = threading.Lock()
_registry: tuple[dict, type[Exception], Any] | None = None
_ELEMENTWISE: frozenset = frozenset()  # element-wise rules and astype (``_rules`` fills it): bucket programs run them


def _rules() -> tuple[dict, type[Exception], Any]:
    """The host rules, their ``NotExact`` and ``_fusion`` (imported on first use: they import every
    op module, and ``_fusion`` imports the dispatcher); fills ``_ELEMENTWISE``."""
    global _registry, _ELEMENTWISE
    if _registry is None:
        from . import _fusion
        from .ops._host_rules import HOST_RULES, NotExact
        from .ops.data_types import _astype_rule
        from .ops.elementwise import RULES
        _ELEMENTWISE = frozenset([*RULES.values(), _astype_rule])
        _registry = HOST_RULES, NotExact, _fusion
    return _registry


def _count(name: str) -> None:
    with _stats_lock:
        _stats[name] += 1


def _small(avals: Sequence[tuple], budget: int) -> int:
    """``budget`` less the bytes of ``avals``; -1 if a dtype is not numpy's own or it runs out."""
    for shape, dtype in avals:
        if dtype not in _DTYPES:
            return -1
        budget -= math.prod(shape) * dtype.itemsize
    return budget


def first_sight(key: tuple, rule: Any, params: tuple, args: Sequence[Array], device: "Device",
                avals: Sequence[tuple] | None, out_shape: tuple[int, ...] | None,
                donate: tuple[int, ...] = ()) -> list[Array] | None:
    """The outputs of ``rule`` computed on the host at the first sighting of ``key``; None when the
    op is to be compiled (arguments as ``_dispatch.run``'s, which has found no executable)."""
    if device.platform != "cpu":
        return None
    rules, not_exact, fusion = _rules()
    fn = rules.get(rule)
    if fn is None and rule not in _ELEMENTWISE:
        return None
    seen = _seen.get(key)
    if seen is not None and seen.runs >= seen.limit:
        return None
    recorder = _trace_state.fusion
    if recorder is not None and fusion.defers_every_segment():
        return None
    if seen is None:
        in_avals = [a._aval for a in args]
        budget = _small(in_avals, _max_bytes)
        outs, limit, bucket = None, 0, 0
        if budget >= 0:
            from ._dispatch import checked_module  # (_dispatch imports this module)
            key_avals = avals if avals is not None else in_avals
            outs = checked_module(rule, params, key_avals, device)[1]
            budget = _small(outs, budget)
            if rule in _ELEMENTWISE and budget >= 0:
                bucket = _bucket(key_avals, outs, device)
            if budget < 0 or (fn is None and not bucket):
                outs = None
            else:  # fewer host runs for larger operands, whose host runs cost more (see _SIGHTINGS)
                limit = max(1, _sightings * _FULL_RATE_BYTES // max(_FULL_RATE_BYTES, _max_bytes - budget))
        if len(_seen) >= _MAX_SEEN:
            _seen.clear()
        seen = _seen[key] = _Sighting(outs, limit, bucket, fn)
    seen.runs += 1
    outs = seen.outs
    if outs is None:  # too big, or not numpy's dtypes
        return None
    if out_shape is not None:  # run_elementwise's flat program (one key for every shape of that
        outs = [(out_shape, dtype) for _, dtype in outs]  # element count): the operands' shape
    if recorder is not None:
        recorder.boundary()  # a host read of the operands: the segment ends (a deferred one is computed)
    fusion.settle(args)  # operands still pending from an earlier segment (this thread's or another's)
    bufs = [a._buffer for a in args]
    fn = seen.fn
    start = _clock()
    if fn is not None:
        try:
            # Unpinned views (``Buffer.transient_view``): this call holds the buffers, and the
            # results are copied (``_host_values``) before it returns.
            results = fn(dict(params), *[b.transient_view() for b in bufs])
        except not_exact:
            _count("declined")
            if not seen.bucket:
                seen.limit = 0
                return None
            seen.fn = None  # an element-wise case not exact on the host: its bucket program from now on
    if seen.fn is None:
        _count("bucketed")
        program = _bucket_program(rule, params, bufs, seen.bucket, device)
        start = _clock()  # (the shared program's compile is no rent of this key)
        arrays = _bucketed(program, bufs, outs, device)
        seen.pay(start)
        return arrays
    _check_types(rule, results, outs)
    taken = _in_place(results[0], args, bufs, donate, device) if donate else None
    if taken is None:
        arrays = _host_values(results, outs, device)
    else:
        arrays = [Array._from_buffer(taken, outs[0], device), *_host_values(results[1:], outs[1:], device)]
    del results
    # Not noted in ``_inflight``: that bounds the memory of queued computations, and a host result
    # is computed already (noting it cost a queue entry per run, then a wait on each at the next
    # bound or drain).
    _count("runs")
    seen.pay(start)
    return arrays


# Ops on host values (``on_host_values``): operands and results of at most this many bytes in all
# (an element of an iteration, a scalar, a short vector: numpy's per-call cost, not its loop, decides)
_VALUE_BYTES = 1 << 10
# key -> (host function, its params as a dict, output avals), or None: never run on host values
_value_plans: dict[tuple, tuple | None] = {}


def on_host_values(key: tuple, rule: Any, params: tuple, args: Sequence[Array], device: "Device") -> list[Array] | None:
    """The outputs of ``rule`` computed on the host when its operands are host values: each one
    with its cached host value (``Array._host``), one at least (the caller, ``_dispatch.run``, has
    checked) an Array whose value lives on the host only (``_host_value.HostValue``: an element of
    an iteration, a result of this), all small;
    the results are host values too, so a chain of such ops (``max(H)``'s ``item > current``)
    never uploads nor runs a program.  None where the device path runs it (no exact host rule,
    not small, a view, a case not exact on the host).  The rules are those of the first-sight
    tier, bit-identical to the compiled programs; operands and results are computed already, so
    automatic fusion has nothing to flush."""
    plan: Any = _value_plans.get(key, _value_plans)
    if plan is _value_plans:
        plan = _value_plan(rule, params, args, device)
        if len(_value_plans) >= _MAX_SEEN:
            _value_plans.clear()
        _value_plans[key] = plan
    if plan is None:
        return None
    values = []
    for a in args:
        host = a._host
        if host is None or a._base is not None:  # (a view's cached value may be stale)
            return None
        values.append(host)
    fn, kwargs, outs = plan
    try:
        results = fn(kwargs, *values)
    except _rules()[1]:  # NotExact: this case compiles (the next call may be exact again)
        return None
    _check_types(rule, results, outs)
    with _stats_lock:
        _stats["value_runs"] += 1
    # copies: a result may be (a view of) an operand, whose memory may be a buffer's
    return host_value_results([np.array(r) for r in results], outs, device)


def _value_plan(rule: Any, params: tuple, args: Sequence[Array], device: "Device") -> tuple | None:
    """``(host function, params, output avals)`` of a key :func:`on_host_values` serves; None if
    it serves none."""
    if device.platform != "cpu":
        return None
    fn = _rules()[0].get(rule)
    if fn is None:
        return None
    budget = _small([a._aval for a in args], _VALUE_BYTES)
    if budget < 0:
        return None
    from ._dispatch import checked_module  # (_dispatch imports this module)
    outs = checked_module(rule, params, [a._aval for a in args], device)[1]  # the program's checks and types
    if _small(outs, budget) < 0:
        return None
    return fn, dict(params), outs


def _host_values(results: Sequence[np.ndarray], outs: Sequence[tuple], device: "Device") -> list[Array]:
    """Arrays of a host run's results, held as host values (``_host_value``: uploaded on their
    first device use), so that a chain of host runs, or a host read of the result, never uploads.
    Each owns a copy: nothing, not even an operand a result is a view of, aliases it.  (An array
    the rule made itself is taken as it is; operands are read-only views, never taken.)

    Not ``lasting``: ops on them take the dispatcher's usual path (host runs while the key's
    sightings last, then its program), not :func:`on_host_values`, which runs on the host at every
    call and so would never compile the ops of code that repeats (scikit-learn's ``fbeta_score``
    took 15 against 7 ms per call in its steady state that way)."""
    owned = [r if r.flags.owndata and r.flags.writeable and r.flags.c_contiguous else np.array(r, order="C")
             for r in results]
    return host_value_results(owned, tuple(outs), device, lasting=False)


def _check_types(rule: Any, results: Sequence[np.ndarray], outs: Sequence[tuple]) -> None:
    """A host rule's results have its lowering's types (a disagreement is a bug here, never input)."""
    if len(results) != len(outs) or any(r.shape != s or r.dtype != d for r, (s, d) in zip(results, outs)):
        raise AssertionError(f"host rule of {getattr(rule, '__name__', rule)} disagrees with its lowering: "
                             f"{[(r.shape, r.dtype) for r in results]} against {outs}")


def _bucket(avals: Sequence[tuple], outs: list, device: "Device") -> int:
    """The element count of the shared program an element-wise op without an exact host version
    runs in (64, 4096 or 65,536: the first of them not below the op's count), or 0 where none
    applies: one result, not 0-d, of at most the policy's "small program" count (a bucket never
    crosses the boundary where the compile options change).  Operands that broadcast are spread
    to the result's shape on the host (``_bucketed``): a broadcast repeats values, it computes
    nothing (scipy.signal's tests compiled 921 programs of a complex spectrum times a broadcast
    real filter, one per shape)."""
    if len(outs) != 1 or not outs[0][0]:
        return 0
    shape = outs[0][0]
    n = math.prod(shape)
    small = _policy_for(device.client).small_elements
    if n == 0 or n > small or any(len(s) > len(shape) for s, _ in avals):
        return 0
    bucket = _MIN_BUCKET
    while bucket < n:
        bucket *= _BUCKET_GROWTH
    return min(bucket, small)


def _bucket_program(rule: Any, params: tuple, bufs: list, bucket: int, device: "Device") -> Any:
    """The ``_dispatch._Entry`` of ``rule`` compiled for ``bucket`` elements of the operands' dtypes
    (0-d operands stay parameters): one per bucket, dtypes and parameters, shared by every smaller
    count, so a new size costs no compile."""
    dtypes = tuple((b.dtype, b.shape == ()) for b in bufs)
    program_key = (rule, params, bucket, dtypes, device.token)
    entry = _bucket_programs.get(program_key)
    if entry is None:
        from ._dispatch import compile_rule  # (_dispatch imports this module)
        avals = [((), d) if scalar else ((bucket,), d) for d, scalar in dtypes]
        if len(_bucket_programs) >= _MAX_BUCKET_PROGRAMS:
            _bucket_programs.clear()
        entry = _bucket_programs[program_key] = compile_rule(rule, params, avals, device)
    return entry


def _bucketed(entry: Any, bufs: list, outs: list, device: "Device") -> list[Array]:
    """The bucket program ``entry`` (``_bucket_program``) run on the operands padded with zeros
    (broadcast operands spread to the result's shape first; 0-d ones stay parameters); Arrays of
    the first ``n`` results.  Each element of an element-wise program is
    computed by the same code whatever the element count (checked on both CPU plugins for every
    transcendental function, sizes 1 to 1,000, the vector loop's remainder included:
    tests/test_host_tier.py), so these are the bits the op's own program gives."""
    (shape, _), = outs
    n = math.prod(shape)
    (bucket,), _ = entry.out_avals[0]
    handles, held = [], []
    for b in bufs:
        dtype, scalar = b.dtype, b.shape == ()
        if scalar:
            handles.append(b._handle)
            continue
        padded = np.zeros(bucket, dtype)
        padded[:n].reshape(shape)[...] = b.transient_view()
        held.append(upload(padded, ((bucket,), dtype), device))
        handles.append(held[-1]._handle)
    try:
        out = entry.exe.run(handles, device.handle, entry.out_avals)
    except ResourceExhausted as exc:
        raise device.out_of_memory(exc) from None
    # (``out`` holds the padded results while ``_host_values`` copies their first n elements)
    return _host_values([o.transient_view()[:n].reshape(shape) for o in out], outs, device)


def _in_place(result: np.ndarray, args: Sequence[Array], bufs: list, donate: tuple[int, ...],
              device: "Device") -> Buffer | None:
    """The donated argument's buffer with ``result`` written into its memory, as the donating
    program writes it (the caller found nothing else holding it); None where it cannot be (another
    shape or dtype, a zero-copy upload's memory).  Programs already queued may still read it: they
    are waited for first, as before a writable host view is handed out."""
    from ._donation import consumed  # (_donation imports the dispatcher's modules)
    k = donate[0]
    buf = bufs[k]
    if result.shape != args[k].shape or result.dtype != args[k].dtype or buf._host_ref is not None:
        return None
    _inflight.drain(device)
    memory = buf.numpy_view(known_on_host=True, writable=True, ready=True)
    np.copyto(memory, result)  # (numpy copies through a temporary where they overlap)
    del memory  # its pin, which would make the buffer look shared
    consumed(args, bufs, (k,))
    return buf


def set_host_tier(enabled: bool, *, sightings: int | None = None) -> None:
    """Turn the host tier on or off (all threads; see the module docstring); ``sightings``: how
    many calls of one key of small operands run on the host before it compiles (default 256;
    fewer for operands and results beyond 32 KiB).  Keys seen before count afresh (each key's
    limit is fixed at its first sighting)."""
    global _enabled, _sightings
    if sightings is not None and (isinstance(sightings, bool) or int(sightings) < 1):
        raise ValueError(f"sightings must be a positive int, got {sightings!r}")
    _sightings = int(sightings) if sightings is not None else _SIGHTINGS
    _enabled = bool(enabled)
    _seen.clear()


def host_tier_enabled() -> bool:
    """Whether first sightings of small exact ops run on the host."""
    return _enabled


def info() -> dict[str, int]:
    """The host tier's counts for ``cache_info()``."""
    return {"host_runs": _stats["runs"], "host_declined": _stats["declined"], "host_bucketed": _stats["bucketed"],
            "host_value_runs": _stats["value_runs"]}


def clear() -> None:
    """Forget the keys seen and the bucket programs; reset the counts."""
    _seen.clear()
    _bucket_programs.clear()
    _value_plans.clear()
    with _stats_lock:
        for k in _stats:
            _stats[k] = 0
