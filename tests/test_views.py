"""Views against numpy: basic indexing and transposes return views; writes through
views reach the base, writes to the base reach views read afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import pjrt_array as xp
from helpers import assert_equal

_SHAPES = [(), (5,), (3, 4), (2, 3, 4), (0, 3)]


def _view_key(key: object) -> tuple:
    """A basic key that gives a view in numpy too (a trailing ... keeps 0-d results arrays)."""
    key = key if isinstance(key, tuple) else (key,)
    return key if Ellipsis in key else key + (Ellipsis,)


@st.composite
def _programs(draw: st.DrawFn) -> tuple:
    shape = draw(st.sampled_from(_SHAPES))
    shapes = [shape]
    steps = []
    for _ in range(draw(st.integers(1, 7))):
        k = draw(st.integers(0, len(shapes) - 1))
        kind = draw(st.sampled_from(["view", "view", "transpose", "set", "set", "iadd", "base_iadd", "fancy"]))
        s = shapes[k]
        if kind == "view":
            key = _view_key(draw(hnp.basic_indices(s, allow_newaxis=True, allow_ellipsis=True, min_dims=0)))
            steps.append(("view", k, key))
            shapes.append(np.empty(s)[key].shape)
        elif kind == "transpose" and len(s) >= 2:
            perm = tuple(draw(st.permutations(range(len(s)))))
            steps.append(("transpose", k, perm))
            shapes.append(tuple(s[p] for p in perm))
        elif kind == "set":
            key = _view_key(draw(hnp.basic_indices(s, allow_newaxis=True, allow_ellipsis=True, min_dims=0)))
            target = np.empty(s)[key].shape
            value = draw(st.one_of(st.integers(-9, 9).map(float),
                                   hnp.arrays(np.float64, hnp.broadcastable_shapes(target, max_dims=len(target), min_side=0).filter(
                                       lambda v, t=target: np.broadcast_shapes(v, t) == t),
                                              elements=st.integers(-9, 9).map(float))))
            steps.append(("set", k, key, value))
        elif kind == "iadd":
            steps.append(("iadd", k, float(draw(st.integers(1, 5)))))
        elif kind == "base_iadd":
            steps.append(("iadd", 0, float(draw(st.integers(1, 5)))))
        elif kind == "fancy" and len(s) >= 1 and s[0] > 0:
            rows = draw(st.lists(st.integers(0, s[0] - 1), min_size=1, max_size=3, unique=True))
            steps.append(("fancy", k, np.asarray(rows), float(draw(st.integers(10, 20)))))
        steps.append(("check", draw(st.integers(0, len(shapes) - 1))))
    return shape, steps


@given(_programs())
def test_chains_of_views_writes_and_reads_match_numpy(program: tuple) -> None:
    shape, steps = program
    start = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    pairs = [(start.copy(), xp.asarray(start))]
    for step in steps:
        kind, k = step[0], step[1]
        n, x = pairs[k]
        if kind == "view":
            pairs.append((n[step[2]], x[step[2]]))
        elif kind == "transpose":
            pairs.append((np.transpose(n, step[2]), xp.permute_dims(x, step[2])))
        elif kind == "set":
            value = step[3]
            n[step[2]] = value
            x[step[2]] = value if isinstance(value, float) else xp.asarray(value)
        elif kind == "iadd":
            n += step[2]
            x += step[2]
        elif kind == "fancy":
            n[step[2]] = step[3]
            x[step[2]] = step[3]
        else:
            _check(x, n)
    for n, x in pairs:
        _check(x, n)


def _check(x: xp.Array, n: np.ndarray) -> None:
    """Both ways of reading a view: on the device (its own buffer) and on the host (the base's memory)."""
    assert_equal(x * 1.0, n)
    assert_equal(x, n)


@pytest.mark.parametrize("key", [np.s_[::-1], np.s_[::-2], np.s_[3:0:-2], np.s_[1::3], np.s_[:, ::-1],
                                 np.s_[::2, 1::-1], np.s_[-1, ::-2], np.s_[None, 1:, ::-3]])
def test_strided_and_reversed_writes_place_every_element(key: object) -> None:
    n = np.zeros((4, 5))
    x = xp.asarray(n)
    # Distinct values, so that an element written to the wrong place shows; then the same
    # key through a reversed, transposed view.
    for into_n, into_x in ((n, x), (n.T[::-1], x.T[::-1])):
        target = into_n[key].shape
        value = np.arange(1.0, 1.0 + int(np.prod(target))).reshape(target) * (1 if into_n is n else -1)
        into_n[key] = value
        into_x[key] = xp.asarray(value)
        assert_equal(x, n)


def test_the_issue_examples() -> None:
    a = xp.zeros((2, 2))
    v = a[0]
    v[0] = 1.0
    assert float(a[0, 0]) == 1.0
    cov = xp.zeros((2, 3, 3))
    block = cov[1, :, :]
    flat = xp.reshape(block, (-1,))  # reshape is a copy (as numpy's of a non-contiguous view may be)
    assert flat.shape == (9,)
    diag = xp.reshape(xp.eye(3), (3, 3))
    block += diag * 0.5
    expected = np.zeros((2, 3, 3))
    expected[1] += np.eye(3) * 0.5
    assert_equal(cov, expected)


def test_scipy_oaconvolve_accumulates_into_slices() -> None:
    signal = pytest.importorskip("scipy.signal")
    assert_equal(xp.asarray(signal.oaconvolve(xp.ones(5), xp.ones(2))), signal.oaconvolve(np.ones(5), np.ones(2)))


_GAUSSIAN_MIXTURE = """
import numpy as np, sklearn, pjrt_array as xp
from sklearn.mixture import GaussianMixture
from sklearn.utils._array_api import _add_to_diagonal
cov = np.zeros((3, 4, 4)); cov_xp = xp.asarray(cov)
for k in range(3):
    _add_to_diagonal(cov[k, :, :], 1e-6 * (k + 1), np)
    _add_to_diagonal(cov_xp[k, :, :], 1e-6 * (k + 1), xp)
np.testing.assert_array_equal(np.asarray(cov_xp), cov)
X = np.random.default_rng(0).normal(size=(80, 3))
def fit(data):
    return GaussianMixture(2, random_state=0, init_params="random_from_data").fit(data)
ref = fit(X)
with sklearn.config_context(array_api_dispatch=True):
    got = fit(xp.asarray(X))
for name in ("weights_", "means_", "covariances_"):
    np.testing.assert_allclose(np.asarray(getattr(got, name)), getattr(ref, name), rtol=1e-9, atol=1e-12)
print("ok")
"""


def test_sklearn_gaussian_mixture_adds_to_diagonal_through_a_view() -> None:
    """scikit-learn's GaussianMixture: ``_add_to_diagonal(covariances[k, :, :], reg)`` (SciPy's
    array API mode must be on before scipy is imported, hence a subprocess)."""
    pytest.importorskip("sklearn")
    env = {**os.environ, "SCIPY_ARRAY_API": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", _GAUSSIAN_MIXTURE], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-3000:]


def test_views_of_views_and_overlaps() -> None:
    n = np.arange(24.0).reshape(4, 6)
    x = xp.asarray(n)
    a, b = x[1:3], x[2:4]        # overlapping on row 2
    na, nb = n[1:3], n[2:4]
    c = b[:, ::-2]               # a view of a view, reversed and strided
    nc = nb[:, ::-2]
    c[...] = -1.0
    nc[...] = -1.0
    assert_equal(a, na)
    a[1] += 100.0
    na[1] += 100.0
    for got, want in ((x, n), (a, na), (b, nb), (c, nc), (c.T, nc.T)):
        assert_equal(got, want)


def test_transposes_are_views() -> None:
    n = np.arange(6.0).reshape(2, 3)
    x = xp.asarray(n)
    x.T[0] = 9.0
    n.T[0] = 9.0
    x.mT[:, 1] *= 2.0
    n.T[:, 1] *= 2.0
    xp.matrix_transpose(x)[2, 0] = -5.0
    n.T[2, 0] = -5.0
    assert_equal(x, n)
    t = xp.permute_dims(x, (1, 0))
    x[1, 2] = 42.0      # written through the base: the view reads it afterwards
    n[1, 2] = 42.0
    assert_equal(t, n.T)


@pytest.mark.parametrize("source, destination", [(0, -1), ((0, 2), (1, 0)), (-1, 0), ((0, 1, 2), (2, 0, 1))])
def test_moveaxis_is_a_view(source, destination) -> None:
    # SciPy's ndimage.vectorized_filter writes into moveaxis(output, ...) and reads `output`
    n = np.zeros((2, 3, 4))
    x = xp.asarray(n)
    moved, expected = xp.moveaxis(x, source, destination), np.moveaxis(n, source, destination)
    values = np.arange(expected.size, dtype=np.float64).reshape(expected.shape)
    moved[...] = xp.asarray(values)
    expected[...] = values
    assert_equal(x, n)
    moved[0] += 100.0
    expected[0] += 100.0
    assert_equal(x, n)
    x[1, 2, 3] = -1.0  # written through the base: the view reads it afterwards
    n[1, 2, 3] = -1.0
    assert_equal(moved, expected)
    assert_equal(xp.moveaxis(x, 0, 0), n)  # no move: x itself


def test_zero_dimensional_and_empty_views() -> None:
    x = xp.asarray([1.0, 2.0, 3.0])
    s = x[1, ...]
    assert s.shape == ()
    s += 10.0
    assert_equal(x, np.asarray([1.0, 12.0, 3.0]))
    e = x[2:2]
    e[...] = 5.0
    e += 1.0
    assert e.shape == (0,)
    assert_equal(x, np.asarray([1.0, 12.0, 3.0]))
    z = xp.asarray(7.0)
    v = z[...]
    v[()] = 8.0
    assert float(z) == 8.0
    empty = xp.zeros((0, 3))
    empty[:, 1] = 1.0
    assert empty[None][1:].shape == (0, 0, 3)


def test_new_axes_and_int_views_write_the_right_place() -> None:
    n = np.zeros((3, 4))
    x = xp.asarray(n)
    v = x[None, 1, None, 1:3]
    v[0, 0, :] = 7.0
    n[None, 1, None, 1:3][0, 0, :] = 7.0
    assert_equal(x, n)
    i = xp.asarray(2)
    row = x[i]          # a 0-d integer Array index is an integer: a view
    row[...] = 3.0
    n[2] = 3.0
    assert_equal(x, n)


def test_advanced_indexing_is_a_copy_and_writes_through_views_with_index_arrays() -> None:
    n = np.arange(10.0)
    x = xp.asarray(n)
    c = x[xp.asarray([1, 2])]
    c[0] = -1.0
    assert_equal(x, n)  # a copy, as in numpy
    v = x[2:8]
    v[np.asarray([0, 5])] = 0.0
    v[xp.asarray([True, False, True, False, False, False])] = 1.0
    n[2:8][np.asarray([0, 5])] = 0.0
    n[2:8][np.asarray([True, False, True, False, False, False])] = 1.0
    assert_equal(x, n)


def test_write_then_read_of_a_stale_view_and_self_assignment() -> None:
    n = np.arange(8.0)
    x = xp.asarray(n)
    v = x[::2]
    x[...] = x[::-1]
    n[...] = n[::-1].copy()
    x += x
    n += n
    x[1:] = x[:-1]
    n[1:] = n[:-1].copy()
    x[np.asarray([0, 1])] = x[np.asarray([6, 7])]
    n[np.asarray([0, 1])] = n[np.asarray([6, 7])]
    assert_equal(v, n[::2])
    assert_equal(x, n)


def test_bad_writes_raise_and_leave_the_array_intact() -> None:
    x = xp.zeros((2, 3))
    v = x[0]
    with pytest.raises(ValueError, match="broadcast"):
        v[...] = xp.ones(4)
    with pytest.raises(IndexError, match="out of bounds"):
        v[3] = 1.0
    with pytest.raises(TypeError, match="dtype"):
        v += xp.asarray([1j, 1j, 1j])
    with pytest.raises(ValueError, match="shape"):
        v += xp.ones((2, 3))
    v[1] = 2.0
    assert_equal(x, np.asarray([[0.0, 2.0, 0.0], [0.0, 0.0, 0.0]]))


def test_functions_that_copy() -> None:
    x = xp.zeros((2, 2))
    for copy in (xp.reshape(x, (4,)), xp.asarray(x, copy=True), xp.flip(x), x[xp.asarray([0])],
                 xp.astype(x, xp.float64, copy=True)):
        copy[...] = 1.0
    assert_equal(x, np.zeros((2, 2)))


def test_in_place_operators_through_empty_views_change_nothing():
    a, n = xp.zeros((2, 3, 4)), np.zeros((2, 3, 4))
    for view, oracle in ((a[0, 0:0], n[0, 0:0]), (a[:, 1:1, ::2], n[:, 1:1, ::2])):
        view += 1.0
        oracle += 1.0
        view[...] = 5.0
    np.testing.assert_array_equal(np.asarray(a), n)
