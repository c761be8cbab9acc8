#!/usr/bin/env python3
"""Generate ``docs/coverage.md``: which PJRT C API functions the binding wraps and tests.

Usage::

    python tools/gen_coverage.py [-o docs/coverage.md] [--check]

Everything is read from the code, never written by hand:

* the functions: every function-pointer slot of ``PJRT_Api``, of every
  extension struct and of ``PLUGIN_Profiler_Api`` (``_abi.SLOTS``, generated
  from the headers by ``tools/gen_abi.py``);
* the wrapper of a function: the binding functions, methods and properties
  whose docstring names the C function (as ``PJRT_Client_DmaMap``), else
  those whose body names it (or, in an extension's module, its slot) in a
  string literal;
* the tests of a wrapper: binding test functions (modules that import
  ``pjrt_array._pjrt``) that call it (``.name(``, or use ``.name`` of a
  property) in a test module that names the wrapper's class, or that name
  the C function;
* which installed CPU plugin implements the function: the plugin's table has
  the slot, non-null (for an extension: the plugin provides the extension);
* the buffer types: every ``PJRT_Buffer_Type``, its numpy dtype and which
  plugins accept it.

A function without a wrapper needs an entry in :data:`REASONS`.
``--check`` exits 1 when the file on disk differs from what would be written.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pjrt_array._pjrt import _abi, dtypes  # noqa: E402
from pjrt_array._pjrt import extensions as X  # noqa: E402
from pjrt_array._pjrt._loader import discover, load_plugin  # noqa: E402

PACKAGE = ROOT / "pjrt_array" / "_pjrt"
TESTS = ROOT / "tests"
OUTPUT = ROOT / "docs" / "coverage.md"
# Generated tables that list every name without wrapping anything.
NOT_WRAPPERS = {"_abi.py", "_api_history.py"}
# Prefixes of the test modules that run against a plugin made of Python functions.
FAKE_TEST_PREFIX = ("test_extensions_fake", "test_binding_fake")
MAX_TESTS = 3

#: C functions that legitimately have no wrapper, with the reason.
REASONS: dict[str, str] = {}

#: Buffer types StableHLO cannot name (its ``i1`` is PRED), so only their host round trip is tested.
NO_STABLEHLO_TYPE = {dtypes.BufferType.PJRT_Buffer_Type_S1, dtypes.BufferType.PJRT_Buffer_Type_U1}

CORE = "PJRT_Api"
PROFILER_API = "PLUGIN_Profiler_Api"


@dataclass
class Definition:
    """A function, method or property of the binding."""

    module: str
    qualname: str
    doc: str
    strings: set[str]
    is_property: bool
    #: Classes defined next to it: a test naming any of them is about this module.
    neighbours: frozenset[str] = frozenset()

    @property
    def attr(self) -> str:
        return self.qualname.rsplit(".", 1)[-1]

    @property
    def owner(self) -> str:
        parts = self.qualname.split(".")
        return parts[-2] if len(parts) > 1 else self.module

    @property
    def public(self) -> bool:
        return not self.attr.startswith("_")


@dataclass
class TestFunction:
    module: str
    name: str
    source: str
    #: Every identifier of the test's module.
    module_words: frozenset[str]

    @property
    def label(self) -> str:
        return f"{self.module}::{self.name}"

    @property
    def fake(self) -> bool:
        return self.module.startswith(FAKE_TEST_PREFIX)


@dataclass
class Function:
    table: str
    slot: str
    c_name: str
    wrappers: list[Definition] = field(default_factory=list)
    tests: list[TestFunction] = field(default_factory=list)
    implemented: dict[str, bool] = field(default_factory=dict)

    @property
    def group(self) -> str:
        if self.table != CORE:
            return self.table
        parts = self.c_name.split("_")
        return parts[1] if len(parts) > 2 else parts[-1]


# -- the binding -------------------------------------------------------------------------------------

def _strings(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def scan_package() -> list[Definition]:
    """Every function, method and property of ``pjrt_array/_pjrt``, with what it names."""
    found: list[Definition] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name in NOT_WRAPPERS:
            continue
        module = path.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".")
        tree = ast.parse(path.read_text())
        neighbours = frozenset({n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)} | {path.stem})

        def visit(node: ast.AST, prefix: str) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.ClassDef):
                    visit(child, f"{prefix}{child.name}.")
                elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    is_property = any(isinstance(d, ast.Name) and d.id == "property" for d in child.decorator_list)
                    body = ast.Module(body=child.body[1:] if ast.get_docstring(child) else child.body,
                                      type_ignores=[])
                    found.append(Definition(module, prefix + child.name, ast.get_docstring(child) or "",
                                            _strings(body), is_property, neighbours))
        visit(tree, "")
    return found


def _table_modules() -> dict[str, set[str]]:
    """The modules whose string literals may name a table's slots by slot name."""
    out: dict[str, set[str]] = defaultdict(set)
    for cls in X.EXTENSIONS.values():
        out[cls.STRUCT.__name__].add(cls.__module__)
    out[PROFILER_API].add(X.ProfilerExtension.__module__)
    return out


