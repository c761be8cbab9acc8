"""One process of the two-process coordinator test (``test_distributed.py``).

Usage: ``python tests/distributed_node.py ADDRESS PROCESS_ID STORE [DIRECTORY]`` with STORE
``jax`` (jax's coordination service) or ``file`` (a FileKVStore in DIRECTORY).  Joins a
2-process computation, then drives the client's key-value store through the C callbacks
exactly as a plugin does: puts its own key, waits for the other process's, and asks for a
key nobody wrote.  Prints one JSON line.
"""

from __future__ import annotations

import json
import sys

import pjrt_array as xp
from pjrt_array import distributed
from pjrt_array._pjrt.kv_store import KVBridge
from test_kv_store import RAISED, _get, _put


def main(address: str, process_id: int, store: str, directory: str | None) -> dict:
    client = distributed.initialize(address, 2, process_id, use_jax=store == "jax", shared_directory=directory)
    try:
        bridge = KVBridge(distributed.kv_store())
        assert not _put(bridge, f"greeting/{process_id}".encode(), f"hello from {process_id}".encode())
        error, value = _get(bridge, f"greeting/{1 - process_id}".encode(), 60000)
        missing, _ = _get(bridge, b"nobody/wrote/this")
        return {
            "store": type(distributed.kv_store()).__name__,
            "got": None if value is None else value.decode(), "get_error": error,
            "missing_error_code": RAISED[-1][0] if missing else None,
            "process": [distributed.process_index(), distributed.process_count()],
            "namespace_uses_client": xp.asarray(1.0).device.client is client,
            "value": float(xp.sum(xp.arange(4.0))),
        }
    finally:
        distributed.shutdown()


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)))
