"""Per-op dispatch cost: ``x + y`` and ``sin(x)`` on 4-element float32 arrays.

Ops run asynchronously in a loop and are synchronized once at the end.
Prints a markdown table; ratios are pjrt_array's time over the other's
(below 1.0 means pjrt_array is faster).
"""

from __future__ import annotations

import numpy as np

import pjrt_array as xp
from _common import block, jax_numpy, per_call, row

N = 20000


def main() -> None:
    a = np.arange(4, dtype=np.float32)
    libs = {"pjrt_array": xp, "numpy": np, "jax.numpy": jax_numpy()}
    print("| op (4 x float32) | pjrt_array | numpy (ratio) | jax.numpy (ratio) |")
    print("|---|---|---|---|")
    for name, op in (("x + y", lambda m, x, y: x + y), ("sin(x)", lambda m, x, y: m.sin(x))):
        times = {}
        for lib, m in libs.items():
            if m is None:
                times[lib] = None
                continue
            x, y = m.asarray(a), m.asarray(a + 1)
            block(op(m, x, y))  # compile outside the timing
            times[lib] = per_call(lambda: op(m, x, y), number=N, sync=block)
        print(row(name, {k: times[k] for k in libs}))


if __name__ == "__main__":
    main()