def find_wrappers(fn: Function, defs: list[Definition], modules: dict[str, set[str]]) -> list[Definition]:
    named = re.compile(rf"\b{re.escape(fn.c_name)}\b")
    by_doc = [d for d in defs if named.search(d.doc)]
    by_code = [d for d in defs if fn.c_name in d.strings
               or (fn.table != CORE and d.module in modules[fn.table] and fn.slot in d.strings)]
    found = by_doc or by_code
    return sorted(found, key=lambda d: (not d.public, d.qualname))


# -- the tests ---------------------------------------------------------------------------------------

def scan_tests() -> list[TestFunction]:
    """The test functions of the binding's tests (the modules that use ``pjrt_array._pjrt``)."""
    found = []
    for path in sorted(TESTS.glob("test_*.py")):
        text = path.read_text()
        if "_pjrt" not in text:
            continue  # array-level tests reach the binding only through the namespace
        lines = text.splitlines()
        words = frozenset(re.findall(r"\w+", text))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                source = "\n".join(lines[node.lineno - 1: node.end_lineno])
                found.append(TestFunction(path.name, node.name, source, words))
    return found


def _use(d: Definition) -> re.Pattern | None:
    """How a test uses a wrapper: ``.name(`` for a method, ``.name`` for a property, ``.close(`` or a
    ``with`` block for the destructor ``_release``."""
    if d.attr == "_release":
        return re.compile(r"\.close\(|^\s*with\b", re.M)
    if not d.public or d.attr.startswith("__"):
        return None
    return re.compile(rf"\.{re.escape(d.attr)}" + (r"(?!\w)" if d.is_property else r"\("))


def delegates(wrappers: list[Definition], defs: list[Definition]) -> list[Definition]:
    """Public functions whose docstring points at a wrapper (``see :meth:`Buffer.from_numpy```)."""
    names = [f"{d.owner}.{d.attr}" for d in wrappers if d.public]
    return [d for d in defs if d.public and d not in wrappers and any(n in d.doc for n in names)]


def find_tests(fn: Function, tests: list[TestFunction], callers: list[Definition]) -> list[TestFunction]:
    patterns = [re.compile(rf"\b{re.escape(fn.c_name)}\b")]
    owners: set[str] = set()
    for d in [*fn.wrappers, *callers]:
        use = _use(d)
        if use is not None:
            patterns.append(use)
            # ``.close(`` is everywhere: it counts only in a module naming the class itself.
            owners |= {d.owner} if d.attr == "close" else {d.owner, *d.neighbours}
    found = []
    for t in tests:
        if patterns[0].search(t.source):
            found.append(t)
        elif t.fake and fn.table == CORE:
            continue  # the fake plugin implements few core functions: only a test naming one counts for it
        elif owners & t.module_words and any(p.search(t.source) for p in patterns[1:]):
            found.append(t)
    return sorted(found, key=lambda t: (t.fake, t.label))


# -- the plugins -------------------------------------------------------------------------------------

def installed_plugins() -> list[tuple[str, object]]:
    """``(label, Plugin)`` of every usable installed CPU plugin, oldest API first."""
    infos = sorted((i for i in discover() if i.platform == "cpu" and i.usable), key=lambda i: i.api_version)
    return [(f"API 0.{i.api_version[1]}", load_plugin(i.path, initialize=False)) for i in infos]


def _table_of(plugin: object, table: str) -> object | None:
    """The plugin's function table ``table`` (something with ``has(slot)``), or None."""
    if table == CORE:
        return plugin.api  # type: ignore[attr-defined]
    if table == PROFILER_API:
        ext = X.ProfilerExtension.of(plugin)
        return ext.profiler_api() if ext is not None and ext.profiler_api_address else None
    for cls in X.EXTENSIONS.values():
        if cls.STRUCT.__name__ == table:
            return cls.of(plugin)
    raise KeyError(table)


