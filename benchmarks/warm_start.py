"""Warm start from the disk cache: the same script in two fresh processes.

The first process compiles and fills an empty cache folder; the second loads
every executable from disk.  Reports wall time to the first result and the
cache statistics of each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

SCRIPT = """
import json, time
t0 = time.perf_counter()
import numpy as np
import pjrt_array as xp
x = xp.asarray(np.linspace(0, 1, 1000).reshape(10, 100))
y = xp.linalg.matrix_norm(xp.sin(x[:, :10]) * 2.0 + x @ xp.matrix_transpose(x))
float(y)
info = xp.cache_info()
print(json.dumps({"seconds": time.perf_counter() - t0, "compiles": info["compiles"], "disk_hits": info["disk_hits"],
                  "compile_time": info["compile_time"], "disk_load_time": info["disk_load_time"]}))
"""


def run(cache: str) -> dict:
    env = {**os.environ, "PJRT_ARRAY_CACHE_DIR": cache, "PJRT_ARRAY_CACHE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        cold, warm = run(cache), run(cache)
    print("| process | wall to first result | compiles | disk hits | compile s | disk load s |")
    print("|---|---|---|---|---|---|")
    for name, r in (("first (cold cache)", cold), ("second (warm cache)", warm)):
        print(f"| {name} | {r['seconds'] * 1e3:.0f} ms | {r['compiles']} | {r['disk_hits']} | "
              f"{r['compile_time']:.3f} | {r['disk_load_time']:.3f} |")


if __name__ == "__main__":
    main()
