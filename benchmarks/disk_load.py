"""Loading a compiled executable from its serialized bytes (what a disk-cache hit costs), then
running it once: ``x + y`` on 64 float32.

pjrt_array: ``Client.deserialize_executable`` + the first execute (which
reads the output count); JAX: ``jax.experimental.serialize_executable``'s
``deserialize_and_load`` + the first call.  Prints a markdown row; the ratio
is pjrt_array's time over JAX's (below 1.0 means pjrt_array is faster).
"""

from __future__ import annotations

import numpy as np

from _common import jax_numpy, per_call, row

PROGRAM = ("func.func @main(%a: tensor<64xf32>, %b: tensor<64xf32>) -> tensor<64xf32> {\n"
           "  %0 = stablehlo.add %a, %b : tensor<64xf32>\n  return %0 : tensor<64xf32>\n}")
N = 200


def pjrt_array_load() -> float:
    from pjrt_array import _devices
    client = _devices.client()
    data = client.compile(PROGRAM).executable.serialize()
    x = client.buffer_from_numpy(np.ones(64, np.float32))

    def once() -> None:
        exe = client.deserialize_executable(data)
        exe.execute_handles([x.handle, x.handle])
        exe.close()

    return per_call(once, number=N)


def jax_load() -> float | None:
    jnp = jax_numpy()
    if jnp is None:
        return None
    import jax
    try:
        from jax.experimental import serialize_executable as se
        x = jnp.ones(64, jnp.float32)
        compiled = jax.jit(lambda a, b: a + b).lower(x, x).compile()
        payload, in_tree, out_tree = se.serialize(compiled)
    except Exception:  # noqa: BLE001 - an API this JAX lacks: no comparison
        return None

    def once() -> None:
        se.deserialize_and_load(payload, in_tree, out_tree)(x, x).block_until_ready()

    return per_call(once, number=N)


def main() -> None:
    print("| load + first run (64 x float32 add) | pjrt_array | jax (ratio) |")
    print("|---|---|---|")
    print(row("deserialize + execute", {"pjrt_array": pjrt_array_load(), "jax": jax_load()}, unit="ms"))


if __name__ == "__main__":
    main()
