"""The per-call cost of the hot paths against jax, interleaved in one process.

Three pairs, each measured A, B, A, B ... and reported as the best of many
short rounds (CPU time of the process, ``time.process_time``: on a shared
machine wall time moves by 2-3x between runs while the CPU a call costs does
not, and short rounds find the moments when no other process evicted our
caches):

- the cached call of a jitted 10-op function on 8 float32 (``workloads.py``'s
  ``ten``) against ``jax.jit``;
- eager ``x + y`` on 4 float32 against ``jax.numpy``;
- eager ``sin(x)`` on 4 float32 against ``jax.numpy``.

Run: ``python benchmarks/call_path.py [rounds] [calls per round]`` (defaults 201, 300; about 40 s).
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

import numpy as np

import pjrt_array as xp
from _common import jax_numpy, machine


def ten(m: Any, x: Any, y: Any) -> Any:
    z = x * y + 1.0
    z = m.sin(z) - m.cos(y)
    z = m.exp(-z * z) / (1.0 + y * y)
    return m.sqrt(m.abs(z)) + x


def _round(fn: Callable[[], Any], number: int) -> float:
    out = None
    start = time.process_time()
    for _ in range(number):
        out = fn()
    np.asarray(out)
    return (time.process_time() - start) / number


def interleaved(pairs: dict[str, Callable[[], Any]], rounds: int, number: int) -> dict[str, float]:
    """Best per-call CPU time of each callable, the callables taking turns round by round."""
    best = {name: float("inf") for name in pairs}
    for _ in range(rounds):
        for name, fn in pairs.items():
            best[name] = min(best[name], _round(fn, number))
    return best


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 201
    number = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    jnp = jax_numpy()
    if jnp is None:
        raise SystemExit("jax is not installed")
    import jax
    print(f"Machine: {machine()}; best of {rounds} rounds of {number} calls, CPU time\n")
    a8, a4 = np.arange(8, dtype=np.float32), np.arange(4, dtype=np.float32)
    x8, y8, jx8, jy8 = xp.asarray(a8), xp.asarray(a8 + 1), jnp.asarray(a8), jnp.asarray(a8 + 1)
    x4, y4, jx4, jy4 = xp.asarray(a4), xp.asarray(a4 + 1), jnp.asarray(a4), jnp.asarray(a4 + 1)
    ours, theirs = xp.jit(lambda x, y: ten(xp, x, y)), jax.jit(lambda x, y: ten(jnp, x, y))
    cases = {
        "jitted 10-op function, 8 x float32": (lambda: ours(x8, y8), lambda: theirs(jx8, jy8)),
        "eager x + y, 4 x float32": (lambda: x4 + y4, lambda: jx4 + jy4),
        "eager sin(x), 4 x float32": (lambda: xp.sin(x4), lambda: jnp.sin(jx4)),
    }
    print("| call | pjrt_array | jax | ratio |\n|---|---|---|---|")
    for name, (mine, other) in cases.items():
        mine(), other()  # compile outside the timing
        best = interleaved({"ours": mine, "jax": other}, rounds, number)
        print(f"| {name} | {best['ours'] * 1e6:.2f} us | {best['jax'] * 1e6:.2f} us | "
              f"{best['ours'] / best['jax']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
