"""Client create options and the default platform (pjrt_array/_client_options.py, _devices.py,
_pjrt/_loader.py): checked values, environment variables, and the options arriving in
PJRT_Client_Create (a fake GPU plugin reads them back; the CPU plugin makes cpu_device_count devices).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import pjrt_array as xp
from fake_plugin import FakePlugin
from pjrt_array import _client_options, _devices
from pjrt_array._pjrt import PluginLoadError, _abi, _loader
from pjrt_array._pjrt._loader import Plugin, PluginInfo
from pjrt_array._pjrt.named_values import read_named_values

GOOD = {"preallocate": False, "memory_fraction": 0.25, "visible_devices": [0, 2], "allocator": "cuda_async"}


@pytest.mark.parametrize("name, value, expected", [
    ("preallocate", True, True), ("memory_fraction", 1, 1.0), ("memory_fraction", 0.5, 0.5),
    ("visible_devices", (3,), [3]), ("allocator", "platform", "platform"), ("collective_memory_size", 0, 0),
    ("num_nodes", 2, 2), ("some_future_option", 1.5, 1.5), ("some_future_list", (1, -2), [1, -2]),
])
def test_good_gpu_options(name, value, expected):
    out = _client_options.check_options("gpu", {name: value})[name]
    assert out == expected and type(out) is type(expected)


@pytest.mark.parametrize("name, value, error, match", [
    ("preallocate", 1, TypeError, "preallocate must be a bool"),
    ("preallocate", "false", TypeError, "preallocate must be a bool"),
    ("memory_fraction", 0, ValueError, r"memory_fraction must be a float in \(0, 1\]"),
    ("memory_fraction", 1.01, ValueError, "memory_fraction"),
    ("memory_fraction", float("nan"), ValueError, "memory_fraction"),
    ("memory_fraction", "0.5", TypeError, "memory_fraction"),
    ("memory_fraction", True, TypeError, "memory_fraction"),
    ("visible_devices", [], ValueError, "at least one device"),
    ("visible_devices", [1, 1], ValueError, "must not repeat"),
    ("visible_devices", [-1], ValueError, r"visible_devices\[0\] must be an int64 >= 0"),
    ("visible_devices", [0, 1.0], TypeError, r"visible_devices\[1\] must be an int"),
    ("visible_devices", "0,1", TypeError, "list of device ordinals"),
    ("visible_devices", 0, TypeError, "list of device ordinals"),
    ("allocator", "cuda", ValueError, "allocator must be one of 'default', 'platform', 'bfc', 'cuda_async'"),
    ("allocator", None, ValueError, "allocator"),
    ("num_nodes", 0, ValueError, "num_nodes must be an int64 >= 1"),
    ("node_id", 2**63, ValueError, "node_id"),
    ("some_future_option", {"a": 1}, TypeError, "some_future_option must be a bool, int, float, str"),
])
def test_bad_gpu_options_raise_naming_the_option(name, value, error, match):
    with pytest.raises(error, match=match):
        _client_options.check_options("gpu", {name: value})


def test_cpu_device_count_is_checked():
    assert _client_options.check_options("cpu", {"cpu_device_count": 2}) == {"cpu_device_count": 2}
    with pytest.raises(ValueError, match="cpu_device_count must be an int64 >= 1"):
        _client_options.check_options("cpu", {"cpu_device_count": 0})


def test_environment_variables_set_gpu_options_only(monkeypatch):
    monkeypatch.setenv("PJRT_ARRAY_PREALLOCATE", "false")
    monkeypatch.setenv("PJRT_ARRAY_MEMORY_FRACTION", " 0.4 ")
    monkeypatch.setenv("PJRT_ARRAY_ALLOCATOR", "bfc")
    monkeypatch.setenv("PJRT_ARRAY_VISIBLE_DEVICES", "1,0")
    assert _client_options.environment_options("gpu") == {
        "preallocate": False, "memory_fraction": 0.4, "allocator": "bfc", "visible_devices": [1, 0]}
    assert _client_options.environment_options("cpu") == {}


@pytest.mark.parametrize("var, text, match", [
    ("PJRT_ARRAY_PREALLOCATE", "maybe", r"\$PJRT_ARRAY_PREALLOCATE must be one of"),
    ("PJRT_ARRAY_MEMORY_FRACTION", "half", r"\$PJRT_ARRAY_MEMORY_FRACTION must be a float"),
    ("PJRT_ARRAY_MEMORY_FRACTION", "2", r"PJRT_ARRAY_MEMORY_FRACTION must be a float in \(0, 1\]"),
    ("PJRT_ARRAY_MEMORY_FRACTION", "inf", "PJRT_ARRAY_MEMORY_FRACTION"),
    ("PJRT_ARRAY_ALLOCATOR", "fast", "PJRT_ARRAY_ALLOCATOR must be one of"),
    ("PJRT_ARRAY_VISIBLE_DEVICES", "0;1", r"\$PJRT_ARRAY_VISIBLE_DEVICES must be device ordinals"),
    ("PJRT_ARRAY_VISIBLE_DEVICES", "0,0", "PJRT_ARRAY_VISIBLE_DEVICES"),
])
def test_bad_environment_values_raise_naming_the_variable(monkeypatch, var, text, match):
    monkeypatch.setenv(var, text)
    with pytest.raises(ValueError, match=match):
        _client_options.environment_options("gpu")


# -- through the namespace into PJRT_Client_Create --------------------------------------------

@pytest.fixture
def fake_gpu_namespace(monkeypatch):
    """The namespace's client machinery pointed at a fake GPU plugin; returns the options it got."""
    fake = FakePlugin()
    received: list[dict] = []

    def create(a):
        received.append(read_named_values(a.create_options, a.num_options))
        a.client = 0xC1

    fake._core("PJRT_Client_Create", _abi.PJRT_Client_Create_Args, create)
    fake._core("PJRT_Client_Destroy", _abi.PJRT_Client_Destroy_Args, lambda a: None)
    fake._core("PJRT_Buffer_Destroy", _abi.PJRT_Buffer_Destroy_Args, lambda a: None)
    name, _ = fake.out_bytes(b"cuda")
    fake._core("PJRT_Client_PlatformName", _abi.PJRT_Client_PlatformName_Args,
               lambda a: (setattr(a, "platform_name", name), setattr(a, "platform_name_size", 4)))
    fake._core("PJRT_Client_AddressableDevices", _abi.PJRT_Client_AddressableDevices_Args,
               lambda a: setattr(a, "num_addressable_devices", 0))
    plugin = Plugin("/fake/xla_cuda_plugin.so", None, fake.api)
    monkeypatch.setattr(_devices, "_state", _devices._State())
    monkeypatch.setattr(_devices, "default_plugin_info",
                        lambda path, platform, versions: PluginInfo(plugin.path, "entry point jax_plugins:xla_cuda12", "gpu"))
    monkeypatch.setattr(_devices, "load_plugin", lambda path: plugin)
    yield received
    for c in _devices._state.clients.values():
        c.close()


