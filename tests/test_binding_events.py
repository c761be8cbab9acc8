"""Events: wait, is_ready, error, on_ready callbacks (including ones that raise), futures, asyncio."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time

import numpy as np
import pytest

from pjrt_array import _pjrt as P
from pjrt_array._pjrt import event as event_module

from binding_support import client, plugin_info, _shared_clients  # noqa: F401


@pytest.fixture
def ready(client):
    """A completed event (a buffer's ready event)."""
    buf = client.buffer_from_numpy(np.arange(8.0))
    with buf.ready_event() as event:
        event.wait()
        yield event


@pytest.fixture
def unset(client):
    """A new, pending event (PJRT_Event_Create, API 0.89+)."""
    if client.api.minor < 89:
        pytest.skip(f"PJRT_Event_Create needs API 0.89; this plugin is {client.api.version}")
    with P.Event.create(client.api) as event:
        yield event
        if not event.is_ready():
            event.set()


@pytest.fixture
def unraisable(monkeypatch):
    """The exceptions reported through sys.unraisablehook during the test."""
    seen: list[BaseException] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: seen.append(info.exc_value))
    return seen


@pytest.fixture
def registered():
    """The on_ready callbacks registered during the test and not yet run."""
    before = set(event_module._pending)
    return lambda: set(event_module._pending) - before


def set_later(event: P.Event, error: P.PjrtError | None = None, delay: float = 0.05) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(delay), event.set(error)))
    thread.start()
    return thread


def test_ready_event_facts(ready):
    assert ready.is_ready()
    assert ready.error() is None
    ready.wait()
    assert repr(ready) == "<Event ready>"


def test_on_ready_of_a_ready_event_runs_the_callback_once(ready, registered):
    calls = []
    ready.on_ready(calls.append)
    assert calls == [None]
    assert not registered()


def test_many_callbacks_all_run_and_are_released(client, registered):
    calls = []
    events = [client.buffer_from_numpy(np.full(4, i)).ready_event() for i in range(200)]
    for e in events:
        e.on_ready(lambda err, calls=calls: calls.append(err))
    deadline = time.monotonic() + 10
    while len(calls) < len(events) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert calls == [None] * len(events)
    assert not registered()
    for e in events:
        e.close()


def test_a_raising_callback_is_reported_not_fatal(ready, unraisable, registered):
    def boom(err):
        raise RuntimeError("boom from a callback")

    ready.on_ready(boom)
    assert [str(e) for e in unraisable] == ["boom from a callback"]
    calls = []
    ready.on_ready(calls.append)  # the event and the trampoline still work
    assert calls == [None]
    assert not registered()


def test_on_ready_needs_a_callable(ready, registered):
    with pytest.raises(TypeError, match="callback must be callable"):
        ready.on_ready("not callable")
    assert not registered()


def test_future_of_a_ready_event(ready):
    assert ready.future().result(timeout=5) is None


def test_await_in_asyncio(client):
    buf = client.buffer_from_numpy(np.arange(3.0))

    async def main():
        await buf.ready_event()
        return "done"

    assert asyncio.run(main()) == "done"


def test_callback_of_a_pending_event_is_kept_until_it_runs(unset, registered):
    calls = []
    unset.on_ready(lambda err: calls.append(err))  # the only reference is the registry
    gc.collect()
    assert not unset.is_ready() and len(registered()) == 1
    with pytest.raises(ValueError, match="needs a ready event"):
        unset.error()
    unset.set()
    assert calls == [None] and not registered()
    assert repr(unset) == "<Event ready>"


def test_wait_blocks_until_another_thread_sets(unset):
    thread = set_later(unset)
    unset.wait()
    assert unset.is_ready()
    thread.join()


def test_a_failed_event_raises_its_error_everywhere(unset):
    future = unset.future()
    set_later(unset, P.InvalidArgument("custom failure")).join()
    with pytest.raises(P.InvalidArgument, match="custom failure"):
        unset.wait()
    err = unset.error()
    assert isinstance(err, P.InvalidArgument) and err.message == "custom failure"
    assert isinstance(future.exception(timeout=5), P.InvalidArgument)


def test_await_a_pending_event_set_from_a_thread(unset):
    async def main():
        thread = set_later(unset, P.Internal("late failure"))
        try:
            await unset
        finally:
            thread.join()

    with pytest.raises(P.Internal, match="late failure"):
        asyncio.run(main())


def test_close_is_idempotent_and_use_after_close_raises(client, registered):
    event = client.buffer_from_numpy(np.zeros(2)).ready_event()
    event.close()
    event.close()
    assert repr(event) == "<Event closed>"
    for use in (event.wait, event.is_ready, event.future, lambda: event.on_ready(print)):
        with pytest.raises(P.ClosedError, match="Event has been closed"):
            use()
    assert not registered()  # a refused on_ready leaves no callback behind
