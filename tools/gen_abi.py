#!/usr/bin/env python3
"""Generate ``pjrt_array/_pjrt/_abi.py`` (ctypes) from the PJRT C API headers.

Usage::

    python tools/gen_abi.py HEADER_DIR [--include ROOT] [-o OUTPUT]

``HEADER_DIR`` is the folder holding ``pjrt_c_api.h`` and the extension headers
(``pjrt_c_api_*_extension.h``).  Headers are included as ``"xla/..."``, so the
include root defaults to the folder three levels above a ``.../xla/pjrt/c``
directory; a flat folder works too (``xla/pjrt/c`` is mapped onto it).  The
extension headers kept under ``xla/pjrt/extensions/`` of the include root (or
named ``*_extension.h`` in a flat folder) are parsed as well.

Some extension headers are C++ around a C core (``extern "C"`` plus a trailing
``namespace pjrt { ... }`` of helper declarations, and a few strongly typed
integer ids such as ``xla::GlobalDeviceId``).  The C++ parts are removed and
the ids mapped to their integer types before preprocessing.

The headers are run through the system C preprocessor and parsed with
pycparser.  Struct-size macros (``*_DEFINE_STRUCT_TRAITS(name, last_field)``)
are read before preprocessing, because they are what the C API's
forward-compatibility contract rests on: ``NAME_STRUCT_SIZE`` is the offset of
the last field plus its size, and that is what we must pass in
``struct_size``.

Every data pointer becomes ``c_void_p`` (opaque handles are plain integers on
the hot path; typed views are made where the data is read).  Function pointer
slots of ``PJRT_Api`` and of the extension structs also become ``c_void_p``;
the binding builds one caller per slot.  Named callback typedefs become
``CFUNCTYPE`` types, so Python callables can be installed where the C API
takes a callback.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pycparser import c_ast, c_parser

TRAITS_RE = re.compile(r"\b\w+_DEFINE_STRUCT_TRAITS\(\s*(\w+)\s*,\s*(\w+)\s*\)\s*;")
API_SIZE_RE = re.compile(
    r"enum\s*\{\s*(\w+)_STRUCT_SIZE\s*=\s*PJRT_STRUCT_SIZE\(\s*(\w+)\s*,\s*(\w+)\s*\)\s*\}\s*;"
)
# A tagged enum definition, possibly ``enum E : int32_t {`` (C23 / C++).  Every
# underlying type used is 32-bit, like a plain C enum here, so the annotation
# is dropped; some headers also name such an enum without ``enum`` (valid C++
# only), so a typedef of the same name is added to make that valid C.
TAGGED_ENUM_RE = re.compile(r"^enum\s+(\w+)\s*(?::\s*u?int32_t\s*)?\{", re.M)
TAGGED_STRUCT_RE = re.compile(r"^struct\s+(\w+)\s*\{", re.M)
# C++-only headers (namespaces, constexpr) carry string constants only.
CONSTEXPR_STR_RE = re.compile(r'constexpr\s+char\s+(\w+)\[\]\s*=\s*"([^"]*)"\s*;')
INT_DEFINE_RE = re.compile(r"^#define\s+(PJRT_\w*VERSION\w*|PJRT_API_M\w+|XLA_FFI_API_M\w+)\s+(\d+)\s*$", re.M)
NAMESPACE_BLOCK_RE = re.compile(r"^namespace\s+\w+\s*\{.*?^\}\s*//\s*namespace\s+\w+[ \t]*$", re.M | re.S)
INCLUDE_RE = re.compile(r'^#include\s+"([^"]+)"[ \t]*$', re.M)
# Strongly typed ids (tsl IntType: a standard-layout wrapper of one integer)
# that C++-flavoured extension headers use in their C structs.
CPP_INT_TYPES = {
    "xla::GlobalDeviceId": "int64_t",
    "xla::CrossHostTransferKey": "int64_t",
}

# Minimal stand-ins for the C library headers: the PJRT headers only need
# these typedefs, and pycparser cannot parse glibc's own headers.
FAKE_LIBC = {
    "stddef.h": "typedef unsigned long size_t; typedef long ptrdiff_t;\n"
    "#define NULL 0\n#define offsetof(t, m) 0\n",
    "stdint.h": "".join(
        f"typedef {c} {n};\n"
        for n, c in [
            ("int8_t", "signed char"), ("int16_t", "short"), ("int32_t", "int"),
            ("int64_t", "long"), ("uint8_t", "unsigned char"), ("uint16_t", "unsigned short"),
            ("uint32_t", "unsigned int"), ("uint64_t", "unsigned long"),
            ("intptr_t", "long"), ("uintptr_t", "unsigned long"),
        ]
    ),
    "stdbool.h": "#define bool _Bool\n#define true 1\n#define false 0\n",
    "assert.h": "",
}
FAKE_LIBC["cstddef"] = FAKE_LIBC["stddef.h"]
FAKE_LIBC["cstdint"] = FAKE_LIBC["stdint.h"]

SCALARS = {
    ("_Bool",): "ctypes.c_bool",
    ("char",): "ctypes.c_char",
    ("signed", "char"): "ctypes.c_byte",
    ("unsigned", "char"): "ctypes.c_ubyte",
    ("short",): "ctypes.c_short",
    ("unsigned", "short"): "ctypes.c_ushort",
    ("int",): "ctypes.c_int",
    ("unsigned", "int"): "ctypes.c_uint",
    ("unsigned",): "ctypes.c_uint",
    ("long",): "ctypes.c_long",
    ("unsigned", "long"): "ctypes.c_ulong",
    ("long", "long"): "ctypes.c_longlong",
    ("unsigned", "long", "long"): "ctypes.c_ulonglong",
    ("float",): "ctypes.c_float",
    ("double",): "ctypes.c_double",
}
FIXED_WIDTH = {
    "size_t": "ctypes.c_size_t", "ptrdiff_t": "ctypes.c_ssize_t",
    "int8_t": "ctypes.c_int8", "int16_t": "ctypes.c_int16", "int32_t": "ctypes.c_int32",
    "int64_t": "ctypes.c_int64", "uint8_t": "ctypes.c_uint8", "uint16_t": "ctypes.c_uint16",
    "uint32_t": "ctypes.c_uint32", "uint64_t": "ctypes.c_uint64",
    "intptr_t": "ctypes.c_ssize_t", "uintptr_t": "ctypes.c_size_t",
}


@dataclass
class Record:
    """A struct or union definition, in declaration order."""

    name: str
    kind: str  # "Structure" or "Union"
    fields: list[tuple[str, str]] = field(default_factory=list)
    anonymous: list[str] = field(default_factory=list)
    header: str = ""


@dataclass
class Model:
    enums: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    records: dict[str, Record] = field(default_factory=dict)
    callbacks: dict[str, str] = field(default_factory=dict)  # name -> CFUNCTYPE expr
    functions: dict[str, tuple[str | None, bool]] = field(default_factory=dict)
    slots: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # struct -> [(field, fn)]
    typedefs: dict[str, c_ast.Node] = field(default_factory=dict)
    last_field: dict[str, str] = field(default_factory=dict)
    constants: dict[str, int] = field(default_factory=dict)
    strings: dict[str, str] = field(default_factory=dict)
    header_of: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # struct tag -> typedef name, where they differ


def _prepare_tree(header_dir: Path, include_root: Path | None, work: Path, model: Model) -> list[str]:
    """Copy every header into ``work`` with the struct-traits macros removed.

    Returns the include names of the PJRT headers to parse.
    """
    if include_root is None:
        parts = header_dir.resolve().parts
        include_root = Path(*parts[:-3]) if parts[-3:] == ("xla", "pjrt", "c") else None
    sources: dict[Path, Path] = {}
    if include_root is not None:
        for path in include_root.rglob("*.h"):
            sources[path.relative_to(include_root)] = path
    for path in header_dir.glob("*.h"):
        sources.setdefault(Path("xla/pjrt/c") / path.name, path)
    names = []
    for rel, path in sorted(sources.items()):
        text = path.read_text()
        if re.search(r"^namespace\s", text, re.M):
            if 'extern "C"' not in text:
                model.strings.update(CONSTEXPR_STR_RE.findall(text))
                continue
            text = _c_core(text, set(map(str, sources)))
        for m in TRAITS_RE.finditer(text):
            model.last_field[m.group(1)] = m.group(2)
        for m in API_SIZE_RE.finditer(text):
            model.last_field[m.group(2)] = m.group(3)
        for m in INT_DEFINE_RE.finditer(text):
            model.constants[m.group(1)] = int(m.group(2))
        text = TRAITS_RE.sub(lambda m: f"typedef struct {m.group(1)} {m.group(1)};", text)
        text = API_SIZE_RE.sub("", text)
        text = TAGGED_ENUM_RE.sub(r"typedef enum \1 \1; enum \1 {", text)
        text = TAGGED_STRUCT_RE.sub(r"typedef struct \1 \1; struct \1 {", text)
        dest = work / "inc" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text)
        if _is_api_header(rel):
            names.append(str(rel))
    for name, body in FAKE_LIBC.items():
        (work / "libc").mkdir(exist_ok=True)
        (work / "libc" / name).write_text(body)
    return names


def _is_api_header(rel: Path) -> bool:
    """Whether a header declares (part of) the API: the core, every extension, and the XLA FFI
    C API (the calling convention of the handlers the FFI extension registers)."""
    if rel == Path("xla/ffi/api/c_api.h"):
        return True
    if rel.parent == Path("xla/pjrt/c"):
        return rel.name.startswith("pjrt_c_api") or rel.name.endswith("_extension.h")
    return rel.parts[:3] == ("xla", "pjrt", "extensions") and rel.name.endswith("_extension.h")


def _c_core(text: str, available: set[str]) -> str:
    """The C part of a C++-flavoured header: no namespaces, no C++-only includes."""
    text = NAMESPACE_BLOCK_RE.sub("", text)
    text = INCLUDE_RE.sub(lambda m: m.group(0) if m.group(1) in available else "", text)
    for cpp, c in CPP_INT_TYPES.items():
        text = text.replace(cpp, c)
    return text


def _preprocess(work: Path, names: list[str]) -> str:
    umbrella = work / "all.c"
    umbrella.write_text("".join(f'#include "{n}"\n' for n in names))
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        sys.exit("gen_abi: no C compiler found for preprocessing (set CC)")
    out = subprocess.run(
        [cc, "-E", "-nostdinc", f"-I{work / 'libc'}", f"-I{work / 'inc'}", str(umbrella)],
        check=True, capture_output=True, text=True,
    )
    return out.stdout


def _names(node: c_ast.IdentifierType) -> tuple[str, ...]:
    return tuple(n for n in node.names if n not in ("const", "volatile"))


class Emitter:
    """Turns the pycparser AST into ``Model`` entries and ctypes expressions."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.anon_count = 0
        self.current_header = ""

    # -- types ---------------------------------------------------------------
    def is_function_typedef(self, name: str) -> bool:
        node = self.model.typedefs.get(name)
        return isinstance(node, c_ast.FuncDecl)

    def function_pointer_typedef(self, node: c_ast.Node) -> str | None:
        """The name of a ``typedef R (*name)(...)`` that ``node`` refers to, if any."""
        if isinstance(node, c_ast.TypeDecl) and isinstance(node.type, c_ast.IdentifierType):
            (name, *rest) = _names(node.type)
            target = self.model.typedefs.get(name)
            if not rest and isinstance(target, c_ast.PtrDecl) and isinstance(target.type, c_ast.FuncDecl):
                return name
        return None

    def ctype(self, node: c_ast.Node, owner: str, fname: str) -> str:
        if isinstance(node, c_ast.TypeDecl):
            inner = node.type
            if isinstance(inner, c_ast.IdentifierType):
                names = _names(inner)
                if len(names) == 1 and names[0] in FIXED_WIDTH:
                    return FIXED_WIDTH[names[0]]
                if names in SCALARS:
                    return SCALARS[names]
                (name,) = names
                if name in self.model.enums:
                    return "ctypes.c_int"
                if name in self.model.callbacks:
                    return name
                if name in self.model.records:
                    return name
                target = self.model.typedefs.get(name)
                if target is not None:
                    return self.ctype(target, owner, fname)
                raise ValueError(f"{owner}.{fname}: unknown type {name}")
            if isinstance(inner, c_ast.Enum):
                if inner.values is not None:
                    self.enum(inner, inner.name)
                return "ctypes.c_int"
            if isinstance(inner, (c_ast.Struct, c_ast.Union)):
                if inner.decls is not None:
                    name = inner.name or self.anon_name(owner)
                    self.record(inner, name)
                    return name
                return inner.name
        if isinstance(node, (c_ast.Struct, c_ast.Union)):  # anonymous member
            name = node.name or self.anon_name(owner)
            self.record(node, name)
            return name
        if isinstance(node, c_ast.PtrDecl):
            target = node.type
            if isinstance(target, c_ast.FuncDecl):
                return self.funcptr(target, owner, fname)
            return "ctypes.c_void_p"
        if isinstance(node, c_ast.ArrayDecl):
            return f"({self.ctype(node.type, owner, fname)} * {self.const(node.dim)})"
        raise ValueError(f"{owner}.{fname}: unsupported declarator {type(node).__name__}")

    def const(self, node: c_ast.Node) -> int:
        if isinstance(node, c_ast.Constant):
            return int(node.value.rstrip("uUlL"), 0)
        raise ValueError(f"non-constant array size: {node}")

    def anon_name(self, owner: str) -> str:
        self.anon_count += 1
        return f"_{owner}_anon{self.anon_count}"

    def param_ctype(self, node: c_ast.Node) -> str:
        """A ctypes type for a callback parameter or return value."""
        if isinstance(node, c_ast.PtrDecl):
            return "ctypes.c_void_p"
        if isinstance(node, c_ast.TypeDecl) and isinstance(node.type, c_ast.IdentifierType):
            names = _names(node.type)
            if names == ("void",):
                return "None"
        return self.ctype(node, "callback", "param")

    def funcptr(self, func: c_ast.FuncDecl, owner: str, fname: str) -> str:
        restype = self.param_ctype(func.type)
        args = []
        for p in func.args.params if func.args else []:
            if isinstance(p, c_ast.Typename) and isinstance(p.type, c_ast.TypeDecl) and isinstance(
                p.type.type, c_ast.IdentifierType
            ) and _names(p.type.type) == ("void",):
                continue
            args.append(self.param_ctype(p.type))
        return f"ctypes.CFUNCTYPE({', '.join([restype, *args])})"

    # -- declarations ----------------------------------------------------------
    def enum(self, node: c_ast.Enum, name: str | None) -> None:
        values, nxt = [], 0
        for e in node.values.enumerators:
            if e.value is not None:
                nxt = self.enum_value(e.value, dict(values))
            values.append((e.name, nxt))
            nxt += 1
        if name:
            self.model.enums[name] = values
            self.model.header_of[name] = self.current_header

    def enum_value(self, node: c_ast.Node, known: dict[str, int]) -> int:
        if isinstance(node, c_ast.Constant):
            return self.const(node)
        if isinstance(node, c_ast.ID):
            return known[node.name]
        if isinstance(node, c_ast.UnaryOp) and node.op == "-":
            return -self.enum_value(node.expr, known)
        if isinstance(node, c_ast.BinaryOp):
            a, b = self.enum_value(node.left, known), self.enum_value(node.right, known)
            return {"+": a + b, "-": a - b, "<<": a << b, "|": a | b}[node.op]
        raise ValueError(f"unsupported enum value {node}")

    def record(self, node: c_ast.Struct | c_ast.Union, name: str) -> None:
        kind = "Union" if isinstance(node, c_ast.Union) else "Structure"
        rec = Record(name, kind, header=self.current_header)
        self.model.records[name] = rec
        slots = []
        # Function-pointer members of the API table and of extension structs
        # are slots the binding calls; elsewhere they are callbacks we provide.
        is_table = name.endswith("_Api") or (
            bool(node.decls) and node.decls[0].name == "base"
        )
        for decl in node.decls:
            fname = decl.name
            if fname is None:  # anonymous union/struct member
                fname = f"_u{len(rec.anonymous)}"
                rec.anonymous.append(fname)
            ftype = decl.type
            # Some extension tables name a pointer-to-function typedef
            # (``PJRT_HostAllocator_Allocate allocate;``): a slot all the same.
            pointer_typedef = self.function_pointer_typedef(ftype)
            if is_table and pointer_typedef is not None:
                self.function(pointer_typedef, self.model.typedefs[pointer_typedef].type)
                slots.append((fname, pointer_typedef))
                rec.fields.append((fname, "ctypes.c_void_p"))
                continue
            if (
                isinstance(ftype, c_ast.PtrDecl)
                and isinstance(ftype.type, c_ast.TypeDecl)
                and isinstance(ftype.type.type, c_ast.IdentifierType)
                and self.is_function_typedef(_names(ftype.type.type)[0])
            ):
                fn = _names(ftype.type.type)[0]
                if is_table:
                    slots.append((fname, fn))
                    rec.fields.append((fname, "ctypes.c_void_p"))
                else:
                    self.model.callbacks.setdefault(
                        fn, self.funcptr(self.model.typedefs[fn], name, fname)
                    )
                    rec.fields.append((fname, fn))
                continue
            rec.fields.append((fname, self.ctype(ftype, name, fname)))
        if slots:
            self.model.slots[name] = slots

    def function(self, name: str, func: c_ast.FuncDecl) -> None:
        """Record an API function: its args struct and whether it returns an error."""
        params = func.args.params if func.args else []
        args_struct = None
        if len(params) == 1 and isinstance(params[0].type, c_ast.PtrDecl):
            target = params[0].type.type
            if isinstance(target, c_ast.TypeDecl) and isinstance(target.type, c_ast.IdentifierType):
                args_struct = _names(target.type)[0]
        returns_error = isinstance(func.type, c_ast.PtrDecl)
        self.model.functions[name] = (args_struct, returns_error)
        self.model.header_of.setdefault(name, self.current_header)

    def typedef(self, node: c_ast.Typedef) -> None:
        self.model.typedefs[node.name] = node.type
        inner = node.type
        if isinstance(inner, c_ast.FuncDecl):
            self.function(node.name, inner)
            return
        if isinstance(inner, c_ast.PtrDecl) and isinstance(inner.type, c_ast.FuncDecl):
            self.model.callbacks[node.name] = self.funcptr(inner.type, node.name, "")
            self.model.header_of[node.name] = self.current_header
            return
        if isinstance(inner, c_ast.TypeDecl):
            t = inner.type
            if isinstance(t, c_ast.Enum) and t.values is not None:
                self.enum(t, node.name)
            elif isinstance(t, (c_ast.Struct, c_ast.Union)) and t.decls is not None:
                self.record(t, node.name)
                if t.name and t.name != node.name:
                    self.model.typedefs[t.name] = inner
                    self.model.aliases[t.name] = node.name

    def visit(self, ast: c_ast.FileAST) -> None:
        for node in ast.ext:
            # Linemarkers from the preprocessor tell which header a node came from.
            self.current_header = Path(node.coord.file).name if node.coord else ""
            if isinstance(node, c_ast.Typedef):
                self.typedef(node)
            elif isinstance(node, c_ast.Decl) and isinstance(node.type, (c_ast.Struct, c_ast.Union)):
                if node.type.decls is not None:
                    self.record(node.type, node.type.name)
            elif isinstance(node, c_ast.Decl) and isinstance(node.type, c_ast.Enum):
                if node.type.values is not None:
                    self.enum(node.type, node.type.name)


