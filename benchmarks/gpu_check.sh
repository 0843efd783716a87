#!/bin/bash
# The whole CUDA side in one command, for a session lent a GPU (device tool):
#   here:   benchmarks/gpu_deps.sh            (once: Debian headers the GPU machine lacks)
#   device: run(command="APICAL_COMMIT=<sha> bash benchmarks/gpu_check.sh", carry=[".gpu-deps"])
# It builds with CUDA, checks both CUDA kernels against the CPU backend bit for bit
# (benchmarks/cuda_check; then again under compute-sanitizer memcheck), runs bench_mc on
# the GPU at 1 ... 65536 replicas for each kernel, MSTDP at the paper's size for each of
# its kernels at 1, 8 and 64 replicas, the LIF-STDP network (bench_ls) at 1, 20 and 200
# replicas, the CPU beside them, and the full bars_tpres.ini
# study on the GPU; it writes gpu-DEVICE-DATE-COMMIT.md into $OUT (and
# benchmarks/results/). Each step's output is appended as it finishes, so a run cut short
# still returns what it measured. Commit the file under benchmarks/results/.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/apical-gpu-check}
mkdir -p "$out" benchmarks/results
commit=${APICAL_COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}
device=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
slug=$(echo "${device:-unknown}" | tr -c 'A-Za-z0-9\n' '-' | tr -s '-' | sed 's/-$//')
report="$out/gpu-$slug-$(date +%Y-%m-%d)-$commit.md"
say() { echo "$@" | tee -a "$report"; }
step() { say; say "## $1"; say; say '```'; }
endstep() { say '```'; }

: >"$report"
say "# GPU check, $(date -u +%Y-%m-%dT%H:%MZ)"
say
say "- commit: $commit"
say "- device: ${device:-none found}; driver $(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)"
say "- host: $(nproc) cores; nvcc $(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p')"
say "- command: APICAL_COMMIT=$commit bash benchmarks/gpu_check.sh"

# Debian headers carried from a machine with apt (benchmarks/gpu_deps.sh)
extra=()
if ls .gpu-deps/*.deb >/dev/null 2>&1; then
  deps=/tmp/apical-deps
  mkdir -p "$deps"
  for f in .gpu-deps/*.deb; do
    if command -v dpkg-deb >/dev/null; then dpkg-deb -x "$f" "$deps"
    else (cd "$deps" && ar p "$OLDPWD/$f" "$(ar t "$OLDPWD/$f" | grep '^data.tar')" | tar -x -f - ); fi
  done
  extra=(-DCMAKE_PREFIX_PATH="$deps/usr" -DZLIB_ROOT="$deps/usr")
fi

step "build"
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DAPICAL_CUDA=ON -DAPICAL_GIT_REV="$commit" \
  "${extra[@]}" 2>&1 | grep -E "apical:|Error|error" | tee -a "$report"
if ! cmake --build build-gpu -j"$(nproc)" >"$out/build.log" 2>&1; then
  tail -30 "$out/build.log" | tee -a "$report"
  endstep
  exit 1
fi
echo "built" | tee -a "$report"
endstep

step "parity: both CUDA kernels against the CPU backend, bit for bit"
build-gpu/benchmarks/cuda_check 2>&1 | tee -a "$report"
parity=${PIPESTATUS[0]}
endstep

if [ -d build-gpu/tests ] && [ -x build-gpu/tests/test_cuda ]; then
  step "ctest (Criterion found)"
  (cd build-gpu && ctest --output-on-failure 2>&1 | tail -25) | tee -a "$report"
  endstep
fi

step "compute-sanitizer memcheck on the parity cases"
if command -v compute-sanitizer >/dev/null; then
  timeout 300 compute-sanitizer --tool memcheck --error-exitcode 3 build-gpu/benchmarks/cuda_check 2>&1 |
    tail -20 | tee -a "$report"
else
  say "compute-sanitizer not found"
fi
endstep

for kernel in warp generic; do
  step "bench_mc on the GPU, kernel $kernel (LE, t_pres 100, training steps)"
  timeout 240 build-gpu/benchmarks/bench_mc --backend cuda --cuda-kernel "$kernel" \
    --replicas 1,64,1024,8192,65536 --seconds 3 2>&1 | tee -a "$report"
  endstep
done

for kernel in generic rows16; do
  step "MSTDP at the paper's size on the GPU, kernel $kernel (benchmarks/mstdp_paper_size.ini: 2048 hidden, 20 presentations of 640 iterations)"
  for r in 1 8 64; do
    timeout 200 build-gpu/benchmarks/bench_mc --backend cuda --cuda-kernel "$kernel" \
      --experiment benchmarks/mstdp_paper_size.ini --set "sweep.seed=1..$r" 2>&1 | tee -a "$report"
  done
  endstep
done

step "LIF assemblies with STDP on the GPU (bench_ls: 2400 neurons, top-down on, 2 s simulated)"
timeout 300 build-gpu/benchmarks/bench_ls --cuda --replicas 1,20,200 --seconds 2 2>&1 | tee -a "$report"
endstep

step "LIF assemblies with STDP on this machine's CPU, for comparison"
timeout 200 build-gpu/benchmarks/bench_ls --replicas 1,20 --seconds 2 2>&1 | tee -a "$report"
endstep

step "MSTDP at the paper's size on this machine's CPU, 1 replica"
timeout 200 build-gpu/benchmarks/bench_mc --backend cpu --experiment benchmarks/mstdp_paper_size.ini \
  --set sweep.seed=1 2>&1 | tee -a "$report"
endstep

step "bench_mc on this machine's CPU, for comparison"
timeout 120 build-gpu/benchmarks/bench_mc --backend cpu --replicas 1,1024,8192 --seconds 3 2>&1 | tee -a "$report"
endstep

step "full study on the GPU: experiments/bars_tpres.ini (220 replicas, 1000 epochs)"
timeout 400 build-gpu/benchmarks/bench_mc --backend cuda --experiment experiments/bars_tpres.ini 2>&1 |
  tee -a "$report"
endstep

[ -n "$device" ] && cp "$report" benchmarks/results/ 2>/dev/null # only measurements of a real device
echo "gpu_check: wrote $report" >&2
exit "$parity"
