"""Two processes create clients that may rendezvous through a key-value store.

A plugin with a multi-process mode (the GPU plugin: ``num_nodes``/``node_id``)
exchanges its local topology through the store, and then every process sees the
global device list.  Measured on the CPU plugins of the test extra: both accept
and ignore these options, never call the store, and each process sees only its
own devices as process 0 (XLA's CPU client has no multi-process mode through the
C API).  The test checks whichever of the two the plugin does, so it fails if a
CPU plugin starts calling the store without producing a consistent global view.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from binding_support import plugin_info  # noqa: F401 - fixture
from pjrt_array._pjrt.kv_store import FileKVStore

NODE = Path(__file__).with_name("multiprocess_node.py")


def _run_nodes(plugin_path: str, directory: Path) -> list[dict]:
    procs = [subprocess.Popen([sys.executable, str(NODE), plugin_path, str(node), str(directory)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for node in (0, 1)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"node exited with {proc.returncode}: {err[-2000:]}"
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def test_two_process_clients(plugin_info, tmp_path):  # noqa: F811 - fixture
    results = _run_nodes(plugin_info.path, tmp_path)
    if any("error" in r for r in results):  # a plugin that rejects the options says which
        assert all("num_nodes" in r.get("error", "") or "node_id" in r.get("error", "") for r in results)
        return
    if any(r["kv_calls"] for r in results):  # the plugin rendezvoused: one global view
        assert results[0]["devices"] == results[1]["devices"]
        assert {p for _, p, _ in results[0]["devices"]} == {0, 1}
        for node, r in enumerate(results):
            assert r["process_index"] == node
            assert r["addressable"] == [i for i, p, _ in r["devices"] if p == node]
        return
    for r in results:  # the CPU plugins: options ignored, each process alone
        assert r["process_index"] == 0
        assert r["devices"] == [[0, 0, True], [1, 0, True]] and r["addressable"] == [0, 1]


def test_file_store_rendezvous_across_processes(tmp_path):
    """One process blocks in get() until another puts; the reply comes back the same way."""
    child = subprocess.Popen([sys.executable, "-c", (
        "import sys; from pjrt_array._pjrt.kv_store import FileKVStore; "
        "s = FileKVStore(sys.argv[1]); v = s.get(b'ping', 30000); s.put(b'pong', v + b'!')"), str(tmp_path)],
        stderr=subprocess.PIPE, text=True)
    store = FileKVStore(tmp_path)
    assert store.try_get(b"pong") is None
    store.put(b"ping", b"\x00hello")
    assert store.get(b"pong", 30000) == b"\x00hello!"
    _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err


def test_file_store_semantics(tmp_path):
    store = FileKVStore(tmp_path)
    store.put(b"k" * 1000, b"long keys are fine")
    store.put(b"k", b"")
    store.put(b"k", b"overwritten")
    assert store.get(b"k", 0) == b"overwritten" and store.try_get(b"k" * 1000) == b"long keys are fine"
    with pytest.raises(TimeoutError, match="did not appear within 20 ms"):
        store.get(b"absent", 20)
    assert sorted(p.name.startswith(".put-") for p in tmp_path.iterdir()) == [False, False]  # no leftovers
    with pytest.raises(ValueError, match="does not exist"):
        FileKVStore(tmp_path / "missing")
