"""Side-by-side benchmarks on one platform (the GPU by default): pjrt_array vs jax.

Each library runs in its own process (so each gets the device to itself, with
its default allocator settings), writing JSON; ``--table`` joins the files into
a markdown table of ratios against the targets of issue 17::

    python benchmarks/gpu.py --lib pjrt_array --platform gpu --json ours.json
    python benchmarks/gpu.py --lib jax --platform gpu --json jax.json
    python benchmarks/gpu.py --table ours.json jax.json

``--quick`` shrinks every size (a dry run on CPU checks the script in seconds).
Times are medians of per-call times over loops synchronized once at the end;
every result of a loop is kept and waited for, so no library can skip unread
work (pjrt_array's fusion would).  ``first`` is the first call, compile included.
Both libraries multiply float32 at full precision (jax's default on a GPU is TF32).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import traceback
from typing import Any, Callable

import numpy as np

# (name, operation, kind, full size, quick size, calls per timing loop); kind picks the target below.
CASES = [
    ("x + y, 4 x f32", "add", "dispatch", 4, 4, 20000),
    ("sin(x), 4 x f32", "sin", "dispatch", 4, 4, 20000),
    ("x + y, 4M f32", "add", "elementwise", 4_000_000, 4_000, 200),
    ("exp(x), 4M f32", "exp", "elementwise", 4_000_000, 4_000, 200),
    ("x + y, 100M f32", "add", "elementwise", 100_000_000, 100_000, 20),
    ("x * y + 1, 100M f32", "fma", "elementwise", 100_000_000, 100_000, 20),
    ("sum(x), 100M f32", "sum", "elementwise", 100_000_000, 100_000, 20),
    ("matmul 4096 f32", "matmul", "matmul", 4096, 64, 20),
    ("matmul 4096 f64", "matmul", "matmul", 4096, 64, 5),
    ("eigh 1000 f32", "eigh", "linalg", 1000, 32, 3),
    ("svd 1000 f32", "svd", "linalg", 1000, 32, 3),
    ("solve 1000 f32", "solve", "linalg", 1000, 32, 5),
]
# Issue 17's targets: pjrt_array's time over jax's at most this.
TARGETS = {"dispatch": 1.0, "elementwise": 1.1, "matmul": 1.1, "linalg": 1.5}


def load(lib: str, platform: str) -> tuple[Any, Callable[[Any], Any], Callable[[np.ndarray], Any], str]:
    """(namespace, sync, upload, device description) of ``lib`` on ``platform``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if lib == "jax":
        os.environ["JAX_PLATFORMS"] = {"gpu": "cuda"}.get(platform, platform)
        import jax
        jax.config.update("jax_enable_x64", True)  # float64 inputs stay float64, as in pjrt_array
        jax.config.update("jax_default_matmul_precision", "highest")  # float32 products as accurate as ours
        import jax.numpy as jnp
        device = jax.devices()[0]
        return jnp, jax.block_until_ready, lambda a: jax.device_put(a, device), f"jax {jax.__version__} {device}"
    import pjrt_array as xp
    xp.set_default_platform(platform)
    device = xp.__array_namespace_info__().default_device()

    def sync(result: Any) -> Any:
        if isinstance(result, (tuple, list)):
            for r in result:
                sync(r)
        else:
            result.block_until_ready()
        return result
    return xp, sync, xp.asarray, f"pjrt_array {device!r} {device.kind} ({device.client.platform_version})"


def inputs(op: str, n: int, dtype: type, upload: Callable[[np.ndarray], Any]) -> tuple[Any, ...]:
    rng = np.random.default_rng(0)
    if op in ("add", "sin", "exp", "fma", "sum"):
        return upload(rng.random(n, dtype=np.float32)), upload(rng.random(n, dtype=np.float32))
    m: Any = rng.standard_normal((n, n)).astype(dtype)
    if op == "eigh":
        return (upload((m + m.T) / 2),)
    if op == "svd":
        return (upload(m),)
    if op == "solve":
        return upload(m + n * np.eye(n, dtype=dtype)), upload(rng.standard_normal(n).astype(dtype))
    return upload(m), upload(rng.standard_normal((n, n)).astype(dtype))


