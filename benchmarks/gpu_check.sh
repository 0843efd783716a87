#!/bin/bash
# The whole CUDA side in one command, for a session lent a GPU (device tool):
#   here:   benchmarks/gpu_deps.sh            (once: Debian headers the GPU machine lacks)
#   device: run(command="APICAL_COMMIT=<sha> bash benchmarks/gpu_check.sh", carry=[".gpu-deps"],
#               timeout_s=540)
# It builds with CUDA for the device's own architecture, checks every CUDA kernel version
# against the CPU backend bit for bit (benchmarks/cuda_check: every parity case; then the
# small ones under compute-sanitizer memcheck, racecheck and synccheck), and runs each
# shipped experiment's kernel at its real size from the table below, printing the figure
# GPGPU-Sim's performance model predicted for an H100 beside the measured one (so that the
# model is checked the first time a device answers), and the CPU beside them. It writes
# gpu-DEVICE-DATE-COMMIT.md into $OUT (and benchmarks/results/). Each step's output is
# appended as it finishes, so a run cut short still returns what it measured. The whole
# script is sized for about 8 minutes of device time (a lent device has 15 in all).
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
  -DAPICAL_NATIVE=ON -DCMAKE_CUDA_ARCHITECTURES=native \
  "${extra[@]}" 2>&1 | grep -E "apical:|Error|error" | tee -a "$report"
if ! cmake --build build-gpu -j"$(nproc)" >"$out/build.log" 2>&1; then
  tail -30 "$out/build.log" | tee -a "$report"
  endstep
  exit 1
fi
echo "built" | tee -a "$report"
endstep

step "parity: every CUDA kernel version against the CPU backend, bit for bit"
timeout 180 build-gpu/benchmarks/cuda_check 2>&1 | tee -a "$report"
parity=${PIPESTATUS[0]}
endstep

if [ -d build-gpu/tests ] && [ -x build-gpu/tests/test_cuda ]; then
  step "ctest (Criterion found)"
  (cd build-gpu && ctest --output-on-failure 2>&1 | tail -25) | tee -a "$report"
  endstep
fi

step "compute-sanitizer on the small parity cases (memcheck, racecheck, synccheck)"
if command -v compute-sanitizer >/dev/null; then
  for tool in memcheck racecheck synccheck; do
    say "--- $tool"
    timeout 150 compute-sanitizer --tool "$tool" --error-exitcode 3 build-gpu/benchmarks/cuda_check --ci \
      2>&1 | tail -8 | tee -a "$report"
  done
else
  say "compute-sanitizer not found"
fi
endstep

# Each shipped experiment's kernel at its real size: NAME | MODELLED | COMMAND. MODELLED is
# what GPGPU-Sim's V100 model predicted, scaled to an H100 by the rule of the records named
# (benchmarks/results/gpu-model-*.md); compare it with the measured figure printed below it.
cases=$(cat <<'CASES'
mc warp, Bars 9-30-3, 1 replica | 5.2e5 replica-steps/s (1.93 us a step; gpu-model-mc-warp) | bench_mc --backend cuda --cuda-kernel warp --replicas 1 --t-pres 100 --seconds 3
mc warp, Bars, 220 replicas (bars_tpres.ini's count) | 1.1e8 replica-steps/s (gpu-model-mc-warp) | bench_mc --backend cuda --cuda-kernel warp --replicas 220 --t-pres 100 --seconds 3
mc generic, Bars, 1024 replicas | no absolute figure (gpu-model-mc-warp: the spread over every SM buys nothing in the model) | bench_mc --backend cuda --cuda-kernel generic --replicas 1024 --seconds 3
bars_tpres.ini, 100 of its 1000 epochs | <= 15.5 s (1.93 us a step x 8e6 steps of the t_pres 5000 group; gpu-model-mc-warp) | bench_mc --backend cuda --experiment experiments/bars_tpres.ini --set train.epochs=100
mc wide, 784-100-10, 5 replicas (mnist_le.ini's size) | MC_WIDE_MODELLED | bench_mc --backend cuda --cuda-kernel wide --replicas 5 --dims 784,100,10 --t-pres 100 --seconds 3
mstdp span, 256 and 2048 hidden, 1 replica | 256: 18.2 us an iteration (8.1 first of a presentation); 2048: not modelled, >= 11-16 us (gpu-model-mstdp) | bench_ms --backend cuda --cuda-kernel span --hidden 256,2048 --replicas 1 --iterations 8,40 --records 3
mstdp rows16, 256 and 2048 hidden, 1 replica | 256: 175 us an iteration (gpu-model-mstdp); 2048: ~280 iterations/s (issue 23, before) | bench_ms --backend cuda --cuda-kernel rows16 --hidden 256,2048 --replicas 1 --iterations 8,40 --records 2
mstdp auto, 2048 hidden, 1, 8 and 200 replicas | - | bench_ms --backend cuda --hidden 2048 --replicas 1,8,200 --iterations 8,40 --records 2
lif split, topdown_stdp.ini's 20 networks | 83 simulated s per s (71-95, burst to quiet; gpu-model-lif) | bench_ls --cuda --cuda-kernel split --replicas 20 --seconds 2
lif generic, 20 networks | 21 simulated s per s at quiet activity, less when it bursts (gpu-model-lif) | bench_ls --cuda --cuda-kernel generic --replicas 20 --seconds 2
lif auto, 1 and 200 networks | - | bench_ls --cuda --replicas 1,200 --seconds 1
CASES
)
trim() { sed 's/^ *//; s/ *$//' <<<"$1"; }
while IFS='|' read -r name modelled command; do
  name=$(trim "$name") modelled=$(trim "$modelled") command=$(trim "$command")
  [ -n "$name" ] || continue
  step "$name"
  say "modelled (H100): $modelled"
  say "measured: build-gpu/benchmarks/$command"
  # shellcheck disable=SC2086
  timeout 45 build-gpu/benchmarks/$command 2>&1 | tee -a "$report"
  endstep
done <<<"$cases"

step "the same kinds of work on this machine's CPU, for comparison"
timeout 40 build-gpu/benchmarks/bench_mc --backend cpu --replicas 1,220,1024 --seconds 3 2>&1 | tee -a "$report"
timeout 40 build-gpu/benchmarks/bench_ms --hidden 256,2048 --replicas 1 --seconds 3 2>&1 | tee -a "$report"
timeout 40 build-gpu/benchmarks/bench_ls --replicas 20 --seconds 1 2>&1 | tee -a "$report"
endstep

[ -n "$device" ] && cp "$report" benchmarks/results/ 2>/dev/null # only measurements of a real device
echo "gpu_check: wrote $report" >&2
exit "$parity"
