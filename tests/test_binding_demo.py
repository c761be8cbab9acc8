"""``python -m pjrt_array``: the demo lists plugins, runs a program and prints timings."""

from __future__ import annotations

import subprocess
import sys

from pjrt_array.__main__ import main

from binding_support import plugin_info  # noqa: F401


def test_demo_on_each_plugin(plugin_info, capsys):
    assert main(["--plugin", plugin_info.path, "--repeat", "20"]) == 0
    out = capsys.readouterr().out
    assert f" * {plugin_info.path}" in out
    assert f"PJRT API 0.{plugin_info.api_version[1]}" in out
    assert "device 0: cpu" in out
    assert "result matches numpy" in out
    assert "(LoadedExecutable.execute)" in out and "(execute_handles)" in out


def test_demo_reports_a_bad_plugin_path(tmp_path, capsys):
    assert main(["--plugin", str(tmp_path / "missing.so")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_python_dash_m():
    done = subprocess.run([sys.executable, "-m", "pjrt_array", "--repeat", "10"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "PJRT plugins found" in done.stdout and "compiled in" in done.stdout
