"""CompileOptions: the hand-written CompileOptionsProto encoder and decoder.

Oracles: byte strings worked out by hand from the protobuf encoding rules
(https://protobuf.dev/programming-guides/encoding/) and the field numbers of
xla/pjrt/proto/compile_options.proto, and the plugin itself, whose protobuf
parser reads our bytes and whose PJRT_Executable_GetCompileOptions writes them
back.
"""

from __future__ import annotations

import dataclasses
import math
import pickle
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pjrt_array._pjrt.compile_options import (CompileOptions, EffortLevel, Precision, _fields, _read_key,
                                              _read_value, _read_varint, _varint)

from binding_support import ADD_F32_4, _shared_clients, client, plugin_info, upload  # noqa: F401 - fixtures

INT32_MAX, INT64_MIN, INT64_MAX = 2**31 - 1, -(2**63), 2**63 - 1
MINUS_ONE = "ff" * 9 + "01"  # int64 -1: ten-byte two's complement varint
# ExecutableBuildOptionsProto of the defaults: device_ordinal (1) = -1, num_replicas (4) = 1,
# num_partitions (5) = 1, process_count (23, key 23<<3 = 184 = varint b8 01) = 1.
DEFAULT_BUILD = "08" + MINUS_ONE + "2001" "2801" "b80101"


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def m(key: str, *parts: str) -> str:
    """Hex of a length-delimited field: ``key``, the length of the joined ``parts``, the parts."""
    payload = "".join(parts).replace(" ", "")
    return key + _varint(len(payload) // 2).hex() + payload


def build_field(build_hex: str) -> bytes:
    """CompileOptionsProto field 3 (key 3<<3|2 = 0x1a) holding ``build_hex``."""
    return h(m("1a", build_hex))


def state(o: CompileOptions) -> str:
    """Every field, type-exact (True vs 1, 1 vs 1.0, -0.0 vs 0.0 differ)."""
    return repr([(f.name, getattr(o, f.name)) for f in dataclasses.fields(o) if f.init])


# -- wire primitives ---------------------------------------------------------------------------

@pytest.mark.parametrize("n, encoded", [
    (0, "00"), (1, "01"), (127, "7f"), (128, "8001"), (300, "ac02"), (2**31 - 1, "ffffffff07"),
    (-1, MINUS_ONE), (-2, "fe" + "ff" * 8 + "01"), (INT64_MAX, "ff" * 8 + "7f"), (INT64_MIN, "80" * 9 + "01"),
])
def test_varint_vectors(n, encoded):
    assert _varint(n) == h(encoded)
    value, pos = _read_varint(h(encoded), 0)
    assert pos == len(h(encoded)) and value == n % 2**64


@given(st.integers(0, 2**64 - 1), st.binary(max_size=4))
def test_varint_round_trip(n, tail):
    data = _varint(n) + tail
    assert _read_varint(data, 0) == (n, len(data) - len(tail))


def test_fields_of_every_wire_type():
    data = h("0896 01" "11 0102030405060708" "1a 03 616263" "23 0801 1a01ff 24" "2d 01020304")
    assert list(_fields(data)) == [
        (1, 0, 150), (2, 1, h("0102030405060708")), (3, 2, b"abc"),
        (4, 3, h("0801 1a01ff")),  # a group: its raw contents
        (5, 5, h("01020304")),
    ]


# -- hand-computed encodings -------------------------------------------------------------------

def test_defaults_always_carry_the_counts():
    assert CompileOptions().to_bytes() == build_field(DEFAULT_BUILD)
    assert CompileOptions().to_bytes() == h("1a12" + DEFAULT_BUILD)


def test_option_override_of_each_type():
    name = "xla_backend_optimization_level"  # 30 bytes
    key = "0a1e" + name.encode().hex()
    cases = [
        (0, "18 00"),  # int_field (3) = 0: a oneof member is written even when zero
        (5, "18 05"),
        (-1, "18" + MINUS_ONE),
        (False, "10 00"),  # bool_field (2)
        (True, "10 01"),
        (0.5, "21 000000000000e03f"),  # double_field (4): fixed64, little-endian
        ("ab", "0a 02 6162"),  # string_field (1)
        ("", "0a 00"),
    ]
    for value, override in cases:
        entry = m("3a", key, m("12", override))  # field 7, a map entry: key = 1, value = 2
        expected = build_field(DEFAULT_BUILD) + h(entry)
        assert CompileOptions(env_option_overrides={name: value}).to_bytes() == expected, value


def test_overrides_are_written_sorted_by_name():
    a = CompileOptions(env_option_overrides={"b": 1, "a": 2})
    assert a.to_bytes() == build_field(DEFAULT_BUILD) + h("3a07 0a0161 12021802" "3a07 0a0162 12021801")
    assert a == CompileOptions(env_option_overrides={"a": 2, "b": 1})


def test_device_assignment_is_one_computation_device_per_partition():
    o = CompileOptions(num_replicas=2, num_partitions=2, device_assignment=[[0, 1], [2, 3]])
    # DeviceAssignmentProto: replica_count (1) = 2, computation_count (2) = 2, then per partition a
    # ComputationDevice (3) with packed replica_device_ids (1): partition 0 -> [0, 2], 1 -> [1, 3].
    assignment = "0802 1002 1a04 0a020002 1a04 0a020103".replace(" ", "")
    build = "08" + MINUS_ONE + "2002 2802 4a10".replace(" ", "") + assignment + "b80101"
    assert o.to_bytes() == build_field(build)


def test_top_level_scalars_around_the_build_options():
    o = CompileOptions(parameter_is_tupled_arguments=True, compile_portable_executable=True, profile_version=-2,
                       allow_in_place_mlir_modification=True, matrix_unit_operand_precision=Precision.HIGHEST,
                       compiler_variant="")
    expected = (h("1001") + build_field(DEFAULT_BUILD)  # fields in number order: 2, 3, 4, 5, 9, 10, 11
                + h("2001" "28fe" + "ff" * 8 + "01" "4801" "5002" "5a00"))
    assert o.to_bytes() == expected


def test_build_scalars_and_repeated_fields():
    o = CompileOptions(device_ordinal=3, use_spmd_partitioning=True, use_auto_spmd_partitioning=True,
                       deduplicate_hlo=True, alias_passthrough_params=True, run_backend_only=True,
                       allow_spmd_sharding_propagation_to_output=[True, False], fdo_profile=b"\x00\xff",
                       device_memory_size=300, auto_spmd_partitioning_mesh_shape=[2, -1],
                       auto_spmd_partitioning_mesh_ids=[7], allow_spmd_sharding_propagation_to_parameters=[True],
                       use_shardy_partitioner=True, exec_time_optimization_effort=0.5, memory_fitting_effort=-0.0,
                       process_index=1, process_count=2, optimization_level=EffortLevel.O2,
                       memory_fitting_level=EffortLevel.O0, slice_size=4)
    build = ("0803" "2001" "2801" "3001" "3801" "4001" "5001" "5801"
             "6202 0100"  # 12: packed bools
             "7202 00ff"  # 14: bytes
             "78ac02"  # 15: 300
             "82010b 02" + MINUS_ONE +  # 16 (key 130 = 82 01): packed int64 [2, -1]
             "8a0101 07"  # 17: [7]
             "920101 01"  # 18: [True]
             "9801 01"  # 19
             "a501 0000003f"  # 20 (key 165): float32 0.5
             "ad01 00000080"  # 21: float32 -0.0 differs from the default, so it is written
             "b001 01" "b801 02"  # 22, 23
             "c001 1d" "c801 09"  # 24 = O2 (29), 25 = O0 (9)
             "d001 04")  # 26
    assert o.to_bytes() == build_field(build.replace(" ", ""))


# -- decoding ----------------------------------------------------------------------------------

FLOATS_IN_EFFORT = st.floats(-1.0, 1.0, width=32)
OVERRIDE_VALUES = st.one_of(st.booleans(), st.integers(INT64_MIN, INT64_MAX), st.floats(), st.text(max_size=8))


@st.composite
def compile_options(draw) -> CompileOptions:
    replicas, partitions = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ids = st.integers(0, INT64_MAX)
    assignment = draw(st.none() | st.lists(st.lists(ids, min_size=partitions, max_size=partitions),
                                           min_size=replicas, max_size=replicas))
    int64s = st.lists(st.integers(INT64_MIN, INT64_MAX), max_size=3)
    bools = st.lists(st.booleans(), max_size=3)
    return CompileOptions(
        num_replicas=replicas, num_partitions=partitions, device_assignment=assignment,
        device_ordinal=draw(st.integers(-1, INT32_MAX)),
        use_spmd_partitioning=draw(st.booleans()), use_auto_spmd_partitioning=draw(st.booleans()),
        use_shardy_partitioner=draw(st.booleans()),
        allow_spmd_sharding_propagation_to_output=draw(bools),
        allow_spmd_sharding_propagation_to_parameters=draw(bools),
        auto_spmd_partitioning_mesh_shape=draw(int64s), auto_spmd_partitioning_mesh_ids=draw(int64s),
        deduplicate_hlo=draw(st.booleans()), alias_passthrough_params=draw(st.booleans()),
        run_backend_only=draw(st.booleans()), fdo_profile=draw(st.binary(max_size=8)),
        device_memory_size=draw(st.integers(0, INT64_MAX)),
        exec_time_optimization_effort=draw(FLOATS_IN_EFFORT), memory_fitting_effort=draw(FLOATS_IN_EFFORT),
        optimization_level=draw(st.sampled_from(EffortLevel)), memory_fitting_level=draw(st.sampled_from(EffortLevel)),
        process_index=draw(st.integers(0, INT32_MAX)), process_count=draw(st.integers(0, INT32_MAX)),
        slice_size=draw(st.integers(0, INT64_MAX)),
        compile_portable_executable=draw(st.booleans()), parameter_is_tupled_arguments=draw(st.booleans()),
        profile_version=draw(st.integers(INT64_MIN, INT64_MAX)),
        allow_in_place_mlir_modification=draw(st.booleans()),
        matrix_unit_operand_precision=draw(st.sampled_from(Precision)),
        compiler_variant=draw(st.none() | st.text(max_size=8)),
        env_option_overrides=draw(st.dictionaries(st.text(min_size=1, max_size=8), OVERRIDE_VALUES, max_size=4)),
    )


@settings(max_examples=200)
@given(compile_options())
def test_round_trip(o):
    data = o.to_bytes()
    back = CompileOptions.from_bytes(data)
    assert state(back) == state(o)
    assert back == o and hash(back) == hash(o)
    assert back.to_bytes() == data


@settings(max_examples=100)
@given(compile_options())
def test_build_options_are_always_written_without_debug_options(o):
    (number, _, build), *rest = [f for f in _fields(o.to_bytes()) if f[0] == 3]
    assert not rest
    numbers = [n for n, _, _ in _fields(build)]
    assert 4 in numbers and 5 in numbers  # num_replicas, num_partitions, even when 1
    assert 3 not in numbers  # debug_options would replace every XLA default
    assert numbers == sorted(numbers)


# Unknown fields of every wire type, one of them a group holding a nested group.
UNKNOWN_FIELDS = [
    h("c83e 8080808080808080 8001"),  # field 1001, varint (ten bytes)
    h("c93e 0102030405060708"),  # field 1001, fixed64
    h("ca3e 05 0801 1a01ff"),  # field 1001, length-delimited (looks like fields inside)
    h("cb3e 0801 1b 1001 1c 22 02 0000 cc3e"),  # field 1001, group with a nested group 3
    h("cd3e 01020304"),  # field 1001, fixed32
    h("f807 01"),  # field 127 (a number past every known one), varint
]


def split_fields(data: bytes) -> list[bytes]:
    """The raw bytes of each field of a message, in order."""
    chunks, pos = [], 0
    while pos < len(data):
        number, wire, after = _read_key(data, pos)
        _, end = _read_value(data, after, number, wire)
        chunks.append(data[pos:end])
        pos = end
    return chunks


def with_unknowns(message: bytes, draw) -> bytes:
    chunks = split_fields(message)
    for unknown in draw(st.lists(st.sampled_from(UNKNOWN_FIELDS), max_size=6)):
        chunks.insert(draw(st.integers(0, len(chunks))), unknown)
    return b"".join(chunks)


@settings(max_examples=100)
@given(compile_options(), st.data())
def test_unknown_fields_of_every_wire_type_are_skipped(o, data):
    top = []
    for chunk in split_fields(o.to_bytes()):
        number, _, after = _read_key(chunk, 0)
        if number == 3:  # unknown fields inside the build options and the device assignment too
            build = []
            for inner in split_fields(_read_value(chunk, after, 3, 2)[0]):
                n, _, a = _read_key(inner, 0)
                if n == 9:
                    assignment = with_unknowns(_read_value(inner, a, 9, 2)[0], data.draw)
                    inner = h("4a") + _varint(len(assignment)) + assignment
                build.append(inner)
            payload = with_unknowns(b"".join(build), data.draw)
            chunk = h("1a") + _varint(len(payload)) + payload
        top.append(chunk)
    noisy = with_unknowns(b"".join(top), data.draw)
    assert state(CompileOptions.from_bytes(noisy)) == state(o)


def test_unknown_fields_inside_an_override_entry_are_skipped():
    # Unknown fields around the key (0805: the key as a varint), in the entry and inside the
    # OptionOverrideProto; the value message read three times merges.
    entry = m("3a", "c93e 0102030405060708", "0a0161", "0805", "cb3e cc3e", m("12", "1807"), m("12", "cd3e01020304"),
              m("12", "f80701", "2005"))  # 2005: double_field (4) as a varint, skipped
    assert CompileOptions.from_bytes(h(entry)).env_option_overrides == (("a", 7),)


BUILD_1x1 = ("2001", "2801")  # num_replicas = 1, num_partitions = 1


def assignment_field(*parts: str) -> str:
    return m("1a", *BUILD_1x1, m("4a", *parts))


def test_decoding_follows_protobuf_merge_rules():
    # Absent build options: XLA keeps its ExecutableBuildOptions defaults, which are ours.
    assert CompileOptions.from_bytes(b"") == CompileOptions()
    # Present ones: absent fields are proto3 zeros (device_ordinal 0, process_count 0).
    o = CompileOptions.from_bytes(h(m("1a", "2002") + m("1a", "2803")))  # an embedded message read twice merges
    assert (o.num_replicas, o.num_partitions, o.device_ordinal, o.process_count) == (2, 3, 0, 0)
    # The last scalar wins; repeated fields accept packed (62) and unpacked (60) occurrences and append.
    o = CompileOptions.from_bytes(h(m("1a", *BUILD_1x1, "2002", "620101", "6000", "62020100")))
    assert o.num_replicas == 2 and o.allow_spmd_sharding_propagation_to_output == (True, False, True, False)
    # A later map entry of the same name replaces an earlier one; a oneof keeps its last member.
    o = CompileOptions.from_bytes(h(m("1a", *BUILD_1x1) + m("3a", "0a0161", m("12", "1801"))
                                    + m("3a", "0a0161", m("12", "1802", "0a0178"))))
    assert o.env_option_overrides == (("a", "x"),)
    # A known field number with an unexpected wire type is skipped, as protobuf does.
    o = CompileOptions.from_bytes(h(m("1a", *BUILD_1x1) + "2201ff" "2d00000000" "1001"))
    assert o == CompileOptions(parameter_is_tupled_arguments=True, device_ordinal=0, process_count=0)
    o = CompileOptions.from_bytes(h(assignment_field("0801", "1001", "1805", m("1a", "0d01000000", m("0a", "03")))))
    assert o.device_assignment == ((3,),)  # computation_devices (3) as a varint, ids (1) as fixed32: skipped
    o = CompileOptions.from_bytes(h(assignment_field("0801", "1001", m("1a", "1009", m("0a", "03"), "c83e01"))))
    assert o.device_assignment == ((3,),)  # unknown fields of a ComputationDevice are not ids
    o = CompileOptions.from_bytes(h(m("1a", *BUILD_1x1, "a5010000003f", "a00105")))
    assert o.exec_time_optimization_effort == 0.5  # field 20 read as a varint later is skipped


@pytest.mark.parametrize("data, match", [
    ("1a", "truncated varint"),
    ("1a05 2001", "truncated field 3"),
    ("08", "truncated varint"),
    ("11 0102", "truncated field 2"),
    ("15 01", "truncated field 2"),
    ("0e00", "wire type 6"),
    ("0f00", "wire type 7"),
    ("0c", "wire type 4"),  # an end group with no start
    ("0b 14", "group 1 closed by end tag 2"),
    ("0b 0801", "truncated varint"),  # a group never closed
    ("0b" * 200 + "0c" * 200, "nested too deeply"),
    ("0001", "invalid field number 0"),
    ("08" + "ff" * 10 + "01", "longer than 10 bytes"),
    ("08" + "ff" * 9 + "7f", "wider than 64 bits"),
    (m("3a", m("0a", "ff6161")), "env_option_overrides key is not valid UTF-8"),
    (m("3a", "0a0161", m("12", m("0a", "ff"))), r"env_option_overrides\['a'\] is not valid UTF-8"),
    (m("3a", "0a0161"), r"env_option_overrides\['a'\] has no value"),
    (m("5a", "ff"), "compiler_variant is not valid UTF-8"),
    (m("1a", "2000"), "num_replicas must be between 1 and"),  # present build options without the counts
    (m("1a", *BUILD_1x1, "c00163"), "optimization_level must be one of"),  # field 24 = 99
    (m("1a", *BUILD_1x1) + "5007", "matrix_unit_operand_precision must be one of"),
    (m("1a", *BUILD_1x1, "a5010000c03f"), "exec_time_optimization_effort must be between -1.0 and 1.0"),
    (assignment_field(), "device_assignment in CompileOptionsProto is malformed"),
    (assignment_field("0801", "1001", m("1a")), "malformed"),  # a partition without ids
    (assignment_field("0801", "1002", m("1a", m("0a", "00"))), "malformed"),  # two partitions, one given
    (assignment_field("0801", "1001", m("1a", m("0a", MINUS_ONE))),
     r"device_assignment\[0\]\[0\] must be between 0"),  # a negative device id
    (m("1a", "2001", "2802", m("4a", "0801", "1001", m("1a", m("0a", "00")))),
     "device_assignment must be num_replicas x num_partitions = 1 x 2"),
])
def test_malformed_bytes_raise_value_error(data, match):
    with pytest.raises(ValueError, match=match):
        CompileOptions.from_bytes(h(data))


def test_from_bytes_takes_bytes_like_only():
    data = CompileOptions(num_replicas=2).to_bytes()
    assert CompileOptions.from_bytes(bytearray(data)) == CompileOptions.from_bytes(memoryview(data))
    with pytest.raises(TypeError, match="data must be bytes"):
        CompileOptions.from_bytes(data.hex())


# -- construction ------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, match", [
    (dict(num_replicas=0), ValueError, "num_replicas must be between 1 and 2147483647, got 0"),
    (dict(num_partitions=-3), ValueError, "num_partitions must be between 1"),
    (dict(num_replicas=2**31), ValueError, "num_replicas must be between"),
    (dict(num_replicas=1.0), TypeError, "num_replicas must be an int, got float"),
    (dict(num_replicas=True), TypeError, "num_replicas must be an int, got bool"),
    (dict(device_ordinal=-2), ValueError, "device_ordinal must be between -1 and"),
    (dict(process_index=-1), ValueError, "process_index"),
    (dict(device_memory_size=-1), ValueError, "device_memory_size"),
    (dict(slice_size="4"), TypeError, "slice_size must be an int, got str"),
    (dict(profile_version=2**63), ValueError, "profile_version must be between"),
    (dict(use_spmd_partitioning=1), TypeError, "use_spmd_partitioning must be a bool, got int"),
    (dict(compile_portable_executable=None), TypeError, "compile_portable_executable must be a bool"),
    (dict(device_assignment=[[0], [1]]), ValueError, r"must be num_replicas x num_partitions = 1 x 1 .* \[1, 1\]"),
    (dict(num_partitions=2, device_assignment=[[0]]), ValueError, "1 x 2 device ids"),
    (dict(device_assignment=[]), ValueError, "device_assignment must be num_replicas x"),
    (dict(device_assignment=[[-1]]), ValueError, r"device_assignment\[0\]\[0\] must be between 0"),
    (dict(device_assignment=[[0.0]]), TypeError, r"device_assignment\[0\]\[0\] must be an int"),
    (dict(device_assignment=5), TypeError, "device_assignment must be a sequence, got int"),
    (dict(device_assignment=["01"]), TypeError, r"device_assignment\[0\] must be a sequence, got str"),
    (dict(allow_spmd_sharding_propagation_to_output=True), TypeError, "must be a sequence, got bool"),
    (dict(allow_spmd_sharding_propagation_to_output=[1]), TypeError, r"output\[0\] must be a bool"),
    (dict(auto_spmd_partitioning_mesh_shape=[2**64]), ValueError, r"mesh_shape\[0\] must be between"),
    (dict(fdo_profile="abc"), TypeError, "fdo_profile must be bytes, got str"),
    (dict(exec_time_optimization_effort=1.5), ValueError, "exec_time_optimization_effort must be between -1.0"),
    (dict(memory_fitting_effort=math.nan), ValueError, "memory_fitting_effort must be between"),
    (dict(memory_fitting_effort="0"), TypeError, "memory_fitting_effort must be a float, got str"),
    (dict(optimization_level=1), ValueError, "optimization_level must be one of UNKNOWN, O0, O1, O2, O3; got 1"),
    (dict(optimization_level="O1"), TypeError, "optimization_level must be a member of EffortLevel, got str"),
    (dict(matrix_unit_operand_precision=3), ValueError, "matrix_unit_operand_precision must be one of"),
    (dict(compiler_variant=b"x"), TypeError, "compiler_variant must be a str or None, got bytes"),
    (dict(compiler_variant="\ud800"), ValueError, "compiler_variant must be encodable as UTF-8"),
    (dict(env_option_overrides={"a": None}), TypeError, r"env_option_overrides\['a'\] must be a str, bool, int"),
    (dict(env_option_overrides={"a": [1]}), TypeError, r"env_option_overrides\['a'\] must be a str, bool"),
    (dict(env_option_overrides={"a": 2**63}), ValueError, r"env_option_overrides\['a'\] must be between"),
    (dict(env_option_overrides={"": 1}), TypeError, "env_option_overrides keys must be non-empty str"),
    (dict(env_option_overrides={1: 1}), TypeError, "env_option_overrides keys must be non-empty str, got 1"),
    (dict(env_option_overrides={"\udc00": 1}), ValueError, "env_option_overrides key must be encodable"),
    (dict(env_option_overrides={"a": "\udc00"}), ValueError, r"env_option_overrides\['a'\] must be encodable"),
    (dict(env_option_overrides="abc"), TypeError, "env_option_overrides must be a mapping"),
    (dict(env_option_overrides=[("a", 1, 2)]), TypeError, "env_option_overrides must be a mapping"),
    (dict(env_option_overrides=7), TypeError, "env_option_overrides must be a mapping"),
])
def test_bad_arguments_raise(kwargs, error, match):
    with pytest.raises(error, match=match):
        CompileOptions(**kwargs)


