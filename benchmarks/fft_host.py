"""Eager FFTs on CPU: numpy.fft on the host (``ops/_fft_host.py``) against the compiled program.

Two tables, pjrt_array with its FFT host path on and off side by side, numpy and jax.numpy:

1. *New lengths*: each function called on 50 lengths it has not seen (2-D operands, 3 rows by
   4-300 columns), as a test suite calls it; the disk cache is off and the in-memory cache cleared
   before each run, so the program path compiles every length.  Mean time per call.
2. *Warm sizes*: ``fft`` of one complex128 vector of 2**k elements, called until cached, time per
   call: the host path, the host path followed by its result's upload (what a later device op
   pays once), the cached program.  This is what the size bound (``HOST_MAX_BYTES``) rests on.

Each pjrt_array mode alternates with the other in this process, best of ``ROUNDS``.
``python fft_host.py [new|warm]`` runs one table.
"""

from __future__ import annotations

import os
import sys
import time

os.environ["PJRT_ARRAY_CACHE"] = "0"

import numpy as np  # noqa: E402

import pjrt_array as xp  # noqa: E402
from pjrt_array.ops import _fft_host  # noqa: E402
from _common import block, jax_numpy, machine  # noqa: E402

ROUNDS = 3
_BOUND = _fft_host.HOST_MAX_BYTES

CALLS = {
    "fft": lambda m, x: m.fft.fft(x), "ifft": lambda m, x: m.fft.ifft(x), "rfft": lambda m, x: m.fft.rfft(x),
    "irfft": lambda m, x: m.fft.irfft(x), "hfft": lambda m, x: m.fft.hfft(x),
    "ihfft": lambda m, x: m.fft.ihfft(x), "fftn": lambda m, x: m.fft.fftn(x),
    "ifftn": lambda m, x: m.fft.ifftn(x), "rfftn": lambda m, x: m.fft.rfftn(x),
    "irfftn": lambda m, x: m.fft.irfftn(x),
}


def _host(on: bool, limit: int = _BOUND) -> None:
    _fft_host.set_host_max_bytes(limit if on else 0)


_REAL_INPUT = {"rfft", "ihfft", "rfftn"}


def _inputs(name: str, seed: int) -> list[np.ndarray]:
    lengths = np.random.default_rng(seed).choice(np.arange(4, 301), 50, replace=False)
    rng = np.random.default_rng(seed)
    real = name in _REAL_INPUT
    return [rng.standard_normal((3, int(n))) + (0 if real else 1j * rng.standard_normal((3, int(n))))
            for n in lengths]


def _per_call(m, fn, xs) -> float:
    start = time.perf_counter()
    for x in xs:
        block(fn(m, x))
    return (time.perf_counter() - start) / len(xs)


def new_lengths(jnp) -> None:
    print("| function (50 new lengths) | host path | program (compiles) | numpy | jax.numpy | host / jax |")
    print("|---|---|---|---|---|---|")
    for seed, (name, fn) in enumerate(CALLS.items()):
        arrays = _inputs(name, seed)
        best = {True: float("inf"), False: float("inf")}
        for r in range(ROUNDS):
            for on in ((True, False) if r % 2 == 0 else (False, True)):
                xs = [xp.asarray(a) for a in arrays]
                xp.cache_clear()
                _host(on)
                best[on] = min(best[on], _per_call(xp, fn, xs))
        _host(True)
        ours_np = min(_per_call(np, fn, arrays) for _ in range(ROUNDS))
        theirs = float("nan")
        if jnp is not None:
            jxs = [block(jnp.asarray(a)) for a in arrays]
            theirs = _per_call(jnp, fn, jxs)  # (one round: a second would find jax's programs cached)
        print(f"| {name} | {best[True] * 1e3:.3f} ms | {best[False] * 1e3:.2f} ms | {ours_np * 1e3:.3f} ms | "
              f"{theirs * 1e3:.2f} ms | {best[True] / theirs:.3f} |")


def _loop(call, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - start) / calls


def warm_sizes(jnp) -> None:
    print("| fft, complex128, elements (operand + result bytes) | host path | host path + upload | program (cached) "
          "| numpy | jax.numpy (cached) |")
    print("|---|---|---|---|---|---|")
    for k in range(4, 19, 2):
        a = np.random.default_rng(k).standard_normal(2 ** k) + 0j
        x = xp.asarray(a)
        calls = max(20, 2 ** 17 // 2 ** k)
        modes = {
            "host": lambda: xp.fft.fft(x),
            "upload": lambda: xp.fft.fft(x)._buf.get(),
            "program": lambda: block(xp.fft.fft(x)),
        }
        best = dict.fromkeys(modes, float("inf"))
        for _ in range(ROUNDS):
            for mode, call in modes.items():
                _host(mode != "program", 1 << 30)  # (past the bound too: what the bound rests on)
                call()  # (compiled and cached before the timing)
                best[mode] = min(best[mode], _loop(call, calls))
        _host(True)
        ours_np = min(_loop(lambda: np.fft.fft(a), calls) for _ in range(ROUNDS))
        theirs = float("nan")
        if jnp is not None:
            ja = block(jnp.asarray(a))
            block(jnp.fft.fft(ja))
            theirs = min(_loop(lambda: block(jnp.fft.fft(ja)), calls) for _ in range(ROUNDS))
        us = {mode: f"{t * 1e6:.1f} us" for mode, t in best.items()}
        print(f"| 2**{k} ({2 ** k * 32 / 1024:g} KiB) | {us['host']} | {us['upload']} | {us['program']} | "
              f"{ours_np * 1e6:.1f} us | {theirs * 1e6:.1f} us |")


def main(which: list[str]) -> None:
    jnp = jax_numpy()
    print(machine())
    if not which or "new" in which:
        new_lengths(jnp)
    if not which or "warm" in which:
        warm_sizes(jnp)


if __name__ == "__main__":
    main(sys.argv[1:])
