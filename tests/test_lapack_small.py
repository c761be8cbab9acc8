"""Small and batched-small matrices through the LAPACK custom calls (ops/_lapack.py).

The kernels call numpy's LAPACK gufuncs with the result buffers as ``out=``
instead of numpy.linalg's functions: these tests hold them to the public
functions (same values, same errors and messages) on numpy arrays, and check
8x8 and (100, 8, 8) inputs through the namespace against numpy as the oracle:
accuracy, ill-conditioned and singular input, non-finite values, and a
handler serving programs of many shapes in turn.
"""

import numpy as np
import pytest

import pjrt_array as xp
from pjrt_array import _fusion
from pjrt_array._pjrt.extensions import FFI
from pjrt_array.ops import _lapack
from pjrt_array.ops._builder import Builder
from helpers import random_array, spd_matrix

pytestmark = pytest.mark.cpu_only

L = xp.linalg
DTYPES = [np.float32, np.float64, np.complex64, np.complex128]
_WRITING = sorted(name for name, (_, in_place) in _lapack.KERNELS.items() if in_place)


def _hilbert(n, dtype):
    i = np.arange(n)
    return (1.0 / (i[:, None] + i[None, :] + 1)).astype(dtype)


def _eps(dtype):
    return float(np.finfo(np.dtype(dtype)).eps)


def _adj(m):
    return np.conj(np.swapaxes(m, -1, -2))


def test_the_small_matrix_kernels_write_their_results():
    assert _lapack._G is not None  # numpy 2's LAPACK gufuncs are where the kernels expect them
    assert {"cholesky_lower", "cholesky_upper", "qr_reduced", "qr_complete", "eigh", "eig", "eigvals", "svd_full",
            "svd_reduced", "solve", "inv", "det"} <= set(_WRITING)


def _outputs(name, inputs):
    """Empty result arrays shaped as the custom call's results (the rules in _lapack)."""
    b = Builder()
    args = [b.argument(x.shape, x.dtype) for x in inputs]
    rule, params = {
        "cholesky_lower": (_lapack.cholesky_rule, {"upper": False}),
        "cholesky_upper": (_lapack.cholesky_rule, {"upper": True}),
        "qr_reduced": (_lapack.qr_rule, {"complete": False}),
        "qr_complete": (_lapack.qr_rule, {"complete": True}),
        "eigh": (_lapack.eigh_rule, {"vectors": True}),
        "eigvalsh": (_lapack.eigh_rule, {"vectors": False}),
        "eig": (_lapack.eig_rule, {"vectors": True}),
        "eigvals": (_lapack.eig_rule, {"vectors": False}),
        "svd_full": (_lapack.svd_rule, {"full": True, "vectors": True}),
        "svd_reduced": (_lapack.svd_rule, {"full": False, "vectors": True}),
        "svdvals": (_lapack.svd_rule, {"full": False, "vectors": False}),
        "solve": (_lapack.solve_rule, {"vector": inputs[-1].ndim == 1}),
        "inv": (_lapack.inv_rule, {}),
        "det": (_lapack.det_rule, {}),
        "slogdet": (_lapack.slogdet_rule, {}),
    }[name]
    out = b.apply(rule, *args, **params)
    out = out if isinstance(out, (list, tuple)) else [out]
    return [np.full(v.shape, 7, v.dtype) for v in out]


def _public_and_writing(name, *inputs):
    """(the public numpy.linalg kernel's results, the writing kernel's): tuples of arrays, or the
    text of the LinAlgError raised."""
    public = _lapack._quiet(_lapack._NUMPY_LINALG[name])
    writing = _lapack.KERNELS[name][0]
    results = []
    for kernel, in_place in ((public, False), (writing, True)):
        try:
            if in_place:
                outs = _outputs(name, inputs)
                kernel(list(inputs), outs)
                results.append(tuple(outs))
            else:
                out = kernel(*inputs)
                results.append(tuple(np.asarray(o) for o in (out if isinstance(out, tuple) else (out,))))
        except np.linalg.LinAlgError as exc:
            results.append(f"LinAlgError: {exc}")
    return results


