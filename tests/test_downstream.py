"""SciPy, scikit-learn and array-api-extra on pjrt_array arrays give numpy's answers.

The checks (``downstream_checks.py``) run in one child process, because SciPy
reads ``SCIPY_ARRAY_API`` when first imported; a check whose library is not
installed is skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from downstream_checks import CHECKS

_HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def outcomes() -> dict[str, list]:
    env = dict(os.environ, PYTHONPATH=os.path.dirname(_HERE) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, os.path.join(_HERE, "downstream_checks.py")], capture_output=True,
                          text=True, env=env, timeout=900)
    found = {}
    for line in proc.stdout.splitlines():
        name, *rest = json.loads(line)
        found[name] = rest
    if proc.returncode:
        pytest.fail(f"the checks' process failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return found


@pytest.mark.parametrize("name", list(CHECKS))
def test_downstream_function_matches_numpy(outcomes, name):
    outcome = outcomes[name]
    if outcome[0] == "skip":
        pytest.skip(outcome[1])
    assert outcome[0] == "pass", outcome[1]
