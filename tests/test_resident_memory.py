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
    try:
        xp.set_inflight_limit(max_bytes=1 << 30, max_computations=1000)  # nothing is waited for
        big = xp.ones(_inflight.BY_EVENT_BYTES // 8) * 2.0
        small = xp.ones(16) * 2.0
        big_ref, small_ref = weakref.ref(big._buffer), weakref.ref(small._buffer)
        queue = _inflight._queues[big.device]
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
