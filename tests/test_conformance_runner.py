"""The conformance runner's own logic (no suite run)."""

from pathlib import Path

import pytest

from conformance.report import render_results
from conformance.run import SuiteError, find_suite, parse_args, pytest_command


def test_find_suite_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("ARRAY_API_TESTS_DIR", raising=False)
    with pytest.raises(SuiteError, match="--suite"):
        find_suite(None)
    with pytest.raises(SuiteError, match="not an array-api-tests checkout"):
        find_suite(str(tmp_path))
    (tmp_path / "array_api_tests").mkdir()
    with pytest.raises(SuiteError, match="submodule"):
        find_suite(str(tmp_path))
    (tmp_path / "array-api").mkdir()
    (tmp_path / "array-api" / "spec").mkdir()
    assert find_suite(str(tmp_path)) == tmp_path.resolve()
    monkeypatch.setenv("ARRAY_API_TESTS_DIR", str(tmp_path))
    assert find_suite(None) == tmp_path.resolve()


def test_arguments_pass_through(tmp_path):
    args, extra = parse_args(["--max-examples", "7", "--hypothesis-seed", "3", "-k", "linalg",
                              "--xfails", str(tmp_path / "none.txt"), "--", "-x", "--maxfail=2"])
    cmd = pytest_command(args, tmp_path, extra)
    assert "--max-examples=7" in cmd and "--hypothesis-seed=3" in cmd
    assert cmd[cmd.index("-k") + 1] == "linalg"
    assert cmd[-2:] == ["-x", "--maxfail=2"]
    assert not any(c.startswith("--xfails-file") for c in cmd)  # a missing list is not passed on


def test_results_rendering():
    report = {"tests": [
        {"nodeid": "array_api_tests/test_a.py::test_ok", "outcome": "passed"},
        {"nodeid": "array_api_tests/test_a.py::test_bad", "outcome": "failed",
         "call": {"crash": {"message": "AssertionError: out[0]=1, but should be 2\nmore"}}},
        {"nodeid": "array_api_tests/test_b.py::test_skip", "outcome": "skipped"},
    ]}
    text = render_results(report, "abc123", {"max examples": 5}, "2026-01-01", 12.3)
    assert "abc123" in text and "12 s" in text
    assert "**Totals:** 1 passed, 1 failed, 1 skipped, 0 xfailed, 0 xpassed, 0 error" in text
    assert "| array_api_tests/test_a.py | 1 | 1 | 0 | 0 | 0 | 0 |" in text
    assert "- `array_api_tests/test_a.py::test_bad`: AssertionError: out[0]=1, but should be 2" in text
