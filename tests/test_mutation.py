"""Writes: in place when the buffer is the Array's alone, copied when anything else holds it;
thread-safe; temporaries elided; work in flight bounded."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pjrt_array as xp
from pjrt_array import _dispatch
from helpers import assert_equal

_ROOT = str(Path(__file__).resolve().parents[1])


def _run(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": _ROOT}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)


_THREADED_ROWS = """
import threading, numpy as np, pjrt_array as xp
THREADS, ROUNDS = 8, 30
for rnd in range(3):
    a = xp.zeros((THREADS * 4, 64))
    view = a[::2]                       # half the writes go through a view of the same base
    start = threading.Barrier(THREADS)
    errors = []
    def work(t):
        try:
            start.wait()
            for r in range(ROUNDS):
                for i in range(t, THREADS * 4, THREADS):
                    if i % 2 == 0 and r % 2:
                        view[i // 2] = xp.full((64,), i + 1.0)
                    else:
                        a[i] = xp.full((64,), i + 1.0)
                    if r % 10 == 0:
                        row = a[i]
                        row += 0.0      # an in-place read-modify-write through a view
        except BaseException as exc:
            errors.append(repr(exc))
    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert not errors, errors
    expected = np.repeat(np.arange(1.0, THREADS * 4 + 1)[:, None], 64, axis=1)
    np.testing.assert_array_equal(np.asarray(a), expected)
    np.testing.assert_array_equal(np.asarray(view), expected[::2])
print("ok")
"""


def test_eight_threads_write_disjoint_rows_and_lose_nothing() -> None:
    """In a subprocess: a crash fails the test instead of killing pytest."""
    done = _run(_THREADED_ROWS)
    assert done.returncode == 0 and "ok" in done.stdout, (done.returncode, done.stderr[-3000:])


_THREADED_INPLACE = """
import threading, numpy as np, pjrt_array as xp
a = xp.zeros((1000,))
b = xp.zeros((1000,))
reads = []
def add():
    for _ in range(200):
        x = a
        x += 1.0                           # one in-place operator: atomic
def add_slice(k):
    for _ in range(200):
        b[k::4] += 1.0                     # disjoint strided regions of one base
def read():
    for _ in range(200):
        reads.append(float(xp.sum(a)))     # readers never meet a buffer being donated
threads = [threading.Thread(target=add) for _ in range(4)] + [threading.Thread(target=read) for _ in range(2)]
threads += [threading.Thread(target=add_slice, args=(k,)) for k in range(4)]
for t in threads: t.start()
for t in threads: t.join()
assert float(a[0]) == 800.0 and float(a[-1]) == 800.0, (float(a[0]), float(a[-1]))
assert (np.asarray(b) == 200.0).all(), np.unique(np.asarray(b))
assert all(r % 1000 == 0 for r in reads)
print("ok")
"""


def test_concurrent_read_modify_writes_and_readers() -> None:
    done = _run(_THREADED_INPLACE)
    assert done.returncode == 0 and "ok" in done.stdout, (done.returncode, done.stderr[-3000:])


def _address(x: xp.Array) -> int:
    return x._buffer.unsafe_pointer()


def test_setitem_and_inplace_write_the_arrays_own_buffer() -> None:
    x = xp.zeros(1000)
    x.block_until_ready()
    before = _address(x)
    x[3] = 1.0
    x[10:20] = xp.ones(10)
    x[::7] += 2.0
    x += 1.0
    x *= 2.0
    assert _address(x) == before
    expected = np.zeros(1000)
    expected[3] = 1.0
    expected[10:20] = 1.0
    expected[::7] += 2.0
    expected = (expected + 1.0) * 2.0
    assert_equal(x, expected)


@pytest.mark.parametrize("holder", ["host view", "dlpack", "another array", "zero-copy upload"])
def test_a_shared_buffer_is_copied_before_a_write(holder: str) -> None:
    if holder == "zero-copy upload":
        source = np.zeros(8)
        source.flags.writeable = False
        x = xp.asarray(source)
        other = source
    else:
        x = xp.zeros(8)
        if holder == "host view":
            other = np.asarray(x)
        elif holder == "dlpack":
            other = np.from_dlpack(x)
        else:
            other = xp.Array._from_buffer(x._buffer, x._aval, x._device)
    x[0] = 5.0
    x += 1.0
    assert_equal(x, np.asarray([6.0] + [1.0] * 7))
    assert np.asarray(other)[0] == 0.0 and np.asarray(other)[1] == 0.0, holder  # never sees the write
    del other
    gc.collect()
    x.block_until_ready()
    before = _address(x)
    x[1] = 2.0  # nothing holds it any more: in place again
    assert _address(x) == before


def test_views_of_a_base_do_not_block_in_place_writes() -> None:
    x = xp.zeros(16)
    row = x[4:8]
    x.block_until_ready()
    before = _address(x)
    x[5] = 3.0
    row[0] = 1.0
    assert _address(x) == before
    assert_equal(row, np.asarray([1.0, 3.0, 0.0, 0.0]))


def _donating_keys(op_name: str) -> list:
    return [k for k in _dispatch._entries if isinstance(k[-1], tuple) and k[-1] and isinstance(k[-1][0], int)
            and getattr(k[0], "__qualname__", "").startswith(op_name)]


def test_temporaries_give_their_buffers_to_the_result() -> None:
    n = 100_000  # 800 kB: above the elision threshold
    xp.set_host_tier(False)  # compiled programs (the host tier's in-place runs: test_elision.py)
    try:
        a = xp.ones(n)
        b = (a + 1.0) * 2.0 - a       # (a + 1.0) and its product are temporaries
        assert_equal(b, np.full(n, 3.0))
        assert_equal(a, np.ones(n))   # a named operand is never taken
    finally:
        xp.set_host_tier(True)
    donated = [k for k in _dispatch._entries if k[-1] in ((0,), (1,))]
    assert donated, "no temporary was elided"


def test_named_operands_and_containers_are_never_elided() -> None:
    n = 100_000
    parts = [xp.full(n, float(i)) for i in range(4)]
    total = sum(parts)            # sum() holds references the interpreter's stack does not show
    assert_equal(total, np.full(n, 6.0))
    for i, p in enumerate(parts):
        assert_equal(p, np.full(n, float(i)))
    c = parts[0]
    d = c + c
    assert_equal(c, np.zeros(n))
    assert_equal(d, np.zeros(n))
    small = xp.ones(10)
    assert_equal((small + 1.0) * 2.0, np.full(10, 4.0))


def test_inflight_limit_is_settable_and_checked() -> None:
    old = xp.inflight_limit()
    try:
        xp.set_inflight_limit(max_bytes=1 << 20, max_computations=4)
        assert xp.inflight_limit() == {"max_bytes": 1 << 20, "max_computations": 4}
        x = xp.zeros(1000)
        for _ in range(50):
            x = x + 1.0
        assert_equal(x, np.full(1000, 50.0))
        from pjrt_array import _inflight
        queue = _inflight._queues[x.device.token]
        assert len(queue.entries) <= 4
        for _ in range(20):  # elided temporaries: the memory a donated buffer held stays counted
            c = xp.ones(100_000) + 1.0
        assert 0 < queue.nbytes <= (1 << 20) + 800_000, queue.nbytes
        assert_equal(c, np.full(100_000, 2.0))
        for bad in (0, -1, 1.5, True):
            with pytest.raises(ValueError, match="max_bytes"):
                xp.set_inflight_limit(max_bytes=bad)
        with pytest.raises(ValueError, match="max_computations"):
            xp.set_inflight_limit(max_computations=0)
    finally:
        xp.set_inflight_limit(**old)


def test_a_donated_array_raises_instead_of_crashing() -> None:
    from pjrt_array._views import DONATED
    x = xp.ones(4)
    y = xp.Array._from_buffer(DONATED, x._aval, x._device)
    with pytest.raises(RuntimeError, match="donated"):
        y + 1.0


def test_a_temporary_on_a_users_numpy_memory_is_not_taken() -> None:
    n = 100_000
    raw = np.zeros(n * 8 + 64, np.uint8)
    offset = (-raw.ctypes.data) % 64
    source = raw[offset:offset + n * 8].view(np.float64)  # 64-byte aligned: shared, not copied
    source[:] = 1.0
    source.flags.writeable = False
    y = xp.asarray(source) + 1.0   # the temporary's buffer is the user's memory
    assert_equal(y, np.full(n, 2.0))
    assert (source == 1.0).all()
