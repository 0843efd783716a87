#!/bin/bash
# Before a GPU session: fetch the Debian packages the GPU check needs that a bare GPU
# machine (no package registry, no network) may lack, into .gpu-deps/ (ignored by git;
# name it in the device tool's carry). Run on any machine with apt.
#   benchmarks/gpu_deps.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpu-deps
cd .gpu-deps
# header-only Philox (Random123) and zlib's headers with the library they point at
apt-get download librandom123-dev zlib1g-dev zlib1g >/dev/null
ls -1 ./*.deb
du -sh .
