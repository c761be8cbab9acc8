"""Realistic numpy-style loops on numpy, jax eager, jax.jit, pjrt_array eager and pjrt_array.jit.

Each workload is written once against an array namespace ``m`` and a
``loop(n, body, state)`` (a Python loop eagerly, ``fori_loop`` when jitted),
so every library runs the same code.  Times are medians of warm runs; the
ratio in parentheses is the other library's time over ``pjrt_array.jit``'s
(above 1.0: pjrt_array.jit is faster).  Then: compile time of each jitted
workload (first call, fresh caches) and the cached call of a jitted 10-op
function on small arrays.

Run: ``python benchmarks/workloads.py`` (about a minute).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from typing import Any, Callable

os.environ["PJRT_ARRAY_CACHE_DIR"] = tempfile.mkdtemp(prefix="pjrt_array-bench-")  # compile times are real

import numpy as np  # noqa: E402

import pjrt_array as xp  # noqa: E402
from _common import jax_numpy, machine, per_call  # noqa: E402


def python_loop(n: int, body: Callable, state: Any) -> Any:
    for i in range(n):
        state = body(i, state)
    return state


# -- workloads: (m, loop, *data) -> result ---------------------------------------------------------

def kmeans(m: Any, loop: Callable, points: Any, centroids: Any) -> Any:
    k = centroids.shape[0]

    def step(i: Any, c: Any) -> Any:
        d = m.sum((points[:, None, :] - c[None, :, :]) ** 2, axis=-1)
        labels = m.argmin(d, axis=1)
        onehot = m.astype(labels[:, None] == m.arange(k)[None, :], points.dtype)
        counts = m.maximum(m.sum(onehot, axis=0), 1.0)
        return m.matmul(onehot.T, points) / counts[:, None]
    return loop(10, step, centroids)


def logistic(m: Any, loop: Callable, x: Any, y: Any, w: Any) -> Any:
    n = x.shape[0]

    def step(i: Any, w: Any) -> Any:
        p = 1.0 / (1.0 + m.exp(-m.matmul(x, w)))
        return w - 0.1 * m.matmul(x.T, p - y) / n
    return loop(100, step, w)


def conjugate_gradients(m: Any, loop: Callable, a: Any, b: Any) -> Any:
    def step(i: Any, s: Any) -> Any:
        x, r, p, rs = s
        ap = m.matmul(a, p)
        alpha = rs / m.sum(p * ap)
        x, r = x + alpha * p, r - alpha * ap
        rs_new = m.sum(r * r)
        return x, r, r + (rs_new / rs) * p, rs_new
    return loop(50, step, (b * 0.0, b, b, m.sum(b * b)))[0]


def rk4(m: Any, loop: Callable, y0: Any) -> Any:
    dt = 0.001

    def lorenz(y: Any) -> Any:
        return m.stack([10.0 * (y[1] - y[0]), y[0] * (28.0 - y[2]) - y[1], y[0] * y[1] - (8.0 / 3.0) * y[2]])

    def step(i: Any, y: Any) -> Any:
        k1 = lorenz(y)
        k2 = lorenz(y + 0.5 * dt * k1)
        k3 = lorenz(y + 0.5 * dt * k2)
        k4 = lorenz(y + dt * k3)
        return y + (dt / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return loop(300, step, y0)


def monte_carlo(m: Any, loop: Callable, z: Any) -> Any:
    s = 100.0 * m.exp((0.05 - 0.5 * 0.2 ** 2) * 1.0 + 0.2 * z)
    return m.mean(m.maximum(s - 105.0, 0.0)) * np.exp(-0.05)


def softmax(m: Any, loop: Callable, x: Any) -> Any:
    e = m.exp(x - m.max(x, axis=1, keepdims=True))
    return e / m.sum(e, axis=1, keepdims=True)


def _data() -> dict[str, tuple]:
    rng = np.random.default_rng(0)
    spd = rng.standard_normal((100, 100))
    x = rng.standard_normal((1000, 10))
    return {
        "k-means (2000x2, k=5, 10 it)": (kmeans, rng.standard_normal((2000, 2)), rng.standard_normal((5, 2))),
        "logistic regression (1000x10, 100 it)": (logistic, x, (x[:, 0] > 0).astype(np.float64), np.zeros(10)),
        "conjugate gradients (100x100, 50 it)": (conjugate_gradients, spd @ spd.T + 100 * np.eye(100),
                                                 rng.standard_normal(100)),
        "RK4 Lorenz (3 elements, 300 steps)": (rk4, np.array([1.0, 1.0, 1.0])),
        "Monte Carlo payoff (4M normals)": (monte_carlo, rng.standard_normal(4_000_000)),
        "row softmax (1000x100)": (softmax, rng.standard_normal((1000, 100))),
    }


def _timed(fn: Callable[[], Any], sync: Callable[[Any], Any], number: int) -> float:
    return per_call(fn, number=number, repeat=5, sync=sync)


def _first_call(fn: Callable[[], Any], sync: Callable[[Any], Any]) -> float:
    start = time.perf_counter()
    sync(fn())
    return time.perf_counter() - start


def _sync(result: Any) -> Any:
    leaf = result[0] if isinstance(result, tuple) else result
    return np.asarray(leaf)


def main() -> None:
    jnp = jax_numpy()
    jax = __import__("jax") if jnp is not None else None
    print(f"Machine: {machine()}\n")
    header = ["numpy", "jax eager", "jax.jit", "pjrt_array eager", "pjrt_array.jit"]
    print("| workload | " + " | ".join(header) + " |")
    print("|---|" + "---|" * len(header))
    compile_rows = []
    for name, (work, *host) in _data().items():
        number = 3 if "Monte" in name else 10
        times: dict[str, float | None] = {}
        times["numpy"] = _timed(lambda: work(np, python_loop, *host), _sync, number)
        args = [xp.asarray(h) for h in host]
        jitted = xp.jit(lambda *a: work(xp, lambda n, f, s: xp.fori_loop(0, n, f, s), *a))
        compile_ours = _first_call(lambda: jitted(*args), _sync)
        times["pjrt_array eager"] = _timed(lambda: work(xp, python_loop, *args), _sync, number)
        times["pjrt_array.jit"] = _timed(lambda: jitted(*args), _sync, number)
        if jnp is not None:
            jargs = [jnp.asarray(h) for h in host]
            jj = jax.jit(lambda *a: work(jnp, lambda n, f, s: jax.lax.fori_loop(0, n, f, s), *a))
            compile_jax = _first_call(lambda: jj(*jargs), _sync)
            times["jax eager"] = _timed(lambda: work(jnp, python_loop, *jargs), _sync, number)
            times["jax.jit"] = _timed(lambda: jj(*jargs), _sync, number)
        else:
            compile_jax, times["jax eager"], times["jax.jit"] = None, None, None
        ours = times["pjrt_array.jit"]
        cells = []
        for lib in header:
            t = times[lib]
            cells.append("n/a" if t is None else f"{t * 1e3:.3f} ms" if lib == "pjrt_array.jit"
                         else f"{t * 1e3:.3f} ms ({t / ours:.2f}x)")
        print(f"| {name} | " + " | ".join(cells) + " |")
        compile_rows.append((name, compile_ours, compile_jax))
    print("\n| first call (trace + compile) | pjrt_array.jit | jax.jit |\n|---|---|---|")
    for name, ours, theirs in compile_rows:
        print(f"| {name} | {ours * 1e3:.1f} ms | " + ("n/a" if theirs is None else f"{theirs * 1e3:.1f} ms") + " |")
    _ten_ops(jnp, jax)


def _ten_ops(jnp: Any, jax: Any) -> None:
    def ten(m: Any, x: Any, y: Any) -> Any:
        z = x * y + 1.0
        z = m.sin(z) - m.cos(y)
        z = m.exp(-z * z) / (1.0 + y * y)
        return m.sqrt(m.abs(z)) + x

    a = np.arange(8, dtype=np.float32)
    x, y = xp.asarray(a), xp.asarray(a + 1)
    ours = xp.jit(lambda x, y: ten(xp, x, y))
    ours(x, y)
    results = {"pjrt_array.jit": statistics.median(
        [per_call(lambda: ours(x, y), number=5000, repeat=1, sync=_sync) for _ in range(5)])}
    if jnp is not None:
        jx, jy = jnp.asarray(a), jnp.asarray(a + 1)
        theirs = jax.jit(lambda x, y: ten(jnp, x, y))
        theirs(jx, jy).block_until_ready()
        results["jax.jit"] = statistics.median(
            [per_call(lambda: theirs(jx, jy), number=5000, repeat=1, sync=_sync) for _ in range(5)])
    print("\n| cached call, 10-op function on 8 float32 | " + " | ".join(results) + " |")
    print("|---|" + "---|" * len(results))
    print("| per call | " + " | ".join(f"{t * 1e6:.2f} us" for t in results.values()) + " |")


if __name__ == "__main__":
    main()