def test_accepted_argument_forms_are_normalized():
    o = CompileOptions(num_replicas=np.int64(2), device_assignment=np.array([[3], [4]]),
                       allow_spmd_sharding_propagation_to_output=(b for b in [True]),
                       env_option_overrides=[("k", np.float32(0.25)), ("j", np.int8(-3))],
                       optimization_level=19, exec_time_optimization_effort=0.1, fdo_profile=bytearray(b"p"))
    assert type(o.num_replicas) is int and o.device_assignment == ((3,), (4,))
    assert all(type(d) is int for row in o.device_assignment for d in row)
    assert o.allow_spmd_sharding_propagation_to_output == (True,)
    assert o.env_option_overrides == (("j", -3), ("k", 0.25))
    assert type(o.env_option_overrides[0][1]) is int and type(o.env_option_overrides[1][1]) is float
    assert o.optimization_level is EffortLevel.O1
    assert o.exec_time_optimization_effort == struct.unpack("<f", struct.pack("<f", 0.1))[0]  # float32
    assert o.fdo_profile == b"p" and type(o.fdo_profile) is bytes


# -- immutability, equality, caching -----------------------------------------------------------

def test_frozen_and_the_overrides_are_copied():
    overrides = {"xla_backend_optimization_level": 0}
    o = CompileOptions(env_option_overrides=overrides)
    overrides["xla_backend_optimization_level"] = 3
    assert o.env_option_overrides == (("xla_backend_optimization_level", 0),)
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.num_replicas = 2  # type: ignore[misc]
    assert o.to_bytes() is o.to_bytes()  # encoded once


