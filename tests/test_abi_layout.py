"""The generated ctypes ABI (``_abi.py``, from the 0.114 headers) against a real C compiler.

A C program built against the ``pjrt_c_api.h`` that the installed xla-cpu-pjrt
wheel ships (API 0.81) prints ``sizeof``/``offsetof`` of every field of every
struct the header shares with ``_abi.py``, each ``*_STRUCT_SIZE`` and each enum
value.  Structs grew between 0.81 and 0.114 (fields are only ever appended), so
fields are compared where both have them, and sizes where both end in the same
field.  A line asking for a name the old header lacks fails to compile; such
lines are found from the compiler's diagnostics and dropped.
"""

from __future__ import annotations

import ctypes
import enum
import importlib.metadata
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pjrt_array._pjrt import _abi

CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
_ERROR_LINE = re.compile(r"^[^:\n]*layout\.c:(\d+):(?:\d+:)? (?:fatal )?error", re.M)
_TRAITS = re.compile(r"PJRT_DEFINE_STRUCT_TRAITS\(\s*(\w+)\s*,\s*(\w+)\s*\)")
_SIZE_ENUM = re.compile(r"(\w+)_STRUCT_SIZE\s*=\s*PJRT_STRUCT_SIZE\(\s*(\w+)\s*,\s*(\w+)\s*\)")
_ABI_SIZE = re.compile(r"^(\w+)_STRUCT_SIZE = _size_through\((\w+), '(\w+)'\)", re.M)


def wheel_header() -> Path | None:
    """``pjrt_c_api.h`` as shipped in the xla-cpu-pjrt wheel (xla_plugins/xla_cpu_pjrt/include/)."""
    try:
        dist = importlib.metadata.distribution("xla-cpu-pjrt")
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in dist.files or ():
        if f.name == "pjrt_c_api.h":
            return Path(dist.locate_file(f))
    return None


def flat_fields(cls: type) -> list[tuple[str, int, int]]:
    """``(name, offset, size)`` of a ctypes struct's fields, anonymous unions flattened as in C."""
    out = []
    anonymous = set(getattr(cls, "_anonymous_", ()))
    for name, _ in cls._fields_:
        member = getattr(cls, name)
        if name in anonymous:
            inner = dict(cls._fields_)[name]
            out += [(n, member.offset + o, s) for n, o, s in flat_fields(inner)]
        else:
            out.append((name, member.offset, member.size))
    return out


def abi_struct_sizes() -> dict[str, tuple[str, int]]:
    """``{struct: (last field, *_STRUCT_SIZE)}`` as ``_abi.py`` defines them."""
    text = Path(_abi.__file__).read_text()
    return {m[1]: (m[3], getattr(_abi, m[1] + "_STRUCT_SIZE")) for m in _ABI_SIZE.finditer(text) if m[1] == m[2]}


@dataclass
class CLayout:
    """What the compiled program printed."""

    sizeof: dict[str, int] = field(default_factory=dict)
    fields: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    struct_size: dict[str, int] = field(default_factory=dict)
    enums: dict[str, int] = field(default_factory=dict)


def c_program(header: Path, structs: dict[str, type], enums: list[type]) -> list[str]:
    lines = ["#include <stdio.h>", "#include <stddef.h>", f'#include "{header}"', "int main(void) {"]
    for name, cls in structs.items():
        lines.append(f'printf("S {name} %zu\\n", sizeof({name}));')
        lines.append(f'printf("Z {name} %zu\\n", (size_t){name}_STRUCT_SIZE);')
        for f, _, _ in flat_fields(cls):
            lines.append(f'printf("F {name} {f} %zu %zu\\n", offsetof({name}, {f}), sizeof((({name}*)0)->{f}));')
    for e in enums:
        for member in e:
            lines.append(f'printf("E {member.name} %lld\\n", (long long){member.name});')
    return lines + ["return 0;", "}"]


