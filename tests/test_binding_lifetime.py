"""Ownership: every PJRT object destroyed exactly once, use after close raises, memory stays flat."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from pjrt_array import _pjrt as P
from pjrt_array._pjrt import _abi
from pjrt_array._pjrt import event as event_module

from binding_support import ADD_F32_4, binary, client, compiled, new_client, plugin_info, _shared_clients  # noqa: F401


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class DestroyLog(list):
    """``(function, handle)`` of every destroy call seen."""

    def __init__(self, raw_destroy) -> None:
        super().__init__()
        self._raw_destroy = raw_destroy

    def _destroy_buffer(self, address: int):
        self.append(("PJRT_Buffer_Destroy", _abi.PJRT_Buffer_Destroy_Args.from_address(address).buffer))
        return self._raw_destroy(address)

    def watch(self, client: P.Client) -> P.Client:
        """Also log ``client``'s prebuilt buffer destroy (the one ``Buffer.close()`` calls)."""
        client._destroy_buffer = self._destroy_buffer
        return client


@pytest.fixture
def destroyed(monkeypatch, plugin_info) -> DestroyLog:
    """Every destroy call made on this plugin during the test."""
    api = P.load_plugin(plugin_info.path).api
    log = DestroyLog(api.raw("PJRT_Buffer_Destroy"))
    original = api.call
    fields = {"PJRT_Buffer_Destroy": "buffer", "PJRT_LoadedExecutable_Destroy": "executable",
              "PJRT_Client_Destroy": "client"}

    def call(name, args):
        if name in fields:
            log.append((name, getattr(args, fields[name])))
        return original(name, args)

    monkeypatch.setattr(api, "call", call)
    return log


# -- exactly once ------------------------------------------------------------------------------

def test_every_object_is_destroyed_exactly_once(new_client, destroyed):
    c = destroyed.watch(new_client())
    exe = c.compile(ADD_F32_4)
    closed_early, dropped, kept = (c.buffer_from_numpy(np.ones(4, np.float32)) for _ in range(3))
    handles = {"early": closed_early.handle, "dropped": dropped.handle, "kept": kept.handle,
               "exe": exe.handle, "client": c.handle}
    closed_early.close()
    closed_early.close()
    del dropped
    gc.collect()
    c.close()
    c.close()
    del kept, exe
    gc.collect()
    expected = sorted([("PJRT_Buffer_Destroy", handles["early"]), ("PJRT_Buffer_Destroy", handles["dropped"]),
                       ("PJRT_Buffer_Destroy", handles["kept"]), ("PJRT_LoadedExecutable_Destroy", handles["exe"]),
                       ("PJRT_Client_Destroy", handles["client"])])
    assert sorted(destroyed) == expected


def test_a_viewed_buffer_is_destroyed_once_after_its_last_view(new_client, destroyed):
    c = destroyed.watch(new_client())
    buf = c.buffer_from_numpy(np.arange(5.0))
    handle = buf.handle
    first, second = buf.numpy_view(), buf.numpy_view()
    buf.close()
    c.close()
    assert ("PJRT_Buffer_Destroy", handle) not in destroyed
    del first
    gc.collect()
    assert not [call for call in destroyed if call[1] == handle or call[0] == "PJRT_Client_Destroy"]
    np.testing.assert_array_equal(second, np.arange(5.0))
    del second
    gc.collect()
    assert destroyed.count(("PJRT_Buffer_Destroy", handle)) == 1
    assert [name for name, _ in destroyed].count("PJRT_Client_Destroy") == 1


def test_context_managers_close(plugin_info):
    with P.Client(plugin_info.path) as c:
        with c.buffer_from_numpy(np.ones(2)) as buf:
            pass
        assert not buf._handle
    assert c.closed and repr(c) == "<pjrt Client closed>"


# -- use after close ---------------------------------------------------------------------------

def test_use_of_a_closed_buffer_raises(client):
    buf = client.buffer_from_numpy(np.ones((2, 2), np.float32))
    other = client.buffer_from_numpy(np.ones((2, 2), np.float32))
    buf.close()
    assert repr(buf) == "<pjrt Buffer closed>"
    for use in (buf.to_numpy, lambda: buf.dimensions, lambda: buf.device, buf.ready_event, buf.numpy_view,
                buf.delete, lambda: buf.copy_to_device(client.devices()[0]), lambda: buf.handle):
        with pytest.raises(P.ClosedError, match="Buffer has been closed"):
            use()
    with pytest.raises(P.ClosedError):
        compiled(client, binary("add", "2x2x", "f32")).execute([buf, other])


