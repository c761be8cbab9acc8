"""One process of the two-process rendezvous test (``test_binding_api_multiprocess.py``).

Usage: ``python tests/multiprocess_node.py PLUGIN_PATH NODE_ID DIRECTORY``.  Creates a
client of PLUGIN_PATH as node NODE_ID of 2, rendezvousing through a FileKVStore in
DIRECTORY, and prints one JSON line: what the client sees and which store calls the
plugin made (or the plugin's error).
"""

from __future__ import annotations

import json
import sys

from pjrt_array._pjrt import Client, PjrtError
from pjrt_array._pjrt.kv_store import FileKVStore


class RecordingStore(FileKVStore):
    """A FileKVStore that records the plugin's calls."""

    def __init__(self, directory: str) -> None:
        super().__init__(directory)
        self.calls: list[str] = []

    def put(self, key: bytes, value: bytes) -> None:
        self.calls.append(f"put {key!r}")
        super().put(key, value)

    def try_get(self, key: bytes) -> bytes | None:
        self.calls.append(f"try_get {key!r}")
        return super().try_get(key)

    def get(self, key: bytes, timeout_ms: int) -> bytes:
        self.calls.append(f"get {key!r}")
        return super().get(key, timeout_ms)


def main(plugin_path: str, node_id: int, directory: str) -> dict:
    store = RecordingStore(directory)
    options = {"num_nodes": 2, "node_id": node_id, "cpu_device_count": 2}
    try:
        client = Client(plugin_path, options, kv_store=store)
    except PjrtError as exc:
        return {"error": str(exc), "kv_calls": store.calls}
    with client:
        return {
            "process_index": client.process_index,
            "devices": [[d.id, d.process_index, d.is_addressable] for d in client.devices()],
            "addressable": [d.id for d in client.addressable_devices()],
            "kv_calls": store.calls,
        }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), sys.argv[3])))
