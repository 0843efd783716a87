#!/bin/bash
# libFuzzer over the experiment-file reader and the IDX reader (tests/fuzz), with address
# and undefined-behaviour sanitizers: each for SECONDS (default 60) from the seed corpus in
# tests/fuzz/corpus. Any crash, leak, timeout or out-of-memory fails (exit 1) and leaves
# the input in build-fuzz/. Needs clang (tools/test.sh installs it).
#   tools/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DAPICAL_FUZZ=ON \
  -DAPICAL_CUDA=OFF -DAPICAL_HDF5=OFF -DAPICAL_TESTS=OFF -DAPICAL_NATIVE=OFF \
  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -Wno-pass-failed" >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_ini fuzz_idx >/dev/null
for target in ini idx; do
  work=$(mktemp -d)
  cp tests/fuzz/corpus/$target/* "$work/"
  echo "fuzz: $target for ${seconds}s"
  (cd build-fuzz && ./fuzz_$target "$work" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 2>&1 | grep -E "stat::number_of_executed_units|ERROR|SUMMARY|crash-|leak-|timeout-|oom-" ) ||
    true
  status=${PIPESTATUS[0]:-0}
  rm -rf "$work"
  if ls build-fuzz/crash-* build-fuzz/leak-* build-fuzz/timeout-* build-fuzz/oom-* >/dev/null 2>&1; then
    echo "fuzz: $target found a failing input (build-fuzz/)"
    exit 1
  fi
done
echo "fuzz: no crash, leak, timeout or out-of-memory"
