"""Where the time of an eager loop with automatic fusion goes: per op, per segment end, per host read.

1. Deferred ops (``configure(hot=0)``: every segment deferred), a host read every 50 ops so each
   op carries a fiftieth of a flush: ``x * y``, ``x * 0.5``, ``x[0]``, ``exp``, ``sum``, ``M @ x``,
   ``M.T``, a ``stack`` of three ``x[i]``, and the Lorenz right-hand side of ``workloads.py``.
2. RK4 from ``workloads.py`` in its steady state (every segment a fused hit): the calling
   thread's time per call, and how much of it goes to segment ends and to the plugin's execute
   (timers wrapped around ``_Recorder.end`` and ``LoadedExecutable.run``, every execute's path).
3. Conjugate gradients with a host read per iteration (``if float(rs) < tol``, never taken):
   per iteration, the ops, the segment's end and the host read (``Buffer.numpy_view``).

Times are this thread's CPU time (``time.thread_time``): the plugin's worker threads and other
processes on a shared machine do not count.  Compare versions by running this script for each,
taking turns.  Run: ``python benchmarks/eager_breakdown.py``.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

import pjrt_array as xp
from pjrt_array import _fusion
from pjrt_array._pjrt import Buffer, LoadedExecutable
import workloads as W

clock = time.thread_time


def _timers(targets: list[tuple[Any, str]]) -> dict[str, float]:
    """Wrap each ``(owner, name)`` in a timer; the dict accumulates seconds per name."""
    spent = {name: 0.0 for _, name in targets}
    for owner, name in targets:
        def timed(*args: Any, _orig: Callable = getattr(owner, name), _name: str = name, **kwargs: Any) -> Any:
            start = clock()
            try:
                return _orig(*args, **kwargs)
            finally:
                spent[_name] += clock() - start
        setattr(owner, name, timed)
    return spent


def per_op() -> None:
    previous = _fusion.configure(hot=0)
    x, y = xp.asarray(np.array([1.0, 2.0, 3.0])), xp.asarray(np.array([2.0, 3.0, 4.0]))
    m = xp.asarray(np.eye(3))

    def lorenz() -> Any:
        return xp.stack([10.0 * (x[1] - x[0]), x[0] * (28.0 - x[2]) - x[1], x[0] * x[1] - (8.0 / 3.0) * x[2]])

    cases: dict[str, tuple[Callable[[], Any], int]] = {
        "x * y": (lambda: x * y, 1), "x * 0.5": (lambda: x * 0.5, 1), "x[0]": (lambda: x[0], 1),
        "exp(x)": (lambda: xp.exp(x), 1), "sum(x)": (lambda: xp.sum(x), 1), "M @ x": (lambda: m @ x, 1),
        "M.T": (lambda: m.T, 1), "stack([x[0], x[1], x[2]]) (4 ops)": (lambda: xp.stack([x[0], x[1], x[2]]), 1),
        "Lorenz right-hand side (19 ops), per op": (lorenz, 19),
    }
    print("| deferred op | µs per op |\n|---|---|")
    for name, (fn, ops) in cases.items():
        best = float("inf")
        for _ in range(5):
            start = clock()
            for _ in range(200):
                for _ in range(50):
                    r = fn()
                np.asarray(r)
            best = min(best, (clock() - start) / (10_000 * ops))
        print(f"| `{name}` | {best * 1e6:.2f} |")
    _fusion.configure(hot=previous[0], bound=previous[1], saved=previous[2])


def rk4() -> None:
    work, *host = W._data()["RK4 Lorenz (3 elements, 300 steps)"]
    args = [xp.asarray(h) for h in host]
    for _ in range(5):  # the graphs recur and compile
        np.asarray(work(xp, W.python_loop, *args))
        _fusion.wait_for_compiles()
    spent = _timers([(_fusion._Recorder, "end"), (LoadedExecutable, "run")])
    before = xp.cache_info()
    start = clock()
    for _ in range(5):
        np.asarray(work(xp, W.python_loop, *args))
    total = (clock() - start) / 5
    after = xp.cache_info()
    ends = (after["fused_hits"] + after["fused_replays"] - before["fused_hits"] - before["fused_replays"]) / 5
    print(f"\nRK4 per call (this thread): {total * 1e3:.1f} ms; {ends:.0f} segment ends "
          f"{spent['end'] / 5 * 1e3:.1f} ms ({spent['end'] / 5 / ends * 1e6:.0f} µs each), of which the "
          f"plugin's execute {spent['run'] / 5 * 1e3:.1f} ms; fused hits "
          f"{after['fused_hits'] - before['fused_hits']}, replays {after['fused_replays'] - before['fused_replays']}")


def cg_with_reads() -> None:
    rng = np.random.default_rng(0)
    s = rng.standard_normal((100, 100))
    a, b = xp.asarray(s @ s.T + 100 * np.eye(100)), xp.asarray(rng.standard_normal(100))

    def cg() -> Any:
        x, r, p, rs = b * 0.0, b, b, xp.sum(b * b)
        for _ in range(50):
            ap = a @ p
            alpha = rs / xp.sum(p * ap)
            x, r = x + alpha * p, r - alpha * ap
            rs_new = xp.sum(r * r)
            if float(rs_new) < 0.0:
                break
            p, rs = r + (rs_new / rs) * p, rs_new
        return x

    for _ in range(10):
        cg()
        _fusion.wait_for_compiles()
    spent = _timers([(_fusion._Recorder, "end"), (LoadedExecutable, "run"), (Buffer, "numpy_view")])
    start = clock()
    for _ in range(10):
        cg()
    n = 10 * 50  # iterations
    total = (clock() - start) / n
    print(f"\nCG with a host read per iteration, per iteration (this thread): {total * 1e6:.0f} µs; segment end "
          f"{spent['end'] / n * 1e6:.0f} µs (the plugin's execute {spent['run'] / n * 1e6:.0f} µs); "
          f"host read {spent['numpy_view'] / n * 1e6:.0f} µs")


if __name__ == "__main__":
    xp.set_fusion(True)
    per_op()
    rk4()
    cg_with_reads()