def compile_and_run(tmp: Path, lines: list[str]) -> str:
    """Build and run ``lines``, dropping each line the old header cannot compile."""
    source, exe = tmp / "layout.c", tmp / "layout"
    for _ in range(50):  # clang stops after 20 errors a run; gcc reports all at once
        source.write_text("\n".join(lines) + "\n")
        build = subprocess.run([CC, "-std=c11", "-w", "-o", str(exe), str(source)], capture_output=True, text=True)
        if build.returncode == 0:
            return subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
        bad = {int(n) - 1 for n in _ERROR_LINE.findall(build.stderr)}
        if not bad or not bad.isdisjoint({0, 1, 2, 3, len(lines) - 2, len(lines) - 1}):
            pytest.fail("the layout program does not compile:\n" + build.stderr[-3000:])
        lines = [line for i, line in enumerate(lines) if i not in bad]
    pytest.fail("the layout program still does not compile after dropping unknown names")


def parse(output: str) -> CLayout:
    layout = CLayout()
    for kind, *rest in (line.split() for line in output.splitlines()):
        if kind == "S":
            layout.sizeof[rest[0]] = int(rest[1])
        elif kind == "Z":
            layout.struct_size[rest[0]] = int(rest[1])
        elif kind == "F":
            layout.fields.setdefault(rest[0], {})[rest[1]] = (int(rest[2]), int(rest[3]))
        elif kind == "E":
            layout.enums[rest[0]] = int(rest[1])
    return layout


def header_traits(text: str) -> dict[str, str]:
    """``{struct: last field}`` of the header's ``*_STRUCT_SIZE`` definitions."""
    traits = {m[1]: m[2] for m in _TRAITS.finditer(text)}
    traits.update({m[1]: m[3] for m in _SIZE_ENUM.finditer(text) if m[1] == m[2]})
    return traits


def layout_mismatches(layout: CLayout, structs: dict[str, type], traits: dict[str, str],
                      abi_sizes: dict[str, tuple[str, int]]) -> list[str]:
    """Every difference between the C layout and the ctypes classes, as readable lines."""
    problems = []
    for name, cls in structs.items():
        c_fields = layout.fields.get(name, {})
        ours = flat_fields(cls)
        present = [f in c_fields for f, _, _ in ours]
        if present != sorted(present, reverse=True):
            missing = [f for (f, _, _), p in zip(ours, present) if not p]
            problems.append(f"{name}: fields {missing} are absent from the 0.81 header but not at the end "
                            "(a misspelt or inserted field)")
        for f, offset, size in ours:
            if f in c_fields and c_fields[f] != (offset, size):
                problems.append(f"{name}.{f}: C offset/size {c_fields[f]}, ctypes {(offset, size)}")
        last = traits.get(name)
        if last is not None and name in layout.struct_size:
            member = dict((f, (o, s)) for f, o, s in ours).get(last)
            if member is None:
                problems.append(f"{name}: the header's last field {last!r} is missing from ctypes")
            elif sum(member) != layout.struct_size[name]:
                problems.append(f"{name}_STRUCT_SIZE: C {layout.struct_size[name]}, ctypes offset+size of "
                                f"{last} {sum(member)}")
            if name in abi_sizes and abi_sizes[name][0] == last and abi_sizes[name][1] != layout.struct_size[name]:
                problems.append(f"{name}_STRUCT_SIZE: C {layout.struct_size[name]}, _abi {abi_sizes[name][1]}")
        if all(present) and name in layout.sizeof and layout.sizeof[name] != ctypes.sizeof(cls):
            if last is None or last == ours[-1][0]:
                problems.append(f"sizeof({name}): C {layout.sizeof[name]}, ctypes {ctypes.sizeof(cls)}")
    return problems


