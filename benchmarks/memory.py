"""Writes and memory: ``x[0] = 1.0`` and ``x += 1`` on 1 KB and 100 MB, the peak RSS of loops
of 32 MB temporaries (``ones(4M) + 1``, ``exp(ones(4M) + 1)``), of ``x @= y`` on 2000x2000
float64, and what the process holds before any of them (``--baseline``: RSS after each start-up
step, and the resident memory of the loaded plugin), pjrt_array vs numpy vs jax.numpy.

Each memory case runs in a fresh process (peak RSS is per process).  jax.numpy has no
in-place update: its rows are ``x.at[0].set(1.0)``, ``x = x + 1`` and ``x = x @ y``.
Run: ``python benchmarks/memory.py`` (``--baseline`` for the start-up breakdown alone).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from _common import block, jax_numpy, machine, per_call, row

HERE = os.path.dirname(os.path.abspath(__file__))
SMALL, LARGE = 128, 12_500_000  # float64: 1 KB and 100 MB


def _lib(name: str):
    if name == "numpy":
        return np
    if name == "pjrt_array":
        import pjrt_array
        return pjrt_array
    return jax_numpy()


def _update_times(name: str) -> dict[str, float]:
    m = _lib(name)
    out = {}
    for n in (SMALL, LARGE):
        x = m.zeros(n, dtype=m.float64)
        block(x)
        if name == "jax.numpy":
            holder = [x]

            def setitem() -> object:
                holder[0] = holder[0].at[0].set(1.0)
                return holder[0]

            def iadd() -> object:
                holder[0] = holder[0] + 1
                return holder[0]
        else:
            def setitem() -> object:
                x[0] = 1.0
                return x

            def iadd() -> object:
                nonlocal x
                x += 1
                return x
        setitem(), iadd()
        block(x)
        out[f"x[0] = 1.0, {n * 8 // 1000} kB"] = per_call(setitem, number=20, sync=block)
        out[f"x += 1, {n * 8 // 1000} kB"] = per_call(iadd, number=20, sync=block)
    return out


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024


def _current_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def _iadd_rss(name: str) -> dict[str, float]:
    """Peak RSS growth over 10 ``x += 1`` on 100 MB (a second buffer would add 100 MB)."""
    m = _lib(name)
    x = m.zeros(LARGE, dtype=m.float64) + 0
    block(x)
    if name == "jax.numpy":
        x = x + 1
    else:
        x += 1
    block(x)
    start = _rss_mb()
    for _ in range(10):
        if name == "jax.numpy":
            x = x + 1
        else:
            x += 1
    block(x)
    return {"x += 1 (100 MB): peak RSS growth, MB": _rss_mb() - start}


def _loop_rss(name: str) -> dict[str, float]:
    """``for _ in range(50): c = ones(4_000_000) + 1``: peak RSS of the process."""
    m = _lib(name)
    c = m.ones(10)
    block(c)
    base = _current_mb()
    for _ in range(50):
        c = m.ones(4_000_000, dtype=m.float64) + 1
    block(c)
    return {"loop of 32 MB temporaries: peak RSS, MB": _rss_mb(),
            "loop of 32 MB temporaries: peak RSS above start, MB": _rss_mb() - base}


def _loop_rss_kept(name: str) -> dict[str, float]:
    """The loop of ``_loop_rss`` with ``PJRT_ARRAY_RELEASE_PLUGIN_CODE=0``: the plugin's code
    pages stay resident (read when the client starts; other libraries ignore it)."""
    os.environ["PJRT_ARRAY_RELEASE_PLUGIN_CODE"] = "0"
    got = _loop_rss(name)
    return {"loop of 32 MB temporaries, plugin code kept resident: peak RSS, MB":
            got["loop of 32 MB temporaries: peak RSS, MB"]}


def _unary_loop_rss(name: str) -> dict[str, float]:
    """``for _ in range(50): c = exp(ones(4_000_000) + 1)``: the sum is a temporary."""
    m = _lib(name)
    c = m.exp(m.ones(10))
    block(c)
    base = _current_mb()
    for _ in range(50):
        c = m.exp(m.ones(4_000_000, dtype=m.float64) + 1)
    block(c)
    return {"loop of exp(32 MB temporary): peak RSS above start, MB": _rss_mb() - base}


def _imatmul_rss(name: str) -> dict[str, float]:
    """Peak RSS growth over 5 ``x @= y`` on 2000x2000 float64 (32 MB; a new buffer each would
    add 32 MB while the old one lives)."""
    m = _lib(name)
    x = m.eye(2000, dtype=m.float64) * 0.5 + 0
    y = m.eye(2000, dtype=m.float64) * 2.0
    x = x @ y
    block(x)
    start = _rss_mb()
    for _ in range(5):
        if name == "jax.numpy":
            x = x @ y
        else:
            x @= y
    block(x)
    return {"x @= y (32 MB): peak RSS growth, MB": _rss_mb() - start}


def _mapped_mb(names: tuple[str, ...]) -> float:
    """Resident MB of the mappings of files whose name contains one of ``names``."""
    total, inside = 0, False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and len(head) >= 5 and ":" in head[3]:  # a mapping's first line
                inside = len(head) > 5 and any(n in head[5] for n in names)
            elif inside and head[0] == "Rss:":
                total += int(head[1])
    return total / 1024


def _baseline(name: str) -> dict[str, float]:
    """RSS after each start-up step: the interpreter and numpy, the library, its first op."""
    out = {"start-up: python + numpy, MB": _current_mb()}
    m = _lib(name)
    out["start-up: + import, MB"] = _current_mb()
    block(m.ones(10) + 1)
    out["start-up: + first op (client, compile or disk cache), MB"] = _current_mb()
    out["start-up: of which plugin libraries, MB"] = _mapped_mb(("pjrt", "xla", "jaxlib"))
    out["start-up: of which anonymous (heap, stacks, Python objects), MB"] = _anonymous_mb()
    return out


def _anonymous_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("RssAnon")) / 1024


CASES = {"baseline": _baseline, "updates": _update_times, "iadd_rss": _iadd_rss, "loop_rss": _loop_rss,
         "loop_rss_kept": _loop_rss_kept, "unary_loop_rss": _unary_loop_rss, "imatmul_rss": _imatmul_rss}


# Each library is measured with its bytecode compiled, as an installed package has it (pip
# writes .pyc files); where the environment forbids writing them (PYTHONDONTWRITEBYTECODE),
# they go to a folder of their own.  Compiling pjrt_array's sources at every start costs ~7 MB.
_ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        "PYTHONPYCACHEPREFIX": os.environ.get("PYTHONPYCACHEPREFIX")
        or os.path.join(tempfile.gettempdir(), "pjrt_array-benchmark-pycache")}


def _in_subprocess(case: str, lib: str) -> dict[str, float] | None:
    done = subprocess.run([sys.executable, __file__, "--case", case, lib], capture_output=True, text=True,
                          cwd=HERE, timeout=900, env=_ENV)
    if done.returncode != 0:
        if "No module named 'jax'" in done.stderr:
            return None
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(cases: tuple[str, ...] = tuple(CASES)) -> None:
    libs = ("pjrt_array", "numpy", "jax.numpy")
    print(f"Machine: {machine()}\n")
    subprocess.run([sys.executable, "-c", "import pjrt_array"], cwd=HERE, env=_ENV, check=True)  # bytecode
    results: dict[str, dict[str, float | None]] = {}
    for case in cases:
        for lib in libs:
            got = _in_subprocess(case, lib)
            for key, value in (got or {}).items():
                results.setdefault(key, {})[lib] = value
    print("| case | pjrt_array | numpy (ratio) | jax.numpy (ratio) |")
    print("|---|---|---|---|")
    for key, by_lib in results.items():
        if "MB" in key:
            cells = [f"{by_lib.get(lib, float('nan')):.0f} MB" for lib in libs]
            print(f"| {key.removesuffix(', MB')} | " + " | ".join(cells) + " |")
        else:
            print(row(key, {lib: by_lib.get(lib) for lib in libs}))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--case":
        print(json.dumps(CASES[sys.argv[2]](sys.argv[3])))
    elif len(sys.argv) > 1 and sys.argv[1] == "--baseline":
        main(("baseline",))
    else:
        main()
