"""``pjrt_array.jit`` against ``jax.jit`` on the workloads of ``workloads.py``, interleaved.

On a shared machine wall times move by 2-3x between runs, so this measures
CPU time of the process (``time.process_time``: both libraries run these
programs on the calling thread and their own pool, all counted), with the two
libraries interleaved (A, B, A, B ...) and the best of 7 rounds.  First
calls (trace + lower + compile) use a fresh executable cache and are one
measurement each (CPU time as well).

Run: ``python benchmarks/jit_vs_jax.py [name filter ...]`` (about 30 s).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from typing import Any, Callable

os.environ["PJRT_ARRAY_CACHE_DIR"] = tempfile.mkdtemp(prefix="pjrt_array-bench-")  # compile times are real

import numpy as np  # noqa: E402

import pjrt_array as xp  # noqa: E402
from _common import jax_numpy, machine  # noqa: E402
from workloads import _data  # noqa: E402


def _cpu(fn: Callable[[], Any]) -> float:
    start = time.process_time()
    np.asarray(fn())
    return time.process_time() - start


def main() -> None:
    jnp = jax_numpy()
    if jnp is None:
        raise SystemExit("jax is not installed")
    import jax
    print(f"Machine: {machine()}\n")
    print("| workload | pjrt_array.jit | jax.jit | ratio | first call: pjrt_array.jit | jax.jit |")
    print("|---|---|---|---|---|---|")
    wanted = sys.argv[1:]
    for name, (work, *host) in _data().items():
        if wanted and not any(w in name for w in wanted):
            continue
        ours = xp.jit(lambda *a: work(xp, lambda n, f, s: xp.fori_loop(0, n, f, s), *a))
        theirs = jax.jit(lambda *a: work(jnp, lambda n, f, s: jax.lax.fori_loop(0, n, f, s), *a))
        args, jargs = [xp.asarray(h) for h in host], [jnp.asarray(h) for h in host]
        first = {"ours": _cpu(lambda: ours(*args)), "jax": _cpu(lambda: theirs(*jargs))}
        number = 3 if "Monte" in name else 200 if "RK4" in name else 20
        best = {"ours": float("inf"), "jax": float("inf")}
        for _ in range(7):
            for lib, fn in (("ours", lambda: ours(*args)), ("jax", lambda: theirs(*jargs))):
                start, out = time.process_time(), None
                for _ in range(number):
                    out = fn()
                np.asarray(out)
                best[lib] = min(best[lib], (time.process_time() - start) / number)
        print(f"| {name} | {best['ours'] * 1e3:.3f} ms | {best['jax'] * 1e3:.3f} ms | "
              f"{best['ours'] / best['jax']:.2f} | {first['ours'] * 1e3:.0f} ms | {first['jax'] * 1e3:.0f} ms |",
              flush=True)


if __name__ == "__main__":
    main()