@pytest.fixture(scope="module")
def compiled_layout(tmp_path_factory):
    if CC is None:
        pytest.skip("no C compiler on this machine")
    header = wheel_header()
    if header is None or not header.is_file():
        pytest.skip("the xla-cpu-pjrt wheel with include/pjrt_c_api.h is not installed")
    text = header.read_text()
    declared = set(re.findall(r"\bstruct\s+(\w+)\s*\{", text))
    structs = {name: cls for name, cls in sorted(vars(_abi).items())
               if isinstance(cls, type) and issubclass(cls, ctypes.Structure) and name in declared}
    enums = [e for e in vars(_abi).values()
             if isinstance(e, type) and issubclass(e, enum.IntEnum) and any(m.name in text for m in e)]
    output = compile_and_run(tmp_path_factory.mktemp("abi"), c_program(header, structs, enums))
    return parse(output), structs, header_traits(text)


def test_the_comparison_is_not_vacuous(compiled_layout):
    layout, structs, traits = compiled_layout
    assert len(structs) >= 120
    assert sum(len(f) for f in layout.fields.values()) >= 800  # 846 in the 0.81 header
    assert len(layout.struct_size) >= 120 and len(traits) >= 120
    assert len(layout.fields["PJRT_Api"]) >= 120  # the function slots of the 0.81 table
    assert {"PJRT_Buffer_Type_F32", "PJRT_Error_Code_UNIMPLEMENTED"} <= layout.enums.keys()


def test_every_shared_struct_has_the_same_layout(compiled_layout):
    layout, structs, traits = compiled_layout
    problems = layout_mismatches(layout, structs, traits, abi_struct_sizes())
    assert not problems, "\n".join(problems)


def test_every_shared_enum_value_matches(compiled_layout):
    layout, _, _ = compiled_layout
    ours = {m.name: int(m) for e in vars(_abi).values()
            if isinstance(e, type) and issubclass(e, enum.IntEnum) for m in e}
    wrong = {name: (value, ours[name]) for name, value in layout.enums.items() if ours[name] != value}
    assert not wrong, f"enum values (C, ours) that differ: {wrong}"


def test_the_plugins_table_matches_the_header(compiled_layout):
    """The 0.81 plugin's PJRT_Api struct_size is the header's PJRT_Api_STRUCT_SIZE."""
    from pjrt_array._pjrt import discover, load_plugin
    layout, _, _ = compiled_layout
    old = [i for i in discover() if i.api_version == (0, 81)]
    if not old:
        pytest.skip("the 0.81 plugin is not installed")
    assert load_plugin(old[0].path).api.struct_size == layout.struct_size["PJRT_Api"]


# -- the comparison catches layout bugs -----------------------------------------------------------

def broken(base: type, fields: list[tuple[str, object]]) -> type:
    return type(base.__name__, (ctypes.Structure,), {"_fields_": fields})


@pytest.mark.parametrize("mutate, expect", [
    (lambda f: [f[1], f[0], *f[2:]], "C offset/size"),                       # two fields swapped
    (lambda f: [*f[:3], ("device", ctypes.c_int32)], "C offset/size"),        # a pointer declared int32
    (lambda f: [*f[:2], ("devcie", f[2][1]), *f[3:]], "not at the end"),        # a misspelt field
    (lambda f: f[:-1], "last field"),                                         # the last field forgotten
], ids=["swapped", "wrong-type", "misspelt", "truncated"])
def test_a_layout_bug_is_reported(compiled_layout, mutate, expect):
    layout, structs, traits = compiled_layout
    name = "PJRT_Buffer_Device_Args"
    assert [f for f, _ in _abi.PJRT_Buffer_Device_Args._fields_] == ["struct_size", "extension_start", "buffer",
                                                                        "device"]
    bad = broken(_abi.PJRT_Buffer_Device_Args, mutate(list(_abi.PJRT_Buffer_Device_Args._fields_)))
    problems = layout_mismatches(layout, {name: bad}, traits, {})
    assert any(expect in p for p in problems), problems
