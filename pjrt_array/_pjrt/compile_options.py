"""``CompileOptionsProto`` encoded and decoded by hand in protobuf wire format.

No protobuf dependency: the messages a compile needs are written field by
field.  Compiler flags go through ``env_option_overrides`` (field 7), which XLA
applies on top of its defaults; ``ExecutableBuildOptionsProto.debug_options``
would replace every default with proto zeros, so it is never emitted.

Field numbers follow ``xla/pjrt/proto/compile_options.proto`` and
``xla/xla_data.proto`` (checked against the descriptors built into the CPU
plugins).  Fields holding other XLA messages (``argument_layouts``,
``result_layout``, ``comp_envs``, ``target_config``, ...) are not modelled: the
decoder skips them like any unknown field.
"""

from __future__ import annotations

import abc
import enum
import numbers
import struct
from dataclasses import dataclass, field, fields
from typing import Any, Iterator, Mapping, Sequence, Union

__all__ = ["CompileOptions", "EffortLevel", "Precision", "decode_device_assignment"]

OverrideValue = Union[str, bool, int, float]


# -- wire format (also read by _signature.py) ------------------------------------------------

VARINT, I64, LEN, START_GROUP, END_GROUP, I32 = 0, 1, 2, 3, 4, 5
_U64 = (1 << 64) - 1
_MAX_FIELD_NUMBER = (1 << 29) - 1
_MAX_GROUP_DEPTH = 100  # protobuf's own recursion limit
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def _varint(n: int) -> bytes:
    n &= _U64  # a negative int32/int64 is written as its ten-byte two's complement
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _tag(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _varint_field(number: int, value: int) -> bytes:
    return _tag(number, VARINT) + _varint(value)


def _len_field(number: int, payload: bytes) -> bytes:
    return _tag(number, LEN) + _varint(len(payload)) + payload


def _packed_field(number: int, values: Sequence[int]) -> bytes:
    return _len_field(number, b"".join(_varint(v) for v in values))


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """``(value, position after it)`` of the varint at ``data[pos]``; ValueError if malformed."""
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint in protobuf message")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if result > _U64:
                raise ValueError("varint wider than 64 bits in protobuf message")
            return result, pos
        shift += 7
        if shift >= 70:
            raise ValueError("varint longer than 10 bytes in protobuf message")


def _signed64(n: int) -> int:
    return n - (1 << 64) if n > INT64_MAX else n


def _read_key(data: bytes, pos: int) -> tuple[int, int, int]:
    key, pos = _read_varint(data, pos)
    number, wire = key >> 3, key & 7
    if not 1 <= number <= _MAX_FIELD_NUMBER:
        raise ValueError(f"invalid field number {number} in protobuf message")
    return number, wire, pos


def _read_value(data: bytes, pos: int, number: int, wire: int, depth: int = 0) -> tuple[int | bytes, int]:
    """The value of a field whose key ends at ``pos``: an int for varints, else its raw bytes."""
    if wire == VARINT:
        return _read_varint(data, pos)
    if wire == START_GROUP:  # deprecated groups: skipped whole, up to the matching end tag
        if depth >= _MAX_GROUP_DEPTH:
            raise ValueError("protobuf groups nested too deeply")
        start = pos
        while True:
            inner, inner_wire, after_key = _read_key(data, pos)
            if inner_wire == END_GROUP:
                if inner != number:
                    raise ValueError(f"group {number} closed by end tag {inner} in protobuf message")
                return data[start:pos], after_key
            _, pos = _read_value(data, after_key, inner, inner_wire, depth + 1)
    if wire == I64:
        size = 8
    elif wire == I32:
        size = 4
    elif wire == LEN:
        size, pos = _read_varint(data, pos)
    else:
        raise ValueError(f"unexpected wire type {wire} (field {number}) in protobuf message")
    if pos + size > len(data):
        raise ValueError(f"truncated field {number} in protobuf message")
    return data[pos:pos + size], pos + size


def _fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """``(field number, wire type, value)`` of each field of a message, in order.

    Varint values are unsigned ints; every other value is its raw bytes.  A
    malformed message raises ValueError.
    """
    pos = 0
    while pos < len(data):
        number, wire, pos = _read_key(data, pos)
        value, pos = _read_value(data, pos, number, wire)
        yield number, wire, value


def _utf8(name: str, text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name} must be encodable as UTF-8, got {text!r}") from None


def _text(name: str, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{name} is not valid UTF-8 in CompileOptionsProto") from None


# -- XLA enums -------------------------------------------------------------------------------

class EffortLevel(enum.IntEnum):
    """``xla.ExecutionOptions.EffortLevel`` (``optimization_level``, ``memory_fitting_level``)."""

    UNKNOWN = 0
    O0 = 9
    O1 = 19
    O2 = 29
    O3 = 39


class Precision(enum.IntEnum):
    """``xla.PrecisionConfig.Precision`` (``matrix_unit_operand_precision``)."""

    DEFAULT = 0
    HIGH = 1
    HIGHEST = 2


# -- field kinds: validation, encoding and decoding of one proto field type ------------------
#
# ``check`` normalizes a user (or decoded) value and raises naming the field;
# ``encode`` writes it (nothing for the proto3 default, as protobuf does);
# ``merge`` folds one occurrence read from the wire into what was read before
# (a field with an unexpected wire type is skipped, as protobuf does);
# ``finish`` turns what was read into a value for ``check``.

class _Kind(abc.ABC):
    empty: Any = None

    def check(self, name: str, value: Any) -> Any:
        return value

    @abc.abstractmethod
    def encode(self, number: int, value: Any) -> bytes:
        """The field's bytes; empty for the proto3 default."""

    @abc.abstractmethod
    def merge(self, name: str, wire: int, raw: Any, old: Any) -> Any:
        """``old`` updated with one occurrence of the field read from the wire."""

    def finish(self, name: str, acc: Any) -> Any:
        return acc


class _VarintKind(_Kind):
    def from_varint(self, n: int) -> Any:
        return _signed64(n)

    def encode(self, number: int, value: int) -> bytes:
        return _varint_field(number, int(value)) if value else b""

    def merge(self, name: str, wire: int, raw: Any, old: Any) -> Any:
        return self.from_varint(raw) if wire == VARINT else old


class _Int(_VarintKind):
    empty = 0

    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi

    def check(self, name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        value = int(value)
        if not self.lo <= value <= self.hi:
            raise ValueError(f"{name} must be between {self.lo} and {self.hi}, got {value}")
        return value


class _Bool(_VarintKind):
    empty = False

    def from_varint(self, n: int) -> bool:
        return bool(n)

    def check(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
        return value


class _Enum(_VarintKind):
    def __init__(self, cls: type[enum.IntEnum]) -> None:
        self.cls = cls
        self.empty = cls(0)

    def check(self, name: str, value: Any) -> enum.IntEnum:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be a member of {self.cls.__name__}, got {type(value).__name__}")
        try:
            return self.cls(int(value))
        except ValueError:
            raise ValueError(f"{name} must be one of {', '.join(m.name for m in self.cls)}; "
                             f"got {int(value)}") from None


class _Effort(_Kind):
    """A ``float`` effort in [-1, 1] (held at float32 precision, as the proto stores it)."""

    empty = 0.0

    def check(self, name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a float, got {type(value).__name__}")
        if not -1.0 <= float(value) <= 1.0:
            raise ValueError(f"{name} must be between -1.0 and 1.0, got {value!r}")
        return struct.unpack("<f", struct.pack("<f", float(value)))[0]

    def encode(self, number: int, value: float) -> bytes:
        bits = struct.pack("<f", value)
        return b"" if bits == b"\0\0\0\0" else _tag(number, I32) + bits  # -0.0 is written

    def merge(self, name: str, wire: int, raw: Any, old: Any) -> Any:
        return struct.unpack("<f", raw)[0] if wire == I32 else old


class _Bytes(_Kind):
    empty = b""

    def check(self, name: str, value: Any) -> bytes:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"{name} must be bytes, got {type(value).__name__}")
        return bytes(value)

    def encode(self, number: int, value: bytes) -> bytes:
        return _len_field(number, value) if value else b""

    def merge(self, name: str, wire: int, raw: Any, old: Any) -> Any:
        return raw if wire == LEN else old


class _OptionalStr(_Kind):
    """A proto3 ``optional string``: written whenever set, even when empty."""

    def check(self, name: str, value: Any) -> str | None:
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name} must be a str or None, got {type(value).__name__}")
        if value is not None:
            _utf8(name, value)
        return value

    def encode(self, number: int, value: str | None) -> bytes:
        return b"" if value is None else _len_field(number, value.encode())

    def merge(self, name: str, wire: int, raw: Any, old: Any) -> Any:
        return _text(name, raw) if wire == LEN else old


def _sequence(name: str, value: Any) -> tuple:
    if isinstance(value, (str, bytes, bytearray, memoryview, Mapping)):
        raise TypeError(f"{name} must be a sequence, got {type(value).__name__}")
    try:
        return tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be a sequence, got {type(value).__name__}") from None


class _Repeated(_Kind):
    """A packed ``repeated`` varint field (bool or int64); read packed or not."""

    empty: tuple = ()

    def __init__(self, item: _VarintKind) -> None:
        self.item = item

    def check(self, name: str, value: Any) -> tuple:
        return tuple(self.item.check(f"{name}[{i}]", v) for i, v in enumerate(_sequence(name, value)))

    def encode(self, number: int, value: Sequence[int]) -> bytes:
        return _packed_field(number, [int(v) for v in value]) if value else b""

    def merge(self, name: str, wire: int, raw: Any, old: Any) -> Any:
        if wire == VARINT:
            return old + (self.item.from_varint(raw),)
        if wire == LEN:
            values, pos = [], 0
            while pos < len(raw):
                n, pos = _read_varint(raw, pos)
                values.append(self.item.from_varint(n))
            return old + tuple(values)
        return old


class _Message(_Kind):
    """An embedded message; occurrences are concatenated, which is protobuf's merge."""

    def merge(self, name: str, wire: int, raw: Any, old: Any) -> Any:
        return (old or b"") + raw if wire == LEN else old


_INT64 = _Int(INT64_MIN, INT64_MAX)
_DEVICE_IDS = _Repeated(_Int(0, INT64_MAX))


class _DeviceAssignment(_Message):
    """``DeviceAssignmentProto``: one ``ComputationDevice`` per partition, ids by replica."""

    def check(self, name: str, value: Any) -> tuple[tuple[int, ...], ...] | None:
        if value is None:
            return None
        return tuple(_DEVICE_IDS.check(f"{name}[{r}]", row) for r, row in enumerate(_sequence(name, value)))

    def encode(self, number: int, value: tuple[tuple[int, ...], ...] | None) -> bytes:
        if value is None:
            return b""
        replicas, partitions = len(value), len(value[0])
        columns = b"".join(_len_field(3, _DEVICE_IDS.encode(1, [row[p] for row in value]))
                           for p in range(partitions))
        return _len_field(number, _varint_field(1, replicas) + _varint_field(2, partitions) + columns)

    def finish(self, name: str, acc: bytes | None) -> tuple[tuple[int, ...], ...] | None:
        return None if acc is None else self.decode(name, acc)

    def decode(self, name: str, data: bytes) -> tuple[tuple[int, ...], ...]:
        """The ids ``[replica][partition]`` of a serialized ``DeviceAssignmentProto``."""
        replicas = partitions = 0
        columns: list[tuple[int, ...]] = []
        for number, wire, raw in _fields(data):  # a varint's value is an int, other values bytes
            if number == 1 and isinstance(raw, int):
                replicas = _signed64(raw)
            elif number == 2 and isinstance(raw, int):
                partitions = _signed64(raw)
            elif number == 3 and wire == LEN and isinstance(raw, bytes):
                ids: tuple = ()
                for n, w, v in _fields(raw):
                    ids = _DEVICE_IDS.merge(name, w, v, ids) if n == 1 else ids
                columns.append(ids)
        if replicas < 1 or partitions < 1 or len(columns) != partitions or any(len(c) != replicas for c in columns):
            raise ValueError(f"{name} in CompileOptionsProto is malformed: {replicas} replicas x "
                             f"{partitions} partitions, columns of sizes {[len(c) for c in columns]}")
        return tuple(tuple(c[r] for c in columns) for r in range(replicas))


class _Overrides(_Kind):
    """``map<string, OptionOverrideProto>``, kept as a tuple of (name, value) sorted by name."""

    empty: tuple = ()

    def check(self, name: str, value: Any) -> tuple[tuple[str, OverrideValue], ...]:
        if isinstance(value, Mapping):
            items = dict(value)
        else:
            try:
                items = dict(_sequence(name, value))
            except (TypeError, ValueError):
                raise TypeError(f"{name} must be a mapping of str to str/bool/int/float, "
                                f"got {type(value).__name__}") from None
        out = []
        for key, v in items.items():
            if not isinstance(key, str) or not key:
                raise TypeError(f"{name} keys must be non-empty str, got {key!r}")
            _utf8(f"{name} key", key)
            out.append((key, self._value(f"{name}[{key!r}]", v)))
        return tuple(sorted(out))

    @staticmethod
    def _value(name: str, v: Any) -> OverrideValue:
        if isinstance(v, bool):
            return v
        if isinstance(v, numbers.Integral):
            return _INT64.check(name, v)
        if isinstance(v, numbers.Real):
            return float(v)
        if isinstance(v, str):
            _utf8(name, v)
            return v
        raise TypeError(f"{name} must be a str, bool, int or float, got {type(v).__name__}")

    def encode(self, number: int, value: tuple[tuple[str, OverrideValue], ...]) -> bytes:
        out = []
        for key, v in value:
            if isinstance(v, bool):
                override = _varint_field(2, int(v))
            elif isinstance(v, int):
                override = _varint_field(3, v)
            elif isinstance(v, float):
                override = _tag(4, I64) + struct.pack("<d", v)
            else:
                override = _len_field(1, v.encode())
            out.append(_len_field(number, _len_field(1, key.encode()) + _len_field(2, override)))
        return b"".join(out)

    def merge(self, name: str, wire: int, raw: Any, old: Any) -> Any:
        if wire != LEN:
            return old
        key, payload = "", b""
        for number, w, v in _fields(raw):  # a varint's value is an int, other values bytes
            if number == 1 and w == LEN and isinstance(v, bytes):
                key = _text(f"{name} key", v)
            elif number == 2 and w == LEN and isinstance(v, bytes):
                payload += v
        value: OverrideValue | None = None
        for number, w, v in _fields(payload):  # a oneof: the last member read wins
            if number == 1 and w == LEN and isinstance(v, bytes):
                value = _text(f"{name}[{key!r}]", v)
            elif number == 2 and isinstance(v, int):
                value = bool(v)
            elif number == 3 and isinstance(v, int):
                value = _signed64(v)
            elif number == 4 and w == I64 and isinstance(v, bytes):
                value = struct.unpack("<d", v)[0]
        if value is None:
            raise ValueError(f"{name}[{key!r}] has no value in CompileOptionsProto")
        return old + ((key, value),)


# Field number -> (attribute, kind), per message.  Every field of CompileOptions
# is in exactly one table; None stands for the nested build options.
_BUILD_FIELDS: dict[int, tuple[str | None, _Kind]] = {
    1: ("device_ordinal", _Int(-1, INT32_MAX)),  # XLA keeps an int and CHECK-fails below -1
    4: ("num_replicas", _Int(1, INT32_MAX)),
    5: ("num_partitions", _Int(1, INT32_MAX)),
    6: ("use_spmd_partitioning", _Bool()),
    7: ("use_auto_spmd_partitioning", _Bool()),
    8: ("deduplicate_hlo", _Bool()),
    9: ("device_assignment", _DeviceAssignment()),
    10: ("alias_passthrough_params", _Bool()),
    11: ("run_backend_only", _Bool()),
    12: ("allow_spmd_sharding_propagation_to_output", _Repeated(_Bool())),
    14: ("fdo_profile", _Bytes()),
    15: ("device_memory_size", _Int(0, INT64_MAX)),
    16: ("auto_spmd_partitioning_mesh_shape", _Repeated(_INT64)),
    17: ("auto_spmd_partitioning_mesh_ids", _Repeated(_INT64)),
    18: ("allow_spmd_sharding_propagation_to_parameters", _Repeated(_Bool())),
    19: ("use_shardy_partitioner", _Bool()),
    20: ("exec_time_optimization_effort", _Effort()),
    21: ("memory_fitting_effort", _Effort()),
    22: ("process_index", _Int(0, INT32_MAX)),
    23: ("process_count", _Int(0, INT32_MAX)),
    24: ("optimization_level", _Enum(EffortLevel)),
    25: ("memory_fitting_level", _Enum(EffortLevel)),
    26: ("slice_size", _Int(0, INT64_MAX)),
}


class _BuildOptions(_Message):
    """``ExecutableBuildOptionsProto``, always written: the plugins require its counts."""

    def encode(self, number: int, value: "CompileOptions") -> bytes:
        return _len_field(number, _encode_fields(value, _BUILD_FIELDS))

    def finish(self, name: str, acc: bytes | None) -> dict[str, Any]:
        # Absent, XLA keeps its ExecutableBuildOptions defaults (= ours); present, proto3 zeros.
        return {} if acc is None else _decode_fields(acc, _BUILD_FIELDS)


_OPTIONS_FIELDS: dict[int, tuple[str | None, _Kind]] = {
    2: ("parameter_is_tupled_arguments", _Bool()),
    3: (None, _BuildOptions()),
    4: ("compile_portable_executable", _Bool()),
    5: ("profile_version", _INT64),
    7: ("env_option_overrides", _Overrides()),
    9: ("allow_in_place_mlir_modification", _Bool()),
    10: ("matrix_unit_operand_precision", _Enum(Precision)),
    11: ("compiler_variant", _OptionalStr()),
}

_BUILD_NAME = "executable_build_options"  # for messages about the nested message itself
_KINDS: dict[str, _Kind] = {name: kind for table in (_BUILD_FIELDS, _OPTIONS_FIELDS)
                            for name, kind in table.values() if name is not None}


def _encode_fields(options: "CompileOptions", table: Mapping[int, tuple[str | None, _Kind]]) -> bytes:
    """The fields of one message, in field-number order as protobuf writes them."""
    return b"".join(kind.encode(number, options if name is None else getattr(options, name))
                    for number, (name, kind) in sorted(table.items()))


def _decode_fields(data: bytes, table: Mapping[int, tuple[str | None, _Kind]]) -> dict[str, Any]:
    """Attribute values of one message; absent fields get their proto3 zero, unknown ones are skipped."""
    acc = {number: kind.empty for number, (_, kind) in table.items()}
    for number, wire, raw in _fields(data):
        if number in table:
            name, kind = table[number]
            acc[number] = kind.merge(name or _BUILD_NAME, wire, raw, acc[number])
    values: dict[str, Any] = {}
    for number, (name, kind) in table.items():
        value = kind.finish(name or _BUILD_NAME, acc[number])
        if name is None:
            values.update(value)
        else:
            values[name] = value
    return values


# -- the options -----------------------------------------------------------------------------

@dataclass(frozen=True, eq=False, repr=False)
class CompileOptions:
    """Options of ``PJRT_Client_Compile`` (XLA's ``CompileOptionsProto``).

    Immutable and hashable; two options are equal when they encode to the same
    bytes, and the encoding is computed once, at construction.  Defaults are
    those of XLA's ``ExecutableBuildOptions``.

    Args:
        num_replicas, num_partitions: the program's replica and partition counts.
        device_ordinal: the device to build for, or -1 for any.
        device_assignment: ``device_assignment[replica][partition]`` is a device
            id; None lets the plugin choose.
        env_option_overrides: XLA debug options by name, applied on top of XLA's
            defaults, e.g. ``{"xla_backend_optimization_level": 0}``; held as a
            tuple of ``(name, value)`` pairs sorted by name.
        exec_time_optimization_effort, memory_fitting_effort: in [-1, 1], held
            at float32 precision.
        optimization_level, memory_fitting_level: an :class:`EffortLevel`.
        matrix_unit_operand_precision: a :class:`Precision`.
        compiler_variant: a proto3 ``optional string``; None leaves it unset.

    The other fields carry the ``ExecutableBuildOptionsProto`` /
    ``CompileOptionsProto`` field of the same name.
    """

    num_replicas: int = 1
    num_partitions: int = 1
    device_ordinal: int = -1
    device_assignment: Sequence[Sequence[int]] | None = None
    use_spmd_partitioning: bool = False
    use_auto_spmd_partitioning: bool = False
    use_shardy_partitioner: bool = False
    allow_spmd_sharding_propagation_to_output: Sequence[bool] = ()
    allow_spmd_sharding_propagation_to_parameters: Sequence[bool] = ()
    auto_spmd_partitioning_mesh_shape: Sequence[int] = ()
    auto_spmd_partitioning_mesh_ids: Sequence[int] = ()
    deduplicate_hlo: bool = False
    alias_passthrough_params: bool = False
    run_backend_only: bool = False
    fdo_profile: bytes = b""
    device_memory_size: int = 0
    exec_time_optimization_effort: float = 0.0
    memory_fitting_effort: float = 0.0
    optimization_level: EffortLevel = EffortLevel.UNKNOWN
    memory_fitting_level: EffortLevel = EffortLevel.UNKNOWN
    process_index: int = 0
    process_count: int = 1
    slice_size: int = 0
    compile_portable_executable: bool = False
    parameter_is_tupled_arguments: bool = False
    profile_version: int = 0
    allow_in_place_mlir_modification: bool = False
    matrix_unit_operand_precision: Precision = Precision.DEFAULT
    compiler_variant: str | None = None
    env_option_overrides: Mapping[str, OverrideValue] = field(default_factory=dict)
    _encoded: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name, kind in _KINDS.items():
            object.__setattr__(self, name, kind.check(name, getattr(self, name)))
        assignment = self.device_assignment
        if assignment is not None and (len(assignment) != self.num_replicas
                                       or any(len(row) != self.num_partitions for row in assignment)):
            raise ValueError(f"device_assignment must be num_replicas x num_partitions = "
                             f"{self.num_replicas} x {self.num_partitions} device ids, got rows of sizes "
                             f"{[len(row) for row in assignment]}")
        object.__setattr__(self, "_encoded", _encode_fields(self, _OPTIONS_FIELDS))

    def to_bytes(self) -> bytes:
        """The serialized ``CompileOptionsProto`` (computed once, at construction)."""
        return self._encoded

    @classmethod
    def from_bytes(cls, data: bytes) -> "CompileOptions":
        """Decode a serialized ``CompileOptionsProto``, e.g. from ``PJRT_Executable_GetCompileOptions``.

        Fields not modelled here are skipped; malformed input raises ValueError.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes, got {type(data).__name__}")
        return cls(**_decode_fields(bytes(data), _OPTIONS_FIELDS))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompileOptions):
            return NotImplemented
        return self._encoded == other._encoded

    def __hash__(self) -> int:
        return hash(self._encoded)

    def __repr__(self) -> str:
        changed = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)
                   if f.init and repr(getattr(self, f.name)) != repr(getattr(_DEFAULT, f.name))]
        return f"CompileOptions({', '.join(changed)})"


_DEFAULT = CompileOptions()


def decode_device_assignment(data: bytes) -> tuple[tuple[int, ...], ...]:
    """Device ids ``[replica][partition]`` of a serialized ``DeviceAssignmentProto``
    (e.g. from ``PJRT_LoadedExecutable_GetDeviceAssignment``); malformed input raises ValueError."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    return _DeviceAssignment().decode("device_assignment", bytes(data))
