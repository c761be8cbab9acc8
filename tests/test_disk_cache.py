"""The on-disk executable cache: hits across processes, atomicity, corruption, eviction."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pjrt_array._disk_cache import DiskCache, default_cache

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import pjrt_array as xp
    x = xp.asarray(np.arange(12.0).reshape(3, 4))
    y = xp.sum(xp.sin(x) * 2.0, axis=0)
    info = xp.cache_info()
    print(json.dumps({"value": np.asarray(y).tolist(), "compiles": info["compiles"], "disk_hits": info["disk_hits"]}))
""")


def _run(cache_dir, extra_env=None):
    env = {**os.environ, "PJRT_ARRAY_CACHE_DIR": str(cache_dir), **(extra_env or {})}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    import json
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_second_process_pays_no_compile(tmp_path):
    first = _run(tmp_path)
    second = _run(tmp_path)
    assert first["compiles"] > 0 and first["disk_hits"] == 0
    assert second["compiles"] == 0 and second["disk_hits"] == first["compiles"]
    assert second["value"] == first["value"]


def test_disabled_by_environment(tmp_path):
    result = _run(tmp_path, {"PJRT_ARRAY_CACHE": "0"})
    assert result["disk_hits"] == 0
    assert not list(tmp_path.rglob("*.exe"))


def test_two_processes_writing_at_once(tmp_path):
    env = {**os.environ, "PJRT_ARRAY_CACHE_DIR": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert not list(tmp_path.rglob(".tmp-*"))
    assert _run(tmp_path)["compiles"] == 0


def test_writes_queued_on_the_writer_thread_are_there_after_flush(tmp_path):
    cache = DiskCache(tmp_path)
    folder = cache.folder("cpu-0.81", "v1")
    def failing():
        raise RuntimeError("serialization failed")
    cache.put_soon(folder, "late", lambda: b"code" * 1000)
    cache.put_soon(folder, "none", lambda: None)  # a plugin without serialization: nothing stored
    cache.put_soon(folder, "failing", failing)  # best-effort: a failed write is a later miss
    cache.put_soon(folder, "after", lambda: b"more")
    cache.flush()
    assert cache.get(folder, "late") == b"code" * 1000 and cache.get(folder, "after") == b"more"
    assert cache.get(folder, "none") is None and cache.get(folder, "failing") is None
    assert sorted(p.name for p in folder.iterdir()) == ["after.exe", "late.exe"]


def test_corrupt_and_truncated_entries_are_misses_and_replaced(tmp_path):
    cache = DiskCache(tmp_path)
    folder = cache.folder("cpu-0.81", "v1")
    cache.put(folder, "abc", b"payload" * 100)
    assert cache.get(folder, "abc") == b"payload" * 100
    path = folder / "abc.exe"
    data = path.read_bytes()
    path.write_bytes(data[:-10])  # truncated
    assert cache.get(folder, "abc") is None and not path.exists()
    cache.put(folder, "abc", b"payload")
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF  # flipped bit
    path.write_bytes(bytes(raw))
    assert cache.get(folder, "abc") is None
    cache.put(folder, "abc", b"fresh")
    assert cache.get(folder, "abc") == b"fresh"


def test_process_level_corruption_recovers(tmp_path):
    _run(tmp_path)
    for path in tmp_path.rglob("*.exe"):
        path.write_bytes(b"garbage")
    result = _run(tmp_path)
    assert result["compiles"] > 0  # recompiled instead of crashing on garbage
    assert _run(tmp_path)["compiles"] == 0  # and replaced


def test_builds_are_kept_apart(tmp_path):
    cache = DiskCache(tmp_path)
    a, b = cache.folder("cpu-0.81", '{"mtime_ns": 1}'), cache.folder("cpu-0.81", '{"mtime_ns": 2}')
    assert a != b
    cache.put(a, "fp", b"one")
    assert cache.get(b, "fp") is None


def test_least_recently_used_eviction(tmp_path):
    cache = DiskCache(tmp_path)
    folder = cache.folder("cpu-0.1", "v")
    for i in range(5):
        cache.put(folder, f"e{i}", bytes(900))
        os.utime(folder / f"e{i}.exe", (1000 + i, 1000 + i))
    cache.get(folder, "e0")  # refreshes e0
    cache.max_bytes = 3000
    cache.evict()
    names = sorted(p.stem for p in folder.glob("*.exe"))
    assert "e0" in names and "e1" not in names
    assert cache.size() <= 3000


def test_unwritable_folder_is_ignored(tmp_path):
    target = tmp_path / "file"
    target.write_text("not a folder")
    cache = DiskCache(target)
    with pytest.warns(UserWarning, match="it is not a folder"):
        cache.put(target / "sub", "fp", b"data")  # no exception
    assert cache.get(target / "sub", "fp") is None


def test_default_cache_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("PJRT_ARRAY_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PJRT_ARRAY_CACHE_MAX_BYTES", "1234")
    cache = default_cache()
    assert cache is not None and cache.root == Path(tmp_path) and cache.max_bytes == 1234
    monkeypatch.setenv("PJRT_ARRAY_CACHE", "0")
    assert default_cache() is None


@pytest.mark.parametrize("size", [1, 3])
def test_memory_cache_is_bounded(size):
    import numpy as np

    import pjrt_array as xp
    from pjrt_array import _dispatch
    old = _dispatch._max_entries
    try:
        xp.set_cache_size(size)
        for n in range(1, 6):
            xp.sum(xp.asarray(np.ones(n)))
        assert xp.cache_info()["entries"] <= size
        assert xp.cache_info()["executables"] <= size
    finally:
        _dispatch.set_cache_size(old)
