"""linalg on the CPU: warm decompositions and solves next to numpy and jax.numpy, and first calls.

pjrt_array runs them as LAPACK custom calls (ops/_lapack.py), small eager calls on computed
operands as the same kernels on the host (ops/_lapack_run.py; "pjrt_array (program)" is the
custom call every time, the host path off).  Five tables:
warm 200x200 float64 (ratio: pjrt_array's time over the other's, the goal
is <= 1.5 against numpy), 8x8 on a new operand each call (computed just before: no host
view cached on it), warm 8x8 float64 (goal <= 1.0 against jax.numpy),
a warm batch of 100 8x8 matrices, and the first call on a shape not seen
before (compile + run; the disk cache is off for this run; goal < 200 ms).  ``--pure`` adds pjrt_array's pure
StableHLO lowering (what non-CPU platforms run) at 8x8 and for the first call.
``--small`` instead times every LAPACK-backed function warm on one 3x3 and one 8x8 float64
matrix (pjrt_array, jax.numpy and numpy taking turns, best of 9 rounds of 300 calls; the goal is
<= 1.0 against jax.numpy).
The libraries take turns and each keeps its best of 7 rounds, so that load
from other processes on a shared machine distorts the ratios less; ``--cpu``
times CPU time instead of wall time (with single-threaded OpenBLAS).
"""

from __future__ import annotations

import os
import sys
import warnings

