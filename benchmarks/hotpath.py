"""Per-operation Python cost of eager code: cached small ops and the dispatch-bound loops.

Part 1 (fusion off, so every call executes): a cached call of ``x + y``,
``v[1:]``, ``sum``, ``exp`` on 100 float64 and ``M @ M``, ``M.T`` on 8x8,
next to jax.numpy's eager call and numpy's.  Part 2 (fusion on, the
default): the dispatch-bound loops of ``workloads.py`` next to numpy and jax
eager, after warm-up rounds that let fusion compile its graphs; each call
waits for its result.  Libraries take turns (A, B, C, A, B, C, ...) in this
one process and each keeps its best round; ``--cpu`` times this process's
CPU time instead of wall time.

Run: ``python benchmarks/hotpath.py`` (about a minute).
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

import numpy as np

import pjrt_array as xp
from pjrt_array import _fusion
from _common import jax_numpy, machine
import workloads as W

clock = time.process_time if "--cpu" in sys.argv else time.perf_counter


def _best(fns: dict[str, Callable[[], Any]], number: int, rounds: int,
          sync: Callable[[Any], Any] = lambda r: r) -> dict[str, float]:
    """Best time per call of each function, the functions taking turns round by round."""
    best = {k: float("inf") for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            start = clock()
            result = None
            for _ in range(number):
                result = fn()
            sync(result)
            best[k] = min(best[k], (clock() - start) / number)
    return best


def _sync(x: Any) -> Any:
    leaf = x[0] if isinstance(x, tuple) else x
    return leaf.block_until_ready() if hasattr(leaf, "block_until_ready") else leaf


def small_ops(jnp: Any) -> None:
    xp.set_fusion(False)
    host = {"x": np.linspace(0.1, 0.9, 100), "y": np.linspace(1.1, 1.9, 100),
            "M": np.random.default_rng(0).standard_normal((8, 8))}
    cases: dict[str, Callable[[Any, dict], Any]] = {
        "x + y": lambda m, d: d["x"] + d["y"],
        "v[1:]": lambda m, d: d["x"][1:],
        "sum(v)": lambda m, d: m.sum(d["x"]),
        "exp(v)": lambda m, d: m.exp(d["x"]),
        "M @ M": lambda m, d: d["M"] @ d["M"],
        "M.T": lambda m, d: d["M"].T,
    }
    libs: dict[str, tuple[Any, dict]] = {"pjrt_array": (xp, {k: xp.asarray(v) for k, v in host.items()})}
    if jnp is not None:
        libs["jax.numpy"] = (jnp, {k: jnp.asarray(v) for k, v in host.items()})
    libs["numpy"] = (np, host)
    print("| op (fusion off) | " + " | ".join(libs) + " | pjrt_array / jax |")
    print("|---|" + "---|" * (len(libs) + 1))
    for name, case in cases.items():
        fns = {lib: (lambda c=case, m=m, d=d: c(m, d)) for lib, (m, d) in libs.items()}
        for fn in fns.values():
            _sync(fn())
        t = _best(fns, 5000, 7, _sync)
        ratio = f"{t['pjrt_array'] / t['jax.numpy']:.2f}x" if "jax.numpy" in t else "n/a"
        print(f"| `{name}` | " + " | ".join(f"{v * 1e6:.2f} us" for v in t.values()) + f" | {ratio} |")
    xp.set_fusion(True)


def loops(jnp: Any) -> None:
    xp.set_fusion(True)
    data = W._data()
    print("\n| loop (fusion on) | numpy | jax eager | pjrt_array eager + fusion | vs numpy | vs jax |")
    print("|---|---|---|---|---|---|")
    for name, (work, *host) in data.items():
        if "softmax" in name:
            continue  # not dispatch-bound (four ops per call)
        number = 2 if "Monte" in name or "RK4" in name else 5
        args = [xp.asarray(h) for h in host]
        fns: dict[str, Callable[[], Any]] = {"numpy": lambda: work(np, W.python_loop, *host)}
        if jnp is not None:
            jargs = [jnp.asarray(h) for h in host]
            fns["jax eager"] = lambda: _sync(work(jnp, W.python_loop, *jargs))
        fns["pjrt_array"] = lambda: _sync(work(xp, W.python_loop, *args))
        for _ in range(3):  # fusion's graphs recur and compile
            fns["pjrt_array"]()
            _fusion.wait_for_compiles()
        t = _best(fns, number, 5)
        jax_t = t.get("jax eager")
        print(f"| {name} | {t['numpy'] * 1e3:.3f} ms | " + ("n/a" if jax_t is None else f"{jax_t * 1e3:.3f} ms")
              + f" | {t['pjrt_array'] * 1e3:.3f} ms | {t['pjrt_array'] / t['numpy']:.2f}x | "
              + ("n/a" if jax_t is None else f"{t['pjrt_array'] / jax_t:.2f}x") + " |")


def main() -> None:
    jnp = jax_numpy()
    print(f"Machine: {machine()}; {'CPU' if clock is time.process_time else 'wall'} time, best round\n")
    if "--loops" not in sys.argv:
        small_ops(jnp)
    if "--ops" not in sys.argv:
        loops(jnp)


if __name__ == "__main__":
    main()
