"""Run many calls in a child process, so that a call which aborts the process is a finding, not a lost run.

``run_isolated(calls)`` sends Python source lines (each an expression or a
statement, with ``xp`` = pjrt_array, ``np`` = numpy, ``inf`` and ``nan`` in scope) to one child
process, which reports each outcome as a JSON line.  When the child dies, the
call it was running is recorded as a crash and a fresh child continues with the
next call, so one subprocess start serves a whole batch.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from typing import Sequence

_CHILD = r"""
import json, sys
import numpy as np
import pjrt_array as xp
from pjrt_array._pjrt import PjrtError

def describe(value):
    if isinstance(value, xp.Array):
        value.block_until_ready()
        return f"Array{value.shape} {value.dtype}"
    if isinstance(value, tuple):
        return "(" + ", ".join(describe(v) for v in value) + ")"
    return type(value).__name__

for line in sys.stdin:
    source = json.loads(line)
    print(json.dumps(["start"]), flush=True)
    scope = {"xp": xp, "np": np, "inf": float("inf"), "nan": float("nan")}
    try:
        try:
            code = compile(source, "<call>", "eval")
        except SyntaxError:
            exec(compile(source, "<call>", "exec"), scope)
            outcome = ["returned", "None"]
        else:
            outcome = ["returned", describe(eval(code, scope))]
    except Exception as exc:
        kind = "plugin error" if isinstance(exc, PjrtError) else "raised"
        outcome = [kind, type(exc).__name__, str(exc)[:300]]
    print(json.dumps(outcome), flush=True)
"""


def run_isolated(calls: Sequence[str], *, memory_limit: int = 1 << 28, data_limit: int = 8 << 30,
                 timeout: float = 600.0) -> list[list]:
    """One outcome per call: ``["returned", description]``, ``["raised", type, message]``,
    ``["plugin error", type, message]`` (an exception from the plugin rather than from Python
    validation) or ``["crashed", returncode, last stderr line]``.

    ``memory_limit`` becomes ``PJRT_ARRAY_MEMORY_LIMIT`` in the child, so valid but huge
    requests are refused there instead of filling the machine's memory; ``data_limit``
    bounds the child's data segment (``RLIMIT_DATA``) in case something escapes that.
    """
    env = dict(os.environ, PJRT_ARRAY_MEMORY_LIMIT=str(memory_limit))

    def limit_memory() -> None:  # a safety net for the machine: what escapes validation fails in the child
        resource.setrlimit(resource.RLIMIT_DATA, (data_limit, data_limit))

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    outcomes: list[list] = []
    while len(outcomes) < len(calls):
        todo = calls[len(outcomes):]
        stdin = "".join(json.dumps(c) + "\n" for c in todo)
        try:
            proc = subprocess.run([sys.executable, "-c", _CHILD], input=stdin, capture_output=True, text=True,
                                  env=env, cwd=root, timeout=timeout, preexec_fn=limit_memory)
            stdout, stderr, rc = proc.stdout, proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as exc:
            stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            stderr, rc = "timed out", "timeout"
        lines = [json.loads(line) for line in stdout.splitlines()]
        if not lines:
            raise RuntimeError(f"the child process failed before its first call: {stderr[-2000:]}")
        outcomes.extend(record for record in lines if record != ["start"])
        if len(outcomes) < len(calls):
            tail = stderr.strip().splitlines()
            outcomes.append(["crashed", rc, tail[-1][:300] if tail else ""])
    return outcomes
