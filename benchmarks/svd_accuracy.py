"""Accuracy and speed of the pure StableHLO SVD (what non-CPU platforms run) next to LAPACK's.

For each ill-conditioned family of tests/svd_cases.py (condition ~1e6), dtype and
shape, prints the backward error |A - U S Vᴴ|/|A|, the orthogonality |UᴴU - I| and
|VᴴV - I|, and the largest relative error of the singular values (against an
extended-precision Jacobi), for pjrt_array's pure lowering and for
numpy.linalg.svd (LAPACK gesdd), and the ratio ours/LAPACK (the goal is <= 10).
Then the time of a first call on a new shape (compile + run, disk cache off) and
of warm calls, best of 3 and interleaved with numpy (``--cpu``: CPU time of this
process instead of wall time, less distorted by other processes' load).
``--large`` adds n = 500 and 1000 to the timings.  Run it against another checkout with
``PYTHONPATH=<checkout> python benchmarks/svd_accuracy.py`` to compare versions.
"""

from __future__ import annotations

import os
import sys

os.environ["PJRT_ARRAY_CACHE"] = "0"
if "--cpu" in sys.argv:  # CPU time would add up the threads of a multi-threaded LAPACK
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import numpy as np  # noqa: E402

import pjrt_array as xp  # noqa: E402
from _common import clock  # noqa: E402
from pjrt_array.ops import _lapack  # noqa: E402
from svd_cases import FAMILIES, errors, exact_singular_values, relative_sv_error  # noqa: E402

SHAPES = ((20, 20), (30, 20), (20, 30))
DTYPES = (np.float64, np.float32, np.complex128, np.complex64)
MEASURES = ("backward", "orth_u", "orth_v", "sv_rel")


def measure(a: np.ndarray) -> tuple[dict[str, float], dict[str, float]]:
    """(ours, LAPACK's) errors for ``a``."""
    exact = exact_singular_values(a)
    out = []
    for u, s, vh in ((np.asarray(t) for t in xp.linalg.svd(xp.asarray(a))), np.linalg.svd(a)):
        e = errors(a, u, s, vh)
        e["sv_rel"] = relative_sv_error(s, exact)
        out.append(e)
    return out[0], out[1]


def accuracy_table() -> list[float]:
    print(f"{'family':14} {'dtype':10} {'shape':8} " + " ".join(f"{m + ' ours/LAPACK':>26}" for m in MEASURES))
    worst = {m: 0.0 for m in MEASURES}
    for name, family in FAMILIES.items():
        for dtype in DTYPES:
            for shape in ((7, 7),) if name == "vandermonde7" else SHAPES:
                a = family(*shape, dtype)
                ours, ref = measure(a)
                eps = float(np.finfo(a.real.dtype).eps)
                cells = []
                for m in MEASURES:
                    ratio = ours[m] / max(ref[m], eps)
                    worst[m] = max(worst[m], ratio)
                    cells.append(f"{ours[m]:9.1e} / {ref[m]:7.1e} = {ratio:5.1f}")
                print(f"{name:14} {np.dtype(dtype).name:10} {f'{shape[0]}x{shape[1]}':8} " + " ".join(f"{c:>26}" for c in cells))
    print("worst ratio (LAPACK's error floored at eps): " + ", ".join(f"{m} {worst[m]:.1f}" for m in MEASURES))
    return list(worst.values())


def timing_table(sizes: tuple[int, ...]) -> None:
    now = clock()
    print(f"\n{'n':>5} {'first call (s)':>15} {'warm svd (s)':>13} {'numpy (s)':>10} {'warm svdvals (s)':>17}")
    rng = np.random.default_rng(0)
    for n in sizes:
        a = rng.standard_normal((n, n))
        x = xp.asarray(a)
        start = now()
        np.asarray(xp.linalg.svd(x)[0])
        first = now() - start
        np.asarray(xp.linalg.svdvals(x))
        ours, theirs, vals = [], [], []
        for _ in range(3):  # interleaved, best of 3
            start = now()
            np.asarray(xp.linalg.svd(x)[0])
            ours.append(now() - start)
            start = now()
            np.linalg.svd(a)
            theirs.append(now() - start)
            start = now()
            np.asarray(xp.linalg.svdvals(x))
            vals.append(now() - start)
        print(f"{n:5d} {first:15.3f} {min(ours):13.3f} {min(theirs):10.4f} {min(vals):17.3f}")


if __name__ == "__main__":
    _lapack.set_enabled(False)
    print(f"pjrt_array from {os.path.dirname(xp.__file__)}, pure StableHLO lowering")
    accuracy_table()
    timing_table((50, 200, 500, 1000) if "--large" in sys.argv else (50, 200))
