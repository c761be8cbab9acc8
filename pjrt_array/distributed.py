"""Several processes, one computation: clients that rendezvous through a coordination service.

``initialize(coordinator_address, num_processes, process_id)`` is called once
in every process, before any array is made.  It creates the namespace's client
with the ``num_nodes``/``node_id`` create options and a key-value store the
plugin uses to exchange topology (e.g. the GPU plugin's NCCL ids), and makes it
the default.  The store is served by an existing coordination service, never
by a server of our own:

- with ``jax`` installed: XLA's coordination service as ``jax.distributed``
  runs it (process 0 hosts the service at ``coordinator_address``, every
  process connects a client); :class:`CoordinationServiceStore` adapts its
  key-value calls to :mod:`pjrt_array._pjrt.kv_store`'s protocol;
- else: a :class:`~pjrt_array._pjrt.kv_store.FileKVStore` in
  ``shared_directory``, a directory every process can read and write.

The XLA CPU plugins accept and ignore ``num_nodes``: each process then sees its
own devices only.  See docs/sharding.md.
"""

from __future__ import annotations

import operator
import os
from typing import Any

from . import _devices
from ._pjrt import Client, default_plugin_info
from ._pjrt.kv_store import FileKVStore, KVStore

__all__ = ["initialize", "shutdown", "is_initialized", "kv_store", "process_index", "process_count",
           "CoordinationServiceStore"]


class CoordinationServiceStore:
    """The key-value protocol of :mod:`pjrt_array._pjrt.kv_store` over a client of XLA's
    coordination service (``DistributedRuntimeClient``, as ``jax.distributed`` makes it)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def put(self, key: bytes, value: bytes) -> None:
        self.client.key_value_set_bytes(bytes(key).decode(), bytes(value), allow_overwrite=True)

    def try_get(self, key: bytes) -> bytes | None:
        try:
            return bytes(self.client.key_value_try_get_bytes(bytes(key).decode()))
        except Exception as exc:  # the service's XlaRuntimeError; only "absent" means None
            if "NOT_FOUND" in str(exc):
                return None
            raise

    def get(self, key: bytes, timeout_ms: int) -> bytes:
        try:
            return bytes(self.client.blocking_key_value_get_bytes(bytes(key).decode(), int(timeout_ms)))
        except Exception as exc:
            if "DEADLINE_EXCEEDED" in str(exc):
                raise TimeoutError(f"key {bytes(key)!r} did not appear within {timeout_ms} ms") from exc
            raise


class _State:
    def __init__(self) -> None:
        self.store: KVStore | None = None
        self.client: Client | None = None
        self.process_id = 0
        self.num_processes = 1
        self.jax_state: Any = None  # jax's distributed state when we started it


_state = _State()


def _coordination_service(address: str, num_processes: int, process_id: int, timeout_s: int) -> Any:
    """jax's distributed runtime (started here unless the program already did), or None without jax."""
    try:
        from jax._src import distributed
    except ImportError:
        return None
    state = distributed.global_state
    if state.client is None:
        state.initialize(coordinator_address=address, num_processes=num_processes, process_id=process_id,
                         initialization_timeout=timeout_s)
        _state.jax_state = state
    elif (state.num_processes, state.process_id) != (num_processes, process_id):
        raise ValueError(f"jax.distributed already runs as process {state.process_id} of {state.num_processes}, "
                         f"not {process_id} of {num_processes}")
    return state.client


def initialize(coordinator_address: str, num_processes: int, process_id: int, *,
               plugin: str | os.PathLike | None = None, shared_directory: str | os.PathLike | None = None,
               use_jax: bool | None = None, initialization_timeout: int = 300) -> Client:
    """Join a computation of ``num_processes`` processes as process ``process_id``.

    ``coordinator_address`` (``"host:port"``) is where process 0 serves the
    coordination service.  ``use_jax``: True requires jax's coordination
    service, False uses the ``shared_directory`` store, None (the default)
    takes jax when it is installed.  ``plugin``: the plugin path (default:
    the namespace's default plugin).  Returns the client, now the namespace's
    default; call once per process.
    """
    if not isinstance(coordinator_address, str) or coordinator_address.rpartition(":")[1] != ":":
        raise ValueError(f"coordinator_address must be 'host:port', got {coordinator_address!r}")
    num_processes = operator.index(num_processes)
    process_id = operator.index(process_id)
    if num_processes < 1:
        raise ValueError(f"num_processes must be at least 1, got {num_processes}")
    if not 0 <= process_id < num_processes:
        raise ValueError(f"process_id must be in [0, {num_processes}), got {process_id}")
    if _state.client is not None:
        raise RuntimeError("pjrt_array.distributed.initialize was already called in this process")
    service = None
    if use_jax is not False:
        service = _coordination_service(coordinator_address, num_processes, process_id, initialization_timeout)
        if service is None and use_jax:
            raise ImportError("use_jax=True needs jax (its coordination service serves the key-value store)")
    if service is not None:
        store: KVStore = CoordinationServiceStore(service)
    elif shared_directory is not None:
        store = FileKVStore(shared_directory)
    else:
        raise ValueError("without jax's coordination service, pass shared_directory= (a directory every "
                         "process can read and write) for the key-value store")
    path = default_plugin_info(None if plugin is None else os.fspath(plugin)).path
    client = Client(path, {"num_nodes": num_processes, "node_id": process_id}, kv_store=store)
    _devices.install_client(client)
    _state.store, _state.client = store, client
    _state.process_id, _state.num_processes = process_id, num_processes
    return client


def is_initialized() -> bool:
    """Whether :func:`initialize` was called in this process (and not shut down)."""
    return _state.client is not None


def kv_store() -> KVStore:
    """The key-value store the client was created with (RuntimeError before :func:`initialize`)."""
    if _state.store is None:
        raise RuntimeError("call pjrt_array.distributed.initialize first")
    return _state.store


def process_index() -> int:
    """This process's id (0 without :func:`initialize`)."""
    return _state.process_id


def process_count() -> int:
    """The number of processes (1 without :func:`initialize`)."""
    return _state.num_processes


def shutdown() -> None:
    """Leave the coordination service (when :func:`initialize` started it) and forget the state;
    arrays already made keep their client."""
    global _state
    if _state.jax_state is not None:
        _state.jax_state.shutdown()
    _state = _State()
