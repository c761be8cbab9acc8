"""Large arrays used once: the host tier's first host run against a compile at full optimization.

A test suite (SciPy's, scikit-learn's) calls an op once or twice on a large array of its own.
Below ``PJRT_ARRAY_HOST_TIER_BYTES`` of operands and results the op's first sighting runs in
numpy and its second compiles; above it the first call compiles (20-40 ms at full optimization).
This prints, for 15 ops on float64 vectors of 2**17 to 2**21 elements, the time of a first call
and a second (the compile counted wherever it falls) with the bound at 1 MiB (every size here
compiles at once) and at 64 MiB (the default: one host run, then the compile), and numpy's time
for the same two calls.  The disk cache is off; each case starts from empty caches.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

os.environ["PJRT_ARRAY_CACHE"] = "0"

import numpy as np  # noqa: E402

import pjrt_array as xp  # noqa: E402
from pjrt_array import _dispatch, _host_tier  # noqa: E402
from _common import machine  # noqa: E402

Op = Callable[[Any, Any, Any], Any]
OPS: dict[str, Op] = {
    "add": lambda m, a, b: a + b,
    "multiply": lambda m, a, b: a * b,
    "less": lambda m, a, b: a < b,
    "where": lambda m, a, b: m.where(a > 0, a, b),
    "sum": lambda m, a, b: m.sum(a),
    "sum(axis=0) of 2 rows": lambda m, a, b: m.sum(m.reshape(a, (2, -1)), axis=0),
    "sum(axis=1) of 2 rows": lambda m, a, b: m.sum(m.reshape(a, (2, -1)), axis=1),
    "max": lambda m, a, b: m.max(a),
    "sort": lambda m, a, b: m.sort(a),
    "take every 3rd": lambda m, a, b: a[m.asarray(np.arange(0, a.shape[0], 3))],
    "boolean mask": lambda m, a, b: a[a > 0],
    "astype float32": lambda m, a, b: m.astype(a, m.float32),
    "stack": lambda m, a, b: m.stack([a, b]),
    "abs": lambda m, a, b: m.abs(a),
    "negative": lambda m, a, b: -a,
}
SIZES = (1 << 17, 1 << 20, 1 << 21)
BOUNDS = (1 << 20, 64 << 20)


def two_calls(m: Any, op: Op, a: Any, b: Any) -> float:
    """Seconds for two calls of ``op``, each result read back (as a test's assertion reads it)."""
    start = time.perf_counter()
    for _ in range(2):
        np.asarray(op(m, a, b))
    return time.perf_counter() - start


def main() -> None:
    print(f"# {machine()}")
    print("# ms for a first and a second call, float64; host tier bound 1 MiB (compile at once) / "
          "64 MiB (a host run, then the compile)")
    print(f"{'op':24s} {'elements':>9s} {'1 MiB':>8s} {'64 MiB':>8s} {'ratio':>6s} {'numpy':>7s}")
    rng = np.random.default_rng(0)
    default = _host_tier._max_bytes
    for n in SIZES:
        a_np, b_np = rng.standard_normal(n), rng.standard_normal(n)
        for name, op in OPS.items():
            times = []
            for bound in BOUNDS:
                _host_tier._max_bytes = bound
                _dispatch.cache_clear()
                a, b = xp.asarray(a_np), xp.asarray(b_np)
                np.asarray(a), np.asarray(b)  # uploaded and computed before the clock starts
                times.append(two_calls(xp, op, a, b))
            reference = two_calls(np, op, a_np, b_np)
            print(f"{name:24s} {n:9d} {times[0] * 1e3:8.1f} {times[1] * 1e3:8.1f} "
                  f"{times[0] / times[1]:5.1f}x {reference * 1e3:7.1f}")
    _host_tier._max_bytes = default


if __name__ == "__main__":
    main()
