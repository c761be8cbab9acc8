"""Run every benchmark in one go and print the markdown that goes into docs/benchmarks.md."""

from __future__ import annotations

import datetime
import runpy
from pathlib import Path

from _common import machine

SECTIONS = (
    ("Small-op dispatch", "dispatch.py"),
    ("Large arrays", "large.py"),
    ("Cold compile of a new shape", "compile.py"),
    ("Warm start from the disk cache", "warm_start.py"),
    ("Host reads and uploads (CPU)", "interop.py"),
    ("Lowering cost", "lowering.py"),
)


def main() -> None:
    print(f"Measured {datetime.date.today()} on {machine()}.\n")
    here = Path(__file__).parent
    for title, script in SECTIONS:
        print(f"## {title}\n")
        runpy.run_path(str(here / script), run_name="__main__")
        print()


if __name__ == "__main__":
    main()
