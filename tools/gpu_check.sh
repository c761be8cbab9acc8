#!/usr/bin/env bash
# Issue 17's GPU check in one run: GPU tests, the namespace's unit tests on the GPU, the conformance
# suite on the GPU, and benchmarks side by side with jax on the same GPU.  Results (a markdown
# summary with the benchmark table, and the raw logs: 8 files at most) go to $OUT, else ./gpu-results.
# Everything fits in 8 minutes: each step has a time budget and is skipped when time runs out.
#
#   tools/gpu_check.sh             on the GPU machine
#   tools/gpu_check.sh --dry-run   on a CPU machine: the same steps on the CPU plugin at tiny sizes
#   tools/gpu_check.sh --prepare   on a machine with PyPI: wheels the GPU machine lacks go to .whl/, the
#                                  conformance checkout to array-api-tests/ (both git-ignored); carry them
#
# Python: a python3 that already has a CUDA PJRT plugin (jax-cuda12/13-pjrt, as the H200 image does)
# is used as it is, with this checkout on PYTHONPATH; otherwise a venv gets `.[cuda12,test]` and
# `jax[cuda12]` from PyPI (cuda13 if that fails).  Wheels in .whl/ are installed first, offline.
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
MODE=gpu
case "${1:-}" in
  --dry-run) MODE=dry ;;
  --prepare) MODE=prepare ;;
  "") ;;
  *) echo "usage: $0 [--dry-run | --prepare]" >&2; exit 2 ;;
esac

if [ "$MODE" = prepare ]; then
  set -e  # .whl/ and array-api-tests/ are in .gitignore: they travel only when carried
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl ndindex pytest-json-report pytest-metadata "hypothesis>=6.151"
  suite=${ARRAY_API_TESTS_DIR:-../array-api-tests}
  if [ -d "$suite/array_api_tests" ]; then
    rm -rf array-api-tests && mkdir array-api-tests
    (cd "$suite" && tar --exclude=.git -cf - .) | (cd array-api-tests && tar -xf -)
  else
    echo "no conformance checkout at $suite (set ARRAY_API_TESTS_DIR): conformance will be skipped" >&2
  fi
  du -sh .whl array-api-tests 2>/dev/null
  echo 'now: run(command="bash tools/gpu_check.sh", timeout_s=540, carry=[".whl", "array-api-tests"])'
  exit 0
fi

OUTDIR=${OUT:-$ROOT/gpu-results}
mkdir -p "$OUTDIR"
SUMMARY=$OUTDIR/summary.md
exec > >(tee "$OUTDIR/run.log") 2>&1
START=$(date +%s)
DEADLINE=$((START + ${GPU_CHECK_SECONDS:-470}))  # the issue's 8 minutes, less the set-up
FAILED=0
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3

left() { echo $((DEADLINE - $(date +%s))); }
note() { echo "$*" >> "$SUMMARY"; }

# step NAME BUDGET LOG CMD...: run CMD with at most BUDGET seconds (less if the deadline is nearer),
# appending its output to LOG; one summary line with the status, the time and the log's last line.
step() {
  local name=$1 budget=$2 log=$3 t0 rc status last
  shift 3
  if [ "$(left)" -lt 20 ]; then note "| $name | skipped: out of time | | |"; FAILED=1; return; fi
  [ "$budget" -gt "$(left)" ] && budget=$(left)
  echo "== $name (budget ${budget}s): $*"
  echo "== $name: $*" >> "$log"
  t0=$(date +%s)
  timeout -k 5 "$budget" "$@" >> "$log" 2>&1
  rc=$?
  status=passed
  [ "$rc" -ne 0 ] && status="failed (exit $rc)" && FAILED=1
  [ "$rc" -eq 124 ] && status="stopped at its ${budget}s budget"
  last=$(grep -v '^\s*$' "$log" | tail -n 1 | cut -c1-160 | tr '|' '/')
  note "| $name | $status | $(( $(date +%s) - t0 )) s | $last |"
  echo "   -> $status"
}