def _square_cases():
    for dtype in DTYPES:
        for shape in [(0, 0), (1, 1), (8, 8), (3, 0, 0), (100, 8, 8), (2, 3, 5, 5)]:
            yield spd_matrix(shape, dtype, 1), dtype
            yield random_array(shape, dtype, 2), dtype
        yield _hilbert(8, dtype), dtype                                         # ill-conditioned
        yield np.zeros((8, 8), dtype), dtype                                    # singular
        yield np.stack([np.eye(8), np.diag(np.arange(8.0))]).astype(dtype), dtype  # one singular in a batch
        for bad in (np.nan, np.inf, -np.inf):
            a = np.eye(8, dtype=dtype)
            a[3, 3] = bad
            yield a, dtype
        # finite entries whose squares overflow (eig's cheap finite check overflows: it looks again)
        yield (random_array((3, 3), dtype, 3) * (np.finfo(dtype).max / 4)).astype(dtype), dtype


@pytest.mark.parametrize("name", ["cholesky_lower", "cholesky_upper", "eigh", "eigvalsh", "eig", "eigvals", "inv", "det",
                                  "slogdet"])
def test_square_kernels_give_what_numpy_linalg_gives(name):
    if name not in _WRITING:
        pytest.skip(f"{name} runs numpy.linalg's function")
    for a, dtype in _square_cases():
        public, writing = _public_and_writing(name, a)
        if isinstance(public, str) or isinstance(writing, str):
            assert writing == public, (name, a.shape, dtype)
            continue
        for p, w in zip(public, writing):
            if name.startswith("eig") and p.dtype.kind != "c":
                p = p.astype(w.dtype)  # numpy's all-real eigenvalues, cast into the complex results as copied before
            assert p.dtype == w.dtype and p.shape == w.shape
            np.testing.assert_array_equal(w, p, err_msg=f"{name} {a.shape} {dtype}")


