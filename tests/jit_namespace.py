"""Rerunning a test module with its ``xp`` jit-wrapped (``conformance/jit_namespace.py``).

``reuse("test_x")`` executes a fresh copy of ``tests/test_x.py`` whose ``xp``
is the jit-wrapped namespace and returns its tests and fixtures, so the
existing tests (numpy is their oracle) check the traced program of every
function against the same expectations as the eager one.
"""

from __future__ import annotations

import importlib.util
import pathlib
from typing import Any

from hypothesis import settings

from conformance import jit_namespace as JXP

#: Examples per hypothesis test in the jit reruns (every new shape is a trace and a compile).
JIT_EXAMPLES = 5


def reuse(module_name: str) -> dict[str, Any]:
    """The tests and fixtures of ``tests/<module_name>.py`` rerun with ``xp`` jit-wrapped."""
    path = pathlib.Path(__file__).with_name(module_name + ".py")
    spec = importlib.util.spec_from_file_location(f"{module_name}__jit", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.xp = JXP
    found = {}
    for name, value in vars(module).items():
        if name.startswith("test_"):
            if getattr(value, "is_hypothesis_test", False):
                value = settings(max_examples=JIT_EXAMPLES)(value)
            found[name] = value
        elif hasattr(value, "_pytestfixturefunction") or type(value).__name__ == "FixtureFunctionDefinition":
            found[name] = value
    return found