os.environ["PJRT_ARRAY_CACHE"] = "0"
if "--cpu" in sys.argv:  # CPU time would add up the threads of a multi-threaded LAPACK
    os.environ["OPENBLAS_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402

import pjrt_array as xp  # noqa: E402
from _common import block, clock, jax_numpy, row  # noqa: E402
from pjrt_array.ops import _lapack, _lapack_run  # noqa: E402

now = clock()

CASES = (
    ("eigh", lambda m, a, b: m.linalg.eigh(a)),
    ("svd", lambda m, a, b: m.linalg.svd(a)),
    ("qr", lambda m, a, b: m.linalg.qr(a)),
    ("solve", lambda m, a, b: m.linalg.solve(a, b)),
    ("inv", lambda m, a, b: m.linalg.inv(a)),
    ("det", lambda m, a, b: m.linalg.det(a)),
    ("cholesky", lambda m, a, b: m.linalg.cholesky(a)),
)


def _sync(result):
    for r in result if isinstance(result, tuple) else (result,):
        block(r)
    return result


def _inputs(n: int, seed: int = 0, batch: tuple[int, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Well-conditioned symmetric positive-definite matrices (|det| in range) and two right-hand sides each."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((*batch, n, n))
    return a @ np.swapaxes(a, -1, -2) / n + np.eye(n), rng.standard_normal((*batch, n, 2))


def _best(calls: dict, number: int, rounds: int = 7) -> dict:
    """Seconds per call of each ``calls[lib]()``, best of ``rounds`` turns of ``number`` calls."""
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(rounds):
        for lib, (fn, setup) in calls.items():
            setup()
            start = now()
            for _ in range(number):
                result = fn()
            _sync(result)
            best[lib] = min(best[lib], (now() - start) / number)
    return best


_HOST_BYTES = _lapack_run.HOST_MAX_BYTES


def _mode(mode: str) -> None:
    """pjrt_array's lowering: "lapack" (small eager calls on the host), "program" (always the LAPACK
    custom call) or "pure" (the StableHLO lowering of other platforms)."""
    _lapack.set_enabled(mode != "pure")
    _lapack_run.set_host_max_bytes(_HOST_BYTES if mode == "lapack" else 0)


def fresh(libs: dict, n: int, number: int) -> None:
    """Each call on an operand computed just before (no host view cached on it yet)."""
    a, b = _inputs(n)
    print(f"| {n}x{n} float64, a new operand each call | " + " | ".join(libs) + " |")
    print("|---" * (len(libs) + 1) + "|")
    for name, op in CASES:
        calls = {}
        for lib, (m, mode) in libs.items():
            pool: list = []

            def setup(m=m, mode=mode, pool=pool):
                _mode(mode)
                pool[:] = [(m.asarray(a), m.asarray(b)) for _ in range(number)]
                _sync(pool[-1][0])

            def call(m=m, pool=pool):
                x, y = pool.pop()
                return op(m, x, y)
            calls[lib] = (call, setup)
        times = _best(calls, number)
        _mode("lapack")
        print(row(name, {lib: times.get(lib) for lib in libs}, unit="us"))


def warm(libs: dict, n: int, number: int, batch: tuple[int, ...] = ()) -> None:
    a, b = _inputs(n, batch=batch)
    print(f"| {'x'.join(map(str, (*batch, n, n)))} float64, warm | " + " | ".join(libs) + " |")
    print("|---" * (len(libs) + 1) + "|")
    for name, op in CASES:
        calls = {}
        for lib, (m, mode) in libs.items():
            if m is not None:
                x, y = m.asarray(a), m.asarray(b)
                setup = (lambda mode=mode: _mode(mode))
                setup()
                _sync(op(m, x, y))
                calls[lib] = ((lambda m=m, x=x, y=y: op(m, x, y)), setup)
        times = _best(calls, number)
        _mode("lapack")
        print(row(name, {lib: times.get(lib) for lib in libs}, unit="ms" if n > 50 else "us"))


_SMALL_NAMES = ("qr", "eigvals", "matrix_rank", "eig", "eigh", "eigvalsh", "svd", "svdvals", "cholesky", "inv", "det",
                "slogdet", "pinv")
SMALL_CASES = tuple((name, lambda m, a, name=name: getattr(m.linalg, name)(a)) for name in _SMALL_NAMES)


def small(libs: dict, n: int) -> None:
    """Every LAPACK-backed function, warm, on one n x n float64 matrix."""
    a, _ = _inputs(n)
    print(f"| {n}x{n} float64, warm | " + " | ".join(libs) + " |")
    print("|---" * (len(libs) + 1) + "|")
    for name, op in SMALL_CASES:
        calls = {}
        for lib, m in libs.items():
            x = m.asarray(a)
            _sync(op(m, x))
            calls[lib] = ((lambda m=m, x=x: op(m, x)), lambda: None)
        times = _best(calls, 300, rounds=9)
        print(row(name, times))


def first_call(pure: bool) -> None:
    print("| first call on a new shape (compile + run) | pjrt_array" + (" | pure lowering" if pure else "") + " |")
    print("|---|---" + ("|---" if pure else "") + "|")
    for k, (name, op) in enumerate(CASES):
        cells = []
        for j, lowering in enumerate((False, True)[: 1 + pure]):
            _mode("pure" if lowering else "lapack")
            a, b = _inputs(17 + 2 * k + j)
            x, y = _sync((xp.asarray(a), xp.asarray(b)))
            start = now()
            _sync(op(xp, x, y))
            cells.append(f"{(now() - start) * 1e3:.1f} ms")
        _mode("lapack")
        print(f"| {name} | " + " | ".join(cells) + " |")


def main() -> None:
    warnings.simplefilter("ignore")
    pure = "--pure" in sys.argv
    jnp = jax_numpy()
    if "--small" in sys.argv:
        small_libs = {lib: m for lib, m in (("pjrt_array", xp), ("jax.numpy", jnp), ("numpy", np)) if m is not None}
        small(small_libs, 3)
        print()
        small(small_libs, 8)
        return
    libs = {"pjrt_array": (xp, "lapack"), "numpy": (np, "lapack"), "jax.numpy": (jnp, "lapack"),
            "pjrt_array (program)": (xp, "program")}
    warm(libs, 200, 5)
    print()
    fresh(libs, 8, 300)
    print()
    if pure:
        libs["pjrt_array (pure)"] = (xp, "pure")
    warm(libs, 8, 300)
    print()
    warm(libs, 8, 20, batch=(100,))
    print()
    first_call(pure)


if __name__ == "__main__":
    main()
