"""Test helpers: numpy-oracle comparisons and hypothesis strategies for arrays."""

from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import pjrt_array as xp

REAL_FLOATS = (np.float32, np.float64)
INTS = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)
COMPLEX = (np.complex64, np.complex128)


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 0, max_side: int = 4) -> st.SearchStrategy:
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def arrays(dtype, shape=None, *, allow_nan: bool = True, elements=None, **shape_kw) -> st.SearchStrategy:
    """numpy arrays of ``dtype`` (a dtype or a strategy of dtypes) with small shapes."""
    shape = shapes(**shape_kw) if shape is None else shape
    if isinstance(dtype, st.SearchStrategy):
        return dtype.flatmap(lambda d: arrays(d, shape, allow_nan=allow_nan, elements=elements))
    if elements is None and np.dtype(dtype).kind == "f":
        # XLA:CPU flushes subnormals to zero, so they are left out (see docs/guide.md).
        elements = st.floats(allow_nan=allow_nan, allow_infinity=allow_nan, allow_subnormal=False,
                             width=np.dtype(dtype).itemsize * 8)
    return hnp.arrays(dtype, shape, elements=elements)


def assert_equal(actual, expected, *, rtol: float = 0.0, atol: float = 0.0, check_dtype: bool = True) -> None:
    """``actual`` (a pjrt_array Array) equals the numpy ``expected`` (NaN == NaN, -0.0 == 0.0)."""
    assert isinstance(actual, xp.Array), type(actual)
    got = np.asarray(actual)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    if check_dtype:
        assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    if got.dtype.kind == "V" and expected.dtype.kind == "V":
        # ml_dtypes' floats (bfloat16, ...): numpy's comparison does not see their NaNs as NaN;
        # widening to float32 is exact.
        got, expected = got.astype(np.float32), expected.astype(np.float32)
    if rtol or atol:
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, expected)


def run_in_threads(work, count: int = 8) -> None:
    """Run ``work(i)`` for ``i`` in ``range(count)``, each on its own thread; raise the first error."""
    import threading

    errors: list[BaseException] = []

    def guarded(i: int) -> None:
        try:
            work(i)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def random_array(shape, dtype, seed: int = 0) -> np.ndarray:
    """Standard normal values of ``shape`` (real and imaginary parts for a complex ``dtype``)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


def spd_matrix(shape, dtype, seed: int = 0) -> np.ndarray:
    """A well-conditioned Hermitian positive definite matrix (a stack of them) of ``shape``."""
    a = random_array(shape, dtype, seed)
    return (a @ np.conj(np.swapaxes(a, -1, -2)) + shape[-1] * np.eye(shape[-1])).astype(dtype)


@contextlib.contextmanager
def every_segment_deferred() -> Iterator[None]:
    """Automatic fusion on, with every segment deferred (a fused graph from the first op), for the
    block; the previous settings afterwards."""
    from pjrt_array import _fusion
    was_on = _fusion.fusion_enabled()
    _fusion.set_fusion(True)
    hot, _, _ = _fusion.configure(hot=0)
    try:
        yield
    finally:
        _fusion.configure(hot=hot)
        _fusion.set_fusion(was_on)


@contextlib.contextmanager
def rules_run_on_host() -> Iterator[set]:
    """The lowering rules the first-sight host tier ran during the block (filled as it runs)."""
    from pjrt_array import _host_tier
    seen: set = set()
    real = _host_tier.first_sight

    def spy(key, rule, *rest):
        out = real(key, rule, *rest)
        if out is not None:
            seen.add(rule)
        return out

    _host_tier.first_sight = spy
    try:
        yield seen
    finally:
        _host_tier.first_sight = real
