"""Sharded arrays on 1, 2 and 4 CPU devices: an element-wise chain and a matmul.

Rows are split over a mesh of n devices (``NamedSharding(mesh, ("x", None))``);
pjrt_array and jax.numpy (4 host devices forced) run the same sharded code,
numpy and a single-device pjrt_array array are the baselines.  The XLA CPU
devices share one host: with as many cores as devices the shards run in
parallel, on fewer cores they take turns.
"""

from __future__ import annotations

import os

import numpy as np

import pjrt_array as xp
from _common import block, jax_numpy, machine, per_call, row

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")

ROWS, COLS = 2048, 1024


def chain(m, x):
    return m.sin(x) * 2.0 + x * x - 1.0


def matmul(m, x, w):
    return x @ w


def _placers(jnp):
    """Per library: (name, place(host, n) -> array) for the sharded runs."""
    out = [("pjrt_array", lambda a, n, spec: xp.asarray(
        a, device=xp.NamedSharding(xp.make_mesh((n,), ("x",)), spec)))]
    if jnp is not None:
        import jax
        from jax.sharding import NamedSharding, PartitionSpec

        def jax_place(a, n, spec):
            mesh = jax.make_mesh((n,), ("x",), devices=jax.devices()[:n])
            return jax.device_put(a, NamedSharding(mesh, PartitionSpec(*spec)))
        out.append(("jax.numpy", jax_place))
    return out


def main() -> None:
    jnp = jax_numpy()
    rng = np.random.default_rng(0)
    a = rng.standard_normal((ROWS, COLS), dtype=np.float32)
    w = rng.standard_normal((COLS, COLS), dtype=np.float32)
    print(machine())
    print(f"| case ({ROWS}x{COLS} f32, rows split) | devices | pjrt_array | pjrt_array.jit (ratio) | "
          "jax.numpy (ratio) |")
    print("|---|---|---|---|---|")
    base = {}
    for name, op, args in (("chain sin(x)*2+x*x-1", chain, (a,)), ("x @ w (w replicated)", matmul, (a, w))):
        for n in (1, 2, 4):
            times = {}
            for lib, place in _placers(jnp):
                m = xp if lib == "pjrt_array" else jnp
                placed = [place(args[0], n, ("x", None))] + [place(v, n, (None, None)) for v in args[1:]]
                block(op(m, *placed))
                times[lib] = per_call(lambda: op(m, *placed), number=5, repeat=3, sync=block)
                if lib == "pjrt_array":  # the same, as one jitted SPMD program
                    jitted = xp.jit(lambda *z: op(xp, *z))
                    block(jitted(*placed))
                    times["pjrt_array.jit"] = per_call(lambda: jitted(*placed), number=5, repeat=3, sync=block)
            times.setdefault("jax.numpy", None)
            print(row(f"{name}", times, unit="ms").replace(f"| {name} |", f"| {name} | {n} |"))
        single = [xp.asarray(v) for v in args]
        block(op(xp, *single))
        base[name] = {"pjrt_array 1 device, unsharded": per_call(lambda: op(xp, *single), number=5, repeat=3,
                                                                  sync=block),
                      "numpy": per_call(lambda: op(np, *args), number=5, repeat=3)}
    print()
    print("| case | pjrt_array unsharded | numpy (ratio) |")
    print("|---|---|---|")
    for name, times in base.items():
        print(row(name, times, unit="ms", base="pjrt_array 1 device, unsharded"))


if __name__ == "__main__":
    main()
