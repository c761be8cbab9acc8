"""Host reads on the CPU device: first ``numpy.asarray(x)`` of a fresh array, 1 KB vs 100 MB.

A read is a zero-copy view, so its cost must not grow with the size.
Uploads are shown too: ``xp.asarray`` of a writable array (a copy) and of a
read-only, 64-byte aligned one (shared).
"""

from __future__ import annotations

import statistics
import time

import numpy as np

import pjrt_array as xp


def first_read(nbytes: int, count: int) -> float:
    arrays = [xp.asarray(np.ones(nbytes // 4, np.float32)) for _ in range(count)]
    for a in arrays:
        a.block_until_ready()
    times = []
    for a in arrays:
        t = time.perf_counter()
        np.asarray(a)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def upload(nbytes: int, shared: bool) -> float:
    raw = np.empty(nbytes + 64, np.uint8)
    offset = (-raw.ctypes.data) % 64
    host = raw[offset:offset + nbytes].view(np.float32)
    host[:] = 1
    host.flags.writeable = not shared
    times = []
    for _ in range(5):
        t = time.perf_counter()
        xp.asarray(host).block_until_ready()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    print("| size | first np.asarray(x) | xp.asarray(writable) | xp.asarray(read-only, aligned) |")
    print("|---|---|---|---|")
    for label, nbytes, count in (("1 KB", 1024, 200), ("100 MB", 100 * 1024 * 1024, 10)):
        print(f"| {label} | {first_read(nbytes, count) * 1e6:.1f} us | {upload(nbytes, False) * 1e6:.0f} us | "
              f"{upload(nbytes, True) * 1e6:.0f} us |")


if __name__ == "__main__":
    main()
