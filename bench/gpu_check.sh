#!/usr/bin/env bash
# One prepared GPU check: configures a fresh build of the kernels, the inference library and
# the CUDA plugin (CONSILIUM_KERNELS_ONLY: GPU machines have CUDA, CMake and ninja but no
# Qt), builds the plugin, the gpu-labelled tests and the GPU benchmark with every core,
# runs the tests and the benchmark, and writes one JSON report. Meant to finish within
# 8 minutes on a fresh H100/H200 machine. Without a GPU it still configures and builds,
# and reports the tests and the benchmark as skipped (exit 0).
#
# Usage: bench/gpu_check.sh [--out FILE] [--build-dir DIR] [--archs LIST]
#   --out FILE       JSON report (default: $OUT/gpu_check.json when $OUT is set, else
#                    BUILD_DIR/gpu_check.json); logs go beside it
#   --build-dir DIR  build directory, deleted and recreated (default: build-gpu-check)
#   --archs LIST     CMAKE_CUDA_ARCHITECTURES, e.g. "90" (default: the GPU's own from
#                    nvidia-smi when it answers, else the project's full list)
# Exit status: 0 everything that could run passed; 1 a step failed; 2 bad arguments.
set -euo pipefail

start=$(date +%s)
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-gpu-check"
out=""
archs=""

log() { printf '[gpu_check %4ss] %s\n' "$(($(date +%s) - start))" "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --out) out="${2:?--out needs a file}"; shift 2 ;;
        --build-dir) build="${2:?--build-dir needs a directory}"; shift 2 ;;
        --archs) archs="${2:?--archs needs a list}"; shift 2 ;;
        -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "gpu_check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
if [[ -z "$out" ]]; then
    if [[ -n "${OUT:-}" ]]; then out="$OUT/gpu_check.json"; else out="$build/gpu_check.json"; fi
fi
case "$build" in
    "" | "/" | "$root") die "refusing to use '$build' as the build directory" ;;
esac

# ---- Tools ------------------------------------------------------------------------------
command -v cmake >/dev/null || die "cmake not found on PATH"
nvcc="${CUDACXX:-}"
if [[ -z "$nvcc" ]]; then nvcc="$(command -v nvcc || true)"; fi
if [[ -z "$nvcc" && -x /usr/local/cuda/bin/nvcc ]]; then nvcc=/usr/local/cuda/bin/nvcc; fi
[[ -n "$nvcc" ]] || die "nvcc not found (install the CUDA toolkit, or set CUDACXX)"
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
jobs="$(nproc)"

gpu="none"
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
    gpu="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n1 | tr -d '"\\')"
    if [[ -z "$archs" ]]; then
        cc="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n1 | tr -d ' .')"
        if [[ "$cc" =~ ^[0-9]+$ ]]; then archs="$cc"; fi
    fi
fi
log "GPU: $gpu; nvcc: $nvcc; archs: ${archs:-project default}; $jobs cores"

# ---- Configure (fresh) ------------------------------------------------------------------
rm -rf "$build"
mkdir -p "$build" "$(dirname "$out")"
logdir="$(cd "$(dirname "$out")" && pwd)"
cmake_args=(-S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release
    -DCONSILIUM_KERNELS_ONLY=ON -DCONSILIUM_WERROR=ON -DCMAKE_CUDA_COMPILER="$nvcc")
if [[ -n "$archs" ]]; then cmake_args+=(-DCMAKE_CUDA_ARCHITECTURES="$archs"); fi
log "configuring $build"
if ! cmake "${cmake_args[@]}" >"$logdir/gpu_check_configure.log" 2>&1; then
    tail -n 30 "$logdir/gpu_check_configure.log" >&2
    die "configure failed (log: $logdir/gpu_check_configure.log)"
fi
grep -q "CUDA plugin enabled" "$logdir/gpu_check_configure.log" ||
    die "CMake did not enable CUDA (log: $logdir/gpu_check_configure.log)"
t_configure=$(($(date +%s) - start))

# ---- Build ------------------------------------------------------------------------------
log "building the plugin, test_cuda_parity and gpu_bench with $jobs jobs"
if ! cmake --build "$build" --parallel "$jobs" --target consilium_cuda test_cuda_parity gpu_bench \
    >"$logdir/gpu_check_build.log" 2>&1; then
    tail -n 40 "$logdir/gpu_check_build.log" >&2
    die "build failed (log: $logdir/gpu_check_build.log)"
fi
t_build=$(($(date +%s) - start - t_configure))

# ---- gpu tests --------------------------------------------------------------------------
log "running ctest -L gpu"
set +e
(cd "$build" && ctest -L gpu --output-on-failure --timeout 420) >"$logdir/gpu_check_tests.log" 2>&1
tests_rc=$?
set -e
cat "$logdir/gpu_check_tests.log" >&2
if [[ $tests_rc -ne 0 ]]; then
    tests="failed"
elif grep -q "(Skipped)" "$logdir/gpu_check_tests.log"; then
    tests="skipped"
else
    tests="passed"
fi
skip_reason="$(grep -m1 -o 'SKIPPED: .*' "$logdir/gpu_check_tests.log" | tr -d '"\\' || true)"
if [[ "$tests" == "skipped" && -z "$skip_reason" ]]; then
    # ctest shows a skipped test's output only on failure: ask the test itself.
    skip_reason="$("$build/tests/bin/test_cuda_parity" 2>&1 | grep -m1 -o 'SKIPPED: .*' | tr -d '"\\' || true)"
fi
log "gpu tests: $tests ${skip_reason}"

# ---- Benchmark --------------------------------------------------------------------------
log "running gpu_bench"
set +e
"$build/bin/gpu_bench" "$build/gpu_bench.json" 2>&1 | tee "$logdir/gpu_check_bench.log" >&2
bench_rc=${PIPESTATUS[0]}
set -e
case $bench_rc in
    0) bench="measured"; bench_json="$(cat "$build/gpu_bench.json")" ;;
    77) bench="skipped"; bench_json="null" ;;
    *) bench="failed"; bench_json="null" ;;
esac

elapsed=$(($(date +%s) - start))
cat >"$out" <<EOF
{
  "gpu": "$gpu",
  "cuda_architectures": "${archs:-default}",
  "seconds": {"configure": $t_configure, "build": $t_build, "total": $elapsed},
  "tests": {"status": "$tests", "skip_reason": "$skip_reason"},
  "bench": {"status": "$bench", "results": $bench_json}
}
EOF
log "report: $out (tests $tests, bench $bench, ${elapsed}s)"
if [[ "$tests" == "failed" || "$bench" == "failed" ]]; then exit 1; fi
exit 0