def test_use_of_a_closed_executable_raises(client):
    exe = client.compile(ADD_F32_4)
    x = client.buffer_from_numpy(np.ones(4, np.float32))
    exe.execute([x, x])
    exe.close()
    for use in (lambda: exe.execute([x, x]), lambda: exe.execute_handles([x.handle, x.handle]),
                lambda: exe.executable, exe.addressable_devices, lambda: exe.is_deleted):
        with pytest.raises(P.ClosedError, match="LoadedExecutable has been closed"):
            use()


def test_an_executable_outlives_a_dropped_loaded_executable(client):
    e = client.compile(ADD_F32_4).executable  # the LoadedExecutable is dropped at once
    gc.collect()
    assert e.name == "main" and e.compiled_memory_stats()["argument_size_in_bytes"] == 32
    assert e.serialize()


def test_an_executable_refuses_use_after_its_loaded_executable_closed(client):
    loaded = client.compile(ADD_F32_4)
    e = loaded.executable
    loaded.close()
    with pytest.raises(P.ClosedError, match="LoadedExecutable of this Executable has been closed"):
        e.name
    e.close()


def test_use_after_the_client_closed_raises(new_client):
    c = new_client()
    exe = c.compile(ADD_F32_4)
    buf = c.buffer_from_numpy(np.ones(4, np.float32))
    device, memory = c.devices()[0], c.addressable_memories()[0]
    description = device.description
    event = buf.ready_event()
    c.close()
    uses = [
        buf.to_numpy, lambda: buf.dimensions, lambda: exe.execute([buf, buf]), lambda: exe.executable,
        lambda: device.id or device.kind, lambda: memory.kind, lambda: description.kind, c.devices,
        c.addressable_devices, c.addressable_memories, lambda: c.platform_name, lambda: c.compile(ADD_F32_4),
        lambda: c.buffer_from_numpy(np.ones(2)), lambda: c.lookup_device(0), lambda: c.handle,
    ]
    for use in uses:
        with pytest.raises(P.ClosedError, match="client has been closed"):
            use()
    assert event.is_ready()  # events do not borrow from the client
    event.close()
    buf.close()
    exe.close()


# -- process exit and fork ------------------------------------------------------------------------

def run_python(script: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                          timeout=120)


def test_interpreter_exit_with_live_objects_is_clean(plugin_info):
    out = run_python(f"""
        import numpy as np
        from pjrt_array import _pjrt as P
        from binding_support import ADD_F32_4
        c = P.Client({plugin_info.path!r})
        exe = c.compile(ADD_F32_4)
        x = c.buffer_from_numpy(np.ones(4, np.float32))
        y, = exe.execute([x, x])
        view = y.numpy_view()
        event = x.ready_event()
        event.on_ready(lambda err: None)
        closed = P.Client({plugin_info.path!r})
        orphan = closed.buffer_from_numpy(np.ones(3))
        closed.close()
        print("ok", float(view.sum()))
    """.replace("from binding_support import ADD_F32_4",
                f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r}); "
                "from binding_support import ADD_F32_4"))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["ok", "8.0"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_closed_errors_not_crashes(plugin_info):
    out = run_python(f"""
        import os, warnings
        warnings.simplefilter("ignore")
        import numpy as np
        from pjrt_array import _pjrt as P
        c = P.Client({plugin_info.path!r})
        x = c.buffer_from_numpy(np.ones(3))
        pid = os.fork()
        if pid == 0:
            try:
                x.to_numpy()
            except P.ClosedError as exc:
                code = 0 if "forked" in str(exc) else 3
            else:
                code = 2
            del x
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), x.to_numpy().sum())
    """)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["0", "3.0"]


# -- memory stays flat -----------------------------------------------------------------------------

def test_10000_create_execute_destroy_cycles_keep_rss_flat(client):
    program = ADD_F32_4.replace("4x", "1024x")
    exe = compiled(client, program)
    host = np.ones(1024, np.float32)  # 4 KiB a buffer: a leak of one per cycle is 40 MiB

    def cycles(n: int) -> None:
        for _ in range(n):
            x = client.buffer_from_numpy(host)
            (out,) = exe.execute([x, x])
            out.close()
            x.close()
            (raw,) = exe.execute_handles([x_handle, x_handle])
            P.Buffer(client, raw)  # dropped at once: destroyed by garbage collection

    keep = client.buffer_from_numpy(host)
    x_handle = keep.handle
    pending_before = set(event_module._pending)
    buffers_before = len(client._buffers)
    cycles(1000)  # warm up allocator pools and caches
    gc.collect()
    before = rss_bytes()
    cycles(10_000)
    gc.collect()
    grown = rss_bytes() - before
    assert grown < 4 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB over 10,000 cycles"
    assert len(client._buffers) == buffers_before
    assert set(event_module._pending) <= pending_before
    np.testing.assert_array_equal(keep.to_numpy(), host)
