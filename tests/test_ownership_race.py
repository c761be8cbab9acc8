"""Owned handles are destroyed exactly once, whichever of ``close()``, ``__del__`` and the
client's own close comes first, even when they race on several threads.

A plugin made of Python functions (tests/fake_plugin.py) counts every destroy
per handle and checks that nothing is destroyed after its client.
"""

from __future__ import annotations

import collections
import sys
import threading
import time

import numpy as np
import pytest

from fake_plugin import FakePlugin
from pjrt_array._pjrt import Buffer, Client, Event, LoadedExecutable, _abi
from pjrt_array._pjrt.buffer import ExternalReference
from pjrt_array._pjrt._loader import Plugin
from pjrt_array._pjrt.errors import ClosedError

CLIENT = 0xC1
THREADS = 4
PER_THREAD = 24


class CountingPlugin:
    """A fake plugin that records the destroy of every buffer, executable, event and client."""

    def __init__(self) -> None:
        self.fake = fake = FakePlugin()
        self.destroyed: collections.Counter = collections.Counter()
        self.after_client: list[tuple[str, int]] = []  # destroys that came after the client's
        self.client_destroyed = False
        self._lock = threading.Lock()
        fake._core("PJRT_Client_Create", _abi.PJRT_Client_Create_Args, lambda a: setattr(a, "client", CLIENT))
        fake._core("PJRT_Client_Destroy", _abi.PJRT_Client_Destroy_Args, self._client_destroy)
        fake._core("PJRT_Buffer_Destroy", _abi.PJRT_Buffer_Destroy_Args, lambda a: self._destroy("buffer", a.buffer))
        fake._core("PJRT_LoadedExecutable_Destroy", _abi.PJRT_LoadedExecutable_Destroy_Args,
                   lambda a: self._destroy("executable", a.executable))
        fake._core("PJRT_LoadedExecutable_Execute", _abi.PJRT_LoadedExecutable_Execute_Args, lambda a: None)
        fake._core("PJRT_Event_Destroy", _abi.PJRT_Event_Destroy_Args, lambda a: self._destroy("event", a.event))
        self.plugin = Plugin("<counting fake plugin>", None, fake.api)

    def _destroy(self, kind: str, handle: int) -> None:
        with self._lock:
            self.destroyed[kind, handle] += 1
            if self.client_destroyed and kind != "event":
                self.after_client.append((kind, handle))

    def _client_destroy(self, a: object) -> None:
        self._destroy("client", a.client)  # type: ignore[attr-defined]
        self.client_destroyed = True


@pytest.fixture(autouse=True)
def _switch_often():
    """Switch threads every microsecond, so the races have many interleavings to hit."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def _round(plugin: CountingPlugin, seed: int) -> None:
    """Threads close (or drop) buffers and executables while the main thread closes the client."""
    client = Client(plugin.plugin)
    base = (seed + 1) << 20
    buffers = [[Buffer(client, base + t * PER_THREAD + i + 1, np.dtype(np.float32), (1,))
                for i in range(PER_THREAD)] for t in range(THREADS)]
    executables = [LoadedExecutable(client, base + 0xF0000 + t + 1) for t in range(THREADS)]
    handles = {("buffer", b._handle) for row in buffers for b in row} | {("executable", e._handle)
                                                                        for e in executables}
    start = threading.Barrier(THREADS + 1)
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        mine, exe = buffers[t], executables[t]
        buffers[t] = []  # from here on this thread holds the only references
        start.wait()
        try:
            for i, b in enumerate(mine):
                if (i + t + seed) % 3 == 0:
                    mine[i] = None  # dropped: __del__ releases it
                else:
                    b.close()
                    b.close()  # a second close does nothing
            exe.close()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    start.wait()
    client.close()
    for th in threads:
        th.join()
    assert not errors
    del executables
    destroyed = {key: n for key, n in plugin.destroyed.items() if key[0] in ("buffer", "executable")
                 and key[1] >> 20 == seed + 1}
    assert destroyed == dict.fromkeys(handles, 1), "every handle is destroyed exactly once"
    assert plugin.destroyed["client", CLIENT] == seed + 1
    assert not plugin.after_client, "nothing is destroyed after its client"
    plugin.client_destroyed = False


@pytest.mark.parametrize("rounds", [pytest.param(100, id="100-rounds"),
                                    pytest.param(1000, id="1000-rounds", marks=pytest.mark.slow)])
def test_buffers_closed_on_threads_while_the_client_closes_are_destroyed_once(rounds):
    plugin = CountingPlugin()
    for seed in range(rounds):
        _round(plugin, seed)


def test_use_after_close_raises_and_close_after_client_close_does_nothing():
    plugin = CountingPlugin()
    client = Client(plugin.plugin)
    closed, kept = Buffer(client, 0x10, np.dtype(np.float32), (1,)), Buffer(client, 0x11, np.dtype(np.float32), (1,))
    closed.close()
    with pytest.raises(ClosedError, match="Buffer has been closed"):
        closed.handle
    with pytest.raises(ClosedError):
        closed.block_until_ready()
    client.close()
    with pytest.raises(ClosedError, match="client has been closed"):
        kept.handle
    with pytest.raises(ClosedError):
        kept.delete()
    kept.close()
    with pytest.raises(ClosedError):
        client.devices()
    assert plugin.destroyed == collections.Counter({("buffer", 0x10): 1, ("buffer", 0x11): 1,
                                                    ("client", CLIENT): 1})


def test_an_event_closed_on_many_threads_is_destroyed_once():
    """Events belong to no client: their destroy is guarded by the binding's own lock."""
    plugin = CountingPlugin()
    for handle in range(1, 51):
        event = Event(plugin.fake.api, handle)
        start = threading.Barrier(THREADS)

        def close() -> None:
            start.wait()
            event.close()

        threads = [threading.Thread(target=close) for _ in range(THREADS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        with pytest.raises(ClosedError, match="Event has been closed"):
            event.wait()
    assert plugin.destroyed == collections.Counter({("event", h): 1 for h in range(1, 51)})


def test_a_buffers_external_references_change_one_at_a_time():
    """Numpy views of one buffer taken and dropped on several threads at once: the C API keeps a
    buffer's references in a plain list, which concurrent increases and decreases corrupt (a lost
    reference is a hold the CPU plugin's destroy aborts on).  The fake plugin counts the calls
    inside it at once for one buffer; the binding must make it one."""
    plugin = CountingPlugin()
    inside = {"now": 0, "most": 0, "calls": 0}

    def change(_a: object) -> None:
        inside["now"] += 1
        inside["calls"] += 1
        inside["most"] = max(inside["most"], inside["now"])
        time.sleep(0)  # a thread switch here, inside the plugin, is what the race needs
        inside["now"] -= 1

    for name in ("Increase", "Decrease"):
        plugin.fake._core(f"PJRT_Buffer_{name}ExternalReferenceCount",
                          getattr(_abi, f"PJRT_Buffer_{name}ExternalReferenceCount_Args"), change)
    client = Client(plugin.plugin)
    buffer = Buffer(client, 0xB0, np.dtype(np.float64), (3,))
    start = threading.Barrier(THREADS)

    def work() -> None:
        start.wait()
        for _ in range(100):
            ExternalReference(buffer).release()

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert inside["calls"] == 2 * 100 * THREADS
    assert inside["most"] == 1
    assert not client._pins
    buffer.close()
    client.close()
    assert plugin.destroyed["buffer", 0xB0] == 1