def test_options_reach_the_gpu_plugins_client_create(fake_gpu_namespace, monkeypatch):
    monkeypatch.setenv("PJRT_ARRAY_MEMORY_FRACTION", "0.9")  # overridden by the call below
    monkeypatch.setenv("PJRT_ARRAY_ALLOCATOR", "bfc")
    xp.set_client_options("gpu", **GOOD)
    xp.set_client_options("/fake/xla_cuda_plugin.so", preallocate=True)  # the plugin's own wins
    client = _devices.client(platform="gpu")
    assert client.platform_name == "cuda"
    assert fake_gpu_namespace == [{"preallocate": True, "memory_fraction": 0.25, "visible_devices": [0, 2],
                                   "allocator": "cuda_async"}]
    with pytest.raises(RuntimeError, match="before the first use"):
        xp.set_client_options("gpu", preallocate=False)


def test_bad_options_raise_before_any_client_exists(fake_gpu_namespace):
    with pytest.raises(ValueError, match="memory_fraction"):
        xp.set_client_options("gpu", memory_fraction=0.0)
    with pytest.raises(TypeError, match="platform_or_plugin"):
        xp.set_client_options(3, preallocate=True)
    assert fake_gpu_namespace == []


@pytest.mark.cpu_only  # the default platform must be the CPU one (a GPU machine may have no CPU plugin)
def test_cpu_device_count_reaches_the_cpu_plugin():
    script = textwrap.dedent("""
        import pjrt_array as xp
        xp.set_client_options("cpu", cpu_device_count=2)
        print(len(xp.__array_namespace_info__().devices()))
        try:
            xp.set_client_options("cpu", cpu_device_count=3)
        except RuntimeError as exc:
            print("refused:", "before the first use" in str(exc))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["2", "refused:", "True"]


# -- the default platform ---------------------------------------------------------------------

def test_platform_choice_is_checked(monkeypatch):
    monkeypatch.setenv(_loader.ENV_PLATFORM, "quantum")
    monkeypatch.delenv(_loader.ENV_PLUGIN, raising=False)
    with pytest.raises(ValueError, match=r"\$PJRT_ARRAY_PLATFORM must be one of cpu, gpu, tpu, got 'quantum'"):
        _loader.default_plugin_info()
    with pytest.raises(ValueError, match="platform must be one of"):
        xp.set_default_platform("cuda12")


def test_gpu_without_a_gpu_plugin_says_how_to_install_one(monkeypatch):
    monkeypatch.delenv(_loader.ENV_PLUGIN, raising=False)
    monkeypatch.setattr(_loader, "_installed_candidates",
                        lambda: [("/nowhere/libcpu.so", "package x", "cpu")])
    with pytest.raises(PluginLoadError, match=r"(?s)no usable gpu PJRT plugin.*pjrt-array\[cuda12\]"):
        _loader.default_plugin_info(platform="gpu")


def test_only_the_chosen_platforms_plugins_are_opened(monkeypatch):
    monkeypatch.delenv(_loader.ENV_PLUGIN, raising=False)
    monkeypatch.setenv(_loader.ENV_PLATFORM, "GPU")
    opened = []
    cpu = [c for c in _loader._installed_candidates() if c[2] == "cpu"]
    gpu = ("/site/jax_plugins/xla_cuda12/xla_cuda_plugin.so", "entry point jax_plugins:xla_cuda12", "gpu")
    monkeypatch.setattr(_loader, "_installed_candidates", lambda: cpu + [gpu])
    monkeypatch.setattr(_loader, "_describe", lambda *c: opened.append(c[0]) or PluginInfo(*c, api_version=(0, 90)))
    assert _loader.default_plugin_info().path == gpu[0]
    assert opened == [gpu[0]]
    assert _loader._platform_guess("xla_cuda12", "xla_cuda_plugin.so") == "gpu"


def test_set_default_platform_picks_the_default_plugin(monkeypatch):
    monkeypatch.setattr(_devices, "_state", _devices._State())
    monkeypatch.setattr(_devices, "_default", ["a device chosen before"])
    monkeypatch.delenv(_loader.ENV_PLUGIN, raising=False)
    seen = []
    monkeypatch.setattr(_devices, "default_plugin_info", lambda path, platform, versions: seen.append((path, platform)))
    xp.set_default_platform("GPU")
    assert _devices._default == []  # the next array asks again
    _devices._plugin()
    xp.set_default_plugin("/explicit/plugin.so")  # an explicit plugin wins over the platform
    _devices._plugin()
    assert seen == [(None, "gpu"), ("/explicit/plugin.so", "gpu")]


def test_an_installed_cuda_wheel_is_found_with_its_stream_extension():
    """Where jax-cuda12/13-pjrt is installed (GPU or not): found by its entry point, loadable, and it
    has the Stream extension DLPack relies on.  Without a GPU its client refuses cleanly."""
    from pjrt_array._pjrt import Client, PjrtError, load_plugin
    from pjrt_array._pjrt.extensions import Stream
    wheels = [i for i in _loader.discover() if i.source.startswith("entry point jax_plugins:xla_cuda")]
    if not wheels:
        pytest.skip("no jax-cuda12/13-pjrt installed")
    info = wheels[0]
    assert info.usable and info.platform == "gpu", info
    plugin = load_plugin(info.path)
    assert Stream.of(plugin) is not None
    with pytest.raises(PjrtError, match="Unexpected option name"):
        Client(plugin, {"no_such_option": 1})
