"""The binding (``pjrt_array/_pjrt``) never imports the array layer, so its import graph has no
cycle through it: one direction of dependency, as docs/binding.md and ARCHITECTURE.md say."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pjrt_array

PACKAGE = Path(pjrt_array.__file__).parent
BINDING = PACKAGE / "_pjrt"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(source: str, package: str) -> set[str]:
    """Every module that ``source``, a module of ``package``, imports, at any depth (lazy imports
    in functions too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}  # `from . import x` names a module
    return found


def test_no_binding_module_imports_the_array_layer():
    bad = {}
    for path in sorted(BINDING.rglob("*.py")):
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        outside = sorted(m for m in _imports(path.read_text(), package) if (m == "pjrt_array" or m.startswith("pjrt_array."))
                         and not (m == "pjrt_array._pjrt" or m.startswith("pjrt_array._pjrt.")))
        if outside:
            bad[_module_name(path)] = outside
    assert not bad, f"binding modules import the array layer: {bad}"


def test_the_checker_sees_relative_and_lazy_imports():
    """The static check above can fail: it resolves relative imports made inside functions."""
    source = "def f():\n    from ... import _dispatch\n    from ..._array import Array\n    from .. import errors\n"
    found = _imports(source, "pjrt_array._pjrt.extensions")
    assert {"pjrt_array._dispatch", "pjrt_array._array", "pjrt_array._pjrt.errors"} <= found


def test_importing_every_binding_module_loads_nothing_of_the_array_layer():
    """At run time: with the package's ``__init__`` (the namespace) left out, importing every
    binding module loads no other ``pjrt_array`` module."""
    script = textwrap.dedent(f"""
        import importlib, pkgutil, sys, types
        root = types.ModuleType("pjrt_array")
        root.__path__ = [{str(PACKAGE)!r}]
        sys.modules["pjrt_array"] = root
        import pjrt_array._pjrt as binding
        for info in pkgutil.walk_packages(binding.__path__, "pjrt_array._pjrt."):
            importlib.import_module(info.name)
        loaded = sorted(m for m in sys.modules if m.startswith("pjrt_array."))
        print(len(loaded))
        print("\\n".join(m for m in loaded if not m.startswith("pjrt_array._pjrt")))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    count, *outside = out.stdout.split("\n")
    assert int(count) > 30
    assert [m for m in outside if m] == []
