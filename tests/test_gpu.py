"""On a GPU (run with PJRT_ARRAY_PLATFORM=gpu; tools/gpu_check.sh does): arithmetic and linalg in
every float and complex dtype, DLPack without a copy against JAX / CuPy / PyTorch (whichever
installs), the standard's stream argument, and the GPU client's create options.

Skipped everywhere else (see conftest.py); CI never runs these.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import pjrt_array as xp
from pjrt_array import _dlpack
from pjrt_array._client_options import GPU_ALLOCATORS

pytestmark = pytest.mark.gpu

FLOATS = [np.float32, np.float64, np.complex64, np.complex128]
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-12, np.complex64: 1e-5, np.complex128: 1e-12}


def device():
    return xp.__array_namespace_info__().default_device()


def pointer(x: xp.Array) -> int:
    return x._buffer.unsafe_pointer()


def test_the_default_device_is_a_gpu():
    d = device()
    assert d.platform in ("cuda", "rocm"), d
    assert xp.ones(2).device == d
    assert xp.ones(2).__dlpack_device__() == (2 if d.platform == "cuda" else 10, d.pjrt.local_hardware_id)


@pytest.mark.parametrize("dtype", FLOATS)
def test_arithmetic_matches_numpy(dtype):
    rng = np.random.default_rng(1)
    a = (rng.standard_normal((33, 17)) + (1j * rng.standard_normal((33, 17)) if np.dtype(dtype).kind == "c" else 0))
    b = a.T.copy()
    a, b = a.astype(dtype), b.astype(dtype)
    x, y = xp.asarray(a), xp.asarray(b)
    rtol = TOLERANCE[dtype]
    for got, want in ((x * 2 - x, a * 2 - a), (xp.exp(x / 8), np.exp(a / 8)), (x @ y, a @ b),
                      (xp.sum(x, axis=0), np.sum(a, axis=0)), (xp.sqrt(x * x), np.sqrt(a * a))):
        assert got.dtype == want.dtype
        np.testing.assert_allclose(np.asarray(got), want, rtol=rtol * 10, atol=rtol * 10)


def test_float64_is_not_demoted():
    x = xp.asarray(1.0, dtype=xp.float64) + 1e-12
    assert x.dtype == xp.float64 and float(x) == 1.000000000001
    z = xp.asarray(1 + 1e-12j, dtype=xp.complex128) * 1
    assert complex(z) == 1 + 1e-12j


@pytest.mark.parametrize("dtype", FLOATS)
def test_linalg_matches_numpy(dtype):
    rng = np.random.default_rng(2)
    m = rng.standard_normal((48, 48))
    if np.dtype(dtype).kind == "c":
        m = m + 1j * rng.standard_normal((48, 48))
    m = m.astype(dtype)
    sym = (m + m.conj().T) / 2
    rtol = 1e-3 if dtype in (np.float32, np.complex64) else 1e-9
    w, v = xp.linalg.eigh(xp.asarray(sym))
    np.testing.assert_allclose(np.asarray(w), np.linalg.eigvalsh(sym), rtol=rtol, atol=rtol)
    u, s, vh = xp.linalg.svd(xp.asarray(m))
    np.testing.assert_allclose(np.asarray(s), np.linalg.svd(m, compute_uv=False), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(np.asarray(u) * np.asarray(s) @ np.asarray(vh), m, rtol=rtol, atol=rtol * 10)
    a = m + 48 * np.eye(48, dtype=dtype)
    b = rng.standard_normal(48).astype(dtype)
    np.testing.assert_allclose(np.asarray(xp.linalg.solve(xp.asarray(a), xp.asarray(b))), np.linalg.solve(a, b),
                               rtol=rtol, atol=rtol)
    np.testing.assert_allclose(np.asarray(xp.linalg.inv(xp.asarray(a))), np.linalg.inv(a), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(np.asarray(xp.linalg.det(xp.asarray(a / 48))), np.linalg.det(a / 48), rtol=rtol * 10)


def test_linalg_runs_on_cusolver():
    from pjrt_array.ops import _cusolver
    if device().platform != "cuda":
        pytest.skip("cuSOLVER is CUDA's")
    assert _cusolver.serves(device(), np.dtype(np.float32)), "jax's CUDA plugin wheel's solver kernels did not register"
    text = xp.jit(xp.linalg.eigh).lower(xp.ones((4, 4))).as_text()
    assert "cusolver_syevd_ffi" in text


# -- DLPack -----------------------------------------------------------------------------------

class Producer:
    def __init__(self, x) -> None:
        self.x = x

    def __dlpack__(self, **kwargs):
        return self.x.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.x.__dlpack_device__()


def test_our_capsule_round_trips_on_the_device_without_a_copy():
    x = xp.reshape(xp.arange(4096, dtype=xp.float32), (64, 64)) * 2
    y = _dlpack.from_dlpack(Producer(x))
    assert pointer(y) == pointer(x)
    np.testing.assert_array_equal(np.asarray(y), np.arange(4096, dtype=np.float32).reshape(64, 64) * 2)
    del y
    gc.collect()


@pytest.mark.parametrize("stream", [None, 1, 2, -1])
def test_export_accepts_the_standards_streams(stream):
    x = xp.ones(1024) + 1
    capsule = x.__dlpack__(stream=stream, max_version=(1, 0))
    y, copied = _dlpack._consume(capsule, device(), x.__dlpack_device__(), None, None)
    assert pointer(y) == pointer(x) and not copied
    if stream != -1:  # -1: the consumer synchronises, and this one did not
        assert float(xp.sum(y)) == 2048.0
    with pytest.raises(ValueError, match="stream=0"):
        xp.ones(2).__dlpack__(stream=0)


def test_export_to_the_host_copies():
    x = xp.arange(10.0)
    host = np.from_dlpack(x, device="cpu")  # numpy asks for dl_device=(1, 0)
    np.testing.assert_array_equal(host, np.arange(10.0))
    with pytest.raises(BufferError, match="copy=False"):
        x.__dlpack__(dl_device=(1, 0), copy=False)


def test_copy_true_exports_another_buffer():
    x = xp.arange(8.0)
    y = _dlpack.from_dlpack(Producer(x), copy=True)
    assert pointer(y) != pointer(x)
    np.testing.assert_array_equal(np.asarray(y), np.arange(8.0))


def _jax():
    jax = pytest.importorskip("jax")
    if not any(d.platform == "gpu" for d in jax.devices()):
        pytest.skip("jax sees no GPU")
    return jax


def test_jax_reads_our_buffer_without_a_copy():
    jax = _jax()
    x = xp.arange(1 << 16, dtype=xp.float32) + 1
    j = jax.numpy.from_dlpack(x)
    assert j.unsafe_buffer_pointer() == pointer(x)
    np.testing.assert_array_equal(np.asarray(j), np.arange(1 << 16, dtype=np.float32) + 1)


def test_we_read_jax_arrays_without_a_copy():
    jax = _jax()
    j = jax.numpy.arange(1 << 16, dtype=jax.numpy.float32) * 3
    x = xp.from_dlpack(j)
    assert pointer(x) == j.unsafe_buffer_pointer() and x.device == device()
    expected = np.arange(1 << 16, dtype=np.float32) * 3
    del j
    gc.collect()  # our view keeps jax's buffer alive
    np.testing.assert_array_equal(np.asarray(x + 0), expected)


def test_cupy_round_trip_without_a_copy():
    cupy = pytest.importorskip("cupy")
    try:
        c = cupy.arange(1000, dtype=cupy.float64) * 2
    except Exception as exc:  # noqa: BLE001 - CuPy installed without its CUDA libraries
        pytest.skip(f"cupy cannot run here: {exc}")
    x = xp.from_dlpack(c)
    assert pointer(x) == c.data.ptr
    back = cupy.from_dlpack(x + 1)
    assert float(back.sum()) == float((c + 1).sum())
    y = xp.asarray([1.0, 2.0]) * 4
    assert cupy.from_dlpack(y).data.ptr == pointer(y)


def test_torch_round_trip_without_a_copy():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch sees no GPU")
    t = torch.arange(1000, dtype=torch.float32, device="cuda") * 5
    x = xp.from_dlpack(t)
    assert pointer(x) == t.data_ptr()
    np.testing.assert_array_equal(np.asarray(x), np.arange(1000, dtype=np.float32) * 5)
    y = xp.reshape(xp.arange(12, dtype=xp.int64), (3, 4))
    u = torch.from_dlpack(y)
    assert u.data_ptr() == pointer(y) and u.tolist() == np.arange(12).reshape(3, 4).tolist()


# -- create options (each in a fresh process: a plugin reads them once) -----------------------

def run(code: str, **env: str) -> str:
    environ = {**os.environ, "PJRT_ARRAY_PLATFORM": "gpu", **env}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=environ, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


@pytest.mark.parametrize("allocator", GPU_ALLOCATORS)
def test_each_allocator_computes(allocator):
    out = run(f"""
        import pjrt_array as xp
        xp.set_client_options("gpu", allocator={allocator!r}, preallocate=False, memory_fraction=0.2)
        print(float(xp.sum(xp.ones(1 << 20) * 2)))
    """)
    assert out == "2097152.0"


def _bytes_limit(**options) -> int:
    return int(run(f"""
        import pjrt_array as xp
        xp.set_client_options("gpu", **{options!r})
        d = xp.__array_namespace_info__().default_device()
        float(xp.sum(xp.ones(16)))
        print(d.memory_stats().get("bytes_limit", -1))
    """))


def test_memory_fraction_sizes_the_preallocated_pool():
    small = _bytes_limit(preallocate=True, memory_fraction=0.05)
    large = _bytes_limit(preallocate=True, memory_fraction=0.1)
    assert small > 0, "the plugin reports no bytes_limit in memory_stats"
    assert 1.8 < large / small < 2.2


def test_environment_variables_reach_the_gpu_client():
    limit = int(run("""
        import pjrt_array as xp
        d = xp.__array_namespace_info__().default_device()
        print(d.memory_stats().get("bytes_limit", -1))
    """, PJRT_ARRAY_PREALLOCATE="true", PJRT_ARRAY_MEMORY_FRACTION="0.05"))
    assert abs(limit - _bytes_limit(preallocate=True, memory_fraction=0.05)) < 2**20


def test_visible_devices():
    assert run("""
        import pjrt_array as xp
        xp.set_client_options("gpu", visible_devices=[0], preallocate=False)
        print(len(xp.__array_namespace_info__().devices()))
    """) == "1"
    out = run("""
        import pjrt_array as xp
        xp.set_client_options("gpu", visible_devices=[99], preallocate=False)
        try:
            xp.ones(1)
        except Exception as exc:
            print("raised", type(exc).__name__)
    """)
    assert out.startswith("raised")