# -- a Python with a GPU plugin -------------------------------------------------------------------
has_cuda_plugin() {
  "$1" - <<'EOF' 2>/dev/null
import importlib.metadata as m, sys
import numpy, ml_dtypes  # noqa: F401  (pjrt_array's own needs)
sys.exit(0 if any("cuda" in e.name for e in m.entry_points(group="jax_plugins")) else 1)
EOF
}

PY=
if [ "$MODE" = dry ]; then
  PY=$(command -v python3 || command -v python)
  PLATFORM=cpu
else
  PLATFORM=gpu
  for cand in "${PJRT_GPU_PYTHON:-}" python3 /opt/torch/.venv/bin/python3; do
    if [ -n "$cand" ] && command -v "$cand" >/dev/null && has_cuda_plugin "$cand"; then PY=$(command -v "$cand"); break; fi
  done
  if [ -z "$PY" ]; then
    echo "== no python3 with a CUDA PJRT plugin: installing one in a venv (needs PyPI)"
    python3 -m venv /tmp/pjrt-gpu-venv && PY=/tmp/pjrt-gpu-venv/bin/python
    for cuda in cuda12 cuda13; do
      timeout 240 "$PY" -m pip install -q --progress-bar off -e "$ROOT[$cuda,test]" "jax[$cuda]" pytest-xdist \
        >> "$OUTDIR/run.log" 2>&1 && has_cuda_plugin "$PY" && break
    done
  fi
