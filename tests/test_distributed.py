"""pjrt_array.distributed: two real processes rendezvous through a coordination service.

The CPU plugins ignore ``num_nodes``/``node_id`` and never call the store, so the
store is driven through its C callbacks by the processes themselves (as a GPU plugin
would drive it): each puts a key and blocks until the other's appears.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import pjrt_array
from pjrt_array import distributed
from pjrt_array._pjrt import _abi

NODE = Path(__file__).with_name("distributed_node.py")
NOT_FOUND = int(_abi.PJRT_Error_Code.PJRT_Error_Code_NOT_FOUND)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_pair(store: str, *extra: str) -> list[dict]:
    address = f"127.0.0.1:{_free_port()}"
    # The processes import the pjrt_array under test, wherever it is installed from.
    root = str(Path(pjrt_array.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    procs = [subprocess.Popen([sys.executable, str(NODE), address, str(i), store, *extra], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in (0, 1)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, f"process exited with {proc.returncode}: {err[-3000:]}"
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def _check(results: list[dict], store: str) -> None:
    for i, r in enumerate(results):
        assert r["store"] == store
        assert r["get_error"] is None and r["got"] == f"hello from {1 - i}"
        assert r["missing_error_code"] == NOT_FOUND
        assert r["process"] == [i, 2]
        assert r["namespace_uses_client"] and r["value"] == 6.0


@pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                    reason="jax is not installed: its coordination service serves the key-value store")
def test_two_processes_through_jax_coordination_service():
    _check(_run_pair("jax"), "CoordinationServiceStore")


def test_two_processes_through_a_shared_directory(tmp_path):
    _check(_run_pair("file", str(tmp_path)), "FileKVStore")


@pytest.mark.parametrize("args, error", [
    (("localhost", 2, 0), ValueError),
    (("localhost:1234", 0, 0), ValueError),
    (("localhost:1234", 2, 2), ValueError),
    (("localhost:1234", 2, -1), ValueError),
    (("localhost:1234", 2.0, 0), TypeError),
])
def test_initialize_rejects(args, error):
    with pytest.raises(error):
        distributed.initialize(*args)


def test_file_store_needs_a_directory():
    with pytest.raises(ValueError, match="shared_directory"):
        distributed.initialize("localhost:1234", 1, 0, use_jax=False)
    assert not distributed.is_initialized() and distributed.process_count() == 1
    with pytest.raises(RuntimeError, match="initialize"):
        distributed.kv_store()
