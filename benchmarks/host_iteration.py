"""Python-level iteration and the scalar work it leads to, side by side with numpy and array-api-strict.

SciPy's ``minimum_phase(h, 'hilbert')`` calls the builtins ``max(H)`` and ``min(H)`` on a
1-D array of ~500k elements: one element and one comparison per step.  This times, per element,
``max``, ``min``, ``sum`` and ``list`` of a 1-D float64 array and a loop ``bool(v > 0.5)``,
then the dispatcher's cost for ordinary device arrays (``x + y``, ``sin(x)``, ``x[0]``,
``sum(x)``, ``x > y``, ``x * 2.0`` on 4 elements, per call), which host-value ops must not slow.
Libraries take turns, each keeping its best of the rounds.

``python host_iteration.py [--n N] [--rounds R]``;
``python host_iteration.py --against PATH`` also runs the pjrt_array found under ``PATH`` (e.g.
an export of another commit) in processes alternating with this tree's, best of the rounds each;
``--no-fusion`` turns automatic fusion off (every op dispatched and executed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any, Callable

import numpy as np


def _arg(name: str, default: Any) -> Any:
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


N = _arg("--n", 20_000)
ROUNDS = _arg("--rounds", 3)
ITERATION: dict[str, Callable[[Any], Any]] = {
    "max(H)": max, "min(H)": min, "sum(H)": sum, "list(H)": list,
    "for v in H: bool(v > 0.5)": lambda h: [bool(v > 0.5) for v in h],
}
DISPATCH: dict[str, Callable[[Any, Any, Any], Any]] = {
    "x + y": lambda m, x, y: x + y, "sin(x)": lambda m, x, y: m.sin(x), "x[0]": lambda m, x, y: x[0],
    "sum(x)": lambda m, x, y: m.sum(x), "x > y": lambda m, x, y: x > y, "x * 2.0": lambda m, x, y: x * 2.0,
}


def _best(fn: Callable[[], Any], times: int, best: float) -> float:
    start = time.perf_counter()
    for _ in range(times):
        fn()
    return min(best, (time.perf_counter() - start) / times)


def measure(libs: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Seconds per element (iteration) and per call (dispatch) of each library, best of ROUNDS."""
    data = np.random.default_rng(0).random(N)
    small = np.linspace(0.5, 2.0, 4)
    arrays = {name: (m.asarray(data), m.asarray(small), m.asarray(small[::-1].copy())) for name, m in libs.items()}
    out: dict[str, dict[str, float]] = {name: {} for name in libs}
    for _ in range(ROUNDS):
        for label, fn in ITERATION.items():
            for name, m in libs.items():
                h = arrays[name][0]
                t = _best(lambda: fn(h), 1, out[name].get(label, float("inf")) * N)
                out[name][label] = t / N
        for label, op in DISPATCH.items():
            for name, m in libs.items():
                _, x, y = arrays[name]
                for _ in range(200):
                    op(m, x, y)  # warm: compiled, fused or not, as a loop runs it
                out[name][label] = _best(lambda: op(m, x, y), 5000, out[name].get(label, float("inf")))
                getattr(op(m, x, y), "block_until_ready", lambda: None)()
    return out


def _libraries(pjrt_only: bool) -> dict[str, Any]:
    import pjrt_array
    if "--no-fusion" in sys.argv:
        pjrt_array.set_fusion(False)
    libs: dict[str, Any] = {"pjrt_array": pjrt_array}
    if not pjrt_only:
        libs["numpy"] = np
        try:
            import array_api_strict
            libs["array_api_strict"] = array_api_strict
        except ImportError:
            pass
    return libs


def _child(path: str) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=path + os.pathsep + os.path.dirname(__file__))
    args = [sys.executable, __file__, "--child", "--n", str(N), "--rounds", "2",  # (the first warms)
            *[a for a in sys.argv if a == "--no-fusion"]]
    return json.loads(subprocess.run(args, env=env, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    if "--child" in sys.argv:
        print(json.dumps(measure(_libraries(True))["pjrt_array"]))
        return
    results = measure(_libraries(False))
    if "--against" in sys.argv:
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        before: dict[str, float] = {}
        after: dict[str, float] = {}
        for _ in range(ROUNDS):  # processes alternate: before, after, before, after...
            for store, path in ((before, _arg("--against", "")), (after, here)):
                for label, t in _child(path).items():
                    store[label] = min(t, store.get(label, float("inf")))
        results = {"pjrt_array before": before, "pjrt_array after": after,
                   **{k: v for k, v in results.items() if k != "pjrt_array"}}
    names = list(results)
    fusion = "off" if "--no-fusion" in sys.argv else "on"
    print(f"N = {N}; fusion {fusion}; best of {ROUNDS} rounds; us per element (iteration) or per call (dispatch)")
    print(f"{'':30s}" + "".join(f"{n:>20s}" for n in names))
    for label in [*ITERATION, *DISPATCH]:
        print(f"{label:30s}" + "".join(f"{results[n][label] * 1e6:20.2f}" for n in names))


if __name__ == "__main__":
    main()
