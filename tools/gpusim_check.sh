#!/bin/bash
# The CUDA kernels, run under the functional CUDA simulator (shared/tools/gpusim, not part
# of apical), against the CPU backend bit for bit: the small parity cases of
# tests/cuda_parity.c (benchmarks/cuda_check --ci: every kernel version of every model, odd
# replica counts, more than one launch, a deep network, MSTDP's readings, a GPU state
# continued on the CPU). CI runs it after the test suite. The simulator builds once per
# machine (about 3 minutes, Debian packages and PyPI); then this takes about 2.5 minutes
# (on 2 idle cores).
#   tools/gpusim_check.sh          (APICAL_GPUSIM_TOOLS=DIR: the simulator's tools folder)
# Where the simulator's tools are absent (a user's clone) it says so and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=${APICAL_GPUSIM_TOOLS:-../shared/tools/gpusim}
if [ ! -x "$tools/build.sh" ] || [ ! -x "$tools/run.sh" ]; then
  echo "gpusim_check: no CUDA simulator at $tools (set APICAL_GPUSIM_TOOLS); CUDA parity under the simulator skipped"
  exit 0
fi
tools=$(cd "$tools" && pwd)
start=$(date +%s)
echo "gpusim_check: building the simulator (once per machine)"
"$tools/build.sh" >/tmp/apical-gpusim-build.log 2>&1 || { tail -20 /tmp/apical-gpusim-build.log; exit 1; }
nvcc=$("$tools/run.sh" --nvcc)
cmake -S . -B build-sim -DCMAKE_BUILD_TYPE=Release -DAPICAL_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc" \
  -DCMAKE_CUDA_ARCHITECTURES=86 -DCMAKE_CUDA_RUNTIME_LIBRARY=Shared -DAPICAL_TESTS=OFF -DAPICAL_HDF5=OFF \
  >/dev/null
cmake --build build-sim -j"$(nproc)" --target cuda_check >/dev/null
echo "gpusim_check: the CUDA kernels under the simulator against the CPU backend"
"$tools/run.sh" "$PWD/build-sim/benchmarks/cuda_check" --ci 2>&1 | grep -E '^(# cuda_check|ok|FAIL)|cuda_check:|Assertion'
rc=${PIPESTATUS[0]}
echo "gpusim_check: exit $rc after $(($(date +%s) - start)) s"
exit "$rc"
