"""Element-wise ops without an exact host version (transcendental functions, ``pow``, ``atan2``,
...): at a new key's first sightings they run in a program compiled for a bucket of element counts
(64, 4096 or 65,536 elements) on zero-padded operands, bit for bit what the op's own program gives."""

from __future__ import annotations

import numpy as np
import pytest

import pjrt_array as xp
from test_host_tier import edge_values, one_sighting  # noqa: F401  (one_sighting: autouse)

pytestmark = pytest.mark.cpu_only

UNARY = ["exp", "expm1", "log", "log1p", "log2", "log10", "sin", "cos", "tan", "tanh", "sinh", "cosh", "asin",
         "acos", "atan", "asinh", "acosh", "atanh"]
BINARY = ["pow", "atan2", "logaddexp", "hypot"]


def bucketed() -> int:
    return xp.cache_info()["host_bucketed"]


def check_bucketed(op, *inputs):
    """The first call runs in a bucket program, the second compiles the key's own: the same bits."""
    xp.cache_clear()
    arrays = [xp.asarray(a) for a in inputs]
    with np.errstate(all="ignore"):
        first = np.asarray(op(*arrays))
        assert bucketed() == 1, "the first call did not run in a bucket program"
        misses = xp.cache_info()["misses"]
        second = np.asarray(op(*arrays))
    assert xp.cache_info()["misses"] == misses + 1, "the second call did not compile"
    assert (first.shape, first.dtype) == (second.shape, second.dtype)
    assert first.tobytes() == second.tobytes(), (first, second)


def values(dtype, n, seed=0) -> np.ndarray:
    """Edge values, then random ones of wide magnitudes, ``n`` in all."""
    rng = np.random.default_rng(seed)
    wide = rng.standard_normal(n) * np.exp(rng.uniform(-6, 4, n))
    if np.dtype(dtype).kind == "c":
        wide = wide + 1j * rng.standard_normal(n)
    out = wide.astype(dtype)
    edges = edge_values(dtype, (12,))
    out[:min(n, 12)] = edges[:min(n, 12)]
    return out


def unary_sizes_share_a_program(name, dtype, sizes):
    fn = getattr(xp, name)
    for n in sizes:
        check_bucketed(fn, values(dtype, n))
    check_bucketed(fn, values(dtype, 24).reshape(2, 3, 4))  # flat keys: any shape of the count


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", UNARY)
def test_unary_sizes_share_a_program(name, dtype):
    unary_sizes_share_a_program(name, dtype, (1, 33, 5000))  # the vector loop's remainder, two buckets


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", UNARY)
def test_unary_sizes_share_a_program_at_every_size(name, dtype):
    unary_sizes_share_a_program(name, dtype, (1, 5, 8, 13, 33, 100, 600, 5000))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", BINARY)
def test_binary_and_scalar_operands(name, dtype):
    fn = getattr(xp, name)
    for n in (3, 17, 70):
        check_bucketed(fn, np.abs(values(dtype, n)), values(dtype, n, seed=1))
    check_bucketed(lambda p: fn(p, 1.5), values(dtype, 9))
    check_bucketed(lambda p: fn(2.5, p), values(dtype, 9).reshape(3, 3))


@pytest.mark.parametrize("pair", [(np.float64, np.float32), (np.float16, np.float64), (np.float64, np.int32),
                                  (np.complex128, np.complex64)], ids=lambda p: f"{np.dtype(p[0]).name}-{np.dtype(p[1]).name}")
def test_conversions_the_host_declines(pair):
    """Narrowing float conversions near the subnormal range, float -> integer out of range, float16
    <-> float64: the host declines (not established or not exact there); their bucket program runs."""
    source, target = pair
    v = values(source, 40)
    if np.dtype(target).kind == "i":
        v = (v * 1e12).astype(source)  # out of int32's range: the device saturates
    if np.dtype(target) == np.float32:
        v[5] = np.float64(np.finfo(np.float32).tiny) * (1 - 2 ** -30)  # rounds up to float32's smallest normal
    check_bucketed(lambda p: xp.astype(p, target), v)


def test_one_program_per_bucket():
    xp.cache_clear()
    for n in (1, 9, 40, 64):  # one bucket: 64
        xp.exp(xp.asarray(np.linspace(0, 1, n)))
    xp.exp(xp.asarray(np.linspace(0, 1, 65)))  # the next: 4096
    info = xp.cache_info()
    assert info["host_bucketed"] == 5 and info["misses"] == 0
    assert info["compiles"] + info["disk_hits"] + info["fingerprint_hits"] <= 2


@pytest.mark.parametrize("shapes", [((3, 1), (1, 4)), ((2, 5), (5,)), ((4,), (3, 1, 4)), ((1,), (7,))],
                         ids=lambda s: "x".join(map(str, s[0])) + "-" + "x".join(map(str, s[1])))
def test_broadcasting_operands_are_spread_on_the_host(shapes):
    """Broadcast operands are spread to the result's shape before the bucket program: its bits."""
    a, b = (values(np.float64, int(np.prod(s)), seed=k).reshape(s) for k, s in enumerate(shapes))
    check_bucketed(xp.atan2, a, b)
    check_bucketed(xp.multiply, (a + 1j * a).astype(np.complex128), b)  # a complex product (no exact host rule)


def test_what_is_not_bucketed_compiles():
    """0-d results and counts beyond the small-program bound compile."""
    for op, inputs in ((lambda p: xp.exp(p), (np.asarray(0.5),)),
                       (lambda p: xp.exp(p), (np.zeros(1 << 17, np.float32),))):
        xp.cache_clear()
        op(*[xp.asarray(v) for v in inputs])
        assert bucketed() == 0 and xp.cache_info()["misses"] == 1
