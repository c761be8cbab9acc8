"""jit over sharded Arrays: one SPMD program for the mesh, ``in_shardings`` / ``out_shardings``.

numpy and the unsharded jitted result are the oracles for values; "really
sharded" is checked through the buffers (``test_sharding.assert_sharded``).
"""

import numpy as np
import pytest

import pjrt_array as xp
from test_sharding import CASES, assert_sharded, sharding, values

pytestmark = pytest.mark.skipif(len(xp.__array_namespace_info__().devices()) < 4,
                                reason="needs a plugin with 4 devices")


def chain(x, y, s):
    """Element-wise ops, a reduction over each axis, a matmul and a loop."""
    z = xp.sin(x) * s + y
    z = xp.fori_loop(0, 3, lambda i, v: v * 0.5 + 1.0, z)
    return {"z": z, "rows": xp.sum(z, axis=1), "cols": xp.max(z, axis=0), "mm": z @ y.T}


def expected(a, b, s):
    z = np.sin(a) * s + b
    for _ in range(3):
        z = z * 0.5 + 1.0
    return {"z": z, "rows": z.sum(axis=1), "cols": z.max(axis=0), "mm": z @ b.T}


@pytest.mark.parametrize("case", sorted(CASES))
def test_sharded_arguments_give_the_unsharded_results_and_stay_split(case):
    s = sharding(case)
    a, b = values(), values(seed=1)
    f = xp.jit(chain)
    out = f(xp.asarray(a, device=s), xp.asarray(b, device=s), 0.25)
    plain = f(xp.asarray(a), xp.asarray(b), 0.25)  # the same avals, one device: its own program
    assert plain["z"].sharding is None and f.cache_info()["traces"] == 2
    want = expected(a, b, 0.25)
    for k in want:
        np.testing.assert_allclose(np.asarray(out[k]), np.asarray(plain[k]), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(out[k]), want[k], rtol=1e-12)
    assert_sharded(out["z"], want["z"])  # element-wise keeps the split
    assert out["z"].sharding == s
    # A second call with a new scalar neither traces nor compiles.
    again = f(xp.asarray(a, device=s), xp.asarray(b, device=s), 0.5)
    np.testing.assert_allclose(np.asarray(again["z"]), expected(a, b, 0.5)["z"], rtol=1e-12)
    assert f.cache_info()["traces"] == 2 and f.cache_info()["compiles"] == 2


@pytest.mark.parametrize("case", sorted(CASES))
def test_in_and_out_shardings_place_arguments_and_results(case):
    s = sharding(case)
    replicated = xp.NamedSharding(s.mesh, (None, None))
    a, b = values(), values(seed=1)
    f = xp.jit(lambda x, y: (x + y, x @ y), in_shardings=(s, None), out_shardings=(s, replicated))
    total, product = f(xp.asarray(a), xp.asarray(b))  # one-device inputs: x is placed, y replicated
    assert total.sharding == s and product.sharding == replicated
    assert_sharded(total, a + b)
    assert_sharded(product, a @ b, split=False)
    text = f.lower(xp.asarray(a), xp.asarray(b)).as_text()
    assert text.count("mhlo.sharding") == 4  # two arguments, two results


def test_out_shardings_alone_make_an_spmd_program_and_none_leaves_xla_the_choice():
    rows = sharding("rows4")
    a = values()
    f = xp.jit(lambda x: (x * 2.0, xp.sum(x, axis=0)), out_shardings=(rows, None))
    doubled, sums = f(xp.asarray(a))
    assert doubled.sharding == rows
    assert_sharded(doubled, a * 2.0)
    assert isinstance(sums.sharding, xp.NamedSharding)
    np.testing.assert_allclose(np.asarray(sums), a.sum(axis=0), rtol=1e-12)


def test_one_sharding_for_every_argument_and_pytree_prefixes():
    both = sharding("both22")
    a, b = values(), values(seed=1)
    f = xp.jit(lambda d: d["p"] - d["q"], in_shardings=both, out_shardings=both)
    out = f({"p": xp.asarray(a), "q": b})  # a numpy leaf is placed too
    assert_sharded(out, a - b)
    g = xp.jit(lambda d: d["p"] * d["q"], in_shardings=({"p": both, "q": None},))
    assert_sharded(g({"p": xp.asarray(a), "q": xp.asarray(b)}), a * b)


def test_closure_arrays_and_scalars_are_replicated():
    rows = sharding("rows4")
    a, c = values(), values(seed=2)
    captured = xp.asarray(c)
    f = xp.jit(lambda x, n: x * captured + n)
    assert_sharded(f(xp.asarray(a, device=rows), 3), a * c + 3)


def test_linalg_inside_a_sharded_program():
    rows = sharding("rows4")
    f = xp.jit(lambda x: xp.linalg.inv(x) @ x)
    ok = f(xp.asarray(np.eye(8) * 2.0, device=rows))
    np.testing.assert_allclose(np.asarray(ok), np.eye(8), atol=1e-12)
    # An SPMD execution returns before its kernels run: the kernel's error comes at the read,
    # as eagerly for a delayed error (a ValueError, as LinAlgError is, with its message).
    with pytest.raises(ValueError, match="LinAlgError: Singular matrix"):
        np.asarray(f(xp.asarray(np.zeros((8, 8)), device=rows)))


def test_bad_shardings_are_clear_errors():
    rows = sharding("rows4")
    with pytest.raises(TypeError, match="in_shardings"):
        xp.jit(lambda x: x, in_shardings="x")
    with pytest.raises(ValueError, match="not both"):
        xp.jit(lambda x: x, in_shardings=rows, device=xp.__array_namespace_info__().devices()[0])
    f = xp.jit(lambda x, y: x + y, in_shardings=(rows,))
    with pytest.raises(ValueError, match="in_shardings has 1 entries"):
        f(xp.ones((8, 8)), xp.ones((8, 8)))
    g = xp.jit(lambda x: (x, x), out_shardings=(rows, rows, rows))
    with pytest.raises(ValueError, match="out_shardings"):
        g(xp.ones((8, 8)))
    h = xp.jit(lambda x: x + 1, in_shardings=rows)
    with pytest.raises(ValueError, match="cannot be split evenly"):
        h(xp.ones((6, 8)))
    on_one = xp.jit(lambda x: x + 1, device=xp.__array_namespace_info__().devices()[0])
    with pytest.raises(ValueError, match="sharded arguments"):
        on_one(xp.asarray(values(), device=rows))
    captured = xp.asarray(values(), device=rows)
    with pytest.raises(TypeError, match="captured"):
        xp.jit(lambda x: x + captured)(xp.ones((8, 8)))
