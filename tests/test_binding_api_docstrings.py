"""Every ``PJRT_Api`` function has a public wrapper whose docstring names it as ``PJRT_X``
(in double backquotes): the convention by which readers, and tools/gen_coverage.py, find
which wrapper binds which C function."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pjrt_array._pjrt as binding
from pjrt_array._pjrt import _abi

PACKAGE = Path(binding.__file__).parent
GENERATED = {"_abi.py", "_api_history.py"}  # tables that list every name without wrapping it


def _public_docstrings() -> dict[str, str]:
    """``{module.qualname: docstring}`` of every public function, method and property of the binding,
    and of every ``_release`` (the destructor of an owned handle, reached through ``close()``,
    ``with`` and garbage collection)."""
    found: dict[str, str] = {}
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name in GENERATED:
            continue

        def visit(node: ast.AST, prefix: str) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.ClassDef) and not child.name.startswith("_"):
                    visit(child, f"{prefix}{child.name}.")
                elif isinstance(child, ast.FunctionDef) and (child.name in ("__init__", "_release")
                                                             or not child.name.startswith("_")):
                    found[prefix + child.name] = ast.get_docstring(child) or ""

        visit(ast.parse(path.read_text()), f"{path.stem}.")
    return found


def test_every_core_function_is_named_by_a_public_wrapper_docstring():
    docs = _public_docstrings()
    named = {name for doc in docs.values() for name in re.findall(r"``(PJRT_\w+)``", doc)}
    missing = [slot for slot in _abi.SLOTS["PJRT_Api"] if slot not in named]
    assert not missing, f"no public wrapper docstring names {missing}"
    assert len(_abi.SLOTS["PJRT_Api"]) == 138  # the 0.114 headers


def test_docstrings_name_only_what_the_headers_define():
    functions = {name for slots in _abi.SLOTS.values() for name in slots} | set(_abi.FUNCTIONS)
    for qualname, doc in _public_docstrings().items():
        for name in re.findall(r"``(PJRT_\w+)``", doc):  # a function, or a type such as PJRT_Buffer_Type
            assert name in functions or hasattr(_abi, name), f"{qualname} names {name}, unknown to the headers"
