r"""Run SciPy's, scikit-learn's and array-api-extra's own array-API tests on array-api-strict and on
pjrt_array, and write the comparison to a markdown file.

    python tools/downstream_suites.py --out downstream_results.md \
        --xpx-tests /work/ext/array-api-extra \      # a checkout of array-api-extra (tests/ and pyproject)
        --suites scipy.fft,sklearn,array-api-extra \  # default: every suite (SciPy's take hours)
        --keep runs/ --reuse array_api_strict         # keep each run; reuse array-api-strict's

Each suite runs twice in a fresh pytest process, once per backend (``downstream_backend.py``, a
pytest plugin, puts the one backend into each library's backend list), one after the other.
pjrt_array starts with an empty compile cache (``--cache cold``, the default: a held-out run
compiles everything) or with the one in ``PJRT_ARRAY_CACHE_DIR`` (``--cache warm``).  The report
has, per suite, the outcomes on each backend, the wall times and their ratio, and every test that
fails on pjrt_array but not on array-api-strict.  Outcomes are matched by test id with the backend
part of the id taken out.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("array_api_strict", "pjrt_array")
# The backend part of a test id: SciPy's and array-api-extra's name alone, scikit-learn's with the
# device (array-api-strict's two devices, pjrt_array's default one) before the dtype.
_BACKEND_ID = re.compile(r"(array_api_strict|pjrt_array)(-(CPU_DEVICE|device1|None))?")
_FAILED = ("failed", "error")


@dataclass
class Suite:
    name: str
    targets: Callable[[argparse.Namespace], list[str]]  # pytest arguments: what to collect
    selection: list[str]  # pytest arguments: which of it to run
    cwd: Callable[[argparse.Namespace], str | None] = lambda args: None  # None: a temporary folder


def _site(module: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise SystemExit(f"{module} is not installed")
    return Path(spec.origin).parent


def _scipy_targets(sub: str) -> Callable[[argparse.Namespace], list[str]]:
    return lambda args: ["--pyargs", f"scipy.{sub}"]


def _sklearn_targets(args: argparse.Namespace) -> list[str]:
    # The test modules that parametrize over array namespaces (collecting all of scikit-learn's
    # tests would take minutes on its own).
    base = _site("sklearn")
    found = sorted(str(p) for p in base.rglob("tests/test_*.py")
                   if "yield_namespace" in p.read_text(encoding="utf-8", errors="replace"))
    return found


def _xpx_targets(args: argparse.Namespace) -> list[str]:
    if not args.xpx_tests:
        return []
    return [str(Path(args.xpx_tests) / "tests" / "main")]


SCIPY_SUBPACKAGES = ("_lib", "cluster", "fft", "special", "linalg", "ndimage", "signal", "stats")
SUITES = {
    # -m array_api_backends: exactly the tests that use SciPy's ``xp`` fixture.
    **{f"scipy.{sub}": Suite(f"scipy.{sub}", _scipy_targets(sub), ["-m", "array_api_backends"])
       for sub in SCIPY_SUBPACKAGES},
    # The backend's name in the id selects the parametrized tests on either backend alike.
    "sklearn": Suite("sklearn", _sklearn_targets, ["-k", "array_api or array_namespace or pjrt_array"]),
    "array-api-extra": Suite("array-api-extra", _xpx_targets, [], cwd=lambda args: args.xpx_tests),
}


@dataclass
class Run:
    backend: str
    wall_s: float
    cpu_s: float = 0.0  # user + system time of the pytest process, all its threads
    outcomes: dict[str, str] = field(default_factory=dict)  # normalized id -> outcome
    messages: dict[str, str] = field(default_factory=dict)  # normalized id -> first line of the error
    note: str = ""

    def count(self, *kinds: str) -> int:
        return sum(1 for o in self.outcomes.values() if o in kinds)


def _message(test: dict) -> str:
    for stage in ("setup", "call", "teardown"):
        crash = (test.get(stage) or {}).get("crash")
        if crash:
            return str(crash.get("message", "")).splitlines()[0][:200] if crash.get("message") else ""
    return ""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cached_or_run(suite: Suite, backend: str, args: argparse.Namespace) -> Run:
    """The run, or with ``--reuse`` one kept in ``--keep`` from before (array-api-strict's results
    do not change while pjrt_array is fixed)."""
    kept = Path(args.keep) / f"{suite.name}-{backend}.json" if args.keep else None
    if kept is not None and backend in args.reuse.split(",") and kept.exists():
        return Run(**json.loads(kept.read_text()))
    run = run_suite(suite, backend, args)
    if kept is not None:
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_text(json.dumps(asdict(run)))
    return run


def run_suite(suite: Suite, backend: str, args: argparse.Namespace) -> Run:
    targets = suite.targets(args)
    if not targets:
        return Run(backend, 0.0, note="not run (no tests: see --xpx-tests)")
    with tempfile.TemporaryDirectory(prefix="downstream-") as tmp:
        report = Path(tmp) / "report.json"
        env = dict(os.environ, SCIPY_ARRAY_API="1",
                   PYTHONPATH=os.pathsep.join([str(ROOT / "tools"), str(ROOT), os.environ.get("PYTHONPATH", "")]))
        if backend == "pjrt_array" and args.cache == "cold":
            env["PJRT_ARRAY_CACHE_DIR"] = str(Path(tmp) / "cache")
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "downstream_backend",
               f"--downstream-xp={backend}", "-o", "xfail_strict=false", "--json-report",
               f"--json-report-file={report}",
               *suite.selection, *args.pytest_args, *targets]
        start, cpu_start = time.perf_counter(), _children_cpu()
        try:
            proc = subprocess.run(cmd, cwd=suite.cwd(args) or tmp, env=env, capture_output=True, text=True,
                                  timeout=args.timeout)
            # An abnormal end keeps the ends of both streams: a crash's report (faulthandler's
            # traceback, the plugin's message) is on stderr.
            note = "" if proc.returncode in (0, 1) else (f"pytest exit {proc.returncode}: {proc.stdout[-300:]}"
                                                         f"\n  stderr: {proc.stderr[-2000:]}")
        except subprocess.TimeoutExpired:
            note = f"stopped after {args.timeout} s"
        wall, cpu = time.perf_counter() - start, _children_cpu() - cpu_start
        run = Run(backend, wall, cpu, note=note)
        if report.exists():
            for test in json.loads(report.read_text())["tests"]:
                key = _BACKEND_ID.sub("XP", test["nodeid"])
                run.outcomes[key] = test["outcome"]
                if test["outcome"] in _FAILED:
                    run.messages[key] = _message(test)
    return run


def _row(name: str, strict: Run, pjrt: Run, new: list[str]) -> str:
    def counts(run: Run) -> str:
        return f"{run.count('passed', 'xpassed')} / {run.count(*_FAILED)} / {run.count('skipped', 'xfailed')}"

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.1f}x" if b else "-"

    return (f"| {name} | {counts(strict)} | {counts(pjrt)} | {len(new)} | {strict.wall_s:.0f} / {pjrt.wall_s:.0f} "
            f"| {ratio(pjrt.wall_s, strict.wall_s)} | {strict.cpu_s:.0f} / {pjrt.cpu_s:.0f} | "
            f"{ratio(pjrt.cpu_s, strict.cpu_s)} |")


def new_failures(strict: Run, pjrt: Run) -> list[str]:
    """Tests that fail on pjrt_array and do not fail on array-api-strict (or do not run there)."""
    return sorted(k for k, o in pjrt.outcomes.items() if o in _FAILED and strict.outcomes.get(k) not in _FAILED)


def report(results: dict[str, tuple[Run, Run]], args: argparse.Namespace) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"Run {now} on {platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs, "
             f"Python {platform.python_version()}); pjrt_array compile cache: {args.cache}.", "",
             "Counts are passed / failed (errors included) / skipped (xfailed included).", "",
             "Times are seconds, array-api-strict / pjrt_array: wall time, and CPU time (user + system, "
             "all threads) of the pytest process, which a busy machine disturbs less.", "",
             "| suite | array-api-strict | pjrt_array | new failures | wall s | wall ratio | CPU s | CPU ratio |",
             "|---|---|---|---|---|---|---|---|"]
    details = []
    for name, (strict, pjrt) in results.items():
        new = new_failures(strict, pjrt)
        lines.append(_row(name, strict, pjrt, new))
        for run in (strict, pjrt):
            if run.note:
                details.append(f"- {name} on {run.backend}: {run.note}")
        if new:
            details.append(f"\n### {name}: failing on pjrt_array only\n")
            details.extend(f"- `{k}`: {pjrt.messages.get(k, '')}" for k in new)
    return "\n".join(lines + [""] + details) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="downstream_results.md", help="markdown file to write")
    parser.add_argument("--suites", default=",".join(SUITES), help="comma-separated: " + ", ".join(SUITES))
    parser.add_argument("--xpx-tests", default=os.environ.get("XPX_TESTS"),
                        help="a checkout of array-api-extra (its tests/ are not in the wheel)")
    parser.add_argument("--cache", choices=("cold", "warm"), default="cold",
                        help="pjrt_array's compile cache: empty (cold) or PJRT_ARRAY_CACHE_DIR's (warm)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per pytest run")
    parser.add_argument("--keep", default=None, help="folder to keep each run's outcomes in (JSON)")
    parser.add_argument("--reuse", default="", help="backends whose kept runs are reused (e.g. array_api_strict)")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --), e.g. -x")
    args = parser.parse_args(argv)
    results = {}
    for name in args.suites.split(","):
        runs = tuple(cached_or_run(SUITES[name], backend, args) for backend in BACKENDS)
        results[name] = runs
        print(_row(name, *runs, new_failures(*runs)), flush=True)
    Path(args.out).write_text(report(results, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