def operation(op: str, m: Any) -> Callable[..., Any]:
    ops: dict[str, Callable[..., Any]] = {
        "add": lambda x, y: x + y,
        "sin": lambda x, y: m.sin(x),
        "exp": lambda x, y: m.exp(x),
        "fma": lambda x, y: x * y + 1,
        "sum": lambda x, y: m.sum(x),
        "matmul": lambda x, y: x @ y,
        "eigh": lambda x: m.linalg.eigh(x),
        "svd": lambda x: m.linalg.svd(x),
        "solve": lambda a, b: m.linalg.solve(a, b),
    }
    return ops[op]


def measure(lib: str, platform: str, quick: bool, save: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Every case's timings; ``save`` gets the results so far after each case (a run cut short keeps them)."""
    m, sync, upload, device = load(lib, platform)
    results: dict[str, Any] = {}
    report = {"lib": lib, "platform": platform, "device": device, "quick": quick, "results": results}
    for name, op_name, kind, full, small, number in CASES:
        n = small if quick else full
        try:
            args = inputs(op_name, n, np.float64 if "f64" in name else np.float32, upload)
            op = operation(op_name, m)
            start = time.perf_counter()
            sync(op(*args))
            first = time.perf_counter() - start
            loops, repeats = (max(1, number // 10), 3) if quick else (number, 5)
            if first > 1.0:  # slow (linalg on a GPU): a few calls are enough, and the time budget is short
                loops, repeats = 1, 2
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                sync([op(*args) for _ in range(loops)])
                times.append((time.perf_counter() - start) / loops)
            results[name] = {"kind": kind, "n": n, "first_s": first, "warm_s": statistics.median(times)}
        except Exception as exc:  # noqa: BLE001 - one failing case must not hide the others
            results[name] = {"kind": kind, "n": n, "error": f"{type(exc).__name__}: {exc}"[:300],
                             "traceback": traceback.format_exc()[-2000:]}
        print(f"{lib:>10} {name:<22} {_cell(results[name])}", file=sys.stderr, flush=True)
        save(report)
    return report


def _cell(r: dict[str, Any]) -> str:
    if "error" in r:
        return "error: " + r["error"].splitlines()[0][:80]
    t = r["warm_s"]
    return f"{t * 1e6:.1f} us" if t < 1e-3 else f"{t * 1e3:.2f} ms"


def table(ours: dict[str, Any], theirs: dict[str, Any]) -> str:
    """Markdown: each case's time for both libraries, the ratio, the target and whether it is met."""
    lines = [f"pjrt_array: {ours['device']}  ", f"jax: {theirs['device']}" + ("  \n(quick sizes)" if ours["quick"] else ""),
             "", "| case | pjrt_array | jax | ratio (pjrt_array / jax) | target | met | first call pjrt_array / jax |",
             "|---|---|---|---|---|---|---|"]
    met_all = True
    for name, *_ in CASES:
        r = ours["results"].get(name, {"error": "not run (out of time)"})
        j = theirs["results"].get(name, {"error": "not run (out of time)"})
        target = TARGETS[next(kind for case, _, kind, *_ in CASES if case == name)]
        if "error" in r or "error" in j:
            ratio, met = "n/a", "no"
            met_all = False
        else:
            value = r["warm_s"] / j["warm_s"]
            ratio, met = f"{value:.2f}x", "yes" if value <= target else "no"
            met_all &= value <= target
        first = " / ".join(f"{x['first_s'] * 1e3:.0f} ms" if "first_s" in x else "n/a" for x in (r, j))
        lines.append(f"| {name} | {_cell(r)} | {_cell(j)} | {ratio} | <= {target}x | {met} | {first} |")
    lines.append("")
    lines.append("All targets met." if met_all else "Some targets are not met (see the met column).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lib", choices=("pjrt_array", "jax"))
    parser.add_argument("--platform", default="gpu", choices=("cpu", "gpu"))
    parser.add_argument("--json", help="write the results here (default: stdout)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the script, measure nothing")
    parser.add_argument("--table", nargs=2, metavar=("OURS", "JAX"), help="join two result files into markdown")
    args = parser.parse_args(argv)
    if args.table:
        with open(args.table[0]) as f, open(args.table[1]) as g:
            print(table(json.load(f), json.load(g)))
        return
    if args.lib is None:
        parser.error("--lib or --table is required")
    def save(report: dict[str, Any]) -> None:
        if args.json:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=1)

    report = measure(args.lib, args.platform, args.quick, save)
    if not args.json:
        print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
