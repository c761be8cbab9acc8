"""The disk cache cannot load foreign code: entries are per plugin build, folders are private to
the user (an unsafe one is refused with a warning), and a writer killed mid-write leaves nothing
that a later process loads."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
import warnings

import pytest

from binding_support import CPU_PLUGINS
from pjrt_array._disk_cache import DiskCache, UnsafeCacheWarning

SCRIPT = textwrap.dedent("""
    import json, warnings
    warnings.simplefilter("always")
    import numpy as np
    import pjrt_array as xp
    x = xp.asarray(np.arange(6.0))
    y = xp.sum(xp.cos(x) + x)
    info = xp.cache_info()
    print(json.dumps({"value": float(y), "compiles": info["compiles"], "disk_hits": info["disk_hits"],
                      "disk_dir": info["disk_dir"]}))
""")


def _run(cache_dir, plugin=None) -> tuple[dict, str]:
    env = {**os.environ, "PJRT_ARRAY_CACHE_DIR": str(cache_dir)}
    if plugin is not None:
        env["PJRT_ARRAY_PLUGIN"] = str(plugin)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


def test_two_builds_of_one_plugin_never_share_entries(tmp_path):
    """A copy of the plugin library is a second plugin of the same API version; changing its mtime
    (what a wheel upgrade in place does) makes it another build again."""
    original = CPU_PLUGINS[0].path
    copy = tmp_path / "plugin" / os.path.basename(original)
    copy.parent.mkdir()
    shutil.copy2(original, copy)
    cache = tmp_path / "cache"
    first, _ = _run(cache, original)
    assert first["compiles"] > 0 and first["disk_hits"] == 0 and first["disk_dir"] == str(cache)
    other, _ = _run(cache, copy)
    assert other["disk_hits"] == 0 and other["compiles"] == first["compiles"]
    st = copy.stat()
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns - 10**9))
    rebuilt, _ = _run(cache, copy)
    assert rebuilt["disk_hits"] == 0 and rebuilt["compiles"] == first["compiles"]
    again, _ = _run(cache, copy)
    assert again["compiles"] == 0 and again["disk_hits"] == first["compiles"]
    assert first["value"] == other["value"] == rebuilt["value"] == again["value"]
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 3


def test_folders_are_created_private_to_the_user(tmp_path):
    cache = DiskCache(tmp_path / "a" / "cache")
    folder = cache.folder("cpu-0.1", "build")
    cache.put(folder, "fp", b"code")
    for path in (cache.root, folder):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "fp.exe").stat().st_mode) & 0o077 == 0
    assert cache.get(folder, "fp") == b"code" and cache.refused is None


@pytest.mark.parametrize("unsafe", ["root", "folder"])
def test_a_folder_others_can_write_is_refused_with_a_warning(tmp_path, unsafe):
    cache = DiskCache(tmp_path / "cache")
    folder = cache.folder("cpu-0.1", "build")
    folder.mkdir(parents=True, mode=0o700)
    (cache.root if unsafe == "root" else folder).chmod(0o777)
    with pytest.warns(UnsafeCacheWarning, match="other users can write to it") as record:
        cache.put(folder, "fp", b"code")
    assert "PJRT_ARRAY_CACHE_DIR" in str(record[0].message)
    assert not list(folder.iterdir())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once; afterwards the cache is silently off
        assert cache.get(folder, "fp") is None
    assert cache.refused is not None


def test_a_planted_entry_in_an_unsafe_folder_is_never_read(tmp_path):
    writer = DiskCache(tmp_path)
    folder = writer.folder("cpu-0.1", "build")
    writer.put(folder, "fp", b"planted")
    folder.chmod(0o777)
    reader = DiskCache(tmp_path)
    with pytest.warns(UnsafeCacheWarning):
        assert reader.get(folder, "fp") is None


def test_a_folder_another_user_owns_is_refused(tmp_path):
    if os.geteuid() == 0:
        foreign = tmp_path / "foreign"
        foreign.mkdir(mode=0o700)
        os.chown(foreign, 65534, 65534)
    else:
        foreign = next((p for p in ("/usr", "/etc") if os.stat(p).st_uid != os.geteuid()), None)
        if foreign is None:
            pytest.skip("no folder owned by another user to try")
    cache = DiskCache(foreign)
    with pytest.warns(UnsafeCacheWarning, match="owned by another user"):
        cache.put(cache.folder("cpu-0.1", "build"), "fp", b"code")
    assert cache.refused is not None


def test_a_process_runs_without_an_unsafe_cache(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    result, stderr = _run(shared)
    assert "UnsafeCacheWarning" in stderr and "other users can write to it" in stderr
    assert result["compiles"] > 0 and result["disk_hits"] == 0 and result["disk_dir"] is None
    assert not list(shared.iterdir())
    second, _ = _run(shared)
    assert second["compiles"] > 0 and second["value"] == result["value"]


KILLED_WRITER = textwrap.dedent("""
    import os, sys, time
    from pjrt_array._disk_cache import DiskCache
    cache = DiskCache(sys.argv[1])
    folder = cache.folder("cpu-0.1", "build")
    cache.put(folder, "complete", b"x" * 1000)

    def stall(fd):
        print("writing", flush=True)  # the bytes are written, not yet renamed into place
        time.sleep(60)

    os.fsync = stall
    cache.put(folder, "killed", os.urandom(1 << 20))
""")


def test_a_writer_killed_by_sigkill_leaves_nothing_loadable(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing", proc.stderr.read()
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    cache = DiskCache(tmp_path)
    folder = cache.folder("cpu-0.1", "build")
    left = sorted(p.name for p in folder.iterdir())
    assert "killed.exe" not in left and len(left) == 2  # the complete entry and a temporary file
    assert cache.get(folder, "killed") is None
    assert cache.get(folder, "complete") == b"x" * 1000
    old = time.time() - 2 * 3600
    for path in folder.glob(".tmp-*"):
        os.utime(path, (old, old))
    cache.evict()
    assert sorted(p.name for p in folder.iterdir()) == ["complete.exe"]


def test_a_writer_killed_at_random_moments_never_leaves_a_bad_entry(tmp_path):
    """Killed anywhere in a stream of large writes, every entry a reader finds is whole."""
    script = textwrap.dedent("""
        import os, sys
        from pjrt_array._disk_cache import DiskCache
        cache = DiskCache(sys.argv[1])
        folder = cache.folder("cpu-0.1", "build")
        print("ready", flush=True)
        for i in range(1000):
            cache.put(folder, f"e{i}", bytes([i % 251]) * (8 << 20))
    """)
    for delay in (0.05, 0.2, 0.5):
        proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        cache = DiskCache(tmp_path)
        folder = cache.folder("cpu-0.1", "build")
        for path in folder.glob("*.exe"):
            i = int(path.stem[1:])
            assert cache.get(folder, path.stem) == bytes([i % 251]) * (8 << 20)
        shutil.rmtree(folder, ignore_errors=True)  # a kill before the first write leaves no folder
