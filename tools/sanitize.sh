#!/bin/bash
# The test suite once more, built with AddressSanitizer (leaks included) and
# UndefinedBehaviorSanitizer: any finding fails. The slow learning tests, kill -9 and SIGTERM
# inside a record, and the Slurm script's plumbing (which test processes with records of
# seconds, not memory) stay out.
#   tools/sanitize.sh
set -euo pipefail
cd "$(dirname "$0")/.."
flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAPICAL_CUDA=OFF -DAPICAL_HDF5=ON -DAPICAL_TESTS=ON \
  -DAPICAL_WERROR=ON -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" -DCMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build build-asan -j"$(nproc)" >/dev/null
cd build-asan
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:verify_asan_link_order=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --output-on-failure -j"$(nproc)" -E '^(learning|spiking_learning|mstdp_learning|robust_kill|robust_stop|slurm)$'
