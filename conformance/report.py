"""conformance/results.md from a pytest-json-report report."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

OUTCOMES = ("passed", "failed", "skipped", "xfailed", "xpassed", "error")


def _reason(test: dict[str, Any]) -> str:
    """The first line of a failure's message, trimmed."""
    for stage in ("call", "setup", "teardown"):
        crash = (test.get(stage) or {}).get("crash") or {}
        message = crash.get("message") or (test.get(stage) or {}).get("longrepr") or ""
        if message:
            line = next((ln.strip() for ln in str(message).splitlines() if ln.strip()), "")
            return (line[:200] + "...") if len(line) > 200 else line
    return "(no message)"


def _outcome(test: dict[str, Any]) -> str:
    outcome = test.get("outcome", "error")
    return outcome if outcome in OUTCOMES else "error"


def render_results(report: dict[str, Any], commit: str, settings: dict[str, Any], date: str,
                   seconds: float) -> str:
    tests = report.get("tests", [])
    totals = Counter(_outcome(t) for t in tests)
    per_file: dict[str, Counter] = defaultdict(Counter)
    for t in tests:
        per_file[t["nodeid"].split("::")[0]][_outcome(t)] += 1
    lines = [
        "# array-api-tests results",
        "",
        f"- suite commit: `{commit}`",
        f"- date: {date}",
        f"- wall time: {seconds:.0f} s",
        *[f"- {k}: {v}" for k, v in settings.items()],
        "",
        "**Totals:** " + ", ".join(f"{totals.get(o, 0)} {o}" for o in OUTCOMES),
        "",
        "| file | " + " | ".join(OUTCOMES) + " |",
        "|---|" + "---|" * len(OUTCOMES),
    ]
    for name in sorted(per_file):
        lines.append(f"| {name} | " + " | ".join(str(per_file[name].get(o, 0)) for o in OUTCOMES) + " |")
    failures = [t for t in tests if _outcome(t) in ("failed", "error")]
    lines += ["", f"## Failures ({len(failures)})", ""]
    lines += [f"- `{t['nodeid']}`: {_reason(t)}" for t in failures] or ["None."]
    return "\n".join(lines) + "\n"