# -- collecting ----------------------------------------------------------------------------------------

def table_order() -> list[str]:
    """``PJRT_Api``, then the extensions in ``PJRT_Extension_Type`` order (the profiler table after its extension)."""
    order = [CORE]
    for cls in sorted(X.EXTENSIONS.values(), key=lambda c: int(c.TYPE)):
        name = cls.STRUCT.__name__
        if name in _abi.SLOTS:
            order.append(name)
        if cls is X.ProfilerExtension:
            order.append(PROFILER_API)
    # The XLA FFI C API (``XLA_FFI_Api``) is the handlers' side of the FFI extension, not PJRT.
    missing = {t for t in _abi.SLOTS if not t.startswith("XLA_FFI")} - set(order)
    if missing:
        raise SystemExit(f"gen_coverage: function tables without a wrapper class: {sorted(missing)}")
    return order


def collect() -> tuple[list[Function], list[str]]:
    """Every function with its wrappers, tests and plugin support; and the plugin labels."""
    defs, tests, modules = scan_package(), scan_tests(), _table_modules()
    plugins = installed_plugins()
    functions = []
    for table in table_order():
        names = _abi.SLOT_FUNCTIONS[table]
        tables = {label: _table_of(plugin, table) for label, plugin in plugins}
        for slot in _abi.SLOTS[table]:
            fn = Function(table, slot, names[slot])
            fn.wrappers = find_wrappers(fn, defs, modules)
            fn.tests = find_tests(fn, tests, delegates(fn.wrappers, defs))
            fn.implemented = {label: t is not None and t.has(slot) for label, t in tables.items()}
            functions.append(fn)
    return functions, [label for label, _ in plugins]


# -- rendering ------------------------------------------------------------------------------------------

def _cell(items: list[str]) -> str:
    return "<br>".join(items) if items else "—"


def _wrapper_cell(fn: Function) -> str:
    if not fn.wrappers:
        return f"— ({REASONS[fn.c_name]})" if fn.c_name in REASONS else "**none**"
    shown = [d for d in fn.wrappers if d.public] or fn.wrappers
    return _cell([f"`{d.module.removeprefix('pjrt_array._pjrt.')}.{d.qualname}`" for d in shown[:2]])


def _tests_cell(fn: Function) -> str:
    shown = fn.tests[:MAX_TESTS]
    more = len(fn.tests) - len(shown)
    return _cell([f"`{t.label}`" + (" (fake)" if t.fake else "") for t in shown]
                 + ([f"+{more} more"] if more > 0 else []))


def _totals(functions: list[Function], labels: list[str]) -> list[str]:
    wrapped = sum(bool(f.wrappers) for f in functions)
    tested = sum(bool(f.tests) for f in functions)
    real = sum(any(not t.fake for t in f.tests) and any(f.implemented.values()) for f in functions)
    support = [str(sum(f.implemented[label] for f in functions)) for label in labels]
    return [str(len(functions)), str(wrapped), str(tested), str(real), *support]


def _value_bits(np_dtype: object) -> int:
    """Bits of one value (``int4``: 4, ``float6_e2m3fn``: 6); ``bool`` and complex by storage."""
    import ml_dtypes
    if np_dtype.kind in "bc":  # type: ignore[attr-defined]
        return 8 * np_dtype.itemsize  # type: ignore[attr-defined]
    for info in (ml_dtypes.finfo, ml_dtypes.iinfo):
        try:
            return int(info(np_dtype).bits)
        except (ValueError, TypeError):
            continue
    raise TypeError(f"no bit width for {np_dtype}")