def parse(header_dir: Path, include_root: Path | None) -> Model:
    model = Model()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        names = _prepare_tree(header_dir, include_root, work, model)
        if "xla/pjrt/c/pjrt_c_api.h" not in names:
            sys.exit(f"gen_abi: {header_dir} has no pjrt_c_api.h")
        names.remove("xla/pjrt/c/pjrt_c_api.h")
        names.insert(0, "xla/pjrt/c/pjrt_c_api.h")
        text = _preprocess(work, names)
    ast = c_parser.CParser().parse(text, filename="<pjrt>")
    Emitter(model).visit(ast)
    return model


def _ordered_records(model: Model) -> list[Record]:
    """Records sorted so that by-value members come before their users."""
    done: set[str] = set()
    out: list[Record] = []

    def visit(rec: Record) -> None:
        if rec.name in done:
            return
        done.add(rec.name)
        for _, t in rec.fields:
            for dep in re.findall(r"\b(\w+)\b", t):
                if dep in model.records and dep != rec.name:
                    visit(model.records[dep])
        out.append(rec)

    for rec in model.records.values():
        visit(rec)
    return out


def render(model: Model, source: str) -> str:
    minor = model.constants.get("PJRT_API_MINOR")
    lines = [
        f'"""ctypes declarations of the PJRT C API {model.constants.get("PJRT_API_MAJOR")}.{minor}.',
        "",
        f"GENERATED by tools/gen_abi.py from the headers in {source}. Do not edit.",
        '"""',
        "# fmt: off",
        "import ctypes",
        "import enum",
        "",
    ]
    for name, value in sorted(model.constants.items()):
        lines.append(f"{name} = {value}")
    for name, value in sorted(model.strings.items()):
        lines.append(f"{name} = {value!r}")
    lines.append("")
    for name, values in model.enums.items():
        lines.append(f"class {name}(enum.IntEnum):")
        lines.extend(f"    {n} = {v}" for n, v in values)
        lines.append("")
    records = _ordered_records(model)
    for rec in records:
        # __slots__ = () makes a misspelt field an AttributeError instead of
        # a silently ignored Python attribute (and a null pointer in C).
        lines.append(f"class {rec.name}(ctypes.{rec.kind}):\n    __slots__ = ()")
    lines.append("")
    for name, expr in model.callbacks.items():
        lines.append(f"{name} = {expr}")
    lines.append("")
    for rec in records:
        if rec.anonymous:
            lines.append(f"{rec.name}._anonymous_ = {tuple(rec.anonymous)!r}")
        lines.append(f"{rec.name}._fields_ = [")
        lines.extend(f"    ({f!r}, {t})," for f, t in rec.fields)
        lines.append("]")
    lines.append("")
    lines.append("def _size_through(struct, last_field):")
    lines.append('    """PJRT_STRUCT_SIZE: offset of the last field plus its size."""')
    lines.append("    member = getattr(struct, last_field)")
    lines.append("    return member.offset + member.size")
    lines.append("")
    # A struct whose tag differs from its typedef (``struct PJRT_FFI_Extension``
    # is ``PJRT_FFI``) is reachable under both names; traits macros use the tag.
    for tag, name in sorted(model.aliases.items()):
        if tag not in model.records:
            lines.append(f"{tag} = {name}")
    for name, last in model.last_field.items():
        record = name if name in model.records else model.aliases.get(name)
        if record in model.records:
            lines.append(f"{name}_STRUCT_SIZE = _size_through({record}, {last!r})")
    lines.append("")
    lines.append("# Function typedefs: name -> (args struct name, returns PJRT_Error* / error pointer)")
    lines.append("FUNCTIONS = {")
    for name, (args, err) in model.functions.items():
        lines.append(f"    {name!r}: ({args!r}, {err!r}),")
    lines.append("}")
    lines.append("")
    lines.append("# Function-pointer slots of each table struct, in declaration order.")
    lines.append("SLOTS = {")
    for struct, slots in model.slots.items():
        lines.append(f"    {struct!r}: (")
        lines.extend(f"        {f!r}," for f, fn in slots)
        lines.append("    ),")
    lines.append("}")
    lines.append("")
    lines.append("# The C function typedef behind each slot: table -> {slot: function}.")
    lines.append("SLOT_FUNCTIONS = {")
    for struct, slots in model.slots.items():
        lines.append(f"    {struct!r}: {{")
        lines.extend(f"        {f!r}: {fn!r}," for f, fn in slots)
        lines.append("    },")
    lines.append("}")
    lines.append("")
    lines.append("# The header each struct, enum and function comes from.")
    lines.append("HEADER_OF = {")
    items = {**{r.name: r.header for r in records if not r.name.startswith("_")}, **model.header_of}
    for name, header in sorted(items.items()):
        lines.append(f"    {name!r}: {header!r},")
    lines.append("}")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("header_dir", type=Path, help="folder with pjrt_c_api.h and the extension headers")
    ap.add_argument("--include", type=Path, default=None, help="include root for \"xla/...\" includes")
    ap.add_argument(
        "-o", "--output", type=Path,
        default=Path(__file__).resolve().parent.parent / "pjrt_array" / "_pjrt" / "_abi.py",
    )
    args = ap.parse_args(argv)
    model = parse(args.header_dir, args.include)
    source = "/".join(args.header_dir.resolve().parts[-3:])
    args.output.write_text(render(model, source))
    print(
        f"wrote {args.output}: {len(model.records)} structs, {len(model.enums)} enums, "
        f"{len(model.functions)} functions, {len(model.slots.get('PJRT_Api', ()))} PJRT_Api slots"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
