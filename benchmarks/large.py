"""Large arrays: element-wise ops and reductions on 4M float32, matmul 1024x1024 (f32, f64)."""

from __future__ import annotations

import numpy as np

import pjrt_array as xp
from _common import block, jax_numpy, per_call, row

CASES = (
    ("x * y + 1 (4M f32)", lambda m, x, y: x * y + 1),
    ("sin(x) (4M f32)", lambda m, x, y: m.sin(x)),
    ("sum(x) (4M f32)", lambda m, x, y: m.sum(x)),
    ("max(x) (4M f32)", lambda m, x, y: m.max(x)),
)


def main() -> None:
    libs = {"pjrt_array": xp, "numpy": np, "jax.numpy": jax_numpy()}
    rng = np.random.default_rng(0)
    a = rng.standard_normal(4 * 1024 * 1024, dtype=np.float32)
    b = rng.standard_normal(4 * 1024 * 1024, dtype=np.float32)
    print("| case | pjrt_array | numpy (ratio) | jax.numpy (ratio) |")
    print("|---|---|---|---|")
    for name, op in CASES:
        times = {}
        for lib, m in libs.items():
            if m is None:
                times[lib] = None
                continue
            x, y = m.asarray(a), m.asarray(b)
            block(op(m, x, y))
            times[lib] = per_call(lambda: op(m, x, y), number=10, sync=block)
        print(row(name, times, unit="ms"))
    for dtype in (np.float32, np.float64):
        p = rng.standard_normal((1024, 1024)).astype(dtype)
        times = {}
        for lib, m in libs.items():
            if m is None:
                times[lib] = None
                continue
            x = m.asarray(p)
            block(x @ x)
            times[lib] = per_call(lambda: x @ x, number=5, sync=block)
        print(row(f"matmul 1024x1024 {np.dtype(dtype).name}", times, unit="ms"))


if __name__ == "__main__":
    main()
