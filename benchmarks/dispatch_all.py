"""Cached eager cost of every namespace function (and linalg, fft) on small inputs.

Each function is called in a loop on the same small inputs (after a first,
compiling call and a warm-up that brings it to its cached state: ``_warm``) and
synchronized at the end; jax.numpy runs the same call.
The table gives pjrt_array's time per call, jax.numpy's, and pjrt_array's
ratio to jax.numpy's and to its own ``x + y`` measured in the same run.
Functions and jax take turns and each keeps its best of 5 rounds (a shared
machine's load distorts less; ``--cpu`` times this process's CPU time
instead of wall time).  ``python dispatch_all.py [substring]`` runs the
functions whose label contains ``substring``.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any, Callable

import numpy as np

import pjrt_array as xp
from pjrt_array import _fusion
from _common import block, clock, jax_numpy

now = clock()
_WARM_CALLS = 3000

Call = Callable[[Any, dict], Any]

_UNARY = ("abs acos acosh asin asinh atan atanh ceil conj cos cosh exp expm1 floor imag isfinite isinf isnan "
          "log log10 log1p log2 logical_not negative positive real reciprocal round sign signbit sin sinh "
          "sqrt square tan tanh trunc").split()
_BINARY = ("add atan2 copysign divide equal floor_divide greater greater_equal hypot less less_equal logaddexp "
           "maximum minimum multiply nextafter not_equal pow remainder subtract").split()
_INT_BINARY = "bitwise_and bitwise_or bitwise_xor bitwise_left_shift bitwise_right_shift".split()
_BOOL_BINARY = "logical_and logical_or logical_xor".split()


def _inputs(m: Any) -> dict:
    """The small operands, made by library ``m`` from the same numpy values."""
    rng = np.random.default_rng(0)
    host = {
        "v": np.linspace(0.1, 0.9, 4), "w": np.linspace(1.1, 1.9, 4), "acosh": np.linspace(1.5, 2.5, 4),
        "M": rng.standard_normal((3, 4)), "S": np.eye(3) * 2 + 0.1, "i": np.arange(4), "j": np.array([1, 2, 0, 3]),
        "b": np.array([True, False, True, False]), "c": np.linspace(0.1, 0.9, 4) + 0.5j,
        "idx": np.array([2, 0]), "sorted": np.array([0.2, 0.5, 0.8]), "s3": np.float64(2.0),
    }
    out = {k: m.asarray(v) for k, v in host.items()}
    out["host"] = host["v"]
    return out


def _cases() -> list[tuple[str, Call]]:
    cases: list[tuple[str, Call]] = [
        ("x + y", lambda m, d: d["v"] + d["w"]),
        ("v + v", lambda m, d: d["v"] + d["v"]),
        ("exp(-a)", lambda m, d: m.exp(-d["v"])),
        ("M @ a", lambda m, d: d["M"] @ d["v"]),
        ("v[0]", lambda m, d: d["v"][0]),
        ("v[1:]", lambda m, d: d["v"][1:]),
        ("M[:, 1]", lambda m, d: d["M"][:, 1]),
        ("v * 2.0", lambda m, d: d["v"] * 2.0),
    ]
    for name in _UNARY:
        arg = "acosh" if name == "acosh" else ("c" if name in ("conj", "imag", "real") else "v")
        cases.append((name, lambda m, d, f=name, a=arg: getattr(m, f)(d[a])))
    for name in _BINARY:
        cases.append((name, lambda m, d, f=name: getattr(m, f)(d["v"], d["w"])))
    for name in _INT_BINARY:
        cases.append((name, lambda m, d, f=name: getattr(m, f)(d["i"], d["j"])))
    for name in _BOOL_BINARY:
        cases.append((name, lambda m, d, f=name: getattr(m, f)(d["b"], d["b"])))
    cases += [
        ("bitwise_invert", lambda m, d: m.bitwise_invert(d["i"])),
        ("clip", lambda m, d: m.clip(d["v"], 0.2, 0.8)),
        # creation
        ("arange(5)", lambda m, d: m.arange(5)),
        ("asarray(numpy)", lambda m, d: m.asarray(d["host"])),
        ("asarray(list)", lambda m, d: m.asarray([1.0, 2.0, 3.0])),
        ("empty(3)", lambda m, d: m.empty(3)),
        ("empty_like", lambda m, d: m.empty_like(d["v"])),
        ("eye(3)", lambda m, d: m.eye(3)),
        ("full(3, 1.5)", lambda m, d: m.full(3, 1.5)),
        ("full_like", lambda m, d: m.full_like(d["v"], 1.5)),
        ("linspace(0, 1, 5)", lambda m, d: m.linspace(0, 1, 5)),
        ("meshgrid", lambda m, d: m.meshgrid(d["v"], d["w"])),
        ("ones(3)", lambda m, d: m.ones(3)),
        ("ones_like", lambda m, d: m.ones_like(d["v"])),
        ("zeros(3)", lambda m, d: m.zeros(3)),
        ("zeros_like", lambda m, d: m.zeros_like(d["v"])),
        ("tril", lambda m, d: m.tril(d["M"])),
        ("triu", lambda m, d: m.triu(d["M"])),
        # data types
        ("astype", lambda m, d: m.astype(d["v"], m.float32)),
        # manipulation
        ("broadcast_arrays", lambda m, d: m.broadcast_arrays(d["v"], d["M"])),
        ("broadcast_to", lambda m, d: m.broadcast_to(d["v"], (2, 4))),
        ("concat", lambda m, d: m.concat([d["v"], d["w"]])),
        ("expand_dims", lambda m, d: m.expand_dims(d["v"], axis=0)),
        ("flip", lambda m, d: m.flip(d["v"])),
        ("moveaxis", lambda m, d: m.moveaxis(d["M"], 0, 1)),
        ("permute_dims", lambda m, d: m.permute_dims(d["M"], (1, 0))),
        ("repeat", lambda m, d: m.repeat(d["v"], 2)),
        ("reshape", lambda m, d: m.reshape(d["M"], (4, 3))),
        ("roll", lambda m, d: m.roll(d["v"], 1)),
        ("squeeze", lambda m, d: m.squeeze(d["M"][None], axis=0)),
        ("stack(3 scalars)", lambda m, d: m.stack([d["s3"], d["s3"], d["s3"]])),
        ("stack(v, w)", lambda m, d: m.stack([d["v"], d["w"]])),
        ("tile", lambda m, d: m.tile(d["v"], (2,))),
        ("unstack", lambda m, d: m.unstack(d["M"])),
        # indexing, searching, sorting
        ("take", lambda m, d: m.take(d["v"], d["idx"])),
        ("take_along_axis", lambda m, d: m.take_along_axis(d["v"], d["j"], axis=0)),
        ("argmax", lambda m, d: m.argmax(d["v"])),
        ("argmin(M, axis=1)", lambda m, d: m.argmin(d["M"], axis=1)),
        ("count_nonzero", lambda m, d: m.count_nonzero(d["v"])),
        ("nonzero", lambda m, d: m.nonzero(d["b"])),
        ("searchsorted", lambda m, d: m.searchsorted(d["sorted"], d["v"])),
        ("where", lambda m, d: m.where(d["b"], d["v"], d["w"])),
        ("isin", lambda m, d: m.isin(d["i"], d["j"])),
        ("argsort", lambda m, d: m.argsort(d["v"])),
        ("sort", lambda m, d: m.sort(d["v"])),
        ("unique_values", lambda m, d: m.unique_values(d["i"])),
        ("unique_counts", lambda m, d: m.unique_counts(d["i"])),
        ("unique_inverse", lambda m, d: m.unique_inverse(d["i"])),
        ("unique_all", lambda m, d: m.unique_all(d["i"])),
        # statistics and utilities
        ("cumulative_sum", lambda m, d: m.cumulative_sum(d["v"])),
        ("cumulative_prod", lambda m, d: m.cumulative_prod(d["v"])),
        ("diff", lambda m, d: m.diff(d["v"])),
        ("max", lambda m, d: m.max(d["v"])),
        ("mean", lambda m, d: m.mean(d["v"])),
        ("min", lambda m, d: m.min(d["v"])),
        ("prod", lambda m, d: m.prod(d["v"])),
        ("std", lambda m, d: m.std(d["v"])),
        ("sum", lambda m, d: m.sum(d["v"])),
        ("var", lambda m, d: m.var(d["v"])),
        ("all", lambda m, d: m.all(d["b"])),
        ("any", lambda m, d: m.any(d["b"])),
        # linear algebra (main namespace and extension)
        ("matmul", lambda m, d: m.matmul(d["M"], d["v"])),
        ("matrix_transpose", lambda m, d: m.matrix_transpose(d["M"])),
        ("tensordot", lambda m, d: m.tensordot(d["M"], d["v"], axes=1)),
        ("vecdot", lambda m, d: m.vecdot(d["v"], d["w"])),
    ]
    linalg = {
        "cholesky": "S", "det": "S", "eig": "S", "eigh": "S", "eigvals": "S", "eigvalsh": "S", "inv": "S",
        "matrix_rank": "M", "pinv": "M", "qr": "M", "slogdet": "S", "svd": "M", "svdvals": "S",
        "diagonal": "M", "trace": "S", "matrix_norm": "M", "vector_norm": "v",
    }
    for name, arg in linalg.items():
        cases.append((f"linalg.{name}", lambda m, d, f=name, a=arg: getattr(m.linalg, f)(d[a])))
    cases += [
        ("linalg.solve", lambda m, d: m.linalg.solve(d["S"], d["v"][:3])),
        ("linalg.matrix_power", lambda m, d: m.linalg.matrix_power(d["S"], 3)),
        ("linalg.cross", lambda m, d: m.linalg.cross(d["v"][:3], d["w"][:3])),
        ("linalg.outer", lambda m, d: m.linalg.outer(d["v"], d["w"])),
    ]
    for name in ("fft", "ifft", "rfft", "ihfft", "fftshift", "ifftshift"):
        cases.append((f"fft.{name}", lambda m, d, f=name: getattr(m.fft, f)(d["v"])))
    for name in ("fftn", "ifftn", "rfftn"):
        cases.append((f"fft.{name}", lambda m, d, f=name: getattr(m.fft, f)(d["M"])))
    for name in ("irfft", "hfft"):
        cases.append((f"fft.{name}", lambda m, d, f=name: getattr(m.fft, f)(d["c"])))
    cases += [
        ("fft.irfftn", lambda m, d: m.fft.irfftn(d["c"][None])),
        ("fft.fftfreq", lambda m, d: m.fft.fftfreq(8)),
        ("fft.rfftfreq", lambda m, d: m.fft.rfftfreq(8)),
    ]
    return cases


def _sync(result: Any) -> None:
    for r in result if isinstance(result, (tuple, list)) else (result,):
        block(r)


def _best(call: Call, m: Any, d: dict, number: int) -> float:
    start = now()
    result = None
    for _ in range(number):
        result = call(m, d)
    _sync(result)
    return (now() - start) / number


def _warm(call: Call, m: Any, d: dict) -> None:
    """Run ``call`` to its cached state before it is timed: a new kind of call first runs on the
    host (256 sightings), then compiled op by op, and a loop of it is fused once it has recurred
    (docs/host_tier.md, docs/fusion.md); the fused compiles run in the background, so they are
    waited for."""
    result = None
    for _ in range(_WARM_CALLS):
        result = call(m, d)
    _sync(result)
    if m is xp:
        _fusion.wait_for_compiles()


def main() -> None:
    warnings.simplefilter("ignore")
    picks = [a for a in sys.argv[1:] if not a.startswith("--")]
    pick = picks[0] if picks else ""
    jnp = jax_numpy()
    libs = {"pjrt_array": xp, "jax.numpy": jnp}
    data = {lib: _inputs(m) for lib, m in libs.items() if m is not None}
    cases = [(label, call) for label, call in _cases() if pick in label or label == "x + y"]
    times: dict[str, dict[str, float | None]] = {}
    for label, call in cases:
        times[label] = {}
        for lib, m in libs.items():
            try:
                _sync(call(m, data[lib]))  # compile outside the timing
                times[label][lib] = float("inf")
            except Exception:  # noqa: BLE001 - a function the library lacks shows n/a
                times[label][lib] = None
                continue
            _warm(call, m, data[lib])
    for _ in range(5):
        for label, call in cases:
            for lib, m in libs.items():
                if times[label][lib] is not None:
                    times[label][lib] = min(times[label][lib], _best(call, m, data[lib], 200))
    base = times["x + y"]["pjrt_array"]
    print("| function (small inputs) | pjrt_array | jax.numpy | ratio to jax | ratio to x + y |")
    print("|---|---|---|---|---|")
    for label, _ in cases:
        ours, theirs = times[label]["pjrt_array"], times[label].get("jax.numpy")
        cells = [f"{ours * 1e6:.1f} us" if ours is not None else "n/a",
                 f"{theirs * 1e6:.1f} us" if theirs is not None else "n/a",
                 f"{ours / theirs:.2f}" if ours is not None and theirs else "n/a",
                 f"{ours / base:.2f}" if ours is not None else "n/a"]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
