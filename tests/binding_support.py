"""Fixtures and programs shared by the binding tests (tests/test_binding_*.py).

Every binding test runs once per installed CPU plugin.  Creating a client is
cheap but not free, so each plugin gets one shared :class:`Client` for the
whole session; a test that closes or reconfigures a client makes its own with
``new_client``.  Import the fixtures by name into a test module.
"""

from __future__ import annotations

import numpy as np
import pytest

from pjrt_array import _pjrt as P

#: The CPU plugins found, in discovery order (both plugins of the test extra).
CPU_PLUGINS = [i for i in P.discover() if i.platform == "cpu" and i.usable]


def plugin_id(info: P.PluginInfo) -> str:
    return f"api0.{info.api_version[1]}" if info.api_version else info.path


@pytest.fixture(scope="session")
def cpu_plugins() -> list[P.PluginInfo]:
    """Every usable CPU plugin; the test extra installs at least two."""
    if not CPU_PLUGINS:
        pytest.fail("no CPU PJRT plugin installed (pip install -e '.[test]')")
    return CPU_PLUGINS


@pytest.fixture(scope="session", params=CPU_PLUGINS, ids=plugin_id)
def plugin_info(request: pytest.FixtureRequest) -> P.PluginInfo:
    return request.param


@pytest.fixture(scope="session")
def _shared_clients():
    clients: dict[str, P.Client] = {}
    yield clients
    for c in clients.values():
        c.close()


@pytest.fixture(scope="session")
def client(plugin_info: P.PluginInfo, _shared_clients: dict) -> P.Client:
    """The session's client of ``plugin_info`` (do not close it)."""
    c = _shared_clients.get(plugin_info.path)
    if c is None or c.closed:
        c = _shared_clients[plugin_info.path] = P.Client(plugin_info.path)
    return c


@pytest.fixture
def new_client(plugin_info: P.PluginInfo):
    """A factory of private clients of ``plugin_info``, closed after the test."""
    made: list[P.Client] = []

    def make(**options: object) -> P.Client:
        c = P.Client(plugin_info.path, options or None)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def unary(op: str, shape: str, elem: str) -> str:
    """``@main(%a) -> op(%a)`` on ``tensor<{shape}{elem}>`` (shape like ``"2x3x"``)."""
    t = f"tensor<{shape}{elem}>"
    return f"""func.func @main(%a: {t}) -> {t} {{
  %0 = stablehlo.{op} %a : {t}
  return %0 : {t}
}}"""


def binary(op: str, shape: str, elem: str) -> str:
    """``@main(%a, %b) -> op(%a, %b)`` on ``tensor<{shape}{elem}>``."""
    t = f"tensor<{shape}{elem}>"
    return f"""func.func @main(%a: {t}, %b: {t}) -> {t} {{
  %0 = stablehlo.{op} %a, %b : {t}
  return %0 : {t}
}}"""


ADD_F32_4 = binary("add", "4x", "f32")

_COMPILED: dict[tuple[int, str], P.LoadedExecutable] = {}


def compiled(client: P.Client, program: str) -> P.LoadedExecutable:
    """``client.compile(program)``, once per client and program for the session."""
    key = (id(client), program)
    exe = _COMPILED.get(key)
    if exe is None or exe.client is not client or not exe._handle:
        exe = _COMPILED[key] = client.compile(program)
    return exe


def upload(client: P.Client, *arrays: np.ndarray) -> list[P.Buffer]:
    return [client.buffer_from_numpy(a) for a in arrays]
