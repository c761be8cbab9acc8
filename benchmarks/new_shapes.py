"""New-shape cost: each namespace function called on 50 shapes it has not seen, as a test suite does.

The shapes are drawn like a property-based test's (1-3 dimensions of sides 1-8),
50 distinct ones per function, the same for both libraries; pjrt_array's disk
cache is off, so every program it has not compiled in this process is compiled.
Prints the mean time per call (compile included) and the ratio to jax.numpy,
for pjrt_array with its first-sight host tier (``_host_tier``) on and off: the two
are measured in this process, alternately, after ``cache_clear()`` each time,
best of ``ROUNDS``.
"""

from __future__ import annotations

import os
import sys
import time

os.environ["PJRT_ARRAY_CACHE"] = "0"

import numpy as np  # noqa: E402

import pjrt_array as xp  # noqa: E402
from _common import block, jax_numpy, machine  # noqa: E402

CALLS = {
    "add": lambda m, x: m.add(x, x), "multiply (scalar)": lambda m, x: x * 2.5, "subtract": lambda m, x: x - x,
    "sin": lambda m, x: m.sin(x), "exp": lambda m, x: m.exp(x), "abs": lambda m, x: m.abs(x),
    "sqrt": lambda m, x: m.sqrt(x), "greater": lambda m, x: x > 0.5, "isnan": lambda m, x: m.isnan(x),
    "where": lambda m, x: m.where(x > 0.5, x, 0.0), "astype": lambda m, x: m.astype(x, m.float32),
    "clip": lambda m, x: m.clip(x, 0.2, 0.8), "pow": lambda m, x: x ** 2,
    "sum": lambda m, x: m.sum(x), "mean(axis=-1)": lambda m, x: m.mean(x, axis=-1),
    "max(axis=0)": lambda m, x: m.max(x, axis=0), "argmax": lambda m, x: m.argmax(x),
    "cumulative_sum": lambda m, x: m.cumulative_sum(x, axis=-1) if m is xp else m.cumsum(x, axis=-1),
    "sort": lambda m, x: m.sort(x, axis=-1), "reshape(-1)": lambda m, x: m.reshape(x, (-1,)),
    "flip": lambda m, x: m.flip(x), "concat": lambda m, x: m.concat([x, x]) if m is xp else m.concatenate([x, x]),
    "stack": lambda m, x: m.stack([x, x]), "expand_dims": lambda m, x: m.expand_dims(x, axis=0),
    "zeros_like": lambda m, x: m.zeros_like(x), "getitem [0]": lambda m, x: x[0],
    # writes (jax: the functional update), and the host rules that came with them
    "setitem [0] = 1.0": lambda m, x: _setitem(m, x), "x += 1.5": lambda m, x: _iadd(m, x),
    "searchsorted": lambda m, x: m.searchsorted(m.reshape(x, (-1,)), x),
    "arange (float)": lambda m, x: m.arange(0.0, 1.0, 1.0 / x.size),
    "matmul x @ x.mT": lambda m, x: x @ (m.matrix_transpose(x) if x.ndim > 1 else x),
}


def _setitem(m, x):
    if m is not xp:
        return x.at[0].set(1.0)
    x[0] = 1.0
    return x


def _iadd(m, x):
    if m is not xp:
        return x + 1.5
    x += 1.5
    return x


def shapes(seed: int, count: int = 50) -> list[tuple[int, ...]]:
    rng = np.random.default_rng(seed)
    seen: list[tuple[int, ...]] = []
    while len(seen) < count:
        shape = tuple(int(d) for d in rng.integers(1, 9, size=rng.integers(1, 4)))
        if shape not in seen:
            seen.append(shape)
    return seen


def per_call(m, fn, inputs) -> float:
    xs = [m.asarray(a) for a in inputs]
    for x in xs:
        block(x)
    start = time.perf_counter()
    for x in xs:
        block(fn(m, x))
    return (time.perf_counter() - start) / len(xs)


ROUNDS = 2


def ours(fn, inputs, host_tier: bool) -> float:
    xp.cache_clear()
    xp.set_host_tier(host_tier)
    try:
        return per_call(xp, fn, inputs)
    finally:
        xp.set_host_tier(True)


def main(only: list[str]) -> None:
    """Every function, or those named on the command line."""
    jnp = jax_numpy()
    print(machine())
    print("| function (50 new shapes) | pjrt_array, host tier on | host tier off | jax.numpy (ratio on/jax) |")
    print("|---|---|---|---|")
    totals = [0.0, 0.0, 0.0]
    for seed, (name, fn) in enumerate(CALLS.items()):
        if only and name not in only:
            continue
        inputs = [np.random.default_rng(seed).random(s) for s in shapes(seed)]
        on, off = float("inf"), float("inf")
        for r in range(ROUNDS):  # alternated, the order swapped each round
            for tier in ((True, False) if r % 2 == 0 else (False, True)):
                t = ours(fn, inputs, tier)
                on, off = (min(on, t), off) if tier else (on, min(off, t))
        theirs = per_call(jnp, fn, inputs) if jnp is not None else float("nan")
        for i, t in enumerate((on, off, theirs)):
            totals[i] += t
        print(f"| {name} | {on * 1e3:.2f} ms | {off * 1e3:.2f} ms | {theirs * 1e3:.2f} ms ({on / theirs:.3f}x) |")
    print(f"| **all {len(only or CALLS)} functions** | {totals[0] * 1e3:.2f} ms | {totals[1] * 1e3:.2f} ms | "
          f"{totals[2] * 1e3:.2f} ms ({totals[0] / totals[2]:.3f}x) |")


if __name__ == "__main__":
    main(sys.argv[1:])