fi
if [ -d "$ROOT/.whl" ] && ls "$ROOT"/.whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/pjrt-site \
    "$ROOT"/.whl/*.whl && export PYTHONPATH=/tmp/pjrt-site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PJRT_ARRAY_PLATFORM=$PLATFORM
export JAX_PLATFORMS=$([ "$PLATFORM" = gpu ] && echo cuda || echo cpu)
# Tests put jax's, torch's and our clients in one process: no client may take most of the memory.
TEST_ENV=(env PJRT_ARRAY_PREALLOCATE=false XLA_PYTHON_CLIENT_PREALLOCATE=false)
workers() {  # pytest-xdist's -n N where it is installed (at most 2 in a dry run)
  "$PY" -c "import xdist" 2>/dev/null && echo "-n $([ "$MODE" = dry ] && echo 2 || echo "$1")"
}

{
  echo "# GPU check ($([ "$MODE" = dry ] && echo "DRY RUN on CPU: checks the script, measures nothing" || echo "$PLATFORM"))"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo none)"
  echo "- python: $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"
  echo "- packages: $("$PY" -m pip list 2>/dev/null | grep -iE '^(jax|jaxlib|jax-cuda|numpy|ml.dtypes|cupy|torch |hypothesis|ndindex)' | tr -s ' ' | paste -sd ';' -)"
  echo "- pjrt_array: $("$PY" -c '
import pjrt_array as xp
d = xp.__array_namespace_info__().default_device()
print(f"default device {d!r} ({d.kind}), {d.client.platform_name} {d.client.platform_version!r}, PJRT API {d.client.api.version}, plugin {d.client.plugin.path}")
' 2>&1 | tail -n 1)"
  echo
  echo "| step | status | time | last line of its log |"
  echo "|---|---|---|---|"
} > "$SUMMARY"

# -- tests ------------------------------------------------------------------------------------------
TESTS=$OUTDIR/tests.log
step "GPU tests (tests/test_gpu.py, DLPack fake plugin, client options)" 100 "$TESTS" \
  "${TEST_ENV[@]}" "$PY" -m pytest -q -p no:cacheprovider -rfs $(workers 4) tests/test_gpu.py tests/test_dlpack_fake_gpu.py \
  tests/test_client_options.py

# -- benchmarks: each library alone in its process, with its default allocator ------------------------
BENCH=$OUTDIR/bench.log
QUICK=$([ "$MODE" = dry ] && echo --quick)
step "benchmarks: pjrt_array" 100 "$BENCH" "$PY" benchmarks/gpu.py --lib pjrt_array --platform "$PLATFORM" $QUICK \
  --json "$OUTDIR/bench_pjrt_array.json"
step "benchmarks: jax" 50 "$BENCH" "$PY" benchmarks/gpu.py --lib jax --platform "$PLATFORM" $QUICK \
  --json "$OUTDIR/bench_jax.json"

# -- the namespace's unit tests with the GPU as the default device -------------------------------------
UNIT=(tests/test_elementwise.py tests/test_creation.py tests/test_manipulation.py tests/test_indexing.py
      tests/test_statistical.py tests/test_sorting_searching.py tests/test_linalg.py tests/test_fft.py
      tests/test_utility.py tests/test_dtypes.py tests/test_array_object.py tests/test_namespace.py)
[ "$MODE" = dry ] && UNIT=(tests/test_namespace.py tests/test_utility.py)
# -v: one line per test as it ends, so a run stopped at its budget still says what passed and failed
step "unit tests on the $PLATFORM" 120 "$TESTS" "${TEST_ENV[@]}" "$PY" -m pytest -v -p no:cacheprovider -rf \
  $(workers 8) "${UNIT[@]}"

# -- conformance ----------------------------------------------------------------------------------------
SUITE=
for s in "${ARRAY_API_TESTS_DIR:-}" "$ROOT/array-api-tests" "$ROOT/../array-api-tests"; do
  [ -n "$s" ] && [ -d "$s/array_api_tests" ] && SUITE=$s && break
done
if [ -z "$SUITE" ]; then
  note "| conformance | skipped: no array-api-tests checkout (tools/gpu_check.sh --prepare, then carry it) | | |"
elif ! "$PY" -c "import ndindex, pytest_jsonreport" 2>/dev/null; then
  note "| conformance | skipped: ndindex / pytest-json-report missing (tools/gpu_check.sh --prepare, carry .whl) | | |"
else
  CONF=(--max-examples 5)
  [ "$MODE" = dry ] && CONF=(--max-examples 1 -k test_has_names)
  step "conformance on the $PLATFORM" 150 "$OUTDIR/conformance.log" "${TEST_ENV[@]}" "$PY" -m conformance \
    --suite "$SUITE" "${CONF[@]}" --results "$OUTDIR/conformance.md" --report /tmp/pjrt-conformance.json \
    -- $(workers 8)
fi

# -- realistic workloads, if that benchmark exists ------------------------------------------------------------
if [ -f benchmarks/workloads.py ]; then
  step "benchmarks/workloads.py" 60 "$BENCH" "$PY" benchmarks/workloads.py
fi

# -- the table ------------------------------------------------------------------------------------------------
if [ -f "$OUTDIR/bench_pjrt_array.json" ] && [ -f "$OUTDIR/bench_jax.json" ]; then
  { echo; echo "## Benchmarks, side by side on the same device"; echo
    "$PY" benchmarks/gpu.py --table "$OUTDIR/bench_pjrt_array.json" "$OUTDIR/bench_jax.json"; } >> "$SUMMARY"
fi
{ echo; echo "Unit tests by result (tests.log, -v lines): $(grep -c ' PASSED' "$TESTS") passed, $(grep -c ' FAILED' "$TESTS") failed, $(grep -c ' SKIPPED' "$TESTS") skipped."
  echo "Failed tests: $(grep -oE '(FAILED|ERROR) tests/[^ ]+' "$TESTS" | sort -u | head -40 | paste -sd ' ' -)"; } >> "$SUMMARY"
{ echo; echo "Total: $(( $(date +%s) - START )) s. Raw logs: run.log, tests.log, bench.log, bench_*.json, conformance.*"; } >> "$SUMMARY"
cat "$SUMMARY"
exit $FAILED
