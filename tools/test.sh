#!/bin/bash
# README's second command (and CI's): set up, build with warnings as errors, run every
# test; then the suite again under AddressSanitizer and UBSan (tools/sanitize.sh), and
# libFuzzer over the experiment-file and IDX readers, the results/checkpoint readers, merge
# and the command line for 30 s each (tools/fuzz.sh; longer: tools/fuzz.sh SECONDS).
#   tools/test.sh            everything (about 11 minutes on 2 cores)
#   tools/test.sh --quick    the test suite only (about 2 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
# CUDA for one architecture: the tests compile every kernel and run them where a device
# answers (compute_86's PTX runs on newer GPUs too); four would quadruple the build
APICAL_CMAKE_ARGS="-DAPICAL_WERROR=ON -DAPICAL_TESTS=ON -DAPICAL_HDF5=ON -DCMAKE_CUDA_ARCHITECTURES=86 ${APICAL_CMAKE_ARGS:-}" tools/setup.sh
(cd build && ctest --output-on-failure -j2)
[ "${1:-}" = "--quick" ] && exit 0
# clang and its fuzzer and sanitizer runtimes (libclang-rt-dev: not among clang's
# dependencies, and without it libFuzzer with ASan cannot link on a fresh Debian)
fuzz_ready() {
  command -v clang >/dev/null 2>&1 || return 1
  local rt
  rt="$(clang -print-resource-dir)/lib/linux"
  [ -e "$rt/libclang_rt.fuzzer-$(uname -m).a" ] && [ -e "$rt/libclang_rt.asan-$(uname -m).a" ]
}
if ! fuzz_ready; then
  echo "test: installing clang and its sanitizer runtimes (for the fuzzers)"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends clang libclang-rt-dev >/dev/null
fi
echo "test: the suite under AddressSanitizer and UndefinedBehaviorSanitizer"
tools/sanitize.sh
tools/fuzz.sh 30
