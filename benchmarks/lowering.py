"""Lowering cost: an op's rule turned into module text (what a cache miss, and jit per traced op, pays).

pjrt_array: ``build_module`` of the op's lowering rule; JAX: ``jax.jit(f).lower(x).as_text()``
(tracing plus MLIR emission) of the same op, on the same shapes.  No compile is timed.
"""

from __future__ import annotations

import numpy as np

import pjrt_array as xp  # noqa: F401  (loads the plugin before JAX, see _common.jax_numpy)
from _common import jax_numpy, per_call, row
from pjrt_array.ops import _elementwise_rules, fft, linalg, searching, sets, sorting, statistical
from pjrt_array.ops._builder import build_module

F32 = np.dtype("float32")
V = ((1000,), F32)
M = ((64, 64), F32)

# name, rule, params, avals, the same op in jax.numpy (None: no counterpart), its inputs' shape
CASES = (
    ("x + y", _elementwise_rules.arith("add"), {"dtype": F32}, [V, V], lambda m, x: x + x, V),
    ("remainder(x, y)", _elementwise_rules.remainder, {"dtype": F32}, [V, V], lambda m, x: m.remainder(x, x), V),
    ("var(x)", statistical._moments_rule, {"axes": (0,), "keepdims": False, "correction": 0.0, "root": False},
     [V], lambda m, x: m.var(x), V),
    ("argmax(x)", searching._arg_rule, {"axis": 0, "keepdims": False, "largest": True}, [V],
     lambda m, x: m.argmax(x), V),
    ("sort(x)", sorting._sort_rule, {"axis": 0, "descending": False, "indices": False}, [V],
     lambda m, x: m.sort(x), V),
    ("unique_all(x) (k=10)", sets._unique_rule, {"k": 10}, [V], None, V),
    ("fft.fft(x)", fft._fft_rule, {"steps": ((0, "FFT", 1000),), "norm": "backward", "conj_in": False,
                                   "conj_out": False}, [V], lambda m, x: m.fft.fft(x), V),
    ("linalg.svd(M)", linalg._svd_rule, {"full": False, "vectors": True}, [M],
     lambda m, x: m.linalg.svd(x, full_matrices=False), M),
)


def main() -> None:
    jnp = jax_numpy()
    print("| lower (no compile) | pjrt_array | jax.jit(f).lower (ratio) |")
    print("|---|---|---|")
    for name, rule, params, avals, op, (shape, dtype) in CASES:
        times = {"pjrt_array": per_call(lambda: build_module(rule, params, avals), number=20)}
        if jnp is not None and op is not None:
            import jax
            x = jnp.zeros(shape, dtype)
            times["jax"] = per_call(lambda: jax.jit(lambda a: op(jnp, a)).lower(x).as_text(), number=5)
        else:
            times["jax"] = None
        print(row(name, times))


if __name__ == "__main__":
    main()
