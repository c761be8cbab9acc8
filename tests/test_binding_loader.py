"""Plugin discovery, loading, version negotiation and PJRT_Plugin_* (pjrt_array._pjrt._loader)."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
import textwrap

import _ctypes
import pytest

from pjrt_array import _pjrt as P
from pjrt_array._pjrt import _abi, _loader
from pjrt_array._pjrt._api import Api, new_struct, struct_size

from binding_support import client, cpu_plugins, plugin_info, _shared_clients  # noqa: F401

CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


def build_so(tmp_path, name: str, source: str) -> str:
    """Compile ``source`` into ``tmp_path/name`` as a shared library."""
    if CC is None:
        pytest.skip("no C compiler")
    c_file = tmp_path / (name + ".c")
    c_file.write_text(textwrap.dedent(source))
    out = tmp_path / name
    subprocess.run([CC, "-shared", "-fPIC", "-o", str(out), str(c_file)], check=True, capture_output=True)
    return str(out)


# -- discovery -------------------------------------------------------------------------------

def test_both_plugin_generations_are_installed(cpu_plugins):
    versions = {i.api_version for i in cpu_plugins}
    assert (0, 81) in versions, "xla-cpu-pjrt (PJRT API 0.81) is a runtime dependency"
    assert (0, 106) in versions, "fastatomstruct-xla-cpu (PJRT API 0.106) is in the test extra"


def test_installed_plugins_are_found_by_entry_point_and_by_package(monkeypatch):
    monkeypatch.delenv(_loader.ENV_PLUGIN, raising=False)
    sources = {i.source for i in P.discover()}
    assert "entry point xla_plugins:xla_cpu_pjrt" in sources
    assert "package fastatomstruct_xla_cpu" in sources


def test_discover_reports_path_platform_and_version(plugin_info):
    assert os.path.isfile(plugin_info.path)
    assert plugin_info.platform == "cpu"
    assert plugin_info.usable and plugin_info.error is None
    assert plugin_info.api_version[0] == 0 and plugin_info.api_version[1] >= 29


def test_default_is_the_newest_cpu_plugin(monkeypatch, cpu_plugins):
    monkeypatch.delenv(_loader.ENV_PLUGIN, raising=False)
    assert P.default_plugin_info().api_version == max(i.api_version for i in cpu_plugins)


def test_explicit_path_comes_first_and_wins(monkeypatch, plugin_info, cpu_plugins):
    other = next(i for i in cpu_plugins if i.path != plugin_info.path)
    monkeypatch.setenv(_loader.ENV_PLUGIN, other.path)
    infos = P.discover(plugin_info.path)
    assert infos[0].source == "argument" and infos[0].path == plugin_info.path
    assert infos[1].source == _loader.ENV_PLUGIN and infos[1].path == other.path
    assert P.default_plugin_info(plugin_info.path).path == plugin_info.path


def test_environment_variable_selects_the_default(monkeypatch, plugin_info):
    monkeypatch.setenv(_loader.ENV_PLUGIN, plugin_info.path)
    chosen = P.default_plugin_info()
    assert chosen.path == plugin_info.path and chosen.source == _loader.ENV_PLUGIN


def test_each_library_is_listed_once(monkeypatch, plugin_info):
    monkeypatch.setenv(_loader.ENV_PLUGIN, plugin_info.path)
    paths = [os.path.realpath(i.path) for i in P.discover(plugin_info.path)]
    assert len(paths) == len(set(paths))


def test_a_symlink_loads_the_same_plugin(tmp_path, plugin_info):
    link = tmp_path / "link.so"
    link.symlink_to(plugin_info.path)
    assert P.load_plugin(link) is P.load_plugin(plugin_info.path)


# -- bad plugin paths --------------------------------------------------------------------------

def test_missing_file_raises_plugin_load_error_naming_it(tmp_path):
    missing = tmp_path / "nope" / "libpjrt.so"
    with pytest.raises(P.PluginLoadError, match="does not exist") as info:
        P.load_plugin(missing)
    assert str(missing) in str(info.value)
    with pytest.raises(P.PluginLoadError, match="does not exist"):
        P.Client(str(missing))


def test_bad_environment_path_is_an_error_when_it_is_the_choice(monkeypatch, tmp_path):
    missing = str(tmp_path / "missing.so")
    monkeypatch.setenv(_loader.ENV_PLUGIN, missing)
    listed = P.discover()[0]
    assert listed.path == missing and not listed.usable and "does not exist" in listed.error
    with pytest.raises(P.PluginLoadError, match="missing.so"):
        P.default_plugin_info()


def test_no_plugin_at_all_lists_where_it_looked(monkeypatch):
    monkeypatch.delenv(_loader.ENV_PLUGIN, raising=False)
    monkeypatch.setattr(_loader, "_installed_candidates", lambda: [])
    with pytest.raises(P.PluginLoadError) as info:
        P.default_plugin_info()
    message = str(info.value)
    for place in (_loader.ENV_PLUGIN, "xla_plugins", "jax_plugins", "fastatomstruct_xla_cpu", "pip install"):
        assert place in message


def test_a_shared_library_without_get_pjrt_api_is_rejected():
    # The _ctypes extension is a real shared library that is surely not a plugin.
    with pytest.raises(P.PluginLoadError, match="GetPjrtApi") as info:
        P.load_plugin(_ctypes.__file__)
    assert os.path.basename(_ctypes.__file__) in str(info.value)


def test_a_compiled_library_without_get_pjrt_api_is_rejected(tmp_path):
    path = build_so(tmp_path, "libnotaplugin.so", "int answer(void) { return 42; }\n")
    with pytest.raises(P.PluginLoadError, match="is not a PJRT plugin") as info:
        P.load_plugin(path)
    assert "libnotaplugin.so" in str(info.value)


def test_a_file_that_is_not_a_library_is_rejected(tmp_path):
    fake = tmp_path / "libfake.so"
    fake.write_text("not an ELF file")
    with pytest.raises(P.PluginLoadError, match="cannot load") as info:
        P.load_plugin(fake)
    assert "libfake.so" in str(info.value)


FAKE_PLUGIN = """
#include <stddef.h>
typedef struct {{ size_t struct_size; void* ext; int major; int minor; }} Version;
typedef struct {{ size_t struct_size; void* ext; Version version; }} Api;
static Api api = {{ {size}, 0, {{ sizeof(Version), 0, {major}, 0 }} }};
void* GetPjrtApi(void) {{ return {ret}; }}
"""


@pytest.mark.parametrize("size, major, ret, message", [
    ("sizeof(Api)", 0, "0", "returned a null PJRT_Api"),
    ("sizeof(Api)", 1, "&api", "major version 1"),
    ("8", 0, "&api", "struct_size 8 is too small"),
])
def test_a_broken_get_pjrt_api_is_rejected(tmp_path, size, major, ret, message):
    name = f"libbroken_{major}_{ret.strip('&')}_{size.strip('()')}.so"
    path = build_so(tmp_path, name, FAKE_PLUGIN.format(size=size, major=major, ret=ret))
    with pytest.raises(P.PluginLoadError, match=message) as info:
        P.load_plugin(path)
    assert name in str(info.value)


# -- negotiation -------------------------------------------------------------------------------

def first_slot_past_the_table(api: Api) -> str | None:
    for name, _ in _abi.PJRT_Api._fields_:
        member = getattr(_abi.PJRT_Api, name)
        if name.startswith("PJRT_") and member.offset >= api.struct_size:
            return name
    return None


def test_the_table_has_the_plugins_version(plugin_info):
    api = P.load_plugin(plugin_info.path).api
    assert (api.major, api.minor) == plugin_info.api_version
    assert api.version == f"0.{plugin_info.api_version[1]}"
    assert api.has("PJRT_Client_Create") and api.has("PJRT_LoadedExecutable_Execute")


def test_a_function_past_the_plugins_table_raises_unimplemented(plugin_info):
    api = P.load_plugin(plugin_info.path).api
    name = first_slot_past_the_table(api)
    assert name is not None, "both CPU plugins are older than the 0.114 headers"
    assert not api.has(name)
    with pytest.raises(P.Unimplemented) as info:
        api.raw(name)
    message = str(info.value)
    assert name in message and f"its API version is {api.version}" in message
    assert "was introduced in PJRT API 0." in message
    assert isinstance(info.value, NotImplementedError)


def test_event_create_on_a_081_plugin_names_function_and_versions(client):
    if client.api.minor >= 89:
        event = P.Event.create(client.api)  # PJRT_Event_Create exists from 0.89
        assert not event.is_ready()
        event.set()
        assert event.is_ready()
        return
    with pytest.raises(P.Unimplemented, match=r"PJRT_Event_Create .*0\.81.*introduced in PJRT API 0\.89"):
        P.Event.create(client.api)


def test_clear_memory_stats_needs_0_106(client):
    assert client.api.has("PJRT_Device_ClearMemoryStats") == (client.api.minor >= 106)
    if client.api.minor < 106:
        with pytest.raises(P.Unimplemented, match=r"PJRT_Device_ClearMemoryStats.*0\.106"):
            client.api.raw("PJRT_Device_ClearMemoryStats")


def test_a_null_slot_inside_the_table_raises_unimplemented():
    table = _abi.PJRT_Api()
    table.struct_size = ctypes.sizeof(table)
    table.pjrt_api_version.major_version = 0
    table.pjrt_api_version.minor_version = _abi.PJRT_API_MINOR
    api = Api(ctypes.addressof(table), "fake-plugin.so")
    assert not api.has("PJRT_Client_Create")
    with pytest.raises(P.Unimplemented, match="PJRT_Client_Create is not implemented by plugin fake-plugin.so"):
        api.call("PJRT_Client_Create", new_struct(_abi.PJRT_Client_Create_Args))


def test_args_structs_carry_our_struct_size():
    args = new_struct(_abi.PJRT_Client_Create_Args)
    assert args.struct_size == _abi.PJRT_Client_Create_Args_STRUCT_SIZE == struct_size(_abi.PJRT_Client_Create_Args)
    last = _abi.PJRT_Client_Create_Args._fields_[-1][0]
    member = getattr(_abi.PJRT_Client_Create_Args, last)
    assert args.struct_size == member.offset + member.size


# -- PJRT_Plugin_* -----------------------------------------------------------------------------

def test_plugin_initialize_runs_once_per_process(plugin_info):
    script = textwrap.dedent(f"""
        from pjrt_array._pjrt import _api, Client, load_plugin
        calls = []
        original = _api.Api.call
        def counting(self, name, args):
            calls.append(name)
            return original(self, name, args)
        _api.Api.call = counting
        path = {plugin_info.path!r}
        load_plugin(path, initialize=False)
        load_plugin(path).initialize()
        load_plugin(path)
        Client(path).close()
        Client(path).close()
        print(calls.count("PJRT_Plugin_Initialize"))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == "1"


def test_plugin_attributes(plugin_info):
    plugin = P.load_plugin(plugin_info.path)
    assert plugin.version == plugin_info.api_version
    attrs = plugin.attributes()
    version = attrs["stablehlo_current_version"]
    assert isinstance(version, list) and len(version) == 3 and all(isinstance(v, int) for v in version)
    assert attrs["stablehlo_minimum_version"] <= version
    assert "api=0." in repr(plugin)
