"""What a process keeps resident besides its arrays: only the chosen plugin is loaded, OpenSSL is
not, and the in-flight queue never keeps a large buffer alive after the program dropped it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np

import pjrt_array as xp
from pjrt_array import _digest, _inflight, _plugin_probe
from pjrt_array._pjrt import _loader
from helpers import assert_equal

_ROOT = str(Path(__file__).resolve().parents[1])


_MAPPED = """
import json, sys, numpy as np, pjrt_array as xp
np.asarray(xp.ones(3) + 1)
libs = {line.split()[-1] for line in open("/proc/self/maps") if line.rstrip().endswith(".so")}
print(json.dumps({"loaded": sorted(libs & set(sys.argv[1:])), "chosen": xp.ones(1).device.client.plugin.path,
                  "hashlib": "hashlib" in sys.modules}))
"""


def test_only_the_chosen_plugin_is_loaded_and_no_openssl(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(_loader.ENV_PLUGIN, raising=False)
    candidates = [os.path.realpath(c[0]) for c in _loader._candidates(None) if c[2] == "cpu"]
    assert len(candidates) > 1, "the test extra installs two CPU plugins"
    for _ in range(2):  # the child reads the versions, then the disk cache has them
        done = subprocess.run([sys.executable, "-c", _MAPPED, *candidates], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": _ROOT, "PJRT_ARRAY_CACHE_DIR": str(tmp_path)},
                              timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        seen = json.loads(done.stdout)
        assert seen["loaded"] == [seen["chosen"]] and not seen["hashlib"]
    newest = max(_loader.discover(), key=lambda i: i.api_version or (0, 0))
    assert seen["chosen"] == os.path.realpath(newest.path)


def test_versions_come_from_the_disk_cache_and_an_unreadable_library_reads_as_none(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PJRT_ARRAY_CACHE_DIR", str(tmp_path))
    paths = [c[0] for c in _loader._candidates(None) if c[2] == "cpu"]
    not_a_plugin = tmp_path / "libnot.so"
    not_a_plugin.write_bytes(b"\x7fELF not really")
    found = _plugin_probe.api_versions([*paths, str(not_a_plugin)])
    assert found is not None and found[str(not_a_plugin)] is None
    assert sorted(found[p] for p in paths) == sorted(i.api_version for i in _loader.discover() if i.path in paths)
    monkeypatch.setattr(_plugin_probe, "_read_in_child", lambda paths: pytest_fail())
    assert _plugin_probe.api_versions([*paths, str(not_a_plugin)]) == found


def pytest_fail() -> None:
    raise AssertionError("the versions were read again instead of coming from the disk cache")


def test_without_versions_every_candidate_is_described(monkeypatch) -> None:
    monkeypatch.delenv(_loader.ENV_PLUGIN, raising=False)
    described = []
    real = _loader._describe
    monkeypatch.setattr(_loader, "_describe", lambda *c: described.append(c[0]) or real(*c))
    unknown = _loader.default_plugin_info(versions=lambda paths: None)
    everything = len(described)
    described.clear()
    chosen = _loader.default_plugin_info(versions=_plugin_probe.api_versions)
    assert chosen.path == unknown.path
    assert len(described) == 1 < everything


def test_sha256_is_hashlibs() -> None:
    for data in (b"", b"abc", bytes(range(256)) * 100):
        assert _digest.sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()


def test_the_queue_does_not_keep_a_dropped_large_buffer_alive() -> None:
    old = xp.inflight_limit()
    xp.set_host_tier(False)  # compiled ops are queued; a host result is computed already (not queued)
    try:
        xp.set_inflight_limit(max_bytes=1 << 30, max_computations=1000)  # nothing is waited for
        big = xp.ones(_inflight.BY_EVENT_BYTES // 8) * 2.0
        small = xp.ones(16) * 2.0
        big_ref, small_ref = weakref.ref(big._buffer), weakref.ref(small._buffer)
        queue = _inflight._queues[big.device.token]
        nbytes = queue.nbytes
        del big, small
        assert big_ref() is None            # a large output: tracked by its event only
        assert small_ref() is not None      # a small one: held until it is waited for
        assert queue.nbytes == nbytes        # still counted until its computation is waited for
        xp.set_inflight_limit(max_bytes=1 << 20, max_computations=4)
        for _ in range(10):
            c = xp.ones(_inflight.BY_EVENT_BYTES // 8) + 1.0
        assert queue.nbytes <= (1 << 20) + _inflight.BY_EVENT_BYTES and len(queue.entries) <= 4
        assert_equal(c[:3], np.full(3, 2.0))
    finally:
        xp.set_inflight_limit(**old)
        xp.set_host_tier(True)


_RELEASED = """
import json, numpy as np, pjrt_array as xp
from pjrt_array import _resident

def plugin_mb(path):
    total, inside = 0, False
    for line in open("/proc/self/smaps"):
        f = line.split()
        if "-" in f[0] and len(f) >= 5 and ":" in f[3]:
            inside = len(f) > 5 and f[5] == path
        elif inside and f[0] == "Rss:":
            total += int(f[1])
    return total / 1024

path = xp.ones(1).device.client.plugin.path
after_start = plugin_mb(path)
x = xp.linspace(0, 1, 1000)
values = [float(xp.sum(xp.exp(x) * 3.0)), float(xp.linalg.vector_norm(xp.reshape(x, (10, 100))))]  # new compiles
print(json.dumps({"after_start": after_start, "values": values, "released": _resident.release_plugin_code(path)}))
"""


def test_the_plugins_code_pages_are_given_back_when_asked(tmp_path) -> None:
    env = {**os.environ, "PYTHONPATH": _ROOT, "PJRT_ARRAY_CACHE_DIR": str(tmp_path)}
    runs = {}
    for flag in ("0", "1"):
        done = subprocess.run([sys.executable, "-c", _RELEASED], capture_output=True, text=True, timeout=300,
                              env={**env, "PJRT_ARRAY_RELEASE_PLUGIN_CODE": flag})
        assert done.returncode == 0, done.stderr[-2000:]
        runs[flag] = json.loads(done.stdout)
    assert runs["1"]["after_start"] < runs["0"]["after_start"] - 10, runs
    assert runs["1"]["values"] == runs["0"]["values"]
    x = np.linspace(0, 1, 1000)
    np.testing.assert_allclose(runs["1"]["values"], [np.sum(np.exp(x) * 3.0), np.linalg.norm(x)], rtol=1e-12)
    assert runs["1"]["released"] > 0
