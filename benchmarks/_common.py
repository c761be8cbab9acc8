"""Shared helpers of the side-by-side benchmarks: timing, machine description, optional JAX."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from typing import Any, Callable

import numpy as np

# Set before JAX loads its XLA, whose logging a plugin may share (see _pjrt/_loader.py).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def jax_numpy() -> Any:
    """``jax.numpy`` on the CPU if JAX is installed, else None.

    pjrt_array's client is made first, so that the process-wide settings it
    makes then (logging, malloc arenas) apply as they do without JAX.
    """
    import pjrt_array
    pjrt_array.asarray(0)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
    except ImportError:
        return None
    return jnp


def clock() -> Callable[[], float]:
    """The timer of a benchmark run: wall time, or with ``--cpu`` this process's CPU time, which
    other processes' load on a shared machine does not inflate (it also counts the process's
    other threads, so use it for single-threaded work)."""
    return time.process_time if "--cpu" in sys.argv else time.perf_counter


def per_call(fn: Callable[[], Any], *, number: int, repeat: int = 5, sync: Callable[[Any], Any] = lambda r: r) -> float:
    """Median over ``repeat`` runs of the time per call (seconds) of ``number`` calls, synced at the end."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = None
        for _ in range(number):
            result = fn()
        sync(result)
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times)


def machine() -> str:
    """A one-line description of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}"


def block(x: Any) -> Any:
    """Wait for an array of any of the compared libraries."""
    if hasattr(x, "block_until_ready"):
        x.block_until_ready()
    return x


def row(name: str, times: dict[str, float | None], unit: str = "us", base: str = "pjrt_array") -> str:
    """A markdown table row: each library's time and its ratio to ``base``."""
    scale = {"us": 1e6, "ms": 1e3}[unit]
    cells = []
    for lib, t in times.items():
        if t is None:
            cells.append("n/a")
        elif lib == base or times.get(base) is None:
            cells.append(f"{t * scale:.2f} {unit}")
        else:
            cells.append(f"{t * scale:.2f} {unit} ({times[base] / t:.2f}x)")
    return f"| {name} | " + " | ".join(cells) + " |"
