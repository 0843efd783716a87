#!/bin/bash
# README's second command (and CI's): set up, build with warnings as errors, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
APICAL_CMAKE_ARGS="-DAPICAL_WERROR=ON -DAPICAL_TESTS=ON -DAPICAL_HDF5=ON ${APICAL_CMAKE_ARGS:-}" tools/setup.sh
cd build
ctest --output-on-failure -j2
