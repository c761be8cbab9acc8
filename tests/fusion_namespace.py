"""Rerun an existing test module with automatic fusion deferring every op.

``reuse("test_x")`` executes a fresh copy of ``tests/test_x.py`` and returns
its tests and fixtures plus an autouse fixture that turns fusion on with
``hot=0``: every segment is deferred (its ops return pending Arrays, flushed
at the test's host reads) and a graph whose op sequence was seen before is
compiled and run fused, so the module's numpy expectations check both paths.
"""

from __future__ import annotations

import importlib.util
import pathlib
from typing import Any

import pytest

import pjrt_array as xp
from pjrt_array import _fusion


@pytest.fixture(autouse=True)
def _fusion_everywhere():
    was = xp.fusion_enabled()
    previous = _fusion.configure(hot=0)
    xp.set_fusion(True)
    yield
    _fusion.wait_for_compiles()
    xp.set_fusion(was)
    _fusion.configure(hot=previous[0])


def reuse(module_name: str) -> dict[str, Any]:
    """The tests and fixtures of ``tests/<module_name>.py``, run with every op deferred."""
    path = pathlib.Path(__file__).with_name(module_name + ".py")
    spec = importlib.util.spec_from_file_location(f"{module_name}__fusion", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = {k: v for k, v in vars(module).items() if k.startswith("test_") or hasattr(v, "_pytestfixturefunction")
             or type(v).__name__ == "FixtureFunctionDefinition"}
    return {**found, "_fusion_everywhere": _fusion_everywhere}
