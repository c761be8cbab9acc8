"""Run the array-api-tests suite against a namespace and write conformance/results.md.

Usage::

    python -m conformance [--suite PATH] [--module pjrt_array] [--max-examples N]
                          [--hypothesis-seed S] [-k EXPR] [-- extra pytest args]

The suite is found through ``--suite`` or ``ARRAY_API_TESTS_DIR``; it needs
its ``array-api`` spec submodule checked out.  pytest's exit code is returned.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .report import render_results

HERE = Path(__file__).resolve().parent
API_VERSION = "2025.12"


class SuiteError(RuntimeError):
    """The suite cannot be run (not found, or its submodule missing)."""


def find_suite(path: str | None) -> Path:
    """The suite's root folder; SuiteError with the fix when it is unusable."""
    given = path or os.environ.get("ARRAY_API_TESTS_DIR")
    if not given:
        raise SuiteError("array-api-tests not found: pass --suite PATH or set ARRAY_API_TESTS_DIR "
                         "(git clone https://github.com/data-apis/array-api-tests)")
    suite = Path(given).expanduser().resolve()
    if not (suite / "array_api_tests").is_dir():
        raise SuiteError(f"{suite} is not an array-api-tests checkout (no array_api_tests/ folder)")
    spec = suite / "array-api"
    if not spec.is_dir() or not any(spec.iterdir()):
        raise SuiteError(f"{spec} is empty: the suite needs its spec submodule. Fix with:\n"
                         f"  git -C {suite} submodule update --init\n"
                         "or clone https://github.com/data-apis/array-api there at the commit that "
                         f"`git -C {suite} ls-tree HEAD array-api` names")
    return suite


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(prog="python -m conformance", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", help="array-api-tests checkout (default: $ARRAY_API_TESTS_DIR)")
    ap.add_argument("--module", default="pjrt_array", help="namespace under test (default: pjrt_array)")
    ap.add_argument("--max-examples", type=int, default=None, help="hypothesis examples per test")
    ap.add_argument("--hypothesis-seed", default=None, help="hypothesis seed")
    ap.add_argument("-k", dest="keyword", default=None, help="pytest -k expression")
    ap.add_argument("--xfails", default=str(HERE / "xfails.txt"), help="expected-failure list")
    ap.add_argument("--results", default=str(HERE / "results.md"), help="where to write the results")
    ap.add_argument("--report", default=str(HERE / "report.json"), help="where to write the JSON report")
    return ap.parse_args(argv), extra


def pytest_command(args: argparse.Namespace, suite: Path, extra: list[str]) -> list[str]:
    cmd = [sys.executable, "-m", "pytest", "array_api_tests", "-p", "no:cacheprovider", "-q", "-rf",
           "--json-report", f"--json-report-file={args.report}", "--json-report-omit", "collectors", "log"]
    if Path(args.xfails).is_file():
        cmd.append(f"--xfails-file={args.xfails}")
    if args.max_examples is not None:
        cmd.append(f"--max-examples={args.max_examples}")
    if args.hypothesis_seed is not None:
        cmd.append(f"--hypothesis-seed={args.hypothesis_seed}")
    if args.keyword:
        cmd += ["-k", args.keyword]
    return cmd + extra


def suite_commit(suite: Path) -> str:
    try:
        return subprocess.run(["git", "-C", str(suite), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    args, extra = parse_args(argv)
    # pytest runs in the suite's folder: paths given relative to here must not move with it.
    args.report, args.results, args.xfails = (str(Path(p).resolve()) for p in (args.report, args.results, args.xfails))
    try:
        suite = find_suite(args.suite)
    except SuiteError as exc:
        print(f"conformance: {exc}", file=sys.stderr)
        return 2
    env = {**os.environ, "ARRAY_API_TESTS_MODULE": args.module, "ARRAY_API_TESTS_VERSION": API_VERSION}
    cmd = pytest_command(args, suite, extra)
    print("conformance:", " ".join(cmd), flush=True)
    start = time.perf_counter()
    code = subprocess.call(cmd, cwd=suite, env=env)
    seconds = time.perf_counter() - start
    try:
        report = json.loads(Path(args.report).read_text())
    except (OSError, json.JSONDecodeError):
        print("conformance: pytest wrote no JSON report", file=sys.stderr)
        return code or 1
    settings = {"module": args.module, "api version": API_VERSION, "max examples": args.max_examples or "suite default",
                "hypothesis seed": args.hypothesis_seed or "random", "-k": args.keyword or "(all tests)"}
    Path(args.results).write_text(render_results(report, suite_commit(suite), settings,
                                                 datetime.date.today().isoformat(), seconds))
    print(f"conformance: wrote {args.results} (pytest exit code {code})")
    return code
