"""tools/downstream_suites.py: test ids matched across backends, failures only pjrt_array has."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))

import downstream_suites as ds  # noqa: E402


def _run(backend: str, outcomes: dict[str, str]) -> ds.Run:
    return ds.Run(backend, 1.0, 1.0, {ds._BACKEND_ID.sub("XP", k): v for k, v in outcomes.items()})


def test_ids_of_both_backends_match():
    # SciPy and array-api-extra name the backend alone; scikit-learn adds the device before the dtype
    assert ds._BACKEND_ID.sub("XP", "t.py::test_a[array_api_strict-CPU_DEVICE-float64]") == \
        ds._BACKEND_ID.sub("XP", "t.py::test_a[pjrt_array-None-float64]") == "t.py::test_a[XP-float64]"
    assert ds._BACKEND_ID.sub("XP", "t.py::test_b[array_api_strict-device1-float32]") == "t.py::test_b[XP-float32]"
    assert ds._BACKEND_ID.sub("XP", "t.py::C::test_c[array_api_strict-1.0]") == \
        ds._BACKEND_ID.sub("XP", "t.py::C::test_c[pjrt_array-1.0]")


def test_new_failures_are_those_array_api_strict_does_not_have():
    strict = _run("array_api_strict", {"a[array_api_strict]": "passed", "b[array_api_strict]": "failed",
                                       "c[array_api_strict]": "skipped", "d[array_api_strict]": "error"})
    pjrt = _run("pjrt_array", {"a[pjrt_array]": "failed", "b[pjrt_array]": "failed", "c[pjrt_array]": "error",
                               "d[pjrt_array]": "failed", "e[pjrt_array]": "failed", "f[pjrt_array]": "passed"})
    assert ds.new_failures(strict, pjrt) == ["a[XP]", "c[XP]", "e[XP]"]
    assert ds.new_failures(strict, strict) == []


def test_report_has_a_row_per_suite_and_lists_new_failures():
    strict = _run("array_api_strict", {"a[array_api_strict]": "passed", "s[array_api_strict]": "xfailed"})
    pjrt = _run("pjrt_array", {"a[pjrt_array]": "failed", "s[pjrt_array]": "xfailed"})
    pjrt.wall_s, pjrt.cpu_s = 3.0, 2.0
    pjrt.messages["a[XP]"] = "AssertionError: boom"

    class Args:
        cache = "cold"

    text = ds.report({"demo": (strict, pjrt)}, Args())
    assert "| demo | 1 / 0 / 1 | 0 / 1 / 1 | 1 | 1 / 3 | 3.0x | 1 / 2 | 2.0x |" in text
    assert "- `a[XP]`: AssertionError: boom" in text
