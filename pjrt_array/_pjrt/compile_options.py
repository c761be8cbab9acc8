"""``CompileOptionsProto`` encoded and decoded by hand (protobuf wire format, no dependency).

Only the fields a user of this binding sets are modelled.  Compiler flags go
through ``env_option_overrides`` (field 7), which XLA applies on top of its
defaults; setting ``ExecutableBuildOptionsProto.debug_options`` instead would
replace every default with zeros, so it is never emitted.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterator, Mapping, Sequence, Union

__all__ = ["CompileOptions"]

OverrideValue = Union[str, bool, int, float]

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


# -- wire format -----------------------------------------------------------------------------

def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64 values are ten-byte two's complement
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _tag(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _int_field(number: int, value: int) -> bytes:
    return _tag(number, _VARINT) + _varint(int(value))


def _len_field(number: int, payload: bytes) -> bytes:
    return _tag(number, _LEN) + _varint(len(payload)) + payload


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint in CompileOptionsProto")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def _signed(n: int) -> int:
    return n - (1 << 64) if n >= 1 << 63 else n


def _fields(data: bytes) -> Iterator[tuple[int, int, object]]:
    """(field number, wire type, value) of each field; length-delimited values are bytes."""
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            value, pos = _read_varint(data, pos)
        elif wire == _I64:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == _LEN:
            size, pos = _read_varint(data, pos)
            value, pos = data[pos:pos + size], pos + size
        elif wire == _I32:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire} in CompileOptionsProto")
        if pos > len(data):
            raise ValueError("truncated CompileOptionsProto")
        yield number, wire, value


# -- the options -----------------------------------------------------------------------------

@dataclass(frozen=True)
class CompileOptions:
    """Options of ``PJRT_Client_Compile`` (``CompileOptionsProto``).

    ``device_assignment[replica][partition]`` is a device id.
    ``env_option_overrides`` sets XLA debug options by name, e.g.
    ``{"xla_backend_optimization_level": 0}``.
    """

    num_replicas: int = 1
    num_partitions: int = 1
    device_ordinal: int = -1
    device_assignment: Sequence[Sequence[int]] | None = None
    use_spmd_partitioning: bool = False
    use_auto_spmd_partitioning: bool = False
    use_shardy_partitioner: bool = False
    deduplicate_hlo: bool = False
    compile_portable_executable: bool = False
    parameter_is_tupled_arguments: bool = False
    profile_version: int = 0
    env_option_overrides: Mapping[str, OverrideValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("num_replicas", "num_partitions"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.device_assignment is not None:
            rows = tuple(tuple(int(d) for d in row) for row in self.device_assignment)
            if len(rows) != self.num_replicas or any(len(r) != self.num_partitions for r in rows):
                raise ValueError(f"device_assignment must have {self.num_replicas} rows of "
                                 f"{self.num_partitions} device ids")
            object.__setattr__(self, "device_assignment", rows)
        overrides = dict(self.env_option_overrides)
        for key, value in overrides.items():
            if not isinstance(key, str) or not isinstance(value, (str, bool, int, float)):
                raise TypeError(f"env_option_overrides[{key!r}] must map str to str/bool/int/float, got {value!r}")
        object.__setattr__(self, "env_option_overrides", tuple(sorted(overrides.items())))

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    @cached_property
    def _encoded(self) -> bytes:
        build = _int_field(1, self.device_ordinal) + _int_field(4, self.num_replicas) \
            + _int_field(5, self.num_partitions)
        for number, flag in ((6, self.use_spmd_partitioning), (7, self.use_auto_spmd_partitioning),
                             (8, self.deduplicate_hlo), (19, self.use_shardy_partitioner)):
            if flag:
                build += _int_field(number, 1)
        if self.device_assignment is not None:
            assignment = _int_field(1, self.num_replicas) + _int_field(2, self.num_partitions)
            for p in range(self.num_partitions):
                ids = b"".join(_varint(row[p]) for row in self.device_assignment)
                assignment += _len_field(3, _len_field(1, ids))
            build += _len_field(9, assignment)
        out = _len_field(3, build)
        if self.parameter_is_tupled_arguments:
            out += _int_field(2, 1)
        if self.compile_portable_executable:
            out += _int_field(4, 1)
        if self.profile_version:
            out += _int_field(5, self.profile_version)
        for key, value in self.env_option_overrides:
            if isinstance(value, bool):
                override = _int_field(2, value)
            elif isinstance(value, int):
                override = _int_field(3, value)
            elif isinstance(value, float):
                override = _tag(4, _I64) + struct.pack("<d", value)
            else:
                override = _len_field(1, value.encode())
            out += _len_field(7, _len_field(1, key.encode()) + _len_field(2, override))
        return out

    def to_bytes(self) -> bytes:
        """The serialized ``CompileOptionsProto`` (computed once per instance)."""
        return self._encoded

    @classmethod
    def from_bytes(cls, data: bytes) -> "CompileOptions":
        """Decode a serialized ``CompileOptionsProto`` (unknown fields are skipped)."""
        kw: dict[str, object] = {}
        overrides: dict[str, OverrideValue] = {}
        for number, wire, value in _fields(bytes(data)):
            if number == 3 and wire == _LEN:
                kw.update(_decode_build(value))  # type: ignore[arg-type]
            elif number == 2 and wire == _VARINT:
                kw["parameter_is_tupled_arguments"] = bool(value)
            elif number == 4 and wire == _VARINT:
                kw["compile_portable_executable"] = bool(value)
            elif number == 5 and wire == _VARINT:
                kw["profile_version"] = _signed(value)  # type: ignore[arg-type]
            elif number == 7 and wire == _LEN:
                key, override = _decode_override(value)  # type: ignore[arg-type]
                overrides[key] = override
        return cls(env_option_overrides=overrides, **kw)  # type: ignore[arg-type]


_BUILD_INTS = {1: "device_ordinal", 4: "num_replicas", 5: "num_partitions"}
_BUILD_FLAGS = {6: "use_spmd_partitioning", 7: "use_auto_spmd_partitioning", 8: "deduplicate_hlo",
                19: "use_shardy_partitioner"}


def _decode_build(data: bytes) -> dict[str, object]:
    out: dict[str, object] = {}
    for number, wire, value in _fields(data):
        if wire == _VARINT and number in _BUILD_INTS:
            out[_BUILD_INTS[number]] = _signed(value)  # type: ignore[arg-type]
        elif wire == _VARINT and number in _BUILD_FLAGS:
            out[_BUILD_FLAGS[number]] = bool(value)
        elif number == 9 and wire == _LEN:
            columns = []
            for n, w, v in _fields(value):  # type: ignore[arg-type]
                if n == 3 and w == _LEN:
                    for n2, w2, ids in _fields(v):  # type: ignore[arg-type]
                        if n2 == 1 and w2 == _LEN:
                            columns.append(_packed(ids))  # type: ignore[arg-type]
                        elif n2 == 1 and w2 == _VARINT:
                            columns.append([_signed(ids)])  # type: ignore[arg-type]
            if columns:
                out["device_assignment"] = [list(row) for row in zip(*columns)]
    return out


def _packed(data: bytes) -> list[int]:
    values, pos = [], 0
    while pos < len(data):
        v, pos = _read_varint(data, pos)
        values.append(_signed(v))
    return values


def _decode_override(data: bytes) -> tuple[str, OverrideValue]:
    key, value = "", None
    for number, wire, raw in _fields(data):
        if number == 1 and wire == _LEN:
            key = raw.decode()  # type: ignore[union-attr]
        elif number == 2 and wire == _LEN:
            for n, w, v in _fields(raw):  # type: ignore[arg-type]
                value = {1: lambda: v.decode(), 2: lambda: bool(v), 3: lambda: _signed(v),  # type: ignore
                         4: lambda: struct.unpack("<d", v)[0]}[n]()
    return key, value  # type: ignore[return-value]