def test_equality_is_equality_of_the_encoding():
    assert CompileOptions() == CompileOptions(num_replicas=1, env_option_overrides={})
    assert len({CompileOptions(), CompileOptions(device_ordinal=-1)}) == 1
    # Values Python calls equal but the plugin sees differently must not share a cache entry.
    pairs = [({"a": True}, {"a": 1}), ({"a": 1}, {"a": 1.0}), ({"a": 0.0}, {"a": -0.0})]
    for left, right in pairs:
        a, b = CompileOptions(env_option_overrides=left), CompileOptions(env_option_overrides=right)
        assert a != b and a.to_bytes() != b.to_bytes()
    assert CompileOptions(memory_fitting_effort=0.0) != CompileOptions(memory_fitting_effort=-0.0)
    assert CompileOptions() != object() and CompileOptions().__eq__(1) is NotImplemented
    nans = [CompileOptions(env_option_overrides={"a": math.nan}) for _ in range(2)]
    assert nans[0] == nans[1] and len(set(nans)) == 1


def test_replace_pickle_and_repr():
    o = CompileOptions(num_replicas=2, env_option_overrides={"a": 1})
    assert dataclasses.replace(o, num_replicas=1) == CompileOptions(env_option_overrides={"a": 1})
    assert dataclasses.replace(o, env_option_overrides={}) == CompileOptions(num_replicas=2)
    with pytest.raises(ValueError, match="num_replicas"):
        dataclasses.replace(o, num_replicas=0)
    assert pickle.loads(pickle.dumps(o)) == o
    assert repr(CompileOptions()) == "CompileOptions()"
    assert repr(o) == "CompileOptions(num_replicas=2, env_option_overrides=(('a', 1),))"


