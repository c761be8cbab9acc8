"""Cold compile of a new shape: ``x + y`` and ``sum(sin(x) * 2, axis=0)``, compile + first run.

Each iteration uses a shape not seen before (pjrt_array's disk cache is
disabled for this run), so every call pays a compile.
"""

from __future__ import annotations

import os
import statistics
import time

os.environ["PJRT_ARRAY_CACHE"] = "0"

import numpy as np  # noqa: E402

import pjrt_array as xp  # noqa: E402
from _common import block, jax_numpy, row  # noqa: E402

CASES = (
    ("x + y (new shape)", lambda m, x, y: x + y),
    ("sum(sin(x) * 2, axis=0) (new shape)", lambda m, x, y: m.sum(m.sin(x) * 2.0, axis=0)),
)


def cold(m, op, start: int, count: int = 15) -> float:
    times = []
    for k in range(count):
        a = np.ones((start + k, 3), np.float32)
        x, y = m.asarray(a), m.asarray(a)
        block(x), block(y)
        t = time.perf_counter()
        block(op(m, x, y))
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    libs = {"pjrt_array": xp, "jax.numpy": jax_numpy()}
    print("| case | pjrt_array | jax.numpy (ratio) |")
    print("|---|---|---|")
    for i, (name, op) in enumerate(CASES):
        times = {lib: None if m is None else cold(m, op, 100 + 50 * i) for lib, m in libs.items()}
        print(row(name, times, unit="ms"))


if __name__ == "__main__":
    main()
