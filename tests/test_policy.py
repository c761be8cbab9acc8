"""The compile policy per plugin (pjrt_array/_policy.py): options, refused options, tuning, build
identity; the binding neither tunes the process nor reads what the hot path does not need."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import pjrt_array as xp
from pjrt_array import _devices, _policy
from binding_support import CPU_PLUGINS
from pjrt_array._pjrt import Client, Executable, LoadedExecutable

PROGRAM = "func.func @main(%a: tensor<3xf32>) -> tensor<3xf32> { return %a : tensor<3xf32> }"


@pytest.fixture(scope="module")
def client():
    return _devices.client()


class CountingClient:
    """A client whose compiles are counted (the policy only calls ``compile``)."""

    def __init__(self, client) -> None:
        self.client = client
        self.sent: list[dict] = []

    def compile(self, text, options):
        self.sent.append(dict(options.env_option_overrides))
        return self.client.compile(text, options)


def test_one_policy_per_plugin(client):
    with Client(client.plugin) as second:
        assert _policy.policy_for(second) is _policy.policy_for(client)
    others = [info for info in CPU_PLUGINS if os.path.realpath(info.path) != client.plugin.path]
    if others:
        with Client(others[0].path) as other:
            assert _policy.policy_for(other) is not _policy.policy_for(client)
            assert _policy.policy_for(other).build_key != _policy.policy_for(client).build_key


def test_small_programs_get_cheaper_options(client):
    policy = _policy.CompilePolicy(client)
    small = policy.options(3, [((4, 4), np.dtype(np.float32))])
    large = policy.options(3, [((1024, 1024), np.dtype(np.float32))])
    if policy.portable:  # no device in them: every device shares the program and its fingerprint
        assert small.compile_portable_executable and small.device_assignment is None
        assert policy.options(0, [((4, 4), np.dtype(np.float32))]).to_bytes() == small.to_bytes()
    else:
        assert small.device_assignment == large.device_assignment == ((3,),)
    assert dict(small.env_option_overrides) == {**policy.options_always, **policy.options_small}
    assert dict(large.env_option_overrides) == policy.options_always
    assert dict(policy.options(0, []).env_option_overrides) == dict(small.env_option_overrides)
    if client.platform_name == "cpu":
        assert policy.options_small == {"xla_backend_optimization_level": 0}


def test_whole_programs_get_wide_vectors_and_index_reductions_no_fusion_emitters(client):
    policy = _policy.CompilePolicy(client)
    plain = dict(policy.program_options(2).env_option_overrides)
    indexed = dict(policy.program_options(2, index_reduction=True).env_option_overrides)
    assert plain == policy.options_program
    assert indexed == {**policy.options_program, **policy.options_always}
    assert policy.program_options(2).compile_portable_executable == policy.portable
    assert policy.program_options(2).device_assignment == (None if policy.portable else ((2,),))
    if client.platform_name == "cpu":
        assert policy.options_program == {"xla_cpu_prefer_vector_width": 512}
        assert indexed["xla_cpu_use_fusion_emitters"] is False


def test_fused_graphs_start_cheap_when_small_and_tiny_ones_stay_so(client):
    policy = _policy.CompilePolicy(client)
    f64 = np.dtype(np.float64)
    tiny = [((policy.tiny_elements,), f64), ((), f64)]
    small = [((policy.tiny_elements + 1,), f64)]
    large = [((policy.small_elements + 1,), f64)]

    def overrides(options):
        return dict(options.env_option_overrides)
    for hot in (False, True):
        assert overrides(policy.graph_options(1, tiny, hot=hot)) == overrides(policy.options(1, tiny))
    assert overrides(policy.graph_options(1, small)) == overrides(policy.options(1, small))
    for flags in ({}, {"index_reduction": True}, {"narrow_dot": True}):
        whole = overrides(policy.program_options(1, **flags))
        assert overrides(policy.graph_options(1, small, hot=True, **flags)) == whole
        for hot in (False, True):
            got = policy.graph_options(1, large, hot=hot, **flags)
            assert overrides(got) == whole and got.to_bytes() == policy.program_options(1, **flags).to_bytes()
    if client.platform_name == "cpu":
        assert policy.tiny_elements < policy.small_elements
        assert overrides(policy.graph_options(1, small))["xla_backend_optimization_level"] == 0


def test_an_option_the_plugin_refuses_is_dropped_once_and_never_sent_again(client):
    policy = _policy.CompilePolicy(client)
    policy.options_always["xla_no_such_option_for_this_test"] = True
    counting = CountingClient(client)
    options = policy.options(0, [((3,), np.dtype(np.float32))])
    exe = policy.compile(counting, PROGRAM, options)
    assert policy.refused == {"xla_no_such_option_for_this_test"}
    assert len(counting.sent) == 2 and "xla_no_such_option_for_this_test" not in counting.sent[1]
    policy.compile(counting, PROGRAM, options)
    assert len(counting.sent) == 3 and "xla_no_such_option_for_this_test" not in counting.sent[2]
    out = exe.execute([client.buffer_from_numpy(np.arange(3, dtype=np.float32))], device=client.devices()[0])
    np.testing.assert_array_equal(out[0].to_numpy(), [0, 1, 2])


def test_other_compile_errors_are_raised(client):
    policy = _policy.CompilePolicy(client)
    with pytest.raises(xp._pjrt.PjrtError):
        policy.compile(client, "func.func @main( this is not a program", policy.options(0, []))
    assert policy.refused == set()


def test_the_build_identity_names_the_library_file(client):
    policy = _policy.policy_for(client)
    identity = _policy.plugin_build_identity(client)
    st = os.stat(client.plugin.path)
    assert identity["path"] == client.plugin.path
    assert (identity["size"], identity["mtime_ns"]) == (st.st_size, st.st_mtime_ns)
    assert identity["api_version"] == client.api.version and identity["platform"] == client.platform_name
    assert '"mtime_ns": %d' % st.st_mtime_ns in policy.build_key
    assert policy.label == f"{client.platform_name}-{client.api.version}"


def test_a_loaded_executable_reads_its_signature_only_when_the_checked_execute_needs_it(client, monkeypatch):
    calls = []
    original = Executable.optimized_program
    monkeypatch.setattr(Executable, "optimized_program", lambda self: calls.append(1) or original(self))
    data = client.compile(PROGRAM).executable.serialize()
    exe = client.deserialize_executable(data)
    x = client.buffer_from_numpy(np.ones(3, np.float32))
    exe.execute_handles([x.handle])  # the unchecked path needs only the output count
    assert calls == [] and "signature" not in vars(exe)
    exe.execute([x])
    assert calls == [1] and exe.signature == [((3,), np.dtype(np.float32))]
    with pytest.raises(TypeError, match=r"argument 0: expected float32\[3\]"):
        exe.execute([client.buffer_from_numpy(np.ones(4, np.float32))])
    assert calls == [1]


def test_a_compiled_executable_parses_its_program_text_only_when_asked(client, monkeypatch):
    parsed = []
    from pjrt_array._pjrt import executable
    original = executable.parse_main_signature
    monkeypatch.setattr(executable, "parse_main_signature", lambda text: parsed.append(1) or original(text))
    exe = client.compile(PROGRAM)
    assert parsed == [] and isinstance(exe, LoadedExecutable)
    assert exe.signature == [((3,), np.dtype(np.float32))] and parsed == [1]


def test_the_binding_leaves_malloc_alone_and_the_namespace_opts_in():
    script = textwrap.dedent("""
        from pjrt_array import _malloc
        import pjrt_array._pjrt as P
        client = P.Client(P.default_plugin_info().path)
        client.compile(%r)
        print(_malloc._done)
        import pjrt_array as xp
        xp.asarray(1.0) + 1.0
        print(_malloc._done)
    """ % PROGRAM)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]
