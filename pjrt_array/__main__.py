"""``python -m pjrt_array``: list the PJRT plugins, run a small program, print timings.

Uses only the binding (``pjrt_array._pjrt``), so it shows that a plugin loads,
compiles and executes independently of the array layer.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from pjrt_array import _pjrt as P

PROGRAM = """func.func @main(%x: tensor<1024xf32>, %y: tensor<1024xf32>) -> tensor<1024xf32> {
  %0 = stablehlo.multiply %x, %y : tensor<1024xf32>
  %1 = stablehlo.add %0, %x : tensor<1024xf32>
  return %1 : tensor<1024xf32>
}"""


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs"


def _per_call(fn, repeat: int) -> float:
    """Mean seconds of ``fn()`` over ``repeat`` calls (after a short warm-up)."""
    for _ in range(min(100, repeat)):
        fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def list_plugins(chosen: P.PluginInfo) -> None:
    print("PJRT plugins found (discovery order):")
    for info in P.discover(chosen.path if chosen.source == "argument" else None):
        mark = "*" if info.path == chosen.path else " "
        version = f"API {info.api_version[0]}.{info.api_version[1]}" if info.api_version else "unusable"
        print(f" {mark} {info.path}\n     source: {info.source}; platform: {info.platform}; {version}")
        if info.error:
            print(f"     error: {info.error}")
    print("   (* = used below)\n")


def run_demo(plugin: str | None, repeat: int) -> None:
    chosen = P.default_plugin_info(plugin)
    list_plugins(chosen)

    start = time.perf_counter()
    client = P.Client(chosen.path)
    created = time.perf_counter() - start
    print(f"Client: {client.platform_name} {client.platform_version!r}, PJRT API {client.api.version}, "
          f"created in {_ms(created)}")
    for device in client.devices():
        kinds = ", ".join(m.kind for m in device.memories())
        print(f"  device {device.id}: {device.kind} ({device}); memories: {kinds}")

    start = time.perf_counter()
    exe = client.compile(PROGRAM)
    compiled = time.perf_counter() - start
    print(f"\nProgram: x * y + x on f32[1024]; compiled in {_ms(compiled)}")

    x_host = np.linspace(-1, 1, 1024, dtype=np.float32)
    y_host = np.full(1024, 3.0, np.float32)
    x, y = client.buffer_from_numpy(x_host), client.buffer_from_numpy(y_host)
    start = time.perf_counter()
    (out,) = exe.execute([x, y])
    out.block_until_ready()
    first = time.perf_counter() - start
    np.testing.assert_allclose(out.to_numpy(), x_host * y_host + x_host, rtol=1e-6)
    print(f"  first execute (until the result is ready): {_us(first)}; result matches numpy")

    def checked() -> None:
        exe.execute([x, y])[0].close()

    handles = [x.handle, y.handle]

    def raw() -> None:
        P.Buffer(client, exe.execute_handles(handles)[0]).close()

    print(f"  repeated execute, mean of {repeat}: {_us(_per_call(checked, repeat))} (LoadedExecutable.execute), "
          f"{_us(_per_call(raw, repeat))} (execute_handles)")
    client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pjrt_array", description=__doc__.splitlines()[0])
    parser.add_argument("--plugin", help="path of a PJRT plugin library (default: discovery)")
    parser.add_argument("--repeat", type=int, default=2000, help="calls per timing (default 2000)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    try:
        run_demo(args.plugin, args.repeat)
    except P.PluginLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