def _buffer_types(plugins: list[tuple[str, int]]) -> list[str]:
    lines = ["## Buffer types", "",
             "Every `PJRT_Buffer_Type`: its numpy dtype, the bits of one value, and what each installed "
             "plugin does with it (the binding refuses a type newer than the plugin's API before calling it).  "
             "`tests/test_buffer_types.py` round-trips every accepted type through the host and, where "
             "StableHLO has the type, converts it on the device against numpy.  Sub-byte types are one element "
             "per byte on the host and packed on the device.", "",
             "| PJRT_Buffer_Type | numpy dtype | bits | " + " | ".join(label for label, _ in plugins) + " |",
             "|---|---|---|" + "---|" * len(plugins)]
    typed = 0
    for t in dtypes.BufferType:
        try:
            np_dtype = dtypes.to_numpy_dtype(t)
        except TypeError:
            lines.append(f"| `{t.name}` | — (no host data) | — | " + " | ".join("—" for _ in plugins) + " |")
            continue
        typed += 1
        since = dtypes.INTRODUCED_IN.get(t, 0)
        tested = "round trip" if t in NO_STABLEHLO_TYPE else "round trip + device"
        if t in dtypes.SUB_BYTE_BITS:
            tested += " (packed)"
        support = [tested if minor >= since else f"refused (needs 0.{since})" for _, minor in plugins]
        lines.append(f"| `{t.name}` | `{np_dtype}` | {_value_bits(np_dtype)} | " + " | ".join(support) + " |")
    total = len(dtypes.BufferType)
    lines[2:2] = [f"**{typed} of {total} buffer types are typed** (INVALID and TOKEN carry no host data).", ""]
    return lines


def render(functions: list[Function], labels: list[str]) -> str:
    minors = [int(label.split(".")[-1]) for label in labels]
    core = [f for f in functions if f.table == CORE]
    ext = [f for f in functions if f.table != CORE]
    head = ["functions", "wrapped", "tested", "tested on a real plugin", *[f"implemented by {label}" for label in labels]]
    out = [
        "# PJRT C API coverage", "",
        f"GENERATED by `tools/gen_coverage.py` from the code, the tests and the ABI generated from the PJRT "
        f"{_abi.PJRT_API_MAJOR}.{_abi.PJRT_API_MINOR} headers; do not edit.  "
        f"Installed CPU plugins: {', '.join(labels) or 'none'}.", "",
        "A function is *wrapped* when a binding function names it in its docstring (or its code); *tested* "
        "when a test calls that wrapper or names the function; *tested on a real plugin* when such a test "
        "runs against an installed plugin (not the fake plugin of `tests/test_extensions_fake*.py` and "
        "`tests/test_binding_fake*.py`) and a "
        "plugin implements the function.  No GPU machine was available to this build, so GPU/TPU-only "
        "extensions are exercised against the fake plugin only.", "",
        "## Totals", "",
        "| | " + " | ".join(head) + " |", "|---|" + "---|" * len(head),
        "| **PJRT_Api** | " + " | ".join(_totals(core, labels)) + " |",
        "| **extensions** | " + " | ".join(_totals(ext, labels)) + " |",
        "| **all** | " + " | ".join(_totals(functions, labels)) + " |", "",
        "| group | " + " | ".join(head) + " |", "|---|" + "---|" * len(head),
    ]
    groups: dict[str, list[Function]] = {}
    for f in functions:
        groups.setdefault(f.group, []).append(f)
    for group, members in groups.items():
        out.append(f"| `{group}` | " + " | ".join(_totals(members, labels)) + " |")
    out += ["", "Slots the headers declare as untyped `void*` (deprecated: `PJRT_TpuExecutable_Extension."
            "get_core_program_abi_version`, five `multi_slice_config_*` slots of `PJRT_Megascale_Extension`) "
            "are not functions and are not counted.  `PJRT_RawBuffer_FunctionTable` and "
            "`PJRT_DeviceEvent_FunctionTable` are vtables a plugin implements behind its own objects, not "
            "API tables.", ""]
    for table in dict.fromkeys(f.table for f in functions):
        members = [f for f in functions if f.table == table]
        header = _abi.HEADER_OF.get(table, "")
        out += [f"## `{table}` ({header})", "",
                "| C function | wrapper | tests | " + " | ".join(labels) + " |",
                "|---|---|---|" + "---|" * len(labels)]
        for f in members:
            marks = ["yes" if f.implemented[label] else "no" for label in labels]
            out.append(f"| `{f.c_name}` | {_wrapper_cell(f)} | {_tests_cell(f)} | " + " | ".join(marks) + " |")
        out.append("")
    out += _buffer_types(list(zip(labels, minors)))
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", type=Path, default=OUTPUT)
    ap.add_argument("--check", action="store_true", help="exit 1 if the output file is stale")
    args = ap.parse_args(argv)
    functions, labels = collect()
    text = render(functions, labels)
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale; run python tools/gen_coverage.py", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    unwrapped = [f.c_name for f in functions if not f.wrappers and f.c_name not in REASONS]
    print(f"wrote {args.output}: {len(functions)} functions, {sum(bool(f.wrappers) for f in functions)} wrapped"
          + (f"; without wrapper or reason: {', '.join(unwrapped)}" if unwrapped else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
