"""What automatic fusion costs code that runs once, side by side with fusion off.

1. A single call of each of a spread of namespace functions on a shape not
   seen before (the per-op compile is paid in both modes; fusion adds its
   recording), fusion off and on alternately on fresh shapes.
2. scikit-learn ``PCA().fit`` on 2000x50 under ``array_api_dispatch`` (if
   scikit-learn is installed): per-op executables warmed with fusion off, then
   fits timed with fusion off and, after clearing fusion's memory, the first
   six fits with fusion on (a recurring fit starts fusing at fit 3; each fit
   then waits for background compiles, which count in the next fit's time).

Times are process CPU time (this machine is shared; CPU time is steadier than
wall time and counts the background compile thread too).
Run: ``python benchmarks/fusion_run_once.py``.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from typing import Any, Callable

os.environ["PJRT_ARRAY_CACHE_DIR"] = tempfile.mkdtemp(prefix="pjrt_array-bench-")  # compiles are real
os.environ.setdefault("SCIPY_ARRAY_API", "1")  # scikit-learn's array_api_dispatch needs it

import numpy as np  # noqa: E402

import pjrt_array as xp  # noqa: E402
from pjrt_array import _fusion  # noqa: E402
from _common import machine  # noqa: E402

FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "exp": xp.exp, "sin": xp.sin, "sqrt": lambda a: xp.sqrt(xp.abs(a)), "add": lambda a: a + a,
    "multiply scalar": lambda a: a * 1.5, "divide": lambda a: a / (a + 10.0), "maximum": lambda a: xp.maximum(a, 0.0),
    "where": lambda a: xp.where(a > 0, a, -a), "sum": xp.sum, "mean axis": lambda a: xp.mean(a, axis=0),
    "max": xp.max, "argmin axis": lambda a: xp.argmin(a, axis=1), "cumulative_sum": lambda a: xp.cumulative_sum(a, axis=0),
    "sort": lambda a: xp.sort(a, axis=1), "matmul": lambda a: a @ a.T, "transpose": lambda a: a.T,
    "reshape": lambda a: xp.reshape(a, (-1,)), "concat": lambda a: xp.concat([a, a]),
    "stack": lambda a: xp.stack([a, a]), "getitem slice": lambda a: a[1:, ::2], "getitem int": lambda a: a[0],
    "astype": lambda a: xp.astype(a, xp.float32), "clip": lambda a: xp.clip(a, -1.0, 1.0),
    "linalg.norm": lambda a: xp.linalg.vector_norm(a), "std": xp.std,
}


def _cpu(fn: Callable[[], Any]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def single_calls() -> None:
    totals: dict[bool, list[float]] = {False: [], True: []}
    rows = 5 + 2 * len(FUNCTIONS)
    for round_ in range(3):
        for fusion in (False, True) if round_ % 2 == 0 else (True, False):
            xp.set_fusion(fusion)
            rows += 1
            a = xp.asarray(np.random.default_rng(rows).standard_normal((rows, 7)))
            totals[fusion].append(sum(_cpu(lambda: np.asarray(fn(a))) for fn in FUNCTIONS.values()))
    off, on = statistics.median(totals[False]), statistics.median(totals[True])
    print(f"| {len(FUNCTIONS)} namespace functions, one call each on a new shape | {off * 1e3:.1f} ms | "
          f"{on * 1e3:.1f} ms | {on / off:.2f}x |")


def pca_fit() -> None:
    try:
        import sklearn
        from sklearn.decomposition import PCA
    except ImportError:
        print("| scikit-learn PCA().fit 2000x50 | n/a (scikit-learn not installed) | | |")
        return
    x = xp.asarray(np.random.default_rng(0).standard_normal((2000, 50)))
    with sklearn.config_context(array_api_dispatch=True):
        xp.set_fusion(False)
        PCA().fit(x)  # per-op executables compiled once, for both modes
        off = statistics.median([_cpu(lambda: PCA().fit(x)) for _ in range(3)])
        _fusion.clear()
        xp.set_fusion(True)
        on = []
        for _ in range(6):
            on.append(_cpu(lambda: PCA().fit(x)))
            _fusion.wait_for_compiles()
    fits = ", ".join(f"{t * 1e3:.1f}" for t in on)
    print(f"| scikit-learn PCA().fit 2000x50 (fits 1-6 with fusion on: {fits} ms) | {off * 1e3:.1f} ms | "
          f"{on[0] * 1e3:.1f} ms | {on[0] / off:.2f}x (fit 6: {on[5] / off:.2f}x) |")


def main() -> None:
    print(f"Machine: {machine()}\n")
    print("| run-once workload | fusion off | fusion on (first run) | on / off |\n|---|---|---|---|")
    single_calls()
    pca_fit()
    print(f"\nfusion statistics: { {k: v for k, v in xp.cache_info().items() if k.startswith('fused')} }")


if __name__ == "__main__":
    main()