def test_every_field_is_encoded():
    """A field the encoder forgot would silently not reach the compiler."""
    for f in dataclasses.fields(CompileOptions):
        if not f.init:
            continue
        default = CompileOptions()
        value = {bool: True, int: 1, float: 0.5, bytes: b"x"}.get(type(getattr(default, f.name)))
        if f.name in ("num_replicas", "num_partitions", "process_count", "device_ordinal"):
            value = getattr(default, f.name) + 1
        elif f.name == "device_assignment":
            value = [[0]]
        elif f.name == "env_option_overrides":
            value = {"a": 1}
        elif f.name == "compiler_variant":
            value = "v"
        elif f.name in ("optimization_level", "memory_fitting_level"):
            value = EffortLevel.O3
        elif f.name == "matrix_unit_operand_precision":
            value = Precision.HIGH
        elif value is None:
            value = [True] if "allow" in f.name else [3]
        changed = CompileOptions(**{f.name: value})
        assert changed.to_bytes() != default.to_bytes(), f.name
        assert getattr(CompileOptions.from_bytes(changed.to_bytes()), f.name) == getattr(changed, f.name), f.name


# -- the plugin's own protobuf parser ----------------------------------------------------------

RICH = CompileOptions(
    device_assignment=[[0]], deduplicate_hlo=True, alias_passthrough_params=True, profile_version=7,
    device_memory_size=1 << 20, exec_time_optimization_effort=-0.5, memory_fitting_effort=0.25,
    optimization_level=EffortLevel.O1, memory_fitting_level=EffortLevel.O2,
    allow_spmd_sharding_propagation_to_output=[True], allow_spmd_sharding_propagation_to_parameters=[False],
    allow_in_place_mlir_modification=True, matrix_unit_operand_precision=Precision.HIGHEST, compiler_variant="",
    env_option_overrides={"xla_backend_optimization_level": 0, "xla_cpu_enable_fast_math": False},
)


def test_the_plugin_reads_back_what_we_wrote(client):
    exe = client.compile(ADD_F32_4, RICH)
    a = np.arange(4, dtype=np.float32)
    (out,) = exe.execute(upload(client, a, a))
    np.testing.assert_array_equal(out.to_numpy(), 2 * a)
    if client.api.minor < 87:
        pytest.skip("PJRT_Executable_GetCompileOptions needs PJRT API 0.87")
    # Every modelled field survives the plugin's parse and re-serialization (which adds a
    # result_layout we skip).
    assert state(exe.executable.compile_options()) == state(RICH)


def test_the_plugin_rejects_what_xla_rejects(client):
    from pjrt_array._pjrt import InvalidArgument
    with pytest.raises(InvalidArgument, match="'1.5' is not a valid int32"):  # our double reached XLA
        client.compile(ADD_F32_4, CompileOptions(env_option_overrides={"xla_backend_optimization_level": 1.5}))