@pytest.mark.parametrize("name", ["qr_reduced", "qr_complete", "svd_full", "svd_reduced", "svdvals"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_rectangular_kernels_give_what_numpy_linalg_gives(name, dtype):
    if name not in _WRITING:
        pytest.skip(f"{name} runs numpy.linalg's function")
    nan = np.ones((5, 3), dtype)
    nan[1, 2] = np.nan
    for a in [random_array(s, dtype, 3) for s in [(8, 8), (5, 3), (3, 5), (0, 3), (3, 0), (1, 1), (100, 8, 8), (2, 6, 4)]] \
            + [_hilbert(8, dtype), np.zeros((4, 4), dtype), nan]:
        public, writing = _public_and_writing(name, a)
        if isinstance(public, str) or isinstance(writing, str):
            assert writing == public, (name, a.shape)
            continue
        for p, w in zip(public, writing):
            assert p.dtype == w.dtype and p.shape == w.shape, (name, a.shape)
            np.testing.assert_array_equal(w, p, err_msg=f"{name} {a.shape} {dtype}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_solve_kernel_gives_what_numpy_linalg_gives(dtype):
    for a, b in [(random_array((8, 8), dtype, 4), random_array((8, 2), dtype, 5)),
                 (random_array((8, 8), dtype, 4), random_array((8,), dtype, 5)),
                 (random_array((100, 8, 8), dtype, 6), random_array((100, 8, 3), dtype, 7)),
                 (random_array((100, 8, 8), dtype, 6), random_array((8,), dtype, 7)),
                 (random_array((2, 1, 4, 4), dtype, 8), random_array((3, 4, 1), dtype, 9)),
                 (np.zeros((8, 8), dtype), np.ones((8, 1), dtype)),
                 (_hilbert(8, dtype), np.ones((8, 1), dtype)),
                 (np.zeros((0, 0), dtype), np.zeros((0, 2), dtype))]:
        public, writing = _public_and_writing("solve", a, b)
        if isinstance(public, str) or isinstance(writing, str):
            assert writing == public, (a.shape, b.shape)
            continue
        assert writing[0].dtype == public[0].dtype and writing[0].shape == public[0].shape
        np.testing.assert_array_equal(writing[0], public[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("shape", [(8, 8), (100, 8, 8)])
def test_small_and_batched_results_are_as_accurate_as_numpys(dtype, shape):
    """Reconstruction and orthogonality within 10·eps·n of numpy's own."""
    n = shape[-1]
    tol = 10 * _eps(dtype) * n
    a = random_array(shape, dtype, 10)
    s = spd_matrix(shape, dtype, 11)
    eye = np.eye(n)

    def as_good(ours, numpys, scale):
        assert ours <= numpys + tol * scale, (ours, numpys, tol * scale)

    def err(x, y):
        return float(np.abs(x - y).max())

    u, sv, vh = (np.asarray(t) for t in L.svd(xp.asarray(a)))
    nu, ns, nvh = np.linalg.svd(a)
    scale = np.abs(a).max() * n
    as_good(err((u * sv[..., None, :]) @ vh, a), err((nu * ns[..., None, :]) @ nvh, a), scale)
    as_good(err(_adj(u) @ u, eye), err(_adj(nu) @ nu, eye), 1)
    q, r = (np.asarray(t) for t in L.qr(xp.asarray(a)))
    nq, nr = np.linalg.qr(a)
    as_good(err(q @ r, a), err(nq @ nr, a), scale)
    as_good(err(_adj(q) @ q, eye), err(_adj(nq) @ nq, eye), 1)
    w, v = (np.asarray(t) for t in L.eigh(xp.asarray(s)))
    nw, nv = np.linalg.eigh(s)
    scale = np.abs(s).max() * n
    as_good(err((v * w[..., None, :]) @ _adj(v), s), err((nv * nw[..., None, :]) @ _adj(nv), s), scale)
    as_good(err(_adj(v) @ v, eye), err(_adj(nv) @ nv, eye), 1)
    c = np.asarray(L.cholesky(xp.asarray(s)))
    nc = np.linalg.cholesky(s)
    as_good(err(c @ _adj(c), s), err(nc @ _adj(nc), s), scale)
    b = random_array(shape[:-1] + (2,), dtype, 12)
    x = np.asarray(L.solve(xp.asarray(s), xp.asarray(b)))
    as_good(err(s @ x, b), err(s @ np.linalg.solve(s, b), b), scale)
    as_good(err(np.asarray(L.inv(xp.asarray(s))) @ s, eye), err(np.linalg.inv(s) @ s, eye), scale)
    d = np.asarray(L.det(xp.asarray(s)))
    np.testing.assert_allclose(d, np.linalg.det(s), rtol=tol)


def test_ill_conditioned_8x8_matches_numpy():
    h = _hilbert(8, np.float64)  # condition number about 1.5e10
    x = xp.asarray(h)
    np.testing.assert_array_equal(np.asarray(L.inv(x)), np.linalg.inv(h))
    np.testing.assert_array_equal(np.asarray(L.det(x)), np.linalg.det(h))
    np.testing.assert_array_equal(np.asarray(L.cholesky(x)), np.linalg.cholesky(h))
    np.testing.assert_array_equal(np.asarray(L.eigvalsh(x)), np.linalg.eigvalsh(h))


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 3)])
def test_matrix_rank_of_non_finite_input_is_numpys(value, shape):
    # an infinite entry gives NaN singular values without a LAPACK error: numpy counts none of them
    a = np.ones(shape)
    a[..., 1, 1] = value
    a[..., 0, 2] = 2.0
    try:
        expected = np.linalg.matrix_rank(a)
    except np.linalg.LinAlgError as error:
        with pytest.raises(np.linalg.LinAlgError, match=str(error)):
            L.matrix_rank(xp.asarray(a))
        return
    np.testing.assert_array_equal(np.asarray(L.matrix_rank(xp.asarray(a))), expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_matrix_rank_counts_as_numpy_does(dtype):
    """One matrix's count runs on Python floats (float64), batches and other dtypes on numpy."""
    big = np.finfo(dtype).max / 4
    rng = np.random.default_rng(5)
    low = rng.standard_normal((4, 1)) @ rng.standard_normal((1, 3))  # rank 1
    for a in [np.zeros((3, 4)), np.eye(3), low, np.eye(3) * big, np.diag([1.0, 1e-20, 2.0]), np.zeros((0, 3)),
              np.stack([low, np.eye(4, 3)])]:
        a = a.astype(dtype)
        for rtol in [None, 0.0, 0.5, 1e-25, np.inf, np.nan]:
            with np.errstate(all="ignore"):
                expected = np.linalg.matrix_rank(a, rtol=rtol)
            got = L.matrix_rank(xp.asarray(a), rtol=rtol)
            assert got.dtype == xp.int64
            np.testing.assert_array_equal(np.asarray(got), expected, err_msg=f"{a.shape} rtol={rtol}")


def test_kernels_leave_the_callers_error_state_as_it_was():
    before = np.geterr()
    with pytest.raises(np.linalg.LinAlgError, match="Singular matrix"):
        L.inv(xp.asarray(np.zeros((3, 3))))
    assert np.geterr() == before
    with np.errstate(all="raise"):  # the kernels set their own state, inside as before
        nan = np.asarray(L.det(xp.asarray(np.full((3, 3), np.nan))))
        assert np.isnan(nan)
        assert np.geterr()["invalid"] == "raise"
    assert np.geterr() == before


@pytest.mark.parametrize("parts", ["numpy's", "moved"])
def test_the_error_state_decorator_raises_linalg_errors(monkeypatch, parts):
    if parts == "moved":  # numpy without the private names: np.errstate does the same
        monkeypatch.setattr(_lapack, "_STATE_PARTS", None)
    def inv(inputs, results):  # a kernel: operands in, result views written
        _lapack._G.inv(inputs[0], signature="d->d", out=(results[0],))

    def divide(inputs, results):
        np.divide(inputs[0], 0.0, out=results[0])

    guarded = _lapack._errors(_lapack._SINGULAR)(inv)
    out = [np.empty((2, 2))]
    with pytest.raises(np.linalg.LinAlgError, match="Singular matrix"):
        guarded([np.zeros((2, 2))], out)
    guarded([np.eye(2) * 2], out)
    np.testing.assert_array_equal(out[0], np.eye(2) / 2)
    quiet = _lapack._errors(None)(divide)
    out = [np.empty(2)]
    with np.errstate(all="raise"):
        quiet([np.ones(2)], out)
    assert np.isinf(out[0]).all()


@pytest.mark.parametrize("fn, message", [
    (L.inv, "Singular matrix"),
    (lambda x: L.solve(x, xp.ones(x.shape[-1])), "Singular matrix"),
    (L.cholesky, "Matrix is not positive definite"),
])
def test_one_singular_matrix_in_a_batch_raises(fn, message):
    batch = np.stack([np.eye(8)] * 99 + [np.diag(np.r_[np.ones(7), 0.0])])
    with pytest.raises(np.linalg.LinAlgError, match=message):
        fn(xp.asarray(batch))


def test_errors_reach_the_call_in_a_loop_fusion_defers():
    """A hot loop's ops are deferred by automatic fusion; the LAPACK kernel still raises at its call."""
    if not _fusion.fusion_enabled():
        pytest.skip("automatic fusion is off")
    good, bad = xp.asarray(np.eye(8) * 2), xp.asarray(np.zeros((8, 8)))
    for _ in range(4):
        y = L.inv(good * 1.0) + 1.0
    np.testing.assert_array_equal(np.asarray(y), np.eye(8) * 0.5 + 1)
    with pytest.raises(np.linalg.LinAlgError, match="Singular matrix"):
        L.inv(bad * 1.0)


def test_one_handler_serves_programs_of_many_shapes_in_turn():
    """The handler reads each call frame afresh (its memory windows are cached by address only)."""
    mats = {shape: spd_matrix(shape, np.float64, i) for i, shape in enumerate([(3, 3), (8, 8), (100, 8, 8), (5, 5), (1, 1)])}
    arrays = {shape: xp.asarray(m) for shape, m in mats.items()}
    for _ in range(3):
        for shape, m in mats.items():
            np.testing.assert_array_equal(np.asarray(L.cholesky(arrays[shape])), np.linalg.cholesky(m))
            np.testing.assert_array_equal(np.asarray(L.det(arrays[shape])), np.linalg.det(m))


def test_in_place_python_handler_through_the_windowed_frame_reader():
    client = xp.asarray(0.0).device.client
    ffi = FFI.of(client)
    seen = []

    def scale(inputs, outputs):
        (x,), (out,) = inputs, outputs
        seen.append((out.shape, out.flags.writeable, x.flags.writeable))
        np.multiply(x, 3, out=out)

    ffi.register_python_handler("pjrt_array_test_scale_into", scale, in_place=True)

    def rule(b, x):
        return b.custom_call("pjrt_array_test_scale_into", [x], [(x.shape, x.dtype)], api_version=4,
                             operand_layouts=[[1, 0]], result_layouts=[[1, 0]])[0]

    from pjrt_array._dispatch import run
    a = np.arange(6.0).reshape(2, 3)
    x = xp.asarray(a)
    out = run(rule, (), [x], x.device)[0]
    np.testing.assert_array_equal(np.asarray(out), 3 * a)
    assert seen == [((2, 3), True, False)]
